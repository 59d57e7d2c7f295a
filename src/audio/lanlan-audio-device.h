/* lanlan-audio-device.h — one PipeWire sink or source, for device pickers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define LANLAN_TYPE_AUDIO_DEVICE (lanlan_audio_device_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAudioDevice, lanlan_audio_device, LANLAN, AUDIO_DEVICE, GObject)

LanlanAudioDevice *lanlan_audio_device_new             (guint32            id,
                                                        const char        *name,
                                                        const char        *description,
                                                        gboolean           is_source);
guint32            lanlan_audio_device_get_id          (LanlanAudioDevice *self);
const char        *lanlan_audio_device_get_name        (LanlanAudioDevice *self);
const char        *lanlan_audio_device_get_description (LanlanAudioDevice *self);
gboolean           lanlan_audio_device_get_is_source   (LanlanAudioDevice *self);

G_END_DECLS
