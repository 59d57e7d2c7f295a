/* lanlan-fake-server.c — a scripted realtime server on 127.0.0.1 for tests
 *
 * A SoupServer with a WebSocket handler, running on its own thread and
 * GMainContext so that the code under test can block its own loop without
 * stalling the server. It plays the provider's side of the protocol from a
 * small script (GA or beta names, errors, stalls, drops, expiry) and keeps
 * everything a test wants to check: the events received, the microphone
 * samples received in order, the priming items, the truncate point.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "lanlan-fake-server.h"

typedef struct {
  FakeServer              *server;
  guint                    index;
  SoupWebsocketConnection *ws;
  FakeScript               script;
  GPtrArray               *received;
  GPtrArray               *items;
  GArray                  *samples;
  GArray                  *delta_times;
  gint                     truncate_ms;
  char                    *auth;
  gboolean                 closed;
  guint                    n_responses;
  guint                    n_updates;
  GSource                  *stream;
  guint                    next_delta;
  guint                    sample_counter;
  char                    *response_id;
  char                    *item_id;
  GString                 *transcript;

  /* The provider's view of the session. */
  gboolean                 session_seen;
  gboolean                 server_vad;
  char                    *chat_mode;
  char                    *instructions;
  guint                    buffer_samples;  /* in the input buffer since commit/clear */
  GHashTable              *item_samples;    /* assistant item id → audio samples sent */
  guint                    n_errors;        /* provoked by the client */
  GString                 *errors;
  guint                    n_server_events;
  guint                    max_append;
  guint                    min_append;      /* G_MAXUINT: none yet */
  guint                    last_append;     /* folded into min at the next append */
} FakeConn;

struct _FakeServer
{
  GMutex        lock;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *soup;
  guint         port;
  GPtrArray    *conns;
  GHashTable   *scripts;
  FakeScript    default_script;
  char         *expected_key;
  gboolean      recording;      /* off for soak runs: keep nothing per event */
  GCond         ready_cond;
  gboolean      ready;

  /* /v1/chat/completions (summaries): what it answers, what it saw */
  guint         chat_status;
  char         *chat_content;
  GPtrArray    *chat_prompts;   /* each accepted request's messages, "role:content\n"… */
  guint         chat_rejected;
};

static void
conn_free (FakeConn *conn)
{
  if (conn->stream != NULL)
    {
      g_source_destroy (conn->stream);
      g_source_unref (conn->stream);
    }
  if (conn->ws != NULL)
    g_signal_handlers_disconnect_by_data (conn->ws, conn);
  g_clear_object (&conn->ws);
  g_ptr_array_unref (conn->received);
  g_ptr_array_unref (conn->items);
  g_array_unref (conn->samples);
  g_array_unref (conn->delta_times);
  g_free (conn->auth);
  g_free (conn->response_id);
  g_free (conn->item_id);
  g_string_free (conn->transcript, TRUE);
  g_free (conn->chat_mode);
  g_free (conn->instructions);
  g_hash_table_unref (conn->item_samples);
  g_string_free (conn->errors, TRUE);
  g_free (conn);
}

static void
conn_send (FakeConn   *conn,
           const char *json)
{
  if (conn->ws != NULL &&
      soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (conn->ws, json);
}

static const char *
name (FakeConn   *conn,
      const char *ga,
      const char *beta)
{
  return conn->script.beta ? beta : ga;
}

static void
send_response_done (FakeConn   *conn,
                    const char *status)
{
  g_autofree char *json = g_strdup_printf (
    "{\"type\":\"response.done\",\"response\":{\"id\":\"%s\",\"status\":\"%s\"}}",
    conn->response_id, status);

  conn_send (conn, json);
  g_clear_pointer (&conn->response_id, g_free);
}

static void
stop_stream (FakeConn *conn)
{
  if (conn->stream != NULL)
    {
      g_source_destroy (conn->stream);
      g_clear_pointer (&conn->stream, g_source_unref);
    }
}

static void
drop_connection (FakeConn *conn)
{
  GIOStream *io;

  stop_stream (conn);
  if (conn->ws == NULL)
    return;
  io = soup_websocket_connection_get_io_stream (conn->ws);
  g_io_stream_close (io, NULL, NULL);
}

/* One step of an answer: a delta, or the end. */
static gboolean
stream_step (gpointer user_data)
{
  FakeConn *conn = user_data;
  FakeScript *s = &conn->script;

  while (conn->next_delta < s->n_deltas)
    {
      g_autofree gint16 *pcm = g_new (gint16, s->samples_per_delta);
      g_autofree char *b64 = NULL;
      g_autofree char *json = NULL;
      g_autofree char *word = NULL;
      gint64 now;

      if (s->on_response == FAKE_RESPONSE_DROP && conn->next_delta == s->n_deltas / 2)
        {
          drop_connection (conn);   /* destroys and drops conn->stream */
          return G_SOURCE_REMOVE;
        }

      if (!s->text_only)
        {
          for (guint i = 0; i < s->samples_per_delta; i++)
            if (s->tone_amplitude > 0)
              pcm[i] = (gint16) (MIN (s->tone_amplitude, 32767) *
                                 sin (2 * G_PI * 440.0 *
                                      ((double) conn->next_delta * s->samples_per_delta + i) / 24000.0));
            else
              pcm[i] = (gint16) (conn->next_delta % 30000 + 1);
          b64 = g_base64_encode ((const guchar *) pcm, s->samples_per_delta * 2);
          json = g_strdup_printf ("{\"type\":\"%s\",\"response_id\":\"%s\",\"item_id\":\"%s\","
                                  "\"output_index\":0,\"content_index\":0,\"delta\":\"%s\"}",
                                  name (conn, "response.output_audio.delta", "response.audio.delta"),
                                  conn->response_id, conn->item_id, b64);
          now = g_get_monotonic_time ();
          conn_send (conn, json);
          g_hash_table_insert (conn->item_samples, g_strdup (conn->item_id),
                               GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (conn->item_samples,
                                                                                          conn->item_id))
                                                 + s->samples_per_delta));
          g_mutex_lock (&conn->server->lock);
          if (conn->server->recording)
            g_array_append_val (conn->delta_times, now);
          g_mutex_unlock (&conn->server->lock);
        }

      word = g_strdup_printf ("w%u ", conn->next_delta);
      g_string_append (conn->transcript, word);
      g_free (json);
      json = g_strdup_printf ("{\"type\":\"%s\",\"response_id\":\"%s\",\"item_id\":\"%s\","
                              "\"content_index\":0,\"delta\":\"%s\"}",
                              s->text_only ?
                                name (conn, "response.output_text.delta", "response.text.delta") :
                                name (conn, "response.output_audio_transcript.delta",
                                      "response.audio_transcript.delta"),
                              conn->response_id, conn->item_id, word);
      conn_send (conn, json);
      conn->next_delta++;

      if (s->delta_interval_ms > 0 && !s->answer_at_once)
        return G_SOURCE_CONTINUE;
    }

  {
    g_autofree char *done = g_strdup_printf (
      "{\"type\":\"%s\",\"response_id\":\"%s\",\"item_id\":\"%s\",\"content_index\":0}",
      name (conn, "response.output_audio.done", "response.audio.done"),
      conn->response_id, conn->item_id);
    g_autofree char *tdone = g_strdup_printf (
      "{\"type\":\"%s\",\"response_id\":\"%s\",\"item_id\":\"%s\",\"content_index\":0,"
      "\"transcript\":\"%s\"}",
      name (conn, "response.output_audio_transcript.done", "response.audio_transcript.done"),
      conn->response_id, conn->item_id, conn->transcript->str);

    if (s->text_only)
      {
        g_autofree char *text_done = g_strdup_printf (
          "{\"type\":\"%s\",\"response_id\":\"%s\",\"item_id\":\"%s\",\"content_index\":0,"
          "\"text\":\"%s\"}",
          name (conn, "response.output_text.done", "response.text.done"),
          conn->response_id, conn->item_id, conn->transcript->str);
        conn_send (conn, text_done);
      }
    else
      {
        conn_send (conn, done);
        conn_send (conn, tdone);
      }
    send_response_done (conn, "completed");
  }

  g_clear_pointer (&conn->stream, g_source_unref);
  if (s->on_response == FAKE_RESPONSE_EXPIRE && conn->ws != NULL)
    {
      /* OpenAI: an `error` first, then the close. */
      conn_send (conn, "{\"type\":\"error\",\"event_id\":\"evt_expire\",\"error\":{"
                       "\"type\":\"invalid_request_error\",\"code\":\"session_expired\","
                       "\"message\":\"Your session hit the maximum duration of 60 minutes.\","
                       "\"param\":null,\"event_id\":null}}");
      soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                       "session expired");
    }
  return G_SOURCE_REMOVE;
}

static void send_error (FakeConn *conn, const char *code, const char *message,
                        const char *client_event_id, gboolean provoked);

static void
start_response (FakeConn   *conn,
                const char *event_id)
{
  g_autofree char *created = NULL;
  g_autofree char *added = NULL;

  switch (conn->script.on_response)
    {
    case FAKE_RESPONSE_STALL:
      return;
    case FAKE_RESPONSE_ERROR:
      send_error (conn, "internal", "The model is overloaded", event_id, FALSE);
      return;
    default:
      break;
    }

  if (conn->response_id != NULL)
    {
      send_error (conn, "conversation_already_has_active_response",
                  "Conversation already has an active response", event_id, TRUE);
      return;
    }

  conn->n_responses++;
  conn->response_id = g_strdup_printf ("resp_%u_%u", conn->index, conn->n_responses);
  g_free (conn->item_id);
  conn->item_id = g_strdup_printf ("item_%u_%u", conn->index, conn->n_responses);
  conn->next_delta = 0;
  g_string_truncate (conn->transcript, 0);

  created = g_strdup_printf ("{\"type\":\"response.created\",\"response\":{\"id\":\"%s\","
                             "\"status\":\"in_progress\"}}", conn->response_id);
  added = g_strdup_printf ("{\"type\":\"response.output_item.added\",\"response_id\":\"%s\","
                           "\"output_index\":0,\"item\":{\"id\":\"%s\",\"type\":\"message\","
                           "\"role\":\"assistant\"}}", conn->response_id, conn->item_id);
  conn_send (conn, created);
  conn_send (conn, added);

  if (conn->script.answer_at_once)
    {
      /* No source in between: a cancel sent on response.created cannot be
       * read before response.done went out, however the threads are
       * scheduled. */
      stream_step (conn);
      return;
    }
  if (conn->script.delta_interval_ms > 0)
    conn->stream = g_timeout_source_new (conn->script.delta_interval_ms);
  else
    conn->stream = g_idle_source_new ();
  g_source_set_callback (conn->stream, stream_step, conn, NULL);
  g_source_attach (conn->stream, conn->server->context);
}

/* A reset (RST), not an orderly close: no close frame, no FIN. */
static void
reset_connection (FakeConn *conn)
{
  GIOStream *io;

  stop_stream (conn);
  if (conn->ws == NULL)
    return;
  io = soup_websocket_connection_get_io_stream (conn->ws);
  if (G_IS_SOCKET_CONNECTION (io))
    {
      struct linger linger = { .l_onoff = 1, .l_linger = 0 };
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (io));

      setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
  g_io_stream_close (io, NULL, NULL);
}

static gboolean
close_after_update (gpointer user_data)
{
  FakeConn *conn = user_data;

  if (conn->ws == NULL || soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_REMOVE;
  if (conn->script.close_after_update == 1006)
    drop_connection (conn);   /* 1006 is never sent: no close frame at all */
  else if (conn->script.close_after_update > 0)
    soup_websocket_connection_close (conn->ws, (gushort) conn->script.close_after_update, "bye");
  else
    reset_connection (conn);
  return G_SOURCE_REMOVE;
}

static gboolean
send_session_updated (gpointer user_data)
{
  FakeConn *conn = user_data;

  conn_send (conn, "{\"type\":\"session.updated\",\"session\":{\"id\":\"sess_1\"}}");
  if (conn->script.close_after_update != 0)
    {
      GSource *source = g_timeout_source_new (10);

      g_source_set_callback (source, close_after_update, conn, NULL);
      g_source_attach (source, conn->server->context);
      g_source_unref (source);
    }
  return G_SOURCE_REMOVE;
}

/* --- the services' rules ------------------------------------------------------
 * Written from each service's published client events, independently of
 * src/realtime/lanlan-provider.c, so that a wrong table there fails here. */

static const char * const openai_accepts[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "conversation.item.retrieve",
  "conversation.item.truncate", "conversation.item.delete", "response.create",
  "response.cancel", NULL
};
static const char * const beta_accepts[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
  "conversation.item.delete", "response.create", "response.cancel", NULL
};
static const char * const qwen_accepts[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "input_image_buffer.append", "response.create",
  "response.cancel", NULL
};
static const char * const glm_accepts[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.append_video_frame",
  "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
  "response.create", "response.cancel", NULL
};
static const char * const stepfun_accepts[] = {
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
  "input_audio_buffer.clear", "conversation.item.create", "response.create",
  "response.cancel", NULL
};

static const char * const *
accepted_events (FakeConn *conn)
{
  switch (conn->script.provider)
    {
    case FAKE_PROVIDER_OPENAI: return openai_accepts;
    case FAKE_PROVIDER_QWEN: return qwen_accepts;
    case FAKE_PROVIDER_GLM: return glm_accepts;
    case FAKE_PROVIDER_STEPFUN: return stepfun_accepts;
    case FAKE_PROVIDER_GENERIC:
    default:
      return conn->script.beta ? beta_accepts : openai_accepts;
    }
}

static gboolean
is_ga (FakeConn *conn)
{
  return conn->script.provider == FAKE_PROVIDER_OPENAI ||
         (conn->script.provider == FAKE_PROVIDER_GENERIC && !conn->script.beta);
}

/* Whether server VAD cancels the answer in flight when speech starts. */
static gboolean
vad_interrupts (FakeConn *conn)
{
  return conn->script.provider != FAKE_PROVIDER_STEPFUN;
}

/* The provider's `error` shape. OpenAI echoes the client's event_id in
 * error.event_id; the Qwen and GLM docs show none. */
static void
send_error (FakeConn   *conn,
            const char *code,
            const char *message,
            const char *client_event_id,
            gboolean    provoked)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *id = g_strdup_printf ("event_srv_%u", ++conn->n_server_events);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event_id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, g_str_equal (code, "internal") ? "server_error"
                                                                    : "invalid_request_error");
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  if (conn->script.provider != FAKE_PROVIDER_GLM)
    {
      json_builder_set_member_name (b, "param");
      json_builder_add_null_value (b);
    }
  if (is_ga (conn) || (conn->script.provider == FAKE_PROVIDER_GENERIC && conn->script.beta))
    {
      json_builder_set_member_name (b, "event_id");
      if (client_event_id != NULL)
        json_builder_add_string_value (b, client_event_id);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);

  if (provoked)
    {
      g_mutex_lock (&conn->server->lock);
      conn->n_errors++;
      g_string_append_printf (conn->errors, "%s: %s\n", code, message);
      g_mutex_unlock (&conn->server->lock);
    }
  conn_send (conn, text);
}

static JsonObject *
member_object (JsonObject *o,
               const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static const char *
member_string (JsonObject *o,
               const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING ?
         json_node_get_string (n) : NULL;
}

static gboolean
in_list (const char        *value,
         const char * const *list)
{
  return value != NULL && g_strv_contains (list, value);
}

/* The modalities as one string, "text,audio". */
static char *
modalities (JsonObject *session)
{
  JsonNode *n = json_object_get_member (session, "modalities");
  GString *s;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  s = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (n)); i++)
    g_string_append_printf (s, "%s%s", i ? "," : "",
                            json_array_get_string_element (json_node_get_array (n), i));
  return g_string_free (s, FALSE);
}

/* NULL if the service takes this session, else why not. */
static const char *
check_session (FakeConn   *conn,
               JsonObject *session)
{
  static const char * const qwen_voices[] = { "Cherry", "Chelsie", "Ethan", "Serena", NULL };
  static const char * const openai_voices[] = {
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar", NULL
  };
  g_autofree char *mods = NULL;
  JsonObject *td;
  const char *in, *out, *voice;

  if (session == NULL)
    return "session.update without a session";
  mods = modalities (session);
  in = member_string (session, "input_audio_format");
  out = member_string (session, "output_audio_format");
  voice = member_string (session, "voice");
  td = member_object (session, "turn_detection");

  if (is_ga (conn))
    {
      JsonObject *input = member_object (member_object (session, "audio"), "input");
      JsonObject *tr = member_object (input, "transcription");
      const char *lang = member_string (tr, "language");
      JsonObject *output = member_object (member_object (session, "audio"), "output");
      const char *ga_voice = member_string (output, "voice");

      if (g_strcmp0 (member_string (session, "type"), "realtime") != 0)
        return "Missing required parameter: 'session.type'.";
      if (json_object_has_member (session, "modalities") ||
          json_object_has_member (session, "input_audio_format"))
        return "Unknown parameter: beta session field in a GA session.";
      if (lang != NULL && (strlen (lang) != 2 || !g_ascii_islower (lang[0]) ||
                           !g_ascii_islower (lang[1])))
        return "Invalid 'session.audio.input.transcription.language': expected ISO-639-1.";
      if (conn->script.provider == FAKE_PROVIDER_OPENAI && ga_voice != NULL &&
          !in_list (ga_voice, openai_voices))
        return "Invalid value for 'session.audio.output.voice'.";
      return NULL;
    }

  if (json_object_has_member (session, "type") || json_object_has_member (session, "audio"))
    return "Unknown parameter: GA session field in a beta session.";

  switch (conn->script.provider)
    {
    case FAKE_PROVIDER_QWEN:
      if (in != NULL && !g_str_equal (in, "pcm16"))
        return "input_audio_format supports only pcm16";
      if (out != NULL && !g_str_equal (out, "pcm24"))
        return "output_audio_format supports only pcm24";
      if (mods != NULL && !g_str_equal (mods, "text") && !g_str_equal (mods, "text,audio"))
        return "Invalid modalities";
      if (voice != NULL && !in_list (voice, qwen_voices))
        return "Invalid voice";
      if (json_object_has_member (session, "input_audio_transcription"))
        return "input_audio_transcription cannot be modified";
      break;
    case FAKE_PROVIDER_GLM:
      {
        JsonObject *beta = member_object (session, "beta_fields");
        const char *mode = member_string (beta, "chat_mode");

        if (!conn->session_seen && (in == NULL || beta == NULL))
          return "input_audio_format and beta_fields.chat_mode are required";
        if (in != NULL && !g_str_equal (in, "wav"))
          return "input_audio_format supports only wav";
        if (out != NULL && !g_str_equal (out, "pcm") && !g_str_equal (out, "mp3"))
          return "output_audio_format supports pcm or mp3";
        if (beta != NULL && !in_list (mode, (const char * const []) { "audio", "video_passive", NULL }))
          return "beta_fields.chat_mode must be audio or video_passive";
        if (td != NULL && !in_list (member_string (td, "type"),
                                    (const char * const []) { "client_vad", "server_vad", NULL }))
          return "turn_detection.type must be client_vad or server_vad";
      }
      break;
    case FAKE_PROVIDER_STEPFUN:
      if (mods != NULL && !g_str_equal (mods, "text,audio"))
        return "modalities is fixed to [\"text\", \"audio\"]";
      if (in != NULL && !g_str_equal (in, "pcm16"))
        return "input_audio_format supports only pcm16";
      if (td != NULL && g_strcmp0 (member_string (td, "type"), "server_vad") != 0)
        return "turn_detection.type supports only server_vad";
      break;
    default:
      if (in != NULL && !g_str_equal (in, "pcm16"))
        return "Invalid input_audio_format";
      break;
    }
  return NULL;
}

static void
apply_session (FakeConn   *conn,
               JsonObject *session)
{
  JsonNode *td_node;
  JsonObject *beta = member_object (session, "beta_fields");
  const char *instructions = member_string (session, "instructions");

  if (is_ga (conn))
    td_node = json_object_get_member (member_object (member_object (session, "audio"), "input") ?
                                      member_object (member_object (session, "audio"), "input") :
                                      session, "turn_detection");
  else
    td_node = json_object_get_member (session, "turn_detection");
  if (td_node != NULL)
    conn->server_vad = JSON_NODE_HOLDS_OBJECT (td_node) &&
                       g_strcmp0 (member_string (json_node_get_object (td_node), "type"),
                                  "server_vad") == 0;
  if (beta != NULL && member_string (beta, "chat_mode") != NULL)
    {
      g_free (conn->chat_mode);
      conn->chat_mode = g_strdup (member_string (beta, "chat_mode"));
    }
  if (instructions != NULL)
    {
      g_mutex_lock (&conn->server->lock);
      g_free (conn->instructions);
      conn->instructions = g_strdup (instructions);
      g_mutex_unlock (&conn->server->lock);
    }
  conn->session_seen = TRUE;
}

static void
note_append (FakeConn *conn,
             guint     n)
{
  g_mutex_lock (&conn->server->lock);
  if (conn->last_append > 0)
    conn->min_append = MIN (conn->min_append, conn->last_append);
  conn->last_append = n;
  conn->max_append = MAX (conn->max_append, n);
  g_mutex_unlock (&conn->server->lock);
}

static void
handle_event (FakeConn   *conn,
              const char *text,
              gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object;
  const char *type;
  const char *event_id;

  if (!json_parser_load_from_data (parser, text, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      send_error (conn, "invalid_json", "The client event is not a JSON object", NULL, TRUE);
      return;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (object, "type", "");
  event_id = member_string (object, "event_id");

  g_mutex_lock (&conn->server->lock);
  if (conn->server->recording)
    g_ptr_array_add (conn->received, g_strndup (text, len));
  g_mutex_unlock (&conn->server->lock);

  if (event_id == NULL || *event_id == '\0')
    {
      send_error (conn, "missing_event_id", "Every client event needs an event_id", NULL, TRUE);
      return;
    }
  if (!g_strv_contains (accepted_events (conn), type))
    {
      g_autofree char *msg = g_strdup_printf ("Invalid value: '%s'. Unsupported event type.", type);
      send_error (conn, "invalid_value", msg, event_id, TRUE);
      return;
    }

  if (g_str_equal (type, "session.update"))
    {
      JsonObject *session = member_object (object, "session");
      const char *why = check_session (conn, session);

      if (why != NULL)
        {
          send_error (conn, "invalid_value", why, event_id, TRUE);
          return;
        }
      apply_session (conn, session);
      if (++conn->n_updates == conn->script.drop_at_update)
        drop_connection (conn);
      else if (conn->script.reject_session)
        send_error (conn, "invalid_value", "Unknown voice", event_id, FALSE);
      else if (conn->script.session_delay_ms > 0)
        {
          GSource *source = g_timeout_source_new (conn->script.session_delay_ms);
          g_source_set_callback (source, send_session_updated, conn, NULL);
          g_source_attach (source, conn->server->context);
          g_source_unref (source);
        }
      else
        send_session_updated (conn);
    }
  else if (g_str_equal (type, "input_audio_buffer.append"))
    {
      const char *b64 = member_string (object, "audio");
      gsize n_bytes = 0;
      g_autofree guchar *pcm = b64 ? g_base64_decode (b64, &n_bytes) : NULL;
      const guchar *samples = pcm;

      if (conn->script.provider == FAKE_PROVIDER_GLM)
        {
          /* GLM takes every append as a WAV file. */
          if (n_bytes < 44 || memcmp (pcm, "RIFF", 4) != 0 || memcmp (pcm + 8, "WAVE", 4) != 0)
            {
              send_error (conn, "invalid_audio", "audio must be base64 WAV", event_id, TRUE);
              return;
            }
          samples = pcm + 44;
          n_bytes -= 44;
        }
      if (n_bytes == 0 || n_bytes % 2 != 0)
        {
          send_error (conn, "invalid_audio", "audio is not PCM16", event_id, TRUE);
          return;
        }
      note_append (conn, n_bytes / 2);
      conn->buffer_samples += n_bytes / 2;
      g_mutex_lock (&conn->server->lock);
      if (conn->server->recording)
        g_array_append_vals (conn->samples, samples, n_bytes / 2);
      g_mutex_unlock (&conn->server->lock);
    }
  else if (g_str_equal (type, "input_image_buffer.append"))
    {
      if (member_string (object, "image") == NULL)
        send_error (conn, "invalid_value", "image is required", event_id, TRUE);
      else if (conn->buffer_samples == 0)
        send_error (conn, "invalid_value", "An image needs audio in the input buffer first",
                    event_id, TRUE);
    }
  else if (g_str_equal (type, "input_audio_buffer.append_video_frame"))
    {
      if (member_string (object, "video_frame") == NULL)
        send_error (conn, "invalid_value", "video_frame is required", event_id, TRUE);
      else if (g_strcmp0 (conn->chat_mode, "video_passive") != 0)
        send_error (conn, "invalid_value", "video frames need chat_mode video_passive",
                    event_id, TRUE);
    }
  else if (g_str_equal (type, "input_audio_buffer.commit"))
    {
      conn->buffer_samples = 0;
      conn->last_append = 0;   /* the tail of a turn may be short */
      conn_send (conn, "{\"type\":\"input_audio_buffer.committed\",\"item_id\":\"user_item\"}");
      if (conn->script.respond_on_commit)
        start_response (conn, event_id);
    }
  else if (g_str_equal (type, "input_audio_buffer.clear"))
    {
      conn->buffer_samples = 0;
      conn->last_append = 0;
      conn_send (conn, "{\"type\":\"input_audio_buffer.cleared\"}");
    }
  else if (g_str_equal (type, "conversation.item.create"))
    {
      JsonObject *item = member_object (object, "item");
      const char *role = item ? json_object_get_string_member_with_default (item, "role", "?") : "?";
      JsonArray *content = item && json_object_has_member (item, "content") ?
                           json_object_get_array_member (item, "content") : NULL;
      JsonObject *part = content && json_array_get_length (content) > 0 ?
                         json_array_get_object_element (content, 0) : NULL;
      const char *t = part ? json_object_get_string_member_with_default (part, "text", "") : "";
      const char *ptype = part ? member_string (part, "type") : NULL;
      const char *want = g_str_equal (role, "assistant") ? (is_ga (conn) ? "output_text" : "text")
                                                          : "input_text";
      g_autofree char *ack = NULL;

      if (g_strcmp0 (ptype, want) != 0 && g_strcmp0 (ptype, "input_image") != 0)
        {
          send_error (conn, "invalid_value", "Invalid content type for this role", event_id, TRUE);
          return;
        }
      ack = g_strdup_printf ("{\"type\":\"%s\",\"item\":{\"id\":\"it_%u\",\"role\":\"%s\"}}",
                             name (conn, "conversation.item.added", "conversation.item.created"),
                             conn->items->len, role);
      g_mutex_lock (&conn->server->lock);
      if (conn->server->recording && g_strcmp0 (ptype, "input_image") != 0)
        g_ptr_array_add (conn->items, g_strdup_printf ("%s:%s", role, t));
      g_mutex_unlock (&conn->server->lock);
      conn_send (conn, ack);
    }
  else if (g_str_equal (type, "response.create"))
    start_response (conn, event_id);
  else if (g_str_equal (type, "response.cancel"))
    {
      if (conn->response_id == NULL)
        send_error (conn, "response_cancel_not_active",
                    "Cancellation failed: no active response found", event_id, TRUE);
      else
        {
          stop_stream (conn);
          send_response_done (conn, "cancelled");
        }
    }
  else if (g_str_equal (type, "conversation.item.truncate"))
    {
      const char *item_id = member_string (object, "item_id");
      gint64 ms = json_object_get_int_member_with_default (object, "audio_end_ms", -2);
      gpointer samples;

      if (item_id == NULL ||
          !g_hash_table_lookup_extended (conn->item_samples, item_id, NULL, &samples))
        {
          send_error (conn, "item_not_found", "No assistant item with that id", event_id, TRUE);
          return;
        }
      if (ms < 0 || ms > (gint64) GPOINTER_TO_UINT (samples) * 1000 / 24000)
        {
          send_error (conn, "invalid_value", "audio_end_ms is longer than the item's audio",
                      event_id, TRUE);
          return;
        }
      g_mutex_lock (&conn->server->lock);
      conn->truncate_ms = (gint) ms;
      g_mutex_unlock (&conn->server->lock);
      conn_send (conn, "{\"type\":\"conversation.item.truncated\"}");
    }
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 user_data)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  handle_event (user_data, data, len);
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  FakeConn *conn = user_data;

  stop_stream (conn);
  g_mutex_lock (&conn->server->lock);
  conn->closed = TRUE;
  g_mutex_unlock (&conn->server->lock);
}

static const FakeScript *
script_for (FakeServer *server,
            guint       index)
{
  FakeScript *s = g_hash_table_lookup (server->scripts, GUINT_TO_POINTER (index + 1));
  return s ? s : &server->default_script;
}

static void
websocket_cb (SoupServer              *soup,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  FakeServer *server = user_data;
  FakeConn *conn = g_new0 (FakeConn, 1);
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  gboolean auth_ok;

  conn->server = server;
  conn->ws = g_object_ref (ws);
  conn->received = g_ptr_array_new_with_free_func (g_free);
  conn->items = g_ptr_array_new_with_free_func (g_free);
  conn->samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  conn->delta_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  conn->truncate_ms = -1;
  conn->transcript = g_string_new (NULL);
  conn->auth = g_strdup (auth);
  conn->item_samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  conn->errors = g_string_new (NULL);
  conn->min_append = G_MAXUINT;

  g_mutex_lock (&server->lock);
  conn->index = server->conns->len;
  conn->script = *script_for (server, conn->index);
  g_ptr_array_add (server->conns, conn);
  auth_ok = server->expected_key == NULL ||
            (auth != NULL && g_str_has_prefix (auth, "Bearer ") &&
             g_str_equal (auth + 7, server->expected_key));
  g_mutex_unlock (&server->lock);

  soup_websocket_connection_set_max_incoming_payload_size (ws, 32 * 1024 * 1024);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), conn);

  if (!auth_ok)
    {
      soup_websocket_connection_close (ws, 1008, "invalid api key");
      return;
    }

  if (conn->script.garbage_first)
    {
      conn_send (conn, "{\"type\":\"session.created\", this is not json");
      conn_send (conn, "{\"type\":\"response.brand_new_event\",\"x\":1}");
      conn_send (conn, "[1,2,3]");
    }
  conn_send (conn, "{\"type\":\"session.created\",\"session\":{\"id\":\"sess_1\"}}");
}

static void
unauthorized_cb (SoupServer        *soup,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
}

/* --- Chat completions ------------------------------------------------------ */

static GPtrArray *dup_strv (GPtrArray *array);

/* The non-streaming chat completions the app makes beside a realtime
 * session (the rolling summary), as strict as OpenAI's: POST, JSON, the
 * key as a Bearer token, only known fields of the right types, at least
 * one message, each a known role with non-empty string content.
 * Anything else is refused (400/401/404/405/415) and counted. */
static gboolean
chat_reject (SoupServerMessage *msg,
             FakeServer        *server,
             guint              status,
             const char        *why)
{
  g_autofree char *body = g_strdup_printf ("{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\"}}", why);

  g_message ("fake chat server rejects: %s", why);
  g_mutex_lock (&server->lock);
  server->chat_rejected++;
  g_mutex_unlock (&server->lock);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
  return FALSE;
}

static gboolean
chat_check (SoupServerMessage *msg,
            FakeServer        *server,
            GString           *prompt)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *auth = soup_message_headers_get_one (headers, "Authorization");
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GList) members = NULL;
  g_autofree char *expected_key = NULL;
  JsonObject *object;
  JsonArray *messages;

  g_mutex_lock (&server->lock);
  expected_key = g_strdup (server->expected_key);
  g_mutex_unlock (&server->lock);

  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0)
    return chat_reject (msg, server, 405, "method");
  if (g_strcmp0 (type, "application/json") != 0)
    return chat_reject (msg, server, 415, "content type");
  if (auth == NULL || !g_str_has_prefix (auth, "Bearer ") || auth[7] == '\0' ||
      (expected_key != NULL && !g_str_equal (auth + 7, expected_key)))
    return chat_reject (msg, server, 401, "authorization");
  if (body->length == 0 || !json_parser_load_from_data (parser, body->data, body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return chat_reject (msg, server, 400, "body is not a JSON object");

  object = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *field = l->data;
      JsonNode *node = json_object_get_member (object, field);
      GType vt = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

      if (g_str_equal (field, "model"))
        {
          if (vt != G_TYPE_STRING || *json_node_get_string (node) == '\0')
            return chat_reject (msg, server, 400, "model");
        }
      else if (g_str_equal (field, "stream"))
        {
          /* This fake answers whole completions only. */
          if (vt != G_TYPE_BOOLEAN || json_node_get_boolean (node))
            return chat_reject (msg, server, 400, "stream");
        }
      else if (g_str_equal (field, "temperature"))
        {
          if ((vt != G_TYPE_DOUBLE && vt != G_TYPE_INT64) ||
              json_node_get_double (node) < 0 || json_node_get_double (node) > 2)
            return chat_reject (msg, server, 400, "temperature");
        }
      else if (g_str_equal (field, "max_tokens"))
        {
          if (vt != G_TYPE_INT64 || json_node_get_int (node) <= 0)
            return chat_reject (msg, server, 400, "max_tokens");
        }
      else if (!g_str_equal (field, "messages"))
        return chat_reject (msg, server, 400, "unknown field");
    }
  if (!json_object_has_member (object, "model") || !json_object_has_member (object, "messages") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "messages")))
    return chat_reject (msg, server, 400, "model or messages missing");

  messages = json_object_get_array_member (object, "messages");
  if (json_array_get_length (messages) == 0)
    return chat_reject (msg, server, 400, "no messages");
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      JsonObject *m = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *role = m != NULL ? json_object_get_member (m, "role") : NULL;
      JsonNode *content = m != NULL ? json_object_get_member (m, "content") : NULL;
      const char *r;

      if (m == NULL || json_object_get_size (m) != 2 || role == NULL || content == NULL ||
          !JSON_NODE_HOLDS_VALUE (role) || json_node_get_value_type (role) != G_TYPE_STRING ||
          !JSON_NODE_HOLDS_VALUE (content) || json_node_get_value_type (content) != G_TYPE_STRING ||
          *json_node_get_string (content) == '\0')
        return chat_reject (msg, server, 400, "message shape");
      r = json_node_get_string (role);
      if (!g_str_equal (r, "system") && !g_str_equal (r, "user") && !g_str_equal (r, "assistant"))
        return chat_reject (msg, server, 400, "message role");
      g_string_append_printf (prompt, "%s:%s\n", r, json_node_get_string (content));
    }
  return TRUE;
}

static void
chat_cb (SoupServer        *soup,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  FakeServer *server = user_data;
  g_autoptr(GString) prompt = g_string_new (NULL);

  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *content = NULL;
  g_autofree char *json = NULL;
  guint status;

  /* No keep-alive: an idle connection's timeout would outlive the
   * server's context at fake_server_free() (a leak under memcheck). */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  if (g_strcmp0 (path, "/v1/chat/completions") != 0)
    {
      chat_reject (msg, server, 404, "path");
      return;
    }
  if (!chat_check (msg, server, prompt))
    return;

  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->chat_prompts, g_strdup (prompt->str));
  status = server->chat_status;
  content = g_strdup (server->chat_content);
  g_mutex_unlock (&server->lock);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  if (status == SOUP_STATUS_OK)
    {
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, "chatcmpl-fake");
      json_builder_set_member_name (builder, "object");
      json_builder_add_string_value (builder, "chat.completion");
      json_builder_set_member_name (builder, "choices");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "index");
      json_builder_add_int_value (builder, 0);
      json_builder_set_member_name (builder, "message");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, "assistant");
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, content != NULL ? content : "");
      json_builder_end_object (builder);
      json_builder_set_member_name (builder, "finish_reason");
      json_builder_add_string_value (builder, "stop");
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "error");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, status == SOUP_STATUS_UNAUTHORIZED
                                     ? "Incorrect API key provided" : "The server had an error");
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, status == SOUP_STATUS_UNAUTHORIZED
                                     ? "invalid_request_error" : "server_error");
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

/**
 * fake_server_set_chat_reply:
 * @status: 200 to answer @content as a chat completion, else the HTTP
 *   status of an OpenAI-shaped error
 */
void
fake_server_set_chat_reply (FakeServer *server,
                            guint       status,
                            const char *content)
{
  g_mutex_lock (&server->lock);
  server->chat_status = status;
  g_free (server->chat_content);
  server->chat_content = g_strdup (content);
  g_mutex_unlock (&server->lock);
}

/* Each accepted chat request's messages, one "role:content" line each. */
GPtrArray *
fake_server_dup_chat_requests (FakeServer *server)
{
  GPtrArray *ret;

  g_mutex_lock (&server->lock);
  ret = dup_strv (server->chat_prompts);
  g_mutex_unlock (&server->lock);
  return ret;
}

guint
fake_server_get_n_chat_rejected (FakeServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->chat_rejected;
  g_mutex_unlock (&server->lock);
  return n;
}

static gpointer
server_thread (gpointer data)
{
  FakeServer *server = data;
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (server->context);
  server->soup = soup_server_new ("server-header", "lanlan-fake", NULL);
  soup_server_add_websocket_handler (server->soup, "/v1/realtime", NULL, NULL,
                                     websocket_cb, server, NULL);
  soup_server_add_handler (server->soup, "/unauthorized", unauthorized_cb, server, NULL);
  soup_server_add_handler (server->soup, "/v1/chat/completions", chat_cb, server, NULL);
  if (!soup_server_listen_local (server->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("fake server: %s", error->message);
  uris = soup_server_get_uris (server->soup);
  server->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_mutex_lock (&server->lock);
  server->ready = TRUE;
  g_cond_signal (&server->ready_cond);
  g_mutex_unlock (&server->lock);

  g_main_loop_run (server->loop);

  g_ptr_array_set_size (server->conns, 0);
  soup_server_disconnect (server->soup);
  g_clear_object (&server->soup);
  while (g_main_context_iteration (server->context, FALSE))
    ;
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static gboolean
peer_gone_is_not_fatal (const char     *log_domain,
                        GLogLevelFlags  log_level,
                        const char     *message,
                        gpointer        user_data)
{
  return !(g_strcmp0 (log_domain, "libsoup") == 0 &&
           strstr (message, "could not get remote address") != NULL);
}

FakeServer *
fake_server_new (void)
{
  FakeServer *server = g_new0 (FakeServer, 1);

  g_mutex_init (&server->lock);
  server->recording = TRUE;
  g_cond_init (&server->ready_cond);
  /* libsoup warns when a client is gone before the server got to its
   * request (a connect the client timed out or cancelled): routine for a
   * server, not a test failure. */
  g_test_log_set_fatal_handler (peer_gone_is_not_fatal, NULL);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  server->scripts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  server->default_script = (FakeScript) { .n_deltas = 10, .samples_per_delta = 480 };
  server->chat_status = SOUP_STATUS_OK;
  server->chat_content = g_strdup ("A summary.");
  server->chat_prompts = g_ptr_array_new_with_free_func (g_free);
  server->thread = g_thread_new ("fake-realtime-server", server_thread, server);

  g_mutex_lock (&server->lock);
  while (!server->ready)
    g_cond_wait (&server->ready_cond, &server->lock);
  g_mutex_unlock (&server->lock);
  return server;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
fake_server_free (FakeServer *server)
{
  g_main_context_invoke (server->context, quit_cb, server->loop);
  g_thread_join (server->thread);
  g_ptr_array_unref (server->conns);
  g_hash_table_unref (server->scripts);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_free (server->expected_key);
  g_free (server->chat_content);
  g_ptr_array_unref (server->chat_prompts);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->ready_cond);
  g_free (server);
}

char *
fake_server_get_url (FakeServer *server,
                     const char *path)
{
  return g_strdup_printf ("ws://127.0.0.1:%u%s", server->port,
                          path ? path : "/v1/realtime");
}

void
fake_server_set_script (FakeServer       *server,
                        guint             index,
                        const FakeScript *script)
{
  g_mutex_lock (&server->lock);
  g_hash_table_insert (server->scripts, GUINT_TO_POINTER (index + 1),
                       g_memdup2 (script, sizeof *script));
  g_mutex_unlock (&server->lock);
}

void
fake_server_set_default_script (FakeServer       *server,
                                const FakeScript *script)
{
  g_mutex_lock (&server->lock);
  server->default_script = *script;
  g_mutex_unlock (&server->lock);
}

/* Soak runs turn recording off, so the server's own memory stays flat and
 * what is measured is the client's. */
void
fake_server_set_recording (FakeServer *server,
                           gboolean    recording)
{
  g_mutex_lock (&server->lock);
  server->recording = recording;
  g_mutex_unlock (&server->lock);
}

void
fake_server_set_expected_key (FakeServer *server,
                              const char *key)
{
  g_mutex_lock (&server->lock);
  g_free (server->expected_key);
  server->expected_key = g_strdup (key);
  g_mutex_unlock (&server->lock);
}

guint
fake_server_get_n_connections (FakeServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->conns->len;
  g_mutex_unlock (&server->lock);
  return n;
}

static FakeConn *
get_conn (FakeServer *server,
          guint       index)
{
  return index < server->conns->len ? g_ptr_array_index (server->conns, index) : NULL;
}

guint
fake_server_count_type (FakeServer *server,
                        guint       index,
                        const char *type)
{
  g_autofree char *needle = g_strdup_printf ("\"type\":\"%s\"", type);
  guint n = 0;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  for (guint i = 0; conn != NULL && i < conn->received->len; i++)
    if (strstr (g_ptr_array_index (conn->received, i), needle) != NULL)
      n++;
  g_mutex_unlock (&server->lock);
  return n;
}

static GPtrArray *
dup_strv (GPtrArray *array)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; array != NULL && i < array->len; i++)
    g_ptr_array_add (copy, g_strdup (g_ptr_array_index (array, i)));
  return copy;
}

GPtrArray *
fake_server_dup_received (FakeServer *server,
                          guint       index)
{
  GPtrArray *ret;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  ret = dup_strv (conn ? conn->received : NULL);
  g_mutex_unlock (&server->lock);
  return ret;
}

GPtrArray *
fake_server_dup_items (FakeServer *server,
                       guint       index)
{
  GPtrArray *ret;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  ret = dup_strv (conn ? conn->items : NULL);
  g_mutex_unlock (&server->lock);
  return ret;
}

static GArray *
dup_array (GArray *array,
           guint   elt_size)
{
  GArray *copy = g_array_new (FALSE, FALSE, elt_size);

  if (array != NULL)
    g_array_append_vals (copy, array->data, array->len);
  return copy;
}

GArray *
fake_server_dup_samples (FakeServer *server,
                         guint       index)
{
  GArray *ret;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  ret = dup_array (conn ? conn->samples : NULL, sizeof (gint16));
  g_mutex_unlock (&server->lock);
  return ret;
}

GArray *
fake_server_dup_delta_times (FakeServer *server,
                             guint       index)
{
  GArray *ret;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  ret = dup_array (conn ? conn->delta_times : NULL, sizeof (gint64));
  g_mutex_unlock (&server->lock);
  return ret;
}

gint
fake_server_get_truncate_ms (FakeServer *server,
                             guint       index)
{
  gint ms;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  ms = conn ? conn->truncate_ms : -1;
  g_mutex_unlock (&server->lock);
  return ms;
}

char *
fake_server_dup_auth (FakeServer *server,
                      guint       index)
{
  char *auth;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  auth = conn ? g_strdup (conn->auth) : NULL;
  g_mutex_unlock (&server->lock);
  return auth;
}

gboolean
fake_server_is_closed (FakeServer *server,
                       guint       index)
{
  gboolean closed;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  closed = conn ? conn->closed : FALSE;
  g_mutex_unlock (&server->lock);
  return closed;
}

typedef struct {
  FakeServer *server;
  guint       index;
  char       *json;
  gint        code;     /* >0: close, 0: send, -1: drop */
} Action;

static gboolean
run_action (gpointer data)
{
  Action *a = data;
  FakeConn *conn = get_conn (a->server, a->index);

  if (conn != NULL)
    {
      if (a->code > 0 && conn->ws != NULL)
        {
          stop_stream (conn);
          soup_websocket_connection_close (conn->ws, (gushort) a->code, "bye");
        }
      else if (a->code < 0)
        drop_connection (conn);
      else
        conn_send (conn, a->json);
    }
  g_free (a->json);
  g_free (a);
  return G_SOURCE_REMOVE;
}

static void
post (FakeServer *server,
      guint       index,
      const char *json,
      gint        code)
{
  Action *a = g_new0 (Action, 1);

  a->server = server;
  a->index = index;
  a->json = g_strdup (json);
  a->code = code;
  g_main_context_invoke (server->context, run_action, a);
}

void
fake_server_send (FakeServer *server,
                  guint       index,
                  const char *json)
{
  post (server, index, json, 0);
}

void
fake_server_close (FakeServer *server,
                   guint       index,
                   gushort     code)
{
  post (server, index, NULL, code);
}

void
fake_server_drop (FakeServer *server,
                  guint       index)
{
  post (server, index, NULL, -1);
}

guint
fake_server_count_errors (FakeServer *server,
                          guint       index)
{
  guint n;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  n = conn ? conn->n_errors : 0;
  g_mutex_unlock (&server->lock);
  return n;
}

char *
fake_server_dup_errors (FakeServer *server,
                        guint       index)
{
  char *s;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  s = g_strdup (conn ? conn->errors->str : "");
  g_mutex_unlock (&server->lock);
  return s;
}

char *
fake_server_dup_instructions (FakeServer *server,
                              guint       index)
{
  char *s;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  s = g_strdup (conn ? conn->instructions : NULL);
  g_mutex_unlock (&server->lock);
  return s;
}

guint
fake_server_get_max_append (FakeServer *server,
                            guint       index)
{
  guint n;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  n = conn ? conn->max_append : 0;
  g_mutex_unlock (&server->lock);
  return n;
}

/* The shortest append that was not the tail before a commit or clear;
 * G_MAXUINT when there was none. */
guint
fake_server_get_min_append (FakeServer *server,
                            guint       index)
{
  guint n;
  FakeConn *conn;

  g_mutex_lock (&server->lock);
  conn = get_conn (server, index);
  n = conn ? conn->min_append : G_MAXUINT;
  g_mutex_unlock (&server->lock);
  return n;
}

static gboolean
speech_started_cb (gpointer data)
{
  Action *a = data;
  FakeConn *conn = get_conn (a->server, a->index);

  if (conn != NULL)
    {
      conn_send (conn, "{\"type\":\"input_audio_buffer.speech_started\",\"audio_start_ms\":0,"
                       "\"item_id\":\"user_speech\"}");
      if (conn->server_vad && vad_interrupts (conn) && conn->response_id != NULL)
        {
          stop_stream (conn);
          send_response_done (conn, "cancelled");
        }
    }
  g_free (a);
  return G_SOURCE_REMOVE;
}

void
fake_server_speech_started (FakeServer *server,
                            guint       index)
{
  Action *a = g_new0 (Action, 1);

  a->server = server;
  a->index = index;
  g_main_context_invoke (server->context, speech_started_cb, a);
}

typedef struct {
  FakeServer *server;
  guint       index;
  guint64     total;
  gsize       fragment;
} Fragmented;

/* Writes raw frames under libsoup: a text frame without FIN, continuation
 * frames, and a last one with FIN, until done or the peer hangs up. */
static gboolean
fragmented_cb (gpointer data)
{
  Fragmented *f = data;
  FakeConn *conn = get_conn (f->server, f->index);
  GOutputStream *out;
  g_autofree guint8 *frame = NULL;
  guint64 sent = 0;

  if (conn == NULL || conn->ws == NULL)
    {
      g_free (f);
      return G_SOURCE_REMOVE;
    }
  out = g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (conn->ws));
  frame = g_malloc (f->fragment + 10);
  while (sent < f->total)
    {
      gsize n = (gsize) MIN ((guint64) f->fragment, f->total - sent);
      gsize at = 2;

      frame[0] = (sent == 0 ? 0x01 : 0x00) | (sent + n == f->total ? 0x80 : 0x00);
      if (n < 126)
        frame[1] = (guint8) n;
      else if (n <= G_MAXUINT16)
        {
          frame[1] = 126;
          frame[2] = (guint8) (n >> 8);
          frame[3] = (guint8) n;
          at = 4;
        }
      else
        {
          frame[1] = 127;
          for (guint i = 0; i < 8; i++)
            frame[2 + i] = (guint8) ((guint64) n >> (56 - 8 * i));
          at = 10;
        }
      memset (frame + at, sent == 0 ? '{' : ' ', n);
      if (!g_output_stream_write_all (out, frame, at + n, NULL, NULL, NULL))
        break;
      sent += n;
    }
  g_free (f);
  return G_SOURCE_REMOVE;
}

void
fake_server_send_fragmented (FakeServer *server,
                             guint       index,
                             guint64     total,
                             gsize       fragment)
{
  Fragmented *f = g_new0 (Fragmented, 1);

  f->server = server;
  f->index = index;
  f->total = total;
  f->fragment = fragment;
  g_main_context_invoke (server->context, fragmented_cb, f);
}

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

#if defined(__SANITIZE_ADDRESS__)
# define UNDER_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define UNDER_ASAN 1
# endif
#endif

/* Memcheck runs code some twenty times slower, AddressSanitizer some two
 * to three times: deadlines stretch with them (CI runs both on 2 busy cores). */
guint
test_scale_ms (guint ms)
{
  if (g_getenv ("LANLAN_UNDER_VALGRIND") != NULL)
    return ms * 5;
#ifdef UNDER_ASAN
  return ms * 3;
#else
  return ms;
#endif
}

gboolean
test_wait_until (gboolean (*cond) (gpointer),
                 gpointer   data,
                 guint      timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_scale_ms (timeout_ms) * 1000;
  GSource *tick = g_timeout_source_new (5);
  gboolean ok;

  g_source_set_callback (tick, wake, NULL, NULL);
  g_source_attach (tick, g_main_context_get_thread_default ());
  while (!(ok = cond (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_source_destroy (tick);
  g_source_unref (tick);
  return ok;
}
