/* lanlan-window.h — one character's conversation window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-character.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_ROLE_USER,
  LANLAN_ROLE_CHARACTER,
  LANLAN_ROLE_SYSTEM,
} LanlanRole;

#define LANLAN_TYPE_WINDOW (lanlan_window_get_type ())
G_DECLARE_FINAL_TYPE (LanlanWindow, lanlan_window, LANLAN, WINDOW, AdwApplicationWindow)

LanlanWindow    *lanlan_window_new             (GtkApplication  *application,
                                                LanlanCharacter *character);
LanlanCharacter *lanlan_window_get_character   (LanlanWindow    *self);
GtkWidget       *lanlan_window_append_message  (LanlanWindow    *self,
                                                LanlanRole       role,
                                                const char      *text);
gboolean         lanlan_window_get_microphone_active (LanlanWindow *self);
void             lanlan_window_show_toast      (LanlanWindow    *self,
                                                const char      *message);

G_END_DECLS
