/* lanlan-json.c — checks before handing outside JSON to json-glib
 *
 * json-glib's parser recurses once per nesting level, so a document of a
 * few hundred thousand '[' overflows the stack and kills the app. Every
 * parser of outside input (server events, config, character cards) goes
 * through lanlan_json_parse(), which refuses such documents first with a
 * linear scan that tracks strings and escapes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-json.h"

gboolean
lanlan_json_check_depth (const char  *data,
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
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
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
 * %LANLAN_JSON_MAX_DEPTH before json-glib sees it, and the error message
 * is always valid UTF-8.
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

  if (!lanlan_json_check_depth (data, length, LANLAN_JSON_MAX_DEPTH, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      /* json-glib quotes the offending token, and mangles some escapes
       * into bytes that are not UTF-8: the message would then break any
       * label or log line it reaches. */
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
