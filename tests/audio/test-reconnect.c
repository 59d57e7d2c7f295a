/* test-reconnect.c — playback and capture outlive a PipeWire restart
 *
 * The harness's PipeWire is killed (SIGKILL, as a crash) mid-playback
 * with the microphone on, through $LANLAN_TEST_AUDIO: both objects say
 * they are unavailable, with a message, and do not spin while the daemon
 * is away; once it is back they connect again by themselves, say so, and
 * play and record again. Also: made while PipeWire is absent, they wait
 * for it rather than fail.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/resource.h>

#include "lanlan-audio-capture.h"
#include "lanlan-audio-playback.h"
#include "audio-test-util.h"
#include "audio-test-recorder.h"

#define SINK   "lanlan_test_sink"
#define MIC    "lanlan_test_mic"
#define MIC_IN "lanlan_test_mic_in"

static void
audio_ctl (const char *what)
{
  const char *script = g_getenv ("LANLAN_TEST_AUDIO");
  char *argv[] = { (char *) script, (char *) what, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  g_assert_nonnull (script);
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

/* Runs the default main context (where notify:: arrives) until @cond. */
#define wait_main(cond, timeout_ms) \
  G_STMT_START { \
    gint64 _deadline = g_get_monotonic_time () + (timeout_ms) * 1000; \
    while (!(cond) && g_get_monotonic_time () < _deadline) \
      { \
        while (g_main_context_iteration (NULL, FALSE)); \
        g_usleep (5000); \
      } \
    while (g_main_context_iteration (NULL, FALSE)); \
  } G_STMT_END

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  GString *log = user_data;

  g_string_append_printf (log, "%s=%d ", G_OBJECT_TYPE_NAME (object),
                          LANLAN_IS_AUDIO_PLAYBACK (object)
                          ? lanlan_audio_playback_get_available (LANLAN_AUDIO_PLAYBACK (object))
                          : lanlan_audio_capture_get_available (LANLAN_AUDIO_CAPTURE (object)));
}

static void
count_cb (const gint16 *pcm,
          gsize         n,
          gpointer      user_data)
{
  g_atomic_pointer_add ((gssize *) user_data, (gssize) n);
}

/* Plays a tone and records it back from the sink's monitor. */
static void
assert_plays (LanlanAudioPlayback *pb)
{
  LanlanAudioSink *sink = LANLAN_AUDIO_SINK (pb);
  g_autofree gint16 *tone = NULL;
  g_autoptr(GArray) rec_pcm = NULL;
  AudioTestRecorder *rec;
  gsize n, start = 0, end = 0;
  double freq;

  rec = audio_test_recorder_start (SINK, TRUE, 48000);
  g_usleep (200 * 1000);
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 0.5, 0.5, &n);
  lanlan_audio_sink_reset_played (sink);
  g_assert_cmpuint (lanlan_audio_sink_write (sink, tone, n), ==, n);
  audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= n, 5000);
  g_assert_cmpuint (lanlan_audio_sink_get_played (sink), ==, n);
  g_usleep (100 * 1000);
  rec_pcm = audio_test_recorder_finish (rec);
  g_assert_true (audio_test_find_signal ((gint16 *) rec_pcm->data, rec_pcm->len, 1000, &start, &end));
  freq = audio_test_frequency_median ((gint16 *) rec_pcm->data, start, end, 48000);
  g_test_message ("played back: %zu samples at %.1f Hz", end - start, freq);
  g_assert_cmpfloat_with_epsilon (freq, 440.0, 2.0);
}

/* Feeds the virtual microphone and waits for @cap to hear it. */
static void
assert_records (LanlanAudioCapture *cap,
                gssize             *total)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) feeder = lanlan_audio_playback_new (MIC_IN, 1, &error);
  g_autofree gint16 *tone = NULL;
  gssize before = g_atomic_pointer_get (total);
  gsize n;

  g_assert_no_error (error);
  wait_main (lanlan_audio_playback_get_available (feeder), 5000);
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 1.0, 0.5, &n);
  lanlan_audio_sink_write (LANLAN_AUDIO_SINK (feeder), tone, n);
  audio_test_wait_for (lanlan_audio_capture_get_level (cap, NULL) > 0.2 &&
                       g_atomic_pointer_get (total) > before + 1600, 3000);
  g_assert_cmpfloat (lanlan_audio_capture_get_level (cap, NULL), >, 0.2);
  g_assert_cmpint (g_atomic_pointer_get (total), >, before + 1600);
}

static void
test_reconnect_restart (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) pb = NULL;
  g_autoptr(LanlanAudioCapture) cap = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  g_autofree gint16 *tone = NULL;
  g_autofree char *pb_error = NULL, *cap_error = NULL;
  gssize total = 0;
  gsize n;
  double cpu;

  pb = lanlan_audio_playback_new (SINK, 1, &error);
  g_assert_no_error (error);
  g_assert_true (lanlan_audio_playback_get_available (pb));
  cap = lanlan_audio_capture_new (MIC, 16000, count_cb, &total, NULL);
  g_assert_true (lanlan_audio_capture_start (cap, &error));
  g_assert_true (lanlan_audio_capture_get_available (cap));
  g_signal_connect (pb, "notify::available", G_CALLBACK (on_notify), log);
  g_signal_connect (cap, "notify::available", G_CALLBACK (on_notify), log);

  /* Mid-playback, microphone on: PipeWire dies. */
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 3.0, 0.5, &n);
  g_assert_cmpuint (lanlan_audio_sink_write (LANLAN_AUDIO_SINK (pb), tone, n), ==, n);
  audio_test_wait_for (lanlan_audio_sink_get_played (LANLAN_AUDIO_SINK (pb)) > LANLAN_MODEL_RATE / 4, 3000);
  g_assert_cmpuint (lanlan_audio_sink_get_played (LANLAN_AUDIO_SINK (pb)), >, LANLAN_MODEL_RATE / 4);
  audio_ctl ("stop");

  wait_main (!lanlan_audio_playback_get_available (pb) && !lanlan_audio_capture_get_available (cap), 5000);
  g_assert_false (lanlan_audio_playback_get_available (pb));
  g_assert_false (lanlan_audio_capture_get_available (cap));
  pb_error = lanlan_audio_playback_dup_error (pb);
  cap_error = lanlan_audio_capture_dup_error (cap);
  g_test_message ("PipeWire gone: playback says \"%s\", capture says \"%s\"", pb_error, cap_error);
  g_assert_nonnull (pb_error);
  g_assert_nonnull (cap_error);
  g_assert_true (lanlan_audio_capture_is_running (cap));
  /* What the reply still sends is dropped, not queued to play stale. */
  g_assert_cmpuint (lanlan_audio_sink_write (LANLAN_AUDIO_SINK (pb), tone, n), ==, n);
  g_assert_cmpuint (lanlan_audio_sink_get_queued (LANLAN_AUDIO_SINK (pb)), ==, 0);

  /* Away for 1.5 s: retries back off, nothing spins. */
  cpu = cpu_seconds ();
  wait_main (FALSE, 1500);
  cpu = cpu_seconds () - cpu;
  g_test_message ("CPU while PipeWire was away for 1.5 s: %.3f s", cpu);
  /* A spinning retry would take most of the 1.5 s; memcheck slows
   * everything about tenfold. */
  g_assert_cmpfloat (cpu, <, g_getenv ("LANLAN_UNDER_VALGRIND") ? 1.0 : 0.15);

  audio_ctl ("start");
  wait_main (lanlan_audio_playback_get_available (pb) && lanlan_audio_capture_get_available (cap), 10000);
  g_test_message ("availability changes: %s", log->str);
  g_assert_true (lanlan_audio_playback_get_available (pb));
  g_assert_true (lanlan_audio_capture_get_available (cap));
  g_clear_pointer (&pb_error, g_free);
  pb_error = lanlan_audio_playback_dup_error (pb);
  g_assert_null (pb_error);
  g_assert_true (strstr (log->str, "LanlanAudioPlayback=0") != NULL);
  g_assert_true (strstr (log->str, "LanlanAudioPlayback=1") != NULL);
  g_assert_true (strstr (log->str, "LanlanAudioCapture=0") != NULL);
  g_assert_true (strstr (log->str, "LanlanAudioCapture=1") != NULL);

  assert_plays (pb);
  assert_records (cap, &total);
}

static void
test_reconnect_absent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) pb = NULL;
  g_autoptr(LanlanAudioCapture) cap = NULL;
  g_autofree char *message = NULL;
  gssize total = 0;

  audio_ctl ("stop");

  pb = lanlan_audio_playback_new (SINK, 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pb);
  g_assert_false (lanlan_audio_playback_get_available (pb));
  message = lanlan_audio_playback_dup_error (pb);
  g_test_message ("no PipeWire: \"%s\"", message);
  g_assert_nonnull (message);

  cap = lanlan_audio_capture_new (MIC, 16000, count_cb, &total, NULL);
  g_assert_true (lanlan_audio_capture_start (cap, &error));
  g_assert_no_error (error);
  g_assert_false (lanlan_audio_capture_get_available (cap));

  audio_ctl ("start");
  wait_main (lanlan_audio_playback_get_available (pb) && lanlan_audio_capture_get_available (cap), 10000);
  g_assert_true (lanlan_audio_playback_get_available (pb));
  g_assert_true (lanlan_audio_capture_get_available (cap));

  assert_plays (pb);
  assert_records (cap, &total);

  /* Stopped is not unavailable. */
  lanlan_audio_capture_stop (cap);
  g_assert_true (lanlan_audio_capture_get_available (cap));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/audio/reconnect/restart", test_reconnect_restart);
  g_test_add_func ("/audio/reconnect/absent", test_reconnect_absent);

  return g_test_run ();
}
