/* lanlan-character-card.c — import SillyTavern / Tavern character cards
 *
 * Reads Character Card V2 ("chara_card_v2") and V3 ("chara_card_v3")
 * JSON, older V1 cards (plain name/description/... at the top level), and
 * PNG images carrying a card as base64 JSON in a tEXt chunk named "chara"
 * (V2) or "ccv3" (V3). The PNG is walked chunk by chunk with every CRC
 * checked; nothing is decoded beyond the text chunks. The result is a new,
 * unsaved LanlanCharacter whose persona is composed from the card's
 * system prompt, description, personality, scenario and example dialogue;
 * its greetings are first_mes then alternate_greetings; its lorebook is
 * the card's character_book; a PNG card's image, without the card chunks,
 * becomes its picture. Any problem gives a GError and no character, never
 * a partial one.
 *
 * Export writes a V3 card (JSON, or the character's picture with "ccv3"
 * and, for older readers, "chara" tEXt chunks), with Lanlan's own settings
 * (voice, language, provider, model) under extensions.lanlan.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "lanlan-character-card.h"
#include "lanlan-character-store.h"
#include "lanlan-json.h"

G_DEFINE_QUARK (lanlan-character-card-error-quark, lanlan_character_card_error)

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static guint32
crc32_update (guint32       crc,
              const guint8 *buf,
              gsize         len)
{
  static guint32 table[256];
  static gsize table_ready = 0;

  if (g_once_init_enter (&table_ready))
    {
      for (guint32 n = 0; n < 256; n++)
        {
          guint32 c = n;
          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[n] = c;
        }
      g_once_init_leave (&table_ready, 1);
    }

  for (gsize i = 0; i < len; i++)
    crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);

  return crc;
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

typedef gboolean (*PngChunkFunc) (const guint8 *type,
                                  const guint8 *body,
                                  guint32       length,
                                  const guint8 *chunk,
                                  gsize         chunk_len,
                                  gpointer      user_data);

static gboolean
is_card_chunk (const guint8 *type,
               const guint8 *body,
               guint32       length,
               const char  **keyword)
{
  if (memcmp (type, "tEXt", 4) != 0)
    return FALSE;
  if (length >= 6 && memcmp (body, "chara", 6) == 0)
    {
      *keyword = "chara";
      return TRUE;
    }
  if (length >= 5 && memcmp (body, "ccv3", 5) == 0)
    {
      *keyword = "ccv3";
      return TRUE;
    }
  return FALSE;
}

/* Walks a whole PNG, checking every chunk's length, type and CRC, that it
 * starts with IHDR and ends with IEND; calls @func for each chunk. */
static gboolean
png_walk (const guint8  *data,
          gsize          len,
          PngChunkFunc   func,
          gpointer       user_data,
          GError       **error)
{
  gsize pos = sizeof png_signature;
  gboolean first = TRUE;
  gboolean seen_end = FALSE;

  if (len < sizeof png_signature || memcmp (data, png_signature, sizeof png_signature) != 0)
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                           _("The picture is not a PNG image"));
      return FALSE;
    }

  while (!seen_end)
    {
      const guint8 *type;
      const guint8 *body;
      guint32 length, crc;

      if (len - pos < 12)
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                               _("The PNG image is truncated"));
          return FALSE;
        }

      length = read_be32 (data + pos);
      type = data + pos + 4;
      body = data + pos + 8;

      if (length > G_MAXINT32 || length > len - pos - 12)
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                               _("The PNG image is truncated or has a chunk of impossible size"));
          return FALSE;
        }

      for (int i = 0; i < 4; i++)
        if (!g_ascii_isalpha (type[i]))
          {
            g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                                 LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                                 _("The PNG image has a malformed chunk"));
            return FALSE;
          }

      crc = crc32_update (0xffffffffu, type, 4 + (gsize) length) ^ 0xffffffffu;
      if (crc != read_be32 (body + length))
        {
          g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                       LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                       _("The PNG image is damaged (checksum error in a “%.4s” chunk)"),
                       (const char *) type);
          return FALSE;
        }

      if (first && memcmp (type, "IHDR", 4) != 0)
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                               _("The PNG image does not start with a header chunk"));
          return FALSE;
        }
      first = FALSE;

      if (memcmp (type, "IEND", 4) == 0)
        seen_end = TRUE;

      if (func != NULL && !func (type, body, length, data + pos, 12 + (gsize) length, user_data))
        return TRUE;

      pos += 12 + (gsize) length;
    }

  return TRUE;
}

typedef struct {
  GBytes     *chara;
  GBytes     *ccv3;
  GByteArray *picture;   /* the image without card chunks */
} CardChunks;

static gboolean
collect_card_chunk (const guint8 *type,
                    const guint8 *body,
                    guint32       length,
                    const guint8 *chunk,
                    gsize         chunk_len,
                    gpointer      user_data)
{
  CardChunks *cc = user_data;
  const char *keyword;

  if (is_card_chunk (type, body, length, &keyword))
    {
      gsize key_len = strlen (keyword) + 1;
      GBytes **slot = g_str_equal (keyword, "chara") ? &cc->chara : &cc->ccv3;

      if (*slot == NULL)
        *slot = g_bytes_new (body + key_len, length - key_len);
    }
  else if (cc->picture != NULL)
    g_byte_array_append (cc->picture, chunk, chunk_len);

  return TRUE;
}

/* Returns the base64 text of the card chunk (ccv3 preferred over chara),
 * and in @picture the image with the card chunks taken out. */
static GBytes *
png_find_card_text (const guint8  *data,
                    gsize          len,
                    GBytes       **picture,
                    GError       **error)
{
  CardChunks cc = { NULL, NULL, g_byte_array_new () };

  g_byte_array_append (cc.picture, png_signature, sizeof png_signature);

  if (!png_walk (data, len, collect_card_chunk, &cc, error))
    {
      g_clear_pointer (&cc.chara, g_bytes_unref);
      g_clear_pointer (&cc.ccv3, g_bytes_unref);
      g_byte_array_unref (cc.picture);
      return NULL;
    }

  *picture = g_byte_array_free_to_bytes (cc.picture);

  if (cc.ccv3 != NULL)
    {
      g_clear_pointer (&cc.chara, g_bytes_unref);
      return cc.ccv3;
    }
  if (cc.chara != NULL)
    return cc.chara;

  g_clear_pointer (picture, g_bytes_unref);
  g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                       LANLAN_CHARACTER_CARD_ERROR_NO_CARD,
                       _("The PNG image holds no character card"));
  return NULL;
}

static GBytes *
decode_base64_strict (GBytes  *text,
                      GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (text, &len);
  g_autoptr(GString) clean = g_string_sized_new (len + 4);
  guchar *decoded;
  gsize out_len = 0;
  gsize padding = 0;

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = p[i];

      if (g_ascii_isspace (c))
        continue;
      if (c == '=')
        {
          padding++;
          g_string_append_c (clean, c);
          continue;
        }
      if (padding > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_ENCODING,
                               _("The character card in the image is not valid base64"));
          return NULL;
        }
      g_string_append_c (clean, c);
    }

  if (clean->len == 0 || padding > 2)
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_BAD_ENCODING,
                           _("The character card in the image is not valid base64"));
      return NULL;
    }

  while (clean->len % 4 != 0)
    g_string_append_c (clean, '=');

  decoded = g_base64_decode (clean->str, &out_len);
  return g_bytes_new_take (decoded, out_len);
}

static gboolean
get_text_member (JsonObject  *object,
                 const char  *member,
                 const char **out,
                 GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                   LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
                   _("The card’s “%s” field must be text"), member);
      return FALSE;
    }

  *out = json_node_get_string (node);
  return TRUE;
}

typedef struct {
  const char *name;
  const char *user;
} MacroData;

static gboolean
expand_macro (const GMatchInfo *info,
              GString          *result,
              gpointer          user_data)
{
  MacroData *data = user_data;
  g_autofree char *macro = g_match_info_fetch (info, 1);
  g_autofree char *lower = g_ascii_strdown (macro, -1);

  if (g_str_equal (lower, "char"))
    g_string_append (result, data->name);
  else if (g_str_equal (lower, "user"))
    g_string_append (result, data->user);
  /* {{original}} stands for the app's own prompt, which Lanlan does not have. */

  return FALSE;
}

static void
append_section (GString    *persona,
                GRegex     *macros,
                MacroData  *macro_data,
                const char *heading,
                const char *text)
{
  g_autofree char *expanded = NULL;
  g_autofree char *stripped = NULL;

  if (text == NULL)
    return;

  expanded = g_regex_replace_eval (macros, text, -1, 0, 0, expand_macro, macro_data, NULL);
  if (expanded == NULL)
    return;

  stripped = g_strstrip (g_strdup (expanded));
  if (*stripped == '\0')
    return;

  if (persona->len > 0)
    g_string_append (persona, "\n\n");
  if (heading != NULL)
    g_string_append_printf (persona, "%s: ", heading);
  g_string_append (persona, stripped);
}

static void
add_greeting (GStrvBuilder *greetings,
              GRegex       *macros,
              MacroData    *macro_data,
              const char   *text)
{
  g_autofree char *expanded = NULL;

  if (text == NULL)
    return;

  expanded = g_regex_replace_eval (macros, text, -1, 0, 0, expand_macro, macro_data, NULL);
  if (expanded != NULL && *g_strstrip (expanded) != '\0')
    g_strv_builder_add (greetings, expanded);
}

/* What Lanlan itself wrote into a card it exported: voice, language, model. */
static void
apply_lanlan_extension (LanlanCharacter *character,
                        JsonObject      *card)
{
  static const char * const members[] = { "language", "voice", "provider", "model" };
  JsonNode *node = json_object_get_member (card, "extensions");
  JsonObject *lanlan;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  node = json_object_get_member (json_node_get_object (node), "lanlan");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  lanlan = json_node_get_object (node);

  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      JsonNode *value = json_object_get_member (lanlan, members[i]);

      if (value != NULL && JSON_NODE_HOLDS_VALUE (value) &&
          json_node_get_value_type (value) == G_TYPE_STRING &&
          g_utf8_strlen (json_node_get_string (value), -1) < 256)
        g_object_set (character, members[i], json_node_get_string (value), NULL);
    }
}

static LanlanCharacter *
character_from_json (const char  *json,
                     gsize        len,
                     GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GRegex) macros = NULL;
  g_autoptr(GString) persona = NULL;
  g_autofree char *name = NULL;
  LanlanCharacter *character;
  JsonObject *root;
  JsonObject *card;
  JsonNode *node;
  MacroData macro_data;
  const char *spec = NULL;
  const char *raw_name, *description, *personality, *scenario, *system_prompt, *first_mes;
  const char *mes_example;
  g_autoptr(GStrvBuilder) greetings = g_strv_builder_new ();
  g_auto(GStrv) greeting_list = NULL;
  g_autoptr(LanlanLorebook) lorebook = NULL;

  if (!g_utf8_validate (json, len, NULL))
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
                           _("The character card is not valid UTF-8 text"));
      return NULL;
    }

  parser = lanlan_json_parse (json, len, &local_error);
  if (parser == NULL)
    {
      g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                   LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
                   _("The character card is not valid JSON: %s"), local_error->message);
      return NULL;
    }

  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
                           _("The character card is not a JSON object"));
      return NULL;
    }

  root = json_node_get_object (node);
  if (!get_text_member (root, "spec", &spec, error))
    return NULL;

  if (spec == NULL)
    {
      /* V1: the fields are at the top level. */
      if (!json_object_has_member (root, "name"))
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_UNSUPPORTED_SPEC,
                               _("This is not a character card (no “spec” and no “name”)"));
          return NULL;
        }
      card = root;
    }
  else if (g_str_equal (spec, "chara_card_v2") || g_str_equal (spec, "chara_card_v3"))
    {
      node = json_object_get_member (root, "data");
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD,
                               _("The character card has no “data” object"));
          return NULL;
        }
      card = json_node_get_object (node);
    }
  else
    {
      g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                   LANLAN_CHARACTER_CARD_ERROR_UNSUPPORTED_SPEC,
                   _("Unsupported character card format “%s”"), spec);
      return NULL;
    }

  if (!get_text_member (card, "name", &raw_name, error) ||
      !get_text_member (card, "description", &description, error) ||
      !get_text_member (card, "personality", &personality, error) ||
      !get_text_member (card, "scenario", &scenario, error) ||
      !get_text_member (card, "system_prompt", &system_prompt, error) ||
      !get_text_member (card, "first_mes", &first_mes, error) ||
      !get_text_member (card, "mes_example", &mes_example, error))
    return NULL;

  name = g_strstrip (g_strdup (raw_name ? raw_name : ""));
  if (*name == '\0')
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD,
                           _("The character card has no name"));
      return NULL;
    }

  macros = g_regex_new ("\\{\\{\\s*(char|user|original)\\s*\\}\\}", G_REGEX_CASELESS, 0, NULL);
  g_assert (macros != NULL);
  macro_data.name = name;
  macro_data.user = "the user";

  /* The persona goes to the model, so its headings stay in English. */
  persona = g_string_new (NULL);
  append_section (persona, macros, &macro_data, NULL, system_prompt);
  append_section (persona, macros, &macro_data, NULL, description);
  append_section (persona, macros, &macro_data, "Personality", personality);
  append_section (persona, macros, &macro_data, "Scenario", scenario);
  append_section (persona, macros, &macro_data, "Examples of how you talk", mes_example);

  /* The greeting opens a new conversation; the alternatives are offered in
   * the editor. {{user}} is the person reading it. */
  macro_data.user = "you";
  add_greeting (greetings, macros, &macro_data, first_mes);
  node = json_object_get_member (card, "alternate_greetings");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING)
            add_greeting (greetings, macros, &macro_data, json_node_get_string (item));
        }
    }
  greeting_list = g_strv_builder_end (greetings);

  node = json_object_get_member (card, "character_book");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      lorebook = lanlan_lorebook_new_from_json (json_node_get_object (node), &local_error);
      if (lorebook == NULL)
        {
          g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                       LANLAN_CHARACTER_CARD_ERROR_BAD_JSON,
                       _("The character card’s lorebook is damaged: %s"), local_error->message);
          return NULL;
        }
      if (lanlan_lorebook_get_n_entries (lorebook) == 0)
        g_clear_object (&lorebook);
    }

  character = lanlan_character_new (name);
  /* Its window opens now; at every start only if the user asks for it. */
  lanlan_character_set_open_on_start (character, FALSE);
  lanlan_character_set_persona (character, persona->str);
  lanlan_character_set_greetings (character, (const char * const *) greeting_list);
  lanlan_character_set_lorebook (character, lorebook);
  apply_lanlan_extension (character, card);
  return character;
}

/**
 * lanlan_character_card_parse:
 * @data: the file contents: JSON or PNG
 * @len: length of @data
 *
 * Returns: (transfer full): a new character that is not in any store yet,
 *   or %NULL with @error set.
 */
LanlanCharacter *
lanlan_character_card_parse (const guint8  *data,
                             gsize          len,
                             GError       **error)
{
  gsize i = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > LANLAN_CHARACTER_CARD_MAX_SIZE)
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_TOO_LARGE,
                           _("The file is too large to be a character card"));
      return NULL;
    }

  if (len >= sizeof png_signature && memcmp (data, png_signature, sizeof png_signature) == 0)
    {
      g_autoptr(GBytes) text = NULL;
      g_autoptr(GBytes) json = NULL;
      g_autoptr(GBytes) picture = NULL;
      LanlanCharacter *character;
      gsize json_len;
      const char *json_data;

      if (!(text = png_find_card_text (data, len, &picture, error)))
        return NULL;
      if (!(json = decode_base64_strict (text, error)))
        return NULL;

      json_data = g_bytes_get_data (json, &json_len);
      character = character_from_json (json_data ? json_data : "", json_len, error);
      if (character != NULL)
        lanlan_character_set_avatar (character, picture);
      return character;
    }

  /* Skip a UTF-8 byte order mark and leading blanks. */
  if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf)
    i = 3;
  while (i < len && g_ascii_isspace (data[i]))
    i++;

  if (i < len && data[i] == '{')
    return character_from_json ((const char *) data + i, len - i, error);

  g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                       LANLAN_CHARACTER_CARD_ERROR_UNKNOWN_FORMAT,
                       _("The file is neither a JSON character card nor a PNG image"));
  return NULL;
}

/**
 * lanlan_character_card_load:
 *
 * Reads @file and parses it with lanlan_character_card_parse(). Error
 * messages name the file.
 */
LanlanCharacter *
lanlan_character_card_load (GFile         *file,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *basename = NULL;
  LanlanCharacter *character;
  gsize len = 0;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  basename = g_file_get_basename (file);
  if (!g_file_load_contents (file, cancellable, &contents, &len, NULL, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  _("Could not import “%s”: "), basename);
      return NULL;
    }

  character = lanlan_character_card_parse ((const guint8 *) contents, len, &local_error);
  if (character == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                _("Could not import “%s”: "), basename);
  return character;
}

/**
 * lanlan_character_card_import:
 *
 * Loads a card with lanlan_character_card_load(), adds the character to
 * @store and saves its picture. On error nothing is added.
 *
 * Returns: (transfer full): the new character
 */
LanlanCharacter *
lanlan_character_card_import (LanlanCharacterStore  *store,
                              GFile                 *file,
                              GCancellable          *cancellable,
                              GError               **error)
{
  g_autoptr(LanlanCharacter) character = NULL;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (store), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  character = lanlan_character_card_load (file, cancellable, error);
  if (character == NULL)
    return NULL;

  if (!lanlan_character_save_avatar (character, error))
    return NULL;

  lanlan_character_store_add (store, character);
  return g_steal_pointer (&character);
}

static void
add_string (JsonBuilder *b,
            const char  *member,
            const char  *value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, value ? value : "");
}

static JsonNode *
build_card (LanlanCharacter *character,
            gboolean         v3,
            gboolean         with_picture)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char * const *greetings = lanlan_character_get_greetings (character);
  LanlanLorebook *lorebook = lanlan_character_get_lorebook (character);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  json_builder_begin_object (b);
  add_string (b, "spec", v3 ? "chara_card_v3" : "chara_card_v2");
  add_string (b, "spec_version", v3 ? "3.0" : "2.0");
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  add_string (b, "name", lanlan_character_get_name (character));
  add_string (b, "description", lanlan_character_get_persona (character));
  add_string (b, "personality", "");
  add_string (b, "scenario", "");
  add_string (b, "first_mes", greetings[0]);
  add_string (b, "mes_example", "");
  add_string (b, "creator_notes", "");
  add_string (b, "system_prompt", "");
  add_string (b, "post_history_instructions", "");
  json_builder_set_member_name (b, "alternate_greetings");
  json_builder_begin_array (b);
  for (guint i = 1; greetings[0] != NULL && greetings[i] != NULL; i++)
    json_builder_add_string_value (b, greetings[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "tags");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  add_string (b, "creator", "");
  add_string (b, "character_version", "");
  if (lorebook != NULL)
    {
      json_builder_set_member_name (b, "character_book");
      json_builder_add_value (b, lanlan_lorebook_to_json (lorebook));
    }
  json_builder_set_member_name (b, "extensions");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "lanlan");
  json_builder_begin_object (b);
  add_string (b, "language", lanlan_character_get_language (character));
  add_string (b, "voice", lanlan_character_get_voice (character));
  add_string (b, "provider", lanlan_character_get_provider (character));
  add_string (b, "model", lanlan_character_get_model (character));
  json_builder_end_object (b);
  json_builder_end_object (b);

  if (v3)
    {
      json_builder_set_member_name (b, "group_only_greetings");
      json_builder_begin_array (b);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "assets");
      json_builder_begin_array (b);
      if (with_picture)
        {
          json_builder_begin_object (b);
          add_string (b, "type", "icon");
          add_string (b, "uri", "ccdefault:");
          add_string (b, "name", "main");
          add_string (b, "ext", "png");
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "modification_date");
      json_builder_add_int_value (b, now);
    }

  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static char *
card_to_string (LanlanCharacter *character,
                gboolean         v3,
                gboolean         with_picture,
                gboolean         pretty)
{
  g_autoptr(JsonNode) root = build_card (character, v3, with_picture);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, pretty);
  return json_generator_to_data (generator, NULL);
}

/**
 * lanlan_character_card_export_json:
 *
 * Returns: (transfer full): @character as a Character Card V3 JSON file
 */
GBytes *
lanlan_character_card_export_json (LanlanCharacter *character)
{
  char *json;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);

  json = card_to_string (character, TRUE, FALSE, TRUE);
  return g_bytes_new_take (json, strlen (json));
}

static void
append_chunk (GByteArray   *out,
              const char   *type,
              const guint8 *body,
              gsize         len)
{
  guint8 be[4] = { len >> 24, len >> 16, len >> 8, len };
  guint32 crc;

  g_byte_array_append (out, be, 4);
  g_byte_array_append (out, (const guint8 *) type, 4);
  g_byte_array_append (out, body, len);
  crc = crc32_update (0xffffffffu, out->data + out->len - len - 4, len + 4) ^ 0xffffffffu;
  be[0] = crc >> 24; be[1] = crc >> 16; be[2] = crc >> 8; be[3] = crc;
  g_byte_array_append (out, be, 4);
}

static void
append_text_chunk (GByteArray *out,
                   const char *keyword,
                   const char *json)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) json, strlen (json));
  g_autoptr(GByteArray) body = g_byte_array_new ();

  g_byte_array_append (body, (const guint8 *) keyword, strlen (keyword) + 1);
  g_byte_array_append (body, (const guint8 *) b64, strlen (b64));
  append_chunk (out, "tEXt", body->data, body->len);
}

typedef struct {
  GByteArray *out;
  const char *v2;
  const char *v3;
} ExportData;

static gboolean
copy_chunk_for_export (const guint8 *type,
                       const guint8 *body,
                       guint32       length,
                       const guint8 *chunk,
                       gsize         chunk_len,
                       gpointer      user_data)
{
  ExportData *ed = user_data;
  const char *keyword;

  if (is_card_chunk (type, body, length, &keyword))
    return TRUE;

  if (memcmp (type, "IEND", 4) == 0)
    {
      append_text_chunk (ed->out, "chara", ed->v2);
      append_text_chunk (ed->out, "ccv3", ed->v3);
    }
  g_byte_array_append (ed->out, chunk, chunk_len);
  return TRUE;
}

/**
 * lanlan_character_card_export_png:
 * @fallback_png: (nullable): the picture to use when @character has none
 *   (the UI passes its generated avatar)
 *
 * Returns: (transfer full): the character's picture carrying the card in
 *   "ccv3" (V3) and "chara" (V2) text chunks, or %NULL with @error set
 *   when there is no picture or it is not a sound PNG.
 */
GBytes *
lanlan_character_card_export_png (LanlanCharacter  *character,
                                  GBytes           *fallback_png,
                                  GError          **error)
{
  g_autofree char *v2 = NULL;
  g_autofree char *v3 = NULL;
  g_autoptr(GByteArray) out = NULL;
  GBytes *picture;
  const guint8 *data;
  gsize len;
  ExportData ed;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);

  picture = lanlan_character_get_avatar (character);
  if (picture == NULL)
    picture = fallback_png;
  if (picture == NULL)
    {
      g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                           LANLAN_CHARACTER_CARD_ERROR_NO_CARD,
                           _("The character has no picture to make a PNG card of"));
      return NULL;
    }

  v2 = card_to_string (character, FALSE, TRUE, FALSE);
  v3 = card_to_string (character, TRUE, TRUE, FALSE);
  data = g_bytes_get_data (picture, &len);
  out = g_byte_array_sized_new (len + (strlen (v2) + strlen (v3)) * 4 / 3 + 64);
  g_byte_array_append (out, png_signature, sizeof png_signature);
  ed.out = out;
  ed.v2 = v2;
  ed.v3 = v3;

  if (!png_walk (data, len, copy_chunk_for_export, &ed, error))
    return NULL;

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
