/* test-resampler.c — streaming libsoxr resampler
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-resampler.h"
#include "audio-test-util.h"

/* Feeds @in in chunks of the sizes in @chunks (cycled), with an output
 * buffer of @out_len per call, then drains; returns all output. */
static GArray *
run (LanlanResampler *rs,
     const gint16    *in,
     gsize            n_in,
     const gsize     *chunks,
     gsize            n_chunks,
     gsize            out_len)
{
  GArray *result = g_array_new (FALSE, FALSE, sizeof (gint16));
  g_autofree gint16 *out = g_new (gint16, out_len);
  gsize pos = 0, k = 0, n;

  while (pos < n_in)
    {
      gsize want = chunks[k++ % n_chunks];
      gsize chunk = MIN (want, n_in - pos);
      gsize done = 0;

      while (done < chunk)
        {
          gsize used = 0;

          n = lanlan_resampler_process (rs, in + pos + done, chunk - done, &used, out, out_len);
          g_array_append_vals (result, out, n);
          done += used;
          g_assert_true (used > 0 || n > 0);
        }
      pos += chunk;
    }
  while ((n = lanlan_resampler_drain (rs, out, out_len)) > 0)
    g_array_append_vals (result, out, n);

  return result;
}

static void
check_tone (guint in_rate,
            guint out_rate)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanResampler) rs = lanlan_resampler_new (in_rate, out_rate, &error);
  g_autofree gint16 *tone = NULL;
  g_autoptr(GArray) out = NULL;
  gsize n_in, expect_len, start, end;
  const gsize whole[] = { G_MAXSIZE };
  double freq;

  g_assert_no_error (error);
  tone = audio_test_tone (in_rate, 440.0, 1.0, 0.5, &n_in);
  out = run (rs, tone, n_in, whole, 1, lanlan_resampler_get_max_output (rs, n_in));

  expect_len = (gsize) n_in * out_rate / in_rate;
  g_test_message ("%u -> %u: %zu in, %u out (expected %zu)", in_rate, out_rate,
                  n_in, out->len, expect_len);
  /* Length preserved to within a couple of samples. */
  g_assert_cmpint (ABS ((gssize) out->len - (gssize) expect_len), <=, 2);

  /* Frequency preserved (skip the edges where the filter rings). */
  freq = audio_test_frequency ((gint16 *) out->data, out_rate / 100, out->len - out_rate / 100,
                               out_rate);
  g_test_message ("frequency %.3f Hz", freq);
  g_assert_cmpfloat_with_epsilon (freq, 440.0, 0.5);

  /* Level preserved: a 0.5 sine has RMS 0.354. */
  g_assert_true (audio_test_find_signal ((gint16 *) out->data, out->len, 1000, &start, &end));
  g_assert_cmpfloat_with_epsilon (audio_test_rms ((gint16 *) out->data + out_rate / 10,
                                                  out_rate / 2), 0.3536, 0.01);
}

static void
test_resampler_tone (void)
{
  check_tone (24000, 48000);
  check_tone (48000, 16000);
  check_tone (48000, 24000);
}

static void
test_resampler_chunking (void)
{
  const guint pairs[][2] = { { 24000, 48000 }, { 48000, 16000 }, { 48000, 24000 } };

  for (gsize p = 0; p < G_N_ELEMENTS (pairs); p++)
    {
      g_autoptr(LanlanResampler) a = lanlan_resampler_new (pairs[p][0], pairs[p][1], NULL);
      g_autoptr(LanlanResampler) b = lanlan_resampler_new (pairs[p][0], pairs[p][1], NULL);
      g_autofree gint16 *sig = g_new (gint16, pairs[p][0]);
      g_autoptr(GArray) one = NULL;
      g_autoptr(GArray) odd = NULL;
      const gsize whole[] = { G_MAXSIZE };
      const gsize odd_sizes[] = { 1, 7, 13, 480, 333, 2, 1021, 64, 5 };
      GRand *rand = g_rand_new_with_seed (42);
      int max_diff = 0;

      /* A chirp plus noise: something with content across the band. */
      for (guint i = 0; i < pairs[p][0]; i++)
        {
          double t = (double) i / pairs[p][0];

          sig[i] = (gint16) (8000 * sin (2 * G_PI * (100 + 3000 * t) * t) +
                             g_rand_double_range (rand, -2000, 2000));
        }
      g_rand_free (rand);

      one = run (a, sig, pairs[p][0], whole, 1, lanlan_resampler_get_max_output (a, pairs[p][0]));
      /* Odd chunks and a tiny output buffer that forces partial input use. */
      odd = run (b, sig, pairs[p][0], odd_sizes, G_N_ELEMENTS (odd_sizes), 37);

      g_assert_cmpuint (one->len, ==, odd->len);
      for (guint i = 0; i < one->len; i++)
        max_diff = MAX (max_diff, ABS (g_array_index (one, gint16, i) - g_array_index (odd, gint16, i)));
      g_test_message ("%u -> %u: %u samples, max difference %d", pairs[p][0], pairs[p][1],
                      one->len, max_diff);
      g_assert_cmpint (max_diff, <=, 1);
    }
}

static void
test_resampler_reuse (void)
{
  g_autoptr(LanlanResampler) rs = lanlan_resampler_new (24000, 48000, NULL);
  g_autofree gint16 *tone = NULL;
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;
  const gsize chunks[] = { 960 };
  gsize n;

  tone = audio_test_tone (24000, 1000.0, 0.25, 0.3, &n);
  first = run (rs, tone, n, chunks, 1, 4096);
  g_assert_false (lanlan_resampler_is_pending (rs));
  /* After a drain the next stream starts fresh: same input, same output. */
  second = run (rs, tone, n, chunks, 1, 4096);
  g_assert_cmpuint (first->len, ==, second->len);
  g_assert_cmpmem (first->data, first->len * 2, second->data, second->len * 2);

  /* reset() mid-stream drops held input: nothing comes out of drain. */
  {
    gint16 out[8192];
    gsize used;

    lanlan_resampler_process (rs, tone, 2000, &used, out, G_N_ELEMENTS (out));
    g_assert_cmpuint (used, ==, 2000);
    lanlan_resampler_reset (rs);
    g_assert_cmpuint (lanlan_resampler_drain (rs, out, G_N_ELEMENTS (out)), ==, 0);
  }
}

static void
test_resampler_passthrough (void)
{
  g_autoptr(LanlanResampler) rs = lanlan_resampler_new (48000, 48000, NULL);
  gint16 in[100], out[60];
  gsize used;

  for (int i = 0; i < 100; i++)
    in[i] = i * 3;
  g_assert_cmpuint (lanlan_resampler_process (rs, in, 100, &used, out, 60), ==, 60);
  g_assert_cmpuint (used, ==, 60);
  g_assert_cmpmem (in, 120, out, 120);
}

static void
test_resampler_bad_rate (void)
{
  g_autoptr(GError) error = NULL;
  LanlanResampler *rs;

  rs = lanlan_resampler_new (0, 48000, &error);
  g_assert_null (rs);
  g_assert_error (error, LANLAN_RESAMPLER_ERROR, LANLAN_RESAMPLER_ERROR_INVALID_RATE);
  g_assert_nonnull (strstr (error->message, "0 Hz"));
  g_clear_error (&error);

  rs = lanlan_resampler_new (48000, 1000000, &error);
  g_assert_null (rs);
  g_assert_error (error, LANLAN_RESAMPLER_ERROR, LANLAN_RESAMPLER_ERROR_INVALID_RATE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/audio/resampler/tone", test_resampler_tone);
  g_test_add_func ("/audio/resampler/chunking", test_resampler_chunking);
  g_test_add_func ("/audio/resampler/reuse", test_resampler_reuse);
  g_test_add_func ("/audio/resampler/passthrough", test_resampler_passthrough);
  g_test_add_func ("/audio/resampler/bad-rate", test_resampler_bad_rate);

  return g_test_run ();
}
