/* lanlan-audio-private.h — helpers shared by the PipeWire objects in src/audio
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The rate the app's streams run at; PipeWire converts if the graph differs. */
#define LANLAN_DEVICE_RATE 48000

void lanlan_audio_ensure_pipewire (void);

G_END_DECLS
