/* test-agent-bridge.c — the ZeroMQ agent bridge against a loopback peer
 *
 * The peer is played by this program with its own ZeroMQ context (a
 * real TCP connection on 127.0.0.1, free ports), and in one test by an
 * independent Python agent (agent_peer.py) for wire compatibility.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <zmq.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-character.h"

#define ANY_PORT "tcp://127.0.0.1:*"

typedef struct {
  LanlanAgentBridge *bridge;
  void              *ctx;
  void              *agent_pull;  /* receives analyze requests */
  void              *agent_push;  /* sends results */
  void              *agent_sub;   /* receives session events */
} Fixture;

/* A peer socket connected to the bridge, returned once its ZMTP
 * handshake completed: a bound PUSH with no peer yet refuses to send,
 * which would turn every test into a retry test (a fixed sleep is not
 * enough under load). */
static void *
peer_socket (Fixture           *fx,
             int                type,
             LanlanAgentSocket  which)
{
  static guint n;
  g_autofree char *endpoint = lanlan_agent_bridge_dup_endpoint (fx->bridge, which);
  g_autofree char *address = g_strdup_printf ("inproc://handshake-%u", n++);
  void *sock = zmq_socket (fx->ctx, type);
  void *monitor = zmq_socket (fx->ctx, ZMQ_PAIR);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  int linger = 0;
  int timeout = 100;
  gboolean done = FALSE;

  g_assert_nonnull (sock);
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
          /* The second frame: the endpoint. */
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
fixture_connect_peer (Fixture *fx)
{
  fx->ctx = zmq_ctx_new ();
  fx->agent_pull = peer_socket (fx, ZMQ_PULL, LANLAN_AGENT_SOCKET_PUSH);
  fx->agent_push = peer_socket (fx, ZMQ_PUSH, LANLAN_AGENT_SOCKET_PULL);
  fx->agent_sub = peer_socket (fx, ZMQ_SUB, LANLAN_AGENT_SOCKET_PUB);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fx->bridge = lanlan_agent_bridge_new (ANY_PORT, ANY_PORT, ANY_PORT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->bridge);
  lanlan_agent_bridge_set_ack_timeout (fx->bridge, 200);

  if (data == NULL)
    fixture_connect_peer (fx);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_clear_pointer (&fx->agent_pull, zmq_close);
  g_clear_pointer (&fx->agent_push, zmq_close);
  g_clear_pointer (&fx->agent_sub, zmq_close);
  g_clear_pointer (&fx->ctx, zmq_ctx_term);
  g_assert_finalize_object (fx->bridge);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until *flag is set or timeout_ms passed. */
static gboolean
wait_for_flag (const gboolean *flag,
               guint           timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  guint tick = g_timeout_add (5, tick_cb, NULL);

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (tick);
  return *flag;
}

static gboolean
wait_for_count (const guint *count,
                guint        target,
                guint        timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  guint tick = g_timeout_add (5, tick_cb, NULL);

  while (*count < target && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (tick);
  return *count >= target;
}

static void
spin (guint ms)
{
  gboolean never = FALSE;
  wait_for_flag (&never, ms);
}

/* Receives one message on a peer socket while the main loop keeps running. */
static char *
peer_recv (void  *sock,
           guint  timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };

      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (zmq_poll (&item, 1, 5) > 0)
        {
          zmq_msg_t msg;
          char *text;

          zmq_msg_init (&msg);
          g_assert_cmpint (zmq_msg_recv (&msg, sock, 0), >=, 0);
          text = g_strndup (zmq_msg_data (&msg), zmq_msg_size (&msg));
          zmq_msg_close (&msg);
          return text;
        }
    }

  return NULL;
}

static void
peer_send_bytes (Fixture    *fx,
                 const char *data,
                 gsize       len)
{
  g_assert_cmpint (zmq_send (fx->agent_push, data, len, 0), ==, (int) len);
}

static void
peer_send (Fixture    *fx,
           const char *json)
{
  peer_send_bytes (fx, json, strlen (json));
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* --- collecting events --------------------------------------------------- */

typedef struct {
  GPtrArray *events;
  guint      count;
  gboolean   destroyed;
} Collector;

static void
collector_init (Collector *c)
{
  c->events = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_agent_event_unref);
  c->count = 0;
  c->destroyed = FALSE;
}

static void
collector_clear (Collector *c)
{
  g_clear_pointer (&c->events, g_ptr_array_unref);
}

static void
collect_cb (LanlanAgentBridge *bridge,
            LanlanAgentEvent  *event,
            gpointer           user_data)
{
  Collector *c = user_data;

  g_ptr_array_add (c->events, lanlan_agent_event_ref (event));
  c->count++;
}

static void
collector_destroyed (gpointer data)
{
  ((Collector *) data)->destroyed = TRUE;
}

/* --- endpoints ----------------------------------------------------------- */

static void
test_endpoint_policy (void)
{
  const char *runtime = g_get_user_runtime_dir ();
  g_autofree char *ipc_ok = g_strdup_printf ("ipc://%s/lanlan-agent.sock", runtime);
  g_autofree char *ipc_escape = g_strdup_printf ("ipc://%s/../evil.sock", runtime);
  const char *refused[] = {
    "tcp://0.0.0.0:48961", "tcp://*:48961", "tcp://192.168.1.20:48961",
    "tcp://10.0.0.1:1", "tcp://[::]:48961", "tcp://localhost:48961", "tcp://eth0:48961",
    "tcp://127.0.0.1;192.168.1.20:48961", "tcp://127.0.0.1", "tcp://127.0.0.1:99999",
    "tcp://127.0.0.1:abc", "udp://127.0.0.1:48961", "pgm://127.0.0.1:1", "inproc://agent",
    "ipc:///tmp/lanlan.sock", "ipc://relative.sock", "ipc://@abstract", "", "127.0.0.1:48961",
  };
  const char *allowed[] = {
    "tcp://127.0.0.1:48961", "tcp://127.0.0.1:*", "tcp://127.0.0.1:0",
    "tcp://127.0.0.2:48961", "tcp://[::1]:48961",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("refused: %s", refused[i]);
      g_assert_false (lanlan_agent_endpoint_is_allowed (refused[i], &error));
      g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT);
    }

  {
    g_autoptr(GError) error = NULL;
    g_assert_false (lanlan_agent_endpoint_is_allowed (ipc_escape, &error));
    g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT);
  }

  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("allowed: %s", allowed[i]);
      g_assert_true (lanlan_agent_endpoint_is_allowed (allowed[i], &error));
      g_assert_no_error (error);
    }
  g_assert_true (lanlan_agent_endpoint_is_allowed (ipc_ok, NULL));
}

static void
test_endpoint_refused_bridge (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAgentBridge) bridge = NULL;
  g_autoptr(GSocket) probe = NULL;
  g_autoptr(GInetSocketAddress) any = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *pull = NULL;
  guint16 port;

  /* Find a free port, then ask for it on every interface. */
  probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, &error);
  g_assert_no_error (error);
  any = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("127.0.0.1", 0));
  g_socket_bind (probe, G_SOCKET_ADDRESS (any), TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (probe, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (probe, NULL);

  pull = g_strdup_printf ("tcp://0.0.0.0:%u", port);
  bridge = lanlan_agent_bridge_new (ANY_PORT, pull, ANY_PORT, &error);
  g_assert_null (bridge);
  g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT);
  g_assert_nonnull (strstr (error->message, "0.0.0.0"));
  g_clear_error (&error);

  /* Nothing was bound on that port. */
  {
    g_autoptr(GSocket) check = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, &error);
    g_autoptr(GSocketAddress) wildcard = g_inet_socket_address_new_from_string ("0.0.0.0", port);

    g_assert_no_error (error);
    g_assert_true (g_socket_bind (check, wildcard, FALSE, &error));
    g_assert_no_error (error);
    g_socket_close (check, NULL);
  }

  bridge = lanlan_agent_bridge_new_for_ports (70000, 1, 2, &error);
  g_assert_null (bridge);
  g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT);
}

static void
test_ports (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAgentBridge) bridge = lanlan_agent_bridge_new_for_ports (0, 0, 0, &error);
  g_autofree char *pub = NULL;

  g_assert_no_error (error);
  pub = lanlan_agent_bridge_dup_endpoint (bridge, LANLAN_AGENT_SOCKET_PUB);
  g_assert_true (g_str_has_prefix (pub, "tcp://127.0.0.1:"));
  g_assert_cmpstr (pub, !=, "tcp://127.0.0.1:0");
  g_assert_finalize_object (g_steal_pointer (&bridge));
}

/* --- analyze requests ---------------------------------------------------- */

typedef struct {
  gboolean  done;
  char     *event_id;
  GError   *error;
  gint64    finished_at;
} AnalyzeResult;

static void
analyze_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AnalyzeResult *r = user_data;

  r->event_id = lanlan_agent_bridge_analyze_finish (LANLAN_AGENT_BRIDGE (source), result, &r->error);
  r->finished_at = g_get_monotonic_time ();
  r->done = TRUE;
}

static GPtrArray *
sample_history (void)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  g_ptr_array_add (messages, lanlan_chat_message_new ("user", "Open the “weather” app, please — 天気"));
  g_ptr_array_add (messages, lanlan_chat_message_new ("assistant", "Sure!\nLine two \"quoted\""));
  return messages;
}

static void
test_analyze_ack (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GPtrArray) messages = sample_history ();
  g_autoptr(JsonObject) request = NULL;
  g_autofree char *text = NULL;
  g_autofree char *ack = NULL;
  AnalyzeResult r = { 0 };
  JsonArray *array;
  JsonObject *m;

  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "turn_end", NULL, messages, NULL, analyze_done, &r);

  text = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text);
  request = parse_object (text);
  g_assert_cmpstr (json_object_get_string_member (request, "event_type"), ==, "analyze_request");
  g_assert_cmpstr (json_object_get_string_member (request, "trigger"), ==, "turn_end");
  g_assert_cmpstr (json_object_get_string_member (request, "lanlan_name"), ==, "Mio");
  g_assert_cmpuint (strlen (json_object_get_string_member (request, "event_id")), >=, 32);
  array = json_object_get_array_member (request, "messages");
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  m = json_array_get_object_element (array, 0);
  g_assert_cmpstr (json_object_get_string_member (m, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (m, "content"), ==, "Open the “weather” app, please — 天気");
  m = json_array_get_object_element (array, 1);
  g_assert_cmpstr (json_object_get_string_member (m, "role"), ==, "assistant");
  g_assert_cmpstr (json_object_get_string_member (m, "content"), ==, "Sure!\nLine two \"quoted\"");

  g_assert_false (r.done);
  ack = g_strdup_printf ("{\"event_type\":\"analyze_ack\",\"event_id\":\"%s\"}",
                         json_object_get_string_member (request, "event_id"));
  peer_send (fx, ack);

  g_assert_true (wait_for_flag (&r.done, 5000));
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.event_id, ==, json_object_get_string_member (request, "event_id"));
  g_free (r.event_id);

  /* Acked: no resend. */
  g_free (text);
  text = peer_recv (fx->agent_pull, 500);
  g_assert_null (text);

  /* A duplicate ack is harmless and counted. */
  peer_send (fx, ack);
  spin (200);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_stray_acks (fx->bridge), ==, 1);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_malformed (fx->bridge), ==, 0);
}

static void
test_analyze_retry_then_fail (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GPtrArray) messages = sample_history ();
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autofree char *text1 = NULL;
  g_autofree char *text2 = NULL;
  g_autofree char *text3 = NULL;
  AnalyzeResult r = { 0 };
  gint64 started = g_get_monotonic_time ();

  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "session_end", NULL, messages, NULL, analyze_done, &r);

  text1 = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text1);
  text2 = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text2);
  first = parse_object (text1);
  second = parse_object (text2);
  g_assert_cmpstr (json_object_get_string_member (first, "event_id"), ==,
                   json_object_get_string_member (second, "event_id"));
  g_assert_cmpstr (json_object_get_string_member (second, "trigger"), ==, "session_end");

  g_assert_true (wait_for_flag (&r.done, 5000));
  g_assert_error (r.error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_NO_AGENT);
  g_assert_null (r.event_id);
  /* Two timeouts of 200 ms. */
  g_assert_cmpint (r.finished_at - started, >=, 2 * 200 * 1000);
  g_clear_error (&r.error);

  /* Exactly one retry. */
  text3 = peer_recv (fx->agent_pull, 600);
  g_assert_null (text3);

  /* A late ack changes nothing. */
  {
    g_autofree char *ack = g_strdup_printf ("{\"event_type\":\"analyze_ack\",\"event_id\":\"%s\"}",
                                            json_object_get_string_member (first, "event_id"));
    peer_send (fx, ack);
    spin (200);
    g_assert_cmpuint (lanlan_agent_bridge_get_n_stray_acks (fx->bridge), ==, 1);
  }
}

static void
test_analyze_retry_then_ack (Fixture       *fx,
                             gconstpointer  data)
{
  g_autoptr(JsonObject) second = NULL;
  g_autofree char *text1 = NULL;
  g_autofree char *text2 = NULL;
  g_autofree char *ack = NULL;
  AnalyzeResult r = { 0 };

  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "turn_end", NULL, NULL, NULL, analyze_done, &r);

  text1 = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text1);
  text2 = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text2);
  second = parse_object (text2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (second, "messages")), ==, 0);
  ack = g_strdup_printf ("{\"event_type\":\"analyze_ack\",\"event_id\":\"%s\"}",
                         json_object_get_string_member (second, "event_id"));
  peer_send (fx, ack);

  g_assert_true (wait_for_flag (&r.done, 5000));
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.event_id, ==, json_object_get_string_member (second, "event_id"));
  g_free (r.event_id);
}

static void
test_analyze_no_agent (Fixture       *fx,
                       gconstpointer  data)
{
  AnalyzeResult r = { 0 };

  /* No peer connected at all (fixture data != NULL). */
  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "turn_end", NULL, NULL, NULL, analyze_done, &r);
  g_assert_true (wait_for_flag (&r.done, 5000));
  g_assert_error (r.error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_NO_AGENT);
  g_clear_error (&r.error);
}

static void
test_analyze_cancel (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *text = NULL;
  AnalyzeResult r = { 0 };

  lanlan_agent_bridge_set_ack_timeout (fx->bridge, 5000);
  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "turn_end", NULL, NULL, cancellable, analyze_done, &r);
  text = peer_recv (fx->agent_pull, 5000);
  g_assert_nonnull (text);
  g_cancellable_cancel (cancellable);
  g_assert_true (wait_for_flag (&r.done, 1000));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
}

/* --- routing ------------------------------------------------------------- */

static void
signal_cb (LanlanAgentBridge *bridge,
           LanlanAgentEvent  *event,
           gpointer           user_data)
{
  collect_cb (bridge, event, user_data);
}

static void
test_route_by_character (Fixture       *fx,
                         gconstpointer  data)
{
  Collector a, b, sig, task;
  LanlanAgentEvent *e;
  guint id_a;

  collector_init (&a);
  collector_init (&b);
  collector_init (&sig);
  collector_init (&task);
  id_a = lanlan_agent_bridge_register_character (fx->bridge, "Alice", collect_cb, &a, collector_destroyed);
  lanlan_agent_bridge_register_character (fx->bridge, "Bob", collect_cb, &b, NULL);
  g_signal_connect (fx->bridge, "event::Bob", G_CALLBACK (signal_cb), &sig);
  lanlan_agent_bridge_watch_task (fx->bridge, "t-42", collect_cb, &task, collector_destroyed);

  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Alice\",\"text\":\"Done: 3 files\","
                 "\"task_id\":\"t-42\",\"status\":\"completed\",\"success\":true,\"summary\":\"sum\","
                 "\"detail\":{\"files\":[1,2,3]},\"error_message\":null,\"direct_reply\":true}");
  g_assert_true (wait_for_count (&a.count, 1, 5000));
  spin (100);

  g_assert_cmpuint (a.count, ==, 1);
  g_assert_cmpuint (b.count, ==, 0);
  g_assert_cmpuint (sig.count, ==, 0);
  e = g_ptr_array_index (a.events, 0);
  g_assert_cmpint (e->kind, ==, LANLAN_AGENT_EVENT_TASK_RESULT);
  g_assert_cmpstr (e->event_type, ==, "task_result");
  g_assert_cmpstr (e->lanlan_name, ==, "Alice");
  g_assert_cmpstr (e->text, ==, "Done: 3 files");
  g_assert_cmpstr (e->task_id, ==, "t-42");
  g_assert_cmpstr (e->status, ==, "completed");
  g_assert_true (e->has_success);
  g_assert_true (e->success);
  g_assert_cmpstr (e->summary, ==, "sum");
  g_assert_cmpstr (e->detail, ==, "{\"files\":[1,2,3]}");
  g_assert_null (e->error_message);
  g_assert_true (e->direct_reply);

  /* The task watcher saw it too, and is gone after the result. */
  g_assert_cmpuint (task.count, ==, 1);
  g_assert_true (task.destroyed);

  peer_send (fx, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Bob\",\"text\":\"Hi Bob\"}");
  g_assert_true (wait_for_count (&b.count, 1, 5000));
  g_assert_true (wait_for_count (&sig.count, 1, 5000));
  g_assert_cmpuint (a.count, ==, 1);
  e = g_ptr_array_index (sig.events, 0);
  g_assert_cmpint (e->kind, ==, LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE);
  g_assert_cmpstr (e->text, ==, "Hi Bob");

  /* No name: everyone. */
  peer_send (fx, "{\"event_type\":\"agent_status_update\",\"status\":\"busy\"}");
  g_assert_true (wait_for_count (&a.count, 2, 5000));
  g_assert_true (wait_for_count (&b.count, 2, 5000));

  /* A name that is no character, with two open: dropped, counted. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Carol\",\"text\":\"x\",\"task_id\":\"t-42\"}");
  spin (300);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_unrouted (fx->bridge), ==, 1);
  g_assert_cmpuint (task.count, ==, 1);

  /* Unregistered: no more calls, user data freed. */
  lanlan_agent_bridge_unregister (fx->bridge, id_a);
  g_assert_true (a.destroyed);
  peer_send (fx, "{\"event_type\":\"agent_notification\",\"lanlan_name\":\"Alice\",\"text\":\"n\"}");
  peer_send (fx, "{\"event_type\":\"task_update\",\"lanlan_name\":\"Bob\",\"task_id\":7,\"status\":\"running\"}");
  g_assert_true (wait_for_count (&b.count, 3, 5000));
  g_assert_cmpuint (a.count, ==, 2);
  e = g_ptr_array_index (b.events, 2);
  g_assert_cmpint (e->kind, ==, LANLAN_AGENT_EVENT_TASK_UPDATE);
  g_assert_cmpstr (e->task_id, ==, "7");
  g_assert_false (e->has_success);

  g_assert_cmpuint (lanlan_agent_bridge_get_n_unrouted (fx->bridge), ==, 2);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_dispatched (fx->bridge), ==, 4);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_received (fx->bridge), ==, 6);

  collector_clear (&a);
  collector_clear (&b);
  collector_clear (&sig);
  collector_clear (&task);
}

/* Unnamed and unknown names, as N.E.K.O.'s main server routes them
 * (_handle_agent_event, _select_fallback_session_manager). */
static void
test_route_unnamed (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GListStore) characters = g_list_store_new (LANLAN_TYPE_CHARACTER);
  g_autoptr(LanlanCharacter) alice = lanlan_character_new ("Alice");
  g_autoptr(LanlanCharacter) bob = lanlan_character_new ("Bob");
  g_autoptr(LanlanCharacter) carol = lanlan_character_new ("Carol");
  LanlanAgentBridgeStats stats;
  Collector a, b, c;
  guint id_b;

  g_list_store_append (characters, alice);
  g_list_store_append (characters, bob);
  g_list_store_append (characters, carol);
  lanlan_agent_bridge_set_characters (fx->bridge, G_LIST_MODEL (characters));

  collector_init (&a);
  collector_init (&b);
  collector_init (&c);
  lanlan_agent_bridge_register_character (fx->bridge, "Alice", collect_cb, &a, NULL);
  id_b = lanlan_agent_bridge_register_character (fx->bridge, "Bob", collect_cb, &b, NULL);

  /* Two open: a result with a null or unknown name reaches nobody; a
   * notification without a name neither. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":null,\"text\":\"whose?\"}");
  peer_send (fx, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Zed\",\"text\":\"who is Zed?\"}");
  peer_send (fx, "{\"event_type\":\"task_update\",\"task_id\":\"u1\",\"status\":\"running\"}");
  peer_send (fx, "{\"event_type\":\"agent_notification\",\"text\":\"to nobody\"}");
  /* The marker: named, so it arrives; everything above came first. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Alice\",\"text\":\"marker\"}");
  g_assert_true (wait_for_count (&a.count, 1, 5000));
  spin (50);
  g_assert_cmpuint (a.count, ==, 1);
  g_assert_cmpuint (b.count, ==, 0);
  lanlan_agent_bridge_get_stats (fx->bridge, &stats);
  g_assert_cmpuint (stats.n_unrouted, ==, 4);

  /* One open: unnamed and unknown results go to it; a notification
   * without a name still does not. */
  lanlan_agent_bridge_unregister (fx->bridge, id_b);
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":null,\"text\":\"whose?\"}");
  peer_send (fx, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Zed\",\"text\":\"who is Zed?\"}");
  peer_send (fx, "{\"event_type\":\"task_update\",\"task_id\":\"u1\",\"status\":\"running\"}");
  peer_send (fx, "{\"event_type\":\"agent_notification\",\"text\":\"to nobody\"}");
  peer_send (fx, "{\"event_type\":\"agent_notification\",\"lanlan_name\":\"Bob\",\"text\":\"Bob is closed\"}");
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Alice\",\"text\":\"marker 2\"}");
  g_assert_true (wait_for_count (&a.count, 5, 5000));
  spin (50);
  g_assert_cmpuint (a.count, ==, 5);
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (a.events, 1))->text, ==, "whose?");
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (a.events, 2))->text, ==, "who is Zed?");
  g_assert_cmpint (((LanlanAgentEvent *) g_ptr_array_index (a.events, 3))->kind, ==, LANLAN_AGENT_EVENT_TASK_UPDATE);
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (a.events, 4))->text, ==, "marker 2");
  lanlan_agent_bridge_get_stats (fx->bridge, &stats);
  g_assert_cmpuint (stats.n_unrouted, ==, 6);

  /* Carol is a character but not open: her results wait (not given to
   * Alice, the only open one) and reach her when she opens. Bob's too. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Carol\",\"text\":\"for Carol 1\"}");
  peer_send (fx, "{\"event_type\":\"proactive_message\",\"lanlan_name\":\"Carol\",\"text\":\"for Carol 2\"}");
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Bob\",\"text\":\"for Bob\"}");
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Alice\",\"text\":\"marker 3\"}");
  g_assert_true (wait_for_count (&a.count, 6, 5000));
  spin (50);
  g_assert_cmpuint (a.count, ==, 6);
  lanlan_agent_bridge_get_stats (fx->bridge, &stats);
  g_assert_cmpuint (stats.n_held, ==, 3);

  lanlan_agent_bridge_register_character (fx->bridge, "Carol", collect_cb, &c, NULL);
  /* Not during the registration: once the caller is set up. */
  g_assert_cmpuint (c.count, ==, 0);
  g_assert_true (wait_for_count (&c.count, 2, 5000));
  spin (50);
  g_assert_cmpuint (c.count, ==, 2);
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (c.events, 0))->text, ==, "for Carol 1");
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (c.events, 1))->text, ==, "for Carol 2");
  g_assert_cmpuint (a.count, ==, 6);

  collector_clear (&b);
  collector_init (&b);
  lanlan_agent_bridge_register_character (fx->bridge, "Bob", collect_cb, &b, NULL);
  g_assert_true (wait_for_count (&b.count, 1, 5000));
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (b.events, 0))->text, ==, "for Bob");

  lanlan_agent_bridge_set_characters (fx->bridge, NULL);
  collector_clear (&a);
  collector_clear (&b);
  collector_clear (&c);
}

/* Results for characters that stay closed are bounded. */
static void
test_route_held_bounded (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GListStore) characters = g_list_store_new (LANLAN_TYPE_CHARACTER);
  g_autoptr(LanlanCharacter) carol = lanlan_character_new ("Carol");
  LanlanAgentBridgeStats stats;
  Collector c;

  g_list_store_append (characters, carol);
  lanlan_agent_bridge_set_characters (fx->bridge, G_LIST_MODEL (characters));
  collector_init (&c);

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"event_type\":\"task_result\",\"lanlan_name\":\"Carol\",\"text\":\"%u\"}", i);
      peer_send (fx, json);
    }
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       (lanlan_agent_bridge_get_stats (fx->bridge, &stats), stats.n_held < 100) && g_get_monotonic_time () < deadline;)
    spin (10);
  g_assert_cmpuint (stats.n_held, ==, 100);
  g_assert_cmpuint (stats.n_held_dropped, ==, 100 - 64);

  lanlan_agent_bridge_register_character (fx->bridge, "Carol", collect_cb, &c, NULL);
  g_assert_true (wait_for_count (&c.count, 64, 5000));
  spin (50);
  g_assert_cmpuint (c.count, ==, 64);
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (c.events, 0))->text, ==, "36");
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (c.events, 63))->text, ==, "99");
  collector_clear (&c);
}

/* --- bounds --------------------------------------------------------------- */

/* Over LANLAN_AGENT_MAX_MESSAGE_SIZE: counted and logged once, the next
 * message still gets through; far over it, ZeroMQ cuts the peer off
 * (it reconnects by itself) without the bridge holding the bytes. */
static void
test_bounds_oversized (Fixture       *fx,
                       gconstpointer  data)
{
  gsize over = LANLAN_AGENT_MAX_MESSAGE_SIZE + 1024;
  g_autofree char *big = g_malloc (over);
  LanlanAgentBridgeStats stats;
  Collector c;

  collector_init (&c);
  lanlan_agent_bridge_register_character (fx->bridge, "Mio", collect_cb, &c, NULL);

  memset (big, ' ', over);
  memcpy (big, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"big\"}",
          strlen ("{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"big\"}"));
  peer_send_bytes (fx, big, over);
  peer_send_bytes (fx, big, over);
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"small\"}");
  g_assert_true (wait_for_count (&c.count, 1, 10000));
  lanlan_agent_bridge_get_stats (fx->bridge, &stats);
  g_assert_cmpuint (stats.n_oversized, ==, 2);
  g_assert_cmpuint (stats.n_malformed, ==, 0);
  g_assert_cmpstr (((LanlanAgentEvent *) g_ptr_array_index (c.events, 0))->text, ==, "small");

  collector_clear (&c);
}

/* A subscriber that never reads: publishing does not block, and what
 * cannot be queued is counted. */
static void
test_bounds_slow_subscriber (Fixture       *fx,
                             gconstpointer  data)
{
  g_autoptr(JsonObject) payload = json_object_new ();
  g_autofree char *filler = g_strnfill (4096, 'x');
  LanlanAgentBridgeStats stats;
  gint64 worst = 0;
  guint refused = 0;

  json_object_set_string_member (payload, "text", filler);
  /* The fixture's SUB peer is subscribed and never reads. */
  for (guint i = 0; i < 20000 && refused == 0; i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      if (!lanlan_agent_bridge_publish (fx->bridge, "Mio", "turn_end", payload, NULL))
        refused++;
      worst = MAX (worst, g_get_monotonic_time () - t0);
      if (i % 256 == 0)
        while (g_main_context_iteration (NULL, FALSE))
          ;
    }
  lanlan_agent_bridge_get_stats (fx->bridge, &stats);
  g_test_message ("slow subscriber: %" G_GUINT64_FORMAT " dropped, slowest publish %.3f ms",
                  stats.n_publish_dropped, worst / 1000.0);
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (stats.n_publish_dropped, ==, 1);
}

/* --- bad input ----------------------------------------------------------- */

static void
test_garbage (Fixture       *fx,
              gconstpointer  data)
{
  static const char *malformed[] = {
    "not json", "{", "[]", "42", "null", "\"task_result\"",
    "{}", "{\"event_type\":5}", "{\"event_type\":null}",
    "{\"event_type\":\"task_result\",\"lanlan_name\":7}",
    "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"success\":\"yes\"}",
    "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":[\"a\"]}",
    "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"direct_reply\":1}",
    "{\"event_type\":\"analyze_ack\"}",
    "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\"", /* truncated */
  };
  static const char *unknown[] = {
    "{\"event_type\":\"bogus\",\"lanlan_name\":\"Mio\"}",
    "{\"event_type\":\"TASK_RESULT\",\"lanlan_name\":\"Mio\"}",
  };
  static const char non_utf8[] = "{\"event_type\":\"task_result\",\"lanlan_name\":\"M\xff\xfeo\"}";
  static const char with_nul[] = "{\"event_type\":\"task_result\",\"lanlan_name\":\"M\0o\"}";
  g_autoptr(GString) deep = g_string_new ("{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"detail\":");
  Collector c;
  guint n_bad = 0;
  LanlanAgentEvent *e;

  collector_init (&c);
  lanlan_agent_bridge_register_character (fx->bridge, "Mio", collect_cb, &c, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++, n_bad++)
    peer_send (fx, malformed[i]);
  for (guint i = 0; i < G_N_ELEMENTS (unknown); i++)
    peer_send (fx, unknown[i]);
  peer_send_bytes (fx, non_utf8, sizeof non_utf8 - 1), n_bad++;
  peer_send_bytes (fx, with_nul, sizeof with_nul - 1), n_bad++;
  peer_send_bytes (fx, "", 0), n_bad++;

  /* Deep nesting would overflow json-glib's recursive parser. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  peer_send_bytes (fx, deep->str, deep->len), n_bad++;

  /* A multi-part message. */
  zmq_send (fx->agent_push, "{\"event_type\":\"task_result\",", 28, ZMQ_SNDMORE);
  zmq_send (fx->agent_push, "\"lanlan_name\":\"Mio\"}", 20, 0);
  n_bad++;

  /* Types N.E.K.O.'s agent and plugins send that Lanlan does not act
   * on: ignored quietly, neither refused nor delivered. */
  peer_send (fx, "{\"event_type\":\"music_play_url\",\"url\":\"http://127.0.0.1/x.mp3\"}");
  peer_send (fx, "{\"event_type\":\"agent_bridge_heartbeat\",\"pid\":1}");

  /* No name, or an empty one: the only open character gets it. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"text\":\"no name\"}");
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"\",\"text\":\"empty name\"}");

  /* Then a good one still gets through. */
  peer_send (fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"still here\"}");
  g_assert_true (wait_for_count (&c.count, 3, 5000));
  spin (100);

  g_assert_cmpuint (c.count, ==, 3);
  e = g_ptr_array_index (c.events, 0);
  g_assert_cmpstr (e->text, ==, "no name");
  g_assert_null (e->lanlan_name);
  e = g_ptr_array_index (c.events, 1);
  g_assert_cmpstr (e->text, ==, "empty name");
  e = g_ptr_array_index (c.events, 2);
  g_assert_cmpstr (e->text, ==, "still here");
  g_assert_cmpuint (lanlan_agent_bridge_get_n_malformed (fx->bridge), ==, n_bad);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_unknown (fx->bridge), ==, G_N_ELEMENTS (unknown));
  g_assert_cmpuint (lanlan_agent_bridge_get_n_received (fx->bridge), ==, n_bad + G_N_ELEMENTS (unknown) + 5);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_dispatched (fx->bridge), ==, 3);
  {
    LanlanAgentBridgeStats stats;

    lanlan_agent_bridge_get_stats (fx->bridge, &stats);
    g_assert_cmpuint (stats.n_ignored, ==, 2);
  }

  collector_clear (&c);
}

static void
test_parse_direct (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAgentEvent) event = NULL;
  const char *ok = "{\"event_type\":\"analyze_ack\",\"event_id\":\"abc\",\"extra\":{\"x\":1}}";

  event = lanlan_agent_event_parse (ok, strlen (ok), &error);
  g_assert_no_error (error);
  g_assert_cmpint (event->kind, ==, LANLAN_AGENT_EVENT_ANALYZE_ACK);
  g_assert_cmpstr (event->event_id, ==, "abc");
  g_assert_true (json_object_has_member (event->raw, "extra"));

  /* Not nul-terminated: only len bytes are read. */
  g_assert_null (lanlan_agent_event_parse (ok, 10, &error));
  g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED);
  g_clear_error (&error);

  g_assert_null (lanlan_agent_event_parse ("{\"event_type\":\"x\xc3\"}", 18, &error));
  g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_INVALID_UTF8);
  g_clear_error (&error);

  g_assert_null (lanlan_agent_event_parse ("{\"event_type\":\"task_result\",\"lanlan_name\":1}", 44, &error));
  g_assert_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_INVALID_FIELD);
  g_assert_nonnull (strstr (error->message, "lanlan_name"));
}

/* Random mutations of valid messages: every one gives an event or an
 * error, never both or neither (and, under ASan, no memory error). */
static void
test_parse_mutations (void)
{
  static const char *seeds[] = {
    "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"猫\",\"task_id\":\"t\",\"success\":true,\"detail\":{\"a\":[1,2]}}",
    "{\"event_type\":\"analyze_ack\",\"event_id\":\"0f3c\"}",
    "{\"event_type\":\"agent_status_update\",\"status\":\"busy\",\"direct_reply\":false}",
  };
  const char alphabet[] = "{}[]\":,\\ 0aetrfnul\x80\xc3\xff";
  guint n_ok = 0, n_err = 0;

  for (guint i = 0; i < 30000; i++)
    {
      const char *seed = seeds[g_test_rand_int_range (0, G_N_ELEMENTS (seeds))];
      g_autofree char *buf = g_strdup (seed);
      gsize len = strlen (buf);
      guint edits = g_test_rand_int_range (1, 4);
      g_autoptr(GError) error = NULL;
      g_autoptr(LanlanAgentEvent) event = NULL;

      for (guint e = 0; e < edits; e++)
        {
          gsize at = g_test_rand_int_range (0, len);

          if (g_test_rand_bit ())
            buf[at] = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];
          else
            len = at;
          if (len == 0)
            break;
        }

      event = lanlan_agent_event_parse (buf, len, &error);
      g_assert_true ((event == NULL) != (error == NULL));
      if (event)
        n_ok++;
      else
        n_err++;
    }

  g_test_message ("mutations: %u parsed, %u refused", n_ok, n_err);
  g_assert_cmpuint (n_err, >, 0);
}

/* --- flood --------------------------------------------------------------- */

typedef struct {
  GSource  source;
  guint64 *iteration;
} IterationSource;

/* Highest priority, never ready: its prepare runs once per iteration. */
static gboolean
iteration_prepare (GSource *source,
                   int     *timeout)
{
  (*((IterationSource *) source)->iteration)++;
  *timeout = -1;
  return FALSE;
}

static GSourceFuncs iteration_funcs = { iteration_prepare, NULL, NULL, NULL, NULL, NULL };

typedef struct {
  guint   count;
  guint   next_expected;
  gboolean in_order;
  guint64 iteration;
  guint64 last_iteration;
  guint   in_this_iteration;
  guint   max_per_iteration;
  guint   iterations_used;
} Flood;

static void
flood_cb (LanlanAgentBridge *bridge,
          LanlanAgentEvent  *event,
          gpointer           user_data)
{
  Flood *f = user_data;
  g_autofree char *expected = g_strdup_printf ("%u", f->next_expected);

  if (g_strcmp0 (event->text, expected) != 0)
    f->in_order = FALSE;
  f->next_expected++;
  f->count++;

  if (f->iteration != f->last_iteration)
    {
      f->last_iteration = f->iteration;
      f->in_this_iteration = 0;
      f->iterations_used++;
    }
  f->in_this_iteration++;
  f->max_per_iteration = MAX (f->max_per_iteration, f->in_this_iteration);
}

static void
test_flood (Fixture       *fx,
            gconstpointer  data)
{
  /* Fewer under valgrind, which serializes ZeroMQ's threads. */
  const guint n = g_getenv ("LANLAN_UNDER_VALGRIND") ? 4000 : 20000;
  const guint batch = 32;
  Flood f = { 0, 0, TRUE, 0, 0, 0, 0, 0 };
  GSource *counter = g_source_new (&iteration_funcs, sizeof (IterationSource));
  gint64 start, elapsed;

  ((IterationSource *) counter)->iteration = &f.iteration;
  g_source_set_priority (counter, G_PRIORITY_HIGH);
  g_source_attach (counter, NULL);

  lanlan_agent_bridge_set_max_batch (fx->bridge, batch);
  lanlan_agent_bridge_register_character (fx->bridge, "Mio", flood_cb, &f, NULL);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *msg = g_strdup_printf ("{\"event_type\":\"task_update\",\"lanlan_name\":\"Mio\","
                                              "\"task_id\":\"flood\",\"text\":\"%u\"}", i);
      peer_send (fx, msg);
    }

  g_assert_true (wait_for_count (&f.count, n, 120000));
  elapsed = g_get_monotonic_time () - start;
  spin (100);

  g_test_message ("flood: %u messages in %.1f ms (%.0f msg/s), %u iterations, at most %u per iteration",
                  n, elapsed / 1000.0, n / (elapsed / 1e6), f.iterations_used, f.max_per_iteration);
  g_assert_cmpuint (f.count, ==, n);
  g_assert_true (f.in_order);
  g_assert_cmpuint (f.max_per_iteration, <=, batch);
  g_assert_cmpuint (f.iterations_used, >=, n / batch);
  g_assert_cmpuint (lanlan_agent_bridge_get_n_malformed (fx->bridge), ==, 0);

  g_source_destroy (counter);
  g_source_unref (counter);
}

/* --- session events ------------------------------------------------------ */

static void
test_publish (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(JsonObject) payload = json_object_new ();
  g_autoptr(JsonObject) received = NULL;
  g_autofree char *text = NULL;
  const char *types[] = { "turn_end", "user_text", "session_end" };
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  json_object_set_string_member (payload, "text", "こんにちは");
  json_object_set_int_member (payload, "turn", 3);
  json_object_set_string_member (payload, "event_type", "spoofed");

  /* PUB drops everything until the subscription has arrived. */
  while (text == NULL && g_get_monotonic_time () < deadline)
    {
      g_assert_true (lanlan_agent_bridge_publish (fx->bridge, "Mio", "session_start", NULL, NULL));
      text = peer_recv (fx->agent_sub, 50);
    }
  g_assert_nonnull (text);
  received = parse_object (text);
  g_assert_cmpstr (json_object_get_string_member (received, "event_type"), ==, "session_start");
  g_assert_cmpstr (json_object_get_string_member (received, "lanlan_name"), ==, "Mio");
  g_assert_true (json_object_has_member (received, "timestamp"));

  /* Drain duplicates of session_start. */
  while ((g_free (text), text = peer_recv (fx->agent_sub, 100)) != NULL)
    ;

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    g_assert_true (lanlan_agent_bridge_publish (fx->bridge, "Mio", types[i], payload, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(JsonObject) o = NULL;

      g_free (text);
      text = peer_recv (fx->agent_sub, 2000);
      g_assert_nonnull (text);
      o = parse_object (text);
      g_assert_cmpstr (json_object_get_string_member (o, "event_type"), ==, types[i]);
      g_assert_cmpstr (json_object_get_string_member (o, "lanlan_name"), ==, "Mio");
      g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, "こんにちは");
      g_assert_cmpint (json_object_get_int_member (o, "turn"), ==, 3);
    }
}

/* --- ipc ----------------------------------------------------------------- */

static void
test_ipc (void)
{
  const char *runtime = g_get_user_runtime_dir ();
  g_autofree char *pub = g_strdup_printf ("ipc://%s/lanlan-test-pub-%d", runtime, getpid ());
  g_autofree char *pull = g_strdup_printf ("ipc://%s/lanlan-test-pull-%d", runtime, getpid ());
  g_autofree char *push = g_strdup_printf ("ipc://%s/lanlan-test-push-%d", runtime, getpid ());
  g_autoptr(GError) error = NULL;
  Fixture fx = { 0 };
  Collector c;

  fx.bridge = lanlan_agent_bridge_new (pub, pull, push, &error);
  g_assert_no_error (error);
  fixture_connect_peer (&fx);

  collector_init (&c);
  lanlan_agent_bridge_register_character (fx.bridge, "Mio", collect_cb, &c, NULL);
  peer_send (&fx, "{\"event_type\":\"task_result\",\"lanlan_name\":\"Mio\",\"text\":\"over ipc\"}");
  g_assert_true (wait_for_count (&c.count, 1, 5000));
  collector_clear (&c);
  fixture_teardown (&fx, NULL);
}

/* --- a real Python agent ------------------------------------------------- */

static void
test_python_peer (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "agent", "agent_peer.py", NULL);
  g_autofree char *pub = lanlan_agent_bridge_dup_endpoint (fx->bridge, LANLAN_AGENT_SOCKET_PUB);
  g_autofree char *pull = lanlan_agent_bridge_dup_endpoint (fx->bridge, LANLAN_AGENT_SOCKET_PULL);
  g_autofree char *push = lanlan_agent_bridge_dup_endpoint (fx->bridge, LANLAN_AGENT_SOCKET_PUSH);
  g_autoptr(GSubprocess) peer = NULL;
  g_autoptr(GPtrArray) messages = sample_history ();
  g_autoptr(GError) error = NULL;
  AnalyzeResult r = { 0 };
  Collector c;
  LanlanAgentEvent *e;
  gint64 deadline;

  peer = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error,
                           "/usr/bin/python3", script, pub, pull, push, NULL);
  g_assert_no_error (error);

  collector_init (&c);
  lanlan_agent_bridge_register_character (fx->bridge, "Mio", collect_cb, &c, NULL);
  lanlan_agent_bridge_set_ack_timeout (fx->bridge, 3000);

  /* The agent says it is ready (a status update for every character). */
  g_assert_true (wait_for_count (&c.count, 1, 10000));
  e = g_ptr_array_index (c.events, 0);
  g_assert_cmpint (e->kind, ==, LANLAN_AGENT_EVENT_STATUS_UPDATE);
  g_assert_null (e->lanlan_name);
  g_assert_cmpstr (e->status, ==, "ready");

  lanlan_agent_bridge_analyze_async (fx->bridge, "Mio", "turn_end", NULL, messages, NULL, analyze_done, &r);
  g_assert_true (wait_for_flag (&r.done, 10000));
  g_assert_no_error (r.error);
  g_free (r.event_id);

  /* The Python agent answers with a task_result echoing the request. */
  g_assert_true (wait_for_count (&c.count, 2, 10000));
  e = g_ptr_array_index (c.events, 1);
  g_assert_cmpint (e->kind, ==, LANLAN_AGENT_EVENT_TASK_RESULT);
  g_assert_cmpstr (e->text, ==, "Open the “weather” app, please — 天気");
  g_assert_true (e->success);
  {
    LanlanAgentBridgeStats stats;

    /* agent_bridge_ready and music_play_url at least, and heartbeats. */
    lanlan_agent_bridge_get_stats (fx->bridge, &stats);
    g_assert_cmpuint (stats.n_ignored, >=, 2);
    g_assert_cmpuint (stats.n_unknown, ==, 0);
    g_assert_cmpuint (stats.n_malformed, ==, 0);
  }

  /* It exits once it has seen our session_end on its SUB socket. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_subprocess_get_identifier (peer) != NULL && g_get_monotonic_time () < deadline)
    {
      lanlan_agent_bridge_publish (fx->bridge, "Mio", "session_end", NULL, NULL);
      spin (50);
    }
  g_subprocess_wait_check (peer, NULL, &error);
  g_assert_no_error (error);
  collector_clear (&c);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/agent/endpoint/policy", test_endpoint_policy);
  g_test_add_func ("/agent/endpoint/refused-bridge", test_endpoint_refused_bridge);
  g_test_add_func ("/agent/endpoint/ports", test_ports);
  g_test_add_func ("/agent/endpoint/ipc", test_ipc);
  g_test_add_func ("/agent/parse/direct", test_parse_direct);
  g_test_add_func ("/agent/parse/mutations", test_parse_mutations);
  g_test_add ("/agent/analyze/ack", Fixture, NULL, fixture_setup, test_analyze_ack, fixture_teardown);
  g_test_add ("/agent/analyze/retry-then-fail", Fixture, NULL, fixture_setup, test_analyze_retry_then_fail, fixture_teardown);
  g_test_add ("/agent/analyze/retry-then-ack", Fixture, NULL, fixture_setup, test_analyze_retry_then_ack, fixture_teardown);
  g_test_add ("/agent/analyze/no-agent", Fixture, "no peer", fixture_setup, test_analyze_no_agent, fixture_teardown);
  g_test_add ("/agent/analyze/cancel", Fixture, NULL, fixture_setup, test_analyze_cancel, fixture_teardown);
  g_test_add ("/agent/route/by-character", Fixture, NULL, fixture_setup, test_route_by_character, fixture_teardown);
  g_test_add ("/agent/route/unnamed", Fixture, NULL, fixture_setup, test_route_unnamed, fixture_teardown);
  g_test_add ("/agent/route/held-bounded", Fixture, NULL, fixture_setup, test_route_held_bounded, fixture_teardown);
  g_test_add ("/agent/bounds/oversized", Fixture, NULL, fixture_setup, test_bounds_oversized, fixture_teardown);
  g_test_add ("/agent/bounds/slow-subscriber", Fixture, NULL, fixture_setup, test_bounds_slow_subscriber, fixture_teardown);
  g_test_add ("/agent/input/garbage", Fixture, NULL, fixture_setup, test_garbage, fixture_teardown);
  g_test_add ("/agent/input/flood", Fixture, NULL, fixture_setup, test_flood, fixture_teardown);
  g_test_add ("/agent/publish/sub-peer", Fixture, NULL, fixture_setup, test_publish, fixture_teardown);
  g_test_add ("/agent/python-peer", Fixture, "no peer", fixture_setup, test_python_peer, fixture_teardown);

  return g_test_run ();
}
