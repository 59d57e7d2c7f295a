/* lanlan-chat-message.c — one line of a conversation
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-chat-message.h"

G_DEFINE_BOXED_TYPE (LanlanChatMessage, lanlan_chat_message,
                     lanlan_chat_message_copy, lanlan_chat_message_free)

LanlanChatMessage *
lanlan_chat_message_new (const char *role,
                         const char *content)
{
  LanlanChatMessage *self = g_new0 (LanlanChatMessage, 1);

  self->role = g_strdup (role ? role : "user");
  self->content = g_strdup (content ? content : "");
  return self;
}

LanlanChatMessage *
lanlan_chat_message_copy (const LanlanChatMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return lanlan_chat_message_new (self->role, self->content);
}

void
lanlan_chat_message_free (LanlanChatMessage *self)
{
  if (self == NULL)
    return;

  g_free (self->role);
  g_free (self->content);
  g_free (self);
}
