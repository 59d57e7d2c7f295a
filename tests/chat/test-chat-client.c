/* test-chat-client.c — the chat completions client against a strict fake
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-character.h"
#include "lanlan-chat-client.h"
#include "lanlan-provider.h"
#include "lanlan-fake-chat-server.h"

typedef struct {
  FakeChatServer   *server;
  char             *base;
  LanlanChatClient *client;
  GString          *deltas;
  guint             n_deltas;
  GCancellable     *cancel_after_delta;
  guint             cancel_at;
  GAsyncResult     *result;
} Fixture;

static void
on_delta (LanlanChatClient *client,
          const char       *text,
          Fixture          *f)
{
  g_string_append (f->deltas, text);
  f->n_deltas++;
  if (f->cancel_after_delta != NULL && f->n_deltas == f->cancel_at)
    g_cancellable_cancel (f->cancel_after_delta);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->server = fake_chat_server_new ();
  fake_chat_server_add_model (f->server, "llama3.2", FALSE);
  fake_chat_server_add_model (f->server, "llava", TRUE);
  f->base = fake_chat_server_get_base_url (f->server);
  f->client = lanlan_chat_client_new ("Ollama", f->base, NULL);
  f->deltas = g_string_new (NULL);
  g_signal_connect (f->client, "delta", G_CALLBACK (on_delta), f);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->result);
  g_clear_object (&f->client);
  g_clear_object (&f->cancel_after_delta);
  fake_chat_server_free (f->server);
  g_free (f->base);
  g_string_free (f->deltas, TRUE);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Fixture *f = data;
  f->result = g_object_ref (result);
}

static void
wait_result (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (f->result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (f->result);
}

/* Streams one request and returns its result (or NULL and @error). */
static LanlanChatResult *
run (Fixture            *f,
     LanlanChatRequest  *request,
     GCancellable       *cancellable,
     GError            **error)
{
  g_clear_object (&f->result);
  g_string_truncate (f->deltas, 0);
  f->n_deltas = 0;
  lanlan_chat_client_stream_async (f->client, request, cancellable, on_done, f);
  wait_result (f);
  return lanlan_chat_client_stream_finish (f->client, f->result, error);
}

static LanlanChatRequest *
simple_request (const char *model)
{
  LanlanChatRequest *request = lanlan_chat_request_new (model);

  lanlan_chat_request_add_message (request, "system", "You are Lan.");
  lanlan_chat_request_add_message (request, "user", "Hello “there”");
  return request;
}

static void
test_stream (Fixture       *f,
             gconstpointer  data)
{
  FakeChatScript script = { .mode = FAKE_CHAT_STREAM, .ollama = TRUE,
                            .reply = "Hi! How are you today?", .delta_interval_ms = 5 };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  g_autofree char *body = NULL;

  fake_chat_server_set_default_script (f->server, &script);
  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->text, ==, "Hi! How are you today?");
  g_assert_cmpstr (f->deltas->str, ==, result->text);
  g_assert_cmpuint (f->n_deltas, ==, 5);
  g_assert_cmpstr (result->finish_reason, ==, "stop");
  g_assert_true (result->has_usage);
  g_assert_cmpuint (result->completion_tokens, ==, 5);
  g_assert_cmpuint (result->prompt_tokens, >, 0);

  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "\"model\":\"llama3.2\""));
  g_assert_nonnull (strstr (body, "\"stream\":true"));
  g_assert_nonnull (strstr (body, "\"include_usage\":true"));
  g_assert_nonnull (strstr (body, "{\"role\":\"system\",\"content\":\"You are Lan.\"}"));
  g_assert_nonnull (strstr (body, "Hello “there”"));
  g_assert_cmpuint (fake_chat_server_get_status (f->server, 0), ==, 200);
}

static void
test_key (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  g_autoptr(LanlanChatClient) keyed = lanlan_chat_client_new ("OpenAI", f->base, "sk-right");
  g_autoptr(LanlanChatClient) wrong = lanlan_chat_client_new ("OpenAI", f->base, "sk-wrong-secret");

  fake_chat_server_set_expected_key (f->server, "sk-right");

  /* No key at all. */
  result = run (f, request, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "HTTP 401"));
  g_clear_error (&error);

  /* A wrong key: refused, and never repeated in the message. */
  g_object_unref (f->client);
  f->client = g_object_ref (wrong);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
  g_assert_null (strstr (error->message, "sk-wrong-secret"));
  g_assert_nonnull (strstr (error->message, "Incorrect API key"));
  g_clear_error (&error);

  g_object_unref (f->client);
  f->client = g_object_ref (keyed);
  g_signal_connect (f->client, "delta", G_CALLBACK (on_delta), f);
  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->text, ==, "w0 w1 w2 w3 w4");
}

static void
test_unknown_model (Fixture       *f,
                    gconstpointer  data)
{
  FakeChatScript script = { .ollama = TRUE };
  g_autoptr(LanlanChatRequest) request = simple_request ("mistral");
  g_autoptr(LanlanChatRequest) no_model = simple_request ("");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;

  fake_chat_server_set_default_script (f->server, &script);
  result = run (f, request, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "“mistral”"));
  g_assert_nonnull (strstr (error->message, "try pulling it first"));
  g_assert_cmpuint (fake_chat_server_get_status (f->server, 0), ==, 404);
  g_clear_error (&error);

  /* The fake is as strict as Ollama: no model, no answer. */
  result = run (f, no_model, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "model is required"));
  g_assert_cmpuint (fake_chat_server_get_status (f->server, 1), ==, 400);
}

static void
test_wrong_address (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  g_autofree char *root = g_strndup (f->base, strlen (f->base) - 3);   /* without /v1 */
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *closed = NULL;
  g_autofree char *expected = NULL;
  guint16 port;

  /* Forgot the /v1: Ollama's router answers 404 in plain text. */
  g_object_unref (f->client);
  f->client = lanlan_chat_client_new ("Ollama", root, NULL);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "/v1"));
  g_assert_nonnull (strstr (error->message, "HTTP 404"));
  g_clear_error (&error);

  /* Nothing listening: a port that was just free. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);
  closed = g_strdup_printf ("http://127.0.0.1:%u/v1", port);
  g_object_unref (f->client);
  f->client = lanlan_chat_client_new ("Ollama", closed, NULL);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  expected = g_strdup_printf ("Could not reach Ollama at 127.0.0.1:%u — is it running?", port);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_http_errors (Fixture       *f,
                  gconstpointer  data)
{
  FakeChatScript limited = { .mode = FAKE_CHAT_HTTP_ERROR, .http_status = 429,
                             .error_message = "Rate limit reached for requests" };
  FakeChatScript broken = { .mode = FAKE_CHAT_HTTP_ERROR, .http_status = 503,
                            .error_message = "The engine is currently overloaded" };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;

  fake_chat_server_set_script (f->server, 0, &limited);
  fake_chat_server_set_script (f->server, 1, &broken);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (error->message, "Rate limit reached"));
  g_clear_error (&error);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER);
  g_assert_nonnull (strstr (error->message, "HTTP 503"));
  g_assert_nonnull (strstr (error->message, "overloaded"));
}

static void
test_stall (Fixture       *f,
            gconstpointer  data)
{
  FakeChatScript stall = { .mode = FAKE_CHAT_STALL, .n_deltas = 10, .stall_after = 3 };
  FakeChatScript slow = { .mode = FAKE_CHAT_STREAM, .first_delay_ms = 5000 };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  gint64 start;

  fake_chat_server_set_script (f->server, 0, &stall);
  fake_chat_server_set_script (f->server, 1, &slow);
  lanlan_chat_client_set_timeouts (f->client, 5000, 300);
  start = g_get_monotonic_time ();
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "stopped in the middle"));
  /* What came before the stall was delivered. */
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 ");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* The first byte never comes in time. */
  lanlan_chat_client_set_timeouts (f->client, 300, 300);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "did not answer within 1 s"));
  g_assert_cmpuint (f->n_deltas, ==, 0);
}

static void
test_drop (Fixture       *f,
           gconstpointer  data)
{
  FakeChatScript drop = { .mode = FAKE_CHAT_DROP, .n_deltas = 10, .stall_after = 4 };
  FakeChatScript fail = { .mode = FAKE_CHAT_STREAM_ERROR, .n_deltas = 10, .stall_after = 2,
                          .error_message = "CUDA out of memory" };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;

  fake_chat_server_set_script (f->server, 0, &drop);
  fake_chat_server_set_script (f->server, 1, &fail);
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 w3 ");
  g_clear_error (&error);

  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER);
  g_assert_nonnull (strstr (error->message, "CUDA out of memory"));
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 ");
}

static gboolean
aborted (gpointer data)
{
  Fixture *f = data;
  return fake_chat_server_was_aborted (f->server, 0);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  FakeChatScript slow = { .mode = FAKE_CHAT_STREAM, .n_deltas = 200, .delta_interval_ms = 20 };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  gint64 deadline;

  fake_chat_server_set_default_script (f->server, &slow);
  f->cancel_after_delta = g_cancellable_new ();
  f->cancel_at = 3;
  result = run (f, request, f->cancel_after_delta, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Nothing after the barge-in reached the caller. */
  g_assert_cmpuint (f->n_deltas, ==, 3);
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 ");

  /* The server sees the request go away. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!aborted (f) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  g_assert_true (aborted (f));
}

static void
test_json_answer (Fixture       *f,
                  gconstpointer  data)
{
  FakeChatScript json = { .mode = FAKE_CHAT_JSON, .reply = "One whole answer." };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;

  fake_chat_server_set_default_script (f->server, &json);
  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->text, ==, "One whole answer.");
  g_assert_cmpuint (f->n_deltas, ==, 1);
  g_assert_true (result->has_usage);
}

static void
test_images (Fixture       *f,
             gconstpointer  data)
{
  static const guint8 jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0xFF, 0xD9 };
  g_autoptr(GBytes) picture = g_bytes_new_static (jpeg, sizeof jpeg);
  g_autoptr(LanlanChatRequest) request = simple_request ("llava");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;
  g_autofree char *body = NULL;
  g_autofree char *b64 = g_base64_encode (jpeg, sizeof jpeg);
  g_autofree char *url = g_strdup_printf ("\"url\":\"data:image/jpeg;base64,%s\"", b64);

  lanlan_chat_request_add_image (request, picture);
  g_assert_cmpuint (lanlan_chat_request_get_n_images (request), ==, 1);
  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "{\"type\":\"text\",\"text\":\"Hello “there”\"}"));
  g_assert_nonnull (strstr (body, "\"type\":\"image_url\""));
  g_assert_nonnull (strstr (body, url));
  g_clear_pointer (&result, lanlan_chat_result_free);

  /* A model that cannot see refuses; without the picture it answers. */
  lanlan_chat_request_set_model (request, "llama3.2");
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "image"));
  g_clear_error (&error);
  lanlan_chat_request_drop_images (request);
  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
}

static void
test_raw (Fixture       *f,
          gconstpointer  data)
{
  /* CRLF lines, a comment, a data field split over two lines, an
   * unknown field, and a last event without a blank line. */
  FakeChatScript ok = { .mode = FAKE_CHAT_RAW, .raw =
    ": keep-alive\r\n\r\n"
    "event: message\r\nid: 1\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\n"
    "data: \"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]" };
  FakeChatScript garbage = { .mode = FAKE_CHAT_RAW, .raw =
    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"b\\d\"}}]}\n\n" };
  FakeChatScript no_end = { .mode = FAKE_CHAT_RAW, .raw =
    "data: {\"choices\":[{\"delta\":{\"content\":\"cut\"}}]}\n\n" };
  g_autofree char *huge = NULL;
  FakeChatScript oversized = { .mode = FAKE_CHAT_RAW };
  g_autoptr(LanlanChatRequest) request = simple_request ("llama3.2");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) result = NULL;

  {
    GString *s = g_string_new ("data: \"");
    for (guint i = 0; i < 2 * 1024 * 1024 / 64; i++)
      g_string_append (s, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    huge = g_string_free (s, FALSE);
    oversized.raw = huge;
  }
  fake_chat_server_set_script (f->server, 0, &ok);
  fake_chat_server_set_script (f->server, 1, &garbage);
  fake_chat_server_set_script (f->server, 2, &no_end);
  fake_chat_server_set_script (f->server, 3, &oversized);

  result = run (f, request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->text, ==, "Hello");
  g_clear_pointer (&result, lanlan_chat_result_free);

  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_cmpstr (f->deltas->str, ==, "a");
  g_clear_error (&error);

  /* Closed with no [DONE] and no finish_reason: incomplete. */
  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  g_assert_cmpstr (f->deltas->str, ==, "cut");
  g_clear_error (&error);

  result = run (f, request, NULL, &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "too long"));
}

static void
on_models (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Fixture *f = data;
  f->result = g_object_ref (result);
}

static void
test_models_and_check (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) models = NULL;
  g_autofree char *said = NULL;
  g_autofree char *body = NULL;

  lanlan_chat_client_list_models_async (f->client, NULL, on_models, f);
  wait_result (f);
  models = lanlan_chat_client_list_models_finish (f->client, f->result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (models), ==, 2);
  g_assert_cmpstr (models[0], ==, "llama3.2");
  g_assert_cmpstr (models[1], ==, "llava");

  /* No model chosen yet: the check uses the first one listed. */
  g_clear_object (&f->result);
  lanlan_chat_client_check_async (f->client, NULL, NULL, on_models, f);
  wait_result (f);
  said = lanlan_chat_client_check_finish (f->client, f->result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (said, "Ollama answered with the model “llama3.2”"));
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "\"max_tokens\":1"));

  g_clear_object (&f->result);
  g_clear_pointer (&said, g_free);
  lanlan_chat_client_check_async (f->client, "gemma3", NULL, on_models, f);
  wait_result (f);
  said = lanlan_chat_client_check_finish (f->client, f->result, &error);
  g_assert_null (said);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "“gemma3”"));
}

static void
test_transcribe (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *model = NULL;
  g_autofree char *language = NULL;
  g_autoptr(GArray) received = NULL;
  gint16 pcm[1601];
  guint rate = 0;

  for (guint i = 0; i < G_N_ELEMENTS (pcm); i++)
    pcm[i] = (gint16) (i * 37 - 30000);
  fake_chat_server_set_transcript (f->server, " Hello, Lanlan. ");
  lanlan_chat_client_transcribe_async (f->client, "whisper-1", pcm, G_N_ELEMENTS (pcm), 16000,
                                       "ja-JP", NULL, on_models, f);
  wait_result (f);
  text = lanlan_chat_client_transcribe_finish (f->client, f->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "Hello, Lanlan.");

  /* The server got a WAV file with exactly these samples, and the fields. */
  g_assert_cmpuint (fake_chat_server_get_n_transcriptions (f->server), ==, 1);
  received = fake_chat_server_dup_transcription_audio (f->server, 0, &rate);
  g_assert_cmpuint (rate, ==, 16000);
  g_assert_cmpuint (received->len, ==, G_N_ELEMENTS (pcm));
  g_assert_cmpmem (received->data, received->len * 2, pcm, sizeof pcm);
  model = fake_chat_server_dup_transcription_field (f->server, 0, "model");
  language = fake_chat_server_dup_transcription_field (f->server, 0, "language");
  g_assert_cmpstr (model, ==, "whisper-1");
  g_assert_cmpstr (language, ==, "ja");

  /* A wrong key is refused like everywhere else. */
  fake_chat_server_set_expected_key (f->server, "sk-right");
  g_clear_object (&f->result);
  g_clear_pointer (&text, g_free);
  lanlan_chat_client_transcribe_async (f->client, "whisper-1", pcm, 100, 16000, NULL, NULL, on_models, f);
  wait_result (f);
  text = lanlan_chat_client_transcribe_finish (f->client, f->result, &error);
  g_assert_null (text);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
}

static void
test_presets (void)
{
  const LanlanChatPreset **list;
  guint n = 0;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  const LanlanChatPreset *ollama = lanlan_chat_preset_lookup ("ollama");
  const LanlanChatPreset *custom = lanlan_chat_preset_lookup ("openai-compatible");
  const LanlanChatPreset *openai = lanlan_chat_preset_lookup ("openai");

  list = lanlan_chat_preset_list (&n);
  g_assert_cmpuint (n, >=, 8);
  g_assert_null (list[n]);
  for (const char *id = "ollama\0llama-cpp\0lm-studio\0openai\0deepseek\0qwen\0glm\0"; *id; id += strlen (id) + 1)
    g_assert_nonnull (lanlan_chat_preset_lookup (id));
  g_assert_true (lanlan_chat_preset_get_default () == ollama);
  g_assert_cmpstr (lanlan_chat_preset_lookup ("llama-cpp")->base_url, ==, "http://localhost:8080/v1");
  g_assert_cmpstr (lanlan_chat_preset_lookup ("lm-studio")->base_url, ==, "http://localhost:1234/v1");
  g_assert_true (lanlan_chat_preset_for_provider ("custom-text") == custom);
  g_assert_true (lanlan_chat_preset_for_provider ("openai") == openai);
  g_assert_null (lanlan_chat_preset_for_provider ("nonsense"));

  url = lanlan_chat_preset_resolve_url (ollama, NULL, &error);
  g_assert_cmpstr (url, ==, "http://localhost:11434/v1");
  g_clear_pointer (&url, g_free);
  url = lanlan_chat_preset_resolve_url (custom, "ws://10.0.0.2:8000/v1/realtime?model=x", &error);
  g_assert_cmpstr (url, ==, "http://10.0.0.2:8000/v1");
  g_clear_pointer (&url, g_free);
  url = lanlan_chat_preset_resolve_url (custom, " http://box:8080/v1/chat/completions/ ", &error);
  g_assert_cmpstr (url, ==, "http://box:8080/v1");
  g_clear_pointer (&url, g_free);
  url = lanlan_chat_preset_resolve_url (custom, NULL, &error);
  g_assert_null (url);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_clear_error (&error);
  url = lanlan_chat_preset_resolve_url (custom, "ftp://x/v1", &error);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);

  g_assert_false (lanlan_chat_preset_needs_key (openai, "http://127.0.0.1:9/v1"));
  g_assert_false (lanlan_chat_preset_needs_key (openai, "http://localhost:9/v1"));
  g_assert_false (lanlan_chat_preset_needs_key (openai, "http://[::1]:9/v1"));
  g_assert_true (lanlan_chat_preset_needs_key (openai, "https://api.openai.com/v1"));
  g_assert_false (lanlan_chat_preset_needs_key (ollama, "http://192.168.1.5:11434/v1"));
}

/* Summaries and translation find a text-mode character's chat server. */
static void
test_chat_endpoint (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Lan");
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *model = NULL;

  lanlan_character_set_input_mode (c, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (c, "deepseek");
  g_assert_true (lanlan_provider_get_chat_endpoint (c, &url, &model, &error));
  g_assert_cmpstr (url, ==, "https://api.deepseek.com/v1");
  g_assert_cmpstr (model, ==, "deepseek-chat");
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&model, g_free);

  lanlan_character_set_provider (c, "ollama");
  lanlan_character_set_model (c, "qwen2.5:7b");
  g_assert_true (lanlan_provider_get_chat_endpoint (c, &url, &model, &error));
  g_assert_cmpstr (url, ==, "http://localhost:11434/v1");
  g_assert_cmpstr (model, ==, "qwen2.5:7b");
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&model, g_free);

  /* "The first model listed" cannot be known here: say so. */
  lanlan_character_set_model (c, "");
  g_assert_false (lanlan_provider_get_chat_endpoint (c, &url, &model, &error));
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_null (url);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/chat/client/" path, Fixture, NULL, setup, func, teardown)
  ADD ("stream", test_stream);
  ADD ("key", test_key);
  ADD ("unknown-model", test_unknown_model);
  ADD ("wrong-address", test_wrong_address);
  ADD ("http-errors", test_http_errors);
  ADD ("stall", test_stall);
  ADD ("drop", test_drop);
  ADD ("cancel", test_cancel);
  ADD ("json-answer", test_json_answer);
  ADD ("images", test_images);
  ADD ("raw-events", test_raw);
  ADD ("models-and-check", test_models_and_check);
  ADD ("transcribe", test_transcribe);
#undef ADD
  g_test_add_func ("/chat/presets", test_presets);
  g_test_add_func ("/chat/presets/chat-endpoint", test_chat_endpoint);

  return g_test_run ();
}
