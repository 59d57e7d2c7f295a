/* lanlan-chat-message.h — one line of a conversation
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * LanlanChatMessage:
 * @role: "user", "assistant" or "system"
 * @content: the text
 *
 * Plain, immutable data shared between the session, the agent bridge and
 * the UI. Copy it to keep it.
 */
typedef struct {
  char *role;
  char *content;
} LanlanChatMessage;

#define LANLAN_TYPE_CHAT_MESSAGE (lanlan_chat_message_get_type ())
GType              lanlan_chat_message_get_type (void) G_GNUC_CONST;
LanlanChatMessage *lanlan_chat_message_new      (const char              *role,
                                                 const char              *content);
LanlanChatMessage *lanlan_chat_message_copy     (const LanlanChatMessage *self);
void               lanlan_chat_message_free     (LanlanChatMessage       *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanChatMessage, lanlan_chat_message_free)

G_END_DECLS
