/* lanlan-message-cap.h — a size cap on whole incoming WebSocket messages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The largest message a realtime service may send us, fragments included. */
#define LANLAN_REALTIME_MAX_MESSAGE (16 * 1024 * 1024)

#define LANLAN_TYPE_MESSAGE_CAP (lanlan_message_cap_get_type ())
G_DECLARE_FINAL_TYPE (LanlanMessageCap, lanlan_message_cap, LANLAN, MESSAGE_CAP, SoupWebsocketExtension)

void lanlan_message_cap_prepare (SoupSession *session,
                                 SoupMessage *msg);
void lanlan_message_cap_apply   (SoupWebsocketConnection *ws);

G_END_DECLS
