/* lanlan-llm-translation-provider.h — translation by an OpenAI-compatible chat model
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-translation-provider.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_LLM_TRANSLATION_PROVIDER (lanlan_llm_translation_provider_get_type ())
G_DECLARE_FINAL_TYPE (LanlanLlmTranslationProvider, lanlan_llm_translation_provider,
                      LANLAN, LLM_TRANSLATION_PROVIDER, GObject)

LanlanLlmTranslationProvider *lanlan_llm_translation_provider_new         (const char *base_url,
                                                                           const char *api_key,
                                                                           const char *model);
void                          lanlan_llm_translation_provider_set_timeout (LanlanLlmTranslationProvider *self,
                                                                           guint                         timeout_ms);

G_END_DECLS
