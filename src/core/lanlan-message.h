/* lanlan-message.h — one message of a conversation, with a stable id
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  LANLAN_MESSAGE_ROLE_USER,
  LANLAN_MESSAGE_ROLE_ASSISTANT,
  LANLAN_MESSAGE_ROLE_SYSTEM,
} LanlanMessageRole;

GType lanlan_message_role_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_MESSAGE_ROLE (lanlan_message_role_get_type ())

/**
 * LanlanMessageStatus:
 * @LANLAN_MESSAGE_STATUS_PENDING: a user message being sent, or an
 *   assistant reply still streaming
 * @LANLAN_MESSAGE_STATUS_SENT: complete: sent by the user, or finished
 *   by the character
 * @LANLAN_MESSAGE_STATUS_FAILED: a user message that could not be sent
 * @LANLAN_MESSAGE_STATUS_INTERRUPTED: a reply cut short by the user; its
 *   "heard" property holds what was played before the cut
 */
typedef enum {
  LANLAN_MESSAGE_STATUS_PENDING,
  LANLAN_MESSAGE_STATUS_SENT,
  LANLAN_MESSAGE_STATUS_FAILED,
  LANLAN_MESSAGE_STATUS_INTERRUPTED,
} LanlanMessageStatus;

GType lanlan_message_status_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_MESSAGE_STATUS (lanlan_message_status_get_type ())

#define LANLAN_TYPE_MESSAGE (lanlan_message_get_type ())
G_DECLARE_FINAL_TYPE (LanlanMessage, lanlan_message, LANLAN, MESSAGE, GObject)

LanlanMessage       *lanlan_message_new             (LanlanMessageRole    role,
                                                     const char          *text);
LanlanMessage       *lanlan_message_new_full        (const char          *id,
                                                     LanlanMessageRole    role,
                                                     const char          *text,
                                                     gint64               created,
                                                     gint64               ended,
                                                     LanlanMessageStatus  status);

const char          *lanlan_message_get_id          (LanlanMessage       *self);
LanlanMessageRole    lanlan_message_get_role        (LanlanMessage       *self);
const char          *lanlan_message_get_role_name   (LanlanMessage       *self);
const char          *lanlan_message_get_text        (LanlanMessage       *self);
void                 lanlan_message_set_text        (LanlanMessage       *self,
                                                     const char          *text);
void                 lanlan_message_append_text     (LanlanMessage       *self,
                                                     const char          *delta);
const char          *lanlan_message_get_translation (LanlanMessage       *self);
void                 lanlan_message_set_translation (LanlanMessage       *self,
                                                     const char          *translation);
const char          *lanlan_message_get_heard       (LanlanMessage       *self);
void                 lanlan_message_set_heard       (LanlanMessage       *self,
                                                     const char          *heard);
gint64               lanlan_message_get_created     (LanlanMessage       *self);
gint64               lanlan_message_get_ended       (LanlanMessage       *self);
GBytes              *lanlan_message_get_image       (LanlanMessage       *self);
void                 lanlan_message_set_image       (LanlanMessage       *self,
                                                     GBytes              *jpeg);
LanlanMessageStatus  lanlan_message_get_status      (LanlanMessage       *self);
void                 lanlan_message_set_status      (LanlanMessage       *self,
                                                     LanlanMessageStatus  status);

const char          *lanlan_message_role_to_string   (LanlanMessageRole   role);
gboolean             lanlan_message_role_from_string (const char         *name,
                                                      LanlanMessageRole  *role);

/* Properties: "id", "role", "text", "translation", "heard", "image" (a
 * JPEG the user showed with the message, or NULL), "created", "ended",
 * "status". Times are microseconds since the Unix epoch (UTC);
 * "ended" is 0 until the message is complete and is set when the status
 * leaves PENDING. Main thread only. */

G_END_DECLS
