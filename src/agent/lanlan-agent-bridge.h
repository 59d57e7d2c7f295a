/* lanlan-agent-bridge.h — ZeroMQ link to the local agent
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "lanlan-agent-event.h"
#include "lanlan-chat-message.h"

G_BEGIN_DECLS

#define LANLAN_AGENT_DEFAULT_PUB_PORT  48961
#define LANLAN_AGENT_DEFAULT_PULL_PORT 48962
#define LANLAN_AGENT_DEFAULT_PUSH_PORT 48963

typedef enum {
  LANLAN_AGENT_SOCKET_PUB,   /* session events, main -> agent */
  LANLAN_AGENT_SOCKET_PULL,  /* results, agent -> main */
  LANLAN_AGENT_SOCKET_PUSH,  /* analyze requests, main -> agent */
} LanlanAgentSocket;

#define LANLAN_TYPE_AGENT_BRIDGE (lanlan_agent_bridge_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAgentBridge, lanlan_agent_bridge, LANLAN, AGENT_BRIDGE, GObject)

/**
 * LanlanAgentEventFunc:
 * @bridge: the bridge
 * @event: the event; ref it to keep it
 * @user_data: as registered
 */
typedef void (*LanlanAgentEventFunc) (LanlanAgentBridge *bridge,
                                      LanlanAgentEvent *event,
                                      gpointer          user_data);

gboolean           lanlan_agent_endpoint_is_allowed      (const char         *endpoint,
                                                          GError            **error);

LanlanAgentBridge *lanlan_agent_bridge_new               (const char         *pub_endpoint,
                                                          const char         *pull_endpoint,
                                                          const char         *push_endpoint,
                                                          GError            **error);
LanlanAgentBridge *lanlan_agent_bridge_new_for_ports     (guint               pub_port,
                                                          guint               pull_port,
                                                          guint               push_port,
                                                          GError            **error);
char              *lanlan_agent_bridge_dup_endpoint      (LanlanAgentBridge  *self,
                                                          LanlanAgentSocket   socket);

guint              lanlan_agent_bridge_register_character (LanlanAgentBridge *self,
                                                           const char        *lanlan_name,
                                                           LanlanAgentEventFunc callback,
                                                           gpointer           user_data,
                                                           GDestroyNotify     destroy);
guint              lanlan_agent_bridge_watch_task        (LanlanAgentBridge  *self,
                                                          const char         *task_id,
                                                          LanlanAgentEventFunc callback,
                                                          gpointer            user_data,
                                                          GDestroyNotify      destroy);
void               lanlan_agent_bridge_unregister        (LanlanAgentBridge  *self,
                                                          guint               registration_id);

gboolean           lanlan_agent_bridge_publish           (LanlanAgentBridge  *self,
                                                          const char         *lanlan_name,
                                                          const char         *event_type,
                                                          JsonObject         *payload,
                                                          GError            **error);

void               lanlan_agent_bridge_analyze_async     (LanlanAgentBridge  *self,
                                                          const char         *lanlan_name,
                                                          const char         *trigger,
                                                          const char         *conversation_id,
                                                          GPtrArray          *messages,
                                                          GCancellable       *cancellable,
                                                          GAsyncReadyCallback callback,
                                                          gpointer            user_data);
char              *lanlan_agent_bridge_analyze_finish    (LanlanAgentBridge  *self,
                                                          GAsyncResult       *result,
                                                          GError            **error);

void               lanlan_agent_bridge_set_ack_timeout   (LanlanAgentBridge  *self,
                                                          guint               timeout_ms);
guint              lanlan_agent_bridge_get_ack_timeout   (LanlanAgentBridge  *self);
void               lanlan_agent_bridge_set_max_batch     (LanlanAgentBridge  *self,
                                                          guint               max_batch);

/**
 * LanlanAgentBridgeStats:
 * @n_received: messages read from the agent
 * @n_dispatched: events some window took
 * @n_malformed: messages refused by the parser
 * @n_unknown: messages of a type nobody knows
 * @n_unrouted: events dropped: no name where one is needed, or no name
 *   and several characters open
 * @n_stray_acks: acks for no pending request
 * @n_ignored: known types Lanlan does not act on (music_*, heartbeats)
 * @n_oversized: messages over %LANLAN_AGENT_MAX_MESSAGE_SIZE
 * @n_held: results kept for a character that was not open
 * @n_held_dropped: of those, dropped because too many waited
 * @n_publish_dropped: session events not sent: a subscriber was full
 * @n_analyze_dropped: analyze request sends refused: the agent was full
 * @n_subscriptions: subscription frames read
 * @n_subscribers_cut: subscribers disconnected for sending too many
 */
typedef struct {
  guint64 n_received;
  guint64 n_dispatched;
  guint64 n_malformed;
  guint64 n_unknown;
  guint64 n_unrouted;
  guint64 n_stray_acks;
  guint64 n_ignored;
  guint64 n_oversized;
  guint64 n_held;
  guint64 n_held_dropped;
  guint64 n_publish_dropped;
  guint64 n_analyze_dropped;
  guint64 n_subscriptions;
  guint64 n_subscribers_cut;
} LanlanAgentBridgeStats;

void               lanlan_agent_bridge_set_characters    (LanlanAgentBridge  *self,
                                                          GListModel         *characters);
void               lanlan_agent_bridge_get_stats         (LanlanAgentBridge  *self,
                                                          LanlanAgentBridgeStats *stats);

guint64            lanlan_agent_bridge_get_n_received    (LanlanAgentBridge  *self);
guint64            lanlan_agent_bridge_get_n_dispatched  (LanlanAgentBridge  *self);
guint64            lanlan_agent_bridge_get_n_malformed   (LanlanAgentBridge  *self);
guint64            lanlan_agent_bridge_get_n_unknown     (LanlanAgentBridge  *self);
guint64            lanlan_agent_bridge_get_n_unrouted    (LanlanAgentBridge  *self);
guint64            lanlan_agent_bridge_get_n_stray_acks  (LanlanAgentBridge  *self);

G_END_DECLS
