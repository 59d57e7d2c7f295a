/* lanlan-agent-link.h — one character's conversation, joined to the agent bridge
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-session-manager.h"

G_BEGIN_DECLS

/**
 * LanlanAgentLinkStats:
 * @n_results: task results and proactive messages taken for this character
 * @n_injections: times the session was given agent results (each one may
 *   carry several results)
 * @n_coalesced: results that shared an injection with another one
 * @n_dropped: results left out because too many were waiting
 * @n_notifications: "notification" emissions
 * @n_notifications_merged: notifications folded into a later one
 *   ("… (+N more)") because they came faster than the notification rate
 * @n_direct_replies: "direct-reply" emissions
 * @n_direct_replies_dropped: direct replies left out because too many
 *   were waiting
 */
typedef struct {
  guint64 n_results;
  guint64 n_injections;
  guint64 n_coalesced;
  guint64 n_dropped;
  guint64 n_notifications;
  guint64 n_notifications_merged;
  guint64 n_direct_replies;
  guint64 n_direct_replies_dropped;
} LanlanAgentLinkStats;

#define LANLAN_TYPE_AGENT_LINK (lanlan_agent_link_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAgentLink, lanlan_agent_link, LANLAN, AGENT_LINK, GObject)

LanlanAgentLink *lanlan_agent_link_new                 (LanlanAgentBridge    *bridge,
                                                        LanlanSessionManager *session,
                                                        GListModel           *transcript);
void             lanlan_agent_link_set_conversation_id (LanlanAgentLink      *self,
                                                        const char           *conversation_id);
const char      *lanlan_agent_link_get_conversation_id (LanlanAgentLink      *self);
guint            lanlan_agent_link_get_n_analyzed      (LanlanAgentLink      *self);
void             lanlan_agent_link_get_stats           (LanlanAgentLink      *self,
                                                        LanlanAgentLinkStats *stats);

/* @transcript is the conversation as the user sees it: a GListModel of
 * LanlanMessage, oldest first. The link only reads it; messages are
 * addressed by their stable id.
 *
 * Signals (main context):
 *   "notification" (const char *text, gboolean is_error) — something the
 *     agent wants the user to see (toast, or a desktop notification when
 *     the window is not focused). Rate: a burst of 3, then at most one
 *     every 2 s; what comes faster is folded into the next one as
 *     "text (+N more)", so at most one notification is ever waiting.
 *   "direct-reply" (const char *text) — the agent asks that the character
 *     say @text word for word (N.E.K.O.'s direct_reply): the conversation
 *     adds it as the character's own message, shows and stores it; it is
 *     not given to the model to answer. Rate: a burst of 3, then one per
 *     second; at most 8 wait (the oldest go first). Without a handler the
 *     text is shown as a notification instead.
 */

G_END_DECLS
