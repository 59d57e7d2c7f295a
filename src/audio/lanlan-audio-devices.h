/* lanlan-audio-devices.h — live list of PipeWire sinks and sources
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-audio-device.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_AUDIO_DEVICES_SINKS   = 1 << 0,
  LANLAN_AUDIO_DEVICES_SOURCES = 1 << 1,
  LANLAN_AUDIO_DEVICES_ALL     = LANLAN_AUDIO_DEVICES_SINKS | LANLAN_AUDIO_DEVICES_SOURCES,
} LanlanAudioDevicesFilter;

#define LANLAN_TYPE_AUDIO_DEVICES (lanlan_audio_devices_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAudioDevices, lanlan_audio_devices, LANLAN, AUDIO_DEVICES, GObject)

LanlanAudioDevices *lanlan_audio_devices_new      (LanlanAudioDevicesFilter   filter,
                                                   GError                   **error);
gboolean            lanlan_audio_devices_find     (LanlanAudioDevices        *self,
                                                   const char                *name,
                                                   guint                     *position);

G_END_DECLS
