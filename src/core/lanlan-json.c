/* lanlan-json.c — checks before handing outside JSON to json-glib
 *
 * json-glib 1.6 is not safe on outside input (see the validator below
 * for how). Every parser of outside input (server events, agent
 * messages, config, character cards, translation replies) goes through
 * lanlan_json_parse(), which lets json-glib see only strict, bounded
 * JSON, and answers everything else with a clear, UTF-8 error.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

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

/* A strict RFC 8259 validator. json-glib 1.6 only ever sees documents
 * that pass it, because it mishandles the others: its parser recurses
 * per nesting level (a few hundred thousand '[' overflow the stack), it
 * decodes escapes that are not JSON ("\\d", lone surrogates) into
 * strings that are not UTF-8, it cuts multibyte characters in half when
 * quoting a bad token in its error message, and it leaks what it had
 * built when it gives up. */
typedef struct {
  const char *data;
  gsize       len;
  gsize       pos;
  guint       depth;
  guint       max_depth;
  GError    **error;
} Scan;

static gboolean
scan_fail (Scan       *s,
           const char *what)
{
  g_set_error (s->error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
               /* Translators: %s says what is wrong, %zu is a byte offset */
               _("The data is not valid JSON: %s at byte %zu"), what, s->pos);
  return FALSE;
}

static void
scan_ws (Scan *s)
{
  while (s->pos < s->len &&
         (s->data[s->pos] == ' ' || s->data[s->pos] == '\t' ||
          s->data[s->pos] == '\n' || s->data[s->pos] == '\r'))
    s->pos++;
}

static gboolean
scan_string (Scan *s)
{
  s->pos++;   /* the opening quote */

  while (s->pos < s->len)
    {
      guchar c = s->data[s->pos];

      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return scan_fail (s, _("a control character in a string"));
      if (c != '\\')
        {
          s->pos++;
          continue;
        }

      /* An escape. */
      if (s->pos + 1 >= s->len)
        break;
      switch (s->data[s->pos + 1])
        {
        case '"': case '\\': case '/': case 'b':
        case 'f': case 'n': case 'r': case 't':
          s->pos += 2;
          break;
        case 'u':
          {
            int u = s->pos + 5 < s->len ? hex4 (s->data + s->pos + 2) : -1;

            /* \u0000 too: no C string can hold it. */
            if (u <= 0 || (u >= 0xdc00 && u <= 0xdfff))
              goto bad_escape;
            s->pos += 6;
            if (u >= 0xd800 && u <= 0xdbff)
              {
                int low;

                /* A high surrogate needs its low half right after. */
                if (!(s->pos + 5 < s->len && s->data[s->pos] == '\\' && s->data[s->pos + 1] == 'u'))
                  goto bad_escape;
                low = hex4 (s->data + s->pos + 2);
                if (low < 0xdc00 || low > 0xdfff)
                  goto bad_escape;
                s->pos += 6;
              }
          }
          break;
        default:
        bad_escape:
          g_set_error (s->error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                       _("The data has an invalid escape in a string at byte %zu"), s->pos);
          return FALSE;
        }
    }

  return scan_fail (s, _("an unterminated string"));
}

static gboolean
scan_digits (Scan *s)
{
  gsize start = s->pos;

  while (s->pos < s->len && g_ascii_isdigit (s->data[s->pos]))
    s->pos++;
  return s->pos > start;
}

static gboolean
scan_number (Scan *s)
{
  if (s->data[s->pos] == '-')
    s->pos++;
  if (s->pos < s->len && s->data[s->pos] == '0')
    s->pos++;
  else if (!scan_digits (s))
    return scan_fail (s, _("a malformed number"));
  if (s->pos < s->len && s->data[s->pos] == '.')
    {
      s->pos++;
      if (!scan_digits (s))
        return scan_fail (s, _("a malformed number"));
    }
  if (s->pos < s->len && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E'))
    {
      s->pos++;
      if (s->pos < s->len && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
        s->pos++;
      if (!scan_digits (s))
        return scan_fail (s, _("a malformed number"));
    }
  return TRUE;
}

static gboolean
scan_word (Scan       *s,
           const char *word)
{
  gsize n = strlen (word);

  if (s->len - s->pos < n || memcmp (s->data + s->pos, word, n) != 0)
    return scan_fail (s, _("an unexpected character"));
  s->pos += n;
  return TRUE;
}

static gboolean scan_value (Scan *s);

static gboolean
scan_container (Scan *s,
                char  close)
{
  if (++s->depth > s->max_depth)
    {
      g_set_error (s->error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                   _("The data is nested more than %u levels deep"), s->max_depth);
      return FALSE;
    }

  s->pos++;   /* '[' or '{' */
  scan_ws (s);
  if (s->pos < s->len && s->data[s->pos] == close)
    {
      s->pos++;
      s->depth--;
      return TRUE;
    }

  for (;;)
    {
      if (close == '}')
        {
          if (s->pos >= s->len || s->data[s->pos] != '"')
            return scan_fail (s, _("a missing member name"));
          if (!scan_string (s))
            return FALSE;
          scan_ws (s);
          if (s->pos >= s->len || s->data[s->pos] != ':')
            return scan_fail (s, _("a missing ':'"));
          s->pos++;
        }

      if (!scan_value (s))
        return FALSE;

      if (s->pos >= s->len)
        return scan_fail (s, _("an unexpected end"));
      if (s->data[s->pos] == close)
        {
          s->pos++;
          s->depth--;
          return TRUE;
        }
      if (s->data[s->pos] != ',')
        return scan_fail (s, _("a missing ','"));
      s->pos++;
      scan_ws (s);
    }
}

static gboolean
scan_value (Scan *s)
{
  gboolean ok;

  scan_ws (s);
  if (s->pos >= s->len)
    return scan_fail (s, _("an unexpected end"));

  switch (s->data[s->pos])
    {
    case '{': ok = scan_container (s, '}'); break;
    case '[': ok = scan_container (s, ']'); break;
    case '"': ok = scan_string (s); break;
    case 't': ok = scan_word (s, "true"); break;
    case 'f': ok = scan_word (s, "false"); break;
    case 'n': ok = scan_word (s, "null"); break;
    default:
      if (s->data[s->pos] == '-' || g_ascii_isdigit (s->data[s->pos]))
        ok = scan_number (s);
      else
        ok = scan_fail (s, _("an unexpected character"));
    }

  if (ok)
    scan_ws (s);
  return ok;
}

/**
 * lanlan_json_precheck:
 * @max_depth: the deepest nesting allowed
 *
 * Checks that @data is one strict JSON document (RFC 8259, UTF-8, no
 * "\\u0000") nested at most @max_depth deep, in linear time and without
 * allocating.
 */
gboolean
lanlan_json_precheck (const char  *data,
                      gsize        length,
                      guint        max_depth,
                      GError     **error)
{
  Scan s = { data, length, 0, 0, max_depth, error };

  if (!g_utf8_validate_len (data, length, NULL))
    return scan_fail (&s, _("text that is not UTF-8"));

  if (!scan_value (&s))
    return FALSE;
  if (s.pos != length)
    return scan_fail (&s, _("more data after the end"));

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

  if (!lanlan_json_precheck (data, length, LANLAN_JSON_MAX_DEPTH, error))
    return NULL;

  /* Valid JSON by now: json-glib fails here only when out of memory. */
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;

  return g_steal_pointer (&parser);
}
