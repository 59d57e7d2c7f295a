/* lanlan-message-row.h — one message of the transcript, as a bubble
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "lanlan-character.h"
#include "lanlan-message.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_MESSAGE_ROW (lanlan_message_row_get_type ())
G_DECLARE_FINAL_TYPE (LanlanMessageRow, lanlan_message_row, LANLAN, MESSAGE_ROW, GtkWidget)

GtkWidget     *lanlan_message_row_new         (LanlanCharacter  *character);
LanlanMessage *lanlan_message_row_get_message (LanlanMessageRow *self);
void           lanlan_message_row_set_message (LanlanMessageRow *self,
                                               LanlanMessage    *message,
                                               const char       *character_name);

G_END_DECLS
