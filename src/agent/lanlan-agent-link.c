/* lanlan-agent-link.c — one character's conversation, joined to the agent bridge
 *
 * The link is what makes the agent part of a character's conversation,
 * the way N.E.K.O.'s main server does it (cross_server.py, main_server.py,
 * core.py):
 *  - session events go out on PUB: session_start, turn_end, session_end;
 *  - at a turn end that follows a new user message, and at the end of the
 *    session, an analyze_request carries the last 6 user and assistant
 *    messages of the transcript and the conversation id. Messages are
 *    addressed by their stable id, never by list position: a request is
 *    due when the newest user message is not the one the last request
 *    ended with. (N.E.K.O.'s agent skips a request whose user text is the
 *    same as the previous one, so the window must slide with the
 *    conversation; a turn the agent's own result caused is not analyzed);
 *  - task results and proactive messages become one line each,
 *    "✅/⚠️/❌ summary" plus the detail when it says more, and are given
 *    to the session (core.py's trigger_agent_callbacks). Failed and
 *    partial results are injected too;
 *  - a direct_reply is not given to the model: its detail (or text)
 *    becomes the character's own message word for word ("direct-reply");
 *  - what is worth showing goes out as "notification".
 *
 * Floods: results are coalesced per character: at most one injection
 * every INJECT_INTERVAL_MS, carrying everything that came meanwhile (at
 * most MAX_PENDING_ITEMS lines and MAX_PENDING_BYTES; the oldest go
 * first, counted). Results wait while the session is not live and go
 * out when it connects. Notifications and direct replies have token
 * buckets (see the header), so what is queued for the window is bounded.
 *
 * It follows the character's name, which is how the agent addresses it.
 * Everything runs on the main context, where the bridge and the session
 * manager's signals live.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "lanlan-agent-link.h"
#include "lanlan-message.h"

#define ANALYZE_WINDOW          6
#define INJECT_INTERVAL_MS      2000
#define MAX_PENDING_ITEMS       16
#define MAX_PENDING_BYTES       (64 * 1024)
#define MAX_ITEM_BYTES          (16 * 1024)
#define NOTIFY_BURST            3
#define NOTIFY_INTERVAL_MS      2000
#define NOTIFY_MAX_BYTES        1024
#define REPLY_BURST             3
#define REPLY_INTERVAL_MS       1000
#define MAX_PENDING_REPLIES     8

/* A token bucket: @burst at once, then one per @interval_ms. */
typedef struct {
  guint   burst;
  guint   interval_ms;
  double  tokens;
  gint64  updated;
} Bucket;

static void
bucket_init (Bucket *b,
             guint   burst,
             guint   interval_ms)
{
  b->burst = burst;
  b->interval_ms = interval_ms;
  b->tokens = burst;
  b->updated = g_get_monotonic_time ();
}

static void
bucket_refill (Bucket *b)
{
  gint64 now = g_get_monotonic_time ();

  b->tokens = MIN ((double) b->burst,
                   b->tokens + (now - b->updated) / (b->interval_ms * 1000.0));
  b->updated = now;
}

static gboolean
bucket_take (Bucket *b)
{
  bucket_refill (b);
  if (b->tokens < 1.0)
    return FALSE;
  b->tokens -= 1.0;
  return TRUE;
}

/* Milliseconds until a token is there. */
static guint
bucket_wait_ms (Bucket *b)
{
  bucket_refill (b);
  if (b->tokens >= 1.0)
    return 0;
  return (guint) ((1.0 - b->tokens) * b->interval_ms) + 1;
}

struct _LanlanAgentLink
{
  GObject               parent_instance;

  LanlanAgentBridge    *bridge;
  LanlanSessionManager *session;
  GListModel           *transcript;
  LanlanCharacter      *character;
  char                 *name;
  char                 *conversation_id;
  guint                 registration;
  char                 *analyzed_user_id;  /* newest user message already sent */
  guint                 n_analyzed;
  guint                 turn;
  gboolean              started;
  GCancellable         *cancellable;
  GSource              *analyze_idle;

  /* Results waiting for the session. */
  GPtrArray            *pending;           /* char *, one line per result */
  gsize                 pending_bytes;
  guint                 omitted;
  gint64                last_inject;
  GSource              *inject_timer;

  /* Notifications: at most one waits. */
  Bucket                notify_bucket;
  char                 *held_text;
  gboolean              held_error;
  guint                 held_more;
  GSource              *notify_timer;

  /* Direct replies. */
  Bucket                reply_bucket;
  GQueue                replies;            /* char * */
  GSource              *reply_timer;

  LanlanAgentLinkStats  stats;
};

G_DEFINE_FINAL_TYPE (LanlanAgentLink, lanlan_agent_link, G_TYPE_OBJECT)

enum {
  NOTIFICATION,
  DIRECT_REPLY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void flush_pending (LanlanAgentLink *self);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
add_timeout (guint        ms,
             GSourceFunc  func,
             gpointer     data,
             const char  *name)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, NULL);
  return source;
}

static gboolean
session_is_live (LanlanAgentLink *self)
{
  LanlanSessionState state = lanlan_session_manager_get_state (self->session);

  return state == LANLAN_SESSION_STATE_CONNECTED || state == LANLAN_SESSION_STATE_RESPONDING;
}

static void
publish (LanlanAgentLink *self,
         const char      *event_type,
         JsonObject      *payload)
{
  g_autoptr(GError) error = NULL;

  if (!lanlan_agent_bridge_publish (self->bridge, self->name, event_type, payload, &error))
    g_debug ("Agent: could not publish %s: %s", event_type, error->message);
}

/* --- analyze requests --------------------------------------------------- */

static void
analyze_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *event_id = NULL;

  event_id = lanlan_agent_bridge_analyze_finish (LANLAN_AGENT_BRIDGE (source), result, &error);
  /* No agent listening is normal: the bridge is on, the agent is not. */
  if (event_id == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Agent: analyze request not taken: %s", error->message);
}

/* What the user saw of @message, or NULL when it is not a finished user
 * or assistant message with text. */
static const char *
message_content (LanlanMessage *message)
{
  LanlanMessageRole role = lanlan_message_get_role (message);
  LanlanMessageStatus status = lanlan_message_get_status (message);
  const char *text;

  if (role != LANLAN_MESSAGE_ROLE_USER && role != LANLAN_MESSAGE_ROLE_ASSISTANT)
    return NULL;

  if (status == LANLAN_MESSAGE_STATUS_SENT)
    text = lanlan_message_get_text (message);
  else if (status == LANLAN_MESSAGE_STATUS_INTERRUPTED)
    {
      text = lanlan_message_get_heard (message);
      if (text == NULL)
        text = lanlan_message_get_text (message);
    }
  else
    return NULL;

  if (text == NULL)
    return NULL;
  while (g_ascii_isspace (*text))
    text++;
  return *text != '\0' ? text : NULL;
}

/* The id of the newest finished user message, or NULL. */
static char *
dup_newest_user_id (LanlanAgentLink *self)
{
  guint n = g_list_model_get_n_items (self->transcript);

  for (guint i = n; i > 0; i--)
    {
      g_autoptr(LanlanMessage) m = g_list_model_get_item (self->transcript, i - 1);

      if (lanlan_message_get_role (m) == LANLAN_MESSAGE_ROLE_USER && message_content (m) != NULL)
        return g_strdup (lanlan_message_get_id (m));
    }
  return NULL;
}

static void
analyze (LanlanAgentLink *self,
         const char      *trigger)
{
  g_autoptr(GPtrArray) recent = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  g_autofree char *newest_user = dup_newest_user_id (self);
  guint n = g_list_model_get_n_items (self->transcript);
  guint taken = 0;

  /* Only a new user message makes a request: a turn of the character's
   * own (a proactive message, an agent result) has nothing to analyze. */
  if (newest_user == NULL || g_strcmp0 (newest_user, self->analyzed_user_id) == 0)
    return;

  /* The last ANALYZE_WINDOW finished messages, oldest first. */
  for (guint i = n; i > 0 && taken < ANALYZE_WINDOW; i--)
    {
      g_autoptr(LanlanMessage) m = g_list_model_get_item (self->transcript, i - 1);
      const char *content = message_content (m);

      if (content == NULL)
        continue;
      g_ptr_array_insert (recent, 0, lanlan_chat_message_new (lanlan_message_get_role_name (m), content));
      taken++;
    }

  g_free (self->analyzed_user_id);
  self->analyzed_user_id = g_steal_pointer (&newest_user);

  self->n_analyzed++;
  lanlan_agent_bridge_analyze_async (self->bridge, self->name, trigger,
                                          self->conversation_id, recent,
                                          self->cancellable, analyze_cb, NULL);
}

static gboolean
analyze_idle_cb (gpointer user_data)
{
  LanlanAgentLink *self = user_data;

  g_clear_pointer (&self->analyze_idle, g_source_unref);
  analyze (self, "turn_end");
  return G_SOURCE_REMOVE;
}

static void
on_turn_ended (LanlanSessionManager *session,
               LanlanAgentLink      *self)
{
  g_autoptr(JsonObject) payload = json_object_new ();

  json_object_set_int_member (payload, "turn", ++self->turn);
  publish (self, "turn_end", payload);

  /* The conversation finishes its messages on the same signals; read
   * the transcript once they have all run. */
  if (self->analyze_idle == NULL)
    {
      self->analyze_idle = g_idle_source_new ();
      g_source_set_priority (self->analyze_idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->analyze_idle, analyze_idle_cb, self, NULL);
      g_source_set_static_name (self->analyze_idle, "[lanlan] agent analyze");
      g_source_attach (self->analyze_idle, NULL);
    }
}

static void
on_state_changed (LanlanSessionManager *session,
                  LanlanSessionState    state,
                  LanlanAgentLink      *self)
{
  if (state == LANLAN_SESSION_STATE_CONNECTED && !self->started)
    {
      g_autoptr(JsonObject) payload = json_object_new ();

      self->started = TRUE;
      json_object_set_string_member (payload, "input_mode",
                                     lanlan_session_manager_get_input_mode (session) == LANLAN_INPUT_MODE_TEXT
                                     ? "text" : "audio");
      publish (self, "session_start", payload);
    }
  else if (state == LANLAN_SESSION_STATE_ENDED && self->started)
    {
      self->started = FALSE;
      publish (self, "session_end", NULL);
      clear_source (&self->analyze_idle);
      analyze (self, "session_end");
    }

  /* Results that waited for a live session. */
  if (session_is_live (self))
    flush_pending (self);
}

/* --- notifications ------------------------------------------------------ */

static void emit_held_notification (LanlanAgentLink *self);

static gboolean
notify_timer_cb (gpointer user_data)
{
  LanlanAgentLink *self = user_data;

  g_clear_pointer (&self->notify_timer, g_source_unref);
  emit_held_notification (self);
  return G_SOURCE_REMOVE;
}

static void
emit_held_notification (LanlanAgentLink *self)
{
  g_autofree char *text = NULL;

  if (self->held_text == NULL)
    return;

  if (!bucket_take (&self->notify_bucket))
    {
      if (self->notify_timer == NULL)
        self->notify_timer = add_timeout (bucket_wait_ms (&self->notify_bucket),
                                          notify_timer_cb, self, "[lanlan] agent notification");
      return;
    }

  if (self->held_more > 0)
    /* Translators: an agent notification, and how many more came with it */
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s (+%u more)", "%s (+%u more)", self->held_more),
                            self->held_text, self->held_more);
  else
    text = g_strdup (self->held_text);

  g_clear_pointer (&self->held_text, g_free);
  self->held_more = 0;
  self->stats.n_notifications++;
  g_signal_emit (self, signals[NOTIFICATION], 0, text, self->held_error);
  self->held_error = FALSE;
}

/* A notification is shortened to NOTIFY_MAX_BYTES (at a character
 * boundary); one that comes while another waits replaces it and is
 * counted in "(+N more)". */
static void
notify (LanlanAgentLink *self,
        const char      *text,
        gboolean         is_error)
{
  g_autofree char *shown = NULL;

  if (strlen (text) > NOTIFY_MAX_BYTES)
    {
      const char *end = g_utf8_find_prev_char (text, text + NOTIFY_MAX_BYTES);
      shown = g_strdup_printf ("%.*s…", (int) (end - text), text);
    }
  else
    shown = g_strdup (text);

  if (self->held_text != NULL)
    {
      self->held_more++;
      self->stats.n_notifications_merged++;
    }
  g_free (self->held_text);
  self->held_text = g_steal_pointer (&shown);
  self->held_error |= is_error;

  if (self->notify_timer == NULL)
    emit_held_notification (self);
}

/* --- direct replies ----------------------------------------------------- */

static void emit_replies (LanlanAgentLink *self);

static gboolean
reply_timer_cb (gpointer user_data)
{
  LanlanAgentLink *self = user_data;

  g_clear_pointer (&self->reply_timer, g_source_unref);
  emit_replies (self);
  return G_SOURCE_REMOVE;
}

static void
emit_replies (LanlanAgentLink *self)
{
  g_object_ref (self);
  while (!g_queue_is_empty (&self->replies) && self->reply_timer == NULL)
    {
      g_autofree char *text = NULL;

      if (!bucket_take (&self->reply_bucket))
        {
          self->reply_timer = add_timeout (bucket_wait_ms (&self->reply_bucket),
                                           reply_timer_cb, self, "[lanlan] agent direct reply");
          break;
        }

      text = g_queue_pop_head (&self->replies);
      self->stats.n_direct_replies++;
      if (g_signal_has_handler_pending (self, signals[DIRECT_REPLY], 0, FALSE))
        g_signal_emit (self, signals[DIRECT_REPLY], 0, text);
      else
        notify (self, text, FALSE);
    }
  g_object_unref (self);
}

static void
direct_reply (LanlanAgentLink *self,
              const char      *text)
{
  g_queue_push_tail (&self->replies, g_strdup (text));
  while (g_queue_get_length (&self->replies) > MAX_PENDING_REPLIES)
    {
      g_free (g_queue_pop_head (&self->replies));
      self->stats.n_direct_replies_dropped++;
      if (self->stats.n_direct_replies_dropped == 1)
        g_message ("Agent: direct replies for “%s” come faster than they can be said; "
                   "the oldest are left out (counted from now on)", self->name);
    }
  if (self->reply_timer == NULL)
    emit_replies (self);
}

/* --- injections --------------------------------------------------------- */

static gboolean
inject_timer_cb (gpointer user_data)
{
  LanlanAgentLink *self = user_data;

  g_clear_pointer (&self->inject_timer, g_source_unref);
  flush_pending (self);
  return G_SOURCE_REMOVE;
}

static void
flush_pending (LanlanAgentLink *self)
{
  g_autoptr(GString) text = NULL;
  gint64 now = g_get_monotonic_time ();
  gint64 due;

  if (self->pending->len == 0 || self->inject_timer != NULL || !session_is_live (self))
    return;

  due = self->last_inject + (gint64) INJECT_INTERVAL_MS * 1000;
  if (self->last_inject != 0 && now < due)
    {
      self->inject_timer = add_timeout ((guint) ((due - now) / 1000) + 1,
                                        inject_timer_cb, self, "[lanlan] agent injection");
      return;
    }

  /* Written for the model, which tells the user in the character's words. */
  text = g_string_new (NULL);
  g_string_append_printf (text,
                          "[System notice] The agent finished work for %s. "
                          "Tell the user about it in your own words:\n",
                          self->name);
  if (self->omitted > 0)
    g_string_append_printf (text, "(%u earlier agent messages were left out.)\n", self->omitted);
  for (guint i = 0; i < self->pending->len; i++)
    {
      if (i > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, g_ptr_array_index (self->pending, i));
    }

  self->stats.n_injections++;
  self->stats.n_coalesced += self->pending->len - 1;
  g_ptr_array_set_size (self->pending, 0);
  self->pending_bytes = 0;
  self->omitted = 0;
  self->last_inject = now;

  lanlan_session_manager_inject_context (self->session, text->str);
}

static char *
truncate_utf8 (const char *text,
               gsize       max_bytes)
{
  const char *end;

  if (strlen (text) <= max_bytes)
    return g_strdup (text);
  end = g_utf8_find_prev_char (text, text + max_bytes);
  return g_strdup_printf ("%.*s…", (int) (end - text), text);
}

static void
queue_result (LanlanAgentLink *self,
              const char      *line)
{
  char *item = truncate_utf8 (line, MAX_ITEM_BYTES);

  g_ptr_array_add (self->pending, item);
  self->pending_bytes += strlen (item);

  while (self->pending->len > 1 &&
         (self->pending->len > MAX_PENDING_ITEMS || self->pending_bytes > MAX_PENDING_BYTES))
    {
      self->pending_bytes -= strlen (g_ptr_array_index (self->pending, 0));
      g_ptr_array_remove_index (self->pending, 0);
      self->omitted++;
      if (self->stats.n_dropped++ == 0)
        g_message ("Agent: results for “%s” come faster than they can be given to the model; "
                   "the oldest waiting ones are left out (counted from now on)", self->name);
    }

  flush_pending (self);
}

static void
take_str (char **field,
          char  *value)
{
  g_free (*field);
  *field = value;
}

static char *
dup_stripped (const char *text)
{
  return text != NULL ? g_strstrip (g_strdup (text)) : g_strdup ("");
}

static void
on_result (LanlanAgentLink  *self,
           LanlanAgentEvent *event)
{
  g_autofree char *text = dup_stripped (event->text != NULL ? event->text : event->summary);
  g_autofree char *summary = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *line = NULL;
  const char *status;
  const char *tag;

  /* As N.E.K.O.: a result without text says nothing. */
  if (*text == '\0')
    return;

  self->stats.n_results++;

  if (event->direct_reply)
    {
      g_autofree char *reply = dup_stripped (event->detail);

      if (*reply == '\0')
        take_str (&reply, g_strdup (text));
      direct_reply (self, reply);
      return;
    }

  summary = dup_stripped (event->summary);
  if (*summary == '\0')
    take_str (&summary, g_strdup (text));
  detail = dup_stripped (event->detail);
  if (*detail == '\0')
    take_str (&detail, g_strdup (text));

  status = event->status;
  if (status == NULL || *status == '\0')
    status = (!event->has_success || event->success) ? "completed" : "failed";

  if (g_str_equal (status, "completed"))
    tag = "✅";
  else if (g_str_equal (status, "partial"))
    tag = "⚠️";
  else
    tag = "❌";

  if (strlen (detail) > strlen (summary) && !g_str_equal (detail, summary))
    line = g_strdup_printf ("%s %s\nDetails: %s", tag, summary, detail);
  else
    line = g_strdup_printf ("%s %s", tag, summary);

  queue_result (self, line);

  if (g_str_equal (status, "completed") || g_str_equal (status, "partial"))
    notify (self, text, FALSE);
  else if (event->error_message != NULL && *event->error_message != '\0')
    {
      g_autofree char *shown = g_strdup_printf ("%s — %s", text, event->error_message);
      notify (self, shown, TRUE);
    }
  else
    notify (self, text, TRUE);
}

static void
on_agent_event (LanlanAgentBridge *bridge,
                LanlanAgentEvent  *event,
                gpointer           user_data)
{
  LanlanAgentLink *self = user_data;

  switch (event->kind)
    {
    case LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE:
    case LANLAN_AGENT_EVENT_TASK_RESULT:
      on_result (self, event);
      break;

    case LANLAN_AGENT_EVENT_NOTIFICATION:
      {
        const char *show = event->text ? event->text : event->summary;
        gboolean is_error = (event->error_message != NULL && *event->error_message != '\0') ||
                            g_strcmp0 (event->status, "error") == 0 ||
                            g_strcmp0 (event->status, "failed") == 0;

        if (show == NULL && is_error)
          show = event->error_message;
        if (show != NULL && *show != '\0')
          notify (self, show, is_error);
      }
      break;

    case LANLAN_AGENT_EVENT_TASK_UPDATE:
    case LANLAN_AGENT_EVENT_STATUS_UPDATE:
    case LANLAN_AGENT_EVENT_ANALYZE_ACK:
    case LANLAN_AGENT_EVENT_OTHER:
    default:
      /* Progress chatter: not worth interrupting the user for. */
      break;
    }
}

static void
register_name (LanlanAgentLink *self)
{
  const char *name = lanlan_character_get_name (self->character);

  if (self->registration != 0 && g_strcmp0 (name, self->name) == 0)
    return;

  if (self->registration != 0)
    lanlan_agent_bridge_unregister (self->bridge, self->registration);

  g_free (self->name);
  self->name = g_strdup (name);
  self->registration = lanlan_agent_bridge_register_character (self->bridge, self->name,
                                                               on_agent_event, self, NULL);
}

static void
lanlan_agent_link_dispose (GObject *object)
{
  LanlanAgentLink *self = (LanlanAgentLink *)object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->bridge != NULL && self->registration != 0)
    lanlan_agent_bridge_unregister (self->bridge, self->registration);
  self->registration = 0;

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  if (self->character != NULL)
    g_signal_handlers_disconnect_by_data (self->character, self);

  clear_source (&self->analyze_idle);
  clear_source (&self->inject_timer);
  clear_source (&self->notify_timer);
  clear_source (&self->reply_timer);

  g_clear_object (&self->session);
  g_clear_object (&self->character);
  g_clear_object (&self->bridge);
  g_clear_object (&self->transcript);

  G_OBJECT_CLASS (lanlan_agent_link_parent_class)->dispose (object);
}

static void
lanlan_agent_link_finalize (GObject *object)
{
  LanlanAgentLink *self = (LanlanAgentLink *)object;

  g_ptr_array_unref (self->pending);
  g_queue_clear_full (&self->replies, g_free);
  g_free (self->held_text);
  g_free (self->name);
  g_free (self->conversation_id);
  g_free (self->analyzed_user_id);

  G_OBJECT_CLASS (lanlan_agent_link_parent_class)->finalize (object);
}

static void
lanlan_agent_link_class_init (LanlanAgentLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_agent_link_dispose;
  object_class->finalize = lanlan_agent_link_finalize;

  signals[NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);

  signals[DIRECT_REPLY] =
    g_signal_new ("direct-reply", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
lanlan_agent_link_init (LanlanAgentLink *self)
{
  self->cancellable = g_cancellable_new ();
  self->pending = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&self->replies);
  bucket_init (&self->notify_bucket, NOTIFY_BURST, NOTIFY_INTERVAL_MS);
  bucket_init (&self->reply_bucket, REPLY_BURST, REPLY_INTERVAL_MS);
}

/**
 * lanlan_agent_link_new:
 * @bridge: the agent bridge
 * @session: the character's session
 * @transcript: the conversation, a #GListModel of #LanlanMessage
 *
 * Returns: (transfer full): the link; it registers the character's name
 * with @bridge until it is disposed
 */
LanlanAgentLink *
lanlan_agent_link_new (LanlanAgentBridge    *bridge,
                       LanlanSessionManager *session,
                       GListModel           *transcript)
{
  LanlanAgentLink *self;

  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (bridge), NULL);
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (session), NULL);
  g_return_val_if_fail (G_IS_LIST_MODEL (transcript), NULL);
  g_return_val_if_fail (g_list_model_get_item_type (transcript) == LANLAN_TYPE_MESSAGE, NULL);

  self = g_object_new (LANLAN_TYPE_AGENT_LINK, NULL);
  self->bridge = g_object_ref (bridge);
  self->session = g_object_ref (session);
  self->transcript = g_object_ref (transcript);
  self->character = g_object_ref (lanlan_session_manager_get_character (session));

  /* Messages from before the link (or before the agent was switched on)
   * are the user's past, not new material for the agent. */
  self->analyzed_user_id = dup_newest_user_id (self);
  self->started = session_is_live (self);

  g_signal_connect (session, "turn-ended", G_CALLBACK (on_turn_ended), self);
  g_signal_connect (session, "state-changed", G_CALLBACK (on_state_changed), self);
  g_signal_connect_swapped (self->character, "notify::name", G_CALLBACK (register_name), self);
  register_name (self);

  return self;
}

/**
 * lanlan_agent_link_set_conversation_id:
 * @conversation_id: (nullable): the conversation the transcript shows
 *
 * Sent with every analyze request from now on.
 */
void
lanlan_agent_link_set_conversation_id (LanlanAgentLink *self,
                                       const char      *conversation_id)
{
  g_return_if_fail (LANLAN_IS_AGENT_LINK (self));

  if (g_strcmp0 (conversation_id, self->conversation_id) == 0)
    return;

  /* What was analyzed stays analyzed: a conversation made at its first
   * message must not lose that message. */
  g_free (self->conversation_id);
  self->conversation_id = g_strdup (conversation_id);
}

const char *
lanlan_agent_link_get_conversation_id (LanlanAgentLink *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_LINK (self), NULL);
  return self->conversation_id;
}

guint
lanlan_agent_link_get_n_analyzed (LanlanAgentLink *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_LINK (self), 0);
  return self->n_analyzed;
}

void
lanlan_agent_link_get_stats (LanlanAgentLink      *self,
                             LanlanAgentLinkStats *stats)
{
  g_return_if_fail (LANLAN_IS_AGENT_LINK (self));
  g_return_if_fail (stats != NULL);
  *stats = self->stats;
}
