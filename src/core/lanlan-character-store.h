/* lanlan-character-store.h — the list of characters, saved as JSON
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-character.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_CHARACTER_STORE (lanlan_character_store_get_type ())
G_DECLARE_FINAL_TYPE (LanlanCharacterStore, lanlan_character_store, LANLAN, CHARACTER_STORE, GObject)

LanlanCharacterStore *lanlan_character_store_new           (GFile                *file);
LanlanCharacterStore *lanlan_character_store_new_default   (void);
GPtrArray            *lanlan_character_store_parse         (const char           *contents,
                                                            gsize                 length,
                                                            GError              **error);
GFile                *lanlan_character_store_get_file      (LanlanCharacterStore *self);
gboolean              lanlan_character_store_load          (LanlanCharacterStore *self,
                                                            GError              **error);
gboolean              lanlan_character_store_save          (LanlanCharacterStore *self,
                                                            GError              **error);
const char           *lanlan_character_store_get_load_error  (LanlanCharacterStore *self);
GFile                *lanlan_character_store_get_backup_file (LanlanCharacterStore *self);
const char           *lanlan_character_store_get_save_error  (LanlanCharacterStore *self);
gboolean              lanlan_character_store_get_write_blocked (LanlanCharacterStore *self);
gboolean              lanlan_character_store_replace_unreadable (LanlanCharacterStore *self,
                                                                 GError              **error);
void                  lanlan_character_store_add           (LanlanCharacterStore *self,
                                                            LanlanCharacter      *character);
gboolean              lanlan_character_store_remove        (LanlanCharacterStore *self,
                                                            LanlanCharacter      *character);
LanlanCharacter      *lanlan_character_store_lookup        (LanlanCharacterStore *self,
                                                            const char           *id);
LanlanCharacter      *lanlan_character_store_lookup_by_name (LanlanCharacterStore *self,
                                                             const char           *name);

G_END_DECLS
