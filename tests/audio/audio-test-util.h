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
