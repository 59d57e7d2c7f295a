/* lanlan-chat-preset.c — OpenAI-compatible chat services, point and click
 *
 * Text mode talks to any server that speaks POST /v1/chat/completions
 * with server-sent events: a local Ollama, llama.cpp server or LM Studio,
 * or a service with a chat-only key. Each preset is plain data in one
 * table, as the realtime providers are in lanlan-provider.c; the ids of
 * services that have both kinds are shared, so one key serves both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

#include "lanlan-chat-preset.h"
#include "lanlan-realtime-events.h"

static const LanlanChatPreset presets[] = {
  {
    .id = "ollama", .display_name = "Ollama",
    .base_url = "http://localhost:11434/v1", .default_model = "",
    .key_id = "ollama", .local = TRUE, .vision = LANLAN_CHAT_VISION_TRY,
  },
  {
    .id = "llama-cpp", .display_name = N_("llama.cpp server"),
    .base_url = "http://localhost:8080/v1", .default_model = "",
    .key_id = "llama-cpp", .local = TRUE, .vision = LANLAN_CHAT_VISION_TRY,
  },
  {
    .id = "lm-studio", .display_name = "LM Studio",
    .base_url = "http://localhost:1234/v1", .default_model = "",
    .key_id = "lm-studio", .local = TRUE, .vision = LANLAN_CHAT_VISION_TRY,
  },
  {
    .id = "openai", .display_name = "OpenAI",
    .base_url = "https://api.openai.com/v1", .default_model = "gpt-4o-mini",
    .key_id = "openai", .vision = LANLAN_CHAT_VISION_YES,
  },
  {
    .id = "deepseek", .display_name = "DeepSeek",
    .base_url = "https://api.deepseek.com/v1", .default_model = "deepseek-chat",
    .key_id = "deepseek", .vision = LANLAN_CHAT_VISION_NO,
  },
  {
    /* DashScope's OpenAI-compatible mode. */
    .id = "qwen", .display_name = N_("Qwen (DashScope)"),
    .base_url = "https://dashscope.aliyuncs.com/compatible-mode/v1",
    .default_model = "qwen-plus", .key_id = "qwen", .vision = LANLAN_CHAT_VISION_NO,
  },
  {
    .id = "glm", .display_name = "GLM",
    .base_url = "https://open.bigmodel.cn/api/paas/v4", .default_model = "glm-4-flash",
    .key_id = "glm", .vision = LANLAN_CHAT_VISION_NO,
  },
  {
    .id = "openai-compatible", .display_name = N_("OpenAI-compatible (chat)"),
    .base_url = NULL, .default_model = "",
    .key_id = "openai-compatible", .vision = LANLAN_CHAT_VISION_TRY,
  },
};

const LanlanChatPreset *
lanlan_chat_preset_lookup (const char *id)
{
  if (id == NULL || *id == '\0')
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_ascii_strcasecmp (presets[i].id, id) == 0)
      return &presets[i];
  return NULL;
}

/**
 * lanlan_chat_preset_get_default:
 *
 * Ollama: a fresh install with a local model needs no key and no service.
 */
const LanlanChatPreset *
lanlan_chat_preset_get_default (void)
{
  return &presets[0];
}

/**
 * lanlan_chat_preset_list:
 *
 * Returns: (transfer none): the presets in display order, %NULL-terminated
 */
const LanlanChatPreset **
lanlan_chat_preset_list (guint *n_presets)
{
  static const LanlanChatPreset *list[G_N_ELEMENTS (presets) + 1];

  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    list[i] = &presets[i];
  if (n_presets != NULL)
    *n_presets = G_N_ELEMENTS (presets);
  return list;
}

/**
 * lanlan_chat_preset_for_provider:
 * @provider_id: (nullable): a character's provider, which may name a
 *   realtime provider when the character switched to text mode
 *
 * Returns: the chat service that goes with it; "custom…" realtime
 *   providers map to "OpenAI-compatible", unknown ones to %NULL
 */
const LanlanChatPreset *
lanlan_chat_preset_for_provider (const char *provider_id)
{
  const LanlanChatPreset *preset;

  if (provider_id == NULL || *provider_id == '\0')
    return lanlan_chat_preset_get_default ();
  if ((preset = lanlan_chat_preset_lookup (provider_id)) != NULL)
    return preset;
  if (g_str_has_prefix (provider_id, "custom"))
    return lanlan_chat_preset_lookup ("openai-compatible");
  return NULL;
}

gboolean
lanlan_chat_url_is_loopback (const char *url)
{
  g_autoptr(GUri) uri = url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *host;

  if (uri == NULL || (host = g_uri_get_host (uri)) == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0 ||
      g_str_has_suffix (host, ".localhost"))
    return TRUE;
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/**
 * lanlan_chat_preset_resolve_url:
 * @base_url: (nullable): the character's; overrides the preset's. A
 *   realtime address (ws://host/v1/realtime) is turned into its HTTP
 *   base (http://host/v1), so switching a custom character to text mode
 *   keeps its server.
 *
 * Returns: (transfer full): the base URL without a trailing slash
 */
char *
lanlan_chat_preset_resolve_url (const LanlanChatPreset  *preset,
                                const char              *base_url,
                                GError                 **error)
{
  g_autofree char *url = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  char *cut;

  g_return_val_if_fail (preset != NULL, NULL);

  if (base_url != NULL && *base_url != '\0')
    url = g_strstrip (g_strdup (base_url));
  else if (preset->base_url != NULL)
    url = g_strdup (preset->base_url);
  else
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("The service “%s” needs a server address"), _(preset->display_name));
      return NULL;
    }

  if (g_str_has_prefix (url, "wss://") || g_str_has_prefix (url, "ws://"))
    {
      char *http = g_strconcat (url[2] == 's' ? "https://" : "http://",
                                url + (url[2] == 's' ? 6 : 5), NULL);
      g_free (url);
      url = http;
      if ((cut = strchr (url, '?')) != NULL)
        *cut = '\0';
      if (g_str_has_suffix (url, "/realtime"))
        url[strlen (url) - strlen ("/realtime")] = '\0';
    }
  while (g_str_has_suffix (url, "/"))
    url[strlen (url) - 1] = '\0';
  if (g_str_has_suffix (url, "/chat/completions"))
    url[strlen (url) - strlen ("/chat/completions")] = '\0';

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (scheme == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0))
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("“%s” is not a web address (http:// or https://)"), url);
      return NULL;
    }
  return g_steal_pointer (&url);
}

/**
 * lanlan_chat_preset_needs_key:
 * @url: the resolved base URL
 *
 * No key is required for a loopback address or a local server preset;
 * a key stored anyway is still sent.
 */
gboolean
lanlan_chat_preset_needs_key (const LanlanChatPreset *preset,
                              const char             *url)
{
  g_return_val_if_fail (preset != NULL, TRUE);
  if (lanlan_chat_url_is_loopback (url))
    return FALSE;
  /* A local server on another machine of the LAN: the user knows. */
  if (preset->local || preset->base_url == NULL)
    return FALSE;
  return TRUE;
}
