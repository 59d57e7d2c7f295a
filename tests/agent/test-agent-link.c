/* test-agent-link.c — a character's session joined to a real ZeroMQ agent
 *
 * A session manager talks with the loopback realtime server; a C ZeroMQ
 * peer plays the agent on 127.0.0.1. The link must publish session
 * events, send analyze requests with only the messages the agent has not
 * seen, inject results addressed to this character into the session (the
 * realtime server receives them as a system item), show them as
 * notifications, ignore results for other characters, and follow a
 * rename.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <zmq.h>

#include "lanlan-agent-link.h"
#include "lanlan-counting-sink.h"
#include "lanlan-fake-server.h"

typedef struct {
  FakeServer           *server;
  LanlanAgentBridge    *bridge;
  LanlanSessionManager *session;
  LanlanCountingSink   *sink;
  LanlanCharacter      *character;
  LanlanAgentLink      *link;
  void                 *ctx;
  void                 *agent_pull;
  void                 *agent_push;
  void                 *agent_sub;
  GPtrArray            *notifications;
  guint                 turns;
} Fixture;

static void *
peer_socket (Fixture           *f,
             int                type,
             LanlanAgentSocket  which)
{
  g_autofree char *endpoint = lanlan_agent_bridge_dup_endpoint (f->bridge, which);
  void *sock = zmq_socket (f->ctx, type);
  int linger = 0;

  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
  if (type == ZMQ_SUB)
    zmq_setsockopt (sock, ZMQ_SUBSCRIBE, "", 0);
  g_assert_cmpint (zmq_connect (sock, endpoint), ==, 0);
  return sock;
}

static void
on_notification (LanlanAgentLink *link,
                 const char      *text,
                 gboolean         is_error,
                 Fixture         *f)
{
  g_ptr_array_add (f->notifications, g_strdup_printf ("%s%s", is_error ? "error:" : "", text));
}

static void
on_turn_ended (LanlanSessionManager *session,
               Fixture              *f)
{
  f->turns++;
}

static gboolean
is_connected (gpointer data)
{
  Fixture *f = data;
  return lanlan_session_manager_get_state (f->session) == LANLAN_SESSION_STATE_CONNECTED;
}

/* Receives one JSON message on a peer socket while the main context runs. */
static JsonObject *
peer_recv (Fixture *f,
           void    *sock,
           guint    timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  char buf[65536];

  while (g_get_monotonic_time () < deadline)
    {
      int n = zmq_recv (sock, buf, sizeof buf - 1, ZMQ_DONTWAIT);

      if (n >= 0)
        {
          g_autoptr(JsonParser) parser = json_parser_new ();

          buf[MIN ((gsize) n, sizeof buf - 1)] = '\0';
          g_assert_true (json_parser_load_from_data (parser, buf, -1, NULL));
          return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return NULL;
}

/* The next message of @event_type, skipping others (heartbeats, etc.). */
static JsonObject *
peer_expect (Fixture    *f,
             void       *sock,
             const char *event_type)
{
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) o = peer_recv (f, sock, 5000);

      g_assert_nonnull (o);
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "event_type", ""), event_type) == 0)
        return g_steal_pointer (&o);
    }
  g_assert_not_reached ();
}

static void
peer_send (Fixture    *f,
           const char *json)
{
  g_assert_cmpint (zmq_send (f->agent_push, json, strlen (json), 0), ==, (int) strlen (json));
}

/* The next analyze request, acknowledged as a real agent does. */
static JsonObject *
expect_analyze (Fixture *f)
{
  JsonObject *request = peer_expect (f, f->agent_pull, "analyze_request");
  g_autofree char *ack = g_strdup_printf ("{\"event_type\":\"analyze_ack\",\"event_id\":\"%s\"}",
                                          json_object_get_string_member (request, "event_id"));

  peer_send (f, ack);
  return request;
}

static void
run_for (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 2, .samples_per_delta = 480 };

  f->notifications = g_ptr_array_new_with_free_func (g_free);
  f->server = fake_server_new ();
  fake_server_set_default_script (f->server, &script);
  url = fake_server_get_url (f->server, "/v1/realtime");

  f->bridge = lanlan_agent_bridge_new_for_ports (0, 0, 0, &error);
  g_assert_no_error (error);
  lanlan_agent_bridge_set_ack_timeout (f->bridge, 500);

  f->ctx = zmq_ctx_new ();
  f->agent_pull = peer_socket (f, ZMQ_PULL, LANLAN_AGENT_SOCKET_PUSH);
  f->agent_push = peer_socket (f, ZMQ_PUSH, LANLAN_AGENT_SOCKET_PULL);
  f->agent_sub = peer_socket (f, ZMQ_SUB, LANLAN_AGENT_SOCKET_PUB);
  run_for (150);   /* let the TCP connections settle */

  f->character = lanlan_character_new ("Mio");
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_TEXT);

  f->sink = lanlan_counting_sink_new ();
  f->session = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->session, "agent-link-test-key-0123456789");
  g_signal_connect (f->session, "turn-ended", G_CALLBACK (on_turn_ended), f);

  f->link = lanlan_agent_link_new (f->bridge, f->session);
  g_signal_connect (f->link, "notification", G_CALLBACK (on_notification), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->link);
  lanlan_session_manager_end_session (f->session);
  g_clear_object (&f->session);
  g_clear_object (&f->sink);
  g_clear_object (&f->character);
  zmq_close (f->agent_pull);
  zmq_close (f->agent_push);
  zmq_close (f->agent_sub);
  zmq_ctx_term (f->ctx);
  g_clear_object (&f->bridge);
  fake_server_free (f->server);
  g_ptr_array_unref (f->notifications);
}

static gboolean
has_item (Fixture    *f,
          const char *item)
{
  g_autoptr(GPtrArray) items = NULL;
  guint n = fake_server_get_n_connections (f->server);

  for (guint c = 0; c < n; c++)
    {
      g_clear_pointer (&items, g_ptr_array_unref);
      items = fake_server_dup_items (f->server, c);
      for (guint i = 0; i < items->len; i++)
        if (g_str_equal (g_ptr_array_index (items, i), item))
          return TRUE;
    }
  return FALSE;
}

/* Adds "role:content" of each message of an analyze request to @seen. */
static void
append_messages (GPtrArray  *seen,
                 JsonObject *request)
{
  JsonArray *messages = json_object_get_array_member (request, "messages");

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *m = json_array_get_object_element (messages, i);
      g_ptr_array_add (seen, g_strdup_printf ("%s:%s", json_object_get_string_member (m, "role"),
                                              json_object_get_string_member (m, "content")));
    }
}

static void
test_link_conversation (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) turn_end = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_null_terminated (8, g_free, TRUE);
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(JsonObject) end = NULL;
  g_autoptr(JsonObject) final = NULL;
  JsonArray *messages;
  gint64 deadline;

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  start = peer_expect (f, f->agent_sub, "session_start");
  g_assert_cmpstr (json_object_get_string_member (start, "lanlan_name"), ==, "Mio");

  /* A turn: the agent gets the user's words and the answer. */
  lanlan_session_manager_stream_text (f->session, "What's the weather?");
  request = expect_analyze (f);
  g_assert_cmpstr (json_object_get_string_member (request, "trigger"), ==, "turn_end");
  g_assert_cmpstr (json_object_get_string_member (request, "lanlan_name"), ==, "Mio");
  messages = json_object_get_array_member (request, "messages");
  append_messages (seen, request);
  g_assert_cmpuint (json_array_get_length (messages), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 0), "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 0), "content"), ==,
                   "What's the weather?");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 1), "role"), ==, "assistant");
  g_clear_pointer (&turn_end, json_object_unref);
  turn_end = peer_expect (f, f->agent_sub, "turn_end");
  g_assert_nonnull (turn_end);

  /* A result for Mio goes into Mio's conversation and onto the screen. */
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"task_id\":\"t1\","
                "\"status\":\"completed\",\"success\":true,\"summary\":\"Weather checked\","
                "\"text\":\"It is sunny in Kyoto, 21 degrees.\"}");
  /* One for somebody else does not. */
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Hana\",\"task_id\":\"t2\","
                "\"success\":true,\"text\":\"Hana's secret\"}");
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"task_id\":\"t3\","
                "\"success\":false,\"error_message\":\"The calendar is offline\"}");

  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while ((f->notifications->len < 2 || !has_item (f, "system:It is sunny in Kyoto, 21 degrees.")) &&
         g_get_monotonic_time () < deadline)
    run_for (10);

  g_assert_cmpuint (f->notifications->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->notifications, 0), ==, "Weather checked");
  g_assert_cmpstr (g_ptr_array_index (f->notifications, 1), ==, "error:The calendar is offline");
  g_assert_true (has_item (f, "system:It is sunny in Kyoto, 21 degrees."));
  g_assert_false (has_item (f, "system:Hana's secret"));

  /* In text mode the injected result makes the character speak up at
   * once: that is a turn of its own, and the agent hears about it. Then
   * the user's next turn. Across all requests the agent must see every
   * message of the conversation exactly once, in order. */
  lanlan_session_manager_stream_text (f->session, "Thanks!");
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(JsonObject) next = expect_analyze (f);

      append_messages (seen, next);
      if (g_strv_contains ((const char * const *) seen->pdata, "user:Thanks!") &&
          g_str_has_prefix (g_ptr_array_index (seen, seen->len - 2), "user:Thanks!"))
        break;
    }
  history = lanlan_session_manager_dup_history (f->session);
  g_assert_cmpuint (seen->len, ==, history->len);
  for (guint i = 0; i < history->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (history, i);
      g_autofree char *expect = g_strdup_printf ("%s:%s", m->role, m->content);
      g_assert_cmpstr (g_ptr_array_index (seen, i), ==, expect);
    }
  g_assert_cmpuint (history->len, ==, 5);   /* user, answer, answer to the result, user, answer */

  /* Renamed: the agent now addresses the new name only. */
  lanlan_character_set_name (f->character, "Mio-chan");
  peer_send (f, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Mio\",\"text\":\"old name\"}");
  peer_send (f, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Mio-chan\",\"text\":\"Time for tea\"}");
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (f->notifications->len < 3 && g_get_monotonic_time () < deadline)
    run_for (10);
  run_for (100);
  g_assert_cmpuint (f->notifications->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->notifications, 2), ==, "Time for tea");

  /* The character speaks up about it: one more turn for the agent. */
  {
    g_autoptr(JsonObject) after_tea = expect_analyze (f);

    g_assert_cmpstr (json_object_get_string_member (after_tea, "trigger"), ==, "turn_end");
    g_assert_cmpstr (json_object_get_string_member (after_tea, "lanlan_name"), ==, "Mio-chan");
    append_messages (seen, after_tea);
  }
  g_clear_pointer (&history, g_ptr_array_unref);
  history = lanlan_session_manager_dup_history (f->session);
  g_assert_cmpuint (seen->len, ==, history->len);
  g_assert_cmpuint (history->len, ==, 6);

  /* The end of the session is announced; nothing new: no empty request. */
  lanlan_session_manager_end_session (f->session);
  end = peer_expect (f, f->agent_sub, "session_end");
  g_assert_cmpstr (json_object_get_string_member (end, "lanlan_name"), ==, "Mio-chan");
  /* Longer than the ack timeout: an unacknowledged request would be resent. */
  final = peer_recv (f, f->agent_pull, 1200);
  g_assert_null (final);
  g_assert_cmpuint (lanlan_agent_link_get_n_analyzed (f->link), ==, 4);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/agent-link/conversation", Fixture, NULL, fixture_setup, test_link_conversation, fixture_teardown);
  return g_test_run ();
}
