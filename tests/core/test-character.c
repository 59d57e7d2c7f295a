/* test-character.c — characters and their store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <utime.h>

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

static char *
read_file (const char *path)
{
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

static void
notify_count (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

/* A characters.json that cannot be read is never replaced by the default
 * character, until the user agrees; then it is moved aside first. A
 * symlink loop is unreadable for root too. */
static void
test_store_unreadable (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *sub = g_path_get_dirname (path);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("New");
  g_autoptr(GError) error = NULL;
  g_autofree char *link = NULL;
  GFile *backup;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  g_assert_cmpint (symlink ("characters.json", path), ==, 0);

  g_assert_false (lanlan_character_store_load (store, &error));
  g_assert_nonnull (lanlan_character_store_get_load_error (store));
  g_assert_true (lanlan_character_store_get_write_blocked (store));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 1);
  g_clear_error (&error);

  /* Saving refuses, and says so; the file is untouched. */
  lanlan_character_store_add (store, c);
  g_assert_false (lanlan_character_store_save (store, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_nonnull (lanlan_character_store_get_save_error (store));
  link = g_file_read_link (path, NULL);
  g_assert_cmpstr (link, ==, "characters.json");

  /* The user agrees: the old file is kept aside, the new one written. */
  g_assert_true (lanlan_character_store_replace_unreadable (store, &error));
  g_assert_no_error (error);
  g_assert_false (lanlan_character_store_get_write_blocked (store));
  g_assert_null (lanlan_character_store_get_save_error (store));
  backup = lanlan_character_store_get_backup_file (store);
  g_assert_nonnull (backup);
  {
    g_autofree char *backup_path = g_file_get_path (backup);
    g_autofree char *kept = g_file_read_link (backup_path, NULL);
    g_assert_cmpstr (kept, ==, "characters.json");
    g_assert_nonnull (strstr (backup_path, "characters.json.unreadable-"));
  }
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_clear_object (&store);
  store = lanlan_character_store_new (file);
  g_assert_true (lanlan_character_store_load (store, NULL));
  g_assert_nonnull (lanlan_character_store_lookup_by_name (store, "New"));
  g_clear_object (&store);

  /* A folder in its place is kept too. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  store = lanlan_character_store_new (file);
  g_assert_false (lanlan_character_store_load (store, NULL));
  g_assert_true (lanlan_character_store_get_write_blocked (store));
  g_assert_false (lanlan_character_store_save (store, NULL));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  g_clear_object (&store);
  g_rmdir (path);

  /* Mode 000, where permissions apply to us (not root). */
  g_assert_true (g_file_set_contents (path, "{\"version\": 1, \"characters\": [{\"name\": \"Secret\"}]}", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0), ==, 0);
  {
    int fd = g_open (path, O_RDONLY, 0);

    if (fd >= 0)
      {
        close (fd);
        g_test_message ("permissions do not stop this user: mode 000 part skipped");
      }
    else
      {
        store = lanlan_character_store_new (file);
        g_assert_false (lanlan_character_store_load (store, NULL));
        g_assert_true (lanlan_character_store_get_write_blocked (store));
        g_clear_object (&store);   /* disposing must not save over it */
        g_chmod (path, 0600);
        {
          g_autofree char *contents = read_file (path);
          g_assert_nonnull (strstr (contents, "Secret"));
        }
      }
  }
  g_chmod (path, 0600);
  rm_rf (sub);
  rm_rf (dir);
}

/* A save the disk refuses: "save-error" stays until a save succeeds, the
 * changes stay in memory and the next change tries again. */
static void
test_store_save_fails (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *blocker = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(LanlanCharacterStore) store = NULL;
  g_autoptr(LanlanCharacterStore) again = NULL;
  g_autoptr(LanlanCharacter) first = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint notified = 0;

  dir = g_dir_make_tmp ("lanlan-store-XXXXXX", &error);
  g_assert_no_error (error);
  /* "lanlan" is a file, so lanlan/characters.json cannot be made. */
  blocker = g_build_filename (dir, "lanlan", NULL);
  g_assert_true (g_file_set_contents (blocker, "", -1, NULL));
  file = g_file_new_build_filename (dir, "lanlan", "characters.json", NULL);
  store = lanlan_character_store_new (file);
  g_signal_connect (store, "notify::save-error", G_CALLBACK (notify_count), &notified);

  g_assert_true (lanlan_character_store_load (store, NULL));
  first = g_list_model_get_item (G_LIST_MODEL (store), 0);
  lanlan_character_set_persona (first, "unsaved persona");
  g_assert_false (lanlan_character_store_save (store, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (lanlan_character_store_get_save_error (store));
  g_assert_cmpuint (notified, ==, 1);

  /* Still failing: the banner stays (its text may name a new temp file). */
  lanlan_character_set_voice (first, "verse");
  g_timeout_add_once (800, (GSourceOnceFunc) g_main_loop_quit, loop);
  g_main_loop_run (loop);
  g_assert_nonnull (lanlan_character_store_get_save_error (store));
  notified = 0;

  /* The disk is fixed; the next change saves everything kept. */
  g_assert_cmpint (g_unlink (blocker), ==, 0);
  lanlan_character_set_model (first, "m2");
  g_timeout_add_once (800, (GSourceOnceFunc) g_main_loop_quit, loop);
  g_main_loop_run (loop);
  g_assert_null (lanlan_character_store_get_save_error (store));
  g_assert_cmpuint (notified, ==, 1);

  again = lanlan_character_store_new (file);
  g_assert_true (lanlan_character_store_load (again, NULL));
  g_clear_object (&first);
  first = g_list_model_get_item (G_LIST_MODEL (again), 0);
  g_assert_cmpstr (lanlan_character_get_persona (first), ==, "unsaved persona");
  g_assert_cmpstr (lanlan_character_get_voice (first), ==, "verse");
  g_assert_cmpstr (lanlan_character_get_model (first), ==, "m2");

  g_clear_object (&store);
  rm_rf (dir);
}

/* A symlinked characters.json (dotfiles managers): written through. */
static void
test_store_symlink (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *sub = g_path_get_dirname (path);
  g_autofree char *real_dir = g_build_filename (dir, "dotfiles", NULL);
  g_autofree char *real = g_build_filename (real_dir, "lanlan-characters.json", NULL);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Linked");
  g_autofree char *link = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (real_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (real, "{\"version\": 1, \"characters\": [{\"name\": \"Mio\"}]}", -1, NULL));
  g_assert_cmpint (symlink ("../dotfiles/lanlan-characters.json", path), ==, 0);

  g_assert_true (lanlan_character_store_load (store, NULL));
  g_assert_nonnull (lanlan_character_store_lookup_by_name (store, "Mio"));
  lanlan_character_store_add (store, c);
  g_assert_true (lanlan_character_store_save (store, &error));
  g_assert_no_error (error);

  link = g_file_read_link (path, NULL);
  g_assert_cmpstr (link, ==, "../dotfiles/lanlan-characters.json");
  contents = read_file (real);
  g_assert_nonnull (strstr (contents, "Linked"));
  g_assert_nonnull (strstr (contents, "Mio"));

  g_clear_object (&store);
  rm_rf (real_dir);
  rm_rf (sub);
  rm_rf (dir);
}

/* A file from a newer version: unknown keys survive, and the file is
 * backed up before it is rewritten in the older format. */
static void
test_store_newer_version (void)
{
  static const char newer[] =
    "{\"version\": 99, \"future-top\": {\"a\": [1, 2]},"
    " \"characters\": [{\"id\": \"c1\", \"name\": \"Mio\", \"voice\": \"v\","
    "                   \"future-field\": \"keep me\", \"avatar-3d\": {\"mesh\": \"x\"}}]}";
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *sub = g_path_get_dirname (path);
  g_autofree char *backup_path = g_strdup_printf ("%s.v99-backup", path);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *contents = NULL;
  g_autofree char *backup = NULL;
  JsonObject *root, *character;
  LanlanCharacter *mio;

  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, newer, -1, NULL));

  g_assert_true (lanlan_character_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (lanlan_character_store_get_load_error (store), "newer"));
  mio = lanlan_character_store_lookup (store, "c1");
  g_assert_nonnull (mio);
  lanlan_character_set_voice (mio, "verse");
  g_assert_true (lanlan_character_store_save (store, &error));
  g_assert_no_error (error);

  /* The backup holds the original, byte for byte. */
  backup = read_file (backup_path);
  g_assert_cmpstr (backup, ==, newer);
  {
    g_autofree char *reported = g_file_get_path (lanlan_character_store_get_backup_file (store));
    g_assert_cmpstr (reported, ==, backup_path);
  }

  contents = read_file (path);
  g_assert_true (json_parser_load_from_data (parser, contents, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_has_member (root, "future-top"));
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (
                     json_object_get_object_member (root, "future-top"), "a")), ==, 2);
  character = json_array_get_object_element (json_object_get_array_member (root, "characters"), 0);
  g_assert_cmpstr (json_object_get_string_member (character, "future-field"), ==, "keep me");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (character, "avatar-3d"),
                                                  "mesh"), ==, "x");
  g_assert_cmpstr (json_object_get_string_member (character, "voice"), ==, "verse");

  /* Saved again: no second backup over the first. */
  lanlan_character_set_voice (mio, "marin");
  g_assert_true (lanlan_character_store_save (store, NULL));
  g_clear_pointer (&backup, g_free);
  backup = read_file (backup_path);
  g_assert_cmpstr (backup, ==, newer);

  g_clear_object (&store);
  rm_rf (sub);
  rm_rf (dir);
}

/* Temp files left by a save that was killed are removed at load; the
 * real file, backups, fresh temp files and ordinary names are not. */
static void
test_store_stale_temps (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GFile) file = temp_config (&dir);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *sub = g_path_get_dirname (path);
  const char *stale[] = { "characters.json.tmp-Ab3xYz", "characters.json.tmp-qwerty",
                          "characters.json.Ab3xYz" /* an older build's */ };
  const char *kept[] = { "characters.json.backup", "characters.json.Backup", "characters.json.202401",
                         "characters.json.corrupt-20260101-101010", "characters.json.v2-backup",
                         "other.json.Ab3xYz", "characters.json.tmp-Fresh1" };
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (file);
  struct utimbuf old = { .actime = time (NULL) - 3600, .modtime = time (NULL) - 3600 };

  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "{\"version\": 1, \"characters\": [{\"name\": \"Mio\"}]}", -1, NULL));
  g_assert_cmpint (utime (path, &old), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (sub, stale[i], NULL);
      g_assert_true (g_file_set_contents (p, "{\"version\": 1, \"chara", -1, NULL));
      g_assert_cmpint (utime (p, &old), ==, 0);
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *p = g_build_filename (sub, kept[i], NULL);
      g_assert_true (g_file_set_contents (p, "x", -1, NULL));
      if (!g_str_equal (kept[i], "characters.json.tmp-Fresh1"))
        g_assert_cmpint (utime (p, &old), ==, 0);
    }

  g_assert_true (lanlan_character_store_load (store, NULL));
  g_assert_nonnull (lanlan_character_store_lookup_by_name (store, "Mio"));
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (sub, stale[i], NULL);
      g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *p = g_build_filename (sub, kept[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_EXISTS));
    }
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  g_clear_object (&store);
  rm_rf (sub);
  rm_rf (dir);
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
  g_test_add_func ("/store/unreadable", test_store_unreadable);
  g_test_add_func ("/store/save-fails", test_store_save_fails);
  g_test_add_func ("/store/symlink", test_store_symlink);
  g_test_add_func ("/store/newer-version", test_store_newer_version);
  g_test_add_func ("/store/stale-temps", test_store_stale_temps);

  return g_test_run ();
}
