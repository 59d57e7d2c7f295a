/* lanlan-summarizer.c — folds what fell out of a session's memory into a summary
 *
 * A session is primed with a summary plus the newest messages within a
 * budget (see lanlan-session-manager.c); the messages that fall out of
 * the budget ("history-overflow") come here with the previous summary,
 * and one non-streaming OpenAI-compatible chat completion turns them into
 * the new summary, which goes back to the session (set_summary()) and
 * into the store. N.E.K.O does the same with a short memo of the earlier
 * conversation in front of its recent messages.
 *
 * The request goes to the character's own provider: the endpoint and
 * chat model come from lanlan_provider_get_chat_endpoint(), the key from
 * the keyring (lanlan-secrets), looked up at each call so a changed key
 * is used at once. The input is bounded (each message and the whole
 * transcript; the newest win), and so are the answer read from the
 * network and the summary kept.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-chat-message.h"
#include "lanlan-json.h"
#include "lanlan-provider.h"
#include "lanlan-secrets.h"
#include "lanlan-summarizer.h"

#define MESSAGE_MAX_BYTES    4096           /* one message in the request */
#define TRANSCRIPT_MAX_BYTES (48 * 1024)    /* all of them */
#define ANSWER_MAX_BYTES     (1024 * 1024)  /* read from the network */
#define SUMMARY_MAX_BYTES    4096           /* kept */
#define TIMEOUT_SECONDS      60
#define READ_CHUNK           (64 * 1024)

G_DEFINE_QUARK (lanlan-summarizer-error-quark, lanlan_summarizer_error)

struct _LanlanSummarizer
{
  GObject          parent_instance;

  LanlanCharacter *character;
  SoupSession     *session;
};

G_DEFINE_FINAL_TYPE (LanlanSummarizer, lanlan_summarizer, G_TYPE_OBJECT)

typedef struct {
  char         *url;
  char         *model;
  char         *prompt;       /* the user message: old summary + transcript */
  char         *name;
  gboolean      key_required;
  const char   *provider_name;
  SoupMessage  *message;
  GInputStream *stream;
  GByteArray   *answer;
} Request;

static void
request_free (gpointer data)
{
  Request *r = data;

  g_free (r->url);
  g_free (r->model);
  g_free (r->prompt);
  g_free (r->name);
  g_clear_object (&r->message);
  g_clear_object (&r->stream);
  g_clear_pointer (&r->answer, g_byte_array_unref);
  g_free (r);
}

/* At most @max bytes of @text, cut at a character boundary. */
static char *
utf8_cut (const char *text,
          gsize       max)
{
  const char *end;

  if (strlen (text) <= max)
    return g_strdup (text);
  end = g_utf8_find_prev_char (text, text + max + 1);
  return g_strndup (text, end != NULL ? (gsize) (end - text) : 0);
}

static char *
build_prompt (const char *previous,
              GPtrArray  *messages,
              const char *name)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  GString *s = g_string_new (NULL);
  gsize total = 0;

  /* Newest first, so what does not fit is the oldest. */
  for (guint i = messages->len; i > 0; i--)
    {
      LanlanChatMessage *m = g_ptr_array_index (messages, i - 1);
      g_autofree char *content = utf8_cut (m->content ? m->content : "", MESSAGE_MAX_BYTES);
      const char *who = g_strcmp0 (m->role, "assistant") == 0 ? name
                        : g_strcmp0 (m->role, "user") == 0 ? "User" : "Context";
      char *line = g_strdup_printf ("%s: %s\n", who, content);

      if (total + strlen (line) > TRANSCRIPT_MAX_BYTES && lines->len > 0)
        {
          g_free (line);
          break;
        }
      total += strlen (line);
      g_ptr_array_add (lines, line);
    }

  g_string_append (s, "Previous summary:\n");
  g_string_append (s, previous != NULL && *previous != '\0' ? previous : "(none)");
  g_string_append (s, "\n\nNew messages:\n");
  for (guint i = lines->len; i > 0; i--)
    g_string_append (s, g_ptr_array_index (lines, i - 1));
  return g_string_free (s, FALSE);
}

static char *
build_instructions (const char *name)
{
  return g_strdup_printf (
    "You keep the memory of a long conversation between the user and %s. "
    "Merge the previous summary and the new messages into one updated summary "
    "of what matters to carry the conversation on: facts about the user, their "
    "wishes and plans, promises made, open questions, names, dates, and the mood "
    "between them. Leave out small talk and anything already settled. Write at "
    "most 200 words of plain sentences in the language of the conversation, "
    "without a title. Reply with the summary only.", name);
}

static void
return_http_error (GTask   *task,
                   Request *r,
                   guint    status)
{
  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_AUTH,
                             _("The service refused the API key (HTTP %u)"), status);
  else
    g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_HTTP,
                             _("The summary service answered HTTP %u"), status);
}

static void
finish_answer (GTask   *task,
               Request *r)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonArray *choices;
  JsonObject *choice;
  JsonObject *message;
  const char *content;
  g_autofree char *summary = NULL;
  guint status = soup_message_get_status (r->message);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      return_http_error (task, r, status);
      return;
    }

  parser = lanlan_json_parse ((const char *) r->answer->data, r->answer->len, &error);
  root = parser != NULL ? json_parser_get_root (parser) : NULL;
  object = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  choices = object != NULL && json_object_has_member (object, "choices") &&
            JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "choices"))
            ? json_object_get_array_member (object, "choices") : NULL;
  choice = choices != NULL && json_array_get_length (choices) > 0 &&
           JSON_NODE_HOLDS_OBJECT (json_array_get_element (choices, 0))
           ? json_array_get_object_element (choices, 0) : NULL;
  message = choice != NULL && json_object_has_member (choice, "message") &&
            JSON_NODE_HOLDS_OBJECT (json_object_get_member (choice, "message"))
            ? json_object_get_object_member (choice, "message") : NULL;
  content = message != NULL && json_object_has_member (message, "content") &&
            JSON_NODE_HOLDS_VALUE (json_object_get_member (message, "content")) &&
            json_node_get_value_type (json_object_get_member (message, "content")) == G_TYPE_STRING
            ? json_object_get_string_member (message, "content") : NULL;
  if (content != NULL)
    {
      summary = utf8_cut (content, SUMMARY_MAX_BYTES);
      g_strstrip (summary);
    }
  if (summary == NULL || *summary == '\0')
    {
      g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_BAD_RESPONSE,
                               _("The summary service sent an answer that is not a chat completion"));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&summary), g_free);
}

static void read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

/* Takes a reference on @task for the read. */
static void
read_next (GTask *task)
{
  Request *r = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (r->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), read_cb, g_object_ref (task));
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (chunk == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    {
      finish_answer (task, r);
      return;
    }
  if (r->answer->len + g_bytes_get_size (chunk) > ANSWER_MAX_BYTES)
    {
      guint status = soup_message_get_status (r->message);

      if (!SOUP_STATUS_IS_SUCCESSFUL (status))
        return_http_error (task, r, status);
      else
        g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_TOO_LARGE,
                                 _("The summary service answered with more than %u KiB"),
                                 ANSWER_MAX_BYTES / 1024);
      return;
    }
  g_byte_array_append (r->answer, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  read_next (task);
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  r->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (r->stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  r->answer = g_byte_array_new ();
  read_next (task);
}

static void
key_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanSummarizer *self = g_task_get_source_object (task);
  Request *r = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, &error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *instructions = build_instructions (r->name);
  GCancellable *cancellable;
  char *json;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (key == NULL && r->key_required)
    {
      if (error != NULL)
        g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG,
                                 _("The API key for %s could not be read from the keyring: %s"),
                                 r->provider_name, error->message);
      else
        g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG,
                                 _("No API key for %s is stored. Add one in Preferences."),
                                 r->provider_name);
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, r->model);
  json_builder_set_member_name (builder, "stream");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "temperature");
  json_builder_add_double_value (builder, 0.3);
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "role");
  json_builder_add_string_value (builder, "system");
  json_builder_set_member_name (builder, "content");
  json_builder_add_string_value (builder, instructions);
  json_builder_end_object (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "role");
  json_builder_add_string_value (builder, "user");
  json_builder_set_member_name (builder, "content");
  json_builder_add_string_value (builder, r->prompt);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  body = g_bytes_new_take (json, strlen (json));

  r->message = soup_message_new (SOUP_METHOD_POST, r->url);
  if (r->message == NULL)
    {
      g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG,
                               _("“%s” is not a WebSocket address (ws:// or wss://)"), r->url);
      return;
    }
  soup_message_set_request_body_from_bytes (r->message, "application/json", body);
  soup_message_headers_replace (soup_message_get_request_headers (r->message),
                                "Accept", "application/json");
  if (key != NULL && *key != '\0')
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", key);

      soup_message_headers_replace (soup_message_get_request_headers (r->message),
                                    "Authorization", auth);
      memset (auth, 0, strlen (auth));
    }
  if (key != NULL)
    memset (key, 0, strlen (key));

  cancellable = g_task_get_cancellable (task);
  soup_session_send_async (self->session, r->message, G_PRIORITY_DEFAULT,
                           cancellable, send_cb, g_steal_pointer (&task));
}

/**
 * lanlan_summarizer_summarize_async:
 * @previous_summary: (nullable): the summary so far
 * @messages: (element-type LanlanChatMessage): what fell out of the
 *   session's budget, oldest first ("history-overflow"); copied
 *
 * Asks the character's provider for a new summary covering
 * @previous_summary and @messages. Each message is cut to 4 KiB and the
 * transcript to 48 KiB, the newest kept; the summary to 4 KiB. Run one at
 * a time and pass the result of the last as @previous_summary.
 */
void
lanlan_summarizer_summarize_async (LanlanSummarizer    *self,
                                   const char          *previous_summary,
                                   GPtrArray           *messages,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  const LanlanProvider *provider;
  const char *name;
  Request *r;

  g_return_if_fail (LANLAN_IS_SUMMARIZER (self));
  g_return_if_fail (messages != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_summarizer_summarize_async);
  r = g_new0 (Request, 1);
  g_task_set_task_data (task, r, request_free);

  if (!lanlan_provider_get_chat_endpoint (self->character, &r->url, &r->model, &error))
    {
      g_task_return_new_error (task, LANLAN_SUMMARIZER_ERROR, LANLAN_SUMMARIZER_ERROR_CONFIG,
                               "%s", error->message);
      return;
    }
  {
    char *full = g_strconcat (r->url, "/chat/completions", NULL);
    g_free (r->url);
    r->url = full;
  }
  name = lanlan_character_get_name (self->character);
  r->name = g_strdup (name != NULL && *name != '\0' ? name : "Assistant");
  r->prompt = build_prompt (previous_summary, messages, r->name);

  provider = lanlan_provider_lookup (lanlan_character_get_provider (self->character));
  /* Custom servers may need no key; the services always do. */
  r->key_required = provider != NULL && provider->url != NULL;
  r->provider_name = provider != NULL ? provider->display_name : lanlan_character_get_provider (self->character);
  lanlan_secrets_lookup_async (provider != NULL ? provider->id : lanlan_character_get_provider (self->character),
                               cancellable, key_cb, g_steal_pointer (&task));
}

/**
 * lanlan_summarizer_summarize_finish:
 *
 * Returns: (transfer full): the new summary, or %NULL with @error set
 */
char *
lanlan_summarizer_summarize_finish (LanlanSummarizer  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
lanlan_summarizer_dispose (GObject *object)
{
  LanlanSummarizer *self = LANLAN_SUMMARIZER (object);

  g_clear_object (&self->character);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (lanlan_summarizer_parent_class)->dispose (object);
}

static void
lanlan_summarizer_class_init (LanlanSummarizerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lanlan_summarizer_dispose;
}

static void
lanlan_summarizer_init (LanlanSummarizer *self)
{
  self->session = soup_session_new_with_options ("timeout", TIMEOUT_SECONDS,
                                                 "idle-timeout", TIMEOUT_SECONDS, NULL);
}

/**
 * lanlan_summarizer_new:
 * @character: whose provider, model and key to use (read at each call)
 */
LanlanSummarizer *
lanlan_summarizer_new (LanlanCharacter *character)
{
  LanlanSummarizer *self;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);
  self = g_object_new (LANLAN_TYPE_SUMMARIZER, NULL);
  self->character = g_object_ref (character);
  return self;
}
