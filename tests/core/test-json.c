/* test-json.c — the guard in front of json-glib for outside input
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-json.h"

static void
test_json_accepts_valid (void)
{
  static const char * const good[] = {
    "{}",
    "[1, 2.5e3, true, false, null]",
    "{\"a\": \"quote \\\" backslash \\\\ slash \\/ controls \\b\\f\\n\\r\\t\"}",
    "{\"a\": \"\\u00e9\\u732b \\ud83d\\ude00\"}",   /* é, 猫, 😀 */
    "{\"a\": \"brackets in strings do not nest: [[[[{{{{\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = lanlan_json_parse (good[i], strlen (good[i]), &error);

      g_assert_no_error (error);
      g_assert_nonnull (parser);
    }

  {
    g_autoptr(JsonParser) parser = lanlan_json_parse (good[3], strlen (good[3]), NULL);
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpstr (json_object_get_string_member (o, "a"), ==, "é猫 😀");
  }
}

static void
test_json_refuses_bad_escapes (void)
{
  /* Each of these made json-glib 1.6 return strings that are not UTF-8,
   * or are not JSON at all. */
  static const char * const bad[] = {
    "{\"a\": \"\\d\"}",
    "{\"a\": \"\\0\"}",
    "{\"a\": \"\\x41\"}",
    "{\"a\": \"\\u12\"}",
    "{\"a\": \"\\u0000\"}",
    "{\"a\": \"\\ud800\"}",            /* lone high surrogate */
    "{\"a\": \"\\ud800\\u0041\"}",     /* high surrogate, no low half */
    "{\"a\": \"\\udc00\"}",            /* lone low surrogate */
    "{\"a\": \"ends with a backslash \\",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = lanlan_json_parse (bad[i], strlen (bad[i]), &error);

      g_assert_null (parser);
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_json_refuses_deep_nesting (void)
{
  g_autofree char *ok = g_strnfill (LANLAN_JSON_MAX_DEPTH, '[');
  g_autofree char *too_deep = g_strnfill (300000, '[');
  g_autoptr(GError) error = NULL;

  /* At the limit: refused only because it is unterminated, not for depth. */
  g_assert_null (lanlan_json_parse (ok, strlen (ok), &error));
  g_assert_false (g_error_matches (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE) &&
                  strstr (error->message, "nested") != NULL);
  g_clear_error (&error);

  g_assert_null (lanlan_json_parse (too_deep, strlen (too_deep), &error));
  g_assert_nonnull (strstr (error->message, "nested"));
}

static void
test_json_error_messages_are_utf8 (void)
{
  /* A key of twenty 猫 and no colon: json-glib quotes the key cut to a
   * byte length, in the middle of a character. */
  g_autoptr(GString) data = g_string_new ("{\"");
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 20; i++)
    g_string_append (data, "猫");
  g_string_append (data, "\" 1}");

  g_assert_null (lanlan_json_parse (data->str, data->len, &error));
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "':'"));
}

static void
test_json_strict (void)
{
  /* Not JSON, though json-glib would take some of them, or fail
   * leaving what it had built behind (found by memcheck). */
  static const char * const bad[] = {
    "", "   ", "{", "}", "[1,]", "[,1]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}",
    "[1 2]", "[01]", "[1.]", "[.5]", "[1e]", "[-]", "[+1]", "[tru]", "[nul]",
    "[\"tab\tinside\"]", "{\"a\":1} trailing", "[1]]", "{\"a\":{\"b\":[1,{\"c\":}]}}",
    "\xff\xfe[]", "[NaN]", "['single']",
  };
  static const char * const good[] = {
    "1", "-0.5e+10", "\"just a string\"", "true", "null", " [ ] ", "{}",
    "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "[0, -1, 2.25, 3E-2]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = lanlan_json_parse (bad[i], strlen (bad[i]), &error);

      if (parser != NULL)
        g_error ("accepted: %s", bad[i]);
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = lanlan_json_parse (good[i], strlen (good[i]), &error);

      g_assert_no_error (error);
      g_assert_nonnull (json_parser_get_root (parser));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json/accepts-valid", test_json_accepts_valid);
  g_test_add_func ("/json/refuses-bad-escapes", test_json_refuses_bad_escapes);
  g_test_add_func ("/json/refuses-deep-nesting", test_json_refuses_deep_nesting);
  g_test_add_func ("/json/error-messages-are-utf8", test_json_error_messages_are_utf8);
  g_test_add_func ("/json/strict", test_json_strict);

  return g_test_run ();
}
