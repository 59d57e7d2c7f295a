/* lanlan-tts-espeak.c — the built-in voice: espeak-ng, no service, no key
 *
 * A fresh install with a local model has to speak without any service:
 * libespeak-ng synthesizes on the TTS thread, in the character's
 * language, at its own rate (22.05 kHz), resampled to the model rate the
 * sinks expect. libespeak-ng is one global engine per process, so every
 * character's TTS thread takes one lock around a synthesis; it runs far
 * faster than real time, so a sentence holds it for milliseconds.
 * Synthesis goes in small buffers and stops within one of them when the
 * speech is interrupted.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <espeak-ng/speak_lib.h>
#include <glib/gi18n.h>
#include <string.h>

#include "lanlan-audio-sink.h"
#include "lanlan-resampler.h"
#include "lanlan-tts-espeak.h"

#define BUFFER_MS 50

static GMutex engine_lock;
static int    engine_rate;     /* 0: not initialized; < 0: failed */

typedef struct {
  LanlanTtsBackend  parent;
  char             *language;
  char             *voice;
  LanlanResampler  *resampler;
} EspeakBackend;

typedef struct {
  EspeakBackend     *self;
  GCancellable      *cancellable;
  LanlanTtsEmitFunc  emit;
  gpointer           emit_data;
  gint16            *out;
  gsize              out_len;
  gboolean           emitted;
} Synthesis;

static void
emit_resampled (Synthesis    *s,
                const gint16 *pcm,
                gsize         n)
{
  while (n > 0)
    {
      gsize used = 0;
      gsize produced = lanlan_resampler_process (s->self->resampler, pcm, n, &used,
                                                 s->out, s->out_len);
      if (produced > 0)
        {
          s->emit (s->out, produced, s->emit_data);
          s->emitted = TRUE;
        }
      pcm += used;
      n -= used;
      if (used == 0 && produced == 0)
        break;
    }
}

static int
synth_cb (short        *wav,
          int           n_samples,
          espeak_EVENT *events)
{
  Synthesis *s = events != NULL ? events->user_data : NULL;

  if (s == NULL)
    return 0;
  if (g_cancellable_is_cancelled (s->cancellable))
    return 1;   /* stop */
  if (wav != NULL && n_samples > 0)
    emit_resampled (s, wav, n_samples);
  return 0;
}

/* "zh-CN" → "cmn", "en-US" → "en-us", "pt_BR" → "pt-br". */
char *
lanlan_tts_espeak_voice_for_language (const char *language)
{
  g_autofree char *tag = NULL;

  if (language == NULL || *language == '\0')
    return g_strdup ("en");
  tag = g_ascii_strdown (language, -1);
  g_strdelimit (tag, "_", '-');
  if (g_str_equal (tag, "zh-hk") || g_str_equal (tag, "yue") || g_str_has_prefix (tag, "zh-yue"))
    return g_strdup ("yue");
  if (g_str_equal (tag, "zh") || g_str_has_prefix (tag, "zh-") || g_str_equal (tag, "cmn"))
    return g_strdup ("cmn");
  return g_steal_pointer (&tag);
}

/* Under engine_lock. */
static gboolean
select_voice (EspeakBackend *self)
{
  g_autofree char *lang = lanlan_tts_espeak_voice_for_language (self->language);
  char *dash;

  if (self->voice != NULL && *self->voice != '\0' &&
      espeak_SetVoiceByName (self->voice) == EE_OK)
    return TRUE;
  if (espeak_SetVoiceByName (lang) == EE_OK)
    return TRUE;
  if ((dash = strchr (lang, '-')) != NULL)
    {
      *dash = '\0';
      if (espeak_SetVoiceByName (lang) == EE_OK)
        return TRUE;
    }
  return espeak_SetVoiceByName ("en") == EE_OK;
}

static gboolean
espeak_synthesize (LanlanTtsBackend   *backend,
                   const char         *text,
                   GCancellable       *cancellable,
                   LanlanTtsEmitFunc   emit,
                   gpointer            emit_data,
                   GError            **error)
{
  EspeakBackend *self = (EspeakBackend *) backend;
  Synthesis s = { self, cancellable, emit, emit_data, NULL, 0, FALSE };
  espeak_ERROR result;
  gsize tail;

  g_mutex_lock (&engine_lock);
  if (engine_rate == 0)
    {
      engine_rate = espeak_Initialize (AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, NULL,
                                       espeakINITIALIZE_DONT_EXIT);
      if (engine_rate <= 0)
        engine_rate = -1;
    }
  if (engine_rate < 0)
    {
      g_mutex_unlock (&engine_lock);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("The built-in voice (espeak-ng) could not start: its data is missing"));
      return FALSE;
    }
  if (self->resampler == NULL)
    {
      self->resampler = lanlan_resampler_new (engine_rate, LANLAN_MODEL_RATE, error);
      if (self->resampler == NULL)
        {
          g_mutex_unlock (&engine_lock);
          return FALSE;
        }
    }
  lanlan_resampler_reset (self->resampler);
  s.out_len = lanlan_resampler_get_max_output (self->resampler, engine_rate * BUFFER_MS / 1000 * 4 + 1024);
  s.out = g_new (gint16, s.out_len);

  select_voice (self);
  espeak_SetSynthCallback (synth_cb);
  result = espeak_Synth (text, strlen (text) + 1, 0, POS_CHARACTER, 0,
                         espeakCHARS_UTF8, NULL, &s);
  g_mutex_unlock (&engine_lock);

  if (!g_cancellable_is_cancelled (cancellable))
    while ((tail = lanlan_resampler_drain (self->resampler, s.out, s.out_len)) > 0)
      emit (s.out, tail, emit_data);
  g_free (s.out);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (result != EE_OK)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("The built-in voice (espeak-ng) could not speak this text"));
      return FALSE;
    }
  return TRUE;
}

static void
espeak_free (LanlanTtsBackend *backend)
{
  EspeakBackend *self = (EspeakBackend *) backend;

  g_free (self->language);
  g_free (self->voice);
  g_clear_pointer (&self->resampler, lanlan_resampler_free);
  g_free (self);
}

/**
 * lanlan_tts_backend_new_espeak:
 * @language: (nullable): the character's BCP 47 tag; English if none
 * @voice: (nullable): an espeak-ng voice name ("en-us+f3"); names it
 *   does not know (another service's voices) fall back to @language
 *
 * Output is mono PCM16 at %LANLAN_MODEL_RATE.
 */
LanlanTtsBackend *
lanlan_tts_backend_new_espeak (const char *language,
                               const char *voice)
{
  EspeakBackend *self = g_new0 (EspeakBackend, 1);

  self->parent.synthesize = espeak_synthesize;
  self->parent.free = espeak_free;
  self->parent.rate = LANLAN_MODEL_RATE;
  self->language = g_strdup (language);
  self->voice = g_strdup (voice);
  return &self->parent;
}
