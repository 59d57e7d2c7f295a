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
  const char            *http_url;       /* OpenAI-compatible REST base (chat,
                                          * speech); NULL: from the base-url */
  const char            *chat_model;     /* for chat completions (summaries,
                                          * translation, text replies) */
} LanlanProvider;

const LanlanProvider  *lanlan_provider_lookup          (const char           *id);
const LanlanProvider  *lanlan_provider_get_default     (void);
const LanlanProvider **lanlan_provider_list            (guint                *n_providers);
const char            *lanlan_provider_get_default_voice (const LanlanProvider *provider);
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
