/* test-secrets.c — an API key goes to the keyring and the server, nowhere else
 *
 * A child process stores a known key in the (test session's) keyring,
 * configures a character for a loopback realtime server, and talks with
 * it, with every debug message switched on. The parent then checks that
 * the server got the key in the Authorization header, that the key is in
 * none of the child's log output (and that a deliberate attempt to log it
 * came out masked), and that it is in no file under $HOME, which holds
 * the XDG config, cache, data and state dirs of this test session.
 * Run again (as "secrets-no-keyring") on a bus with no Secret Service:
 * the key is then kept in memory only, and still reaches the server.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE  /* memmem */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lanlan-character-store.h"
#include "lanlan-counting-sink.h"
#include "lanlan-fake-server.h"
#include "lanlan-log.h"
#include "lanlan-secrets.h"
#include "lanlan-session-manager.h"

#define KEY "sk-lanlan-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

static gboolean
turn_done (gpointer data)
{
  return *(guint *) data > 0;
}

static void
on_turn_ended (LanlanSessionManager *session,
               guint                *n)
{
  (*n)++;
}

static void
on_error (LanlanSessionManager *session,
          GError               *error,
          gpointer              data)
{
  g_message ("session error: %s", error->message);
}

static void
child_talk_with_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new_default ();
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Keyholder");
  g_autoptr(LanlanCountingSink) sink = lanlan_counting_sink_new ();
  g_autoptr(LanlanSessionManager) session = NULL;
  g_autofree char *url = NULL;
  g_autofree char *auth = NULL;
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 3, .samples_per_delta = 480 };
  FakeServer *server;
  guint turns = 0;

  lanlan_log_init ();

  if (g_getenv ("LANLAN_TEST_NO_KEYRING"))
    {
      /* No keyring: kept in memory for this run, and said so. */
      g_assert_false (lanlan_secrets_store_sync ("custom", KEY, NULL, &error));
      g_assert_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_MEMORY_ONLY);
      g_clear_error (&error);
    }
  else
    {
      g_assert_true (lanlan_secrets_store_sync ("custom", KEY, NULL, &error));
      g_assert_no_error (error);
    }

  server = fake_server_new ();
  fake_server_set_default_script (server, &script);
  fake_server_set_expected_key (server, KEY);
  url = fake_server_get_url (server, "/v1/realtime");

  lanlan_character_store_load (store, NULL);
  lanlan_character_set_provider (c, "custom");
  lanlan_character_set_base_url (c, url);
  lanlan_character_store_add (store, c);
  g_assert_true (lanlan_character_store_save (store, &error));

  /* No key given: the session must find it in the keyring. */
  session = lanlan_session_manager_new (c, LANLAN_AUDIO_SINK (sink));
  g_signal_connect (session, "turn-ended", G_CALLBACK (on_turn_ended), &turns);
  g_signal_connect (session, "error", G_CALLBACK (on_error), NULL);
  lanlan_session_manager_start_session (session);
  lanlan_session_manager_stream_text (session, "Hello, can you hear me?");
  g_assert_true (test_wait_until (turn_done, &turns, 15000));

  auth = fake_server_dup_auth (server, 0);
  g_assert_cmpstr (auth, ==, "Bearer " KEY);

  /* If anything ever logs the key, it must come out masked. */
  g_message ("deliberate leak attempt: %s", KEY);
  g_debug ("deliberate leak attempt at debug level: " KEY);

  lanlan_session_manager_end_session (session);
  g_clear_object (&session);
  fake_server_free (server);
  g_print ("child done: %u turn(s)\n", turns);
}

static void
find_key_in_tree (const char *dir,
                  GPtrArray  *hits,
                  guint      *n_files)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          find_key_in_tree (path, hits, n_files);
          continue;
        }
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR) ||
          !g_file_get_contents (path, &contents, &len, NULL))
        continue;

      (*n_files)++;
      if (memmem (contents, len, KEY, strlen (KEY)) != NULL)
        g_ptr_array_add (hits, g_steal_pointer (&path));
    }
}

static void
test_key_only_in_keyring (void)
{
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *config = NULL;
  guint n_files = 0;

  if (g_test_subprocess ())
    {
      child_talk_with_key ();
      return;
    }

  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("G_MESSAGES_DEBUG");

  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done: 1 turn(s)*");
  g_test_trap_assert_stderr ("*deliberate leak attempt: [redacted]*");
  g_test_trap_assert_stderr_unmatched ("*" KEY "*");
  g_test_trap_assert_stdout_unmatched ("*" KEY "*");

  /* The character was saved, but its file holds no key. */
  config = g_build_filename (g_get_user_config_dir (), "lanlan", "characters.json", NULL);
  g_assert_true (g_file_test (config, G_FILE_TEST_EXISTS));

  find_key_in_tree (g_get_home_dir (), hits, &n_files);
  g_test_message ("searched %u files under %s", n_files, g_get_home_dir ());
  g_assert_cmpuint (n_files, >, 0);
  for (guint i = 0; i < hits->len; i++)
    g_test_message ("key found in %s", (char *) hits->pdata[i]);
  g_assert_cmpuint (hits->len, ==, 0);
}

/* No Secret Service on the bus: a stored key is kept in memory for the
 * run and found by lookups (sync and async); the error says why it will
 * not survive; clearing forgets it. */
static void
on_looked_up (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  char **out = data;
  g_autoptr(GError) error = NULL;

  *out = lanlan_secrets_lookup_finish (result, &error);
  g_assert_no_error (error);
}

static void
on_stored (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GError **out = data;

  g_assert_false (lanlan_secrets_store_finish (result, out));
}

static void
test_no_keyring_memory_only (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *async_key = NULL;
  GError *store_error = NULL;

  /* Nothing yet: the lookup says there is no keyring. */
  key = lanlan_secrets_lookup_sync ("openai", NULL, &error);
  g_assert_null (key);
  g_assert_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_NO_KEYRING);
  g_clear_error (&error);

  g_assert_false (lanlan_secrets_store_sync ("openai", KEY, NULL, &error));
  g_assert_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_MEMORY_ONLY);
  g_assert_null (strstr (error->message, KEY));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  key = lanlan_secrets_lookup_sync ("openai", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (key, ==, KEY);

  lanlan_secrets_lookup_async ("openai", NULL, on_looked_up, &async_key);
  while (async_key == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (async_key, ==, KEY);

  /* The async store takes the same way. */
  lanlan_secrets_store_async ("qwen", "sk-other-key-0123456789abcdef", NULL, on_stored, &store_error);
  while (store_error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (store_error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_MEMORY_ONLY);
  g_clear_error (&store_error);
  g_clear_pointer (&key, g_free);
  key = lanlan_secrets_lookup_sync ("qwen", NULL, NULL);
  g_assert_cmpstr (key, ==, "sk-other-key-0123456789abcdef");

  /* Cleared: gone. */
  g_assert_true (lanlan_secrets_clear_sync ("openai", NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&key, g_free);
  key = lanlan_secrets_lookup_sync ("openai", NULL, &error);
  g_assert_null (key);
  g_assert_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_NO_KEYRING);
}

static void
test_redact (void)
{
  g_autofree char *masked = NULL;

  lanlan_log_add_secret (KEY);
  lanlan_log_add_secret ("short");   /* too short to be a key: not masked */

  masked = lanlan_log_redact ("a " KEY " b " KEY);
  g_assert_cmpstr (masked, ==, "a [redacted] b [redacted]");
  g_assert_null (lanlan_log_redact ("nothing short here"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  /* This test must only ever touch the throwaway HOME of the harness. */
  if (g_getenv ("LANLAN_TEST_ROOT") == NULL)
    {
      g_printerr ("run this inside tests/harness/lanlan-test-env\n");
      return 77;
    }

  g_test_add_func ("/secrets/redact", test_redact);
  if (g_getenv ("LANLAN_TEST_NO_KEYRING"))
    {
      /* Run by the test "secrets-no-keyring": a bus with no Secret Service. */
      /* The subprocess test first: it sets and unsets G_MESSAGES_DEBUG,
       * which GLib complains about once threads exist. */
      g_test_add_func ("/secrets/no-keyring/key-reaches-server-not-disk", test_key_only_in_keyring);
      g_test_add_func ("/secrets/no-keyring/memory-only", test_no_keyring_memory_only);
    }
  else
    g_test_add_func ("/secrets/key-only-in-keyring", test_key_only_in_keyring);

  return g_test_run ();
}
