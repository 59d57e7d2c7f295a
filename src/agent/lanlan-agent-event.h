/* lanlan-agent-event.h — one message received from the agent
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define LANLAN_AGENT_ERROR (lanlan_agent_error_quark ())
GQuark lanlan_agent_error_quark (void);

/**
 * LanlanAgentError:
 * @LANLAN_AGENT_ERROR_INVALID_UTF8: the message is not valid UTF-8
 * @LANLAN_AGENT_ERROR_MALFORMED: not JSON, or not a JSON object, or too big
 * @LANLAN_AGENT_ERROR_INVALID_FIELD: a field has the wrong type
 * @LANLAN_AGENT_ERROR_MISSING_FIELD: a required field is absent
 * @LANLAN_AGENT_ERROR_UNKNOWN_TYPE: the event_type is not one we know
 * @LANLAN_AGENT_ERROR_ENDPOINT: an endpoint is refused (not loopback)
 * @LANLAN_AGENT_ERROR_ZMQ: a ZeroMQ call failed
 * @LANLAN_AGENT_ERROR_NO_AGENT: the agent did not acknowledge a request
 */
typedef enum {
  LANLAN_AGENT_ERROR_INVALID_UTF8,
  LANLAN_AGENT_ERROR_MALFORMED,
  LANLAN_AGENT_ERROR_INVALID_FIELD,
  LANLAN_AGENT_ERROR_MISSING_FIELD,
  LANLAN_AGENT_ERROR_UNKNOWN_TYPE,
  LANLAN_AGENT_ERROR_ENDPOINT,
  LANLAN_AGENT_ERROR_ZMQ,
  LANLAN_AGENT_ERROR_NO_AGENT,
} LanlanAgentError;

typedef enum {
  LANLAN_AGENT_EVENT_TASK_RESULT,
  LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE,
  LANLAN_AGENT_EVENT_TASK_UPDATE,
  LANLAN_AGENT_EVENT_STATUS_UPDATE,
  LANLAN_AGENT_EVENT_NOTIFICATION,
  LANLAN_AGENT_EVENT_ANALYZE_ACK,
  LANLAN_AGENT_EVENT_OTHER,
} LanlanAgentEventKind;

/* Messages above this size are refused by the parser and by the socket. */
#define LANLAN_AGENT_MAX_MESSAGE_SIZE (1024 * 1024)
/* ...and so are messages nested deeper than LANLAN_JSON_MAX_DEPTH. */

/**
 * LanlanAgentEvent:
 * @kind: what the message is
 * @event_type: the wire name of @kind ("task_result", ...); for
 *   %LANLAN_AGENT_EVENT_OTHER, the type as sent (a type N.E.K.O.'s agent
 *   or its plugins send that Lanlan does not act on, e.g. "music_play_url")
 * @event_id: the analyze request this acknowledges, or %NULL
 * @lanlan_name: the character it is for, or %NULL when not named (the
 *   bridge then picks the only open character, see its routing rules)
 * @text: text to show or inject, or %NULL
 * @task_id: the agent's task, or %NULL
 * @status: free-form task or agent status, or %NULL
 * @has_success: whether @success was present
 * @success: whether the task succeeded
 * @summary: short result summary, or %NULL
 * @detail: longer detail (objects are given as JSON text), or %NULL
 * @error_message: why the task failed, or %NULL
 * @direct_reply: the agent asks that @text be said as is
 * @raw: the whole message, for fields not listed here
 *
 * Immutable and reference counted; lanlan_agent_event_ref() to keep it.
 */
typedef struct {
  LanlanAgentEventKind  kind;
  const char           *event_type;
  char                 *event_id;
  char                 *lanlan_name;
  char                 *text;
  char                 *task_id;
  char                 *status;
  gboolean              has_success;
  gboolean              success;
  char                 *summary;
  char                 *detail;
  char                 *error_message;
  gboolean              direct_reply;
  JsonObject           *raw;
} LanlanAgentEvent;

#define LANLAN_TYPE_AGENT_EVENT (lanlan_agent_event_get_type ())
GType             lanlan_agent_event_get_type (void) G_GNUC_CONST;
LanlanAgentEvent *lanlan_agent_event_parse    (const char       *data,
                                               gsize             len,
                                               GError          **error);
LanlanAgentEvent *lanlan_agent_event_ref      (LanlanAgentEvent *self);
void              lanlan_agent_event_unref    (LanlanAgentEvent *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanAgentEvent, lanlan_agent_event_unref)

G_END_DECLS
