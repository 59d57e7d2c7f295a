/* lanlan-libretranslate-provider.c — LibreTranslate-compatible HTTP API
 *
 * POST {url}/translate with {"q","source","target","format":"text"} and
 * an optional "api_key"; the answer is {"translatedText": ...} or
 * {"error": ...}. It is fast and private when self-hosted, so it is
 * tried first, with a short timeout so a dead server costs little before
 * the chain falls back to the language model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>

#include "lanlan-libretranslate-provider.h"
#include "lanlan-translate-http.h"
#include "lanlan-translator.h"

#define DEFAULT_TIMEOUT_MS 5000

struct _LanlanLibretranslateProvider
{
  GObject      parent_instance;

  SoupSession *session;
  char        *url;
  char        *api_key;
  guint        timeout_ms;
};

static void provider_iface_init (LanlanTranslationProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanLibretranslateProvider, lanlan_libretranslate_provider, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (LANLAN_TYPE_TRANSLATION_PROVIDER, provider_iface_init))

/**
 * lanlan_libretranslate_language_code:
 * @tag: a BCP 47 or POSIX language tag
 *
 * LibreTranslate uses two-letter codes, and "zt" for traditional Chinese.
 *
 * Returns: an interned code
 */
const char *
lanlan_libretranslate_language_code (const char *tag)
{
  g_autofree char *norm = lanlan_translator_normalize_language (tag);
  char *dash;

  if (g_str_equal (norm, "zh-hant"))
    return g_intern_static_string ("zt");

  dash = strchr (norm, '-');
  if (dash)
    *dash = '\0';
  return g_intern_string (norm);
}

static const char *
libre_get_name (LanlanTranslationProvider *provider)
{
  return "libretranslate";
}

static void
post_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanLibretranslateProvider *self = g_task_get_source_object (task);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  JsonNode *member;

  root = lanlan_translate_http_post_json_finish (result, &error);
  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  member = object ? json_object_get_member (object, "translatedText") : NULL;
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
      json_node_get_value_type (member) == G_TYPE_STRING)
    {
      g_task_return_pointer (task, json_node_dup_string (member), g_free);
      return;
    }

  member = object ? json_object_get_member (object, "error") : NULL;
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
      json_node_get_value_type (member) == G_TYPE_STRING)
    g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
                             "%s answered: %s", self->url, json_node_get_string (member));
  else
    g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
                             "%s answered without “translatedText”", self->url);
}

static void
libre_translate_async (LanlanTranslationProvider *provider,
                       const char                *text,
                       const char                *from,
                       const char                *to,
                       GCancellable              *cancellable,
                       GAsyncReadyCallback        callback,
                       gpointer                   user_data)
{
  LanlanLibretranslateProvider *self = LANLAN_LIBRETRANSLATE_PROVIDER (provider);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *url = lanlan_translate_join_url (self->url, "translate");

  g_task_set_source_tag (task, libre_translate_async);

  json_object_set_string_member (body, "q", text);
  json_object_set_string_member (body, "source", lanlan_libretranslate_language_code (from));
  json_object_set_string_member (body, "target", lanlan_libretranslate_language_code (to));
  json_object_set_string_member (body, "format", "text");
  if (self->api_key != NULL && *self->api_key != '\0')
    json_object_set_string_member (body, "api_key", self->api_key);
  json_node_set_object (node, body);

  lanlan_translate_http_post_json_async (self->session, url, NULL, node, self->timeout_ms,
                                         cancellable, post_cb, g_steal_pointer (&task));
}

static char *
libre_translate_finish (LanlanTranslationProvider  *provider,
                        GAsyncResult               *result,
                        GError                    **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
provider_iface_init (LanlanTranslationProviderInterface *iface)
{
  iface->get_name = libre_get_name;
  iface->translate_async = libre_translate_async;
  iface->translate_finish = libre_translate_finish;
}

static void
lanlan_libretranslate_provider_finalize (GObject *object)
{
  LanlanLibretranslateProvider *self = LANLAN_LIBRETRANSLATE_PROVIDER (object);

  g_clear_object (&self->session);
  g_free (self->url);
  g_free (self->api_key);

  G_OBJECT_CLASS (lanlan_libretranslate_provider_parent_class)->finalize (object);
}

static void
lanlan_libretranslate_provider_class_init (LanlanLibretranslateProviderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_libretranslate_provider_finalize;
}

static void
lanlan_libretranslate_provider_init (LanlanLibretranslateProvider *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
}

/**
 * lanlan_libretranslate_provider_new:
 * @url: the service root, e.g. "http://127.0.0.1:5000"
 * @api_key: (nullable): sent as "api_key" when set
 */
LanlanLibretranslateProvider *
lanlan_libretranslate_provider_new (const char *url,
                                    const char *api_key)
{
  LanlanLibretranslateProvider *self;

  g_return_val_if_fail (url != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_LIBRETRANSLATE_PROVIDER, NULL);
  self->url = g_strdup (url);
  self->api_key = g_strdup (api_key);
  return self;
}

void
lanlan_libretranslate_provider_set_timeout (LanlanLibretranslateProvider *self,
                                            guint                         timeout_ms)
{
  g_return_if_fail (LANLAN_IS_LIBRETRANSLATE_PROVIDER (self));
  self->timeout_ms = timeout_ms;
}
