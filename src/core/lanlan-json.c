/* lanlan-json.c — checks before handing outside JSON to json-glib
 *
 * json-glib 1.6 has two traps for outside input: its parser recurses
 * once per nesting level, so a few hundred thousand '[' overflow the
 * stack and kill the app; and it decodes escapes that are not JSON into
 * strings that are not UTF-8. Every parser of outside input (server
 * events, agent messages, config, character cards, translation replies)
 * goes through lanlan_json_parse(), which refuses such documents first
 * with a linear scan.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-json.h"

static int
hex4 (const char *p)
{
  int v = 0;

  for (int k = 0; k < 4; k++)
    {
      int d = g_ascii_xdigit_value (p[k]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/**
 * lanlan_json_precheck:
 *
 * A linear scan that refuses what json-glib 1.6 mishandles: nesting
 * deeper than @max_depth (its parser recurses per level and overflows the
 * stack), and string escapes that are not JSON (it turns "\d" or a lone
 * surrogate "\ud800" into bytes that are not UTF-8, which then break
 * every label and log line they reach), and "\u0000", which no C string
 * can hold.
 */
gboolean
lanlan_json_precheck (const char  *data,
                      gsize        length,
                      guint        max_depth,
                      GError     **error)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '"')
            in_string = FALSE;
          else if (c == '\\')
            {
              char e = i + 1 < length ? data[i + 1] : '\0';
              int u, low;

              switch (e)
                {
                case '"': case '\\': case '/': case 'b':
                case 'f': case 'n': case 'r': case 't':
                  i++;
                  break;
                case 'u':
                  u = i + 5 < length ? hex4 (data + i + 2) : -1;
                  if (u <= 0 || (u >= 0xdc00 && u <= 0xdfff))
                    goto bad_escape;
                  i += 5;
                  if (u >= 0xd800 && u <= 0xdbff)
                    {
                      /* A high surrogate needs its low half right after. */
                      if (!(i + 6 < length && data[i + 1] == '\\' && data[i + 2] == 'u'))
                        goto bad_escape;
                      low = hex4 (data + i + 3);
                      if (low < 0xdc00 || low > 0xdfff)
                        goto bad_escape;
                      i += 6;
                    }
                  break;
                default:
                bad_escape:
                  g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                               _("The data has an invalid escape in a string at byte %zu"), i);
                  return FALSE;
                }
            }
          continue;
        }

      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            {
              g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           _("The data is nested more than %u levels deep"), max_depth);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        default:
          break;
        }
    }

  return TRUE;
}

/**
 * lanlan_json_parse:
 *
 * Parses outside JSON safely: nesting is bounded by
 * %LANLAN_JSON_MAX_DEPTH and string escapes are checked before json-glib
 * sees it (see lanlan_json_precheck()), and the error message is always
 * valid UTF-8.
 *
 * Returns: (transfer full) (nullable): the parser holding the document.
 */
JsonParser *
lanlan_json_parse (const char  *data,
                   gsize        length,
                   GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!lanlan_json_precheck (data, length, LANLAN_JSON_MAX_DEPTH, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      /* json-glib quotes the offending token cut to a byte length, often
       * in the middle of a character (any CJK text): the message would
       * break the label or log line it reaches. */
      if (!g_utf8_validate (local_error->message, -1, NULL))
        {
          char *valid = g_utf8_make_valid (local_error->message, -1);

          g_free (local_error->message);
          local_error->message = valid;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return g_steal_pointer (&parser);
}
