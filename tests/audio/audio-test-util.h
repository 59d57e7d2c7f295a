/* audio-test-util.h — tone generation and analysis for the audio tests
 *
 * Frequency is measured from positive-going zero crossings with linear
 * interpolation between samples, over the span between the first and
 * last crossing, which is accurate to well under 1 Hz for a clean tone
 * of a second (sox's "rough frequency" is not).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <math.h>

static inline gint16 *
audio_test_tone (guint  rate,
                 double freq,
                 double seconds,
                 double amplitude,
                 gsize *n_out)
{
  gsize n = (gsize) (rate * seconds + 0.5);
  gint16 *pcm = g_new (gint16, n);

  for (gsize i = 0; i < n; i++)
    pcm[i] = (gint16) lrint (amplitude * 32767.0 * sin (2.0 * G_PI * freq * i / rate));
  *n_out = n;
  return pcm;
}

/* Positive-going zero crossings in [start, end); frequency in Hz or 0. */
static inline double
audio_test_frequency (const gint16 *pcm,
                      gsize         start,
                      gsize         end,
                      guint         rate)
{
  double first = -1.0, last = -1.0;
  guint crossings = 0;

  for (gsize i = start + 1; i < end; i++)
    {
      if (pcm[i - 1] < 0 && pcm[i] >= 0)
        {
          double t = (i - 1) + (double) -pcm[i - 1] / (double) (pcm[i] - pcm[i - 1]);

          if (first < 0)
            first = t;
          last = t;
          crossings++;
        }
    }

  if (crossings < 2)
    return 0.0;
  return (crossings - 1) * (double) rate / (last - first);
}

/* The first and last sample index whose magnitude exceeds @threshold;
 * returns FALSE if none does. */
static inline gboolean
audio_test_find_signal (const gint16 *pcm,
                        gsize         n,
                        int           threshold,
                        gsize        *start,
                        gsize        *end)
{
  gsize s = n, e = 0;

  for (gsize i = 0; i < n; i++)
    if (ABS ((int) pcm[i]) > threshold)
      {
        if (s == n)
          s = i;
        e = i + 1;
      }
  if (s == n)
    return FALSE;
  *start = s;
  *end = e;
  return TRUE;
}

static inline double
audio_test_rms (const gint16 *pcm,
                gsize         n)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (double) pcm[i] * pcm[i];
  return n ? sqrt (sum / n) / 32768.0 : 0.0;
}

/* The harness's PipeWire runs without realtime priority on a shared
 * machine, so under load the graph can skip a cycle and a recording can
 * gain a few ms of silence that the app never played. These measure the
 * tone itself, robust to such gaps: the median of per-window frequencies,
 * and the number of samples in @win-sized windows that carry signal. */
static inline double
audio_test_frequency_median (const gint16 *pcm,
                             gsize         start,
                             gsize         end,
                             guint         rate)
{
  /* From the periods between positive-going crossings: the median
   * period, refined by averaging the periods within 5 % of it, so a
   * period with a gap in it is left out instead of dragging the figure. */
  g_autoptr(GArray) periods = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) sorted = NULL;
  double prev = -1.0, median, sum = 0.0;
  guint used = 0;

  for (gsize i = start + 1; i < end; i++)
    if (pcm[i - 1] < 0 && pcm[i] >= 0)
      {
        double t = (i - 1) + (double) -pcm[i - 1] / (double) (pcm[i] - pcm[i - 1]);

        if (prev >= 0)
          {
            double d = t - prev;
            g_array_append_val (periods, d);
          }
        prev = t;
      }
  if (periods->len == 0)
    return 0.0;

  sorted = g_array_copy (periods);
  for (guint i = 1; i < sorted->len; i++)
    for (guint j = i; j > 0 && g_array_index (sorted, double, j - 1) > g_array_index (sorted, double, j); j--)
      {
        double t = g_array_index (sorted, double, j);
        g_array_index (sorted, double, j) = g_array_index (sorted, double, j - 1);
        g_array_index (sorted, double, j - 1) = t;
      }
  median = g_array_index (sorted, double, sorted->len / 2);

  for (guint i = 0; i < periods->len; i++)
    {
      double d = g_array_index (periods, double, i);

      if (fabs (d - median) <= 0.05 * median)
        {
          sum += d;
          used++;
        }
    }
  return rate / (sum / used);
}

static inline gsize
audio_test_active_samples (const gint16 *pcm,
                           gsize         start,
                           gsize         end,
                           gsize         win,
                           int           threshold)
{
  gsize active = 0;

  for (gsize s = start; s < end; s += win)
    {
      gsize e = MIN (s + win, end);

      for (gsize i = s; i < e; i++)
        if (ABS ((int) pcm[i]) > threshold)
          {
            active += e - s;
            break;
          }
    }
  return active;
}
