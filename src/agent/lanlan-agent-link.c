/* lanlan-agent-link.c — one character's session, joined to the agent bridge
 *
 * The link is what makes the agent part of a character's conversation:
 *  - session events go out on PUB: session_start, turn_end, session_end;
 *  - at each turn end the messages the agent has not seen yet go out as
 *    an analyze_request (trigger "turn_end"), and the rest at the end of
 *    the session ("session_end");
 *  - results for this character (task_result, proactive_message) are
 *    injected into its next LLM turn through the session manager (which
 *    sends them at once in text mode when idle, and at the next hot swap
 *    in voice mode), and everything worth showing is re-emitted as
 *    "notification" for the window.
 * It follows the character's name, which is how the agent addresses it.
 * Everything runs on the main context, where the bridge and the session
 * manager's signals live.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-agent-link.h"

struct _LanlanAgentLink
{
  GObject               parent_instance;

  LanlanAgentBridge    *bridge;
  LanlanSessionManager *session;
  LanlanCharacter      *character;
  char                 *name;
  guint                 registration;
  guint                 analyzed_upto;   /* messages already sent to the agent */
  guint                 n_analyzed;
  guint                 turn;
  gboolean              started;
  GCancellable         *cancellable;
};

G_DEFINE_FINAL_TYPE (LanlanAgentLink, lanlan_agent_link, G_TYPE_OBJECT)

enum {
  NOTIFICATION,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
publish (LanlanAgentLink *self,
         const char      *event_type,
         JsonObject      *payload)
{
  g_autoptr(GError) error = NULL;

  if (!lanlan_agent_bridge_publish (self->bridge, self->name, event_type, payload, &error))
    g_debug ("Agent: could not publish %s: %s", event_type, error->message);
}

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

static void
analyze (LanlanAgentLink *self,
         const char      *trigger)
{
  g_autoptr(GPtrArray) history = lanlan_session_manager_dup_history (self->session);
  g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  /* The history is bounded and may have dropped its oldest messages
   * since the last request; never resend, never index past the end. */
  if (self->analyzed_upto > history->len)
    self->analyzed_upto = history->len;
  for (guint i = self->analyzed_upto; i < history->len; i++)
    g_ptr_array_add (fresh, lanlan_chat_message_copy (g_ptr_array_index (history, i)));
  self->analyzed_upto = history->len;

  if (fresh->len == 0)
    return;

  self->n_analyzed++;
  lanlan_agent_bridge_analyze_async (self->bridge, self->name, trigger, fresh,
                                     self->cancellable, analyze_cb, NULL);
}

static void
on_turn_ended (LanlanSessionManager *session,
               LanlanAgentLink      *self)
{
  g_autoptr(JsonObject) payload = json_object_new ();

  json_object_set_int_member (payload, "turn", ++self->turn);
  publish (self, "turn_end", payload);
  analyze (self, "turn_end");
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
      analyze (self, "session_end");
    }
}

static void
on_agent_event (LanlanAgentBridge *bridge,
                LanlanAgentEvent  *event,
                gpointer           user_data)
{
  LanlanAgentLink *self = user_data;
  const char *inject = NULL;
  const char *show = NULL;
  gboolean is_error = FALSE;

  switch (event->kind)
    {
    case LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE:
      inject = show = event->text;
      break;

    case LANLAN_AGENT_EVENT_TASK_RESULT:
      if (event->has_success && !event->success)
        {
          is_error = TRUE;
          show = event->error_message ? event->error_message : _("An agent task failed");
        }
      else
        {
          inject = event->text ? event->text : event->summary;
          show = event->summary ? event->summary : event->text;
        }
      break;

    case LANLAN_AGENT_EVENT_NOTIFICATION:
      show = event->text ? event->text : event->summary;
      is_error = event->error_message != NULL && *event->error_message != '\0';
      if (show == NULL && is_error)
        show = event->error_message;
      break;

    case LANLAN_AGENT_EVENT_TASK_UPDATE:
    case LANLAN_AGENT_EVENT_STATUS_UPDATE:
    case LANLAN_AGENT_EVENT_ANALYZE_ACK:
    default:
      /* Progress chatter: not worth interrupting the user for. */
      break;
    }

  if (inject != NULL && *inject != '\0')
    lanlan_session_manager_inject_context (self->session, inject);

  if (show != NULL && *show != '\0')
    g_signal_emit (self, signals[NOTIFICATION], 0, show, is_error);
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

  g_clear_object (&self->session);
  g_clear_object (&self->character);
  g_clear_object (&self->bridge);
  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (lanlan_agent_link_parent_class)->dispose (object);
}

static void
lanlan_agent_link_class_init (LanlanAgentLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_agent_link_dispose;

  signals[NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
lanlan_agent_link_init (LanlanAgentLink *self)
{
  self->cancellable = g_cancellable_new ();
}

LanlanAgentLink *
lanlan_agent_link_new (LanlanAgentBridge    *bridge,
                       LanlanSessionManager *session)
{
  LanlanAgentLink *self;

  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (bridge), NULL);
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (session), NULL);

  self = g_object_new (LANLAN_TYPE_AGENT_LINK, NULL);
  self->bridge = g_object_ref (bridge);
  self->session = g_object_ref (session);
  self->character = g_object_ref (lanlan_session_manager_get_character (session));

  /* Messages from before the link (or before the agent was switched on)
   * are the user's past, not new material for the agent. */
  {
    g_autoptr(GPtrArray) history = lanlan_session_manager_dup_history (session);
    self->analyzed_upto = history->len;
  }
  self->started = lanlan_session_manager_get_state (session) == LANLAN_SESSION_STATE_CONNECTED ||
                  lanlan_session_manager_get_state (session) == LANLAN_SESSION_STATE_RESPONDING;

  g_signal_connect (session, "turn-ended", G_CALLBACK (on_turn_ended), self);
  g_signal_connect (session, "state-changed", G_CALLBACK (on_state_changed), self);
  g_signal_connect_swapped (self->character, "notify::name", G_CALLBACK (register_name), self);
  register_name (self);

  return self;
}

guint
lanlan_agent_link_get_n_analyzed (LanlanAgentLink *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_LINK (self), 0);
  return self->n_analyzed;
}
