/* lanlan-tts-select.c — which voice speaks for a character
 *
 * A character's voice field names the voice. Text mode always speaks
 * through the TTS worker; in audio mode a voice id of an external engine
 * ("custom voice", as N.E.K.O. calls it) makes the realtime model answer
 * in text and the TTS worker speak it instead of the model's own voice:
 *
 *   ""               espeak-ng in the character's language (built in)
 *   "espeak:NAME"    espeak-ng voice NAME ("espeak:en-us+f3")
 *   "qwen:NAME"      Qwen-TTS Realtime voice NAME, with the "qwen" key
 *   "http:NAME"      an OpenAI-compatible POST /audio/speech next to the
 *                    chat server (also local servers), voice NAME
 *   anything else    the service's own voice in audio mode; in text mode
 *                    OpenAI's speech endpoint for OpenAI, else espeak-ng
 *                    (a name it does not know means the language's voice)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-secrets.h"
#include "lanlan-tts-espeak.h"
#include "lanlan-tts-qwen.h"
#include "lanlan-tts-select.h"

gboolean
lanlan_tts_voice_is_external (const char *voice)
{
  return voice != NULL && (g_str_has_prefix (voice, "espeak:") || g_str_has_prefix (voice, "qwen:") ||
                           g_str_has_prefix (voice, "http:"));
}

/**
 * lanlan_tts_backend_new_for_voice:
 * @voice: (nullable): the character's voice field
 * @language: (nullable): the character's language
 * @http_base_url: (nullable): the OpenAI-compatible server for "http:"
 * @http_api_key: (nullable): its key
 *
 * Returns: (transfer full): the backend that speaks @voice
 */
LanlanTtsBackend *
lanlan_tts_backend_new_for_voice (const char *voice,
                                  const char *language,
                                  const char *http_base_url,
                                  const char *http_api_key)
{
  if (voice != NULL && g_str_has_prefix (voice, "qwen:"))
    {
      g_autofree char *key = lanlan_secrets_lookup_sync ("qwen", NULL, NULL);
      if (key != NULL)
        return lanlan_tts_backend_new_qwen (NULL, key, NULL, voice + strlen ("qwen:"));
      g_debug ("No Qwen key stored; the built-in voice speaks instead");
      return lanlan_tts_backend_new_espeak (language, NULL);
    }
  if (voice != NULL && g_str_has_prefix (voice, "http:") && http_base_url != NULL)
    return lanlan_tts_backend_new_http (http_base_url, http_api_key, NULL, voice + strlen ("http:"));
  if (voice != NULL && g_str_has_prefix (voice, "espeak:"))
    return lanlan_tts_backend_new_espeak (language, voice + strlen ("espeak:"));
  if (voice != NULL && *voice != '\0' && http_base_url != NULL && !lanlan_tts_voice_is_external (voice))
    return lanlan_tts_backend_new_http (http_base_url, http_api_key, NULL, voice);
  return lanlan_tts_backend_new_espeak (language, voice);
}
