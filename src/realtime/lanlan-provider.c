/* lanlan-provider.c — what each realtime service expects
 *
 * Every service speaks a dialect of the OpenAI Realtime protocol. The
 * differences that matter to us (endpoint, event names, session shape,
 * microphone rate, voices) are plain data in one static table, so adding a
 * service is one entry and nothing else branches on a provider's name.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "lanlan-chat-preset.h"
#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"

/* OpenAI Realtime GA. Source: openai-python src/openai/types/realtime/
 * (realtime_client_event.py: the eleven client events; output_audio_buffer.clear
 * is WebRTC only and left out; realtime_audio_config_output.py: the built-in
 * voices; audio_transcription.py: `language` is ISO-639-1; realtime_error.py:
 * `error.event_id` names the client event that failed). */
static const char * const openai_voices[] = {
  "marin", "cedar", "alloy", "ash", "ballad", "coral", "echo", "sage",
  "shimmer", "verse", NULL
};
static const char * const openai_events[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "conversation.item.retrieve",
  "conversation.item.truncate", "conversation.item.delete", "response.create",
  "response.cancel", NULL
};

/* Qwen-Omni-Realtime (DashScope). Source: Alibaba Cloud Model Studio,
 * "Qwen-Omni-Realtime client events" (help.aliyun.com/zh/model-studio/client-events,
 * docs.qwencloud.com/api-reference/real-time-multimodal/client-events): the
 * client events are exactly these seven; input_audio_format only pcm16
 * (16 kHz), output_audio_format only pcm24 (24 kHz); default voice Cherry for
 * Qwen3-Omni-Flash-Realtime, Chelsie for Qwen-Omni-Turbo-Realtime; response.cancel
 * "returns an error if no response is in progress". "Server events" page:
 * session.created shows turn_detection.interrupt_response true, and the
 * transcription model is fixed by the service ("不支持修改"), so we ask for none.
 * Pictures only while audio is in the buffer and text priming through the
 * instructions: N.E.K.O. main_logic/omni_realtime_client.py (stream_image,
 * prime_context). No instructions limit is published; 16000 characters keeps
 * a session.update far below the 256 KiB frame N.E.K.O. notes for DashScope. */
static const char * const qwen_voices[] = {
  "Cherry", "Chelsie", "Ethan", "Serena", NULL
};
static const char * const qwen_events[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "input_image_buffer.append", "response.create",
  "response.cancel", NULL
};

/* GLM-Realtime (Zhipu). Source: MetaGLM/glm-realtime-sdk
 * GLM-Realtime-doc-for-llm.md ("客户端事件"): session.update,
 * input_audio_buffer.append / .append_video_frame / .commit / .clear,
 * conversation.item.create, response.create, response.cancel (no truncate);
 * input_audio_format only "wav" (every append a base64 WAV file, 16 kHz by
 * default); output_audio_format pcm (default) or mp3, played at 24 kHz by the
 * SDK's pcmPlayer; turn_detection client_vad (default) or server_vad, where
 * barge-in is "fully managed by the Realtime Server"; beta_fields.chat_mode
 * audio or video_passive (frames only in video_passive); tts_source e2e.
 * The doc lists no voices: "tongtong" is what N.E.K.O. sends. */
static const char * const glm_voices[] = {
  "tongtong", NULL
};
static const char * const glm_events[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.append_video_frame",
  "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
  "response.create", "response.cancel", NULL
};

/* StepFun realtime. Source: platform.stepfun.com/docs api-reference/realtime/chat
 * ("双向实时语音") and guides/developer/realtime: modalities fixed to
 * ["text","audio"], input_audio_format only pcm16, turn_detection only
 * server_vad (off by default), text input as conversation.item.create then
 * response.create; with step-audio-2 / step-audio-2-mini only qingchunshaonv
 * and wenrounansheng. The full client event list and the sample rates were not
 * readable in the stored pages: truncate is left out (never sent), rates as
 * before (24 kHz). */
static const char * const stepfun_voices[] = {
  "qingchunshaonv", "wenrounansheng", NULL
};
static const char * const stepfun_events[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "response.create",
  "response.cancel", NULL
};

/* The beta protocol most OpenAI-compatible servers copied. */
static const char * const beta_events[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
  "conversation.item.delete", "response.create", "response.cancel", NULL
};
static const char * const no_voices[] = { NULL };

/* A custom server's chat model when the character names a realtime one. */
#define FALLBACK_CHAT_MODEL "gpt-4o-mini"

static const LanlanProvider providers[] = {
  {
    .id = "openai", .display_name = "OpenAI",
    .url = "wss://api.openai.com/v1/realtime", .model_in_query = TRUE,
    .default_model = "gpt-realtime", .voices = openai_voices,
    .input_rate = 24000, .output_rate = 24000,
    .supports_images = TRUE, .dialect = LANLAN_REALTIME_DIALECT_GA,
    .transcription_model = "gpt-4o-mini-transcribe",
    .client_events = openai_events, .server_vad_interrupts = TRUE,
    .http_url = "https://api.openai.com/v1", .chat_model = "gpt-4o-mini",
  },
  {
    .id = "qwen", .display_name = "Qwen-Omni",
    .url = "wss://dashscope.aliyuncs.com/api-ws/v1/realtime", .model_in_query = TRUE,
    .default_model = "qwen3-omni-flash-realtime", .voices = qwen_voices,
    .input_rate = 16000, .output_rate = 24000,
    .supports_images = TRUE, .dialect = LANLAN_REALTIME_DIALECT_BETA,
    .beta_output_format = "pcm24", .beta_input_format = "pcm16",
    .client_events = qwen_events,
    .image_event = "input_image_buffer.append", .image_field = "image",
    .image_needs_audio = TRUE, .server_vad_interrupts = TRUE,
    .max_instructions = 16000,
    .http_url = "https://dashscope.aliyuncs.com/compatible-mode/v1", .chat_model = "qwen-plus",
  },
  {
    .id = "glm", .display_name = "GLM",
    .url = "wss://open.bigmodel.cn/api/paas/v4/realtime", .model_in_query = FALSE,
    .default_model = "glm-realtime", .voices = glm_voices,
    .input_rate = 16000, .output_rate = 24000,
    .supports_images = TRUE, .dialect = LANLAN_REALTIME_DIALECT_BETA,
    .beta_output_format = "pcm", .beta_input_format = "wav", .wav_appends = TRUE,
    .client_events = glm_events,
    .image_event = "input_audio_buffer.append_video_frame", .image_field = "video_frame",
    .image_needs_audio = TRUE, .chat_mode = "video_passive",
    .manual_turn_detection = "client_vad", .server_vad_interrupts = TRUE,
    .http_url = "https://open.bigmodel.cn/api/paas/v4", .chat_model = "glm-4-flash",
  },
  {
    .id = "stepfun", .display_name = "StepFun",
    .url = "wss://api.stepfun.com/v1/realtime", .model_in_query = TRUE,
    .default_model = "step-audio-2", .voices = stepfun_voices,
    .input_rate = 24000, .output_rate = 24000,
    .dialect = LANLAN_REALTIME_DIALECT_BETA,
    .beta_output_format = "pcm16", .beta_input_format = "pcm16",
    .client_events = stepfun_events, .fixed_modalities = TRUE,
    .http_url = "https://api.stepfun.com/v1", .chat_model = "step-1-8k",
  },
  {
    /* Any OpenAI-compatible server at the character's base-url. */
    .id = "custom", .display_name = N_("Custom (OpenAI GA)"),
    .model_in_query = TRUE, .default_model = "gpt-realtime",
    .voices = openai_voices, .input_rate = 24000, .output_rate = 24000,
    .dialect = LANLAN_REALTIME_DIALECT_GA,
    .client_events = openai_events, .server_vad_interrupts = TRUE,
    .chat_model = FALLBACK_CHAT_MODEL,
  },
  {
    .id = "custom-beta", .display_name = N_("Custom (beta protocol)"),
    .model_in_query = TRUE, .default_model = "",
    .voices = no_voices, .input_rate = 24000, .output_rate = 24000,
    .dialect = LANLAN_REALTIME_DIALECT_BETA,
    .beta_output_format = "pcm16", .beta_input_format = "pcm16",
    .client_events = beta_events, .server_vad_interrupts = TRUE,
    .chat_model = FALLBACK_CHAT_MODEL,
  },
  {
    /* A model that only writes text; the TTS worker speaks for it. */
    .id = "custom-text", .display_name = N_("Custom (text only, local speech)"),
    .model_in_query = TRUE, .default_model = "",
    .voices = no_voices, .input_rate = 24000, .output_rate = 24000,
    .text_only = TRUE, .dialect = LANLAN_REALTIME_DIALECT_GA,
    .client_events = openai_events, .server_vad_interrupts = TRUE,
    .chat_model = FALLBACK_CHAT_MODEL,
  },
};

const LanlanProvider *
lanlan_provider_lookup (const char *id)
{
  if (id == NULL || *id == '\0')
    return lanlan_provider_get_default ();

  for (guint i = 0; i < G_N_ELEMENTS (providers); i++)
    if (g_ascii_strcasecmp (providers[i].id, id) == 0)
      return &providers[i];

  return NULL;
}

const LanlanProvider *
lanlan_provider_get_default (void)
{
  return &providers[0];
}

const LanlanProvider **
lanlan_provider_list (guint *n_providers)
{
  static const LanlanProvider *list[G_N_ELEMENTS (providers) + 1];

  for (guint i = 0; i < G_N_ELEMENTS (providers); i++)
    list[i] = &providers[i];
  if (n_providers != NULL)
    *n_providers = G_N_ELEMENTS (providers);
  return list;
}

const char *
lanlan_provider_get_default_voice (const LanlanProvider *provider)
{
  g_return_val_if_fail (provider != NULL, NULL);
  return provider->voices[0];
}

/**
 * lanlan_provider_accepts:
 * @client_event: a client event type, e.g. "conversation.item.truncate"
 *
 * Returns: whether the service takes this client event at all
 */
gboolean
lanlan_provider_accepts (const LanlanProvider *provider,
                         const char           *client_event)
{
  g_return_val_if_fail (provider != NULL && client_event != NULL, FALSE);

  if (provider->client_events == NULL)
    return TRUE;
  return g_strv_contains ((const char * const *) provider->client_events, client_event);
}

/**
 * lanlan_provider_build_url:
 * @base_url: (nullable): overrides the provider's endpoint; required for
 *   the custom providers
 * @model: (nullable): empty or %NULL means the provider's default
 *
 * Returns: (transfer full): the WebSocket URL to connect to
 */
char *
lanlan_provider_build_url (const LanlanProvider  *provider,
                           const char            *base_url,
                           const char            *model,
                           GError               **error)
{
  const char *endpoint;
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  g_return_val_if_fail (provider != NULL, NULL);

  endpoint = (base_url != NULL && *base_url != '\0') ? base_url : provider->url;
  if (endpoint == NULL)
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("The service “%s” needs a server address"),
                   provider->display_name);
      return NULL;
    }

  uri = g_uri_parse (endpoint, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "ws") != 0 &&
                         g_ascii_strcasecmp (scheme, "wss") != 0))
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("“%s” is not a WebSocket address (ws:// or wss://)"),
                   endpoint);
      return NULL;
    }

  if (model == NULL || *model == '\0')
    model = provider->default_model;

  if (provider->model_in_query && model != NULL && *model != '\0' &&
      (g_uri_get_query (uri) == NULL || strstr (g_uri_get_query (uri), "model=") == NULL))
    {
      g_autofree char *escaped = g_uri_escape_string (model, NULL, FALSE);
      return g_strdup_printf ("%s%cmodel=%s", endpoint,
                              g_uri_get_query (uri) != NULL ? '&' : '?', escaped);
    }

  return g_strdup (endpoint);
}

/**
 * lanlan_provider_build_http_url:
 * @provider: (nullable): %NULL for a service not in the table
 * @base_url: (nullable): the character's realtime address; overrides the
 *   provider's REST base
 *
 * Where the provider's OpenAI-compatible REST API lives (append
 * `/chat/completions` or `/audio/speech`). A realtime address is turned
 * into one: ws(s) becomes http(s), the query, fragment, trailing slashes
 * and a final `/realtime` go, so `wss://host/v1/realtime?model=m` gives
 * `https://host/v1`.
 *
 * Returns: (transfer full): the base URL without a trailing slash, or
 *   %NULL with @error set when there is none
 */
char *
lanlan_provider_build_http_url (const LanlanProvider  *provider,
                                const char            *base_url,
                                GError               **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autofree char *http = NULL;
  const char *scheme;
  char *end;

  if (base_url == NULL || *base_url == '\0')
    {
      if (provider != NULL && provider->http_url != NULL)
        return g_strdup (provider->http_url);
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("The service “%s” needs a server address"),
                   provider != NULL ? provider->display_name : "?");
      return NULL;
    }

  uri = g_uri_parse (base_url, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (scheme != NULL && g_ascii_strcasecmp (scheme, "wss") == 0)
    http = g_strconcat ("https", base_url + strlen (scheme), NULL);
  else if (scheme != NULL && g_ascii_strcasecmp (scheme, "ws") == 0)
    http = g_strconcat ("http", base_url + strlen (scheme), NULL);
  else if (scheme != NULL && (g_ascii_strcasecmp (scheme, "https") == 0 ||
                              g_ascii_strcasecmp (scheme, "http") == 0))
    http = g_strdup (base_url);
  else
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("“%s” is not a WebSocket address (ws:// or wss://)"),
                   base_url);
      return NULL;
    }

  http[strcspn (http, "?#")] = '\0';
  end = http + strlen (http);
  while (end > http && end[-1] == '/')
    *--end = '\0';
  if (g_str_has_suffix (http, "/realtime"))
    http[strlen (http) - strlen ("/realtime")] = '\0';
  return g_steal_pointer (&http);
}

/**
 * lanlan_provider_get_chat_model:
 * @provider: (nullable): %NULL for a service not in the table
 * @base_url: (nullable): the character's realtime address
 * @model: (nullable): the character's (realtime) model
 *
 * The model to ask for chat completions. At a service's own endpoint its
 * chat model; at another server the character's model, unless that is a
 * realtime model, which a chat endpoint would refuse.
 *
 * Returns: (transfer none): @model or a static string
 */
const char *
lanlan_provider_get_chat_model (const LanlanProvider *provider,
                                const char           *base_url,
                                const char           *model)
{
  const char *fallback = provider != NULL && provider->chat_model != NULL
                         ? provider->chat_model : FALLBACK_CHAT_MODEL;

  if (provider != NULL && provider->http_url != NULL && (base_url == NULL || *base_url == '\0'))
    return fallback;
  if (model != NULL && *model != '\0' && strstr (model, "realtime") == NULL)
    return model;
  return fallback;
}

/**
 * lanlan_provider_get_chat_endpoint:
 * @character: whose provider, base-url and model to use
 * @url: (out) (transfer full): the REST base, see
 *   lanlan_provider_build_http_url()
 * @model: (out) (optional) (transfer full): see
 *   lanlan_provider_get_chat_model()
 *
 * Where @character's provider answers `/chat/completions`, and with which
 * model (summaries, translation).
 *
 * Returns: %FALSE with @error set when the character has no such endpoint
 */
gboolean
lanlan_provider_get_chat_endpoint (LanlanCharacter  *character,
                                   char            **url,
                                   char            **model,
                                   GError          **error)
{
  const LanlanProvider *provider;
  const char *base_url;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), FALSE);
  g_return_val_if_fail (url != NULL, FALSE);

  provider = lanlan_provider_lookup (lanlan_character_get_provider (character));
  base_url = lanlan_character_get_base_url (character);
  if (provider == NULL)
    {
      /* A chat service of text mode (Ollama, DeepSeek…): its own address,
       * and the character's model, since there is no realtime one. */
      const LanlanChatPreset *preset =
        lanlan_chat_preset_lookup (lanlan_character_get_provider (character));

      if (preset != NULL)
        {
          const char *chosen = lanlan_character_get_model (character);

          if (chosen == NULL || *chosen == '\0')
            chosen = preset->default_model;
          if (chosen == NULL || *chosen == '\0')
            {
              *url = NULL;
              if (model != NULL)
                *model = NULL;
              g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                           _("Choose a model for %s in the character's settings"),
                           _(preset->display_name));
              return FALSE;
            }
          *url = lanlan_chat_preset_resolve_url (preset, base_url, error);
          if (model != NULL)
            *model = *url != NULL ? g_strdup (chosen) : NULL;
          return *url != NULL;
        }
    }
  *url = lanlan_provider_build_http_url (provider, base_url, error);
  if (model != NULL)
    *model = *url == NULL ? NULL
             : g_strdup (lanlan_provider_get_chat_model (provider, base_url,
                                                         lanlan_character_get_model (character)));
  return *url != NULL;
}
