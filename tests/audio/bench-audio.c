/* bench-audio.c — audio engine figures (suite 'bench')
 *
 * 1. Playback path throughput: base64 PCM16 deltas (as realtime APIs
 *    send them) decoded and resampled 24 → 48 kHz in 100 ms chunks
 *    through LanlanResampler, against raw one-shot soxr_process on the
 *    same already-decoded input. Also 48 → 16 kHz for the microphone.
 * 2. Playback latency the app adds: time from write() of a burst into an
 *    idle LanlanAudioPlayback until its first samples reach the device
 *    (get_played() moves), and what get_latency_us() reports.
 *
 * Prints figures; fails only on real errors, never on timing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <soxr.h>
#include <stdio.h>

#include "lanlan-audio-playback.h"
#include "lanlan-resampler.h"
#include "audio-test-util.h"

#define SECONDS 60

static gint16 *
speechy (guint  rate,
         gsize *n)
{
  gint16 *pcm = g_new (gint16, (gsize) rate * SECONDS);
  GRand *rand = g_rand_new_with_seed (7);

  *n = (gsize) rate * SECONDS;
  for (gsize i = 0; i < *n; i++)
    {
      double t = (double) i / rate;

      pcm[i] = (gint16) (6000 * sin (2 * G_PI * 180 * t) * (0.6 + 0.4 * sin (2 * G_PI * 3 * t)) +
                         2000 * sin (2 * G_PI * 1400 * t) + g_rand_double_range (rand, -800, 800));
    }
  g_rand_free (rand);
  return pcm;
}

static double
raw_soxr (guint         in_rate,
          guint         out_rate,
          const gint16 *in,
          gsize         n_in,
          gsize        *n_out)
{
  soxr_io_spec_t io = soxr_io_spec (SOXR_INT16_I, SOXR_INT16_I);
  soxr_quality_spec_t q = soxr_quality_spec (SOXR_HQ, SOXR_MINIMUM_PHASE);
  gsize out_len = n_in * out_rate / in_rate + 4096;
  g_autofree gint16 *out = g_new (gint16, out_len);
  size_t odone = 0;
  soxr_error_t err;
  gint64 t0 = g_get_monotonic_time ();

  io.flags |= SOXR_NO_DITHER;
  err = soxr_oneshot (in_rate, out_rate, 1, in, n_in, NULL, out, out_len, &odone, &io, &q, NULL);
  if (err)
    g_error ("soxr_oneshot: %s", err);
  *n_out = odone;
  return (g_get_monotonic_time () - t0) / 1e6;
}

static double
app_path (guint         in_rate,
          guint         out_rate,
          const gint16 *in,
          gsize         n_in,
          gboolean      base64,
          gsize        *n_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanResampler) rs = lanlan_resampler_new (in_rate, out_rate, &error);
  gsize chunk = in_rate / 10;
  gsize out_len = lanlan_resampler_get_max_output (rs, chunk);
  g_autofree gint16 *out = g_new (gint16, out_len);
  GPtrArray *encoded = g_ptr_array_new_with_free_func (g_free);
  gint64 t0;
  gsize total = 0, n;

  g_assert_no_error (error);

  /* Encoding is the server's work; only decoding is timed. */
  for (gsize pos = 0; pos < n_in; pos += chunk)
    g_ptr_array_add (encoded, g_base64_encode ((const guchar *) (in + pos),
                                               MIN (chunk, n_in - pos) * sizeof (gint16)));

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < encoded->len; i++)
    {
      const gint16 *pcm = in + (gsize) i * chunk;
      gsize len = MIN (chunk, n_in - (gsize) i * chunk), used;
      g_autofree guchar *raw = NULL;

      if (base64)
        {
          gsize bytes;

          raw = g_base64_decode (g_ptr_array_index (encoded, i), &bytes);
          if (bytes != len * sizeof (gint16))
            g_error ("base64 round trip lost data");
#if G_BYTE_ORDER == G_BIG_ENDIAN
          for (gsize k = 0; k < len; k++)
            ((gint16 *) raw)[k] = GINT16_FROM_LE (((gint16 *) raw)[k]);
#endif
          pcm = (const gint16 *) raw;
        }
      total += lanlan_resampler_process (rs, pcm, len, &used, out, out_len);
      if (used != len)
        g_error ("resampler did not take a whole chunk");
    }
  while ((n = lanlan_resampler_drain (rs, out, out_len)) > 0)
    total += n;

  g_ptr_array_unref (encoded);
  *n_out = total;
  return (g_get_monotonic_time () - t0) / 1e6;
}

static void
bench_resampler (guint    in_rate,
                 guint    out_rate,
                 gboolean base64)
{
  g_autofree gint16 *in = NULL;
  gsize n, n_raw = 0, n_app = 0;
  double t_raw = G_MAXDOUBLE, t_app = G_MAXDOUBLE;

  in = speechy (in_rate, &n);
  /* Best of three, to keep a busy machine from skewing either side. */
  for (int i = 0; i < 3; i++)
    {
      t_raw = MIN (t_raw, raw_soxr (in_rate, out_rate, in, n, &n_raw));
      t_app = MIN (t_app, app_path (in_rate, out_rate, in, n, base64, &n_app));
    }
  if (n_raw != n_app)
    g_error ("app path made %zu samples, raw soxr %zu", n_app, n_raw);

  printf ("resample %u -> %u Hz, %d s of audio:\n", in_rate, out_rate, SECONDS);
  printf ("  raw soxr_oneshot (HQ, minimum phase): %7.1f ms  %6.0fx realtime\n",
          t_raw * 1e3, SECONDS / t_raw);
  printf ("  app, 100 ms chunks, %-18s %7.1f ms  %6.0fx realtime\n",
          base64 ? "base64 + resample:" : "resample:",
          t_app * 1e3, SECONDS / t_app);
  printf ("  app / raw time ratio: %.2f\n", t_app / t_raw);
}

static double
median (double *v,
        guint   n)
{
  for (guint i = 1; i < n; i++)
    for (guint j = i; j > 0 && v[j - 1] > v[j]; j--)
      {
        double t = v[j];
        v[j] = v[j - 1];
        v[j - 1] = t;
      }
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Bursts @gap_ms apart: 150 ms finds the stream running, 1300 ms finds
 * it paused (it pauses after a second with nothing to play) and measures
 * how fast it wakes. */
static void
bench_latency (guint burst_ms,
               guint gap_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAudioPlayback) pb = lanlan_audio_playback_new (NULL, 2, &error);
  LanlanAudioSink *sink;
  g_autofree gint16 *tone = NULL;
  double first[12], reported[12];
  guint trials = gap_ms > 1000 ? 6 : G_N_ELEMENTS (first);
  guint paused = 0;
  gsize n;

  if (pb == NULL)
    g_error ("playback: %s", error->message);
  sink = LANLAN_AUDIO_SINK (pb);
  tone = audio_test_tone (LANLAN_MODEL_RATE, 440.0, burst_ms / 1000.0, 0.3, &n);

  for (guint i = 0; i < trials; i++)
    {
      gint64 t0, deadline;

      g_usleep (gap_ms * 1000);   /* idle, drained */
      paused += !lanlan_audio_playback_get_running (pb);
      lanlan_audio_sink_reset_played (sink);
      t0 = g_get_monotonic_time ();
      if (lanlan_audio_sink_write (sink, tone, n) != n)
        g_error ("write refused audio on an empty queue");
      reported[i] = lanlan_audio_playback_get_latency_us (pb) / 1000.0;
      deadline = t0 + G_USEC_PER_SEC;
      while (lanlan_audio_sink_get_played (sink) == 0 && g_get_monotonic_time () < deadline)
        g_usleep (200);
      if (lanlan_audio_sink_get_played (sink) == 0)
        g_error ("nothing played within a second");
      first[i] = (g_get_monotonic_time () - t0) / 1000.0;
      while (lanlan_audio_sink_get_queued (sink) > 0 && g_get_monotonic_time () < deadline + G_USEC_PER_SEC)
        g_usleep (1000);
    }

  printf ("playback latency, %u ms bursts %u ms apart into an idle stream, %u of %u found it paused"
          " (quantum %u samples = %.1f ms):\n",
          burst_ms, gap_ms, paused, trials, lanlan_audio_playback_get_quantum (pb),
          lanlan_audio_playback_get_quantum (pb) * 1000.0 / 48000);
  printf ("  write() -> first samples to the device: median %.1f ms\n", median (first, trials));
  printf ("  get_latency_us() right after write():   median %.1f ms (queue + quantum)\n",
          median (reported, trials));
}

int
main (int   argc,
      char *argv[])
{
  bench_resampler (24000, 48000, TRUE);
  bench_resampler (48000, 16000, FALSE);
  bench_latency (20, 150);
  bench_latency (100, 150);
  bench_latency (100, 1300);
  return 0;
}
