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

#include "lanlan-message-cap.h"
#include "lanlan-realtime-client.h"

#define N_SENT 64

/* Appends shorter than this are batched: 50 appends a second at most. */
#define MIN_APPEND_MS 20

typedef struct {
  guint64     id;
  const char *type;   /* static */
} SentEvent;

struct _LanlanRealtimeClient
{
  GObject                  parent_instance;

  const LanlanProvider    *provider;
  char                    *url;
  char                    *api_key;

  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GTask                   *connect_task;
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

  /* The session as configured, so that text priming can rebuild it. */
  LanlanRealtimeConfig     config;
  GPtrArray               *primed;         /* lines for the instructions */
  GSource                 *context_flush;

  /* Client event ids, to match an `error` to what provoked it. */
  guint64                  next_event_id;
  SentEvent                sent[N_SENT];

  /* The server's answer, by its own events. */
  gboolean                 response_active;
  gboolean                 response_requested;
  gboolean                 cancel_on_create;
  gboolean                 expired;         /* the service said so; its close follows */

  /* Microphone audio waiting to fill a batch, and what needs it. */
  GArray                  *mic;
  GSource                 *mic_flush;      /* sends a short tail */
  gboolean                 audio_in_buffer;
  GBytes                  *held_image;
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
  stop_timer (&self->context_flush);
  stop_timer (&self->mic_flush);
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  g_clear_object (&self->connect_cancellable);
  self->closing = TRUE;
  disconnect_ws (self);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (lanlan_realtime_client_parent_class)->dispose (object);
}

static void
clear_config (LanlanRealtimeConfig *config)
{
  g_free ((char *) config->model);
  g_free ((char *) config->instructions);
  g_free ((char *) config->voice);
  g_free ((char *) config->language);
  memset (config, 0, sizeof *config);
}

static void
store_config (LanlanRealtimeClient       *self,
              const LanlanRealtimeConfig *config)
{
  LanlanRealtimeConfig copy = {
    .model = g_strdup (config->model),
    .instructions = g_strdup (config->instructions),
    .voice = g_strdup (config->voice),
    .language = g_strdup (config->language),
    .text_only = config->text_only,
    .server_vad = config->server_vad,
  };

  clear_config (&self->config);
  self->config = copy;
}

static void
lanlan_realtime_client_finalize (GObject *object)
{
  LanlanRealtimeClient *self = LANLAN_REALTIME_CLIENT (object);

  g_free (self->url);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);
  g_clear_error (&self->ws_error);
  clear_config (&self->config);
  g_ptr_array_unref (self->primed);
  g_array_unref (self->mic);
  g_clear_pointer (&self->held_image, g_bytes_unref);
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
  self->primed = g_ptr_array_new_with_free_func (g_free);
  self->mic = g_array_new (FALSE, FALSE, sizeof (gint16));
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
  stop_timer (&self->context_flush);
  stop_timer (&self->mic_flush);
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
send_text (LanlanRealtimeClient *self,
           const char           *text)
{
  soup_websocket_connection_send_text (self->ws, text);
}

gboolean
lanlan_realtime_client_send_raw (LanlanRealtimeClient *self,
                                 const char           *json)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  send_text (self, json);
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

/* --- client events --------------------------------------------------------- */

#define EVENT_ID_PREFIX "lanlan_evt_"

/* Stamps an event_id and remembers which request it was, so an `error`
 * naming it is handled for that request only. */
static void
add_event_id (LanlanRealtimeClient *self,
              JsonBuilder          *b,
              const char           *type)
{
  guint64 id = ++self->next_event_id;
  g_autofree char *text = g_strdup_printf (EVENT_ID_PREFIX "%" G_GUINT64_FORMAT, id);

  self->sent[id % N_SENT] = (SentEvent) { id, type };
  add_string (b, "event_id", text);
}

static const char *
request_type_for (LanlanRealtimeClient *self,
                  const char           *event_id)
{
  guint64 id;
  char *end = NULL;

  if (event_id == NULL || !g_str_has_prefix (event_id, EVENT_ID_PREFIX))
    return NULL;
  id = g_ascii_strtoull (event_id + strlen (EVENT_ID_PREFIX), &end, 10);
  if (end == NULL || *end != '\0' || id == 0 || self->sent[id % N_SENT].id != id)
    return NULL;
  return self->sent[id % N_SENT].type;
}

/* Opens a client event of @type (a static string), or returns %NULL when
 * the connection is not open or the service does not take such events. */
static JsonBuilder *
begin_event (LanlanRealtimeClient *self,
             const char           *type)
{
  JsonBuilder *b;

  if (!lanlan_realtime_client_is_open (self))
    return NULL;
  if (!lanlan_provider_accepts (self->provider, type))
    {
      g_debug ("%s takes no %s; not sent", self->provider->display_name, type);
      return NULL;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "type", type);
  add_event_id (self, b, type);
  return b;
}

static void
finish_event (LanlanRealtimeClient *self,
              JsonBuilder          *b)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  send_text (self, text);
  g_object_unref (b);
}

static gboolean
send_simple (LanlanRealtimeClient *self,
             const char           *type)
{
  JsonBuilder *b = begin_event (self, type);

  if (b == NULL)
    return FALSE;
  finish_event (self, b);
  return TRUE;
}

/* --- session.update ---------------------------------------------------------- */

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
add_turn_detection (JsonBuilder          *b,
                    const LanlanProvider *provider,
                    gboolean              server_vad)
{
  json_builder_set_member_name (b, "turn_detection");
  if (!server_vad && provider->manual_turn_detection == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  add_string (b, "type", server_vad ? "server_vad" : provider->manual_turn_detection);
  json_builder_end_object (b);
}

static gboolean
is_set (const char *s)
{
  return s != NULL && *s != '\0';
}

/* ISO-639-1 ("zh", "pt") from a BCP 47 tag ("zh-CN", "pt_BR"). */
static char *
iso_639_1 (const char *tag)
{
  gsize len = strcspn (tag, "-_.@");

  return g_ascii_strdown (tag, len);
}

/* The instructions with the primed lines after them, oldest lines dropped
 * first when the service caps the instructions' length. */
static char *
compose_instructions (const LanlanProvider *provider,
                      const char           *base,
                      GPtrArray            *context)
{
  static const char header[] = "\n\nThe conversation so far, oldest first:\n";
  GString *s = g_string_new (base);
  guint first = 0;
  gsize budget = provider->max_instructions;

  if (context == NULL || context->len == 0)
    return g_string_free (s, FALSE);

  if (budget > 0)
    {
      gsize need = g_utf8_strlen (s->str, -1) + strlen (header);

      first = context->len;
      while (first > 0)
        {
          gsize line = g_utf8_strlen (g_ptr_array_index (context, first - 1), -1) + 1;
          if (need + line > budget)
            break;
          need += line;
          first--;
        }
    }

  if (first < context->len)
    {
      g_string_append (s, header);
      for (guint i = first; i < context->len; i++)
        {
          g_string_append (s, g_ptr_array_index (context, i));
          g_string_append_c (s, '\n');
        }
    }
  return g_string_free (s, FALSE);
}

static void
add_session (JsonBuilder                *b,
             const LanlanProvider       *provider,
             const LanlanRealtimeConfig *config,
             const char                 *instructions)
{
  const char *voice = is_set (config->voice) ? config->voice :
                      lanlan_provider_get_default_voice (provider);
  gboolean text_only = (config->text_only || provider->text_only) && !provider->fixed_modalities;

  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);

  if (is_set (instructions))
    add_string (b, "instructions", instructions);

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
            {
              g_autofree char *language = iso_639_1 (config->language);
              if (*language != '\0')
                add_string (b, "language", language);
            }
          json_builder_end_object (b);
        }
      add_turn_detection (b, provider, config->server_vad);
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
      add_string (b, "input_audio_format",
                  provider->beta_input_format ? provider->beta_input_format : "pcm16");
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
      add_turn_detection (b, provider, config->server_vad);
      if (provider->chat_mode != NULL)
        {
          json_builder_set_member_name (b, "beta_fields");
          json_builder_begin_object (b);
          add_string (b, "chat_mode", provider->chat_mode);
          add_string (b, "tts_source", "e2e");
          json_builder_end_object (b);
        }
    }

  json_builder_end_object (b);
}

/**
 * lanlan_realtime_build_session_update:
 *
 * Returns: (transfer full): the session.update event for @provider's
 *   dialect, as JSON text (without an event_id)
 */
char *
lanlan_realtime_build_session_update (const LanlanProvider       *provider,
                                      const LanlanRealtimeConfig *config)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  add_string (b, "type", "session.update");
  add_session (b, provider, config, config->instructions);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static char *
build_session_update (LanlanRealtimeClient *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *instructions = compose_instructions (self->provider, self->config.instructions,
                                                        self->primed);

  json_builder_begin_object (b);
  add_string (b, "type", "session.update");
  add_event_id (self, b, "session.update");
  add_session (b, self->provider, &self->config, instructions);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static gboolean
uses_items (LanlanRealtimeClient *self)
{
  return lanlan_provider_accepts (self->provider, "conversation.item.create");
}

/* Services without conversation items hear primed text through their
 * instructions: one session.update with only the instructions. */
static gboolean
flush_context (LanlanRealtimeClient *self)
{
  JsonBuilder *b;
  g_autofree char *instructions = NULL;

  stop_timer (&self->context_flush);
  if (!(b = begin_event (self, "session.update")))
    return FALSE;
  instructions = compose_instructions (self->provider, self->config.instructions, self->primed);
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  add_string (b, "instructions", instructions);
  json_builder_end_object (b);
  finish_event (self, b);
  return TRUE;
}

static gboolean
context_flush_cb (gpointer data)
{
  LanlanRealtimeClient *self = data;

  g_clear_pointer (&self->context_flush, g_source_unref);
  flush_context (self);
  return G_SOURCE_REMOVE;
}

/**
 * lanlan_realtime_client_send_session_update:
 *
 * Sends the whole session configuration again (instructions, voice…);
 * text primed into the instructions stays in them.
 */
gboolean
lanlan_realtime_client_send_session_update (LanlanRealtimeClient       *self,
                                            const LanlanRealtimeConfig *config)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  store_config (self, config);
  stop_timer (&self->context_flush);
  json = build_session_update (self);
  send_text (self, json);
  return TRUE;
}

/* --- microphone ------------------------------------------------------------ */

static char *
encode_audio (LanlanRealtimeClient *self,
              const gint16         *pcm,
              gsize                 n_samples)
{
  gsize header = self->provider->wav_appends ? 44 : 0;
  gsize n_bytes = n_samples * 2;
  g_autofree guint8 *buf = g_malloc (header + n_bytes);
  guint8 *data = buf + header;

  if (header > 0)
    {
      guint32 rate = self->provider->input_rate;
      guint32 v;
      guint16 h;

      /* A minimal RIFF/WAVE file: mono, 16-bit PCM. */
      memcpy (buf, "RIFF", 4);
      v = GUINT32_TO_LE ((guint32) (36 + n_bytes)); memcpy (buf + 4, &v, 4);
      memcpy (buf + 8, "WAVEfmt ", 8);
      v = GUINT32_TO_LE (16); memcpy (buf + 16, &v, 4);
      h = GUINT16_TO_LE (1); memcpy (buf + 20, &h, 2);
      h = GUINT16_TO_LE (1); memcpy (buf + 22, &h, 2);
      v = GUINT32_TO_LE (rate); memcpy (buf + 24, &v, 4);
      v = GUINT32_TO_LE (rate * 2); memcpy (buf + 28, &v, 4);
      h = GUINT16_TO_LE (2); memcpy (buf + 32, &h, 2);
      h = GUINT16_TO_LE (16); memcpy (buf + 34, &h, 2);
      memcpy (buf + 36, "data", 4);
      v = GUINT32_TO_LE ((guint32) n_bytes); memcpy (buf + 40, &v, 4);
    }
  for (gsize i = 0; i < n_samples; i++)
    {
      gint16 le = GINT16_TO_LE (pcm[i]);
      memcpy (data + 2 * i, &le, 2);
    }
  return g_base64_encode (buf, header + n_bytes);
}

static gboolean send_image (LanlanRealtimeClient *self, GBytes *jpeg);

/* Sends what the batch holds; a held picture goes right after it. */
static gboolean
flush_mic (LanlanRealtimeClient *self)
{
  JsonBuilder *b;
  g_autofree char *b64 = NULL;
  gsize n = self->mic->len;

  stop_timer (&self->mic_flush);
  if (n == 0)
    return TRUE;
  if (!(b = begin_event (self, "input_audio_buffer.append")))
    return FALSE;
  b64 = encode_audio (self, (const gint16 *) self->mic->data, n);
  add_string (b, "audio", b64);
  finish_event (self, b);
  g_array_set_size (self->mic, 0);
  self->samples_sent += n;
  self->audio_in_buffer = TRUE;

  if (self->held_image != NULL)
    {
      g_autoptr(GBytes) jpeg = g_steal_pointer (&self->held_image);
      send_image (self, jpeg);
    }
  return TRUE;
}

static GSource *start_timer (LanlanRealtimeClient *self, guint ms, GSourceFunc func);

static gboolean
mic_flush_cb (gpointer data)
{
  LanlanRealtimeClient *self = data;

  g_clear_pointer (&self->mic_flush, g_source_unref);
  flush_mic (self);
  return G_SOURCE_REMOVE;
}

/**
 * lanlan_realtime_client_append_audio:
 *
 * Queues microphone PCM16 at the provider's input rate. Appends go out in
 * batches of at least 20 ms; a shorter tail goes out after 40 ms without
 * more audio, at a commit, or before the connection closes.
 */
gboolean
lanlan_realtime_client_append_audio (LanlanRealtimeClient *self,
                                     const gint16         *pcm,
                                     gsize                 n_samples)
{
  guint batch;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;
  if (n_samples == 0)
    return TRUE;

  g_array_append_vals (self->mic, pcm, n_samples);
  batch = self->provider->input_rate * MIN_APPEND_MS / 1000;
  if (self->mic->len >= batch)
    return flush_mic (self);
  /* The end of speech should not wait for more: a tail goes out soon. */
  if (self->mic_flush == NULL)
    self->mic_flush = start_timer (self, 2 * MIN_APPEND_MS, mic_flush_cb);
  return TRUE;
}

gboolean
lanlan_realtime_client_clear_audio (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  g_array_set_size (self->mic, 0);
  if (!send_simple (self, "input_audio_buffer.clear"))
    return FALSE;
  self->audio_in_buffer = FALSE;
  return TRUE;
}

gboolean
lanlan_realtime_client_commit_audio (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  if (!flush_mic (self) || !send_simple (self, "input_audio_buffer.commit"))
    return FALSE;
  self->audio_in_buffer = FALSE;
  return TRUE;
}

/* --- pictures ------------------------------------------------------------- */

static gboolean
send_image (LanlanRealtimeClient *self,
            GBytes               *jpeg)
{
  const LanlanProvider *p = self->provider;
  JsonBuilder *b;
  g_autofree char *b64 = NULL;
  gsize size;
  const guchar *data = g_bytes_get_data (jpeg, &size);

  if (!(b = begin_event (self, p->image_event ? p->image_event : "conversation.item.create")))
    return FALSE;
  b64 = g_base64_encode (data, size);
  if (p->image_event != NULL)
    add_string (b, p->image_field, b64);
  else
    {
      g_autofree char *data_url = g_strconcat ("data:image/jpeg;base64,", b64, NULL);

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
  finish_event (self, b);
  return TRUE;
}

/**
 * lanlan_realtime_client_append_image:
 * @jpeg: a JPEG picture
 *
 * Each service takes pictures its own way (see LanlanProvider). Services
 * that read a picture only alongside audio in the input buffer (Qwen-Omni,
 * GLM) get it right after the next microphone append; a newer picture
 * replaces one still waiting.
 *
 * Returns: %FALSE if the service takes no pictures or the connection is closed
 */
gboolean
lanlan_realtime_client_append_image (LanlanRealtimeClient *self,
                                     GBytes               *jpeg)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  g_return_val_if_fail (jpeg != NULL, FALSE);

  if (!self->provider->supports_images || !lanlan_realtime_client_is_open (self))
    return FALSE;
  if (self->provider->image_needs_audio && !self->audio_in_buffer)
    {
      g_clear_pointer (&self->held_image, g_bytes_unref);
      self->held_image = g_bytes_ref (jpeg);
      return TRUE;
    }
  return send_image (self, jpeg);
}

/* --- text ------------------------------------------------------------------ */

static const char *
role_label (const char *role)
{
  if (g_str_equal (role, "user"))
    return "User";
  if (g_str_equal (role, "assistant"))
    return "Assistant";
  return "Context";
}

/**
 * lanlan_realtime_client_create_item:
 * @role: "user", "assistant" or "system"
 *
 * Adds a text message to the server's conversation: what the user typed,
 * or prior turns and agent context when priming a new session. Services
 * without conversation items (Qwen-Omni) get it appended to the session
 * instructions instead, sent with the next response.create or, failing
 * that, once the current main-loop iteration is over.
 */
gboolean
lanlan_realtime_client_create_item (LanlanRealtimeClient *self,
                                    const char           *role,
                                    const char           *text)
{
  JsonBuilder *b;
  const char *content_type;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  g_return_val_if_fail (role != NULL && text != NULL, FALSE);

  if (!lanlan_realtime_client_is_open (self))
    return FALSE;

  if (!uses_items (self))
    {
      g_ptr_array_add (self->primed, g_strdup_printf ("%s: %s", role_label (role), text));
      if (self->context_flush == NULL)
        {
          self->context_flush = g_idle_source_new ();
          g_source_set_callback (self->context_flush, context_flush_cb, self, NULL);
          g_source_attach (self->context_flush, self->context);
        }
      return TRUE;
    }

  if (g_str_equal (role, "assistant"))
    content_type = self->provider->dialect == LANLAN_REALTIME_DIALECT_GA ? "output_text" : "text";
  else
    content_type = "input_text";

  b = begin_event (self, "conversation.item.create");
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
  finish_event (self, b);
  return TRUE;
}

/* --- responses ------------------------------------------------------------- */

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

  if (self->context_flush != NULL && !flush_context (self))
    return FALSE;
  if (!send_simple (self, "response.create"))
    return FALSE;
  self->response_requested = TRUE;
  self->cancel_on_create = FALSE;
  if (self->response_timeout_ms > 0 && self->response_timer == NULL)
    self->response_timer = start_timer (self, self->response_timeout_ms, response_timed_out);
  return TRUE;
}

/**
 * lanlan_realtime_client_cancel_response:
 *
 * Cancels the answer the server is still giving, by the server's own
 * events: nothing is sent once response.done has come, or once speech
 * started on a service whose VAD cancels the answer itself. An answer
 * asked for but not yet created is cancelled as soon as it is.
 *
 * Returns: whether a response.cancel went out
 */
gboolean
lanlan_realtime_client_cancel_response (LanlanRealtimeClient *self)
{
  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);

  stop_timer (&self->response_timer);
  if (!self->response_active)
    {
      self->cancel_on_create = self->response_requested;
      return FALSE;
    }
  if (!send_simple (self, "response.cancel"))
    return FALSE;
  self->response_active = FALSE;
  return TRUE;
}

/**
 * lanlan_realtime_client_truncate:
 *
 * Tells the server how much of an answer's audio was heard. Services
 * without conversation.item.truncate get nothing (returns %FALSE).
 */
gboolean
lanlan_realtime_client_truncate (LanlanRealtimeClient *self,
                                 const char           *item_id,
                                 guint                 content_index,
                                 guint                 audio_end_ms)
{
  JsonBuilder *b;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);

  if (!(b = begin_event (self, "conversation.item.truncate")))
    return FALSE;
  add_string (b, "item_id", item_id);
  json_builder_set_member_name (b, "content_index");
  json_builder_add_int_value (b, content_index);
  json_builder_set_member_name (b, "audio_end_ms");
  json_builder_add_int_value (b, audio_end_ms);
  finish_event (self, b);
  return TRUE;
}

/**
 * lanlan_realtime_client_take_unsent_audio:
 * @into: samples not yet sent are appended here
 *
 * Hands back microphone audio still waiting for a batch, so that a
 * connection that ended does not lose it.
 *
 * Returns: the number of samples moved
 */
gsize
lanlan_realtime_client_take_unsent_audio (LanlanRealtimeClient *self,
                                          GArray               *into)
{
  gsize n;

  g_return_val_if_fail (LANLAN_IS_REALTIME_CLIENT (self), 0);
  g_return_val_if_fail (into != NULL, 0);

  n = self->mic->len;
  g_array_append_vals (into, self->mic->data, n);
  g_array_set_size (self->mic, 0);
  stop_timer (&self->mic_flush);
  return n;
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

  switch (event.type)
    {
    case LANLAN_REALTIME_EVENT_RESPONSE_CREATED:
      /* An answer started: no stall. */
      stop_timer (&self->response_timer);
      self->response_active = TRUE;
      self->response_requested = FALSE;
      if (self->cancel_on_create)
        {
          self->cancel_on_create = FALSE;
          lanlan_realtime_client_cancel_response (self);
        }
      break;
    case LANLAN_REALTIME_EVENT_RESPONSE_DONE:
      self->response_active = FALSE;
      break;
    case LANLAN_REALTIME_EVENT_SPEECH_STARTED:
      /* With server VAD these services end their own answer. */
      if (self->config.server_vad && self->provider->server_vad_interrupts)
        self->response_active = FALSE;
      break;
    case LANLAN_REALTIME_EVENT_INPUT_AUDIO_COMMITTED:
      self->audio_in_buffer = FALSE;
      break;
    case LANLAN_REALTIME_EVENT_IGNORED:
      if (g_str_equal (event.type_name, "input_audio_buffer.cleared"))
        self->audio_in_buffer = FALSE;
      break;
    case LANLAN_REALTIME_EVENT_ERROR:
      {
        g_autoptr(GError) as_error = lanlan_realtime_event_to_error (&event);

        event.request_type = request_type_for (self, event.error_event_id);

        /* The service ends an expired session (OpenAI: an error, then
         * close 1001): report the expiry once, as the close, which is
         * renewed without a word. */
        if (g_error_matches (as_error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_EXPIRED) &&
            self->connect_task == NULL)
          {
            self->expired = TRUE;
            lanlan_realtime_event_clear (&event);
            return;
          }

        /* A cancel that crossed the answer's own end: nothing was left to
         * cancel, which is what we wanted. */
        if (g_strcmp0 (event.request_type, "response.cancel") == 0 ||
            g_strcmp0 (event.error_code, "response_cancel_not_active") == 0)
          {
            g_debug ("Ignored the refusal of a cancel: %s",
                     event.error_message ? event.error_message : "");
            lanlan_realtime_event_clear (&event);
            return;
          }

        /* The request for an answer was refused: no stall, no answer. */
        if (event.request_type == NULL || g_str_equal (event.request_type, "response.create"))
          {
            stop_timer (&self->response_timer);
            self->response_requested = FALSE;
          }
      }
      break;
    default:
      break;
    }

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

static GError *
too_big_error (void)
{
  return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                      _("The service sent a message larger than %u MiB"),
                      (guint) (LANLAN_REALTIME_MAX_MESSAGE / (1024 * 1024)));
}

static gboolean
too_big_cb (gpointer data)
{
  LanlanRealtimeClient *self = data;

  if (!self->closed_emitted && self->ws != NULL)
    finish_with_error (self, too_big_error ());
  return G_SOURCE_REMOVE;
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

  /* libsoup sent 1009 and waits for the peer's close, which a server
   * flooding us may never send: end it now, outside libsoup's emission. */
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, too_big_cb, g_object_ref (self), g_object_unref);
      g_source_attach (source, self->context);
      g_source_unref (source);
    }
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

  if (self->expired)
    finish_with_error (self, lanlan_realtime_error_for_close (1001, reason));
  else if (g_error_matches (self->ws_error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    finish_with_error (self, too_big_error ());
  else if (code == 0 && self->ws_error != NULL)
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
  lanlan_message_cap_apply (ws);
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  {
    g_autofree char *update = build_session_update (self);
    soup_websocket_connection_send_text (ws, update);
  }
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
  store_config (self, config);
  self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
  self->connect_cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  if (self->connect_timeout_ms > 0)
    self->connect_timer = start_timer (self, self->connect_timeout_ms, connect_timed_out);

  lanlan_message_cap_prepare (self->session, msg);
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
  flush_mic (self);
  finish_with_error (self, NULL);
}
