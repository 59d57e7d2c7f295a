/* test-playback.c — the PipeWire playback sink against the harness's null sink
 *
 * What the app plays is recorded back from the monitor of
 * lanlan_test_sink with the app's own capture stream, then checked for
 * frequency, length and for stopping on flush.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lanlan-audio-playback.h"
#include "audio-test-util.h"
#include "audio-test-recorder.h"

#define SINK "lanlan_test_sink"

static LanlanAudioPlayback *
new_playback (const char *target,
              guint       channels)
{
  g_autoptr(GError) error = NULL;
  LanlanAudioPlayback *pb = lanlan_audio_playback_new (target, channels, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pb);
  /* Connected, and paused until the first write. */
  g_assert_true (lanlan_audio_playback_get_available (pb));
  g_assert_false (lanlan_audio_playback_get_running (pb));
  g_assert_cmpuint (lanlan_audio_playback_get_quantum (pb), ==, 0);
  return pb;
}

static void
test_playback_tone (void)
{
  g_autoptr(LanlanAudioPlayback) pb = NULL;
  LanlanAudioSink *sink;
  AudioTestRecorder *rec;
  g_autoptr(GArray) rec_pcm = NULL;
  g_autofree gint16 *tone = NULL;
  gsize n, start = 0, end = 0;
  gsize active;
  double freq, rms;

  rec = audio_test_recorder_start (SINK, TRUE, 48000);
  pb = new_playback (NULL, 2);
  sink = LANLAN_AUDIO_SINK (pb);
  g_usleep (100 * 1000);

  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 1.0, 0.5, &n);
  lanlan_audio_sink_reset_played (sink);
  g_assert_cmpuint (lanlan_audio_sink_write (sink, tone, n), ==, n);
  g_assert_cmpuint (lanlan_audio_sink_get_queued (sink), >, n * 9 / 10);
  g_test_message ("latency right after writing 1 s: %.1f ms",
                  lanlan_audio_playback_get_latency_us (pb) / 1000.0);

  /* Plays in about a second; every sample (filter tail included) counts. */
  audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= n &&
                       lanlan_audio_sink_get_queued (sink) == 0, 5000);
  g_assert_cmpuint (lanlan_audio_sink_get_queued (sink), ==, 0);
  g_assert_cmpuint (lanlan_audio_sink_get_played (sink), ==, n);
  /* It ended cleanly: the resampler tail went out before the ring ran dry. */
  g_assert_cmpuint (lanlan_audio_playback_get_underruns (pb), ==, 0);

  g_usleep (200 * 1000);
  rec_pcm = audio_test_recorder_finish (rec);

  g_assert_true (audio_test_find_signal ((gint16 *) rec_pcm->data, rec_pcm->len, 1000,
                                         &start, &end));
  freq = audio_test_frequency_median ((gint16 *) rec_pcm->data, start, end, 48000);
  active = audio_test_active_samples ((gint16 *) rec_pcm->data, start, end, 48, 1000);
  rms = audio_test_rms ((gint16 *) rec_pcm->data + start + 4800, 38400);
  g_test_message ("recorded %u samples, tone %zu..%zu (%zu samples, %zu with signal), "
                  "%.3f Hz (whole span %.3f Hz), rms %.3f", rec_pcm->len, start, end,
                  end - start, active, freq,
                  audio_test_frequency ((gint16 *) rec_pcm->data, start, end, 48000), rms);
  g_assert_cmpfloat_with_epsilon (freq, 440.0, 1.0);
  /* 1.0 s at 48 kHz, give or take a window at each edge. Never more; but
   * on a loaded two-core machine (meson runs many tests at once, fuzzers
   * run beside them) the harness's PipeWire, which has no realtime
   * priority there, drops late cycles in the graph after the app has
   * handed them over: up to ~5 % was seen. So the lower bound only says
   * the tone got through; the exact count the app is responsible for is
   * get_played(), asserted above. */
  g_assert_cmpint (active, <=, 48000 + 2 * 48);
  g_assert_cmpint (active, >=, 48000 * 80 / 100);
  g_assert_cmpfloat (rms, >, 0.2);
}

static void
test_playback_flush (void)
{
  g_autoptr(LanlanAudioPlayback) pb = NULL;
  LanlanAudioSink *sink;
  AudioTestRecorder *rec;
  g_autoptr(GArray) rec_pcm = NULL;
  g_autofree gint16 *tone = NULL;
  gsize n, start = 0, end = 0;
  guint64 at_flush, after;
  gsize active;
  guint quantum24;

  rec = audio_test_recorder_start (SINK, TRUE, 48000);
  pb = new_playback (SINK, 1);
  sink = LANLAN_AUDIO_SINK (pb);
  g_usleep (100 * 1000);

  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 2.0, 0.5, &n);
  lanlan_audio_sink_reset_played (sink);
  g_assert_cmpuint (lanlan_audio_sink_write (sink, tone, n), ==, n);
  audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= n / 4, 3000);

  lanlan_audio_sink_flush (sink);
  at_flush = lanlan_audio_sink_get_played (sink);
  quantum24 = lanlan_audio_playback_get_quantum (pb) * LANLAN_MODEL_RATE / 48000;
  g_assert_cmpuint (lanlan_audio_sink_get_queued (sink), <=, quantum24);
  g_usleep (150 * 1000);
  after = lanlan_audio_sink_get_played (sink);
  g_test_message ("flushed at %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                  " played after the flush (quantum %u at 24 kHz)",
                  at_flush, after - at_flush, quantum24);
  /* At most the cycle already under way when flush() was called. */
  g_assert_cmpuint (after - at_flush, <=, quantum24);
  g_assert_cmpuint (after, <, n * 2 / 3);
  g_assert_cmpuint (lanlan_audio_sink_get_queued (sink), ==, 0);
  g_assert_cmpuint (lanlan_audio_playback_get_underruns (pb), ==, 0);

  g_usleep (100 * 1000);
  rec_pcm = audio_test_recorder_finish (rec);
  g_assert_true (audio_test_find_signal ((gint16 *) rec_pcm->data, rec_pcm->len, 1000,
                                         &start, &end));
  active = audio_test_active_samples ((gint16 *) rec_pcm->data, start, end, 48, 1000);
  g_test_message ("recorded tone %zu samples at 48 kHz (%zu with signal); played count says %"
                  G_GUINT64_FORMAT, end - start, active, after * 2);
  /* Nothing beyond what the counter says reached the device: the flush
   * really stopped it. (A few percent less can be lost to a loaded test
   * machine's graph, see the tone test.) */
  g_assert_cmpint (active, <=, (gssize) after * 2 + 2 * 48 + (gssize) quantum24 * 2);
  g_assert_cmpint (active, >=, (gssize) after * 2 * 80 / 100);

  /* Audio written after a flush plays normally. */
  lanlan_audio_sink_reset_played (sink);
  g_assert_cmpuint (lanlan_audio_sink_write (sink, tone, 4800), ==, 4800);
  audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= 4800, 2000);
  g_assert_cmpuint (lanlan_audio_sink_get_played (sink), ==, 4800);
}

static void
test_playback_underrun (void)
{
  g_autoptr(LanlanAudioPlayback) pb = new_playback (SINK, 1);
  LanlanAudioSink *sink = LANLAN_AUDIO_SINK (pb);
  g_autofree gint16 *tone = NULL;
  gsize n;

  /* Idle with nothing queued is not an underrun. */
  g_usleep (200 * 1000);
  g_assert_cmpuint (lanlan_audio_playback_get_underruns (pb), ==, 0);

  /* 10 ms of audio every 20 ms: the device keeps running dry mid-stream. */
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 0.01, 0.5, &n);
  for (int i = 0; i < 40; i++)
    {
      g_assert_cmpuint (lanlan_audio_sink_write (sink, tone, n), ==, n);
      g_usleep (20 * 1000);
    }
  g_test_message ("%" G_GUINT64_FORMAT " underruns", lanlan_audio_playback_get_underruns (pb));
  g_assert_cmpuint (lanlan_audio_playback_get_underruns (pb), >=, 5);
}

static void
test_playback_full (void)
{
  g_autoptr(LanlanAudioPlayback) pb = new_playback (SINK, 1);
  LanlanAudioSink *sink = LANLAN_AUDIO_SINK (pb);
  g_autofree gint16 *tone = NULL;
  gsize n, accepted, queued, more;
  guint64 played;

  /* A minute of speech does not fit: write() takes what fits, says so,
   * and queues exactly that much. */
  tone = audio_test_tone (LANLAN_MODEL_RATE, 300.0, 60.0, 0.3, &n);
  lanlan_audio_sink_reset_played (sink);
  accepted = lanlan_audio_sink_write (sink, tone, n);
  queued = lanlan_audio_sink_get_queued (sink);
  played = lanlan_audio_sink_get_played (sink);
  g_test_message ("accepted %zu of %zu, queued %zu, played meanwhile %" G_GUINT64_FORMAT,
                  accepted, n, queued, played);
  g_assert_cmpuint (accepted, <, n);
  g_assert_cmpuint (accepted, >, 30 * LANLAN_MODEL_RATE);
  /* Everything accepted is either queued or already played (the device
   * keeps playing while write() runs); the resampler holds a few samples. */
  g_assert_cmpint (ABS ((gssize) (queued + played) - (gssize) accepted), <, 480);
  /* Full: only room the device freed since the first write began. */
  more = lanlan_audio_sink_write (sink, tone + accepted, n - accepted);
  g_assert_cmpuint (more, <=, lanlan_audio_sink_get_played (sink) + 480);

  lanlan_audio_sink_flush (sink);
  audio_test_wait_for (lanlan_audio_sink_get_queued (sink) == 0, 1000);
  g_assert_cmpuint (lanlan_audio_sink_get_queued (sink), ==, 0);
  /* Room again once the device thread has handled the flush (the next
   * quantum; until then the old samples still occupy the ring, and the
   * full ring takes nothing). */
  more = 0;
  audio_test_wait_for ((more = lanlan_audio_sink_write (sink, tone + accepted, 24000)) > 0, 2000);
  g_assert_cmpuint (more, ==, 24000);
}

/* Periods of about @period samples between positive zero crossings in
 * [start, end): how many cycles of that tone were recorded. */
static guint
count_cycles (const gint16 *pcm,
              gsize         start,
              gsize         end,
              double        period)
{
  gssize last = -1;
  guint n = 0;

  for (gsize i = start + 1; i < end; i++)
    if (pcm[i - 1] < 0 && pcm[i] >= 0)
      {
        if (last >= 0 && fabs ((double) ((gssize) i - last) - period) <= period * 0.1)
          n++;
        last = i;
      }
  return n;
}

static int
max_abs (const gint16 *pcm,
         gsize         start,
         gsize         end)
{
  int m = 0;

  for (gsize i = start; i < end; i++)
    m = MAX (m, ABS ((int) pcm[i]));
  return m;
}

/* After a pause the stream wakes on the first write: record it back and
 * find every cycle of the first "syllable" (60 ms at 1 kHz before 240 ms
 * at 440 Hz), silence before it (no click), and the stream paused again
 * afterwards. Twice, so the second wake is from a pause the playback
 * chose itself. */
static void
test_playback_wake (void)
{
  g_autoptr(LanlanAudioPlayback) pb = new_playback (SINK, 1);
  LanlanAudioSink *sink = LANLAN_AUDIO_SINK (pb);
  g_autofree gint16 *hi = NULL, *lo = NULL, *burst = NULL;
  g_autoptr(GArray) rec_pcm = NULL;
  AudioTestRecorder *rec;
  gsize n_hi, n_lo, n, from = 0;
  const gint16 *pcm;

  hi = audio_test_tone (LANLAN_MODEL_RATE, 1000.0, 0.06, 0.5, &n_hi);
  lo = audio_test_tone (LANLAN_MODEL_RATE, 440.0, 0.24, 0.5, &n_lo);
  n = n_hi + n_lo;
  burst = g_new (gint16, n);
  memcpy (burst, hi, n_hi * sizeof (gint16));
  memcpy (burst + n_hi, lo, n_lo * sizeof (gint16));

  /* The recorder runs before the first write (under memcheck it can
   * take a while to deliver its first samples). */
  rec = audio_test_recorder_start (SINK, TRUE, 48000);
  audio_test_wait_for (audio_test_recorder_length (rec) > 4800, 5000);
  g_assert_cmpuint (audio_test_recorder_length (rec), >, 4800);

  for (int round = 0; round < 2; round++)
    {
      g_assert_false (lanlan_audio_playback_get_running (pb));
      lanlan_audio_sink_reset_played (sink);
      g_assert_cmpuint (lanlan_audio_sink_write (sink, burst, n), ==, n);
      audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= n &&
                           lanlan_audio_sink_get_queued (sink) == 0, 3000);
      g_assert_cmpuint (lanlan_audio_sink_get_played (sink), ==, n);
      g_assert_true (lanlan_audio_playback_get_running (pb));
      /* Nothing left: paused again within a second or so. */
      audio_test_wait_for (!lanlan_audio_playback_get_running (pb), 3000);
      g_assert_false (lanlan_audio_playback_get_running (pb));
    }
  g_assert_cmpuint (lanlan_audio_playback_get_underruns (pb), ==, 0);
  rec_pcm = audio_test_recorder_finish (rec);
  pcm = (const gint16 *) rec_pcm->data;

  for (int round = 0; round < 2; round++)
    {
      gsize start = 0, end = 0, hi_cycles, lo_cycles;
      int before;

      g_assert_true (audio_test_find_signal (pcm + from, rec_pcm->len - from, 1000, &start, &end));
      start += from;
      /* The first burst ends where a long silence begins. */
      end = start;
      for (gsize i = start; i < rec_pcm->len && i < end + 4800; i++)
        if (ABS ((int) pcm[i]) > 1000)
          end = i + 1;
      hi_cycles = count_cycles (pcm, start > 48 ? start - 48 : 0, MIN (end, start + 9600), 48.0);
      lo_cycles = count_cycles (pcm, start, end, 48000.0 / 440.0);
      before = max_abs (pcm, start > 2400 ? start - 2400 : 0, start > 48 ? start - 48 : 0);
      g_test_message ("wake %d: burst at %zu..%zu, %zu of 60 cycles at 1 kHz, %zu of 105 at 440 Hz, "
                      "max %d in the 50 ms before", round, start, end, hi_cycles, lo_cycles, before);
      /* Every 1 kHz cycle but the two at the edges, whatever dropouts
       * the loaded graph adds. Under memcheck the realtime thread runs
       * some twenty times slower than realtime and the graph misses its
       * deadlines, so there this only checks memory, not the sound. */
      g_assert_cmpint (before, <, 100);
      if (g_getenv ("LANLAN_UNDER_VALGRIND") == NULL)
        {
          g_assert_cmpuint (hi_cycles, >=, 58);
          g_assert_cmpuint (lo_cycles, >=, 100);
        }
      from = end;
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/audio/playback/tone", test_playback_tone);
  g_test_add_func ("/audio/playback/flush", test_playback_flush);
  g_test_add_func ("/audio/playback/underrun", test_playback_underrun);
  g_test_add_func ("/audio/playback/full", test_playback_full);
  g_test_add_func ("/audio/playback/wake", test_playback_wake);

  return g_test_run ();
}
