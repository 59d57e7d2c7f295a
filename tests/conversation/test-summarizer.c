/* test-summarizer.c — summaries from a strict loopback chat-completions server
 *
 * The server takes only what the real API takes: POST to
 * /v1/chat/completions, a JSON body with a known set of fields of the
 * right types, the model the character's provider calls for, the key
 * from the keyring as a Bearer token. Anything else is refused, so a
 * malformed request fails the test.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-chat-message.h"
#include "lanlan-secrets.h"
#include "lanlan-summarizer.h"

#define KEY "sk-summary-test-0123456789abcdef"

typedef struct {
  SoupServer      *server;
  guint            port;
  LanlanCharacter *character;
  LanlanSummarizer *summarizer;
  /* what the server expects */
  const char      *expected_auth;   /* NULL: no Authorization header */
  const char      *expected_model;
  /* what it answers */
  guint            status;
  char            *reply;
  /* what it saw */
  guint            n_requests;
  guint            n_rejected;
  char            *system;
  char            *user;
  /* the result */
  gboolean         done;
  char            *summary;
  GError          *error;
} Fixture;

static gboolean
reject (SoupServerMessage *msg,
        Fixture           *f,
        guint              status,
        const char        *why)
{
  g_test_message ("server rejects: %s", why);
  f->n_rejected++;
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    "{\"error\":{\"message\":\"rejected\"}}", 31);
  return FALSE;
}

static gboolean
check_request (SoupServerMessage *msg,
               const char        *path,
               Fixture           *f)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *auth = soup_message_headers_get_one (headers, "Authorization");
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonArray *messages;
  g_autoptr(GList) members = NULL;

  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0)
    return reject (msg, f, 405, "method");
  if (g_strcmp0 (path, "/v1/chat/completions") != 0)
    return reject (msg, f, 404, "path");
  if (g_strcmp0 (type, "application/json") != 0)
    return reject (msg, f, 415, "content type");
  if (g_strcmp0 (auth, f->expected_auth) != 0)
    return reject (msg, f, 401, "authorization");
  if (body->length == 0 || !json_parser_load_from_data (parser, body->data, body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return reject (msg, f, 400, "body is not a JSON object");

  object = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (object, name);

      if (g_str_equal (name, "model"))
        {
          if (json_node_get_value_type (node) != G_TYPE_STRING ||
              g_strcmp0 (json_node_get_string (node), f->expected_model) != 0)
            return reject (msg, f, 400, "model");
        }
      else if (g_str_equal (name, "stream"))
        {
          if (json_node_get_value_type (node) != G_TYPE_BOOLEAN || json_node_get_boolean (node))
            return reject (msg, f, 400, "stream");
        }
      else if (g_str_equal (name, "temperature"))
        {
          if (json_node_get_value_type (node) != G_TYPE_DOUBLE &&
              json_node_get_value_type (node) != G_TYPE_INT64)
            return reject (msg, f, 400, "temperature type");
          if (json_node_get_double (node) < 0 || json_node_get_double (node) > 2)
            return reject (msg, f, 400, "temperature range");
        }
      else if (!g_str_equal (name, "messages"))
        return reject (msg, f, 400, "unknown field");
    }
  if (!json_object_has_member (object, "model") || !json_object_has_member (object, "messages") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "messages")))
    return reject (msg, f, 400, "model or messages missing");

  messages = json_object_get_array_member (object, "messages");
  if (json_array_get_length (messages) != 2)
    return reject (msg, f, 400, "expected a system and a user message");
  for (guint i = 0; i < 2; i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      JsonObject *m;
      const char *want = i == 0 ? "system" : "user";

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return reject (msg, f, 400, "message not an object");
      m = json_node_get_object (node);
      if (json_object_get_size (m) != 2 ||
          !json_object_has_member (m, "role") || !json_object_has_member (m, "content") ||
          json_node_get_value_type (json_object_get_member (m, "role")) != G_TYPE_STRING ||
          json_node_get_value_type (json_object_get_member (m, "content")) != G_TYPE_STRING ||
          g_strcmp0 (json_object_get_string_member (m, "role"), want) != 0 ||
          *json_object_get_string_member (m, "content") == '\0')
        return reject (msg, f, 400, "message shape");
    }
  g_free (f->system);
  g_free (f->user);
  f->system = g_strdup (json_object_get_string_member (json_array_get_object_element (messages, 0), "content"));
  f->user = g_strdup (json_object_get_string_member (json_array_get_object_element (messages, 1), "content"));
  return TRUE;
}

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  Fixture *f = data;

  f->n_requests++;
  if (!check_request (msg, path, f))
    return;
  soup_server_message_set_status (msg, f->status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    f->reply, strlen (f->reply));
}

static void
set_reply_content (Fixture    *f,
                   const char *content)
{
  char high[129];
  g_autofree char *escaped = NULL;

  /* JSON takes UTF-8 as it is; only ASCII controls and quotes need escapes. */
  for (guint i = 0; i < 128; i++)
    high[i] = (char) (0x80 + i);
  high[128] = '\0';
  escaped = g_strescape (content, high);

  g_free (f->reply);
  f->reply = g_strdup_printf ("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
                              "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                              "\"content\":\"%s\"},\"finish_reason\":\"stop\"}]}", escaped);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoslist(GUri) uris = NULL;
  g_autofree char *base = NULL;

  f->server = soup_server_new (NULL, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->port = g_uri_get_port (uris->data);
  soup_server_add_handler (f->server, NULL, handler, f, NULL);

  g_assert_true (lanlan_secrets_store_sync ("custom", KEY, NULL, &error));
  g_assert_no_error (error);
  f->expected_auth = "Bearer " KEY;
  f->expected_model = "llama3";
  f->status = 200;
  set_reply_content (f, "  The user lives in Osaka and has a cat called Mochi.\n");

  base = g_strdup_printf ("ws://127.0.0.1:%u/v1/realtime?model=llama3", f->port);
  f->character = lanlan_character_new ("Lanlan");
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, base);
  lanlan_character_set_model (f->character, "llama3");
  f->summarizer = lanlan_summarizer_new (f->character);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->summarizer);
  g_clear_object (&f->character);
  g_clear_object (&f->server);
  g_free (f->reply);
  g_free (f->system);
  g_free (f->user);
  g_free (f->summary);
  g_clear_error (&f->error);
}

static void
summarized (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Fixture *f = data;

  f->summary = lanlan_summarizer_summarize_finish (LANLAN_SUMMARIZER (source), result, &f->error);
  f->done = TRUE;
}

static GPtrArray *
two_messages (void)
{
  GPtrArray *m = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  g_ptr_array_add (m, lanlan_chat_message_new ("user", "My cat is called Mochi."));
  g_ptr_array_add (m, lanlan_chat_message_new ("assistant", "What a sweet name!"));
  return m;
}

static void
run (Fixture    *f,
     const char *previous,
     GPtrArray  *messages)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  f->done = FALSE;
  g_clear_pointer (&f->summary, g_free);
  g_clear_error (&f->error);
  lanlan_summarizer_summarize_async (f->summarizer, previous, messages, NULL, summarized, f);
  while (!f->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (f->done);
}

static void
test_summary (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) messages = two_messages ();

  run (f, "The user lives in Osaka.", messages);
  g_assert_no_error (f->error);
  g_assert_cmpstr (f->summary, ==, "The user lives in Osaka and has a cat called Mochi.");
  g_assert_cmpuint (f->n_requests, ==, 1);
  g_assert_cmpuint (f->n_rejected, ==, 0);
  g_assert_nonnull (strstr (f->system, "Lanlan"));
  g_assert_true (g_str_has_prefix (f->user, "Previous summary:\nThe user lives in Osaka.\n"));
  g_assert_nonnull (strstr (f->user, "\nUser: My cat is called Mochi.\nLanlan: What a sweet name!\n"));

  /* No summary yet. */
  run (f, NULL, messages);
  g_assert_no_error (f->error);
  g_assert_true (g_str_has_prefix (f->user, "Previous summary:\n(none)\n"));
}

static void
test_refused_key (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) messages = two_messages ();

  f->expected_auth = "Bearer another-key";
  run (f, NULL, messages);
  g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_AUTH);
  g_assert_null (strstr (f->error->message, KEY));
  g_assert_null (f->summary);
  g_assert_cmpuint (f->n_rejected, ==, 1);
}

static void
test_no_key (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) messages = two_messages ();
  g_autoptr(GError) error = NULL;

  /* A custom server may need none: no Authorization header at all. */
  lanlan_secrets_clear_sync ("custom", NULL, &error);
  g_assert_no_error (error);
  f->expected_auth = NULL;
  run (f, NULL, messages);
  g_assert_no_error (f->error);
  g_assert_cmpuint (f->n_rejected, ==, 0);

  /* A service always needs one: nothing is sent without it. */
  lanlan_secrets_clear_sync ("qwen", NULL, NULL);
  lanlan_character_set_provider (f->character, "qwen");
  lanlan_character_set_base_url (f->character, "");
  run (f, NULL, messages);
  g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG);
  g_assert_cmpuint (f->n_requests, ==, 1);

  /* A custom provider without an address has no endpoint. */
  lanlan_character_set_provider (f->character, "custom");
  run (f, NULL, messages);
  g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG);
  g_assert_cmpuint (f->n_requests, ==, 1);
}

static void
test_bad_answers (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) messages = two_messages ();
  const char *bad[] = {
    "not json",
    "{\"choices\":[]}",
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null}}]}",
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"   \"}}]}",
    "{\"choices\":[{\"message\":{\"content\":42}}]}",
    "[1,2,3]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_free (f->reply);
      f->reply = g_strdup (bad[i]);
      run (f, NULL, messages);
      g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_BAD_RESPONSE);
      g_assert_null (f->summary);
    }

  f->status = 500;
  set_reply_content (f, "whatever");
  run (f, NULL, messages);
  g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_HTTP);
  g_assert_nonnull (strstr (f->error->message, "500"));

  /* An endless answer is cut off, not buffered. */
  f->status = 200;
  g_free (f->reply);
  f->reply = g_strnfill (3 * 1024 * 1024, ' ');
  run (f, NULL, messages);
  g_assert_error (f->error, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_TOO_LARGE);

  /* A long summary is kept to 4 KiB, whole characters. */
  {
    g_autoptr(GString) s = g_string_new (NULL);
    for (guint i = 0; i < 2000; i++)
      g_string_append (s, "猫");
    set_reply_content (f, s->str);
  }
  run (f, NULL, messages);
  g_assert_no_error (f->error);
  g_assert_cmpuint (strlen (f->summary), <=, 4096);
  g_assert_cmpuint (strlen (f->summary), >, 4090);
  g_assert_true (g_utf8_validate (f->summary, -1, NULL));
  g_assert_cmpuint (f->n_rejected, ==, 0);
}

static void
test_bounded_input (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *filler = g_strnfill (8000, 'x');
      g_autofree char *text = g_strdup_printf ("message-%03u %s", i, filler);
      g_ptr_array_add (messages, lanlan_chat_message_new (i % 2 ? "assistant" : "user", text));
    }
  run (f, "Earlier.", messages);
  g_assert_no_error (f->error);
  g_assert_cmpuint (f->n_rejected, ==, 0);
  g_test_message ("request transcript: %zu bytes", strlen (f->user));
  g_assert_cmpuint (strlen (f->user), <=, 48 * 1024 + 256);
  /* The newest are kept, each cut to 4 KiB. */
  g_assert_nonnull (strstr (f->user, "message-099 "));
  g_assert_null (strstr (f->user, "message-000 "));
  {
    g_autofree char *long_run = g_strnfill (4096, 'x');
    g_assert_null (strstr (f->user, long_run));
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/summarizer/summary", test_summary);
  ADD ("/summarizer/refused-key", test_refused_key);
  ADD ("/summarizer/no-key", test_no_key);
  ADD ("/summarizer/bad-answers", test_bad_answers);
  ADD ("/summarizer/bounded-input", test_bounded_input);
  return g_test_run ();
}
