/* test-translator.c — translation chain against loopback HTTP servers
 *
 * A SoupServer on 127.0.0.1 (free port) plays a LibreTranslate server
 * that works, fails with HTTP 500, stalls, answers garbage or an error
 * object, and an OpenAI-compatible chat completions endpoint. Every
 * request is counted, so the tests can prove fallback, cache hits and
 * skipped requests, not just the returned text.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "lanlan-libretranslate-provider.h"
#include "lanlan-llm-translation-provider.h"
#include "lanlan-translator.h"

#define API_KEY "sk-test-key"

typedef struct {
  SoupServer *server;
  char       *base;
  guint       libre_ok;
  guint       libre_500;
  guint       libre_stall;
  guint       libre_bad_json;
  guint       libre_error;
  guint       llm;
  guint       llm_500;
  GPtrArray  *stalled;
  JsonObject *last_libre;
  JsonObject *last_llm;
  char       *last_auth;
  char       *refused_url;
} Fixture;

static JsonObject *
request_json (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, body->data, body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
reply (SoupServerMessage *msg,
       guint              status,
       const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

static void
libre_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  Fixture *fx = user_data;

  if (g_str_equal (path, "/ok/translate"))
    {
      g_autoptr(JsonObject) in = request_json (msg);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *out = NULL;
      g_autofree char *text = NULL;

      fx->libre_ok++;
      g_clear_pointer (&fx->last_libre, json_object_unref);
      if (in == NULL)
        {
          reply (msg, 400, "{\"error\":\"bad request\"}");
          return;
        }
      fx->last_libre = json_object_ref (in);
      text = g_strdup_printf ("%s:%s", json_object_get_string_member (in, "target"),
                              json_object_get_string_member (in, "q"));
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "translatedText");
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      out = json_to_string (root, FALSE);
      reply (msg, 200, out);
    }
  else if (g_str_equal (path, "/fail500/translate"))
    {
      fx->libre_500++;
      reply (msg, 500, "{\"error\":\"internal\"}");
    }
  else if (g_str_equal (path, "/stall/translate"))
    {
      fx->libre_stall++;
      g_ptr_array_add (fx->stalled, g_object_ref (msg));
      soup_server_message_pause (msg);
    }
  else if (g_str_equal (path, "/badjson/translate"))
    {
      fx->libre_bad_json++;
      reply (msg, 200, "{\"translatedText\": \"unterminated");
    }
  else if (g_str_equal (path, "/error/translate"))
    {
      fx->libre_error++;
      reply (msg, 200, "{\"error\":\"ja is not supported\"}");
    }
  else
    reply (msg, 404, "{}");
}

static void
llm_handler (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  Fixture *fx = user_data;
  g_autoptr(JsonObject) in = NULL;
  JsonArray *messages;
  g_autofree char *content = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *out = NULL;

  if (g_str_has_prefix (path, "/llm500/"))
    {
      fx->llm_500++;
      reply (msg, 500, "{\"error\":{\"message\":\"overloaded\"}}");
      return;
    }

  fx->llm++;
  g_free (fx->last_auth);
  fx->last_auth = g_strdup (soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                          "Authorization"));
  in = request_json (msg);
  g_clear_pointer (&fx->last_llm, json_object_unref);
  if (in == NULL || !json_object_has_member (in, "messages"))
    {
      reply (msg, 400, "{}");
      return;
    }
  fx->last_llm = json_object_ref (in);
  messages = json_object_get_array_member (in, "messages");
  content = g_strdup_printf ("  LLM:%s\n", json_object_get_string_member (
                               json_array_get_object_element (messages, json_array_get_length (messages) - 1),
                               "content"));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, "assistant");
  json_builder_set_member_name (b, "content");
  json_builder_add_string_value (b, content);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  out = json_to_string (root, FALSE);
  reply (msg, 200, out);
}

static char *
free_port_url (void)
{
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  g_assert_true (g_socket_bind (sock, any, TRUE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);
  /* Bound but never listening, then closed: connecting is refused. */
  return g_strdup_printf ("http://127.0.0.1:%u", port);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  fx->stalled = g_ptr_array_new_with_free_func (g_object_unref);
  fx->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (fx->server, "/v1", llm_handler, fx, NULL);
  soup_server_add_handler (fx->server, "/llm500", llm_handler, fx, NULL);
  soup_server_add_handler (fx->server, NULL, libre_handler, fx, NULL);
  soup_server_listen_local (fx->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (fx->server);
  g_assert_nonnull (uris);
  fx->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  fx->refused_url = free_port_url ();
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  for (guint i = 0; i < fx->stalled->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (fx->stalled, i);

      reply (msg, 503, "{}");
      soup_server_message_unpause (msg);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (fx->stalled);
  soup_server_disconnect (fx->server);
  g_assert_finalize_object (fx->server);
  g_clear_pointer (&fx->last_libre, json_object_unref);
  g_clear_pointer (&fx->last_llm, json_object_unref);
  g_free (fx->last_auth);
  g_free (fx->base);
  g_free (fx->refused_url);
}

/* --- helpers ------------------------------------------------------------- */

/* Memcheck runs code some twenty times slower: a deadline meant to be met
 * stretches with it (deadlines meant to expire, as the stall's, do not). */
static guint
scale_ms (guint ms)
{
  return g_getenv ("LANLAN_UNDER_VALGRIND") != NULL ? ms * 5 : ms;
}

static LanlanTranslator *
make_chain (Fixture    *fx,
            const char *libre_path,
            guint       libre_timeout_ms,
            const char *llm_path)
{
  LanlanTranslator *translator = lanlan_translator_new ();

  if (libre_path != NULL)
    {
      g_autofree char *url = g_str_has_prefix (libre_path, "http")
                               ? g_strdup (libre_path)
                               : g_strconcat (fx->base, libre_path, NULL);
      g_autoptr(LanlanLibretranslateProvider) libre = lanlan_libretranslate_provider_new (url, "k1");

      lanlan_libretranslate_provider_set_timeout (libre, libre_timeout_ms);
      lanlan_translator_add_provider (translator, LANLAN_TRANSLATION_PROVIDER (libre));
    }

  if (llm_path != NULL)
    {
      g_autofree char *url = g_strconcat (fx->base, llm_path, NULL);
      g_autoptr(LanlanLlmTranslationProvider) llm = lanlan_llm_translation_provider_new (url, API_KEY, "test-model");

      lanlan_llm_translation_provider_set_timeout (llm, scale_ms (5000));
      lanlan_translator_add_provider (translator, LANLAN_TRANSLATION_PROVIDER (llm));
    }

  return translator;
}

typedef struct {
  gboolean  done;
  char     *text;
  char     *provider;
  GError   *error;
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->text, g_free);
  g_clear_pointer (&r->provider, g_free);
  g_clear_error (&r->error);
  r->done = FALSE;
}

static void
translate_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Result *r = user_data;

  r->text = lanlan_translator_translate_finish (LANLAN_TRANSLATOR (source), result,
                                                &r->provider, &r->error);
  r->done = TRUE;
}

/* Translates and waits; also returns how long it took, in ms. */
static double
translate (LanlanTranslator *translator,
           const char       *text,
           const char       *from,
           const char       *to,
           GCancellable     *cancellable,
           Result           *r)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + 20 * G_USEC_PER_SEC;

  result_clear (r);
  lanlan_translator_translate_async (translator, text, from, to, cancellable, translate_done, r);
  while (!r->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (r->done);
  return (g_get_monotonic_time () - start) / 1000.0;
}

/* --- tests --------------------------------------------------------------- */

static void
test_languages (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "en", "en" }, { "en_US.UTF-8", "en" }, { "EN-gb", "en" }, { "ja_JP@euro", "ja" },
    { "zh", "zh-hans" }, { "zh_CN", "zh-hans" }, { "zh-Hans-CN", "zh-hans" },
    { "zh-TW", "zh-hant" }, { "zh_HK", "zh-hant" }, { "zh-Hant", "zh-hant" }, { "", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *norm = lanlan_translator_normalize_language (cases[i].in);
      g_assert_cmpstr (norm, ==, cases[i].out);
    }

  g_assert_true (lanlan_translator_same_language ("en", "en-GB"));
  g_assert_true (lanlan_translator_same_language ("ja_JP.UTF-8", "ja"));
  g_assert_false (lanlan_translator_same_language ("zh-CN", "zh-TW"));
  g_assert_false (lanlan_translator_same_language ("en", "ja"));
  g_assert_cmpstr (lanlan_libretranslate_language_code ("zh-TW"), ==, "zt");
  g_assert_cmpstr (lanlan_libretranslate_language_code ("zh_CN"), ==, "zh");
  g_assert_cmpstr (lanlan_libretranslate_language_code ("ja_JP"), ==, "ja");
  g_assert_cmpstr (lanlan_translator_language_name ("ja-JP"), ==, "Japanese");
}

static void
test_libre_ok (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, "/ok", scale_ms (2000), "/v1");
  Result r = { 0 };

  translate (t, "Hello, “world” 👋", "en_US", "ja", NULL, &r);
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.text, ==, "ja:Hello, “world” 👋");
  g_assert_cmpstr (r.provider, ==, "libretranslate");
  g_assert_cmpuint (fx->libre_ok, ==, 1);
  g_assert_cmpuint (fx->llm, ==, 0);

  g_assert_cmpstr (json_object_get_string_member (fx->last_libre, "q"), ==, "Hello, “world” 👋");
  g_assert_cmpstr (json_object_get_string_member (fx->last_libre, "source"), ==, "en");
  g_assert_cmpstr (json_object_get_string_member (fx->last_libre, "target"), ==, "ja");
  g_assert_cmpstr (json_object_get_string_member (fx->last_libre, "format"), ==, "text");
  g_assert_cmpstr (json_object_get_string_member (fx->last_libre, "api_key"), ==, "k1");
  result_clear (&r);
}

static void
test_llm_request (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, NULL, 0, "/v1/");
  JsonArray *messages;
  const char *system;
  Result r = { 0 };

  translate (t, "おはよう", "ja", "zh-TW", NULL, &r);
  g_assert_no_error (r.error);
  /* Whitespace around the model's answer is trimmed. */
  g_assert_cmpstr (r.text, ==, "LLM:おはよう");
  g_assert_cmpstr (r.provider, ==, "llm");
  g_assert_cmpuint (fx->llm, ==, 1);

  g_assert_cmpstr (fx->last_auth, ==, "Bearer " API_KEY);
  g_assert_cmpstr (json_object_get_string_member (fx->last_llm, "model"), ==, "test-model");
  messages = json_object_get_array_member (fx->last_llm, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 0), "role"), ==, "system");
  system = json_object_get_string_member (json_array_get_object_element (messages, 0), "content");
  g_assert_nonnull (strstr (system, "Japanese"));
  g_assert_nonnull (strstr (system, "Traditional Chinese"));
  g_assert_nonnull (strstr (system, "translation only"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 1), "content"), ==, "おはよう");
  result_clear (&r);
}

typedef enum {
  FAIL_HTTP_500,
  FAIL_STALL,
  FAIL_BAD_JSON,
  FAIL_ERROR_OBJECT,
  FAIL_REFUSED,
} FailMode;

static void
test_fallback (Fixture       *fx,
               gconstpointer  data)
{
  FailMode mode = GPOINTER_TO_INT (data);
  const char *paths[] = { "/fail500", "/stall", "/badjson", "/error", NULL };
  const char *libre = mode == FAIL_REFUSED ? fx->refused_url : paths[mode];
  g_autoptr(LanlanTranslator) t = make_chain (fx, libre, 300, "/v1");
  Result r = { 0 };
  double ms;

  ms = translate (t, "Good night", "en", "ja", NULL, &r);
  g_test_message ("fallback mode %d took %.1f ms", mode, ms);
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.text, ==, "LLM:Good night");
  g_assert_cmpstr (r.provider, ==, "llm");
  g_assert_cmpuint (fx->llm, ==, 1);

  switch (mode)
    {
    case FAIL_HTTP_500: g_assert_cmpuint (fx->libre_500, ==, 1); break;
    case FAIL_STALL:
      g_assert_cmpuint (fx->libre_stall, ==, 1);
      /* The stall costs the provider's timeout, not more. */
      g_assert_cmpfloat (ms, >=, 300);
      g_assert_cmpfloat (ms, <, 3000);
      break;
    case FAIL_BAD_JSON: g_assert_cmpuint (fx->libre_bad_json, ==, 1); break;
    case FAIL_ERROR_OBJECT: g_assert_cmpuint (fx->libre_error, ==, 1); break;
    case FAIL_REFUSED: break;
    default: g_assert_not_reached ();
    }
  result_clear (&r);
}

static void
test_cache (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, "/ok", scale_ms (2000), "/v1");
  Result r = { 0 };

  translate (t, "Hello", "en", "ja", NULL, &r);
  g_assert_cmpstr (r.provider, ==, "libretranslate");
  g_assert_cmpuint (fx->libre_ok, ==, 1);

  translate (t, "Hello", "en-US", "ja_JP", NULL, &r);
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.text, ==, "ja:Hello");
  g_assert_cmpstr (r.provider, ==, "cache");
  g_assert_cmpuint (fx->libre_ok, ==, 1);
  g_assert_cmpuint (lanlan_translator_get_n_cache_hits (t), ==, 1);

  /* The key is (from, to, text): another direction or text is a miss. */
  translate (t, "Hello", "en", "fr", NULL, &r);
  g_assert_cmpstr (r.text, ==, "fr:Hello");
  translate (t, "Hello!", "en", "ja", NULL, &r);
  g_assert_cmpuint (fx->libre_ok, ==, 3);

  /* Bounded LRU: with room for 2, the least recently used goes. */
  lanlan_translator_clear_cache (t);
  lanlan_translator_set_cache_size (t, 2);
  translate (t, "a", "en", "ja", NULL, &r);
  translate (t, "b", "en", "ja", NULL, &r);
  translate (t, "a", "en", "ja", NULL, &r);   /* hit; b is now oldest */
  g_assert_cmpstr (r.provider, ==, "cache");
  translate (t, "c", "en", "ja", NULL, &r);   /* evicts b */
  g_assert_cmpuint (fx->libre_ok, ==, 6);
  translate (t, "a", "en", "ja", NULL, &r);
  g_assert_cmpstr (r.provider, ==, "cache");
  translate (t, "b", "en", "ja", NULL, &r);
  g_assert_cmpstr (r.provider, ==, "libretranslate");
  g_assert_cmpuint (fx->libre_ok, ==, 7);
  result_clear (&r);
}

static void
test_all_fail (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, "/fail500", 2000, "/llm500/v1");
  Result r = { 0 };

  translate (t, "Hello", "en", "ja", NULL, &r);
  g_assert_null (r.text);
  g_assert_null (r.provider);
  g_assert_error (r.error, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_FAILED);
  g_test_message ("error: %s", r.error->message);
  g_assert_nonnull (strstr (r.error->message, "libretranslate"));
  g_assert_nonnull (strstr (r.error->message, "llm"));
  g_assert_nonnull (strstr (r.error->message, "500"));
  g_assert_cmpuint (fx->libre_500, ==, 1);
  g_assert_cmpuint (fx->llm_500, ==, 1);

  /* Failures are not cached. */
  translate (t, "Hello", "en", "ja", NULL, &r);
  g_assert_error (r.error, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_FAILED);
  g_assert_cmpuint (fx->libre_500, ==, 2);
  result_clear (&r);

  {
    g_autoptr(LanlanTranslator) empty = lanlan_translator_new ();
    translate (empty, "Hello", "en", "ja", NULL, &r);
    g_assert_error (r.error, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_NO_PROVIDER);
    result_clear (&r);
  }
}

static void
test_skip (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, "/ok", scale_ms (2000), "/v1");
  const char *same[][2] = { { "en", "en" }, { "en", "en-GB" }, { "ja_JP.UTF-8", "ja" }, { "zh-CN", "zh-Hans" } };
  Result r = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (same); i++)
    {
      translate (t, "Hello", same[i][0], same[i][1], NULL, &r);
      g_assert_no_error (r.error);
      g_assert_cmpstr (r.text, ==, "Hello");
      g_assert_cmpstr (r.provider, ==, "none");
    }

  translate (t, "", "en", "ja", NULL, &r);
  g_assert_cmpstr (r.text, ==, "");
  g_assert_cmpstr (r.provider, ==, "none");
  translate (t, " \n\t　", "en", "ja", NULL, &r);
  g_assert_cmpstr (r.provider, ==, "none");

  g_assert_cmpuint (fx->libre_ok + fx->llm, ==, 0);
  result_clear (&r);
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(LanlanTranslator) t = make_chain (fx, "/stall", 10000, "/v1");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };
  double ms;

  g_timeout_add (100, cancel_cb, cancellable);
  ms = translate (t, "Hello", "en", "ja", cancellable, &r);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpfloat (ms, <, 2000);
  /* Cancelling stops the chain: no fallback. */
  g_assert_cmpuint (fx->llm, ==, 0);
  result_clear (&r);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/translate/languages", test_languages);
  g_test_add ("/translate/libre-ok", Fixture, NULL, fixture_setup, test_libre_ok, fixture_teardown);
  g_test_add ("/translate/llm-request", Fixture, NULL, fixture_setup, test_llm_request, fixture_teardown);
  g_test_add ("/translate/fallback/http-500", Fixture, GINT_TO_POINTER (FAIL_HTTP_500), fixture_setup, test_fallback, fixture_teardown);
  g_test_add ("/translate/fallback/stall", Fixture, GINT_TO_POINTER (FAIL_STALL), fixture_setup, test_fallback, fixture_teardown);
  g_test_add ("/translate/fallback/bad-json", Fixture, GINT_TO_POINTER (FAIL_BAD_JSON), fixture_setup, test_fallback, fixture_teardown);
  g_test_add ("/translate/fallback/error-object", Fixture, GINT_TO_POINTER (FAIL_ERROR_OBJECT), fixture_setup, test_fallback, fixture_teardown);
  g_test_add ("/translate/fallback/refused", Fixture, GINT_TO_POINTER (FAIL_REFUSED), fixture_setup, test_fallback, fixture_teardown);
  g_test_add ("/translate/cache", Fixture, NULL, fixture_setup, test_cache, fixture_teardown);
  g_test_add ("/translate/all-fail", Fixture, NULL, fixture_setup, test_all_fail, fixture_teardown);
  g_test_add ("/translate/skip", Fixture, NULL, fixture_setup, test_skip, fixture_teardown);
  g_test_add ("/translate/cancel", Fixture, NULL, fixture_setup, test_cancel, fixture_teardown);

  return g_test_run ();
}
