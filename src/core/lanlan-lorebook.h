/* lanlan-lorebook.h — a character's lorebook (world info) and its matcher
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  LANLAN_LOREBOOK_BEFORE_CHAR,
  LANLAN_LOREBOOK_AFTER_CHAR,
} LanlanLorebookPosition;

/* What SillyTavern uses when a book does not say. */
#define LANLAN_LOREBOOK_DEFAULT_SCAN_DEPTH   4
#define LANLAN_LOREBOOK_DEFAULT_TOKEN_BUDGET 1024
/* Caps on what a card may ask for, so a hostile card cannot make a turn slow. */
#define LANLAN_LOREBOOK_MAX_ENTRIES          4096
#define LANLAN_LOREBOOK_MAX_KEYS             256
#define LANLAN_LOREBOOK_MAX_RECURSION        3

#define LANLAN_TYPE_LOREBOOK (lanlan_lorebook_get_type ())
G_DECLARE_FINAL_TYPE (LanlanLorebook, lanlan_lorebook, LANLAN, LOREBOOK, GObject)

LanlanLorebook *lanlan_lorebook_new_from_json   (JsonObject      *book,
                                                 GError         **error);
JsonNode       *lanlan_lorebook_to_json         (LanlanLorebook  *self);
const char     *lanlan_lorebook_get_name        (LanlanLorebook  *self);
guint           lanlan_lorebook_get_n_entries   (LanlanLorebook  *self);
guint           lanlan_lorebook_get_scan_depth  (LanlanLorebook  *self);
guint           lanlan_lorebook_get_token_budget (LanlanLorebook *self);
const char     *lanlan_lorebook_get_entry_content (LanlanLorebook *self,
                                                   guint           index);
GArray         *lanlan_lorebook_match           (LanlanLorebook      *self,
                                                 const char * const  *recent,
                                                 gsize                n_recent);
char           *lanlan_lorebook_render          (LanlanLorebook         *self,
                                                 GArray                 *matched,
                                                 LanlanLorebookPosition  position);
guint           lanlan_lorebook_estimate_tokens (const char      *text);

G_END_DECLS
