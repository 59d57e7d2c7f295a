/* lanlan-window.h — a view of one character's conversation
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-character.h"
#include "lanlan-conversation.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_WINDOW (lanlan_window_get_type ())
G_DECLARE_FINAL_TYPE (LanlanWindow, lanlan_window, LANLAN, WINDOW, AdwApplicationWindow)

LanlanWindow       *lanlan_window_new              (GtkApplication     *application,
                                                    LanlanConversation *conversation);
LanlanConversation *lanlan_window_get_conversation (LanlanWindow       *self);
LanlanCharacter    *lanlan_window_get_character    (LanlanWindow       *self);
void                lanlan_window_show_toast       (LanlanWindow       *self,
                                                    const char         *message);
void                lanlan_window_show_error       (LanlanWindow       *self,
                                                    const char         *message);

G_END_DECLS
