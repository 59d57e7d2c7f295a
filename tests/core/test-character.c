/* test-character.c — characters and their store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lanlan-character-store.h"

static GFile *
temp_config (char **dir_out)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("lanlan-store-XXXXXX", &error);

  g_assert_no_error (error);
  *dir_out = dir;
  return g_file_new_build_filename (dir, "sub", "characters.json", NULL);
}

static void
rm_rf (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        rm_rf (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_character_json_roundtrip (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Mio");
  g_autoptr(LanlanCharacter) copy = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  lanlan_character_set_persona (c, "You are Mio.\nYou like \"cats\" — and 猫.");
  lanlan_character_set_language (c, "ja");
  lanlan_character_set_voice (c, "Cherry");
  lanlan_character_set_provider (c, "qwen");
  lanlan_character_set_model (c, "qwen-omni-turbo-realtime");
  lanlan_character_set_input_mode (c, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_open_on_start (c, FALSE);

  node = lanlan_character_to_json (c);
  copy = lanlan_character_new_from_json (json_node_get_object (node), &error);
  g_assert_no_error (error);

  g_assert_cmpstr (lanlan_character_get_id (copy), ==, lanlan_character_get_id (c));
  g_assert_cmpstr (lanlan_character_get_name (copy), ==, "Mio");
  g_assert_cmpstr (lanlan_character_get_persona (copy), ==, lanlan_character_get_persona (c));
  g_assert_cmpstr (lanlan_character_get_language (copy), ==, "ja");
  g_assert_cmpstr (lanlan_character_get_voice (copy), ==, "Cherry");
  g_assert_cmpstr (lanlan_character_get_provider (copy), ==, "qwen");
  g_assert_cmpstr (lanlan_character_get_model (copy), ==, "qwen-omni-turbo-realtime");
  g_assert_cmpint (lanlan_character_get_input_mode (copy), ==, LANLAN_INPUT_MODE_TEXT);
  g_assert_false (lanlan_character_get_open_on_start (copy));
}

static void
test_character_serial (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Mio");
  guint64 s0 = lanlan_character_get_serial (c);

  lanlan_character_set_voice (c, "alloy");
  g_assert_cmpuint (lanlan_character_get_serial (c), ==, s0 + 1);
  lanlan_character_set_voice (c, "alloy");
  g_assert_cmpuint (lanlan_character_get_serial (c), ==, s0 + 1);
  lanlan_character_set_persona (c, "new persona");
  g_assert_cmpuint (lanlan_character_get_serial (c), ==, s0 + 2);
  /* Window placement is not a session setting. */
  lanlan_character_set_open_on_start (c, FALSE);
  g_assert_cmpuint (lanlan_character_get_serial (c), ==, s0 + 2);
}

static void
test_character_bad_json (void)
{
  static const char * const bad[] = {
    "{}",
    "{\"name\": \"\"}",
    "{\"name\": 3}",
    "{\"name\": \"A\", \"voice\": 7}",
    "{\"name\": \"A\", \"persona\": [1]}",
    "{\"name\": \"A\", \"input-mode\": \"telepathy\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) node = json_from_string (bad[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(LanlanCharacter) c = lanlan_character_new_from_json (json_node_get_object (node), &error);

      g_assert_null (c);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (error->message);
    }
}

static void
test_store_first_run (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(GError) error = NULL;

  g_assert_true (lanlan_character_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 1);
  g_assert_null (lanlan_character_store_get_load_error (store));

  rm_rf (dir);
}

static void
test_store_roundtrip (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(LanlanCharacterStore) again = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Second");
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_file_get_path (file);
  GStatBuf st;

  lanlan_character_store_load (store, NULL);
  lanlan_character_set_voice (c, "verse");
  lanlan_character_store_add (store, c);
  g_assert_true (lanlan_character_store_save (store, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  again = lanlan_character_store_new (file);
  g_assert_true (lanlan_character_store_load (again, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, 2);
  g_assert_nonnull (lanlan_character_store_lookup (again, lanlan_character_get_id (c)));
  g_assert_cmpstr (lanlan_character_get_voice (lanlan_character_store_lookup_by_name (again, "Second")), ==, "verse");

  g_assert_true (lanlan_character_store_remove (again, lanlan_character_store_lookup_by_name (again, "Second")));
  g_assert_true (lanlan_character_store_save (again, NULL));
  g_clear_object (&again);
  again = lanlan_character_store_new (file);
  lanlan_character_store_load (again, NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (again)), ==, 1);

  rm_rf (dir);
}

static void
test_store_autosave (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(LanlanCharacterStore) again = NULL;
  g_autoptr(LanlanCharacter) first = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  lanlan_character_store_load (store, NULL);
  first = g_list_model_get_item (G_LIST_MODEL (store), 0);
  lanlan_character_set_persona (first, "edited persona");

  g_timeout_add_once (800, (GSourceOnceFunc) g_main_loop_quit, loop);
  g_main_loop_run (loop);

  again = lanlan_character_store_new (file);
  lanlan_character_store_load (again, NULL);
  g_clear_object (&first);
  first = g_list_model_get_item (G_LIST_MODEL (again), 0);
  g_assert_cmpstr (lanlan_character_get_persona (first), ==, "edited persona");

  rm_rf (dir);
}

static void
test_store_corrupt (void)
{
  static const char * const corrupt[] = {
    "{\"characters\": [ {\"name\": \"Mio\"", /* truncated */
    "[1, 2, 3]",
    "{\"characters\": 5}",
    "{\"characters\": [ 7 ]}",
    "\xff\xfe garbage",
  };

  for (guint i = 0; i < G_N_ELEMENTS (corrupt); i++)
    {
      g_autofree char *dir = NULL;
      g_autoptr(GFile) file = temp_config (&dir);
      g_autoptr(GFile) parent = g_file_get_parent (file);
      g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
      g_autoptr(GError) error = NULL;
      g_autofree char *backup_contents = NULL;
      g_autofree char *path = g_file_get_path (file);
      GFile *backup;

      g_file_make_directory_with_parents (parent, NULL, NULL);
      g_assert_true (g_file_set_contents (path, corrupt[i], -1, NULL));

      g_assert_false (lanlan_character_store_load (store, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, "damaged"));

      /* Still usable, with the default character. */
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 1);

      /* The damaged file is kept, byte for byte. */
      backup = lanlan_character_store_get_backup_file (store);
      g_assert_nonnull (backup);
      g_assert_true (g_file_load_contents (backup, NULL, &backup_contents, NULL, NULL, NULL));
      g_assert_cmpstr (backup_contents, ==, corrupt[i]);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

      rm_rf (dir);
    }
}

static void
test_store_deep_nesting (void)
{
  /* json-glib recurses per level; this used to overflow the stack. */
  g_autofree char *deep = g_strnfill (200000, '[');
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) characters = lanlan_character_store_parse (deep, strlen (deep), &error);

  g_assert_null (characters);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "nested"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/character/json-roundtrip", test_character_json_roundtrip);
  g_test_add_func ("/character/serial", test_character_serial);
  g_test_add_func ("/character/bad-json", test_character_bad_json);
  g_test_add_func ("/store/first-run", test_store_first_run);
  g_test_add_func ("/store/roundtrip", test_store_roundtrip);
  g_test_add_func ("/store/autosave", test_store_autosave);
  g_test_add_func ("/store/corrupt", test_store_corrupt);
  g_test_add_func ("/store/deep-nesting", test_store_deep_nesting);

  return g_test_run ();
}
