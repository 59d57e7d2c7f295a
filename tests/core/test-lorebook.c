/* test-lorebook.c — lorebook (world info) parsing, matching and budget
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-json.h"
#include "lanlan-lorebook.h"

static LanlanLorebook *
book_from (const char  *json,
           GError     **error)
{
  g_autoptr(JsonParser) parser = lanlan_json_parse (json, strlen (json), error);

  if (parser == NULL)
    return NULL;
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return lanlan_lorebook_new_from_json (json_node_get_object (json_parser_get_root (parser)), error);
}

/* The contents of the active entries, in order, joined with "|". */
static char *
active (LanlanLorebook *book,
        const char     *first,
        ...)
{
  g_autoptr(GPtrArray) recent = g_ptr_array_new ();
  g_autoptr(GArray) matched = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  va_list args;

  va_start (args, first);
  for (const char *m = first; m != NULL; m = va_arg (args, const char *))
    g_ptr_array_add (recent, (gpointer) m);
  va_end (args);

  matched = lanlan_lorebook_match (book, (const char * const *) recent->pdata, recent->len);
  for (guint i = 0; i < matched->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, '|');
      g_string_append (out, lanlan_lorebook_get_entry_content (book, g_array_index (matched, guint, i)));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const char *basic_book =
  "{\"name\":\"Kyoto\",\"scan_depth\":2,\"entries\":["
  " {\"keys\":[\"cat\",\"Neko\"],\"content\":\"CAT\",\"enabled\":true,\"insertion_order\":10},"
  " {\"keys\":[\"京都\"],\"content\":\"KYOTO\",\"enabled\":true,\"insertion_order\":5},"
  " {\"keys\":[\"tea\"],\"content\":\"TEA\",\"enabled\":false,\"insertion_order\":1},"
  " {\"keys\":[],\"content\":\"ALWAYS\",\"constant\":true,\"insertion_order\":50},"
  " {\"keys\":[\"Shrine\"],\"content\":\"SHRINE\",\"case_sensitive\":true,\"insertion_order\":20},"
  " {\"keys\":[\"fox\"],\"secondary_keys\":[\"night\",\"moon\"],\"selective\":true,"
  "  \"content\":\"FOX\",\"insertion_order\":30},"
  " {\"keys\":[\"/gion\\\\s+matsuri/i\",\"/[unclosed/\"],\"use_regex\":true,\"content\":\"GION\",\"insertion_order\":40}"
  "]}";

static void
test_lorebook_keys (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanLorebook) book = book_from (basic_book, &error);
  char *s;

  g_assert_no_error (error);
  g_assert_cmpuint (lanlan_lorebook_get_n_entries (book), ==, 7);
  g_assert_cmpstr (lanlan_lorebook_get_name (book), ==, "Kyoto");
  g_assert_cmpuint (lanlan_lorebook_get_scan_depth (book), ==, 2);

  /* Nothing but the constant entry for unrelated text. */
  s = active (book, "hello there", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);

  /* Case-insensitive key, whole words only; output in insertion order. */
  s = active (book, "I saw a CAT in 京都駅", NULL);
  g_assert_cmpstr (s, ==, "KYOTO|CAT|ALWAYS");
  g_free (s);
  s = active (book, "a category of things, concatenated", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);
  s = active (book, "my neko!", NULL);
  g_assert_cmpstr (s, ==, "CAT|ALWAYS");
  g_free (s);

  /* Disabled entries never fire. */
  s = active (book, "green tea", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);

  /* Case-sensitive entry. */
  s = active (book, "the shrine", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);
  s = active (book, "the Shrine", NULL);
  g_assert_cmpstr (s, ==, "SHRINE|ALWAYS");
  g_free (s);

  /* Selective: a primary and a secondary key are both needed. */
  s = active (book, "a fox", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);
  s = active (book, "a fox under the Moon", NULL);
  g_assert_cmpstr (s, ==, "FOX|ALWAYS");
  g_free (s);

  /* Regex keys (/pattern/flags); the one that does not compile is ignored. */
  s = active (book, "We went to GION   Matsuri", NULL);
  g_assert_cmpstr (s, ==, "GION|ALWAYS");
  g_free (s);
  s = active (book, "[unclosed", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);
}

static void
test_lorebook_scan_depth (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanLorebook) book = book_from (basic_book, &error);
  char *s;

  g_assert_no_error (error);
  /* scan_depth is 2: the cat three messages ago is out of sight. */
  s = active (book, "a cat", "hello", "how are you", NULL);
  g_assert_cmpstr (s, ==, "ALWAYS");
  g_free (s);
  s = active (book, "hello", "a cat", "how are you", NULL);
  g_assert_cmpstr (s, ==, "CAT|ALWAYS");
  g_free (s);
}

static void
test_lorebook_budget (void)
{
  /* Each content is 40 ASCII bytes = 10 tokens; the budget fits two. */
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanLorebook) book = book_from (
    "{\"token_budget\":25,\"entries\":["
    " {\"keys\":[\"a\"],\"content\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"insertion_order\":3,\"priority\":1},"
    " {\"keys\":[\"b\"],\"content\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\",\"insertion_order\":2,\"priority\":5},"
    " {\"keys\":[\"c\"],\"content\":\"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\",\"insertion_order\":1,\"priority\":5,"
    "  \"position\":\"after_char\"}"
    "]}", &error);
  g_autoptr(GArray) matched = NULL;
  const char *recent[] = { "a b c" };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (lanlan_lorebook_estimate_tokens ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ==, 10);
  g_assert_cmpuint (lanlan_lorebook_estimate_tokens ("京都"), ==, 2);

  matched = lanlan_lorebook_match (book, recent, 1);
  /* The lowest priority (A) is dropped; the rest come in insertion order. */
  g_assert_cmpuint (matched->len, ==, 2);
  g_assert_cmpuint (g_array_index (matched, guint, 0), ==, 2);
  g_assert_cmpuint (g_array_index (matched, guint, 1), ==, 1);

  before = lanlan_lorebook_render (book, matched, LANLAN_LOREBOOK_BEFORE_CHAR);
  after = lanlan_lorebook_render (book, matched, LANLAN_LOREBOOK_AFTER_CHAR);
  g_assert_cmpstr (before, ==, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
  g_assert_cmpstr (after, ==, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC");
}

static void
test_lorebook_recursive (void)
{
  const char *json =
    "{\"recursive_scanning\":%s,\"entries\":["
    " {\"keys\":[\"Mio\"],\"content\":\"Mio works at the Sakura café.\",\"insertion_order\":1},"
    " {\"keys\":[\"sakura café\"],\"content\":\"The café opens at nine.\",\"insertion_order\":2},"
    " {\"keys\":[\"nine\"],\"content\":\"Nine is a lucky number.\",\"insertion_order\":3}"
    "]}";
  g_autofree char *yes = g_strdup_printf (json, "true");
  g_autofree char *no = g_strdup_printf (json, "false");
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanLorebook) flat = book_from (no, &error);
  g_autoptr(LanlanLorebook) deep = book_from (yes, &error);
  char *s;

  g_assert_no_error (error);
  s = active (flat, "Who is Mio?", NULL);
  g_assert_cmpstr (s, ==, "Mio works at the Sakura café.");
  g_free (s);
  s = active (deep, "Who is Mio?", NULL);
  g_assert_cmpstr (s, ==, "Mio works at the Sakura café.|The café opens at nine.|Nine is a lucky number.");
  g_free (s);
}

static void
test_lorebook_bad (void)
{
  static const char *cases[] = {
    "{\"entries\":{}}",
    "{\"entries\":[1]}",
    "{\"entries\":[{\"keys\":\"cat\",\"content\":\"x\"}]}",
    "{\"entries\":[{\"keys\":[1],\"content\":\"x\"}]}",
    "{\"entries\":[{\"keys\":[\"a\"],\"secondary_keys\":{},\"content\":\"x\"}]}",
  };
  g_autoptr(GString) many = g_string_new ("{\"entries\":[");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LanlanLorebook) book = book_from (cases[i], &error);

      g_test_message ("case %u", i);
      g_assert_null (book);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }

  for (guint i = 0; i <= LANLAN_LOREBOOK_MAX_ENTRIES; i++)
    g_string_append_printf (many, "%s{\"keys\":[\"k\"],\"content\":\"c\"}", i ? "," : "");
  g_string_append (many, "]}");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(LanlanLorebook) book = book_from (many->str, &error);

    g_assert_null (book);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }

  /* Wrong types of optional members are taken as absent. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(LanlanLorebook) book = book_from (
      "{\"scan_depth\":\"x\",\"token_budget\":-5,\"entries\":[{\"keys\":[\"k\"],"
      "\"content\":7,\"enabled\":\"yes\",\"insertion_order\":\"1\",\"position\":3}]}", &error);
    char *s;

    g_assert_no_error (error);
    g_assert_cmpuint (lanlan_lorebook_get_scan_depth (book), ==, LANLAN_LOREBOOK_DEFAULT_SCAN_DEPTH);
    g_assert_cmpuint (lanlan_lorebook_get_token_budget (book), ==, LANLAN_LOREBOOK_DEFAULT_TOKEN_BUDGET);
    s = active (book, "k", NULL);
    g_assert_cmpstr (s, ==, "");
    g_free (s);
  }
}

static void
test_lorebook_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanLorebook) book = book_from (basic_book, &error);
  g_autoptr(JsonNode) node = lanlan_lorebook_to_json (book);
  g_autoptr(LanlanLorebook) copy = lanlan_lorebook_new_from_json (json_node_get_object (node), &error);
  const char *probes[] = { "hello", "I saw a CAT in 京都駅", "the Shrine", "a fox under the Moon",
                           "a fox", "gion matsuri", "green tea" };

  g_assert_no_error (error);
  g_assert_cmpuint (lanlan_lorebook_get_n_entries (copy), ==, 7);
  for (guint i = 0; i < G_N_ELEMENTS (probes); i++)
    {
      g_autofree char *a = active (book, probes[i], NULL);
      g_autofree char *b = active (copy, probes[i], NULL);
      g_assert_cmpstr (a, ==, b);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/lorebook/keys", test_lorebook_keys);
  g_test_add_func ("/lorebook/scan-depth", test_lorebook_scan_depth);
  g_test_add_func ("/lorebook/budget", test_lorebook_budget);
  g_test_add_func ("/lorebook/recursive", test_lorebook_recursive);
  g_test_add_func ("/lorebook/bad", test_lorebook_bad);
  g_test_add_func ("/lorebook/round-trip", test_lorebook_round_trip);

  return g_test_run ();
}
