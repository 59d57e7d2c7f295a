/* lanlan-audio-playback.h — a character's voice out through PipeWire
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "lanlan-audio-sink.h"

G_BEGIN_DECLS

#define LANLAN_AUDIO_ERROR (lanlan_audio_error_quark ())

typedef enum {
  LANLAN_AUDIO_ERROR_FAILED,
  LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
  LANLAN_AUDIO_ERROR_STREAM,
  LANLAN_AUDIO_ERROR_UNAVAILABLE,
} LanlanAudioError;

GQuark lanlan_audio_error_quark (void);

#define LANLAN_TYPE_AUDIO_PLAYBACK (lanlan_audio_playback_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAudioPlayback, lanlan_audio_playback, LANLAN, AUDIO_PLAYBACK, GObject)

LanlanAudioPlayback *lanlan_audio_playback_new            (const char          *target_node,
                                                           guint                channels,
                                                           GError             **error);
const char          *lanlan_audio_playback_get_target     (LanlanAudioPlayback *self);
void                 lanlan_audio_playback_set_target     (LanlanAudioPlayback *self,
                                                           const char          *target_node);
double               lanlan_audio_playback_get_level      (LanlanAudioPlayback *self);
guint                lanlan_audio_playback_get_channels   (LanlanAudioPlayback *self);
guint64              lanlan_audio_playback_get_underruns  (LanlanAudioPlayback *self);
guint                lanlan_audio_playback_get_quantum    (LanlanAudioPlayback *self);
gint64               lanlan_audio_playback_get_latency_us (LanlanAudioPlayback *self);
gboolean             lanlan_audio_playback_get_available  (LanlanAudioPlayback *self);
char                *lanlan_audio_playback_dup_error      (LanlanAudioPlayback *self);
gboolean             lanlan_audio_playback_get_running    (LanlanAudioPlayback *self);

G_END_DECLS
