/* lanlan-character.h — one AI character's settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "lanlan-lorebook.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_INPUT_MODE_AUDIO,
  LANLAN_INPUT_MODE_TEXT,
} LanlanInputMode;

GType lanlan_input_mode_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_INPUT_MODE (lanlan_input_mode_get_type ())

#define LANLAN_TYPE_CHARACTER (lanlan_character_get_type ())
G_DECLARE_FINAL_TYPE (LanlanCharacter, lanlan_character, LANLAN, CHARACTER, GObject)

LanlanCharacter *lanlan_character_new            (const char      *name);
LanlanCharacter *lanlan_character_new_from_json  (JsonObject      *object,
                                                  GError         **error);
JsonNode        *lanlan_character_to_json        (LanlanCharacter *self);
LanlanCharacter *lanlan_character_dup            (LanlanCharacter *self);

const char      *lanlan_character_get_id         (LanlanCharacter *self);
const char      *lanlan_character_get_name       (LanlanCharacter *self);
void             lanlan_character_set_name       (LanlanCharacter *self,
                                                  const char      *name);
const char      *lanlan_character_get_persona    (LanlanCharacter *self);
void             lanlan_character_set_persona    (LanlanCharacter *self,
                                                  const char      *persona);
const char      *lanlan_character_get_language   (LanlanCharacter *self);
void             lanlan_character_set_language   (LanlanCharacter *self,
                                                  const char      *language);
const char      *lanlan_character_get_voice      (LanlanCharacter *self);
void             lanlan_character_set_voice      (LanlanCharacter *self,
                                                  const char      *voice);
const char      *lanlan_character_get_provider   (LanlanCharacter *self);
void             lanlan_character_set_provider   (LanlanCharacter *self,
                                                  const char      *provider);
const char      *lanlan_character_get_model      (LanlanCharacter *self);
void             lanlan_character_set_model      (LanlanCharacter *self,
                                                  const char      *model);
const char      *lanlan_character_get_base_url   (LanlanCharacter *self);
void             lanlan_character_set_base_url   (LanlanCharacter *self,
                                                  const char      *base_url);
LanlanInputMode  lanlan_character_get_input_mode (LanlanCharacter *self);
void             lanlan_character_set_input_mode (LanlanCharacter *self,
                                                  LanlanInputMode  mode);
gboolean         lanlan_character_get_open_on_start (LanlanCharacter *self);
void             lanlan_character_set_open_on_start (LanlanCharacter *self,
                                                     gboolean         open);
guint64          lanlan_character_get_serial     (LanlanCharacter *self);

const char * const *lanlan_character_get_greetings (LanlanCharacter    *self);
void             lanlan_character_set_greetings  (LanlanCharacter    *self,
                                                  const char * const *greetings);
guint            lanlan_character_get_greeting_index (LanlanCharacter *self);
void             lanlan_character_set_greeting_index (LanlanCharacter *self,
                                                      guint            index);
const char      *lanlan_character_get_greeting   (LanlanCharacter *self);

LanlanLorebook  *lanlan_character_get_lorebook   (LanlanCharacter *self);
void             lanlan_character_set_lorebook   (LanlanCharacter *self,
                                                  LanlanLorebook  *lorebook);
char            *lanlan_character_compose_instructions (LanlanCharacter    *self,
                                                        const char * const *recent,
                                                        gsize               n_recent);

GFile           *lanlan_character_dup_avatar_file (LanlanCharacter *self);
GBytes          *lanlan_character_get_avatar     (LanlanCharacter *self);
void             lanlan_character_set_avatar     (LanlanCharacter *self,
                                                  GBytes          *png);
gboolean         lanlan_character_save_avatar    (LanlanCharacter *self,
                                                  GError         **error);
gboolean         lanlan_character_delete_avatar  (LanlanCharacter *self,
                                                  GError         **error);

G_END_DECLS
