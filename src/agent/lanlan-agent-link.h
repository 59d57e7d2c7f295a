/* lanlan-agent-link.h — one character's session, joined to the agent bridge
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-agent-bridge.h"
#include "lanlan-session-manager.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_AGENT_LINK (lanlan_agent_link_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAgentLink, lanlan_agent_link, LANLAN, AGENT_LINK, GObject)

LanlanAgentLink *lanlan_agent_link_new         (LanlanAgentBridge    *bridge,
                                                LanlanSessionManager *session);
guint            lanlan_agent_link_get_n_analyzed (LanlanAgentLink   *self);

/* Signals:
 *   "notification" (const char *text, gboolean is_error) — something the
 *     agent wants the user to see; the window shows it as a toast, or as
 *     a desktop notification when it is not focused.
 */

G_END_DECLS
