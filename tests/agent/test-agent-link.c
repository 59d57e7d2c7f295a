/* test-agent-link.c — a character's conversation joined to a real ZeroMQ agent
 *
 * A text-mode session manager talks with the loopback OpenAI-compatible
 * chat server (what the model is given is read back from its requests);
 * a C ZeroMQ
 * peer plays N.E.K.O.'s agent on 127.0.0.1 (free ports): it acknowledges
 * each analyze_request and, as agent_server.py does, skips one whose
 * user text fingerprint is the one it analyzed last. The transcript is a
 * GListStore of LanlanMessage filled from the session's finished turns,
 * as the conversation does, and a "direct-reply" becomes the character's
 * own message in it.
 *
 * Checked against N.E.K.O.'s main server (main_server.py, cross_server.py,
 * core.py): the last 6 messages and the conversation id in each request,
 * requests addressed by stable message id (repeated short replies are not
 * lost, crossing the session's history cap changes nothing), results as
 * "✅/⚠️/❌ summary" plus the longer detail, failed and partial results
 * injected, direct replies said word for word, results for a character
 * that is not open delivered when it opens.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <zmq.h>

#include "lanlan-agent-link.h"
#include "lanlan-counting-sink.h"
#include "lanlan-fake-chat-server.h"
#include "lanlan-fake-server.h"
#include "lanlan-message.h"

typedef struct {
  FakeChatServer       *server;
  LanlanAgentBridge    *bridge;
  LanlanSessionManager *session;
  LanlanCountingSink   *sink;
  LanlanCharacter      *character;
  GListStore           *characters;
  GListStore           *transcript;
  LanlanAgentLink      *link;
  void                 *ctx;
  void                 *agent_pull;
  void                 *agent_push;
  void                 *agent_sub;
  GPtrArray            *notifications;
  GPtrArray            *replies;
  char                 *last_fingerprint;   /* as N.E.K.O.'s agent keeps it */
  guint                 n_skipped;
  guint                 turns;
} Fixture;

/* A peer socket connected to the bridge, returned once its ZMTP
 * handshake completed (a fixed sleep is not enough under load). */
static void *
peer_socket (Fixture           *f,
             int                type,
             LanlanAgentSocket  which)
{
  static guint n;
  g_autofree char *endpoint = lanlan_agent_bridge_dup_endpoint (f->bridge, which);
  g_autofree char *address = g_strdup_printf ("inproc://link-handshake-%u", n++);
  void *sock = zmq_socket (f->ctx, type);
  void *monitor = zmq_socket (f->ctx, ZMQ_PAIR);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  int linger = 0;
  int timeout = 100;
  gboolean done = FALSE;

  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
  if (type == ZMQ_SUB)
    zmq_setsockopt (sock, ZMQ_SUBSCRIBE, "", 0);
  g_assert_cmpint (zmq_socket_monitor (sock, address, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), ==, 0);
  zmq_setsockopt (monitor, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  zmq_setsockopt (monitor, ZMQ_LINGER, &linger, sizeof linger);
  g_assert_cmpint (zmq_connect (monitor, address), ==, 0);
  g_assert_cmpint (zmq_connect (sock, endpoint), ==, 0);

  while (!done && g_get_monotonic_time () < deadline)
    {
      zmq_msg_t msg;

      while (g_main_context_iteration (NULL, FALSE))
        ;
      zmq_msg_init (&msg);
      if (zmq_msg_recv (&msg, monitor, 0) >= 0)
        {
          guint16 event;

          memcpy (&event, zmq_msg_data (&msg), sizeof event);
          done = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
          zmq_msg_recv (&msg, monitor, 0);
        }
      zmq_msg_close (&msg);
    }
  g_assert_true (done);
  zmq_socket_monitor (sock, NULL, 0);
  zmq_close (monitor);
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
transcript_add (Fixture           *f,
                LanlanMessageRole  role,
                const char        *text)
{
  g_autoptr(LanlanMessage) m = lanlan_message_new (role, text);

  lanlan_message_set_status (m, LANLAN_MESSAGE_STATUS_SENT);
  g_list_store_append (f->transcript, m);
}

/* What the conversation does with a direct reply: the character's own
 * message, shown and kept. */
static void
on_direct_reply (LanlanAgentLink *link,
                 const char      *text,
                 Fixture         *f)
{
  g_ptr_array_add (f->replies, g_strdup (text));
  transcript_add (f, LANLAN_MESSAGE_ROLE_ASSISTANT, text);
}

static void
on_transcript_done (LanlanSessionManager *session,
                    const char           *role,
                    const char           *turn_id,
                    const char           *text,
                    Fixture              *f)
{
  if (g_strcmp0 (role, "user") == 0)
    transcript_add (f, LANLAN_MESSAGE_ROLE_USER, text);
  else if (g_strcmp0 (role, "assistant") == 0)
    transcript_add (f, LANLAN_MESSAGE_ROLE_ASSISTANT, text);
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
  zmq_msg_t msg;

  zmq_msg_init (&msg);
  while (g_get_monotonic_time () < deadline)
    {
      if (zmq_msg_recv (&msg, sock, ZMQ_DONTWAIT) >= 0)
        {
          g_autoptr(JsonParser) parser = json_parser_new ();
          JsonObject *o;

          g_assert_true (json_parser_load_from_data (parser, zmq_msg_data (&msg), zmq_msg_size (&msg), NULL));
          zmq_msg_close (&msg);
          o = json_node_get_object (json_parser_get_root (parser));
          return json_object_ref (o);
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  zmq_msg_close (&msg);
  return NULL;
}

/* The next message of @event_type, skipping others. */
static JsonObject *
peer_expect (Fixture    *f,
             void       *sock,
             const char *event_type)
{
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) o = peer_recv (f, sock, 10000);

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

/* agent_server.py's _build_user_turn_fingerprint: the user messages'
 * text, stripped, joined by newlines; NULL when there is none. */
static char *
user_fingerprint (JsonArray *messages)
{
  g_autoptr(GString) parts = g_string_new (NULL);
  gboolean any = FALSE;

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *m = json_array_get_object_element (messages, i);
      g_autofree char *text = NULL;

      if (g_strcmp0 (json_object_get_string_member (m, "role"), "user") != 0)
        continue;
      text = g_strstrip (g_strdup (json_object_get_string_member (m, "content")));
      if (*text == '\0')
        continue;
      if (any)
        g_string_append_c (parts, '\n');
      g_string_append (parts, text);
      any = TRUE;
    }
  return any ? g_compute_checksum_for_string (G_CHECKSUM_SHA256, parts->str, -1) : NULL;
}

/* The next analyze request, acknowledged and consumed as N.E.K.O.'s agent
 * does (_on_session_event). Returns it; *analyzed says whether the agent
 * would analyze it or skip it as already seen. */
static JsonObject *
expect_analyze (Fixture  *f,
                gboolean *analyzed)
{
  JsonObject *request = peer_expect (f, f->agent_pull, "analyze_request");
  g_autofree char *ack = g_strdup_printf ("{\"event_type\":\"analyze_ack\",\"lanlan_name\":\"%s\",\"event_id\":\"%s\"}",
                                          json_object_get_string_member (request, "lanlan_name"),
                                          json_object_get_string_member (request, "event_id"));
  JsonArray *messages = json_object_get_array_member (request, "messages");
  g_autofree char *fp = NULL;

  /* The shape N.E.K.O.'s main server sends. */
  g_assert_nonnull (messages);
  g_assert_cmpuint (json_array_get_length (messages), >=, 1);
  g_assert_cmpuint (json_array_get_length (messages), <=, 6);
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *m = json_array_get_object_element (messages, i);
      const char *role = json_object_get_string_member (m, "role");

      g_assert_cmpuint (json_object_get_size (m), ==, 2);
      g_assert_true (g_strcmp0 (role, "user") == 0 || g_strcmp0 (role, "assistant") == 0);
      g_assert_cmpstr (json_object_get_string_member (m, "content"), !=, "");
    }

  peer_send (f, ack);

  fp = user_fingerprint (messages);
  if (fp == NULL || g_strcmp0 (fp, f->last_fingerprint) == 0)
    {
      f->n_skipped++;
      *analyzed = FALSE;
    }
  else
    {
      g_free (f->last_fingerprint);
      f->last_fingerprint = g_steal_pointer (&fp);
      *analyzed = TRUE;
    }
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
make_link (Fixture *f)
{
  f->link = lanlan_agent_link_new (f->bridge, f->session, G_LIST_MODEL (f->transcript));
  g_signal_connect (f->link, "notification", G_CALLBACK (on_notification), f);
  g_signal_connect (f->link, "direct-reply", G_CALLBACK (on_direct_reply), f);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autoptr(LanlanCharacter) hana = lanlan_character_new ("Hana");

  f->notifications = g_ptr_array_new_with_free_func (g_free);
  f->replies = g_ptr_array_new_with_free_func (g_free);
  f->transcript = g_list_store_new (LANLAN_TYPE_MESSAGE);
  f->server = fake_chat_server_new ();
  fake_chat_server_add_model (f->server, "llama3.2", FALSE);
  url = fake_chat_server_get_base_url (f->server);

  f->bridge = lanlan_agent_bridge_new_for_ports (0, 0, 0, &error);
  g_assert_no_error (error);
  lanlan_agent_bridge_set_ack_timeout (f->bridge, 500);

  f->ctx = zmq_ctx_new ();
  f->agent_pull = peer_socket (f, ZMQ_PULL, LANLAN_AGENT_SOCKET_PUSH);
  f->agent_push = peer_socket (f, ZMQ_PUSH, LANLAN_AGENT_SOCKET_PULL);
  f->agent_sub = peer_socket (f, ZMQ_SUB, LANLAN_AGENT_SOCKET_PUB);

  f->character = lanlan_character_new ("Mio");
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (f->character, "ollama");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_model (f->character, "llama3.2");

  /* The user's characters: Mio, and Hana, whose window is not open. */
  f->characters = g_list_store_new (LANLAN_TYPE_CHARACTER);
  g_list_store_append (f->characters, f->character);
  g_list_store_append (f->characters, hana);
  lanlan_agent_bridge_set_characters (f->bridge, G_LIST_MODEL (f->characters));

  f->sink = lanlan_counting_sink_new ();
  f->session = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->session, "agent-link-test-key-0123456789");
  lanlan_session_manager_set_tts_backend (f->session, lanlan_tts_backend_new_tone (1, 20, FALSE));
  g_signal_connect (f->session, "turn-ended", G_CALLBACK (on_turn_ended), f);
  g_signal_connect (f->session, "transcript-done", G_CALLBACK (on_transcript_done), f);

  if (data == NULL)
    make_link (f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->link);
  lanlan_session_manager_end_session (f->session);
  g_clear_object (&f->session);
  g_clear_object (&f->sink);
  g_clear_object (&f->characters);
  g_clear_object (&f->character);
  zmq_close (f->agent_pull);
  zmq_close (f->agent_push);
  zmq_close (f->agent_sub);
  zmq_ctx_term (f->ctx);
  g_clear_object (&f->bridge);
  fake_chat_server_free (f->server);
  g_clear_object (&f->transcript);
  g_ptr_array_unref (f->notifications);
  g_ptr_array_unref (f->replies);
  g_free (f->last_fingerprint);
}

/* The distinct system messages the model was given that contain
 * @needle, over every request (each carries the history so far). */
static GHashTable *
dup_system_messages (Fixture    *f,
                     const char *needle)
{
  GHashTable *found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n = fake_chat_server_get_n_requests (f->server);

  for (guint r = 0; r < n; r++)
    {
      g_autofree char *body = fake_chat_server_dup_request (f->server, r);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *root;
      JsonArray *messages;

      if (body == NULL || !json_parser_load_from_data (parser, body, -1, NULL))
        continue;
      root = json_node_get_object (json_parser_get_root (parser));
      if (!json_object_has_member (root, "messages"))
        continue;
      messages = json_object_get_array_member (root, "messages");
      for (guint i = 0; i < json_array_get_length (messages); i++)
        {
          JsonObject *m = json_array_get_object_element (messages, i);
          const char *content;

          if (g_strcmp0 (json_object_get_string_member_with_default (m, "role", ""), "system") != 0)
            continue;
          content = json_object_get_string_member_with_default (m, "content", "");
          if (strstr (content, needle) != NULL)
            g_hash_table_add (found, g_strdup (content));
        }
    }
  return found;
}

/* A message the session gave the model that contains @needle. */
static gboolean
has_item_with (Fixture    *f,
               const char *needle)
{
  g_autoptr(GHashTable) found = dup_system_messages (f, needle);
  return g_hash_table_size (found) > 0;
}

static guint
count_items_with (Fixture    *f,
                  const char *needle)
{
  g_autoptr(GHashTable) found = dup_system_messages (f, needle);
  return g_hash_table_size (found);
}

typedef struct {
  Fixture    *f;
  const char *needle;
} ItemWait;

static gboolean
item_arrived (gpointer data)
{
  ItemWait *w = data;
  return has_item_with (w->f, w->needle);
}

static void
wait_item (Fixture    *f,
           const char *needle)
{
  ItemWait w = { f, needle };

  if (!test_wait_until (item_arrived, &w, 10000))
    g_error ("no item with “%s” reached the model", needle);
}

static gboolean
turns_at_least (gpointer data)
{
  Fixture *f = data;
  return f->turns >= GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (f->session), "want-turns"));
}

/* Says @text and waits for the turn to end. */
static void
say (Fixture    *f,
     const char *text)
{
  g_object_set_data (G_OBJECT (f->session), "want-turns", GUINT_TO_POINTER (f->turns + 1));
  lanlan_session_manager_stream_text (f->session, text);
  g_assert_true (test_wait_until (turns_at_least, f, 10000));
}

static const char *
message_at (JsonObject *request,
            int         index,
            const char *member)
{
  JsonArray *messages = json_object_get_array_member (request, "messages");
  guint n = json_array_get_length (messages);

  if (index < 0)
    index += n;
  return json_object_get_string_member (json_array_get_object_element (messages, index), member);
}

static void
test_link_conversation (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonObject) thanks = NULL;
  g_autoptr(JsonObject) end = NULL;
  g_autoptr(JsonObject) final = NULL;
  gboolean analyzed;

  lanlan_agent_link_set_conversation_id (f->link, "conversation-1");
  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  start = peer_expect (f, f->agent_sub, "session_start");
  g_assert_cmpstr (json_object_get_string_member (start, "lanlan_name"), ==, "Mio");

  /* A turn: the agent gets the user's words and the answer, with the
   * conversation they belong to. */
  say (f, "What's the weather?");
  request = expect_analyze (f, &analyzed);
  g_assert_true (analyzed);
  g_assert_cmpstr (json_object_get_string_member (request, "trigger"), ==, "turn_end");
  g_assert_cmpstr (json_object_get_string_member (request, "lanlan_name"), ==, "Mio");
  g_assert_cmpstr (json_object_get_string_member (request, "conversation_id"), ==, "conversation-1");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (request, "messages")), ==, 2);
  g_assert_cmpstr (message_at (request, 0, "role"), ==, "user");
  g_assert_cmpstr (message_at (request, 0, "content"), ==, "What's the weather?");
  g_assert_cmpstr (message_at (request, 1, "role"), ==, "assistant");

  /* A result for Mio goes into Mio's conversation, with its detail, and
   * onto the screen; one for Hana (a character whose window is not open)
   * does not. */
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"task_id\":\"t1\","
                "\"channel\":\"browser_use\",\"status\":\"completed\",\"success\":true,"
                "\"summary\":\"Weather checked\",\"text\":\"Weather checked\","
                "\"detail\":\"Kyoto: sunny, 21 degrees, light wind from the west\","
                "\"error_message\":\"\"}");
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Hana\",\"task_id\":\"t2\","
                "\"success\":true,\"text\":\"Hana's secret\"}");
  wait_item (f, "✅ Weather checked\nDetails: Kyoto: sunny, 21 degrees, light wind from the west");
  g_assert_false (has_item_with (f, "Hana's secret"));
  g_assert_cmpuint (f->notifications->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->notifications, 0), ==, "Weather checked");

  /* The character speaks up about the result at once (text mode). That
   * turn has no new user message: nothing for the agent. The user's next
   * turn goes out with the last messages, the earlier ones included. */
  g_object_set_data (G_OBJECT (f->session), "want-turns", GUINT_TO_POINTER (2));
  g_assert_true (test_wait_until (turns_at_least, f, 10000));
  say (f, "Thanks!");
  thanks = expect_analyze (f, &analyzed);
  g_assert_true (analyzed);
  g_assert_cmpstr (message_at (thanks, 0, "content"), ==, "What's the weather?");
  g_assert_cmpstr (message_at (thanks, -2, "content"), ==, "Thanks!");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (thanks, "messages")), ==, 5);

  /* Renamed: the agent now addresses the new name. */
  lanlan_character_set_name (f->character, "Mio-chan");
  peer_send (f, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Mio-chan\",\"text\":\"Time for tea\"}");
  wait_item (f, "✅ Time for tea");
  g_assert_true (test_wait_until (turns_at_least, f, 10000));

  /* The end of the session is announced; no new user message since the
   * last request: no request. */
  lanlan_session_manager_end_session (f->session);
  end = peer_expect (f, f->agent_sub, "session_end");
  g_assert_cmpstr (json_object_get_string_member (end, "lanlan_name"), ==, "Mio-chan");
  /* Longer than the ack timeout: an unacknowledged request would be resent. */
  final = peer_recv (f, f->agent_pull, 1200);
  g_assert_null (final);
  g_assert_cmpuint (lanlan_agent_link_get_n_analyzed (f->link), ==, 2);
  g_assert_cmpuint (f->n_skipped, ==, 0);
}

static gboolean
replies_at_least_one (gpointer data)
{
  Fixture *f = data;
  return f->replies->len >= 1;
}

static void
test_link_results (Fixture       *f,
                   gconstpointer  data)
{
  LanlanAgentLinkStats stats;
  guint n;

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  /* As agent_server.py's _emit_task_result builds them: failed (no
   * detail), partial (detail, no error), and a direct reply. */
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"Calendar check\","
                "\"task_id\":\"t1\",\"channel\":\"computer_use\",\"status\":\"failed\",\"success\":false,"
                "\"summary\":\"Calendar check\",\"detail\":\"\",\"error_message\":\"The calendar is offline\"}");
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"Found 2 of 3 files\","
                "\"task_id\":\"t2\",\"channel\":\"computer_use\",\"status\":\"partial\",\"success\":false,"
                "\"summary\":\"Found 2 of 3 files\",\"detail\":\"a.txt and b.txt are in Documents; c.txt is nowhere\","
                "\"error_message\":\"\"}");
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"Kettle\","
                "\"task_id\":\"t3\",\"status\":\"completed\",\"success\":true,\"direct_reply\":true,"
                "\"summary\":\"Kettle\",\"detail\":\"  I've put the kettle on, it'll be ready in five minutes!  \"}");
  /* A failure with no status, as an older agent sends it. */
  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"Mail not sent\","
                "\"success\":false,\"error_message\":\"SMTP refused\"}");

  wait_item (f, "❌ Calendar check");
  wait_item (f, "⚠️ Found 2 of 3 files\nDetails: a.txt and b.txt are in Documents; c.txt is nowhere");
  wait_item (f, "❌ Mail not sent");
  g_assert_true (test_wait_until (replies_at_least_one, f, 10000));

  /* The direct reply is the character's own message, word for word
   * (trimmed), never given to the model. */
  g_assert_cmpuint (f->replies->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->replies, 0), ==, "I've put the kettle on, it'll be ready in five minutes!");
  g_assert_false (has_item_with (f, "kettle"));
  n = g_list_model_get_n_items (G_LIST_MODEL (f->transcript));
  g_assert_cmpuint (n, >=, 1);
  {
    gboolean found = FALSE;

    for (guint i = 0; i < n; i++)
      {
        g_autoptr(LanlanMessage) m = g_list_model_get_item (G_LIST_MODEL (f->transcript), i);

        if (g_strcmp0 (lanlan_message_get_text (m), "I've put the kettle on, it'll be ready in five minutes!") == 0)
          {
            g_assert_cmpint (lanlan_message_get_role (m), ==, LANLAN_MESSAGE_ROLE_ASSISTANT);
            found = TRUE;
          }
      }
    g_assert_true (found);
  }

  /* Every result was shown; failures as errors, with the reason. */
  run_for (100);
  g_assert_true (g_ptr_array_find_with_equal_func (f->notifications, "error:Calendar check — The calendar is offline", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (f->notifications, "Found 2 of 3 files", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (f->notifications, "error:Mail not sent — SMTP refused", g_str_equal, NULL));

  /* The three injected results came in at most two injections: the first
   * at once, the rest together. */
  lanlan_agent_link_get_stats (f->link, &stats);
  g_assert_cmpuint (stats.n_results, ==, 4);
  g_assert_cmpuint (stats.n_direct_replies, ==, 1);
  g_assert_cmpuint (stats.n_injections, <=, 2);
  g_assert_cmpuint (stats.n_injections + stats.n_coalesced, ==, 3);
  g_assert_cmpuint (count_items_with (f, "[System notice]"), ==, stats.n_injections);
}

static gboolean
transcript_not_empty (gpointer data)
{
  Fixture *f = data;
  return g_list_model_get_n_items (G_LIST_MODEL (f->transcript)) > 0;
}

/* Short replies said again: N.E.K.O.'s agent skips a request whose user
 * text is the one it saw last, so each request must carry the recent
 * conversation, not only what is new. */
static void
test_link_repeated (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) third = NULL;
  gboolean analyzed;

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  /* The conversation gets its id once its first message is there: that
   * message is still new material. */
  g_object_set_data (G_OBJECT (f->session), "want-turns", GUINT_TO_POINTER (f->turns + 1));
  lanlan_session_manager_stream_text (f->session, "Remind me at five");
  g_assert_true (test_wait_until (transcript_not_empty, f, 10000));
  lanlan_agent_link_set_conversation_id (f->link, "made-at-first-message");
  g_assert_true (test_wait_until (turns_at_least, f, 10000));
  first = expect_analyze (f, &analyzed);
  g_assert_true (analyzed);
  g_assert_cmpstr (message_at (first, 0, "content"), ==, "Remind me at five");
  g_assert_cmpstr (json_object_get_string_member (first, "conversation_id"), ==, "made-at-first-message");

  say (f, "ok");
  second = expect_analyze (f, &analyzed);
  g_assert_true (analyzed);
  g_assert_cmpstr (message_at (second, -2, "content"), ==, "ok");

  say (f, "ok");
  third = expect_analyze (f, &analyzed);
  g_assert_true (analyzed);
  g_assert_cmpstr (message_at (third, -2, "content"), ==, "ok");
  g_assert_cmpstr (message_at (third, -4, "content"), ==, "ok");
  g_assert_cmpuint (f->n_skipped, ==, 0);
  g_assert_cmpuint (lanlan_agent_link_get_n_analyzed (f->link), ==, 3);
}

/* The session keeps at most 200 messages / 256 KiB of history. Crossing
 * that cap must not lose the user's message nor stop the requests. */
static void
test_link_history_cap (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GString) big = g_string_new (NULL);
  g_autoptr(GPtrArray) history = NULL;
  gboolean analyzed;

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(JsonObject) request = NULL;

      g_string_printf (big, "Chapter %u: ", i);
      while (big->len < 60 * 1024)
        g_string_append (big, "The cat sat on the warm windowsill and watched the rain. ");
      say (f, big->str);
      request = expect_analyze (f, &analyzed);
      g_assert_true (analyzed);
      g_assert_true (g_str_has_prefix (message_at (request, -2, "content"), big->str));
    }

  /* The session's history is past its cap: it dropped its oldest. */
  history = lanlan_session_manager_dup_history (f->session);
  g_assert_cmpuint (history->len, <, 12);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) request = NULL;
      const char *text = i == 0 ? "still there?" : "and now?";

      say (f, text);
      request = expect_analyze (f, &analyzed);
      g_assert_true (analyzed);
      g_assert_cmpstr (message_at (request, -2, "content"), ==, text);
      g_assert_cmpstr (message_at (request, -2, "role"), ==, "user");
    }
  g_assert_cmpuint (lanlan_agent_link_get_n_analyzed (f->link), ==, 8);
}

/* A result for a character that is not open waits, and goes out when it
 * opens (its session connects), without waiting for the user to speak. */
static void
test_link_opens_later (Fixture       *f,
                       gconstpointer  data)
{
  LanlanAgentBridgeStats stats;

  peer_send (f, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"task_id\":\"t9\","
                "\"status\":\"completed\",\"success\":true,\"text\":\"Your parcel has shipped\"}");
  run_for (300);
  lanlan_agent_bridge_get_stats (f->bridge, &stats);
  g_assert_cmpuint (stats.n_held, ==, 1);

  /* The window opens: the link holds it until the session is live. */
  make_link (f);
  run_for (200);
  g_assert_false (has_item_with (f, "Your parcel has shipped"));

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));
  wait_item (f, "✅ Your parcel has shipped");
  g_assert_true (g_ptr_array_find_with_equal_func (f->notifications, "Your parcel has shipped", g_str_equal, NULL));
}

typedef struct {
  void       *ctx;
  char       *endpoint;
  guint       n;
  gboolean    done;
} Pusher;

static gpointer
pusher_thread (gpointer data)
{
  Pusher *p = data;
  void *sock = zmq_socket (p->ctx, ZMQ_PUSH);
  int linger = 10000;   /* what is queued must still go */

  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
  g_assert_cmpint (zmq_connect (sock, p->endpoint), ==, 0);
  for (guint i = 0; i < p->n; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Mio\","
                                               "\"text\":\"Flood %u\"}", i);
      g_assert_cmpint (zmq_send (sock, json, strlen (json), 0), ==, (int) strlen (json));
    }
  zmq_close (sock);
  g_atomic_int_set (&p->done, TRUE);
  return NULL;
}

static gboolean
all_received (gpointer data)
{
  Fixture *f = data;
  LanlanAgentBridgeStats stats;

  lanlan_agent_bridge_get_stats (f->bridge, &stats);
  return stats.n_received >= GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (f->bridge), "want"));
}

/* Issue #17: a flood of proactive messages reaches the model as a
 * bounded number of injections (one per 2 s), and the window as a
 * bounded number of notifications, the newest last. */
static void
test_link_flood (Fixture       *f,
                 gconstpointer  data)
{
  /* Fewer under valgrind, which is some 50 times slower. */
  guint n = g_getenv ("LANLAN_UNDER_VALGRIND") ? 2000 : 20000;
  Pusher p = { f->ctx, lanlan_agent_bridge_dup_endpoint (f->bridge, LANLAN_AGENT_SOCKET_PULL), n, FALSE };
  g_autofree char *newest = g_strdup_printf ("Flood %u", n - 1);
  g_autofree char *newest_item = g_strdup_printf ("✅ Flood %u", n - 1);
  LanlanAgentLinkStats stats;
  GThread *thread;
  gint64 start;
  double seconds;
  guint64 bound;
  g_autofree char *last_line = NULL;

  lanlan_session_manager_start_session (f->session);
  g_assert_true (test_wait_until (is_connected, f, 10000));

  start = g_get_monotonic_time ();
  g_object_set_data (G_OBJECT (f->bridge), "want", GUINT_TO_POINTER (p.n));
  thread = g_thread_new ("pusher", pusher_thread, &p);
  if (!test_wait_until (all_received, f, 120000))
    {
      LanlanAgentBridgeStats bs;

      lanlan_agent_bridge_get_stats (f->bridge, &bs);
      g_error ("the bridge read %" G_GUINT64_FORMAT " of %u messages (pusher done: %d)",
               bs.n_received, p.n, g_atomic_int_get (&p.done));
    }
  g_thread_join (thread);
  /* The last batch goes out after the interval. */
  run_for (2500);
  seconds = (g_get_monotonic_time () - start) / 1e6;

  lanlan_agent_link_get_stats (f->link, &stats);
  bound = (guint64) (seconds / 2.0) + 2;
  g_test_message ("flood: %u messages in %.1f s: %" G_GUINT64_FORMAT " injections, %" G_GUINT64_FORMAT
                  " coalesced, %" G_GUINT64_FORMAT " left out, %u notifications",
                  p.n, seconds, stats.n_injections, stats.n_coalesced, stats.n_dropped, f->notifications->len);
  g_assert_cmpuint (stats.n_results, ==, p.n);
  g_assert_cmpuint (stats.n_injections + stats.n_coalesced + stats.n_dropped, ==, p.n);
  g_assert_cmpuint (stats.n_injections, >=, 1);
  g_assert_cmpuint (stats.n_injections, <=, bound);
  g_assert_cmpuint (count_items_with (f, "[System notice]"), ==, stats.n_injections);
  g_assert_cmpuint (f->notifications->len, <=, 3 + bound);
  g_assert_cmpuint (stats.n_notifications + stats.n_notifications_merged, ==, p.n);

  /* Nothing is lost at the end: the newest message went to the model,
   * and the newest notification names it. */
  g_assert_true (has_item_with (f, newest_item));
  last_line = g_strdup (g_ptr_array_index (f->notifications, f->notifications->len - 1));
  g_assert_true (g_str_has_prefix (last_line, newest));
  g_free (p.endpoint);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/agent-link/conversation", Fixture, NULL, fixture_setup, test_link_conversation, fixture_teardown);
  g_test_add ("/agent-link/results", Fixture, NULL, fixture_setup, test_link_results, fixture_teardown);
  g_test_add ("/agent-link/repeated-text", Fixture, NULL, fixture_setup, test_link_repeated, fixture_teardown);
  g_test_add ("/agent-link/history-cap", Fixture, NULL, fixture_setup, test_link_history_cap, fixture_teardown);
  g_test_add ("/agent-link/flood", Fixture, NULL, fixture_setup, test_link_flood, fixture_teardown);
  g_test_add ("/agent-link/opens-later", Fixture, "no link", fixture_setup, test_link_opens_later, fixture_teardown);
  return g_test_run ();
}
