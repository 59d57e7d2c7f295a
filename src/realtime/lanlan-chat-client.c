/* lanlan-chat-client.c — streaming OpenAI-compatible chat completions
 *
 * Text mode's engine, beside the realtime client: one POST
 * {base}/chat/completions per answer with "stream": true, read as
 * server-sent events. It lives on the thread-default context of its
 * caller (the session worker) and knows nothing of conversations.
 *
 * Everything from the server is outside input: lines and events are
 * bounded, every JSON payload goes through lanlan_json_parse(), and every
 * way it can go wrong ends in one LANLAN_REALTIME_ERROR with a message a
 * user can act on ("Could not reach Ollama at localhost:11434 — is it
 * running?"). Two timers guard a request: one until the first byte of the
 * answer (a local server may be loading the model), one between bytes
 * (a stall). The API key goes into the Authorization header only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-chat-client.h"
#include "lanlan-json.h"

#define MAX_EVENT_BYTES   (1024 * 1024)       /* one SSE line or event */
#define MAX_BODY_BYTES    (4 * 1024 * 1024)   /* a JSON answer or model list */
#define MAX_ERROR_BYTES   (64 * 1024)         /* an error body */
#define MAX_MESSAGE_CHARS 300                 /* of a server's error message */
#define READ_SIZE         8192

/* --- Requests -------------------------------------------------------------- */

typedef struct {
  char      *role;
  char      *content;
  GPtrArray *images;   /* GBytes, JPEG */
} Message;

struct _LanlanChatRequest
{
  char      *model;
  GPtrArray *messages;
  guint      max_tokens;
};

static void
message_free (Message *m)
{
  g_free (m->role);
  g_free (m->content);
  g_clear_pointer (&m->images, g_ptr_array_unref);
  g_free (m);
}

LanlanChatRequest *
lanlan_chat_request_new (const char *model)
{
  LanlanChatRequest *request = g_new0 (LanlanChatRequest, 1);

  request->model = g_strdup (model ? model : "");
  request->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
  return request;
}

void
lanlan_chat_request_free (LanlanChatRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->model);
  g_ptr_array_unref (request->messages);
  g_free (request);
}

const char *
lanlan_chat_request_get_model (LanlanChatRequest *request)
{
  return request->model;
}

void
lanlan_chat_request_set_model (LanlanChatRequest *request,
                               const char        *model)
{
  g_free (request->model);
  request->model = g_strdup (model ? model : "");
}

/**
 * lanlan_chat_request_add_message:
 * @role: "system", "user" or "assistant"
 *
 * Consecutive messages of one role are kept apart; servers accept that.
 */
void
lanlan_chat_request_add_message (LanlanChatRequest *request,
                                 const char        *role,
                                 const char        *content)
{
  Message *m;

  g_return_if_fail (request != NULL);
  g_return_if_fail (role != NULL);

  m = g_new0 (Message, 1);
  m->role = g_strdup (role);
  m->content = g_strdup (content ? content : "");
  g_ptr_array_add (request->messages, m);
}

/**
 * lanlan_chat_request_add_image:
 * @jpeg: a picture for the last user message (one is added if the last
 *   message is not the user's); sent as an image_url content part
 */
void
lanlan_chat_request_add_image (LanlanChatRequest *request,
                               GBytes            *jpeg)
{
  Message *last;

  g_return_if_fail (request != NULL);
  g_return_if_fail (jpeg != NULL);

  last = request->messages->len > 0 ?
         g_ptr_array_index (request->messages, request->messages->len - 1) : NULL;
  if (last == NULL || g_strcmp0 (last->role, "user") != 0)
    {
      lanlan_chat_request_add_message (request, "user", "");
      last = g_ptr_array_index (request->messages, request->messages->len - 1);
    }
  if (last->images == NULL)
    last->images = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (last->images, g_bytes_ref (jpeg));
}

guint
lanlan_chat_request_get_n_images (LanlanChatRequest *request)
{
  guint n = 0;

  for (guint i = 0; i < request->messages->len; i++)
    {
      Message *m = g_ptr_array_index (request->messages, i);
      n += m->images ? m->images->len : 0;
    }
  return n;
}

/* For a model that turned out not to see: the text stays. */
void
lanlan_chat_request_drop_images (LanlanChatRequest *request)
{
  for (guint i = 0; i < request->messages->len; i++)
    {
      Message *m = g_ptr_array_index (request->messages, i);
      g_clear_pointer (&m->images, g_ptr_array_unref);
    }
}

void
lanlan_chat_request_set_max_tokens (LanlanChatRequest *request,
                                    guint              max_tokens)
{
  request->max_tokens = max_tokens;
}

/**
 * lanlan_chat_request_to_json:
 * @stream: ask for server-sent events, with a usage chunk at the end
 *
 * Returns: (transfer full): the request body
 */
char *
lanlan_chat_request_to_json (LanlanChatRequest *request,
                             gboolean           stream)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, request->model);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; i < request->messages->len; i++)
    {
      Message *m = g_ptr_array_index (request->messages, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, m->role);
      json_builder_set_member_name (b, "content");
      if (m->images == NULL || m->images->len == 0)
        json_builder_add_string_value (b, m->content);
      else
        {
          json_builder_begin_array (b);
          if (*m->content != '\0')
            {
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "type");
              json_builder_add_string_value (b, "text");
              json_builder_set_member_name (b, "text");
              json_builder_add_string_value (b, m->content);
              json_builder_end_object (b);
            }
          for (guint k = 0; k < m->images->len; k++)
            {
              gsize size;
              const guchar *data = g_bytes_get_data (g_ptr_array_index (m->images, k), &size);
              g_autofree char *b64 = g_base64_encode (data, size);
              g_autofree char *url = g_strconcat ("data:image/jpeg;base64,", b64, NULL);

              json_builder_begin_object (b);
              json_builder_set_member_name (b, "type");
              json_builder_add_string_value (b, "image_url");
              json_builder_set_member_name (b, "image_url");
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "url");
              json_builder_add_string_value (b, url);
              json_builder_end_object (b);
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (request->max_tokens > 0)
    {
      json_builder_set_member_name (b, "max_tokens");
      json_builder_add_int_value (b, request->max_tokens);
    }
  json_builder_set_member_name (b, "stream");
  json_builder_add_boolean_value (b, stream);
  if (stream)
    {
      json_builder_set_member_name (b, "stream_options");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "include_usage");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

void
lanlan_chat_result_free (LanlanChatResult *result)
{
  if (result == NULL)
    return;
  g_free (result->text);
  g_free (result->finish_reason);
  g_free (result);
}

/* --- The client ------------------------------------------------------------ */

struct _LanlanChatClient
{
  GObject      parent_instance;

  char        *service_name;
  char        *base_url;
  char        *api_key;
  SoupSession *session;
  guint        first_data_ms;
  guint        stall_ms;
};

G_DEFINE_FINAL_TYPE (LanlanChatClient, lanlan_chat_client, G_TYPE_OBJECT)

enum {
  SIGNAL_DELTA,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
lanlan_chat_client_finalize (GObject *object)
{
  LanlanChatClient *self = LANLAN_CHAT_CLIENT (object);

  g_free (self->service_name);
  g_free (self->base_url);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (lanlan_chat_client_parent_class)->finalize (object);
}

static void
lanlan_chat_client_class_init (LanlanChatClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_chat_client_finalize;

  signals[SIGNAL_DELTA] =
    g_signal_new ("delta", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
lanlan_chat_client_init (LanlanChatClient *self)
{
  /* A local server may load the model before its first token. */
  self->first_data_ms = 120000;
  self->stall_ms = 30000;
}

/**
 * lanlan_chat_client_new:
 * @service_name: for messages ("Ollama")
 * @base_url: e.g. http://localhost:11434/v1; /chat/completions is appended
 * @api_key: (nullable): sent as a bearer token when set
 */
LanlanChatClient *
lanlan_chat_client_new (const char *service_name,
                        const char *base_url,
                        const char *api_key)
{
  LanlanChatClient *self;

  g_return_val_if_fail (base_url != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_CHAT_CLIENT, NULL);
  self->service_name = g_strdup (service_name && *service_name ? service_name : _("The chat service"));
  self->base_url = g_strdup (base_url);
  while (g_str_has_suffix (self->base_url, "/"))
    self->base_url[strlen (self->base_url) - 1] = '\0';
  self->api_key = g_strdup (api_key && *api_key ? api_key : NULL);
  self->session = soup_session_new_with_options ("user-agent", "Lanlan/" PACKAGE_VERSION, NULL);
  return self;
}

/**
 * lanlan_chat_client_new_for_preset:
 * @base_url: (nullable): the character's; the preset's when empty
 *
 * Returns: (transfer full) (nullable): a client, or %NULL with a CONFIG
 *   error for an address that is not http(s)
 */
LanlanChatClient *
lanlan_chat_client_new_for_preset (const LanlanChatPreset  *preset,
                                   const char              *base_url,
                                   const char              *api_key,
                                   GError                 **error)
{
  g_autofree char *url = NULL;

  g_return_val_if_fail (preset != NULL, NULL);
  url = lanlan_chat_preset_resolve_url (preset, base_url, error);
  if (url == NULL)
    return NULL;
  return lanlan_chat_client_new (_(preset->display_name), url, api_key);
}

const char *
lanlan_chat_client_get_base_url (LanlanChatClient *self)
{
  g_return_val_if_fail (LANLAN_IS_CHAT_CLIENT (self), NULL);
  return self->base_url;
}

const char *
lanlan_chat_client_get_service_name (LanlanChatClient *self)
{
  g_return_val_if_fail (LANLAN_IS_CHAT_CLIENT (self), NULL);
  return self->service_name;
}

/**
 * lanlan_chat_client_set_timeouts:
 * @first_data_ms: from sending until the first byte of the answer; 0: none
 * @stall_ms: longest silence within an answer; 0: none
 */
void
lanlan_chat_client_set_timeouts (LanlanChatClient *self,
                                 guint             first_data_ms,
                                 guint             stall_ms)
{
  g_return_if_fail (LANLAN_IS_CHAT_CLIENT (self));
  self->first_data_ms = first_data_ms;
  self->stall_ms = stall_ms;
}

/* --- Errors ---------------------------------------------------------------- */

/* "localhost:11434" of a URL, for messages. */
static char *
host_port (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (url);
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
  return g_strdup (g_uri_get_host (uri));
}

/* A server's message, made safe to show: valid UTF-8, one line, short. */
static char *
clean_message (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *s = g_string_new (NULL);
  glong n = 0;

  for (const char *p = valid; *p && n < MAX_MESSAGE_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_iscntrl (c))
        c = ' ';
      g_string_append_unichar (s, c);
    }
  if (*valid && n >= MAX_MESSAGE_CHARS && (glong) g_utf8_strlen (valid, -1) > n)
    g_string_append (s, "…");
  g_strstrip (s->str);
  s->len = strlen (s->str);
  return g_string_free (s, FALSE);
}

/* The message in an error body: OpenAI's {"error":{"message"}}, Ollama's
 * {"error":"…"}, vLLM's {"message"}, FastAPI's {"detail"}, or plain text. */
static char *
error_body_message (const char *body,
                    gsize       length)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;

  if (body == NULL || length == 0)
    return NULL;
  parser = lanlan_json_parse (body, length, NULL);
  if (parser != NULL && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *o = json_node_get_object (root);
      JsonNode *e = json_object_get_member (o, "error");
      const char *names[] = { "message", "detail" };

      if (e != NULL && JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        return clean_message (json_node_get_string (e));
      if (e != NULL && JSON_NODE_HOLDS_OBJECT (e))
        {
          JsonNode *m = json_object_get_member (json_node_get_object (e), "message");
          if (m != NULL && JSON_NODE_HOLDS_VALUE (m) && json_node_get_value_type (m) == G_TYPE_STRING)
            return clean_message (json_node_get_string (m));
        }
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          JsonNode *m = json_object_get_member (o, names[i]);
          if (m != NULL && JSON_NODE_HOLDS_VALUE (m) && json_node_get_value_type (m) == G_TYPE_STRING)
            return clean_message (json_node_get_string (m));
        }
      return NULL;
    }
  {
    g_autofree char *text = g_strndup (body, MIN (length, 4096));
    char *msg = clean_message (text);
    if (*msg == '\0' || strchr (msg, '<') != NULL)   /* empty, or an HTML page */
      g_clear_pointer (&msg, g_free);
    return msg;
  }
}

/**
 * lanlan_chat_error_for_status:
 * @url: what was requested
 * @model: (nullable): the model asked for
 * @body: (nullable): the error body
 *
 * Returns: (transfer full): the error for an HTTP status other than 200
 */
GError *
lanlan_chat_error_for_status (const char *service_name,
                              const char *url,
                              const char *model,
                              guint       status,
                              const char *body,
                              gsize       length)
{
  g_autofree char *message = error_body_message (body, length);
  g_autofree char *detail = message ? g_strdup_printf (": %s", message) : g_strdup (".");

  switch (status)
    {
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                          _("%s refused the API key (HTTP %u)%s"), service_name, status, detail);
    case SOUP_STATUS_NOT_FOUND:
      if (message != NULL && model != NULL && *model != '\0' &&
          (strstr (message, model) != NULL || g_strrstr (message, "model") != NULL))
        return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                            _("%s has no model “%s”%s"), service_name, model, detail);
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                          _("%s has nothing at %s (HTTP 404). Check the server address; it usually ends in /v1."),
                          service_name, url);
    case 429: /* Too Many Requests */
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED,
                          _("%s is rate limiting requests or the quota is used up%s"),
                          service_name, detail);
    case SOUP_STATUS_BAD_REQUEST:
    case SOUP_STATUS_METHOD_NOT_ALLOWED:
    case SOUP_STATUS_UNPROCESSABLE_ENTITY:
    case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                          _("%s rejected the request (HTTP %u)%s"), service_name, status, detail);
    default:
      if (status >= 500)
        return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER,
                            _("%s had a server error (HTTP %u)%s"), service_name, status, detail);
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER,
                          _("%s answered HTTP %u%s"), service_name, status, detail);
    }
}

static GError *
error_for_send (LanlanChatClient *self,
                const GError     *error)
{
  g_autofree char *where = host_port (self->base_url);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      (lanlan_chat_url_is_loopback (self->base_url) && error->domain == G_IO_ERROR))
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                        _("Could not reach %s at %s — is it running?"), self->service_name, where);
  if (error->domain == G_TLS_ERROR)
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                        _("Could not make a secure connection to %s at %s: %s"),
                        self->service_name, where, error->message);
  return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                      _("Could not reach %s at %s: %s"), self->service_name, where, error->message);
}

/* --- One request ----------------------------------------------------------- */

typedef enum {
  OP_STREAM,
  OP_MODELS,
} OpKind;

typedef struct {
  LanlanChatClient *self;
  OpKind            kind;
  SoupMessage      *msg;
  char             *url;
  char             *model;
  GInputStream     *stream;
  GCancellable     *cancellable;    /* ours: the caller's or a timer cancels it */
  GCancellable     *outer;
  gulong            outer_id;
  GSource          *timer;
  gboolean          timed_out;
  gboolean          got_data;
  guint             status;
  gboolean          sse;
  gboolean          done;
  GByteArray       *body;           /* non-SSE bodies */
  gsize             body_limit;
  GString          *line;
  GString          *event_data;
  GString          *text;
  LanlanChatResult *result;
  guint8            buf[READ_SIZE];
} Op;

static void
op_free (Op *op)
{
  if (op->timer != NULL)
    {
      g_source_destroy (op->timer);
      g_source_unref (op->timer);
    }
  if (op->outer != NULL)
    {
      g_cancellable_disconnect (op->outer, op->outer_id);
      g_object_unref (op->outer);
    }
  g_clear_object (&op->cancellable);
  g_clear_object (&op->stream);
  g_clear_object (&op->msg);
  g_free (op->url);
  g_free (op->model);
  if (op->body != NULL)
    g_byte_array_unref (op->body);
  g_string_free (op->line, TRUE);
  g_string_free (op->event_data, TRUE);
  g_string_free (op->text, TRUE);
  lanlan_chat_result_free (op->result);
  g_free (op);
}

static void
stop_timer (Op *op)
{
  if (op->timer != NULL)
    {
      g_source_destroy (op->timer);
      g_clear_pointer (&op->timer, g_source_unref);
    }
}

/* The answer is over: an unfinished body stream let go of here closes
 * the connection, so the server stops generating at once. */
static void
op_release (Op *op)
{
  stop_timer (op);
  g_clear_object (&op->stream);
}

static gboolean
timer_fired (gpointer data)
{
  Op *op = data;

  g_clear_pointer (&op->timer, g_source_unref);
  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  return G_SOURCE_REMOVE;
}

static void
arm_timer (Op *op)
{
  guint ms = op->got_data ? op->self->stall_ms : op->self->first_data_ms;

  stop_timer (op);
  if (ms == 0)
    return;
  op->timer = g_timeout_source_new (ms);
  g_source_set_callback (op->timer, timer_fired, op, NULL);
  g_source_set_static_name (op->timer, "[lanlan] chat timeout");
  g_source_attach (op->timer, g_main_context_get_thread_default ());
}

static void
outer_cancelled (GCancellable *outer,
                 gpointer      data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/* Ends @task with @error (owned), turning our own cancellations into what
 * caused them. */
static void
op_fail (GTask  *task,
         GError *error)
{
  Op *op = g_task_get_task_data (task);

  op_release (op);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (op->timed_out)
        {
          g_clear_error (&error);
          if (op->got_data)
            error = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT,
                                 _("%s stopped in the middle of the answer (nothing for %u s)"),
                                 op->self->service_name, (op->self->stall_ms + 999) / 1000);
          else
            error = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT,
                                 _("%s did not answer within %u s"),
                                 op->self->service_name, (op->self->first_data_ms + 999) / 1000);
        }
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
op_succeed (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  op_release (op);
  if (op->kind == OP_STREAM)
    {
      op->result->text = g_strndup (op->text->str, op->text->len);
      g_task_return_pointer (task, g_steal_pointer (&op->result), (GDestroyNotify) lanlan_chat_result_free);
    }
  else
    g_task_return_pointer (task, g_byte_array_free_to_bytes (g_steal_pointer (&op->body)),
                           (GDestroyNotify) g_bytes_unref);
  g_object_unref (task);
}

static GError *
protocol_error (Op         *op,
                const char *what)
{
  return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                      _("%s sent something that could not be read: %s"),
                      op->self->service_name, what);
}

static const char *
member_string (JsonObject *o,
               const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return NULL;
}

static JsonObject *
member_object (JsonObject *o,
               const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static guint
member_uint (JsonObject *o,
             const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    return (guint) CLAMP (json_node_get_int (n), 0, G_MAXUINT);
  return 0;
}

static void
take_usage (Op         *op,
            JsonObject *o)
{
  JsonObject *usage = member_object (o, "usage");

  if (usage == NULL)
    return;
  op->result->has_usage = TRUE;
  op->result->prompt_tokens = member_uint (usage, "prompt_tokens");
  op->result->completion_tokens = member_uint (usage, "completion_tokens");
}

static void
append_text (Op         *op,
             const char *text)
{
  gsize len;

  if (text == NULL || *text == '\0')
    return;
  /* A runaway server must not eat the memory: keep what fits. */
  len = strlen (text);
  if (op->text->len + len > MAX_BODY_BYTES)
    return;
  g_string_append_len (op->text, text, len);
  g_signal_emit (op->self, signals[SIGNAL_DELTA], 0, text);
}

/* One complete `data:` payload. Returns FALSE with @error set to stop. */
static gboolean
handle_event (Op          *op,
              const char  *data,
              gsize        length,
              GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  JsonNode *root;
  JsonObject *o;
  JsonNode *choices;

  if (length == 6 && memcmp (data, "[DONE]", 6) == 0)
    {
      op->done = TRUE;
      return TRUE;
    }

  parser = lanlan_json_parse (data, length, &local);
  if (parser == NULL)
    {
      *error = protocol_error (op, local->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *error = protocol_error (op, _("an event is not a JSON object"));
      return FALSE;
    }
  o = json_node_get_object (root);

  if (json_object_has_member (o, "error"))
    {
      g_autofree char *message = error_body_message (data, length);
      JsonObject *e = member_object (o, "error");
      const char *type = member_string (e, "type");
      const char *code = member_string (e, "code");
      gboolean rate = (type && strstr (type, "rate")) || (code && strstr (code, "rate"));

      *error = g_error_new (LANLAN_REALTIME_ERROR,
                            rate ? LANLAN_REALTIME_ERROR_RATE_LIMITED : LANLAN_REALTIME_ERROR_SERVER,
                            _("%s stopped with an error: %s"), op->self->service_name,
                            message ? message : _("no details given"));
      return FALSE;
    }

  take_usage (op, o);
  choices = json_object_get_member (o, "choices");
  if (choices != NULL && JSON_NODE_HOLDS_ARRAY (choices) &&
      json_array_get_length (json_node_get_array (choices)) > 0)
    {
      JsonNode *first = json_array_get_element (json_node_get_array (choices), 0);
      JsonObject *choice = JSON_NODE_HOLDS_OBJECT (first) ? json_node_get_object (first) : NULL;
      const char *finish = member_string (choice, "finish_reason");

      if (finish != NULL)
        {
          g_free (op->result->finish_reason);
          op->result->finish_reason = g_strdup (finish);
        }
      /* A streamed chunk has a delta; a whole answer has a message. */
      append_text (op, member_string (member_object (choice, "delta"), "content"));
      append_text (op, member_string (member_object (choice, "message"), "content"));
    }
  else if (choices != NULL && !JSON_NODE_HOLDS_ARRAY (choices))
    {
      *error = protocol_error (op, _("“choices” is not a list"));
      return FALSE;
    }
  return TRUE;
}

/* One line of the event stream (without its end of line). */
static gboolean
handle_line (Op          *op,
             const char  *line,
             gsize        length,
             GError     **error)
{
  const char *colon;
  gsize name_len;
  const char *value;
  gsize value_len;

  if (length == 0)
    {
      gboolean ok = TRUE;

      if (op->event_data->len > 0)
        {
          /* Drop the newline after the last data line. */
          g_string_truncate (op->event_data, op->event_data->len - 1);
          ok = handle_event (op, op->event_data->str, op->event_data->len, error);
        }
      g_string_truncate (op->event_data, 0);
      return ok;
    }
  if (line[0] == ':')
    return TRUE;   /* a comment, often a keep-alive */

  colon = memchr (line, ':', length);
  name_len = colon ? (gsize) (colon - line) : length;
  value = colon ? colon + 1 : line + length;
  value_len = length - (value - line);
  if (value_len > 0 && value[0] == ' ')
    {
      value++;
      value_len--;
    }
  if (name_len == 4 && memcmp (line, "data", 4) == 0)
    {
      if (op->event_data->len + value_len + 1 > MAX_EVENT_BYTES)
        {
          *error = protocol_error (op, _("an event is too large"));
          return FALSE;
        }
      g_string_append_len (op->event_data, value, value_len);
      g_string_append_c (op->event_data, '\n');
    }
  /* event:, id:, retry: and unknown fields mean nothing here. */
  return TRUE;
}

static gboolean
feed (Op            *op,
      const guint8  *data,
      gsize          length,
      GError       **error)
{
  gsize start = 0;

  for (gsize i = 0; i < length && !op->done; i++)
    {
      if (data[i] != '\n')
        continue;
      g_string_append_len (op->line, (const char *) data + start, i - start);
      start = i + 1;
      if (op->line->len > 0 && op->line->str[op->line->len - 1] == '\r')
        g_string_truncate (op->line, op->line->len - 1);
      if (!handle_line (op, op->line->str, op->line->len, error))
        return FALSE;
      g_string_truncate (op->line, 0);
      /* A "delta" handler may have cancelled us (barge-in). */
      if (g_cancellable_is_cancelled (op->cancellable))
        return TRUE;
    }
  if (!op->done && start < length)
    {
      if (op->line->len + (length - start) > MAX_EVENT_BYTES)
        {
          *error = protocol_error (op, _("a line is too long"));
          return FALSE;
        }
      g_string_append_len (op->line, (const char *) data + start, length - start);
    }
  return TRUE;
}

static void read_more (GTask *task);

/* A whole non-SSE body has arrived. */
static void
body_complete (GTask *task)
{
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;

  if (op->status != SOUP_STATUS_OK)
    {
      op_fail (task, lanlan_chat_error_for_status (op->self->service_name, op->url, op->model,
                                                   op->status, (const char *) op->body->data,
                                                   op->body->len));
      return;
    }
  if (op->kind == OP_MODELS)
    {
      op_succeed (task);
      return;
    }
  /* The server ignored "stream": one JSON completion. */
  if (!handle_event (op, (const char *) op->body->data, op->body->len, &error))
    {
      op_fail (task, error);
      return;
    }
  op->done = TRUE;
  op_succeed (task);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  GTask *task = data;
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          GError *e = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                                   _("The connection to %s broke in the middle of the answer: %s"),
                                   op->self->service_name, error->message);
          g_clear_error (&error);
          error = e;
        }
      op_fail (task, error);
      return;
    }

  if (n > 0)
    {
      op->got_data = TRUE;
      arm_timer (op);
    }

  if (!op->sse)
    {
      if (n == 0)
        {
          body_complete (task);
          return;
        }
      if (op->body->len + (gsize) n > op->body_limit)
        {
          if (op->status != SOUP_STATUS_OK)
            {
              /* An error page: what we have is enough to say what went wrong. */
              body_complete (task);
              return;
            }
          op_fail (task, protocol_error (op, _("the answer is too large")));
          return;
        }
      g_byte_array_append (op->body, op->buf, n);
      read_more (task);
      return;
    }

  if (n == 0)
    {
      /* The end of the stream also ends an event that had no blank line. */
      if (!op->done && (op->line->len > 0 || op->event_data->len > 0))
        {
          if ((op->line->len > 0 && !handle_line (op, op->line->str, op->line->len, &error)) ||
              !handle_line (op, "", 0, &error))
            {
              op_fail (task, error);
              return;
            }
        }
      if (op->done || op->result->finish_reason != NULL)
        op_succeed (task);
      else
        op_fail (task, g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                                    _("The connection to %s closed before the answer was complete"),
                                    op->self->service_name));
      return;
    }

  if (!feed (op, op->buf, n, &error))
    {
      op_fail (task, error);
      return;
    }
  if (g_cancellable_is_cancelled (op->cancellable))
    {
      op_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled")));
      return;
    }
  if (op->done)
    {
      op_succeed (task);
      return;
    }
  read_more (task);
}

static void
read_more (GTask *task)
{
  Op *op = g_task_get_task_data (task);

  g_input_stream_read_async (op->stream, op->buf, sizeof op->buf, G_PRIORITY_DEFAULT,
                             op->cancellable, on_read, task);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  GTask *task = data;
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;
  const char *type;

  op->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (op->stream == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          GError *e = error_for_send (op->self, error);
          g_clear_error (&error);
          error = e;
        }
      op_fail (task, error);
      return;
    }

  op->status = soup_message_get_status (op->msg);
  type = soup_message_headers_get_content_type (soup_message_get_response_headers (op->msg), NULL);
  if (op->status != SOUP_STATUS_OK)
    {
      op->body_limit = MAX_ERROR_BYTES;
      read_more (task);
      return;
    }
  if (op->kind == OP_STREAM && g_strcmp0 (type, "text/event-stream") == 0)
    op->sse = TRUE;
  else if (type == NULL || g_strcmp0 (type, "application/json") != 0)
    {
      g_autofree char *what = g_strdup_printf (_("it answered with “%s” instead of JSON or events"),
                                               type ? type : "?");
      op_fail (task, protocol_error (op, what));
      return;
    }
  op->body_limit = MAX_BODY_BYTES;
  read_more (task);
}

static GTask *
op_start_full (LanlanChatClient    *self,
               OpKind               kind,
               const char          *method,
               const char          *path,
               const char          *json,
               SoupMultipart       *multipart,
               const char          *model,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);
  SoupMessageHeaders *headers;

  op->self = self;
  op->kind = kind;
  op->model = g_strdup (model);
  op->line = g_string_new (NULL);
  op->event_data = g_string_new (NULL);
  op->body = g_byte_array_new ();
  op->text = g_string_new (NULL);
  op->result = g_new0 (LanlanChatResult, 1);
  op->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      op->outer = g_object_ref (cancellable);
      op->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (outer_cancelled),
                                            op->cancellable, NULL);
    }
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  g_task_set_source_tag (task, op_start_full);

  op->url = g_strconcat (self->base_url, path, NULL);
  if (multipart != NULL)
    {
      g_autoptr(GUri) uri = g_uri_parse (op->url, SOUP_HTTP_URI_FLAGS, NULL);
      op->msg = uri ? soup_message_new_from_multipart (op->url, multipart) : NULL;
    }
  else
    op->msg = soup_message_new (method, op->url);
  if (op->msg == NULL)
    {
      op_fail (task, g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                                  _("“%s” is not a valid address"), op->url));
      return NULL;
    }
  headers = soup_message_get_request_headers (op->msg);
  if (self->api_key != NULL)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->api_key, NULL);
      soup_message_headers_replace (headers, "Authorization", auth);
    }
  if (json != NULL)
    {
      g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));
      soup_message_set_request_body_from_bytes (op->msg, "application/json", body);
    }
  soup_message_headers_replace (headers, "Accept",
                                kind == OP_STREAM ? "text/event-stream, application/json"
                                                  : "application/json");
  arm_timer (op);
  soup_session_send_async (self->session, op->msg, G_PRIORITY_DEFAULT, op->cancellable,
                           on_sent, task);
  return task;
}

static GTask *
op_start (LanlanChatClient    *self,
          OpKind               kind,
          const char          *method,
          const char          *path,
          const char          *json,
          const char          *model,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  return op_start_full (self, kind, method, path, json, NULL, model, cancellable,
                        callback, user_data);
}

/**
 * lanlan_chat_client_stream_async:
 * @request: sent as it is now; may be freed after this returns
 *
 * Streams one answer; "delta" is emitted for each piece. Cancel
 * @cancellable to stop (barge-in): the HTTP request is aborted and the
 * call finishes with G_IO_ERROR_CANCELLED.
 */
void
lanlan_chat_client_stream_async (LanlanChatClient    *self,
                                 LanlanChatRequest   *request,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autofree char *json = NULL;

  g_return_if_fail (LANLAN_IS_CHAT_CLIENT (self));
  g_return_if_fail (request != NULL);

  json = lanlan_chat_request_to_json (request, TRUE);
  op_start (self, OP_STREAM, SOUP_METHOD_POST, "/chat/completions", json,
            request->model, cancellable, callback, user_data);
}

/**
 * lanlan_chat_client_stream_finish:
 *
 * Returns: (transfer full): the whole answer and what the server said
 *   about it, or %NULL with @error; the deltas seen before an error are
 *   what the caller heard
 */
LanlanChatResult *
lanlan_chat_client_stream_finish (LanlanChatClient  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- Models ---------------------------------------------------------------- */

static void
on_models (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GTask *task = data;
  GError *error = NULL;
  g_autoptr(GBytes) body = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  JsonNode *root;
  JsonNode *list;

  if (body == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  parser = lanlan_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  root = parser ? json_parser_get_root (parser) : NULL;
  list = root && JSON_NODE_HOLDS_OBJECT (root) ?
         json_object_get_member (json_node_get_object (root), "data") : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_task_return_new_error (task, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                               _("%s sent a model list that could not be read: %s"),
                               lanlan_chat_client_get_service_name (g_task_get_source_object (task)),
                               error ? error->message : _("no “data” list"));
      g_clear_error (&error);
      g_object_unref (task);
      return;
    }
  ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      JsonNode *e = json_array_get_element (json_node_get_array (list), i);
      const char *id = JSON_NODE_HOLDS_OBJECT (e) ? member_string (json_node_get_object (e), "id") : NULL;

      if (id != NULL && *id != '\0' && g_utf8_validate (id, -1, NULL))
        g_ptr_array_add (ids, g_strdup (id));
    }
  g_ptr_array_add (ids, NULL);
  g_task_return_pointer (task, g_ptr_array_steal (ids, NULL), (GDestroyNotify) g_strfreev);
  g_object_unref (task);
}

/**
 * lanlan_chat_client_list_models_async:
 *
 * GET {base}/models: what the model field offers.
 */
void
lanlan_chat_client_list_models_async (LanlanChatClient    *self,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *outer;

  g_return_if_fail (LANLAN_IS_CHAT_CLIENT (self));
  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, lanlan_chat_client_list_models_async);
  op_start (self, OP_MODELS, SOUP_METHOD_GET, "/models", NULL, NULL, cancellable,
            on_models, outer);
}

/**
 * lanlan_chat_client_list_models_finish:
 *
 * Returns: (transfer full): the model ids, in the server's order
 */
GStrv
lanlan_chat_client_list_models_finish (LanlanChatClient  *self,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- Check ----------------------------------------------------------------- */

typedef struct {
  char   *model;
  gint64  started;
} Check;

static void
check_free (Check *c)
{
  g_free (c->model);
  g_free (c);
}

static void
on_check_answer (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GTask *task = data;
  Check *c = g_task_get_task_data (task);
  LanlanChatClient *self = LANLAN_CHAT_CLIENT (source);
  GError *error = NULL;
  g_autoptr(LanlanChatResult) answer = lanlan_chat_client_stream_finish (self, result, &error);
  double seconds = (g_get_monotonic_time () - c->started) / (double) G_USEC_PER_SEC;

  if (answer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task,
                           g_strdup_printf (_("%s answered with the model “%s” in %.1f s."),
                                            self->service_name, c->model, seconds),
                           g_free);
  g_object_unref (task);
}

static void
check_send (GTask *task)
{
  LanlanChatClient *self = g_task_get_source_object (task);
  Check *c = g_task_get_task_data (task);
  g_autoptr(LanlanChatRequest) request = lanlan_chat_request_new (c->model);

  lanlan_chat_request_add_message (request, "user", "Hi");
  lanlan_chat_request_set_max_tokens (request, 1);
  c->started = g_get_monotonic_time ();
  lanlan_chat_client_stream_async (self, request, g_task_get_cancellable (task),
                                   on_check_answer, task);
}

static void
on_check_models (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GTask *task = data;
  Check *c = g_task_get_task_data (task);
  LanlanChatClient *self = LANLAN_CHAT_CLIENT (source);
  GError *error = NULL;
  g_auto(GStrv) models = lanlan_chat_client_list_models_finish (self, result, &error);

  if (models == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (models[0] == NULL)
    {
      g_task_return_new_error (task, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                               _("%s is running but offers no model. Load or download one first."),
                               self->service_name);
      g_object_unref (task);
      return;
    }
  g_free (c->model);
  c->model = g_strdup (models[0]);
  check_send (task);
}

/**
 * lanlan_chat_client_check_async:
 * @model: (nullable): empty: the first model the server lists
 *
 * The editor's "Check" button: one tiny request (one token).
 */
void
lanlan_chat_client_check_async (LanlanChatClient    *self,
                                const char          *model,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;
  Check *c;

  g_return_if_fail (LANLAN_IS_CHAT_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_chat_client_check_async);
  c = g_new0 (Check, 1);
  c->model = g_strdup (model);
  g_task_set_task_data (task, c, (GDestroyNotify) check_free);
  if (model == NULL || *model == '\0')
    lanlan_chat_client_list_models_async (self, cancellable, on_check_models, task);
  else
    check_send (task);
}

/**
 * lanlan_chat_client_check_finish:
 *
 * Returns: (transfer full): what happened, to show as it is
 */
char *
lanlan_chat_client_check_finish (LanlanChatClient  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- Transcription ----------------------------------------------------------- */

/* Mono PCM16 as a WAV file. */
static GBytes *
wav_new (const gint16 *pcm,
         gsize         n,
         guint         rate)
{
  gsize size = 44 + n * 2;
  guint8 *wav = g_malloc (size);
  guint32 u32;
  guint16 u16;

#define PUT32(off, v) (u32 = GUINT32_TO_LE (v), memcpy (wav + (off), &u32, 4))
#define PUT16(off, v) (u16 = GUINT16_TO_LE (v), memcpy (wav + (off), &u16, 2))
  memcpy (wav, "RIFF", 4);
  PUT32 (4, size - 8);
  memcpy (wav + 8, "WAVEfmt ", 8);
  PUT32 (16, 16);
  PUT16 (20, 1);           /* PCM */
  PUT16 (22, 1);           /* mono */
  PUT32 (24, rate);
  PUT32 (28, rate * 2);
  PUT16 (32, 2);
  PUT16 (34, 16);
  memcpy (wav + 36, "data", 4);
  PUT32 (40, n * 2);
#undef PUT32
#undef PUT16
  for (gsize i = 0; i < n; i++)
    {
      guint16 v = GUINT16_TO_LE ((guint16) pcm[i]);
      memcpy (wav + 44 + 2 * i, &v, 2);
    }
  return g_bytes_new_take (wav, size);
}

static void
on_transcribed (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GTask *task = data;
  LanlanChatClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr(GBytes) body = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(JsonParser) parser = NULL;
  const char *text = NULL;
  JsonNode *root;

  if (body == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  parser = lanlan_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  root = parser ? json_parser_get_root (parser) : NULL;
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    text = member_string (json_node_get_object (root), "text");
  if (text == NULL)
    g_task_return_new_error (task, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                             _("%s sent a transcription that could not be read: %s"),
                             self->service_name, error ? error->message : _("no “text”"));
  else
    g_task_return_pointer (task, g_strstrip (g_strdup (text)), g_free);
  g_clear_error (&error);
  g_object_unref (task);
}

/**
 * lanlan_chat_client_transcribe_async:
 * @model: e.g. "whisper-1"; servers that have one model ignore it
 * @pcm: mono PCM16 at @rate
 * @language: (nullable): a BCP 47 tag; its language subtag is sent
 *
 * POST {base}/audio/transcriptions as multipart/form-data with a WAV
 * file, as OpenAI, whisper.cpp's server (with an OpenAI path) and
 * faster-whisper servers take it.
 */
void
lanlan_chat_client_transcribe_async (LanlanChatClient    *self,
                                     const char          *model,
                                     const gint16        *pcm,
                                     gsize                n_samples,
                                     guint                rate,
                                     const char          *language,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(SoupMultipart) multipart = soup_multipart_new (SOUP_FORM_MIME_TYPE_MULTIPART);
  g_autoptr(GBytes) wav = NULL;
  GTask *outer;

  g_return_if_fail (LANLAN_IS_CHAT_CLIENT (self));
  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, lanlan_chat_client_transcribe_async);
  wav = wav_new (pcm, n_samples, rate);
  soup_multipart_append_form_file (multipart, "file", "speech.wav", "audio/wav", wav);
  soup_multipart_append_form_string (multipart, "model", model && *model ? model : "whisper-1");
  soup_multipart_append_form_string (multipart, "response_format", "json");
  if (language != NULL && *language != '\0')
    {
      g_autofree char *primary = g_ascii_strdown (language, -1);
      char *cut = strpbrk (primary, "-_");

      if (cut != NULL)
        *cut = '\0';
      soup_multipart_append_form_string (multipart, "language", primary);
    }
  op_start_full (self, OP_MODELS, SOUP_METHOD_POST, "/audio/transcriptions", NULL, multipart,
                 model, cancellable, on_transcribed, outer);
}

/**
 * lanlan_chat_client_transcribe_finish:
 *
 * Returns: (transfer full): what was said, trimmed; may be empty
 */
char *
lanlan_chat_client_transcribe_finish (LanlanChatClient  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
