/* lanlan-character-card.c — import SillyTavern / Tavern character cards
 *
 * Reads Character Card V2 ("chara_card_v2") and V3 ("chara_card_v3")
 * JSON, older V1 cards (plain name/description/... at the top level), and
 * PNG images carrying a card as base64 JSON in a tEXt chunk named "chara"
 * (V2) or "ccv3" (V3). The PNG is walked chunk by chunk with every CRC
 * checked; nothing is decoded beyond the text chunks. The result is a new,
 * unsaved LanlanCharacter whose persona is composed from the card's
 * system prompt, description, personality, scenario and first message.
 * Any problem gives a GError and no character, never a partial one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "lanlan-character-card.h"
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

/* Returns the base64 text of the card chunk (ccv3 preferred over chara). */
static GBytes *
png_find_card_text (const guint8  *data,
                    gsize          len,
                    GError       **error)
{
  g_autoptr(GBytes) chara = NULL;
  g_autoptr(GBytes) ccv3 = NULL;
  gsize pos = sizeof png_signature;
  gboolean first = TRUE;
  gboolean seen_end = FALSE;

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
          return NULL;
        }

      length = read_be32 (data + pos);
      type = data + pos + 4;
      body = data + pos + 8;

      if (length > G_MAXINT32 || length > len - pos - 12)
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                               _("The PNG image is truncated or has a chunk of impossible size"));
          return NULL;
        }

      for (int i = 0; i < 4; i++)
        if (!g_ascii_isalpha (type[i]))
          {
            g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                                 LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                                 _("The PNG image has a malformed chunk"));
            return NULL;
          }

      crc = crc32_update (0xffffffffu, type, 4 + (gsize) length) ^ 0xffffffffu;
      if (crc != read_be32 (body + length))
        {
          g_set_error (error, LANLAN_CHARACTER_CARD_ERROR,
                       LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                       _("The PNG image is damaged (checksum error in a “%.4s” chunk)"),
                       (const char *) type);
          return NULL;
        }

      if (first && memcmp (type, "IHDR", 4) != 0)
        {
          g_set_error_literal (error, LANLAN_CHARACTER_CARD_ERROR,
                               LANLAN_CHARACTER_CARD_ERROR_BAD_PNG,
                               _("The PNG image does not start with a header chunk"));
          return NULL;
        }
      first = FALSE;

      if (memcmp (type, "tEXt", 4) == 0)
        {
          const guint8 *nul = memchr (body, '\0', length);

          if (nul != NULL)
            {
              gsize key_len = nul - body;
              const guint8 *text = nul + 1;
              gsize text_len = length - key_len - 1;

              if (key_len == 5 && memcmp (body, "chara", 5) == 0 && chara == NULL)
                chara = g_bytes_new (text, text_len);
              else if (key_len == 4 && memcmp (body, "ccv3", 4) == 0 && ccv3 == NULL)
                ccv3 = g_bytes_new (text, text_len);
            }
        }
      else if (memcmp (type, "IEND", 4) == 0)
        seen_end = TRUE;

      pos += 12 + (gsize) length;
    }

  if (ccv3 != NULL)
    return g_steal_pointer (&ccv3);
  if (chara != NULL)
    return g_steal_pointer (&chara);

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
    g_string_append (result, "the user");
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
      !get_text_member (card, "first_mes", &first_mes, error))
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

  /* The persona goes to the model, so its headings stay in English. */
  persona = g_string_new (NULL);
  append_section (persona, macros, &macro_data, NULL, system_prompt);
  append_section (persona, macros, &macro_data, NULL, description);
  append_section (persona, macros, &macro_data, "Personality", personality);
  append_section (persona, macros, &macro_data, "Scenario", scenario);
  append_section (persona, macros, &macro_data, "Your usual greeting", first_mes);

  character = lanlan_character_new (name);
  lanlan_character_set_persona (character, persona->str);
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
      gsize json_len;
      const char *json_data;

      if (!(text = png_find_card_text (data, len, error)))
        return NULL;
      if (!(json = decode_base64_strict (text, error)))
        return NULL;

      json_data = g_bytes_get_data (json, &json_len);
      return character_from_json (json_data ? json_data : "", json_len, error);
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
