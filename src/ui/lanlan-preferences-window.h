/* lanlan-preferences-window.h — characters and API keys
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-character-store.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_PREFERENCES_WINDOW (lanlan_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (LanlanPreferencesWindow, lanlan_preferences_window, LANLAN, PREFERENCES_WINDOW, AdwPreferencesWindow)

LanlanPreferencesWindow *lanlan_preferences_window_new            (GtkApplication          *application,
                                                                   LanlanCharacterStore    *store);
void                     lanlan_preferences_window_show_keys      (LanlanPreferencesWindow *self);
void                     lanlan_preferences_window_edit_character (LanlanPreferencesWindow *self,
                                                                   LanlanCharacter         *character);

G_END_DECLS
