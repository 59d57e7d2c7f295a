/* lanlan-character-card.h — import and export SillyTavern / Tavern character cards
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-character.h"
#include "lanlan-character-store.h"

G_BEGIN_DECLS

#define LANLAN_CHARACTER_CARD_ERROR (lanlan_character_card_error_quark ())

typedef enum {
  LANLAN_CHARACTER_CARD_ERROR_UNKNOWN_FORMAT,
  LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
  LANLAN_CHARACTER_CARD_ERROR_NO_CARD,
  LANLAN_CHARACTER_CARD_ERROR_BAD_ENCODING,
  LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
  LANLAN_CHARACTER_CARD_ERROR_UNSUPPORTED_SPEC,
  LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD,
  LANLAN_CHARACTER_CARD_ERROR_TOO_LARGE,
} LanlanCharacterCardError;

/* Cards larger than this are refused before they are parsed. */
#define LANLAN_CHARACTER_CARD_MAX_SIZE (32 * 1024 * 1024)

GQuark           lanlan_character_card_error_quark (void);
LanlanCharacter *lanlan_character_card_parse       (const guint8  *data,
                                                    gsize          len,
                                                    GError       **error);
LanlanCharacter *lanlan_character_card_load        (GFile         *file,
                                                    GCancellable  *cancellable,
                                                    GError       **error);
LanlanCharacter *lanlan_character_card_import      (LanlanCharacterStore *store,
                                                    GFile         *file,
                                                    GCancellable  *cancellable,
                                                    GError       **error);
GBytes          *lanlan_character_card_export_json (LanlanCharacter *character);
GBytes          *lanlan_character_card_export_png  (LanlanCharacter *character,
                                                    GBytes          *fallback_png,
                                                    GError         **error);

G_END_DECLS
