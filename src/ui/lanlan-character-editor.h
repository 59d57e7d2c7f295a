/* lanlan-character-editor.h — the form that adds or edits one character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-character-store.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_CHARACTER_EDITOR (lanlan_character_editor_get_type ())
G_DECLARE_FINAL_TYPE (LanlanCharacterEditor, lanlan_character_editor, LANLAN, CHARACTER_EDITOR, GtkBox)

GtkWidget       *lanlan_character_editor_new           (LanlanCharacterStore  *store,
                                                        LanlanCharacter       *character);
LanlanCharacter *lanlan_character_editor_get_character (LanlanCharacterEditor *self);
gboolean         lanlan_character_editor_save          (LanlanCharacterEditor *self,
                                                        GError               **error);

G_END_DECLS
