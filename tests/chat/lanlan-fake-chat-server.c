/* lanlan-fake-chat-server.c — an OpenAI-compatible HTTP server on 127.0.0.1
 *
 * A SoupServer on its own thread and GMainContext that answers like
 * Ollama's and OpenAI's /v1 endpoints, and as strictly: a wrong method,
 * path, content type or body, a missing or unknown model, a bad role, a
 * picture for a model that cannot see, a wrong key, each get the status
 * and error body the real servers send. Chat answers stream as
 * server-sent events (role chunk, content deltas, finish chunk, a usage
 * chunk when stream_options asks for it, [DONE]); a script makes it
 * stall, drop the connection, report an error mid-stream, fail with an
 * HTTP status or ignore "stream". It also takes multipart uploads at
 * /v1/audio/transcriptions (checking the WAV inside) and speaks a tone
 * at /v1/audio/speech. Everything received is kept for the test.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <string.h>

#include "lanlan-fake-chat-server.h"

typedef struct {
  char     *id;
  gboolean  vision;
} Model;

typedef struct {
  char   *body;
  guint   status;
  gboolean aborted;
  gboolean completed;
  gint64  first_delta;
  GArray *delta_times;
} Request;

typedef struct {
  GArray     *samples;
  guint       rate;
  GHashTable *fields;
} Upload;

struct _FakeChatServer
{
  GMutex        lock;
  GCond         cond;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *soup;
  guint         port;
  GPtrArray    *models;
  GHashTable   *scripts;
  FakeChatScript default_script;
  char         *expected_key;
  char         *transcript;
  GPtrArray    *requests;
  GPtrArray    *uploads;
  GPtrArray    *speech;
  GPtrArray    *streams;
};

typedef struct {
  FakeChatServer    *server;
  SoupServerMessage *msg;
  guint              index;
  FakeChatScript     script;
  char              *model;
  char             **words;
  guint              n_words;
  guint              next;
  gboolean           usage;
  guint              prompt_tokens;
  GSource           *timer;
  gboolean           finished;
  gsize              appended;
  gsize              written;
  gboolean           drop_pending;
} Stream;

static void
request_free (Request *r)
{
  g_array_unref (r->delta_times);
  g_free (r->body);
  g_free (r);
}

static void
upload_free (Upload *u)
{
  g_array_unref (u->samples);
  g_hash_table_unref (u->fields);
  g_free (u);
}

static void
model_free (Model *m)
{
  g_free (m->id);
  g_free (m);
}

static void
stream_stop_timer (Stream *s)
{
  if (s->timer != NULL)
    {
      g_source_destroy (s->timer);
      g_clear_pointer (&s->timer, g_source_unref);
    }
}

static void
stream_free (Stream *s)
{
  stream_stop_timer (s);
  if (s->msg != NULL)
    {
      g_signal_handlers_disconnect_by_data (s->msg, s);
      g_object_unref (s->msg);
    }
  g_free (s->model);
  g_strfreev (s->words);
  g_free (s);
}

/* --- Replies --------------------------------------------------------------- */

static void
reply_json (SoupServerMessage *msg,
            guint              status,
            const char        *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

/* An error body as the service would send it. */
static void
reply_error (SoupServerMessage *msg,
             gboolean           ollama,
             guint              status,
             const char        *type,
             const char        *code,
             const char        *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, ollama ? "api_error" : type);
  json_builder_set_member_name (b, "param");
  json_builder_add_null_value (b);
  json_builder_set_member_name (b, "code");
  if (code != NULL && !ollama)
    json_builder_add_string_value (b, code);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  reply_json (msg, status, json);
}

static const FakeChatScript *
script_for (FakeChatServer *server,
            guint           index)
{
  const FakeChatScript *s = g_hash_table_lookup (server->scripts, GUINT_TO_POINTER (index));
  return s ? s : &server->default_script;
}

static Model *
find_model (FakeChatServer *server,
            const char     *id)
{
  for (guint i = 0; i < server->models->len; i++)
    {
      Model *m = g_ptr_array_index (server->models, i);
      if (g_strcmp0 (m->id, id) == 0)
        return m;
    }
  return NULL;
}

/* Checks the key; answers 401 itself when it is wrong. */
static gboolean
check_auth (FakeChatServer    *server,
            SoupServerMessage *msg,
            gboolean           ollama)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  g_autofree char *expected = NULL;

  g_mutex_lock (&server->lock);
  expected = server->expected_key ? g_strconcat ("Bearer ", server->expected_key, NULL) : NULL;
  g_mutex_unlock (&server->lock);
  if (expected == NULL || g_strcmp0 (auth, expected) == 0)
    return TRUE;
  reply_error (msg, ollama, SOUP_STATUS_UNAUTHORIZED, "invalid_request_error", "invalid_api_key",
               auth == NULL ? "You didn't provide an API key."
                            : "Incorrect API key provided.");
  return FALSE;
}

/* --- Chat completions ------------------------------------------------------ */

static void
stream_append (Stream     *s,
               const char *data)
{
  SoupMessageBody *body = soup_server_message_get_response_body (s->msg);
  g_autofree char *frame = g_strdup_printf ("data: %s\n\n", data);

  soup_message_body_append (body, SOUP_MEMORY_COPY, frame, strlen (frame));
  s->appended += strlen (frame);
  soup_server_message_unpause (s->msg);
}

static void
drop_now (Stream *s)
{
  /* Closes the TCP connection under libsoup, as a crash would. */
  g_socket_shutdown (soup_server_message_get_socket (s->msg), TRUE, TRUE, NULL);
}

static void
on_wrote_body_data (SoupServerMessage *msg,
                    guint              size,
                    Stream            *s)
{
  s->written += size;
  if (s->drop_pending && s->written >= s->appended)
    {
      s->drop_pending = FALSE;
      drop_now (s);
    }
}

static char *
chunk_json (Stream     *s,
            const char *role,
            const char *content,
            const char *finish)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, "chatcmpl-42");
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, "chat.completion.chunk");
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, 1733000000);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, s->model);
  json_builder_set_member_name (b, "system_fingerprint");
  json_builder_add_string_value (b, s->script.ollama ? "fp_ollama" : "fp_42");
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "delta");
  json_builder_begin_object (b);
  if (role != NULL)
    {
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, role);
    }
  if (content != NULL)
    {
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, content);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "finish_reason");
  if (finish != NULL)
    json_builder_add_string_value (b, finish);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
stream_finish (Stream *s)
{
  SoupMessageBody *body = soup_server_message_get_response_body (s->msg);
  Request *r;

  g_mutex_lock (&s->server->lock);
  r = g_ptr_array_index (s->server->requests, s->index);
  r->completed = TRUE;
  g_mutex_unlock (&s->server->lock);
  soup_message_body_complete (body);
  soup_server_message_unpause (s->msg);
}

static gboolean stream_step (gpointer data);

static void
stream_schedule (Stream *s,
                 guint   ms)
{
  stream_stop_timer (s);
  s->timer = ms > 0 ? g_timeout_source_new (ms) : g_idle_source_new ();
  g_source_set_callback (s->timer, stream_step, s, NULL);
  g_source_attach (s->timer, s->server->context);
}

static gboolean
stream_step (gpointer data)
{
  Stream *s = data;
  guint limit = s->n_words;

  g_clear_pointer (&s->timer, g_source_unref);
  if (s->finished)
    return G_SOURCE_REMOVE;

  if (s->script.mode == FAKE_CHAT_STALL || s->script.mode == FAKE_CHAT_DROP ||
      s->script.mode == FAKE_CHAT_STREAM_ERROR)
    limit = MIN (limit, s->script.stall_after);

  if (s->next == 0)
    {
      g_autofree char *json = chunk_json (s, "assistant", "", NULL);
      stream_append (s, json);
    }

  if (s->next < limit)
    {
      g_autofree char *word = g_strdup_printf ("%s%s", s->words[s->next],
                                               s->next + 1 < s->n_words ? " " : "");
      g_autofree char *json = chunk_json (s, NULL, word, NULL);

      {
        Request *r;
        gint64 now = g_get_monotonic_time ();

        g_mutex_lock (&s->server->lock);
        r = g_ptr_array_index (s->server->requests, s->index);
        if (s->next == 0)
          r->first_delta = now;
        g_array_append_val (r->delta_times, now);
        g_mutex_unlock (&s->server->lock);
      }
      stream_append (s, json);
      s->next++;
      stream_schedule (s, s->script.delta_interval_ms);
      return G_SOURCE_REMOVE;
    }

  switch (s->script.mode)
    {
    case FAKE_CHAT_STALL:
      return G_SOURCE_REMOVE;   /* never another byte */

    case FAKE_CHAT_DROP:
      /* Once everything sent so far is on the wire. */
      if (s->written >= s->appended)
        drop_now (s);
      else
        s->drop_pending = TRUE;
      return G_SOURCE_REMOVE;

    case FAKE_CHAT_STREAM_ERROR:
      {
        g_autofree char *json = g_strdup_printf (
          "{\"error\":{\"message\":\"%s\",\"type\":\"server_error\",\"param\":null,\"code\":null}}",
          s->script.error_message ? s->script.error_message
                                  : "The server had an error while processing your request.");
        stream_append (s, json);
        stream_finish (s);
      }
      return G_SOURCE_REMOVE;

    default:
      break;
    }

  {
    g_autofree char *json = chunk_json (s, NULL, NULL, "stop");
    stream_append (s, json);
  }
  if (s->usage)
    {
      g_autofree char *json = g_strdup_printf (
        "{\"id\":\"chatcmpl-42\",\"object\":\"chat.completion.chunk\",\"created\":1733000000,"
        "\"model\":\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
        "\"total_tokens\":%u}}", s->model, s->prompt_tokens, s->n_words,
        s->prompt_tokens + s->n_words);
      stream_append (s, json);
    }
  stream_append (s, "[DONE]");
  stream_finish (s);
  return G_SOURCE_REMOVE;
}

static void
on_stream_finished (SoupServerMessage *msg,
                    Stream            *s)
{
  Request *r;

  s->finished = TRUE;
  stream_stop_timer (s);
  g_mutex_lock (&s->server->lock);
  r = g_ptr_array_index (s->server->requests, s->index);
  if (!r->completed)
    r->aborted = TRUE;
  g_mutex_unlock (&s->server->lock);
}

/* Checks a messages array as the real servers do; NULL when fine. */
static const char *
check_messages (JsonNode  *messages,
                gboolean  *has_images,
                guint     *n_chars)
{
  JsonArray *array;

  if (messages == NULL)
    return "'messages' is a required property";
  if (!JSON_NODE_HOLDS_ARRAY (messages))
    return "Invalid type for 'messages': expected an array.";
  array = json_node_get_array (messages);
  if (json_array_get_length (array) == 0)
    return "Invalid 'messages': empty array. Expected an array with minimum length 1.";
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *n = json_array_get_element (array, i);
      JsonObject *m;
      const char *role;
      JsonNode *content;

      if (!JSON_NODE_HOLDS_OBJECT (n))
        return "Invalid type for 'messages[i]': expected an object.";
      m = json_node_get_object (n);
      role = json_object_get_string_member_with_default (m, "role", NULL);
      if (role == NULL)
        return "Missing required parameter: 'messages[i].role'.";
      if (!g_str_equal (role, "system") && !g_str_equal (role, "user") &&
          !g_str_equal (role, "assistant") && !g_str_equal (role, "developer"))
        return "Invalid value for 'messages[i].role'.";
      content = json_object_get_member (m, "content");
      if (content == NULL)
        return "Missing required parameter: 'messages[i].content'.";
      if (JSON_NODE_HOLDS_VALUE (content) && json_node_get_value_type (content) == G_TYPE_STRING)
        {
          *n_chars += strlen (json_node_get_string (content));
          continue;
        }
      if (!JSON_NODE_HOLDS_ARRAY (content))
        return "Invalid type for 'messages[i].content'.";
      for (guint k = 0; k < json_array_get_length (json_node_get_array (content)); k++)
        {
          JsonNode *pn = json_array_get_element (json_node_get_array (content), k);
          JsonObject *part = JSON_NODE_HOLDS_OBJECT (pn) ? json_node_get_object (pn) : NULL;
          const char *type = part ? json_object_get_string_member_with_default (part, "type", NULL) : NULL;

          if (g_strcmp0 (type, "text") == 0 &&
              json_object_get_string_member_with_default (part, "text", NULL) != NULL)
            continue;
          if (g_strcmp0 (type, "image_url") == 0 && g_str_equal (role, "user"))
            {
              JsonObject *iu = json_object_get_object_member (part, "image_url");
              const char *url = iu ? json_object_get_string_member_with_default (iu, "url", NULL) : NULL;
              const char *comma;
              gsize len = 0;
              g_autofree guchar *raw = NULL;

              if (url == NULL || !g_str_has_prefix (url, "data:image/") ||
                  (comma = strstr (url, ";base64,")) == NULL)
                return "Invalid image_url: expected a base64 data URL.";
              raw = g_base64_decode (comma + 8, &len);
              /* A JPEG starts with FF D8. */
              if (len < 2 || raw[0] != 0xFF || raw[1] != 0xD8)
                return "Invalid image data.";
              *has_images = TRUE;
              continue;
            }
          return "Invalid content part in 'messages[i].content'.";
        }
    }
  return NULL;
}

static void
chat_cb (SoupServer        *soup,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  FakeChatServer *server = data;
  SoupMessageBody *req_body = soup_server_message_get_request_body (msg);
  const char *type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  const FakeChatScript *script;
  JsonObject *o;
  JsonNode *stream_node;
  const char *model_id;
  const char *problem;
  gboolean stream = FALSE;
  gboolean has_images = FALSE;
  guint n_chars = 0;
  Request *r;
  guint index;
  Model *model;
  Stream *s;

  r = g_new0 (Request, 1);
  r->delta_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->body = g_strndup (req_body->data, req_body->length);
  g_mutex_lock (&server->lock);
  index = server->requests->len;
  g_ptr_array_add (server->requests, r);
  script = script_for (server, index);
  g_mutex_unlock (&server->lock);

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error (msg, script->ollama, SOUP_STATUS_METHOD_NOT_ALLOWED, "invalid_request_error",
                   NULL, "Method not allowed.");
      goto out;
    }
  if (!check_auth (server, msg, script->ollama))
    goto out;
  if (g_strcmp0 (type, "application/json") != 0)
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "Invalid Content-Type header, expected application/json.");
      goto out;
    }
  if (!json_parser_load_from_data (parser, req_body->data, req_body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "We could not parse the JSON body of your request.");
      goto out;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  model_id = json_object_get_string_member_with_default (o, "model", NULL);
  if (model_id == NULL || *model_id == '\0')
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   script->ollama ? "model is required" : "you must provide a model parameter");
      goto out;
    }
  if ((problem = check_messages (json_object_get_member (o, "messages"), &has_images, &n_chars)) != NULL)
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL, problem);
      goto out;
    }
  stream_node = json_object_get_member (o, "stream");
  if (stream_node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (stream_node) || json_node_get_value_type (stream_node) != G_TYPE_BOOLEAN)
        {
          reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                       "Invalid type for 'stream': expected a boolean.");
          goto out;
        }
      stream = json_node_get_boolean (stream_node);
    }
  if (json_object_has_member (o, "stream_options") && !stream)
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
      goto out;
    }
  g_mutex_lock (&server->lock);
  model = find_model (server, model_id);
  g_mutex_unlock (&server->lock);
  if (model == NULL)
    {
      g_autofree char *m = script->ollama ?
        g_strdup_printf ("model \"%s\" not found, try pulling it first", model_id) :
        g_strdup_printf ("The model `%s` does not exist or you do not have access to it.", model_id);
      reply_error (msg, script->ollama, SOUP_STATUS_NOT_FOUND, "invalid_request_error",
                   "model_not_found", m);
      goto out;
    }
  if (has_images && !model->vision)
    {
      reply_error (msg, script->ollama, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "this model does not support image input");
      goto out;
    }
  if (script->mode == FAKE_CHAT_RAW)
    {
      g_mutex_lock (&server->lock);
      r->completed = TRUE;
      g_mutex_unlock (&server->lock);
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/event-stream", SOUP_MEMORY_COPY,
                                        script->raw, strlen (script->raw));
      goto out;
    }
  if (script->mode == FAKE_CHAT_HTTP_ERROR)
    {
      reply_error (msg, script->ollama, script->http_status ? script->http_status : 500,
                   script->http_status == 429 ? "rate_limit_exceeded" : "server_error",
                   NULL, script->error_message ? script->error_message : "Internal server error");
      goto out;
    }

  s = g_new0 (Stream, 1);
  s->server = server;
  s->msg = g_object_ref (msg);
  s->index = index;
  s->script = *script;
  s->model = g_strdup (model_id);
  s->prompt_tokens = n_chars / 4 + 1;
  if (script->reply != NULL)
    s->words = g_strsplit (script->reply, " ", -1);
  else
    {
      guint n = script->n_deltas ? script->n_deltas : 5;
      s->words = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        s->words[i] = g_strdup_printf ("w%u", i);
    }
  s->n_words = g_strv_length (s->words);
  {
    JsonObject *so = json_object_has_member (o, "stream_options") ?
                     json_object_get_object_member (o, "stream_options") : NULL;
    s->usage = so != NULL && json_object_get_boolean_member_with_default (so, "include_usage", FALSE);
  }
  g_ptr_array_add (server->streams, s);

  if (!stream || script->mode == FAKE_CHAT_JSON)
    {
      g_autofree char *text = g_strjoinv (" ", s->words);
      g_autofree char *json = g_strdup_printf (
        "{\"id\":\"chatcmpl-42\",\"object\":\"chat.completion\",\"created\":1733000000,"
        "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"%s\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%u,"
        "\"completion_tokens\":%u,\"total_tokens\":%u}}", model_id, text, s->prompt_tokens,
        s->n_words, s->prompt_tokens + s->n_words);
      g_mutex_lock (&server->lock);
      r->completed = TRUE;
      r->first_delta = g_get_monotonic_time ();
      g_mutex_unlock (&server->lock);
      reply_json (msg, SOUP_STATUS_OK, json);
      goto out;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (soup_server_message_get_response_headers (msg),
                                         "text/event-stream", NULL);
  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                     SOUP_ENCODING_CHUNKED);
  g_signal_connect (msg, "finished", G_CALLBACK (on_stream_finished), s);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), s);
  soup_server_message_pause (msg);
  stream_schedule (s, script->first_delay_ms);

out:
  g_mutex_lock (&server->lock);
  r->status = soup_server_message_get_status (msg);
  g_mutex_unlock (&server->lock);
}

static void
models_cb (SoupServer        *soup,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           data)
{
  FakeChatServer *server = data;
  GString *json;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      reply_error (msg, FALSE, SOUP_STATUS_METHOD_NOT_ALLOWED, "invalid_request_error", NULL,
                   "Method not allowed.");
      return;
    }
  if (!check_auth (server, msg, FALSE))
    return;
  json = g_string_new ("{\"object\":\"list\",\"data\":[");
  g_mutex_lock (&server->lock);
  for (guint i = 0; i < server->models->len; i++)
    {
      Model *m = g_ptr_array_index (server->models, i);
      g_string_append_printf (json, "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1733000000,"
                              "\"owned_by\":\"library\"}", i ? "," : "", m->id);
    }
  g_mutex_unlock (&server->lock);
  g_string_append (json, "]}");
  reply_json (msg, SOUP_STATUS_OK, json->str);
  g_string_free (json, TRUE);
}

/* --- Transcriptions ---------------------------------------------------------- */

static guint32
le32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint16
le16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static gboolean
parse_wav (const guint8 *data,
           gsize         len,
           GArray       *samples,
           guint        *rate)
{
  gsize off = 12;
  gboolean have_fmt = FALSE;

  if (len < 12 || memcmp (data, "RIFF", 4) != 0 || memcmp (data + 8, "WAVE", 4) != 0)
    return FALSE;
  while (off + 8 <= len)
    {
      guint32 size = le32 (data + off + 4);
      const guint8 *chunk = data + off + 8;

      if (size > len - off - 8)
        return FALSE;
      if (memcmp (data + off, "fmt ", 4) == 0)
        {
          if (size < 16 || le16 (chunk) != 1 ||       /* PCM */
              le16 (chunk + 2) != 1 ||              /* mono */
              le16 (chunk + 14) != 16)              /* 16 bit */
            return FALSE;
          *rate = le32 (chunk + 4);
          have_fmt = TRUE;
        }
      else if (memcmp (data + off, "data", 4) == 0)
        {
          if (!have_fmt || size % 2 != 0)
            return FALSE;
          for (gsize i = 0; i < size / 2; i++)
            {
              gint16 v = (gint16) le16 (chunk + 2 * i);
              g_array_append_val (samples, v);
            }
          return TRUE;
        }
      off += 8 + size + (size & 1);
    }
  return FALSE;
}

static void
transcriptions_cb (SoupServer        *soup,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           data)
{
  FakeChatServer *server = data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(SoupMultipart) multipart = NULL;
  Upload *u;
  gboolean have_file = FALSE;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error (msg, FALSE, SOUP_STATUS_METHOD_NOT_ALLOWED, "invalid_request_error", NULL,
                   "Method not allowed.");
      return;
    }
  if (!check_auth (server, msg, FALSE))
    return;
  bytes = soup_message_body_flatten (body);
  multipart = soup_multipart_new_from_message (soup_server_message_get_request_headers (msg), bytes);
  if (multipart == NULL)
    {
      reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "Invalid Content-Type header, expected multipart/form-data.");
      return;
    }
  u = g_new0 (Upload, 1);
  u->samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  u->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 0; i < soup_multipart_get_length (multipart); i++)
    {
      SoupMessageHeaders *headers;
      GBytes *part;
      g_autofree char *disposition = NULL;
      g_autoptr(GHashTable) params = NULL;
      const char *name;

      if (!soup_multipart_get_part (multipart, i, &headers, &part) ||
          !soup_message_headers_get_content_disposition (headers, &disposition, &params) ||
          g_strcmp0 (disposition, "form-data") != 0 ||
          (name = g_hash_table_lookup (params, "name")) == NULL)
        {
          upload_free (u);
          reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                       "Malformed multipart part.");
          return;
        }
      if (g_str_equal (name, "file"))
        {
          gsize len;
          const guint8 *audio = g_bytes_get_data (part, &len);

          if (g_hash_table_lookup (params, "filename") == NULL ||
              !parse_wav (audio, len, u->samples, &u->rate))
            {
              upload_free (u);
              reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                           "Invalid file format. Supported formats: flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm");
              return;
            }
          have_file = TRUE;
        }
      else
        g_hash_table_replace (u->fields, g_strdup (name),
                              g_strndup (g_bytes_get_data (part, NULL), g_bytes_get_size (part)));
    }
  if (!have_file || g_hash_table_lookup (u->fields, "model") == NULL)
    {
      upload_free (u);
      reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   have_file ? "you must provide a model parameter" : "'file' is a required property");
      return;
    }
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->uploads, u);
  {
    g_autofree char *json = g_strdup_printf ("{\"text\":\"%s\"}", server->transcript ? server->transcript : "");
    g_mutex_unlock (&server->lock);
    reply_json (msg, SOUP_STATUS_OK, json);
  }
}

/* --- Speech ---------------------------------------------------------------- */

static void
speech_cb (SoupServer        *soup,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           data)
{
  FakeChatServer *server = data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  const char *input;
  g_autofree gint16 *pcm = NULL;
  gsize n;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      reply_error (msg, FALSE, SOUP_STATUS_METHOD_NOT_ALLOWED, "invalid_request_error", NULL,
                   "Method not allowed.");
      return;
    }
  if (!check_auth (server, msg, FALSE))
    return;
  if (!json_parser_load_from_data (parser, body->data, body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "We could not parse the JSON body of your request.");
      return;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  input = json_object_get_string_member_with_default (o, "input", NULL);
  if (json_object_get_string_member_with_default (o, "model", NULL) == NULL ||
      json_object_get_string_member_with_default (o, "voice", NULL) == NULL ||
      input == NULL || *input == '\0')
    {
      reply_error (msg, FALSE, SOUP_STATUS_BAD_REQUEST, "invalid_request_error", NULL,
                   "'model', 'voice' and 'input' are required.");
      return;
    }
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->speech, g_strdup (input));
  g_mutex_unlock (&server->lock);
  /* 20 ms of 440 Hz per character, 24 kHz PCM16 as response_format pcm. */
  n = (gsize) g_utf8_strlen (input, -1) * 480;
  pcm = g_new (gint16, n);
  for (gsize i = 0; i < n; i++)
    pcm[i] = GINT16_TO_LE ((gint16) (8000 * sin (2 * G_PI * 440 * i / 24000.0)));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "audio/pcm", SOUP_MEMORY_COPY, (const char *) pcm, n * 2);
}

static void
default_cb (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           data)
{
  /* What Ollama's router answers for a path it does not know. */
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
                                    "404 page not found", strlen ("404 page not found"));
}

/* --- Lifetime -------------------------------------------------------------- */

static gpointer
server_thread (gpointer data)
{
  FakeChatServer *server = data;
  GSList *uris;

  g_main_context_push_thread_default (server->context);
  server->soup = soup_server_new ("server-header", "fake-chat", NULL);
  soup_server_add_handler (server->soup, NULL, default_cb, server, NULL);
  soup_server_add_handler (server->soup, "/v1/chat/completions", chat_cb, server, NULL);
  soup_server_add_handler (server->soup, "/v1/models", models_cb, server, NULL);
  soup_server_add_handler (server->soup, "/v1/audio/transcriptions", transcriptions_cb, server, NULL);
  soup_server_add_handler (server->soup, "/v1/audio/speech", speech_cb, server, NULL);
  g_assert_true (soup_server_listen_local (server->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
  uris = soup_server_get_uris (server->soup);
  g_mutex_lock (&server->lock);
  server->port = g_uri_get_port (uris->data);
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (server->loop);

  g_ptr_array_set_size (server->streams, 0);
  soup_server_disconnect (server->soup);
  g_clear_object (&server->soup);
  while (g_main_context_iteration (server->context, FALSE))
    ;
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

FakeChatServer *
fake_chat_server_new (void)
{
  FakeChatServer *server = g_new0 (FakeChatServer, 1);

  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->models = g_ptr_array_new_with_free_func ((GDestroyNotify) model_free);
  server->scripts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  server->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  server->uploads = g_ptr_array_new_with_free_func ((GDestroyNotify) upload_free);
  server->speech = g_ptr_array_new_with_free_func (g_free);
  server->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
  server->default_script.mode = FAKE_CHAT_STREAM;
  server->thread = g_thread_new ("fake-chat-server", server_thread, server);
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
fake_chat_server_free (FakeChatServer *server)
{
  g_main_context_invoke (server->context, quit_loop, server->loop);
  g_thread_join (server->thread);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_ptr_array_unref (server->streams);
  g_ptr_array_unref (server->models);
  g_hash_table_unref (server->scripts);
  g_ptr_array_unref (server->requests);
  g_ptr_array_unref (server->uploads);
  g_ptr_array_unref (server->speech);
  g_free (server->expected_key);
  g_free (server->transcript);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

char *
fake_chat_server_get_base_url (FakeChatServer *server)
{
  return g_strdup_printf ("http://127.0.0.1:%u/v1", server->port);
}

/* Scripts are read on the server thread at each request; set them
 * before the request is made. Strings must outlive the server. */
void
fake_chat_server_set_script (FakeChatServer       *server,
                             guint                 index,
                             const FakeChatScript *script)
{
  g_mutex_lock (&server->lock);
  g_hash_table_replace (server->scripts, GUINT_TO_POINTER (index), g_memdup2 (script, sizeof *script));
  g_mutex_unlock (&server->lock);
}

void
fake_chat_server_set_default_script (FakeChatServer       *server,
                                     const FakeChatScript *script)
{
  g_mutex_lock (&server->lock);
  server->default_script = *script;
  g_mutex_unlock (&server->lock);
}

void
fake_chat_server_add_model (FakeChatServer *server,
                            const char     *id,
                            gboolean        vision)
{
  Model *m = g_new0 (Model, 1);

  m->id = g_strdup (id);
  m->vision = vision;
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->models, m);
  g_mutex_unlock (&server->lock);
}

void
fake_chat_server_set_expected_key (FakeChatServer *server,
                                   const char     *key)
{
  g_mutex_lock (&server->lock);
  g_free (server->expected_key);
  server->expected_key = g_strdup (key);
  g_mutex_unlock (&server->lock);
}

void
fake_chat_server_set_transcript (FakeChatServer *server,
                                 const char     *text)
{
  g_mutex_lock (&server->lock);
  g_free (server->transcript);
  server->transcript = g_strdup (text);
  g_mutex_unlock (&server->lock);
}

guint
fake_chat_server_get_n_requests (FakeChatServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->requests->len;
  g_mutex_unlock (&server->lock);
  return n;
}

char *
fake_chat_server_dup_request (FakeChatServer *server,
                              guint           index)
{
  char *body = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    body = g_strdup (((Request *) g_ptr_array_index (server->requests, index))->body);
  g_mutex_unlock (&server->lock);
  return body;
}

guint
fake_chat_server_get_status (FakeChatServer *server,
                             guint           index)
{
  guint status = 0;

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    status = ((Request *) g_ptr_array_index (server->requests, index))->status;
  g_mutex_unlock (&server->lock);
  return status;
}

/* The client went away before the answer was complete. */
gboolean
fake_chat_server_was_aborted (FakeChatServer *server,
                              guint           index)
{
  gboolean aborted = FALSE;

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    aborted = ((Request *) g_ptr_array_index (server->requests, index))->aborted;
  g_mutex_unlock (&server->lock);
  return aborted;
}

gint64
fake_chat_server_get_first_delta_time (FakeChatServer *server,
                                       guint           index)
{
  gint64 t = 0;

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    t = ((Request *) g_ptr_array_index (server->requests, index))->first_delta;
  g_mutex_unlock (&server->lock);
  return t;
}

guint
fake_chat_server_get_n_transcriptions (FakeChatServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->uploads->len;
  g_mutex_unlock (&server->lock);
  return n;
}

GArray *
fake_chat_server_dup_transcription_audio (FakeChatServer *server,
                                          guint           index,
                                          guint          *rate)
{
  GArray *copy = g_array_new (FALSE, FALSE, sizeof (gint16));

  g_mutex_lock (&server->lock);
  if (index < server->uploads->len)
    {
      Upload *u = g_ptr_array_index (server->uploads, index);
      g_array_append_vals (copy, u->samples->data, u->samples->len);
      if (rate != NULL)
        *rate = u->rate;
    }
  g_mutex_unlock (&server->lock);
  return copy;
}

char *
fake_chat_server_dup_transcription_field (FakeChatServer *server,
                                          guint           index,
                                          const char     *name)
{
  char *value = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->uploads->len)
    value = g_strdup (g_hash_table_lookup (((Upload *) g_ptr_array_index (server->uploads, index))->fields, name));
  g_mutex_unlock (&server->lock);
  return value;
}

guint
fake_chat_server_get_n_speech (FakeChatServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->speech->len;
  g_mutex_unlock (&server->lock);
  return n;
}

char *
fake_chat_server_dup_speech_input (FakeChatServer *server,
                                   guint           index)
{
  char *text = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->speech->len)
    text = g_strdup (g_ptr_array_index (server->speech, index));
  g_mutex_unlock (&server->lock);
  return text;
}

/* When each content delta of request @index was handed to the socket. */
GArray *
fake_chat_server_dup_delta_times (FakeChatServer *server,
                                  guint           index)
{
  GArray *copy = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_mutex_lock (&server->lock);
  if (index < server->requests->len)
    {
      Request *r = g_ptr_array_index (server->requests, index);
      g_array_append_vals (copy, r->delta_times->data, r->delta_times->len);
    }
  g_mutex_unlock (&server->lock);
  return copy;
}
