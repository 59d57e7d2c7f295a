/* lanlan-resampler.h — streaming PCM16 resampler (libsoxr, HQ)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LANLAN_RESAMPLER_ERROR (lanlan_resampler_error_quark ())

typedef enum {
  LANLAN_RESAMPLER_ERROR_INVALID_RATE,
  LANLAN_RESAMPLER_ERROR_FAILED,
} LanlanResamplerError;

typedef struct _LanlanResampler LanlanResampler;

GQuark           lanlan_resampler_error_quark (void);

LanlanResampler *lanlan_resampler_new        (guint             in_rate,
                                              guint             out_rate,
                                              GError          **error);
void             lanlan_resampler_free       (LanlanResampler  *self);

guint            lanlan_resampler_get_in_rate  (LanlanResampler *self);
guint            lanlan_resampler_get_out_rate (LanlanResampler *self);

gsize            lanlan_resampler_get_max_output (LanlanResampler *self,
                                                  gsize            n_in);

gsize            lanlan_resampler_process    (LanlanResampler  *self,
                                              const gint16     *in,
                                              gsize             n_in,
                                              gsize            *n_used,
                                              gint16           *out,
                                              gsize             out_len);
gsize            lanlan_resampler_drain      (LanlanResampler  *self,
                                              gint16           *out,
                                              gsize             out_len);
void             lanlan_resampler_reset      (LanlanResampler  *self);
gboolean         lanlan_resampler_is_pending (LanlanResampler  *self);
double           lanlan_resampler_get_delay  (LanlanResampler  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanResampler, lanlan_resampler_free)

G_END_DECLS
