/* lanlan-audio-capture.h — the microphone, resampled for a model
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * LanlanCaptureFunc:
 * @pcm: mono PCM16 at the capture's output rate
 * @n_samples: number of samples
 * @user_data: data given to lanlan_audio_capture_new()
 *
 * Called from the capture's worker thread (never the realtime thread).
 */
typedef void (*LanlanCaptureFunc) (const gint16 *pcm,
                                   gsize         n_samples,
                                   gpointer      user_data);

#define LANLAN_TYPE_AUDIO_CAPTURE (lanlan_audio_capture_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAudioCapture, lanlan_audio_capture, LANLAN, AUDIO_CAPTURE, GObject)

LanlanAudioCapture *lanlan_audio_capture_new          (const char          *source_node,
                                                       guint                out_rate,
                                                       LanlanCaptureFunc    func,
                                                       gpointer             user_data,
                                                       GDestroyNotify       notify);
void                lanlan_audio_capture_set_capture_sink (LanlanAudioCapture *self,
                                                           gboolean            capture_sink);
gboolean            lanlan_audio_capture_start        (LanlanAudioCapture  *self,
                                                       GError             **error);
void                lanlan_audio_capture_stop         (LanlanAudioCapture  *self);
gboolean            lanlan_audio_capture_is_running   (LanlanAudioCapture  *self);
gboolean            lanlan_audio_capture_get_available (LanlanAudioCapture *self);
char               *lanlan_audio_capture_dup_error    (LanlanAudioCapture  *self);
void                lanlan_audio_capture_set_muted    (LanlanAudioCapture  *self,
                                                       gboolean             muted);
gboolean            lanlan_audio_capture_get_muted    (LanlanAudioCapture  *self);
float               lanlan_audio_capture_get_level    (LanlanAudioCapture  *self,
                                                       float               *peak);
guint64             lanlan_audio_capture_get_overruns (LanlanAudioCapture  *self);
guint64             lanlan_audio_capture_get_captured (LanlanAudioCapture  *self);
const char         *lanlan_audio_capture_get_source   (LanlanAudioCapture  *self);
guint               lanlan_audio_capture_get_out_rate (LanlanAudioCapture  *self);

float               lanlan_audio_level_to_dbfs        (float                level);

G_END_DECLS
