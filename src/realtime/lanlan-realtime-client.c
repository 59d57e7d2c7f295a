/* lanlan-realtime-client.c — one WebSocket connection to a realtime model
 *
 * A thin, single-threaded object: it lives on whatever GMainContext was
 * thread-default when it was connected (the session worker's), turns
 * calls into client events and frames into LanlanRealtimeEvent. It knows
 * nothing of conversations; the session manager does. Connecting finishes
 * only when the server has confirmed our session.update, so a connected
 * client is one that accepted our settings. The API key goes into the
 * Authorization header and nowhere else.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-realtime-client.h"

struct _LanlanRealtimeClient
{
  GObject                  parent_instance;

  const LanlanProvider    *provider;
  char                    *url;
  char                    *api_key;

  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GTask                   *connect_task;
  char                    *session_update;
  GMainContext            *context;

  guint                    connect_timeout_ms;
  guint                    response_timeout_ms;
  GSource                  *connect_timer;
  GSource                  *response_timer;
  GCancellable             *connect_cancellable;
  gboolean                 connect_timed_out;

  GError                  *ws_error;
  gboolean                 closing;
  gboolean                 closed_emitted;

  guint                    n_bad;
  guint                    n_unknown;
  guint64                  samples_sent;
};

G_DEFINE_FINAL_TYPE (LanlanRealtimeClient, lanlan_realtime_client, G_TYPE_OBJECT)

enum {
  SIGNAL_EVENT,
  SIGNAL_PROTOCOL_ERROR,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
stop_timer (GSource **timer)
{
  if (*timer != NULL)
    {
      g_source_destroy (*timer);
      g_clear_pointer (timer, g_source_unref);
    }
}

static void
disconnect_ws (LanlanRealtimeClient *self)
{
  if (self->ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->ws, self);
  if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&self->ws);
}

static void
lanlan_realtime_client_dispose (GObject *object)
{
  LanlanRealtimeClient *self = LANLAN_REALTIME_CLIENT (object);

  stop_timer (&self->connect_timer);
  stop_timer (&self->response_timer);
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  g_clear_object (&self->connect_cancellable);
  self->closing = TRUE;
  disconnect_ws (self);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (lanlan_realtime_client_parent_class)->dispose (object);
}

static void
lanlan_realtime_client_finalize (GObject *object)
{
  LanlanRealtimeClient *self = LANLAN_REALTIME_CLIENT (object);

  g_free (self->url);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);
  g_free (self->session_update);
  g_clear_error (&self->ws_error);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (lanlan_realtime_client_parent_class)->finalize (object);
}

static void
lanlan_realtime_client_class_init (LanlanRealtimeClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_realtime_client_dispose;
  object_class->finalize = lanlan_realtime_client_finalize;

  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_PROTOCOL_ERROR] =
    g_signal_new ("protocol-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lanlan_realtime_client_init (LanlanRealtimeClient *self)
{
  self->connect_timeout_ms = 15000;
  self->response_timeout_ms = 20000;
}

/**
 * lanlan_realtime_client_new:
 * @url: the full WebSocket URL (see lanlan_provider_build_url())
 * @api_key: (nullable): sent as a Bearer token, never logged
 */
LanlanRealtimeClient *
lanlan_realtime_client_new (const LanlanProvider *provider,
                            const char           *url,
                            const char           *api_key)
{
  LanlanRealtimeClient *self;

  g_return_val_if_fail (provider != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_REALTIME_CLIENT, NULL);
  self->provider = provider;
  self->url = g_strdup (url);
  self->api_key = g_strdup (api_key);
  return self;
}

void
lanlan_realtime_client_set_timeouts (LanlanRealtimeClient *self,
                                     guint                 connect_ms,
                                     guint                 response_ms)
{
  g_return_if_fail (LANLAN_IS_REALTIME_CLIENT (self));
  self->connect_timeout_ms = connect_ms;
  self->response_timeout_ms = response_ms;
}

const LanlanProvider *
lanlan_realtime_client_get_provider (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), NULL);
  return self->provider;
}

gboolean
lanlan_realtime_client_is_open (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  return self->ws != NULL && !self->closing &&
         soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* Fails the pending connect, or reports the end of an open connection. */
static void
finish_with_error (LanlanRealtimeClient *self,
                   GError               *error)
{
  g_autoptr(LanlanRealtimeClient) keep = g_object_ref (self);

  stop_timer (&self->connect_timer);
  stop_timer (&self->response_timer);
  self->closing = TRUE;
  disconnect_ws (self);

  if (self->connect_task != NULL)
    {
      GTask *task = g_steal_pointer (&self->connect_task);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (!self->closed_emitted)
    {
      self->closed_emitted = TRUE;
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
    }
  g_clear_error (&error);
}

static void
send_json (LanlanRealtimeClient *self,
           JsonBuilder          *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);

  soup_websocket_connection_send_text (self->ws, text);
}

gboolean
lanlan_realtime_client_send_raw (LanlanRealtimeClient *self,
                                 const char           *json)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  soup_websocket_connection_send_text (self->ws, json);
  return TRUE;
}

static void
add_string (JsonBuilder *b,
            const char  *member,
            const char  *value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, value);
}

static void
add_pcm_format (JsonBuilder *b,
                guint        rate)
{
  json_builder_set_member_name (b, "format");
  json_builder_begin_object (b);
  add_string (b, "type", "audio/pcm");
  json_builder_set_member_name (b, "rate");
  json_builder_add_int_value (b, rate);
  json_builder_end_object (b);
}

static void
add_turn_detection (JsonBuilder *b,
                    gboolean     server_vad)
{
  json_builder_set_member_name (b, "turn_detection");
  if (!server_vad)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_string (b, "type", "server_vad");
  json_builder_end_object (b);
}

static gboolean
is_set (const char *s)
{
  return s != NULL && *s != '\0';
}

/**
 * lanlan_realtime_build_session_update:
 *
 * Returns: (transfer full): the session.update event for @provider's
 *   dialect, as JSON text
 */
char *
lanlan_realtime_build_session_update (const LanlanProvider       *provider,
                                      const LanlanRealtimeConfig *config)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  const char *voice = is_set (config->voice) ? config->voice :
                      lanlan_provider_get_default_voice (provider);
  gboolean text_only = config->text_only || provider->text_only;

  json_builder_begin_object (b);
  add_string (b, "type", "session.update");
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);

  if (is_set (config->instructions))
    add_string (b, "instructions", config->instructions);

  if (provider->dialect == LANLAN_REALTIME_DIALECT_GA)
    {
      add_string (b, "type", "realtime");
      if (is_set (config->model))
        add_string (b, "model", config->model);
      json_builder_set_member_name (b, "output_modalities");
      json_builder_begin_array (b);
      json_builder_add_string_value (b, text_only ? "text" : "audio");
      json_builder_end_array (b);

      json_builder_set_member_name (b, "audio");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "input");
      json_builder_begin_object (b);
      add_pcm_format (b, provider->input_rate);
      if (provider->transcription_model != NULL)
        {
          json_builder_set_member_name (b, "transcription");
          json_builder_begin_object (b);
          add_string (b, "model", provider->transcription_model);
          if (is_set (config->language))
            add_string (b, "language", config->language);
          json_builder_end_object (b);
        }
      add_turn_detection (b, config->server_vad);
      json_builder_end_object (b);
      if (!text_only)
        {
          json_builder_set_member_name (b, "output");
          json_builder_begin_object (b);
          add_pcm_format (b, provider->output_rate);
          if (is_set (voice))
            add_string (b, "voice", voice);
          json_builder_end_object (b);
        }
      json_builder_end_object (b);
    }
  else
    {
      json_builder_set_member_name (b, "modalities");
      json_builder_begin_array (b);
      json_builder_add_string_value (b, "text");
      if (!text_only)
        json_builder_add_string_value (b, "audio");
      json_builder_end_array (b);
      if (!text_only && is_set (voice))
        add_string (b, "voice", voice);
      add_string (b, "input_audio_format", "pcm16");
      if (!text_only)
        add_string (b, "output_audio_format",
                    provider->beta_output_format ? provider->beta_output_format : "pcm16");
      if (provider->transcription_model != NULL)
        {
          json_builder_set_member_name (b, "input_audio_transcription");
          json_builder_begin_object (b);
          add_string (b, "model", provider->transcription_model);
          json_builder_end_object (b);
        }
      add_turn_detection (b, config->server_vad);
    }

  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

gboolean
lanlan_realtime_client_send_session_update (LanlanRealtimeClient       *self,
                                            const LanlanRealtimeConfig *config)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  json = lanlan_realtime_build_session_update (self->provider, config);
  return lanlan_realtime_client_send_raw (self, json);
}

static gboolean
send_simple (LanlanRealtimeClient *self,
             const char           *type)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "type", type);
  json_builder_end_object (b);
  send_json (self, b);
  return TRUE;
}

gboolean
lanlan_realtime_client_append_audio (LanlanRealtimeClient *self,
                                     const gint16         *pcm,
                                     gsize                 n_samples)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *b64 = NULL;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  if (n_samples == 0)
    return TRUE;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  b64 = g_base64_encode ((const guchar *) pcm, n_samples * 2);
#else
  {
    g_autofree gint16 *le = g_new (gint16, n_samples);
    for (gsize i = 0; i < n_samples; i++)
      le[i] = GINT16_TO_LE (pcm[i]);
    b64 = g_base64_encode ((const guchar *) le, n_samples * 2);
  }
#endif

  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "type", "input_audio_buffer.append");
  add_string (b, "audio", b64);
  json_builder_end_object (b);
  send_json (self, b);
  self->samples_sent += n_samples;
  return TRUE;
}

gboolean
lanlan_realtime_client_clear_audio (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  return send_simple (self, "input_audio_buffer.clear");
}

gboolean
lanlan_realtime_client_commit_audio (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  return send_simple (self, "input_audio_buffer.commit");
}

/**
 * lanlan_realtime_client_append_image:
 * @jpeg: a JPEG picture
 *
 * Beta services that accept pictures alongside audio (Qwen-Omni) get
 * `input_image_buffer.append`; GA gets a user item with an input_image.
 */
gboolean
lanlan_realtime_client_append_image (LanlanRealtimeClient *self,
                                     GBytes               *jpeg)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *b64 = NULL;
  gsize size;
  const guchar *data;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!self->provider->supports_images || !lanlan_realtime_client_is_open (self))
    return FALSE;

  data = g_bytes_get_data (jpeg, &size);
  b64 = g_base64_encode (data, size);
  b = json_builder_new ();
  json_builder_begin_object (b);
  if (self->provider->dialect == LANLAN_REALTIME_DIALECT_BETA)
    {
      add_string (b, "type", "input_image_buffer.append");
      add_string (b, "image", b64);
    }
  else
    {
      g_autofree char *data_url = g_strconcat ("data:image/jpeg;base64,", b64, NULL);

      add_string (b, "type", "conversation.item.create");
      json_builder_set_member_name (b, "item");
      json_builder_begin_object (b);
      add_string (b, "type", "message");
      add_string (b, "role", "user");
      json_builder_set_member_name (b, "content");
      json_builder_begin_array (b);
      json_builder_begin_object (b);
      add_string (b, "type", "input_image");
      add_string (b, "image_url", data_url);
      json_builder_end_object (b);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  send_json (self, b);
  return TRUE;
}

/**
 * lanlan_realtime_client_create_item:
 * @role: "user", "assistant" or "system"
 *
 * Adds a text message to the server's conversation: what the user typed,
 * or prior turns and agent context when priming a new session.
 */
gboolean
lanlan_realtime_client_create_item (LanlanRealtimeClient *self,
                                    const char           *role,
                                    const char           *text)
{
  g_autoptr(JsonBuilder) b = NULL;
  const char *content_type;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  g_return_val_if_fail (role != NULL && text != NULL, FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;

  if (g_str_equal (role, "assistant"))
    content_type = self->provider->dialect == LANLAN_REALTIME_DIALECT_GA ? "output_text" : "text";
  else
    content_type = "input_text";

  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "type", "conversation.item.create");
  json_builder_set_member_name (b, "item");
  json_builder_begin_object (b);
  add_string (b, "type", "message");
  add_string (b, "role", role);
  json_builder_set_member_name (b, "content");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_string (b, "type", content_type);
  add_string (b, "text", text);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  send_json (self, b);
  return TRUE;
}

static gboolean
response_timed_out (gpointer user_data)
{
  LanlanRealtimeClient *self = user_data;

  g_clear_pointer (&self->response_timer, g_source_unref);
  finish_with_error (self, g_error_new_literal (LANLAN_REALTIME_ERROR,
                                                LANLAN_REALTIME_ERROR_TIMEOUT,
                                                _("The service did not answer in time")));
  return G_SOURCE_REMOVE;
}

static GSource *
start_timer (LanlanRealtimeClient *self,
             guint                 ms,
             GSourceFunc           func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

gboolean
lanlan_realtime_client_create_response (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!send_simple (self, "response.create"))
    return FALSE;
  if (self->response_timeout_ms > 0 && self->response_timer == NULL)
    self->response_timer = start_timer (self, self->response_timeout_ms, response_timed_out);
  return TRUE;
}

gboolean
lanlan_realtime_client_cancel_response (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  stop_timer (&self->response_timer);
  return send_simple (self, "response.cancel");
}

gboolean
lanlan_realtime_client_truncate (LanlanRealtimeClient *self,
                                 const char           *item_id,
                                 guint                 content_index,
                                 guint                 audio_end_ms)
{
  g_autoptr(JsonBuilder) b = NULL;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "type", "conversation.item.truncate");
  add_string (b, "item_id", item_id);
  json_builder_set_member_name (b, "content_index");
  json_builder_add_int_value (b, content_index);
  json_builder_set_member_name (b, "audio_end_ms");
  json_builder_add_int_value (b, audio_end_ms);
  json_builder_end_object (b);
  send_json (self, b);
  return TRUE;
}

guint
lanlan_realtime_client_get_n_bad_events (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), 0);
  return self->n_bad;
}

guint
lanlan_realtime_client_get_n_unknown_events (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), 0);
  return self->n_unknown;
}

guint64
lanlan_realtime_client_get_samples_sent (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), 0);
  return self->samples_sent;
}

/* --- incoming ------------------------------------------------------------ */

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 user_data)
{
  LanlanRealtimeClient *self = user_data;
  g_autoptr(LanlanRealtimeClient) keep = g_object_ref (self);
  g_autoptr(GError) error = NULL;
  LanlanRealtimeEvent event;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      self->n_bad++;
      error = g_error_new_literal (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                                   _("The service sent binary data where text was expected"));
      g_signal_emit (self, signals[SIGNAL_PROTOCOL_ERROR], 0, error);
      return;
    }

  if (!lanlan_realtime_parse_event (data, len, &event, &error))
    {
      self->n_bad++;
      g_debug ("Dropped a malformed event: %s", error->message);
      g_signal_emit (self, signals[SIGNAL_PROTOCOL_ERROR], 0, error);
      return;
    }

  if (event.type == LANLAN_REALTIME_EVENT_UNKNOWN)
    {
      self->n_unknown++;
      g_debug ("Ignored unknown event “%s”", event.type_name);
    }

  /* An answer started, or the request was refused: no stall either way. */
  if (event.type == LANLAN_REALTIME_EVENT_RESPONSE_CREATED ||
      event.type == LANLAN_REALTIME_EVENT_ERROR)
    stop_timer (&self->response_timer);

  if (self->connect_task != NULL && event.type == LANLAN_REALTIME_EVENT_ERROR)
    {
      finish_with_error (self, lanlan_realtime_event_to_error (&event));
      lanlan_realtime_event_clear (&event);
      return;
    }

  /* The event first, so that whoever waits for the connection sees only
   * what comes after it. */
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, &event);

  if (self->connect_task != NULL && !self->closing &&
      event.type == LANLAN_REALTIME_EVENT_SESSION_UPDATED)
    {
      GTask *task = g_steal_pointer (&self->connect_task);

      stop_timer (&self->connect_timer);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  lanlan_realtime_event_clear (&event);
}

static void
on_ws_error (SoupWebsocketConnection *ws,
             GError                  *error,
             gpointer                 user_data)
{
  LanlanRealtimeClient *self = user_data;

  g_debug ("WebSocket error: %s", error->message);
  if (self->ws_error == NULL)
    self->ws_error = g_error_copy (error);
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  LanlanRealtimeClient *self = user_data;
  gushort code = soup_websocket_connection_get_close_code (ws);
  const char *reason = soup_websocket_connection_get_close_data (ws);

  if (self->closing)
    return;

  if (code == 0 && self->ws_error != NULL)
    finish_with_error (self, g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                                          _("The connection to the service was lost: %s"),
                                          self->ws_error->message));
  else
    finish_with_error (self, lanlan_realtime_error_for_close (code ? code : 1006, reason));
}

static gboolean
connect_timed_out (gpointer user_data)
{
  LanlanRealtimeClient *self = user_data;

  g_clear_pointer (&self->connect_timer, g_source_unref);
  self->connect_timed_out = TRUE;
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  if (self->ws != NULL)
    finish_with_error (self, g_error_new_literal (LANLAN_REALTIME_ERROR,
                                                  LANLAN_REALTIME_ERROR_TIMEOUT,
                                                  _("The service did not accept the session in time")));
  return G_SOURCE_REMOVE;
}

static GError *
handshake_error (SoupMessage *msg,
                 GError      *error)
{
  guint status = soup_message_get_status (msg);

  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                        _("The service refused the API key (HTTP %u)"), status);
  if (status == 429)
    return g_error_new_literal (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED,
                                _("The service is rate limiting this account"));
  if (status == SOUP_STATUS_NOT_FOUND)
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                        _("The service has no realtime endpoint at this address (HTTP %u)"), status);
  if (status >= 400)
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER,
                        _("The service refused the connection (HTTP %u)"), status);
  return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                      _("Could not connect to the service: %s"), error->message);
}

static void
on_websocket_connected (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(LanlanRealtimeClient) self = user_data;
  g_autoptr(GError) error = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (self->connect_task == NULL)
    {
      g_clear_object (&ws);
      return;
    }
  if (ws == NULL)
    {
      if (self->connect_timed_out)
        finish_with_error (self, g_error_new_literal (LANLAN_REALTIME_ERROR,
                                                      LANLAN_REALTIME_ERROR_TIMEOUT,
                                                      _("The service did not answer in time")));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish_with_error (self, g_steal_pointer (&error));
      else
        finish_with_error (self, handshake_error (msg, error));
      return;
    }

  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws, 32 * 1024 * 1024);
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  soup_websocket_connection_send_text (ws, self->session_update);
}

/**
 * lanlan_realtime_client_connect_async:
 * @config: settings sent in the first session.update
 *
 * Opens the WebSocket, sends session.update and finishes once the server
 * answers session.updated (or fails: refused key, network, timeout, an
 * `error` event). Events start flowing through ::event as they arrive,
 * session.created included.
 */
void
lanlan_realtime_client_connect_async (LanlanRealtimeClient       *self,
                                      const LanlanRealtimeConfig *config,
                                      GCancellable               *cancellable,
                                      GAsyncReadyCallback         callback,
                                      gpointer                    user_data)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  GTask *task;

  g_return_if_fail (LANLAN_IS_REALTIME_CLIENT (self));
  g_return_if_fail (config != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_realtime_client_connect_async);

  if (self->connect_task != NULL || self->ws != NULL || self->closing)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "A realtime client connects only once");
      g_object_unref (task);
      return;
    }

  msg = soup_message_new (SOUP_METHOD_GET, self->url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                               _("“%s” is not a valid address"), self->url);
      g_object_unref (task);
      return;
    }

  if (self->api_key != NULL && *self->api_key != '\0')
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->api_key, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", auth);
      memset (auth, 0, strlen (auth));
    }

  self->connect_task = task;
  self->context = g_main_context_ref_thread_default ();
  self->session_update = lanlan_realtime_build_session_update (self->provider, config);
  self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
  self->connect_cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  if (self->connect_timeout_ms > 0)
    self->connect_timer = start_timer (self, self->connect_timeout_ms, connect_timed_out);

  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->connect_cancellable, on_websocket_connected,
                                        g_object_ref (self));
}

gboolean
lanlan_realtime_client_connect_finish (LanlanRealtimeClient  *self,
                                       GAsyncResult          *result,
                                       GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * lanlan_realtime_client_close:
 *
 * Closes normally; ::closed is emitted with a %NULL error. A pending
 * connect fails with %G_IO_ERROR_CANCELLED.
 */
void
lanlan_realtime_client_close (LanlanRealtimeClient *self)
{
  g_return_if_fail (LANLAN_IS_REALTIME_CLIENT (self));

  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  if (self->connect_task != NULL)
    {
      finish_with_error (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    _("Cancelled")));
      return;
    }
  if (self->closing && self->closed_emitted)
    return;
  finish_with_error (self, NULL);
}
