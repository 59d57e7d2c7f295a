/* test-realtime-client.c — the WebSocket client against a loopback server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lanlan-fake-server.h"
#include "lanlan-message-cap.h"
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
  lanlan_realtime_client_set_timeouts (f->client, test_scale_ms (3000), test_scale_ms (3000));
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

/* The client provoked no `error` from the fake service. */
static void
assert_no_errors (Fixture *f,
                  guint    index)
{
  g_autofree char *errors = fake_server_dup_errors (f->server, index);

  g_assert_cmpstr (errors, ==, "");
  g_assert_false (has_type (&(WaitType) { f, "error" }));
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

  g_assert_true (lanlan_realtime_client_truncate (f->client, "item_0_1", 0, 50));
  g_assert_true (lanlan_realtime_client_clear_audio (f->client));
  wait_type (f, "conversation.item.truncated");
  g_assert_cmpint (fake_server_get_truncate_ms (f->server, 0), ==, 50);

  assert_no_errors (f, 0);
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
  /* Only here a short wait for response.created (elsewhere a loaded
   * machine could hit it). */
  lanlan_realtime_client_set_timeouts (f->client, test_scale_ms (3000), test_scale_ms (500));
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

static gboolean
fake_errors_seen (Fixture *f)
{
  return fake_server_count_errors (f->server, 0) > 0;
}

static gboolean
all_samples_in (Fixture *f)
{
  g_autoptr(GArray) samples = fake_server_dup_samples (f->server, 0);

  return samples->len == 200 * 128;
}

static void connect_config (Fixture *f, const char *provider, FakeProvider fake,
                            const LanlanRealtimeConfig *cfg, const FakeScript *base);

/* The provider's own default voice. */
static const LanlanRealtimeConfig provider_config = {
  .instructions = "You are a test.", .server_vad = TRUE,
};

static void
connect_provider (Fixture      *f,
                  const char   *provider,
                  FakeProvider  fake)
{
  FakeScript script = { .n_deltas = 4, .samples_per_delta = 480 };

  connect_config (f, provider, fake, &provider_config, &script);
}

static void
append_ms (Fixture *f,
           guint    ms)
{
  guint rate = lanlan_realtime_client_get_provider (f->client)->input_rate;
  g_autofree gint16 *pcm = g_new0 (gint16, rate * ms / 1000);

  for (guint i = 0; i < rate * ms / 1000; i++)
    pcm[i] = (gint16) (i % 1000);
  g_assert_true (lanlan_realtime_client_append_audio (f->client, pcm, rate * ms / 1000));
}

static void
test_image_qwen (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) old = g_bytes_new_static ("\xff\xd8old", 5);
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("\xff\xd8\xff\xe0" "fakejpeg", 12);
  g_autoptr(GPtrArray) received = NULL;

  connect_provider (f, "qwen", FAKE_PROVIDER_QWEN);
  received = fake_server_dup_received (f->server, 0);
  /* Qwen's session: 16 kHz pcm16 in, pcm24 out, beta shape. */
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"output_audio_format\":\"pcm24\""));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"input_audio_format\":\"pcm16\""));

  /* Before any audio a picture waits; the newest one goes once audio is in. */
  g_assert_true (lanlan_realtime_client_append_image (f->client, old));
  g_assert_true (lanlan_realtime_client_append_image (f->client, jpeg));
  append_ms (f, 40);
  g_assert_true (lanlan_realtime_client_commit_audio (f->client));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_image_buffer.append"), ==, 1);
  /* After the commit the buffer is empty again: the next picture waits. */
  g_assert_true (lanlan_realtime_client_append_image (f->client, jpeg));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.created");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_image_buffer.append"), ==, 1);
  assert_no_errors (f, 0);
}

static void
test_image_glm (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("\xff\xd8\xff\xe0" "fakejpeg", 12);
  g_autoptr(GPtrArray) received = NULL;
  g_autoptr(GArray) samples = NULL;

  connect_provider (f, "glm", FAKE_PROVIDER_GLM);
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"input_audio_format\":\"wav\""));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"chat_mode\":\"video_passive\""));
  append_ms (f, 40);
  g_assert_true (lanlan_realtime_client_append_image (f->client, jpeg));
  g_assert_true (lanlan_realtime_client_commit_audio (f->client));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_audio_buffer.append_video_frame"), ==, 1);
  /* Every append was a WAV file holding exactly the PCM. */
  samples = fake_server_dup_samples (f->server, 0);
  g_assert_cmpuint (samples->len, ==, 16000 * 40 / 1000);
  g_assert_cmpint (g_array_index (samples, gint16, 7), ==, 7);
  assert_no_errors (f, 0);
}

static void
test_image_ga (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("\xff\xd8\xff\xe0" "fakejpeg", 12);
  g_autoptr(GPtrArray) received = NULL;

  connect_provider (f, "openai", FAKE_PROVIDER_OPENAI);
  g_assert_true (lanlan_realtime_client_append_image (f->client, jpeg));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "input_image_buffer.append"), ==, 0);
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 1), "\"type\":\"input_image\""));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 1), "data:image/jpeg;base64,"));
  assert_no_errors (f, 0);
}

static gboolean
instructions_have_rain (gpointer data)
{
  Fixture *f = data;
  g_autofree char *instructions = fake_server_dup_instructions (f->server, 0);

  return instructions != NULL && strstr (instructions, "Context: It rains.") != NULL;
}

/* Qwen has no conversation items: typed text and primed turns go into the
 * instructions, with one session.update before response.create. */
static void
test_qwen_text (Fixture *f, gconstpointer data)
{
  g_autofree char *instructions = NULL;

  connect_provider (f, "qwen", FAKE_PROVIDER_QWEN);
  g_assert_true (lanlan_realtime_client_create_item (f->client, "user", "Earlier question"));
  g_assert_true (lanlan_realtime_client_create_item (f->client, "assistant", "Earlier answer"));
  g_assert_true (lanlan_realtime_client_create_item (f->client, "user", "Hello “friend”"));
  g_assert_true (lanlan_realtime_client_create_response (f->client));
  wait_type (f, "response.done");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "conversation.item.create"), ==, 0);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "session.update"), ==, 2);
  instructions = fake_server_dup_instructions (f->server, 0);
  g_assert_true (g_str_has_prefix (instructions, "You are a test."));
  g_assert_nonnull (strstr (instructions, "User: Earlier question\nAssistant: Earlier answer\n"
                                          "User: Hello “friend”"));
  /* No truncate on Qwen; a cancel after the answer ended sends nothing. */
  g_assert_false (lanlan_realtime_client_truncate (f->client, "item_0_1", 0, 10));
  g_assert_false (lanlan_realtime_client_cancel_response (f->client));

  /* Priming without an answer still reaches the service. */
  g_assert_true (lanlan_realtime_client_create_item (f->client, "system", "It rains."));
  g_assert_true (test_wait_until (instructions_have_rain, f, 5000));
  assert_no_errors (f, 0);
}


static void
connect_config (Fixture                    *f,
                const char                 *provider,
                FakeProvider                fake,
                const LanlanRealtimeConfig *cfg,
                const FakeScript           *base)
{
  g_autofree char *url = fake_server_get_url (f->server, NULL);
  FakeScript script = *base;

  script.provider = fake;
  script.beta = fake != FAKE_PROVIDER_OPENAI && fake != FAKE_PROVIDER_GENERIC;
  fake_server_set_default_script (f->server, &script);
  f->client = lanlan_realtime_client_new (lanlan_provider_lookup (provider), url, "k");
  lanlan_realtime_client_set_timeouts (f->client, test_scale_ms (3000), test_scale_ms (3000));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "protocol-error", G_CALLBACK (on_protocol_error), f);
  g_signal_connect (f->client, "closed", G_CALLBACK (on_closed), f);
  lanlan_realtime_client_connect_async (f->client, cfg, NULL, connected_cb, f);
  g_assert_true (test_wait_until (connect_done, f, 5000));
  g_assert_no_error (f->connect_error);
}

/* OpenAI wants ISO-639-1 for the transcription language. */
static void
test_language (Fixture *f, gconstpointer data)
{
  LanlanRealtimeConfig cfg = config;
  FakeScript script = { .n_deltas = 1, .samples_per_delta = 10 };
  g_autoptr(GPtrArray) received = NULL;

  cfg.language = "zh-CN";
  connect_config (f, "openai", FAKE_PROVIDER_OPENAI, &cfg, &script);
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"language\":\"zh\""));
  assert_no_errors (f, 0);
}

/* Every client event carries an event_id. */
static void
test_event_ids (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) received = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  connect_provider (f, "openai", FAKE_PROVIDER_OPENAI);
  append_ms (f, 30);
  lanlan_realtime_client_commit_audio (f->client);
  lanlan_realtime_client_create_item (f->client, "user", "Hi");
  lanlan_realtime_client_create_response (f->client);
  wait_type (f, "response.done");
  received = fake_server_dup_received (f->server, 0);
  g_assert_cmpuint (received->len, >=, 5);
  for (guint i = 0; i < received->len; i++)
    {
      const char *at = strstr (g_ptr_array_index (received, i), "\"event_id\":\"");
      g_autofree char *id = NULL;

      g_assert_nonnull (at);
      id = g_strndup (at + 12, strcspn (at + 12, "\""));
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, g_steal_pointer (&id));
    }
  assert_no_errors (f, 0);
}

static void
cancel_on_created (LanlanRealtimeClient      *client,
                   const LanlanRealtimeEvent *event,
                   Fixture                   *f)
{
  if (event->type == LANLAN_REALTIME_EVENT_RESPONSE_CREATED)
    lanlan_realtime_client_cancel_response (client);
}

/* A cancel that crosses the end of the answer: the service refuses it,
 * naming our event_id, and nobody hears of it. */
static void
test_cancel_race (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 2, .samples_per_delta = 10, .answer_at_once = TRUE };

  connect_config (f, "openai", FAKE_PROVIDER_OPENAI, &config, &script);
  g_signal_connect (f->client, "event", G_CALLBACK (cancel_on_created), f);
  /* The fake sends the whole answer before it reads the cancel (answer_at_once:
   * streamed from an idle source, the cancel could be read first on a loaded
   * machine and the answer really cancelled). */
  lanlan_realtime_client_create_response (f->client);
  wait_type (f, "response.done");
  g_assert_true (test_wait_until ((GSourceFunc) (gpointer) fake_errors_seen, f, 15000));
  g_assert_false (has_type (&(WaitType) { f, "error" }));
  g_assert_true (lanlan_realtime_client_is_open (f->client));
  /* After response.done, a cancel sends nothing at all. */
  g_assert_false (lanlan_realtime_client_cancel_response (f->client));
}

/* With server VAD the service ends its own answer when speech starts. */
static void
test_server_vad_barge_in (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 50, .samples_per_delta = 480, .delta_interval_ms = 10 };

  connect_config (f, "openai", FAKE_PROVIDER_OPENAI, &config, &script);
  lanlan_realtime_client_create_response (f->client);
  wait_type (f, "response.output_audio.delta");
  fake_server_speech_started (f->server, 0);
  wait_type (f, "input_audio_buffer.speech_started");
  g_assert_false (lanlan_realtime_client_cancel_response (f->client));
  g_assert_true (lanlan_realtime_client_truncate (f->client, "item_0_1", 0, 10));
  wait_type (f, "conversation.item.truncated");
  wait_type (f, "response.done");
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.cancel"), ==, 0);
  assert_no_errors (f, 0);
}

/* Microphone audio in capture quanta of 128 samples goes out in appends
 * of at least 20 ms, not one append per quantum. */
static void
test_audio_batching (Fixture *f, gconstpointer data)
{
  gint16 quantum[128];
  guint n_quanta = 200;
  guint appends;
  g_autoptr(GArray) samples = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (quantum); i++)
    quantum[i] = (gint16) i;
  connect_provider (f, "openai", FAKE_PROVIDER_OPENAI);
  for (guint i = 0; i < n_quanta; i++)
    g_assert_true (lanlan_realtime_client_append_audio (f->client, quantum, G_N_ELEMENTS (quantum)));
  /* The tail goes out by itself shortly after. */
  g_assert_true (test_wait_until ((GSourceFunc) (gpointer) all_samples_in, f, 3000));
  samples = fake_server_dup_samples (f->server, 0);
  appends = fake_server_count_type (f->server, 0, "input_audio_buffer.append");
  g_test_message ("%u quanta of 128 samples at 24 kHz (%.0f ms) went out as %u appends "
                  "(%.1f per second of audio, was %.1f)", n_quanta, n_quanta * 128 / 24.0,
                  appends, appends / (n_quanta * 128 / 24000.0), 24000.0 / 128);
  g_assert_cmpuint (samples->len, ==, n_quanta * 128);
  g_assert_cmpuint (appends, <=, n_quanta * 128 / 480 + 1);
  g_assert_cmpuint (fake_server_get_min_append (f->server, 0), >=, 480);
  g_assert_cmpuint (lanlan_realtime_client_get_samples_sent (f->client), ==, n_quanta * 128);
  assert_no_errors (f, 0);
}

static gboolean
under_memory_checker (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
  return TRUE;
# endif
#endif
  return g_getenv ("LANLAN_UNDER_VALGRIND") != NULL;
}

static gsize
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  gsize pages = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%zu %zu", &pages, &resident);
  return resident * (gsize) sysconf (_SC_PAGESIZE);
}

/* A message sent as many fragments is capped as a whole (issue #17). */
static void
test_fragmented_cap (Fixture *f, gconstpointer data)
{
  guint64 total = 256 * 1024 * 1024;
  gsize before, after;

  connect_provider (f, "openai", FAKE_PROVIDER_OPENAI);
  before = rss_bytes ();
  fake_server_send_fragmented (f->server, 0, total, 64 * 1024);
  g_assert_true (test_wait_until (is_closed, f, 20000));
  after = rss_bytes ();
  g_test_message ("256 MiB in 64 KiB fragments: RSS %zu MB → %zu MB", before >> 20, after >> 20);
  g_assert_error (f->close_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (f->close_error->message, "MiB"));
  /* Memory checkers keep their own shadow copies: judge RSS without them. */
  if (!under_memory_checker ())
    g_assert_cmpuint (after, <, before + 96 * 1024 * 1024);
}

static void
test_no_image_support (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("x", 1);

  connect_provider (f, "stepfun", FAKE_PROVIDER_STEPFUN);
  g_assert_false (lanlan_realtime_client_append_image (f->client, jpeg));
  assert_no_errors (f, 0);
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
  ADD ("/realtime/client/image-qwen", test_image_qwen);
  ADD ("/realtime/client/image-glm", test_image_glm);
  ADD ("/realtime/client/qwen-text", test_qwen_text);
  ADD ("/realtime/client/language", test_language);
  ADD ("/realtime/client/event-ids", test_event_ids);
  ADD ("/realtime/client/cancel-race", test_cancel_race);
  ADD ("/realtime/client/server-vad-barge-in", test_server_vad_barge_in);
  ADD ("/realtime/client/audio-batching", test_audio_batching);
  ADD ("/realtime/client/fragmented-cap", test_fragmented_cap);
  ADD ("/realtime/client/image-ga", test_image_ga);
  ADD ("/realtime/client/no-image-support", test_no_image_support);

  return g_test_run ();
}
