/* test-realtime-client.c — the WebSocket client against a loopback server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-fake-server.h"
#include "lanlan-realtime-client.h"

typedef struct {
  FakeServer           *server;
  LanlanRealtimeClient *client;
  gboolean              connect_done;
  GError               *connect_error;
  GPtrArray            *types;        /* event type names, in order */
  GByteArray           *audio;
  guint                 n_protocol_errors;
  gboolean              closed;
  GError               *close_error;
  GString              *transcript;
} Fixture;

static const LanlanRealtimeConfig config = {
  .instructions = "You are a test.", .voice = "alloy", .server_vad = TRUE,
};

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->server = fake_server_new ();
  f->types = g_ptr_array_new_with_free_func (g_free);
  f->audio = g_byte_array_new ();
  f->transcript = g_string_new (NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  fake_server_free (f->server);
  g_ptr_array_unref (f->types);
  g_byte_array_unref (f->audio);
  g_string_free (f->transcript, TRUE);
  g_clear_error (&f->connect_error);
  g_clear_error (&f->close_error);
}

static void
on_event (LanlanRealtimeClient      *client,
          const LanlanRealtimeEvent *event,
          Fixture                   *f)
{
  g_ptr_array_add (f->types, g_strdup (event->type_name));
  if (event->type == LANLAN_REALTIME_EVENT_AUDIO_DELTA)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (event->audio, &size);
      g_byte_array_append (f->audio, data, size);
    }
  else if (event->type == LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA)
    g_string_append (f->transcript, event->text);
}

static void
on_protocol_error (LanlanRealtimeClient *client,
                   GError               *error,
                   Fixture              *f)
{
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
  f->n_protocol_errors++;
}

static void
on_closed (LanlanRealtimeClient *client,
           GError               *error,
           Fixture              *f)
{
  g_assert_false (f->closed);
  f->closed = TRUE;
  f->close_error = error ? g_error_copy (error) : NULL;
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;

  lanlan_realtime_client_connect_finish (LANLAN_REALTIME_CLIENT (source), result,
                                         &f->connect_error);
  f->connect_done = TRUE;
}

static gboolean
connect_done (gpointer data)
{
  return ((Fixture *) data)->connect_done;
}

static gboolean
is_closed (gpointer data)
{
  return ((Fixture *) data)->closed;
}

static void
connect_client (Fixture    *f,
                const char *provider,
                const char *url,
                const char *key)
{
  g_autofree char *default_url = fake_server_get_url (f->server, NULL);

  f->client = lanlan_realtime_client_new (lanlan_provider_lookup (provider),
                                          url ? url : default_url, key);
  lanlan_realtime_client_set_timeouts (f->client, 3000, 500);
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "protocol-error", G_CALLBACK (on_protocol_error), f);
  g_signal_connect (f->client, "closed", G_CALLBACK (on_closed), f);
  lanlan_realtime_client_connect_async (f->client, &config, NULL, connected_cb, f);
  g_assert_true (test_wait_until (connect_done, f, 5000));
}

typedef struct {
  Fixture    *f;
  const char *type;
} WaitType;

static gboolean
has_type (gpointer data)
{
  WaitType *w = data;

  for (guint i = 0; i < w->f->types->len; i++)
    if (g_str_equal (g_ptr_array_index (w->f->types, i), w->type))
      return TRUE;
  return FALSE;
}

static void
wait_type (Fixture    *f,
           const char *type)
{
  WaitType w = { f, type };
  g_assert_true (test_wait_until (has_type, &w, 5000));
}

static void
run_conversation (Fixture  *f,
                  gboolean  beta)
{
  FakeScript script = { .beta = beta, .n_deltas = 8, .samples_per_delta = 240 };
  g_autofree char *auth = NULL;
  g_autoptr(GPtrArray) received = NULL;
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GArray) samples = NULL;
  gint16 mic[1000];
  const gint16 *audio;

  fake_server_set_default_script (f->server, &script);
  fake_server_set_expected_key (f->server, "sk-test-123");
  connect_client (f, beta ? "custom-beta" : "custom", NULL, "sk-test-123");
  g_assert_no_error (f->connect_error);
  g_assert_true (lanlan_realtime_client_is_open (f->client));

  auth = fake_server_dup_auth (f->server, 0);
  g_assert_cmpstr (auth, ==, "Bearer sk-test-123");
  received = fake_server_dup_received (f->server, 0);
  g_assert_cmpuint (received->len, >=, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"type\":\"session.update\""));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0),
                            beta ? "\"input_audio_format\":\"pcm16\"" : "\"type\":\"realtime\""));

  for (guint i = 0; i < G_N_ELEMENTS (mic); i++)
    mic[i] = (gint16) (i * 7 - 3000);
  g_assert_true (lanlan_realtime_client_append_audio (f->client, mic, 600));
  g_assert_true (lanlan_realtime_client_append_audio (f->client, mic + 600, 400));
  g_assert_true (lanlan_realtime_client_commit_audio (f->client));
  g_assert_true (lanlan_realtime_client_create_item (f->client, "user", "Hello “friend”"));
  g_assert_true (lanlan_realtime_client_create_item (f->client, "assistant", "Hi!"));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");

  samples = fake_server_dup_samples (f->server, 0);
  g_assert_cmpuint (samples->len, ==, 1000);
  g_assert_cmpmem (samples->data, samples->len * 2, mic, sizeof mic);
  g_assert_cmpuint (lanlan_realtime_client_get_samples_sent (f->client), ==, 1000);
  items = fake_server_dup_items (f->server, 0);
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (items, 0), ==, "user:Hello “friend”");
  g_assert_cmpstr (g_ptr_array_index (items, 1), ==, "assistant:Hi!");

  g_assert_cmpuint (f->audio->len, ==, 8 * 240 * 2);
  audio = (const gint16 *) f->audio->data;
  for (guint d = 0; d < 8; d++)
    g_assert_cmpint (audio[d * 240], ==, d + 1);
  g_assert_cmpstr (f->transcript->str, ==, "w0 w1 w2 w3 w4 w5 w6 w7 ");
  g_assert_true (has_type (&(WaitType) { f, "response.created" }));
  g_assert_true (has_type (&(WaitType) { f, "response.output_item.added" }));
  g_assert_true (has_type (&(WaitType) { f, beta ? "response.audio_transcript.done"
                                                 : "response.output_audio_transcript.done" }));
  g_assert_true (has_type (&(WaitType) { f, beta ? "conversation.item.created"
                                                 : "conversation.item.added" }));

  g_assert_true (lanlan_realtime_client_truncate (f->client, "item_0_1", 0, 123));
  g_assert_true (lanlan_realtime_client_clear_audio (f->client));
  wait_type (f, "conversation.item.truncated");
  g_assert_cmpint (fake_server_get_truncate_ms (f->server, 0), ==, 123);

  lanlan_realtime_client_close (f->client);
  g_assert_true (f->closed);
  g_assert_null (f->close_error);
  g_assert_false (lanlan_realtime_client_append_audio (f->client, mic, 10));
}

static void
test_ga (Fixture *f, gconstpointer data)
{
  run_conversation (f, FALSE);
}

static void
test_beta (Fixture *f, gconstpointer data)
{
  run_conversation (f, TRUE);
}

static void
test_refused_key_http (Fixture *f, gconstpointer data)
{
  g_autofree char *url = fake_server_get_url (f->server, "/unauthorized");

  connect_client (f, "custom", url, "sk-wrong");
  g_assert_error (f->connect_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
  g_assert_null (strstr (f->connect_error->message, "sk-wrong"));
  g_assert_false (f->closed);
}

static void
test_refused_key_close (Fixture *f, gconstpointer data)
{
  fake_server_set_expected_key (f->server, "right");
  connect_client (f, "custom", NULL, "wrong");
  g_assert_error (f->connect_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
}

static void
test_connection_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autofree char *url = NULL;

  /* Find a free port, then close it so nothing listens there. */
  g_assert_true (g_socket_listener_add_address (listener, addr, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &effective, NULL));
  url = g_strdup_printf ("ws://127.0.0.1:%u/v1/realtime",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  g_socket_listener_close (listener);

  connect_client (f, "custom", url, "k");
  g_assert_error (f->connect_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
}

static void
test_session_rejected (Fixture *f, gconstpointer data)
{
  FakeScript script = { .reject_session = TRUE, .n_deltas = 1, .samples_per_delta = 10 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  g_assert_error (f->connect_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER);
  g_assert_nonnull (strstr (f->connect_error->message, "Unknown voice"));
}

static void
test_connect_timeout (Fixture *f, gconstpointer data)
{
  FakeScript script = { .session_delay_ms = 5000, .n_deltas = 1, .samples_per_delta = 10 };
  g_autofree char *url = fake_server_get_url (f->server, NULL);

  fake_server_set_default_script (f->server, &script);
  f->client = lanlan_realtime_client_new (lanlan_provider_lookup ("custom"), url, "k");
  lanlan_realtime_client_set_timeouts (f->client, 300, 500);
  lanlan_realtime_client_connect_async (f->client, &config, NULL, connected_cb, f);
  g_assert_true (test_wait_until (connect_done, f, 3000));
  g_assert_error (f->connect_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT);
}

static void
test_garbage_keeps_connection (Fixture *f, gconstpointer data)
{
  FakeScript script = { .garbage_first = TRUE, .n_deltas = 2, .samples_per_delta = 10 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  g_assert_no_error (f->connect_error);
  fake_server_send (f->server, 0, "{\"type\":\"response.output_audio.delta\",\"delta\":\"%%%\"}");
  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"u\"}");
  wait_type (f, "input_audio_buffer.speech_started");
  g_assert_cmpuint (lanlan_realtime_client_get_n_bad_events (f->client), ==, 3);
  g_assert_cmpuint (f->n_protocol_errors, ==, 3);
  g_assert_cmpuint (lanlan_realtime_client_get_n_unknown_events (f->client), ==, 1);
  g_assert_true (lanlan_realtime_client_is_open (f->client));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");
  g_assert_false (f->closed);
}

static void
test_response_stall (Fixture *f, gconstpointer data)
{
  FakeScript script = { .on_response = FAKE_RESPONSE_STALL, .n_deltas = 1, .samples_per_delta = 10 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  g_assert_no_error (f->connect_error);
  lanlan_realtime_client_create_response (f->client);
  g_assert_true (test_wait_until (is_closed, f, 3000));
  g_assert_error (f->close_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT);
}

static void
test_error_event (Fixture *f, gconstpointer data)
{
  FakeScript script = { .on_response = FAKE_RESPONSE_ERROR, .n_deltas = 1, .samples_per_delta = 10 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  lanlan_realtime_client_create_response (f->client);
  wait_type (f, "error");
  g_assert_false (f->closed);
}

static void
test_expiry (Fixture *f, gconstpointer data)
{
  FakeScript script = { .on_response = FAKE_RESPONSE_EXPIRE, .n_deltas = 3, .samples_per_delta = 10 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  lanlan_realtime_client_create_response (f->client);
  g_assert_true (test_wait_until (is_closed, f, 3000));
  g_assert_error (f->close_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_EXPIRED);
  g_assert_true (has_type (&(WaitType) { f, "response.done" }));
}

static void
test_drop (Fixture *f, gconstpointer data)
{
  FakeScript script = { .on_response = FAKE_RESPONSE_DROP, .n_deltas = 10,
                        .samples_per_delta = 10, .delta_interval_ms = 5 };

  fake_server_set_default_script (f->server, &script);
  connect_client (f, "custom", NULL, "k");
  lanlan_realtime_client_create_response (f->client);
  g_assert_true (test_wait_until (is_closed, f, 3000));
  g_assert_error (f->close_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  g_assert_cmpuint (f->audio->len, ==, 5 * 10 * 2);
}

static void
send_image (Fixture    *f,
            const char *provider,
            gboolean    beta)
{
  FakeScript script = { .beta = beta, .n_deltas = 1, .samples_per_delta = 10 };
  g_autofree char *url = fake_server_get_url (f->server, NULL);
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("\xff\xd8\xff\xe0" "fakejpeg", 12);

  fake_server_set_default_script (f->server, &script);
  connect_client (f, provider, url, "k");
  g_assert_no_error (f->connect_error);
  g_assert_true (lanlan_realtime_client_append_image (f->client, jpeg));
  lanlan_realtime_client_create_response (f->client);
  wait_type (f, "response.done");
}

static void
test_image_beta (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) received = NULL;

  send_image (f, "qwen", TRUE);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_image_buffer.append"), ==, 1);
  received = fake_server_dup_received (f->server, 0);
  /* Qwen's session: 16 kHz microphone, pcm24 output, beta shape. */
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"output_audio_format\":\"pcm24\""));
}

static void
test_image_ga (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) received = NULL;

  send_image (f, "openai", FALSE);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_image_buffer.append"), ==, 0);
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 1), "\"type\":\"input_image\""));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 1), "data:image/jpeg;base64,"));
}

static void
test_no_image_support (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("x", 1);

  connect_client (f, "stepfun", NULL, "k");
  g_assert_no_error (f->connect_error);
  g_assert_false (lanlan_realtime_client_append_image (f->client, jpeg));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/realtime/client/ga", test_ga);
  ADD ("/realtime/client/beta", test_beta);
  ADD ("/realtime/client/refused-key-http", test_refused_key_http);
  ADD ("/realtime/client/refused-key-close", test_refused_key_close);
  ADD ("/realtime/client/connection-refused", test_connection_refused);
  ADD ("/realtime/client/session-rejected", test_session_rejected);
  ADD ("/realtime/client/connect-timeout", test_connect_timeout);
  ADD ("/realtime/client/garbage-keeps-connection", test_garbage_keeps_connection);
  ADD ("/realtime/client/response-stall", test_response_stall);
  ADD ("/realtime/client/error-event", test_error_event);
  ADD ("/realtime/client/expiry", test_expiry);
  ADD ("/realtime/client/drop", test_drop);
  ADD ("/realtime/client/image-beta", test_image_beta);
  ADD ("/realtime/client/image-ga", test_image_ga);
  ADD ("/realtime/client/no-image-support", test_no_image_support);

  return g_test_run ();
}
