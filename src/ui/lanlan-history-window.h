/* lanlan-history-window.h — a character's past conversations, and search
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-conversation.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_HISTORY_WINDOW (lanlan_history_window_get_type ())
G_DECLARE_FINAL_TYPE (LanlanHistoryWindow, lanlan_history_window, LANLAN, HISTORY_WINDOW, AdwWindow)

LanlanHistoryWindow *lanlan_history_window_new         (GtkWindow          *parent,
                                                        LanlanConversation *conversation);
void                 lanlan_history_window_show_search (LanlanHistoryWindow *self);

G_END_DECLS
