/* lanlan-audio-private.c — helpers shared by the PipeWire objects in src/audio
 *
 * pw_init() must run once per process before any PipeWire call; every
 * object here goes through lanlan_audio_ensure_pipewire() first.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <pipewire/pipewire.h>

#include "lanlan-audio-private.h"

void
lanlan_audio_ensure_pipewire (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      pw_init (NULL, NULL);
      g_once_init_leave (&initialized, 1);
    }
}
