/* lanlan-fake-tts-server.c — a Qwen-TTS Realtime server on 127.0.0.1
 *
 * Plays the service's side as its published protocol describes, and as
 * strictly: the key as a bearer token, else the handshake is answered
 * HTTP 401 with DashScope's JSON error body, as the service does (see
 * lanlan-tts-qwen.c); a model in the query, else it closes the
 * connection (1008); session.created first; session.update must come
 * before any text and carry a voice, a known mode and PCM; every client
 * event needs a unique event_id; commit answers committed, then
 * response.created, base64 PCM in response.audio.delta (20 ms of 440 Hz
 * per character, 100 ms a delta), response.audio.done and response.done.
 * Anything else gets an `error` event. It keeps every client event.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <string.h>

#include "lanlan-fake-tts-server.h"

typedef struct {
  FakeTtsServer           *server;
  SoupWebsocketConnection *ws;
  GHashTable              *event_ids;
  gboolean                 configured;
  GString                 *buffer;
  GSource                 *stream;
  gsize                    remaining;   /* samples of the response still to send */
  gsize                    sent;
} Conn;

struct _FakeTtsServer
{
  GMutex        lock;
  GCond         cond;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *soup;
  guint         port;
  char         *key;
  guint         interval_ms;
  GPtrArray    *conns;
  GPtrArray    *events;
  guint         n_connections;   /* handshakes asked for, refused ones too */
};

static void
conn_free (Conn *c)
{
  if (c->stream != NULL)
    {
      g_source_destroy (c->stream);
      g_source_unref (c->stream);
    }
  if (c->ws != NULL)
    g_signal_handlers_disconnect_by_data (c->ws, c);
  g_clear_object (&c->ws);
  g_hash_table_unref (c->event_ids);
  g_string_free (c->buffer, TRUE);
  g_free (c);
}

static void
send_json (Conn       *c,
           const char *json)
{
  if (c->ws != NULL && soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (c->ws, json);
}

static void
send_error (Conn       *c,
            const char *message)
{
  g_autofree char *json = g_strdup_printf (
    "{\"event_id\":\"event_srv\",\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
    "\"code\":\"invalid_value\",\"message\":\"%s\"}}", message);
  send_json (c, json);
}

static gboolean
stream_step (gpointer data)
{
  Conn *c = data;
  gsize n = MIN (c->remaining, 2400);   /* 100 ms */
  g_autofree gint16 *pcm = g_new (gint16, MAX (n, 1));
  g_autofree char *b64 = NULL;
  g_autofree char *json = NULL;

  for (gsize i = 0; i < n; i++)
    pcm[i] = GINT16_TO_LE ((gint16) (8000 * sin (2 * G_PI * 440 * (c->sent + i) / 24000.0)));
  b64 = g_base64_encode ((const guchar *) pcm, n * 2);
  json = g_strdup_printf ("{\"event_id\":\"event_srv\",\"type\":\"response.audio.delta\","
                          "\"response_id\":\"resp_1\",\"item_id\":\"item_1\",\"output_index\":0,"
                          "\"content_index\":0,\"delta\":\"%s\"}", b64);
  send_json (c, json);
  c->remaining -= n;
  c->sent += n;
  if (c->remaining > 0)
    return G_SOURCE_CONTINUE;
  send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"response.audio.done\",\"response_id\":\"resp_1\"}");
  send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"response.done\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\"}}");
  g_clear_pointer (&c->stream, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     kind,
            GBytes                  *message,
            Conn                    *c)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize size;
  const char *data = g_bytes_get_data (message, &size);
  JsonObject *o;
  const char *type;
  const char *id;

  g_mutex_lock (&c->server->lock);
  g_ptr_array_add (c->server->events, g_strndup (data, size));
  g_mutex_unlock (&c->server->lock);

  if (!json_parser_load_from_data (parser, data, size, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      send_error (c, "Invalid JSON");
      return;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (o, "type", "");
  id = json_object_get_string_member_with_default (o, "event_id", NULL);
  if (id == NULL || g_hash_table_contains (c->event_ids, id))
    {
      send_error (c, "event_id is missing or not unique");
      return;
    }
  g_hash_table_add (c->event_ids, g_strdup (id));

  if (g_str_equal (type, "session.update"))
    {
      JsonObject *s = json_object_get_object_member (o, "session");
      const char *voice = s ? json_object_get_string_member_with_default (s, "voice", NULL) : NULL;
      const char *mode = s ? json_object_get_string_member_with_default (s, "mode", "server_commit") : NULL;
      const char *format = s ? json_object_get_string_member_with_default (s, "response_format", "pcm") : NULL;

      if (voice == NULL || *voice == '\0' || format == NULL || !g_str_equal (format, "pcm") ||
          mode == NULL || (!g_str_equal (mode, "commit") && !g_str_equal (mode, "server_commit")))
        {
          send_error (c, "Invalid session parameters");
          return;
        }
      c->configured = TRUE;
      send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"session.updated\",\"session\":{\"mode\":\"commit\"}}");
    }
  else if (!c->configured)
    send_error (c, "session.update must come first");
  else if (g_str_equal (type, "input_text_buffer.append"))
    {
      const char *text = json_object_get_string_member_with_default (o, "text", NULL);
      if (text == NULL)
        send_error (c, "Missing text");
      else
        g_string_append (c->buffer, text);
    }
  else if (g_str_equal (type, "input_text_buffer.commit"))
    {
      if (c->buffer->len == 0 || c->stream != NULL)
        {
          send_error (c, "Nothing to commit");
          return;
        }
      send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"input_text_buffer.committed\",\"item_id\":\"item_1\"}");
      send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}");
      c->remaining = (gsize) g_utf8_strlen (c->buffer->str, -1) * 480;
      g_string_truncate (c->buffer, 0);
      c->stream = c->server->interval_ms ? g_timeout_source_new (c->server->interval_ms)
                                         : g_idle_source_new ();
      g_source_set_callback (c->stream, stream_step, c, NULL);
      g_source_attach (c->stream, c->server->context);
    }
  else if (g_str_equal (type, "input_text_buffer.clear"))
    {
      g_string_truncate (c->buffer, 0);
      send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"input_text_buffer.cleared\"}");
    }
  else if (g_str_equal (type, "session.finish"))
    {
      send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"session.finished\"}");
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  else
    send_error (c, "Unknown event type");
}

static void
on_closed (SoupWebsocketConnection *ws,
           Conn                    *c)
{
  if (c->stream != NULL)
    {
      g_source_destroy (c->stream);
      g_clear_pointer (&c->stream, g_source_unref);
    }
}

static void
ws_cb (SoupServer              *soup,
       SoupServerMessage       *msg,
       const char              *path,
       SoupWebsocketConnection *ws,
       gpointer                 data)
{
  FakeTtsServer *server = data;
  Conn *c = g_new0 (Conn, 1);
  const char *query = g_uri_get_query (soup_server_message_get_uri (msg));

  c->server = server;
  c->ws = g_object_ref (ws);
  c->event_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->buffer = g_string_new (NULL);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), c);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), c);
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->conns, c);
  g_mutex_unlock (&server->lock);
  if (query == NULL || strstr (query, "model=") == NULL)
    {
      soup_websocket_connection_close (ws, 1008, "model is required");
      return;
    }
  send_json (c, "{\"event_id\":\"event_srv\",\"type\":\"session.created\",\"session\":{\"object\":\"realtime.session\","
                "\"mode\":\"server_commit\",\"model\":\"qwen3-tts-flash-realtime\",\"voice\":\"Cherry\","
                "\"response_format\":\"pcm\",\"sample_rate\":24000,\"id\":\"sess_1\"}}");
}

/* Before the upgrade: a wrong or missing key never gets a WebSocket. */
static void
handshake_cb (SoupServer        *soup,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           data)
{
  FakeTtsServer *server = data;
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  g_autofree char *expected = g_strconcat ("Bearer ", server->key, NULL);
  static const char body[] =
    "{\"request_id\":\"8c2dc67a-89db-9351-878a-c3f3db7bebe3\",\"code\":\"InvalidApiKey\","
    "\"message\":\"Invalid API-key provided.\"}";

  g_mutex_lock (&server->lock);
  server->n_connections++;
  g_mutex_unlock (&server->lock);
  if (g_strcmp0 (auth, expected) == 0)
    return;
  soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
}

static gpointer
server_thread (gpointer data)
{
  FakeTtsServer *server = data;
  GSList *uris;

  g_main_context_push_thread_default (server->context);
  server->soup = soup_server_new (NULL, NULL);
  soup_server_add_early_handler (server->soup, "/api-ws/v1/realtime", handshake_cb, server, NULL);
  soup_server_add_websocket_handler (server->soup, "/api-ws/v1/realtime", NULL, NULL, ws_cb, server, NULL);
  g_assert_true (soup_server_listen_local (server->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
  uris = soup_server_get_uris (server->soup);
  g_mutex_lock (&server->lock);
  server->port = g_uri_get_port (uris->data);
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (server->loop);
  g_ptr_array_set_size (server->conns, 0);
  soup_server_disconnect (server->soup);
  g_clear_object (&server->soup);
  while (g_main_context_iteration (server->context, FALSE))
    ;
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

FakeTtsServer *
fake_tts_server_new (const char *key)
{
  FakeTtsServer *server = g_new0 (FakeTtsServer, 1);

  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->key = g_strdup (key);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  server->events = g_ptr_array_new_with_free_func (g_free);
  server->thread = g_thread_new ("fake-tts-server", server_thread, server);
  g_mutex_lock (&server->lock);
  while (server->port == 0)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);
  return server;
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

void
fake_tts_server_free (FakeTtsServer *server)
{
  g_main_context_invoke (server->context, quit_loop, server->loop);
  g_thread_join (server->thread);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_ptr_array_unref (server->conns);
  g_ptr_array_unref (server->events);
  g_free (server->key);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

char *
fake_tts_server_get_url (FakeTtsServer *server)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/api-ws/v1/realtime", server->port);
}

guint
fake_tts_server_get_n_connections (FakeTtsServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->n_connections;
  g_mutex_unlock (&server->lock);
  return n;
}

GPtrArray *
fake_tts_server_dup_events (FakeTtsServer *server)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&server->lock);
  for (guint i = 0; i < server->events->len; i++)
    g_ptr_array_add (copy, g_strdup (g_ptr_array_index (server->events, i)));
  g_mutex_unlock (&server->lock);
  return copy;
}

void
fake_tts_server_set_chunk_interval (FakeTtsServer *server,
                                    guint          ms)
{
  g_mutex_lock (&server->lock);
  server->interval_ms = ms;
  g_mutex_unlock (&server->lock);
}
