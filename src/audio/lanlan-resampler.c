/* lanlan-resampler.c — streaming PCM16 resampler (libsoxr, HQ)
 *
 * One resampler per direction per session: 24 kHz model speech to the
 * 48 kHz device for playback, 48 kHz microphone to 16 or 24 kHz for the
 * model. Audio arrives in chunks of arbitrary size, so this wraps soxr's
 * streaming interface (soxr_process) and keeps its state between calls;
 * feeding a signal in odd chunks gives the same output as one big chunk.
 * soxr keeps a filter's worth of input back until it sees more, so at
 * the end of a stream drain() pushes that tail out, after which reset()
 * readies the resampler for the next stream. Equal rates pass through.
 * Minimum-phase filters keep what soxr holds back to a couple of ms, so
 * small chunks come straight out again (see lanlan_resampler_new()).
 *
 * Not thread-safe: one thread drives one resampler.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <soxr.h>

#include "lanlan-resampler.h"

struct _LanlanResampler
{
  soxr_t   soxr;        /* NULL when the rates are equal */
  guint    in_rate;
  guint    out_rate;
  gboolean pending;     /* input fed since the last drain/reset */
  gboolean drained;     /* drain() ran; reset() needed before more input */
};

G_DEFINE_QUARK (lanlan-resampler-error-quark, lanlan_resampler_error)

/**
 * lanlan_resampler_new:
 * @in_rate: input rate in Hz (8000..192000)
 * @out_rate: output rate in Hz (8000..192000)
 *
 * Returns: (transfer full) (nullable): a mono PCM16 → PCM16 resampler at
 *   soxr's high quality, or %NULL with @error set.
 */
LanlanResampler *
lanlan_resampler_new (guint    in_rate,
                      guint    out_rate,
                      GError **error)
{
  g_autoptr(LanlanResampler) self = NULL;

  if (in_rate < 8000 || in_rate > 192000 || out_rate < 8000 || out_rate > 192000)
    {
      g_set_error (error, LANLAN_RESAMPLER_ERROR, LANLAN_RESAMPLER_ERROR_INVALID_RATE,
                   "Unsupported sample rate conversion %u Hz → %u Hz "
                   "(rates must be within 8000..192000 Hz)", in_rate, out_rate);
      return NULL;
    }

  self = g_new0 (LanlanResampler, 1);
  self->in_rate = in_rate;
  self->out_rate = out_rate;

  if (in_rate != out_rate)
    {
      soxr_error_t err = NULL;
      soxr_io_spec_t io = soxr_io_spec (SOXR_INT16_I, SOXR_INT16_I);
      /* Minimum phase: linear-phase HQ hands out output in ~40 ms DFT
       * blocks (20 ms deltas would sit in soxr until more arrive); minimum
       * phase gives the same HQ passband and stopband with ~2 ms of delay,
       * and phase linearity is inaudible in speech. */
      soxr_quality_spec_t q = soxr_quality_spec (SOXR_HQ, SOXR_MINIMUM_PHASE);
      soxr_runtime_spec_t rt = soxr_runtime_spec (1);

      /* No dither: 16-bit speech in and out gains nothing from it, and
       * without it the output does not depend on how input is chunked. */
      io.flags |= SOXR_NO_DITHER;

      self->soxr = soxr_create (in_rate, out_rate, 1, &err, &io, &q, &rt);
      if (self->soxr == NULL || err != NULL)
        {
          g_set_error (error, LANLAN_RESAMPLER_ERROR, LANLAN_RESAMPLER_ERROR_FAILED,
                       "Could not create a %u Hz → %u Hz resampler: %s",
                       in_rate, out_rate, err ? err : "unknown error");
          return NULL;
        }
    }

  return g_steal_pointer (&self);
}

void
lanlan_resampler_free (LanlanResampler *self)
{
  if (self == NULL)
    return;
  if (self->soxr)
    soxr_delete (self->soxr);
  g_free (self);
}

guint
lanlan_resampler_get_in_rate (LanlanResampler *self)
{
  return self->in_rate;
}

guint
lanlan_resampler_get_out_rate (LanlanResampler *self)
{
  return self->out_rate;
}

/**
 * lanlan_resampler_get_max_output:
 *
 * An output buffer this large always takes everything that
 * lanlan_resampler_process() makes from @n_in input samples (including
 * output held back from earlier calls), or everything drain() makes.
 */
gsize
lanlan_resampler_get_max_output (LanlanResampler *self,
                                 gsize            n_in)
{
  /* n_in * ratio, rounded up, plus room for the filter tail soxr may
   * still hold (well under 4096 samples at HQ for these ratios). */
  return (gsize) ((n_in * (guint64) self->out_rate + self->in_rate - 1) / self->in_rate) + 4096;
}

/**
 * lanlan_resampler_process:
 * @in: input samples
 * @n_in: number of input samples
 * @n_used: (out) (optional): how many input samples were consumed; less
 *   than @n_in only if @out filled up — feed the rest again
 * @out: output buffer
 * @out_len: its size in samples
 *
 * Returns: the number of samples written to @out.
 */
gsize
lanlan_resampler_process (LanlanResampler *self,
                          const gint16    *in,
                          gsize            n_in,
                          gsize           *n_used,
                          gint16          *out,
                          gsize            out_len)
{
  size_t idone = 0, odone = 0;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (in != NULL || n_in == 0, 0);
  g_return_val_if_fail (out != NULL || out_len == 0, 0);

  if (self->drained)
    lanlan_resampler_reset (self);

  if (self->soxr == NULL)
    {
      gsize n = MIN (n_in, out_len);

      memcpy (out, in, n * sizeof (gint16));
      if (n_used)
        *n_used = n;
      return n;
    }

  if (n_in == 0)
    {
      if (n_used)
        *n_used = 0;
      return 0;
    }

  /* soxr treats a NULL input as end of stream; a zero-length call with a
   * real pointer just collects held output. */
  soxr_process (self->soxr, in, n_in, &idone, out, out_len, &odone);
  self->pending = TRUE;

  if (n_used)
    *n_used = idone;
  return odone;
}

/**
 * lanlan_resampler_drain:
 *
 * Ends the stream: writes out what soxr still holds (the filter tail).
 * Call until it returns 0, then the resampler starts a new stream on the
 * next process() call.
 */
gsize
lanlan_resampler_drain (LanlanResampler *self,
                        gint16          *out,
                        gsize            out_len)
{
  size_t odone = 0;

  g_return_val_if_fail (self != NULL, 0);

  if (self->soxr == NULL || !self->pending)
    return 0;

  soxr_process (self->soxr, NULL, 0, NULL, out, out_len, &odone);
  self->drained = TRUE;
  if (odone == 0)
    self->pending = FALSE;

  return odone;
}

/**
 * lanlan_resampler_reset:
 *
 * Forgets all held input and output (e.g. on barge-in).
 */
void
lanlan_resampler_reset (LanlanResampler *self)
{
  g_return_if_fail (self != NULL);

  if (self->soxr)
    soxr_clear (self->soxr);
  self->pending = FALSE;
  self->drained = FALSE;
}

/**
 * lanlan_resampler_is_pending:
 *
 * Whether input was fed since the last drain or reset, so drain() may
 * still have a tail to give.
 */
gboolean
lanlan_resampler_is_pending (LanlanResampler *self)
{
  return self->pending;
}

/**
 * lanlan_resampler_get_delay:
 *
 * Returns: the samples (at the output rate) soxr currently holds back.
 */
double
lanlan_resampler_get_delay (LanlanResampler *self)
{
  return self->soxr ? soxr_delay (self->soxr) : 0.0;
}
