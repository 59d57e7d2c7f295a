/* lanlan-provider.h — what each realtime service expects
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "lanlan-character.h"

G_BEGIN_DECLS

/**
 * LanlanRealtimeDialect:
 * @LANLAN_REALTIME_DIALECT_GA: OpenAI Realtime GA: `session.type`,
 *   `audio.input/output` objects, `response.output_audio.delta` names.
 * @LANLAN_REALTIME_DIALECT_BETA: the older beta shape most other services
 *   copied: `modalities`, `voice`, `input_audio_format`,
 *   `response.audio.delta` names.
 */
typedef enum {
  LANLAN_REALTIME_DIALECT_GA,
  LANLAN_REALTIME_DIALECT_BETA,
} LanlanRealtimeDialect;

typedef struct {
  const char            *id;
  const char            *display_name;
  const char            *url;            /* NULL: the character's base-url */
  gboolean               model_in_query; /* append ?model=… */
  const char            *default_model;
  const char * const    *voices;
  guint                  input_rate;     /* microphone PCM16 rate */
  guint                  output_rate;    /* model speech rate */
  gboolean               text_only;      /* the TTS worker speaks */
  gboolean               supports_images;
  LanlanRealtimeDialect  dialect;
  const char            *beta_output_format;  /* beta: output_audio_format */
  const char            *transcription_model; /* NULL: none asked for */

  /* What the service accepts, so the client never sends what it refuses. */
  const char * const    *client_events;     /* every client event type it takes */
  const char            *beta_input_format; /* beta: input_audio_format ("pcm16") */
  gboolean               wav_appends;       /* each append is a whole WAV file */
  const char            *image_event;       /* NULL: a GA user item with an input_image */
  const char            *image_field;       /* the member that carries the base64 JPEG */
  gboolean               image_needs_audio; /* a picture only after audio in the buffer */
  const char            *chat_mode;         /* beta_fields.chat_mode (GLM) */
  const char            *manual_turn_detection; /* turn_detection.type without server VAD;
                                             * NULL: turn_detection null */
  gboolean               server_vad_interrupts; /* the server cancels its answer itself
                                                 * when speech starts */
  gboolean               fixed_modalities;  /* always ["text","audio"] */
  guint                  max_instructions;  /* characters; 0: no known limit */
  const char            *http_url;       /* OpenAI-compatible REST base (chat,
                                          * speech); NULL: from the base-url */
  const char            *chat_model;     /* for chat completions (summaries,
                                          * translation, text replies) */
} LanlanProvider;

const LanlanProvider  *lanlan_provider_lookup          (const char           *id);
const LanlanProvider  *lanlan_provider_get_default     (void);
const LanlanProvider **lanlan_provider_list            (guint                *n_providers);
const char            *lanlan_provider_get_default_voice (const LanlanProvider *provider);
gboolean               lanlan_provider_accepts         (const LanlanProvider *provider,
                                                        const char           *client_event);
char                  *lanlan_provider_build_url       (const LanlanProvider *provider,
                                                        const char           *base_url,
                                                        const char           *model,
                                                        GError              **error);
char                  *lanlan_provider_build_http_url  (const LanlanProvider *provider,
                                                        const char           *base_url,
                                                        GError              **error);
const char            *lanlan_provider_get_chat_model  (const LanlanProvider *provider,
                                                        const char           *base_url,
                                                        const char           *model);
gboolean               lanlan_provider_get_chat_endpoint (LanlanCharacter    *character,
                                                        char                **url,
                                                        char                **model,
                                                        GError              **error);

G_END_DECLS
