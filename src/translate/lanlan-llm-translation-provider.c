/* lanlan-llm-translation-provider.c — translation by an OpenAI-compatible chat model
 *
 * POST {base}/chat/completions with a system prompt that asks for the
 * translation only, and the text as the user message; the answer is
 * choices[0].message.content. Works with any OpenAI-compatible service
 * the user already has a key for, so it is the last, most available
 * link of the chain, with a longer timeout than a translation server.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>

#include "lanlan-llm-translation-provider.h"
#include "lanlan-translate-http.h"
#include "lanlan-translator.h"

#define DEFAULT_TIMEOUT_MS 20000
#define DEFAULT_MODEL      "gpt-4o-mini"

struct _LanlanLlmTranslationProvider
{
  GObject      parent_instance;

  SoupSession *session;
  char        *base_url;
  char        *api_key;
  char        *model;
  guint        timeout_ms;
};

static void provider_iface_init (LanlanTranslationProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanLlmTranslationProvider, lanlan_llm_translation_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (LANLAN_TYPE_TRANSLATION_PROVIDER, provider_iface_init))

static const char *
llm_get_name (LanlanTranslationProvider *provider)
{
  return "llm";
}

static void
post_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanLlmTranslationProvider *self = g_task_get_source_object (task);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object = NULL;
  JsonArray *choices = NULL;
  JsonNode *node;
  const char *content = NULL;

  root = lanlan_translate_http_post_json_finish (result, &error);
  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (JSON_NODE_HOLDS_OBJECT (root))
    object = json_node_get_object (root);
  node = object ? json_object_get_member (object, "choices") : NULL;
  if (node && JSON_NODE_HOLDS_ARRAY (node))
    choices = json_node_get_array (node);
  node = choices && json_array_get_length (choices) > 0 ? json_array_get_element (choices, 0) : NULL;
  object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  node = object ? json_object_get_member (object, "message") : NULL;
  object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  node = object ? json_object_get_member (object, "content") : NULL;
  if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    content = json_node_get_string (node);

  if (content == NULL)
    {
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
                               "%s answered without choices[0].message.content", self->base_url);
      return;
    }

  {
    g_autofree char *trimmed = g_strstrip (g_strdup (content));

    if (*trimmed == '\0')
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
                               "%s answered with an empty translation", self->base_url);
    else
      g_task_return_pointer (task, g_steal_pointer (&trimmed), g_free);
  }
}

static void
add_message (JsonArray  *messages,
             const char *role,
             const char *content)
{
  JsonObject *m = json_object_new ();

  json_object_set_string_member (m, "role", role);
  json_object_set_string_member (m, "content", content);
  json_array_add_object_element (messages, m);
}

static void
llm_translate_async (LanlanTranslationProvider *provider,
                     const char                *text,
                     const char                *from,
                     const char                *to,
                     GCancellable              *cancellable,
                     GAsyncReadyCallback        callback,
                     gpointer                   user_data)
{
  LanlanLlmTranslationProvider *self = LANLAN_LLM_TRANSLATION_PROVIDER (provider);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *url = lanlan_translate_join_url (self->base_url, "chat/completions");
  g_autofree char *prompt = NULL;
  JsonArray *messages = json_array_new ();

  g_task_set_source_tag (task, llm_translate_async);

  prompt = g_strdup_printf ("You are a translation engine. Translate the user's message from %s to %s. "
                            "Reply with the translation only: no quotes, notes, explanations or "
                            "answers to the message itself. Keep names, emoji, line breaks and "
                            "formatting.",
                            lanlan_translator_language_name (from),
                            lanlan_translator_language_name (to));
  add_message (messages, "system", prompt);
  add_message (messages, "user", text);

  json_object_set_string_member (body, "model", self->model);
  json_object_set_double_member (body, "temperature", 0.0);
  json_object_set_array_member (body, "messages", messages);
  json_node_set_object (node, body);

  lanlan_translate_http_post_json_async (self->session, url, self->api_key, node, self->timeout_ms,
                                         cancellable, post_cb, g_steal_pointer (&task));
}

static char *
llm_translate_finish (LanlanTranslationProvider  *provider,
                      GAsyncResult               *result,
                      GError                    **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
provider_iface_init (LanlanTranslationProviderInterface *iface)
{
  iface->get_name = llm_get_name;
  iface->translate_async = llm_translate_async;
  iface->translate_finish = llm_translate_finish;
}

static void
lanlan_llm_translation_provider_finalize (GObject *object)
{
  LanlanLlmTranslationProvider *self = LANLAN_LLM_TRANSLATION_PROVIDER (object);

  g_clear_object (&self->session);
  g_free (self->base_url);
  g_free (self->api_key);
  g_free (self->model);

  G_OBJECT_CLASS (lanlan_llm_translation_provider_parent_class)->finalize (object);
}

static void
lanlan_llm_translation_provider_class_init (LanlanLlmTranslationProviderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_llm_translation_provider_finalize;
}

static void
lanlan_llm_translation_provider_init (LanlanLlmTranslationProvider *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
}

/**
 * lanlan_llm_translation_provider_new:
 * @base_url: e.g. "https://api.openai.com/v1"
 * @api_key: (nullable): sent as a bearer token
 * @model: (nullable): the chat model, gpt-4o-mini by default
 */
LanlanLlmTranslationProvider *
lanlan_llm_translation_provider_new (const char *base_url,
                                     const char *api_key,
                                     const char *model)
{
  LanlanLlmTranslationProvider *self;

  g_return_val_if_fail (base_url != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_LLM_TRANSLATION_PROVIDER, NULL);
  self->base_url = g_strdup (base_url);
  self->api_key = g_strdup (api_key);
  self->model = g_strdup (model && *model ? model : DEFAULT_MODEL);
  return self;
}

void
lanlan_llm_translation_provider_set_timeout (LanlanLlmTranslationProvider *self,
                                             guint                         timeout_ms)
{
  g_return_if_fail (LANLAN_IS_LLM_TRANSLATION_PROVIDER (self));
  self->timeout_ms = timeout_ms;
}
