/* test-capture.c — the microphone path against the harness's virtual mic
 *
 * A 440 Hz tone is played (with the app's own playback stream) into
 * lanlan_test_mic_in, which the harness loops back out of the virtual
 * microphone lanlan_test_mic; the capture path must deliver that tone
 * resampled to 16 and 24 kHz, with a level on the meter.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-audio-capture.h"
#include "lanlan-audio-playback.h"
#include "audio-test-util.h"
#include "audio-test-recorder.h"

#define MIC_IN "lanlan_test_mic_in"

static void
check_rate (guint       rate,
            const char *source)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) feeder = NULL;
  g_autofree gint16 *tone = NULL;
  g_autoptr(GArray) pcm = NULL;
  AudioTestRecorder *rec;
  gsize n, start = 0, end = 0, active;
  float level = 0, peak = 0, best_level = 0, best_peak = 0;
  double freq;
  gint64 deadline;

  rec = audio_test_recorder_start (source, FALSE, rate);
  g_assert_cmpuint (lanlan_audio_capture_get_out_rate (rec->capture), ==, rate);
  g_assert_true (lanlan_audio_capture_is_running (rec->capture));

  feeder = lanlan_audio_playback_new (MIC_IN, 1, &error);
  g_assert_no_error (error);
  g_usleep (100 * 1000);

  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 1.0, 0.5, &n);
  g_assert_cmpuint (lanlan_audio_sink_write (LANLAN_AUDIO_SINK (feeder), tone, n), ==, n);

  /* Watch the meter the way the UI would while the tone plays: until
   * the feeder (which wakes from its pause on the write) has played it
   * all, and a little more for the graph to carry it through. */
  deadline = g_get_monotonic_time () + 5000 * 1000;
  while (g_get_monotonic_time () < deadline &&
         (lanlan_audio_sink_get_played (LANLAN_AUDIO_SINK (feeder)) < n ||
          lanlan_audio_sink_get_queued (LANLAN_AUDIO_SINK (feeder)) > 0))
    {
      level = lanlan_audio_capture_get_level (rec->capture, &peak);
      best_level = MAX (best_level, level);
      best_peak = MAX (best_peak, peak);
      g_usleep (10 * 1000);
    }
  deadline = g_get_monotonic_time () + 200 * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      level = lanlan_audio_capture_get_level (rec->capture, &peak);
      best_level = MAX (best_level, level);
      best_peak = MAX (best_peak, peak);
      g_usleep (10 * 1000);
    }
  g_test_message ("%u Hz: meter rms %.3f (%.1f dBFS) peak %.3f, %" G_GUINT64_FORMAT
                  " overruns", rate, best_level, lanlan_audio_level_to_dbfs (best_level),
                  best_peak, lanlan_audio_capture_get_overruns (rec->capture));
  g_assert_cmpfloat (best_level, >, 0.2);
  g_assert_cmpfloat (best_peak, >=, best_level);
  g_assert_cmpfloat (best_peak, <=, 1.0);
  g_assert_cmpuint (lanlan_audio_capture_get_overruns (rec->capture), ==, 0);

  pcm = audio_test_recorder_finish (rec);
  g_assert_true (audio_test_find_signal ((gint16 *) pcm->data, pcm->len, 1000, &start, &end));
  freq = audio_test_frequency_median ((gint16 *) pcm->data, start, end, rate);
  active = audio_test_active_samples ((gint16 *) pcm->data, start, end, rate / 1000, 1000);
  g_test_message ("%u Hz: got %u samples, tone %zu samples (%zu with signal), %.3f Hz", rate,
                  pcm->len, end - start, active, freq);
  g_assert_cmpfloat_with_epsilon (freq, 440.0, 1.0);
  /* A second of tone; a loaded machine's graph may drop a cycle or two
   * (see test-playback), never add signal. */
  g_assert_cmpint (active, <=, rate + rate / 100);
  g_assert_cmpint (active, >=, rate * 80 / 100);
  g_assert_cmpfloat_with_epsilon (audio_test_rms ((gint16 *) pcm->data + start + rate / 10,
                                                  rate / 2), 0.3536, 0.05);
}

static void
test_capture_16k (void)
{
  check_rate (16000, NULL);
}

static void
test_capture_24k (void)
{
  check_rate (24000, "lanlan_test_mic");
}

static void
count_cb (const gint16 *pcm,
          gsize         n,
          gpointer      user_data)
{
  gsize *total = user_data;

  g_atomic_pointer_add ((gssize *) total, n);
}

static void
test_capture_mute (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) feeder = NULL;
  g_autoptr(LanlanAudioCapture) cap = NULL;
  g_autofree gint16 *tone = NULL;
  gsize total = 0, n, before;
  float peak;

  cap = lanlan_audio_capture_new (NULL, 16000, count_cb, &total, NULL);
  g_assert_false (lanlan_audio_capture_is_running (cap));
  g_assert_cmpfloat (lanlan_audio_capture_get_level (cap, NULL), ==, 0.0f);

  g_assert_true (lanlan_audio_capture_start (cap, &error));
  g_assert_no_error (error);
  /* start() twice is harmless. */
  g_assert_true (lanlan_audio_capture_start (cap, &error));

  feeder = lanlan_audio_playback_new (MIC_IN, 1, &error);
  g_assert_no_error (error);
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 1.5, 0.5, &n);
  lanlan_audio_sink_write (LANLAN_AUDIO_SINK (feeder), tone, n);

  audio_test_wait_for (lanlan_audio_capture_get_level (cap, NULL) > 0.2, 2000);
  g_assert_cmpfloat (lanlan_audio_capture_get_level (cap, NULL), >, 0.2);

  /* Muted: the device keeps being read, nothing is delivered, meter at 0. */
  lanlan_audio_capture_set_muted (cap, TRUE);
  g_assert_true (lanlan_audio_capture_get_muted (cap));
  g_usleep (100 * 1000);
  before = g_atomic_pointer_get ((gssize *) &total);
  {
    guint64 captured = lanlan_audio_capture_get_captured (cap);

    g_usleep (300 * 1000);
    g_assert_cmpuint (lanlan_audio_capture_get_captured (cap), >, captured + 48000 / 5);
  }
  g_assert_cmpuint (g_atomic_pointer_get ((gssize *) &total), ==, before);
  g_assert_cmpfloat (lanlan_audio_capture_get_level (cap, &peak), ==, 0.0f);
  g_assert_cmpfloat (peak, ==, 0.0f);

  /* Unmuted: audio flows again. */
  lanlan_audio_capture_set_muted (cap, FALSE);
  audio_test_wait_for ((gsize) g_atomic_pointer_get ((gssize *) &total) > before + 1600, 1000);
  g_assert_cmpuint (g_atomic_pointer_get ((gssize *) &total), >, before + 1600);

  /* Stopped: nothing more arrives, the meter drops, and it can restart. */
  lanlan_audio_capture_stop (cap);
  g_assert_false (lanlan_audio_capture_is_running (cap));
  before = g_atomic_pointer_get ((gssize *) &total);
  g_usleep (100 * 1000);
  g_assert_cmpuint (g_atomic_pointer_get ((gssize *) &total), ==, before);
  g_assert_cmpfloat (lanlan_audio_capture_get_level (cap, NULL), ==, 0.0f);

  g_assert_true (lanlan_audio_capture_start (cap, &error));
  g_assert_no_error (error);
  audio_test_wait_for ((gsize) g_atomic_pointer_get ((gssize *) &total) > before, 2000);
  g_assert_cmpuint (g_atomic_pointer_get ((gssize *) &total), >, before);
}

static void
test_capture_bad_rate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioCapture) cap = lanlan_audio_capture_new (NULL, 100, count_cb, NULL, NULL);

  g_assert_false (lanlan_audio_capture_start (cap, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_false (lanlan_audio_capture_is_running (cap));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/audio/capture/16k", test_capture_16k);
  g_test_add_func ("/audio/capture/24k", test_capture_24k);
  g_test_add_func ("/audio/capture/mute", test_capture_mute);
  g_test_add_func ("/audio/capture/bad-rate", test_capture_bad_rate);

  return g_test_run ();
}
