/* lanlan-vad.h — voice activity detection for the microphone
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LANLAN_VAD_SILENCE,   /* nothing going on */
  LANLAN_VAD_STARTED,   /* speech began in this block */
  LANLAN_VAD_SPEAKING,  /* still speaking */
  LANLAN_VAD_ENDED,     /* the utterance ended in this block */
} LanlanVadState;

typedef struct _LanlanVad LanlanVad;

LanlanVad      *lanlan_vad_new            (guint         rate);
void            lanlan_vad_free           (LanlanVad    *self);
void            lanlan_vad_reset          (LanlanVad    *self);
LanlanVadState  lanlan_vad_process        (LanlanVad    *self,
                                           const gint16 *pcm,
                                           gsize         n_samples);
GArray         *lanlan_vad_take_utterance (LanlanVad    *self);
double          lanlan_vad_get_noise_db   (LanlanVad    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanVad, lanlan_vad_free)

G_END_DECLS
