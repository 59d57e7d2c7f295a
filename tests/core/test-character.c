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

static JsonObject *
parse_object (JsonParser *parser,
              const char *json)
{
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_character_card_fields (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) old = NULL;
  g_autoptr(LanlanCharacter) c = NULL;
  g_autoptr(LanlanCharacter) copy = NULL;
  g_autoptr(LanlanCharacter) bad = NULL;
  g_autoptr(LanlanLorebook) book = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *greetings[] = { "Hi!", "Hello again.", NULL };
  const char *recent[] = { "tell me about the moon" };
  g_autofree char *instructions = NULL;
  guint64 serial;

  /* A characters.json entry written before greetings and lorebooks. */
  old = lanlan_character_new_from_json (parse_object (parser,
      "{\"id\":\"a1\",\"name\":\"Old\",\"persona\":\"P\"}"), &error);
  g_assert_no_error (error);
  g_assert_null (lanlan_character_get_greeting (old));
  g_assert_null (lanlan_character_get_lorebook (old));
  g_assert_cmpuint (g_strv_length ((char **) lanlan_character_get_greetings (old)), ==, 0);

  c = lanlan_character_new ("Luna");
  lanlan_character_set_persona (c, "You are Luna.");
  serial = lanlan_character_get_serial (c);
  lanlan_character_set_greetings (c, greetings);
  lanlan_character_set_greeting_index (c, 1);
  /* Greetings are not sent to the model: no hot swap for them. */
  g_assert_cmpuint (lanlan_character_get_serial (c), ==, serial);
  g_assert_cmpstr (lanlan_character_get_greeting (c), ==, "Hello again.");
  lanlan_character_set_greeting_index (c, 7);
  g_assert_cmpuint (lanlan_character_get_greeting_index (c), ==, 0);
  lanlan_character_set_greeting_index (c, 1);

  book = lanlan_lorebook_new_from_json (parse_object (parser,
      "{\"entries\":[{\"keys\":[\"moon\"],\"content\":\"Luna lives on the moon.\"}]}"), &error);
  g_assert_no_error (error);
  lanlan_character_set_lorebook (c, book);
  /* The lorebook changes what the model is told. */
  g_assert_cmpuint (lanlan_character_get_serial (c), >, serial);

  instructions = lanlan_character_compose_instructions (c, recent, 1);
  g_assert_cmpstr (instructions, ==, "Luna lives on the moon.\n\nYou are Luna.");

  node = lanlan_character_to_json (c);
  copy = lanlan_character_new_from_json (json_node_get_object (node), &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal (lanlan_character_get_greetings (copy), greetings));
  g_assert_cmpuint (lanlan_character_get_greeting_index (copy), ==, 1);
  g_assert_cmpuint (lanlan_lorebook_get_n_entries (lanlan_character_get_lorebook (copy)), ==, 1);

  bad = lanlan_character_new_from_json (parse_object (parser,
      "{\"name\":\"X\",\"greetings\":[1]}"), &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  bad = lanlan_character_new_from_json (parse_object (parser,
      "{\"name\":\"X\",\"lorebook\":{\"entries\":7}}"), &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
}

static void
test_character_avatar_file (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) evil = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Pic");
  g_autoptr(LanlanCharacter) again = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) evil_file = NULL;
  g_autoptr(GFile) avatars = g_file_new_build_filename (g_get_user_data_dir (), "lanlan", "avatars", NULL);
  g_autoptr(GFile) parent = NULL;
  g_autoptr(GBytes) png = g_bytes_new_static ("\x89PNG fake", 9);
  g_autoptr(JsonNode) node = NULL;

  /* An id from an edited file cannot make the picture leave its folder. */
  evil = lanlan_character_new_from_json (parse_object (parser,
      "{\"id\":\"../../etc/x\",\"name\":\"Evil\"}"), &error);
  g_assert_no_error (error);
  evil_file = lanlan_character_dup_avatar_file (evil);
  parent = g_file_get_parent (evil_file);
  g_assert_true (g_file_equal (parent, avatars));

  g_assert_null (lanlan_character_get_avatar (c));
  lanlan_character_set_avatar (c, png);
  g_assert_true (lanlan_character_save_avatar (c, &error));
  g_assert_no_error (error);
  file = lanlan_character_dup_avatar_file (c);
  g_assert_true (g_file_query_exists (file, NULL));

  /* Another object for the same character reads the picture back. */
  node = lanlan_character_to_json (c);
  again = lanlan_character_new_from_json (json_node_get_object (node), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (lanlan_character_get_avatar (again), png));

  g_assert_true (lanlan_character_delete_avatar (again, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (file, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *data_home = g_dir_make_tmp ("lanlan-data-XXXXXX", NULL);

  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/character/json-roundtrip", test_character_json_roundtrip);
  g_test_add_func ("/character/serial", test_character_serial);
  g_test_add_func ("/character/bad-json", test_character_bad_json);
  g_test_add_func ("/character/card-fields", test_character_card_fields);
  g_test_add_func ("/character/avatar-file", test_character_avatar_file);
  g_test_add_func ("/store/first-run", test_store_first_run);
  g_test_add_func ("/store/roundtrip", test_store_roundtrip);
  g_test_add_func ("/store/autosave", test_store_autosave);
  g_test_add_func ("/store/corrupt", test_store_corrupt);
  g_test_add_func ("/store/deep-nesting", test_store_deep_nesting);

  return g_test_run ();
}
