/* lanlan-tts-qwen.c — streaming speech from Qwen-TTS Realtime (WebSocket)
 *
 * One of the streaming TTS services N.E.K.O. supports, after Alibaba
 * Cloud Model Studio's published protocol: connect to
 * wss://dashscope.aliyuncs.com/api-ws/v1/realtime?model=… with the key
 * as a bearer token, wait for session.created, configure the session
 * (voice, "commit" mode, PCM at 24 kHz) with session.update until
 * session.updated, then for each piece of text send
 * input_text_buffer.append and input_text_buffer.commit and play the
 * base64 PCM of response.audio.delta until response.done. The
 * connection stays open between pieces and answers; it is opened again
 * after a failure or an interruption (which closes it, so no audio of an
 * interrupted piece can arrive later).
 *
 * A refused key: DashScope answers the WebSocket handshake itself with
 * HTTP 401 and a JSON body ({"code":"InvalidApiKey","message":"Invalid
 * API-key provided.","request_id":…}, its general status code table;
 * reports of the realtime endpoints show the same 401 at the handshake,
 * application/json, 114 bytes long as that body is), not with an
 * `error` event after connecting: the server events reference lists
 * `error` for client and server errors of a session only. So a 401 or
 * 403 at the handshake means the key, and the backend says so once and
 * does not knock again: every later piece fails at once with the same
 * error, until a new backend is made (a new key, new settings).
 *
 * It runs on the TTS thread, with its own GMainContext that it iterates
 * while it waits, so synthesis blocks only that thread, and checks the
 * cancellable every iteration.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-audio-sink.h"
#include "lanlan-json.h"
#include "lanlan-tts-qwen.h"

#define QWEN_TTS_URL     "wss://dashscope.aliyuncs.com/api-ws/v1/realtime"
#define QWEN_TTS_MODEL   "qwen3-tts-flash-realtime"
#define CONNECT_TIMEOUT  (15 * G_USEC_PER_SEC)
#define AUDIO_TIMEOUT    (20 * G_USEC_PER_SEC)

typedef struct {
  LanlanTtsBackend         parent;
  char                    *url;
  char                    *api_key;
  char                    *voice;
  GMainContext            *context;
  SoupSession             *session;
  GError                  *refused;    /* the key was refused: no more tries */
  SoupWebsocketConnection *ws;
  guint                    n_events;

  /* While a call waits. */
  gboolean                 connected;
  gboolean                 connect_done; /* on_connected() ran */
  gboolean                 session_ready;
  gboolean                 response_done;
  GError                  *error;
  LanlanTtsEmitFunc        emit;
  gpointer                 emit_data;
  gint64                   last_activity;
} QwenBackend;

static void
drop_connection (QwenBackend *self)
{
  if (self->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  self->connected = FALSE;
  self->session_ready = FALSE;
}

static void
set_error (QwenBackend *self,
           GError      *error)
{
  if (self->error == NULL)
    self->error = error;
  else
    g_error_free (error);
}

static void
send_event (QwenBackend *self,
            JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *json = json_to_string (root, FALSE);

  if (self->ws != NULL && soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (self->ws, json);
}

/* Starts an event object with its type and a fresh event_id. */
static JsonBuilder *
begin_event (QwenBackend *self,
             const char  *type)
{
  JsonBuilder *b = json_builder_new ();
  g_autofree char *id = g_strdup_printf ("event_lanlan_%u", ++self->n_events);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event_id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  return b;
}

static void
send_session_update (QwenBackend *self)
{
  g_autoptr(JsonBuilder) b = begin_event (self, "session.update");

  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "voice");
  json_builder_add_string_value (b, self->voice);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, "commit");
  json_builder_set_member_name (b, "response_format");
  json_builder_add_string_value (b, "pcm");
  json_builder_set_member_name (b, "sample_rate");
  json_builder_add_int_value (b, LANLAN_MODEL_RATE);
  json_builder_end_object (b);
  json_builder_end_object (b);
  send_event (self, b);
}

static void
on_message (SoupWebsocketConnection *ws,
            gint                     kind,
            GBytes                  *message,
            gpointer                 data)
{
  QwenBackend *self = data;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  gsize size;
  const char *text = g_bytes_get_data (message, &size);
  JsonObject *o;
  const char *type;

  self->last_activity = g_get_monotonic_time ();
  if (kind != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  parser = lanlan_json_parse (text, size, &local);
  if (parser == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_debug ("Qwen TTS sent a bad event: %s", local ? local->message : "not an object");
      return;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (o, "type", "");

  if (g_str_equal (type, "session.created"))
    send_session_update (self);
  else if (g_str_equal (type, "session.updated"))
    self->session_ready = TRUE;
  else if (g_str_equal (type, "response.audio.delta"))
    {
      const char *b64 = json_object_get_string_member_with_default (o, "delta", NULL);
      gsize len = 0;
      g_autofree guchar *pcm = NULL;

      if (b64 == NULL || self->emit == NULL)
        return;
      pcm = g_base64_decode (b64, &len);
      len -= len % 2;
      if (len > 0)
        {
          gint16 *samples = (gint16 *) pcm;   /* g_malloc'ed: aligned */
          for (gsize i = 0; i < len / 2; i++)
            samples[i] = GINT16_FROM_LE (samples[i]);
          self->emit (samples, len / 2, self->emit_data);
        }
    }
  else if (g_str_equal (type, "response.done"))
    self->response_done = TRUE;
  else if (g_str_equal (type, "error"))
    {
      JsonObject *e = json_object_get_object_member (o, "error");
      const char *msg = e ? json_object_get_string_member_with_default (e, "message", NULL) : NULL;
      g_autofree char *valid = g_utf8_make_valid (msg ? msg : _("no details given"), 300);

      set_error (self, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                    _("Qwen speech failed: %s"), valid));
    }
}

static void
on_closed (SoupWebsocketConnection *ws,
           gpointer                 data)
{
  QwenBackend *self = data;

  set_error (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                _("The connection to Qwen speech closed")));
  drop_connection (self);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  QwenBackend *self = data;
  g_autoptr(GError) error = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  SoupWebsocketConnection *ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
                                                                      result, &error);

  if (ws == NULL)
    {
      guint status = msg ? soup_message_get_status (msg) : 0;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_error (self, g_steal_pointer (&error));
      else if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
        {
          g_clear_error (&self->refused);
          self->refused = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                       _("The speech service refused the key (Qwen-TTS, HTTP %u). "
                                         "Check the key for Qwen-Omni in Preferences."), status);
          set_error (self, g_error_copy (self->refused));
        }
      else
        set_error (self, g_error_new (G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
                                      _("Could not reach Qwen speech: %s"), error->message));
      self->connected = TRUE;   /* the wait is over */
      self->connect_done = TRUE;
      return;
    }
  self->connect_done = TRUE;
  self->ws = ws;
  self->connected = TRUE;
  soup_websocket_connection_set_max_incoming_payload_size (ws, 4 * 1024 * 1024);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
}

/* Iterates until *@flag, an error, cancellation or silence for @timeout. */
static gboolean
wait_for (QwenBackend   *self,
          gboolean      *flag,
          gint64         timeout,
          GCancellable  *cancellable,
          GError       **error)
{
  self->last_activity = g_get_monotonic_time ();
  while (!*flag && self->error == NULL)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          drop_connection (self);
          return g_cancellable_set_error_if_cancelled (cancellable, error), FALSE;
        }
      if (g_get_monotonic_time () - self->last_activity > timeout)
        {
          drop_connection (self);
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               _("Qwen speech did not answer in time"));
          return FALSE;
        }
      /* Wake up now and then to look at the cancellable and the clock. */
      {
        GSource *tick = g_timeout_source_new (20);
        g_source_set_dummy_callback (tick);
        g_source_attach (tick, self->context);
        g_main_context_iteration (self->context, TRUE);
        g_source_destroy (tick);
        g_source_unref (tick);
      }
    }
  if (self->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->error));
      drop_connection (self);
      return FALSE;
    }
  return TRUE;
}

static gboolean
ensure_connection (QwenBackend   *self,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GCancellable) connecting = g_cancellable_new ();

  if (self->ws != NULL && self->session_ready &&
      soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    return TRUE;
  drop_connection (self);
  if (self->session == NULL)
    self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
  msg = soup_message_new (SOUP_METHOD_GET, self->url);
  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid speech service address"), self->url);
      return FALSE;
    }
  if (self->api_key != NULL)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->api_key, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  self->connect_done = FALSE;
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        connecting, on_connected, self);
  if (!wait_for (self, &self->connected, CONNECT_TIMEOUT, cancellable, error))
    {
      /* Stop the attempt and let its callback run before its data goes
       * (a failed wait has already dropped what it set). */
      g_cancellable_cancel (connecting);
      while (!self->connect_done)
        g_main_context_iteration (self->context, TRUE);
      g_clear_error (&self->error);
      drop_connection (self);
      return FALSE;
    }
  return wait_for (self, &self->session_ready, CONNECT_TIMEOUT, cancellable, error);
}

static gboolean
qwen_synthesize (LanlanTtsBackend   *backend,
                 const char         *text,
                 GCancellable       *cancellable,
                 LanlanTtsEmitFunc   emit,
                 gpointer            emit_data,
                 GError            **error)
{
  QwenBackend *self = (QwenBackend *) backend;
  gboolean ok;

  if (self->refused != NULL)
    {
      g_propagate_error (error, g_error_copy (self->refused));
      return FALSE;
    }
  if (self->context == NULL)
    self->context = g_main_context_new ();
  g_main_context_push_thread_default (self->context);
  g_clear_error (&self->error);
  ok = ensure_connection (self, cancellable, error);
  if (ok)
    {
      g_autoptr(JsonBuilder) append = begin_event (self, "input_text_buffer.append");
      g_autoptr(JsonBuilder) commit = begin_event (self, "input_text_buffer.commit");

      json_builder_set_member_name (append, "text");
      json_builder_add_string_value (append, text);
      json_builder_end_object (append);
      json_builder_end_object (commit);
      self->response_done = FALSE;
      self->emit = emit;
      self->emit_data = emit_data;
      send_event (self, append);
      send_event (self, commit);
      ok = wait_for (self, &self->response_done, AUDIO_TIMEOUT, cancellable, error);
      self->emit = NULL;
      self->emit_data = NULL;
    }
  g_main_context_pop_thread_default (self->context);
  return ok;
}

static void
qwen_free (LanlanTtsBackend *backend)
{
  QwenBackend *self = (QwenBackend *) backend;

  drop_connection (self);
  g_clear_object (&self->session);
  if (self->context != NULL)
    {
      while (g_main_context_iteration (self->context, FALSE))
        ;
      g_main_context_unref (self->context);
    }
  g_clear_error (&self->error);
  g_clear_error (&self->refused);
  g_free (self->url);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);
  g_free (self->voice);
  g_free (self);
}

/**
 * lanlan_tts_backend_new_qwen:
 * @url: (nullable): the realtime endpoint; DashScope's (Beijing) if %NULL
 *   (the international one is wss://dashscope-intl.aliyuncs.com/…)
 * @api_key: the DashScope key
 * @model: (nullable): "qwen3-tts-flash-realtime" if %NULL or empty
 * @voice: (nullable): "Cherry" if %NULL or empty
 *
 * Output is mono PCM16 at %LANLAN_MODEL_RATE.
 */
LanlanTtsBackend *
lanlan_tts_backend_new_qwen (const char *url,
                             const char *api_key,
                             const char *model,
                             const char *voice)
{
  QwenBackend *self = g_new0 (QwenBackend, 1);
  const char *base = url && *url ? url : QWEN_TTS_URL;
  g_autofree char *escaped = g_uri_escape_string (model && *model ? model : QWEN_TTS_MODEL, NULL, FALSE);

  self->parent.synthesize = qwen_synthesize;
  self->parent.free = qwen_free;
  self->parent.rate = LANLAN_MODEL_RATE;
  self->url = strstr (base, "model=") ? g_strdup (base)
            : g_strdup_printf ("%s%cmodel=%s", base, strchr (base, '?') ? '&' : '?', escaped);
  self->api_key = g_strdup (api_key && *api_key ? api_key : NULL);
  self->voice = g_strdup (voice && *voice ? voice : "Cherry");
  return &self->parent;
}
