/* audio-test-recorder.h — records what reaches a sink, for the audio tests
 *
 * A LanlanAudioCapture on a sink's monitor (or on a source), collecting
 * everything its worker thread delivers into one array.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-audio-capture.h"

typedef struct {
  GMutex              lock;
  GArray             *pcm;
  guint               calls;
  LanlanAudioCapture *capture;
  guint               rate;
} AudioTestRecorder;

static void
audio_test_recorder_cb (const gint16 *pcm,
                        gsize         n,
                        gpointer      user_data)
{
  AudioTestRecorder *rec = user_data;

  g_mutex_lock (&rec->lock);
  g_array_append_vals (rec->pcm, pcm, n);
  rec->calls++;
  g_mutex_unlock (&rec->lock);
}

static inline AudioTestRecorder *
audio_test_recorder_start (const char *node,
                           gboolean    monitor,
                           guint       rate)
{
  AudioTestRecorder *rec = g_new0 (AudioTestRecorder, 1);
  g_autoptr(GError) error = NULL;

  g_mutex_init (&rec->lock);
  rec->pcm = g_array_new (FALSE, FALSE, sizeof (gint16));
  rec->rate = rate;
  rec->capture = lanlan_audio_capture_new (node, rate, audio_test_recorder_cb, rec, NULL);
  lanlan_audio_capture_set_capture_sink (rec->capture, monitor);
  lanlan_audio_capture_start (rec->capture, &error);
  g_assert_no_error (error);
  return rec;
}

/* Stops recording; returns everything recorded. */
static inline GArray *
audio_test_recorder_finish (AudioTestRecorder *rec)
{
  GArray *pcm;

  lanlan_audio_capture_stop (rec->capture);
  g_object_unref (rec->capture);
  pcm = rec->pcm;
  g_mutex_clear (&rec->lock);
  g_free (rec);
  return pcm;
}

static inline gsize
audio_test_recorder_length (AudioTestRecorder *rec)
{
  gsize n;

  g_mutex_lock (&rec->lock);
  n = rec->pcm->len;
  g_mutex_unlock (&rec->lock);
  return n;
}

/* Polls @cond every 5 ms for up to @timeout_ms; returns whether it held. */
#define audio_test_wait_for(cond, timeout_ms) \
  G_STMT_START { \
    gint64 _deadline = g_get_monotonic_time () + (timeout_ms) * 1000; \
    while (!(cond) && g_get_monotonic_time () < _deadline) \
      g_usleep (5000); \
  } G_STMT_END
