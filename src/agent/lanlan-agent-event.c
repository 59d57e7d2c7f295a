/* lanlan-agent-event.c — parse one message received from the agent
 *
 * The agent is another process, so everything it sends is untrusted
 * input: the parser takes raw bytes (so a fuzzer can call it directly),
 * checks UTF-8, size, JSON shape and the type of every field it reads, and
 * gives a GError naming what is wrong instead of guessing. The result is
 * an immutable, reference counted struct so it can be handed to several
 * windows without copies.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-agent-event.h"
#include "lanlan-json.h"

G_DEFINE_QUARK (lanlan-agent-error-quark, lanlan_agent_error)

G_DEFINE_BOXED_TYPE (LanlanAgentEvent, lanlan_agent_event,
                     lanlan_agent_event_ref, lanlan_agent_event_unref)

static const struct {
  const char           *name;
  LanlanAgentEventKind  kind;
} event_kinds[] = {
  { "task_result", LANLAN_AGENT_EVENT_TASK_RESULT },
  { "proactive_message", LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE },
  { "task_update", LANLAN_AGENT_EVENT_TASK_UPDATE },
  { "agent_status_update", LANLAN_AGENT_EVENT_STATUS_UPDATE },
  { "agent_notification", LANLAN_AGENT_EVENT_NOTIFICATION },
  { "analyze_ack", LANLAN_AGENT_EVENT_ANALYZE_ACK },
  /* Sent by N.E.K.O.'s agent and plugins; nothing for Lanlan to do. */
  { "agent_bridge_ready", LANLAN_AGENT_EVENT_OTHER },
  { "agent_bridge_heartbeat", LANLAN_AGENT_EVENT_OTHER },
};

/* Families of types plugins send for N.E.K.O.'s web UI. */
static const char * const other_prefixes[] = { "music_", };

static void
agent_event_clear (gpointer data)
{
  LanlanAgentEvent *self = data;

  g_free (self->event_id);
  g_free (self->lanlan_name);
  g_free (self->text);
  g_free (self->task_id);
  g_free (self->status);
  g_free (self->summary);
  g_free (self->detail);
  g_free (self->error_message);
  g_clear_pointer (&self->raw, json_object_unref);
}

LanlanAgentEvent *
lanlan_agent_event_ref (LanlanAgentEvent *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_atomic_rc_box_acquire (self);
}

void
lanlan_agent_event_unref (LanlanAgentEvent *self)
{
  if (self != NULL)
    g_atomic_rc_box_release_full (self, agent_event_clear);
}

/* Reads an optional string member. Absent and null give NULL. */
static gboolean
get_string (JsonObject  *object,
            const char  *name,
            char       **out,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    {
      *out = json_node_dup_string (node);
      return TRUE;
    }

  g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_INVALID_FIELD,
               "Field “%s” must be a string", name);
  return FALSE;
}

static gboolean
get_boolean (JsonObject  *object,
             const char  *name,
             gboolean    *present,
             gboolean    *out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = FALSE;
  if (present)
    *present = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *out = json_node_get_boolean (node);
      if (present)
        *present = TRUE;
      return TRUE;
    }

  g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_INVALID_FIELD,
               "Field “%s” must be a boolean", name);
  return FALSE;
}

/* task_id: agents use strings, some use integers. */
static gboolean
get_task_id (JsonObject  *object,
             char       **out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, "task_id");

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *out = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      return TRUE;
    }

  return get_string (object, "task_id", out, error);
}

/* detail: text, or any JSON value given back as JSON text. */
static gboolean
get_detail (JsonObject  *object,
            char       **out)
{
  JsonNode *node = json_object_get_member (object, "detail");

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    *out = json_node_dup_string (node);
  else
    *out = json_to_string (node, FALSE);

  return TRUE;
}


static void
empty_to_null (char **field)
{
  if (*field != NULL && **field == '\0')
    g_clear_pointer (field, g_free);
}

/**
 * lanlan_agent_event_parse:
 * @data: the message bytes, not necessarily nul-terminated
 * @len: their length
 * @error: where to put why the message was refused
 *
 * Returns: (transfer full): the event, or %NULL with @error set
 */
LanlanAgentEvent *
lanlan_agent_event_parse (const char  *data,
                          gsize        len,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(LanlanAgentEvent) event = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *event_type = NULL;
  JsonNode *root;
  JsonObject *object;
  gsize i;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0)
    {
      g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED,
                           "Empty message");
      return NULL;
    }

  if (len > LANLAN_AGENT_MAX_MESSAGE_SIZE)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED,
                   "Message of %" G_GSIZE_FORMAT " bytes is over the %d byte limit",
                   len, LANLAN_AGENT_MAX_MESSAGE_SIZE);
      return NULL;
    }

  /* Also refuses embedded nul bytes. */
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_INVALID_UTF8,
                           "Message is not valid UTF-8");
      return NULL;
    }

  /* Bounded nesting (json-glib recurses per level), UTF-8 error text. */
  parser = lanlan_json_parse (data, len, &local_error);
  if (parser == NULL)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED,
                   "Message is not valid JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED,
                           "Message is not a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);

  if (!get_string (object, "event_type", &event_type, error))
    return NULL;
  if (event_type == NULL)
    {
      g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MISSING_FIELD,
                           "Message has no “event_type”");
      return NULL;
    }

  event = g_atomic_rc_box_new0 (LanlanAgentEvent);
  event->event_type = NULL;
  for (i = 0; i < G_N_ELEMENTS (event_kinds); i++)
    {
      if (g_str_equal (event_kinds[i].name, event_type))
        {
          event->kind = event_kinds[i].kind;
          event->event_type = event_kinds[i].name;
          break;
        }
    }

  for (i = 0; event->event_type == NULL && i < G_N_ELEMENTS (other_prefixes); i++)
    {
      if (g_str_has_prefix (event_type, other_prefixes[i]))
        {
          event->kind = LANLAN_AGENT_EVENT_OTHER;
          /* Lives as long as event->raw. */
          event->event_type = json_object_get_string_member (object, "event_type");
        }
    }

  if (event->event_type == NULL)
    {
      /* Keep the message short: the type comes from the peer. */
      g_autofree char *shown = g_utf8_substring (event_type, 0,
                                                 MIN (g_utf8_strlen (event_type, -1), 64));
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_UNKNOWN_TYPE,
                   "Unknown event_type “%s”", shown);
      return NULL;
    }

  if (!get_string (object, "event_id", &event->event_id, error) ||
      !get_string (object, "lanlan_name", &event->lanlan_name, error) ||
      !get_string (object, "text", &event->text, error) ||
      !get_task_id (object, &event->task_id, error) ||
      !get_string (object, "status", &event->status, error) ||
      !get_boolean (object, "success", &event->has_success, &event->success, error) ||
      !get_string (object, "summary", &event->summary, error) ||
      !get_detail (object, &event->detail) ||
      !get_string (object, "error_message", &event->error_message, error) ||
      !get_boolean (object, "direct_reply", NULL, &event->direct_reply, error))
    return NULL;

  empty_to_null (&event->lanlan_name);
  empty_to_null (&event->event_id);
  empty_to_null (&event->task_id);

  switch (event->kind)
    {
    case LANLAN_AGENT_EVENT_ANALYZE_ACK:
      if (event->event_id == NULL)
        {
          g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MISSING_FIELD,
                               "analyze_ack has no “event_id”");
          return NULL;
        }
      break;

    /* A result with a null name is routed by the bridge, as N.E.K.O. does. */
    case LANLAN_AGENT_EVENT_TASK_RESULT:
    case LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE:
    case LANLAN_AGENT_EVENT_TASK_UPDATE:
    case LANLAN_AGENT_EVENT_OTHER:
    case LANLAN_AGENT_EVENT_STATUS_UPDATE:
    case LANLAN_AGENT_EVENT_NOTIFICATION:
    default:
      break;
    }

  event->raw = json_object_ref (object);
  return g_steal_pointer (&event);
}
