/* test-conversation-memory.c — the rolling summary, end to end
 *
 * A realtime character talks past the priming budget (40 messages) with
 * the fake realtime server; the oldest turns overflow, the summarizer
 * asks the same server's strict /v1/chat/completions, the summary lands
 * in the real database file with its bookmark, and a new session (after
 * a restart of the conversation from the same file) is primed with the
 * summary plus only the messages after it.
 *
 * When the summary service refuses (500, 401): a clear error, nothing
 * lost (every message stored, the refused batch tried again with the
 * next one), the conversation keeps answering, and a new session is
 * primed with the newest messages alone.
 *
 * And the history's own home: damage the integrity check finds after
 * opening (it runs off the main thread) keeps the file aside untouched
 * and carries what is shown over into the fresh one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lanlan-conversation.h"
#include "lanlan-fake-server.h"
#include "lanlan-secrets.h"
#include "lanlan-store.h"

#define KEY "sk-memory-0123456789"

typedef struct {
  FakeServer         *server;
  char               *dir;
  char               *path;
  LanlanStore        *store;
  LanlanCharacter    *character;
  LanlanConversation *conversation;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 2,
                        .samples_per_delta = 240, .text_only = TRUE };
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  f->server = fake_server_new ();
  fake_server_set_default_script (f->server, &script);
  /* The realtime socket and the chat endpoint both want this key. */
  fake_server_set_expected_key (f->server, KEY);
  f->dir = g_dir_make_tmp ("lanlan-memory-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "lanlan.db", NULL);
  f->store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);

  url = fake_server_get_url (f->server, NULL);
  f->character = lanlan_character_new ("Mika");
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_voice (f->character, "alloy");
  g_assert_true (lanlan_secrets_store_sync ("custom", KEY, NULL, &error));
  g_assert_no_error (error);
}

static gboolean
all_closed (gpointer data)
{
  FakeServer *server = data;

  for (guint i = 0; i < fake_server_get_n_connections (server); i++)
    if (!fake_server_is_closed (server, i))
      return FALSE;
  return TRUE;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->conversation != NULL)
    lanlan_conversation_end (f->conversation);
  g_clear_object (&f->conversation);
  /* Each closing handshake over before the server goes (its close
   * timeout would outlive the server's context). */
  g_assert_true (test_wait_until (all_closed, f->server, 10000));
  g_clear_object (&f->character);
  lanlan_store_flush (f->store, NULL);
  g_clear_object (&f->store);
  fake_server_free (f->server);
  for (guint i = 0; i < 3; i++)
    {
      static const char * const suffix[] = { "", "-wal", "-shm" };
      g_autofree char *p = g_strconcat (f->path, suffix[i], NULL);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static LanlanConversation *
open_conversation (Fixture *f)
{
  LanlanConversation *c = lanlan_conversation_new (f->character, f->store);
  guint notified = 0;
  gulong id;

  /* The key lookup answers once. */
  id = g_signal_connect_swapped (c, "notify::has-api-key", G_CALLBACK (g_atomic_int_inc), &notified);
  while (notified == 0)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (c, id);
  g_assert_true (lanlan_conversation_get_has_api_key (c));
  return c;
}

/* A restart: the conversation object goes, a new one opens the same file. */
static void
restart (Fixture *f)
{
  g_autofree char *id = g_strdup (lanlan_conversation_get_id (f->conversation));

  lanlan_conversation_end (f->conversation);
  g_clear_object (&f->conversation);
  g_assert_true (lanlan_store_flush (f->store, NULL));
  f->conversation = open_conversation (f);
  g_assert_cmpstr (lanlan_conversation_get_id (f->conversation), ==, id);
}

static LanlanMessage *
item (LanlanConversation *c,
      guint               i)
{
  GListModel *model = lanlan_conversation_get_messages (c);
  LanlanMessage *m;

  if (i >= g_list_model_get_n_items (model))
    return NULL;
  m = g_list_model_get_item (model, i);
  g_object_unref (m);   /* the model keeps it */
  return m;
}

static char *
fact (guint n)
{
  return g_strdup_printf ("Fact %02u: my number %u is lucky.", n, n * 7);
}

static gboolean
turn_done (gpointer data)
{
  LanlanConversation *c = data;
  guint n = g_list_model_get_n_items (lanlan_conversation_get_messages (c));
  LanlanMessage *last = n >= 2 ? item (c, n - 1) : NULL;

  /* Over means the session has the response done, not only its
   * transcript: text typed before response.done cuts the answer short
   * (an interrupted reply), as barge-in should. */
  return last != NULL && n % 2 == 0 &&
         lanlan_conversation_get_state (c) == LANLAN_SESSION_STATE_CONNECTED &&
         lanlan_message_get_role (last) == LANLAN_MESSAGE_ROLE_ASSISTANT &&
         lanlan_message_get_status (last) == LANLAN_MESSAGE_STATUS_SENT &&
         lanlan_message_get_status (item (c, n - 2)) == LANLAN_MESSAGE_STATUS_SENT;
}

/* Typed turns @from..@to, one answer each. */
static void
talk (Fixture *f,
      guint    from,
      guint    to)
{
  for (guint i = from; i <= to; i++)
    {
      g_autofree char *text = fact (i);
      guint before = g_list_model_get_n_items (lanlan_conversation_get_messages (f->conversation));

      lanlan_conversation_send_text (f->conversation, text);
      g_assert_true (test_wait_until (turn_done, f->conversation, 15000));
      g_assert_cmpuint (g_list_model_get_n_items (lanlan_conversation_get_messages (f->conversation)),
                        ==, before + 2);
    }
}

typedef struct {
  Fixture *f;
  guint    n;
} Wait;

static gboolean
n_chat_requests (gpointer data)
{
  Wait *w = data;
  g_autoptr(GPtrArray) requests = fake_server_dup_chat_requests (w->f->server);

  return requests->len >= w->n;
}

static char *
chat_request (Fixture *f,
              guint    i)
{
  g_autoptr(GPtrArray) requests = fake_server_dup_chat_requests (f->server);

  g_assert_cmpuint (requests->len, >, i);
  return g_strdup (g_ptr_array_index (requests, i));
}

typedef struct {
  Fixture    *f;
  const char *text;
} WaitSummary;

static gboolean
summary_stored (gpointer data)
{
  WaitSummary *w = data;
  g_autofree char *summary = NULL;

  lanlan_store_flush (w->f->store, NULL);
  summary = lanlan_store_dup_summary (w->f->store, lanlan_conversation_get_id (w->f->conversation), NULL);
  return g_strcmp0 (summary, w->text) == 0;
}

typedef struct {
  Fixture    *f;
  guint       index;   /* of the message the summary must reach */
  const char *text;
} UptoWait;

static gboolean
summary_upto (gpointer data)
{
  UptoWait *w = data;
  g_autofree char *summary = NULL;
  g_autofree char *upto = NULL;

  lanlan_store_flush (w->f->store, NULL);
  summary = lanlan_store_dup_summary (w->f->store, lanlan_conversation_get_id (w->f->conversation), &upto);
  return g_strcmp0 (summary, w->text) == 0 &&
         g_strcmp0 (upto, lanlan_message_get_id (item (w->f->conversation, w->index))) == 0;
}

static gboolean
has_error (gpointer data)
{
  return lanlan_conversation_get_error (data) != NULL;
}

static gboolean
has_no_error (gpointer data)
{
  return lanlan_conversation_get_error (data) == NULL;
}

/* Everything connection @index was primed with and sent: its
 * instructions and its conversation items, one "role:text" line each. */
static char *
primed (Fixture *f,
        guint    index)
{
  g_autoptr(GPtrArray) items = fake_server_dup_items (f->server, index);
  g_autofree char *instructions = fake_server_dup_instructions (f->server, index);
  GString *s = g_string_new (instructions);

  g_string_append_c (s, '\n');
  for (guint i = 0; i < items->len; i++)
    g_string_append_printf (s, "%s\n", (char *) g_ptr_array_index (items, i));
  return g_string_free (s, FALSE);
}

static void
assert_facts (const char *where,
              guint       from,
              guint       to,
              gboolean    present)
{
  for (guint i = from; i <= to; i++)
    {
      g_autofree char *text = fact (i);

      if ((strstr (where, text) != NULL) != present)
        g_error ("“%s” is %s in:\n%s", text, present ? "missing" : "present", where);
    }
}

static void
assert_all_stored (Fixture *f,
                   guint    n_facts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stored = NULL;

  g_assert_true (lanlan_store_flush (f->store, &error));
  stored = lanlan_store_load_messages (f->store, lanlan_conversation_get_id (f->conversation), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 2 * n_facts);
  for (guint i = 0; i < n_facts; i++)
    {
      g_autofree char *text = fact (i + 1);

      g_assert_cmpstr (lanlan_message_get_text (g_ptr_array_index (stored, 2 * i)), ==, text);
      g_assert_cmpint (lanlan_message_get_status (g_ptr_array_index (stored, 2 * i + 1)), ==,
                       LANLAN_MESSAGE_STATUS_SENT);
    }
}

static void
assert_nothing_refused (Fixture *f)
{
  for (guint i = 0; i < fake_server_get_n_connections (f->server); i++)
    {
      g_autofree char *errors = fake_server_dup_errors (f->server, i);

      g_assert_cmpuint (fake_server_count_errors (f->server, i), ==, 0);
      (void) errors;
    }
  g_assert_cmpuint (fake_server_get_n_chat_rejected (f->server), ==, 0);
}

#define MEMO "Mika's memo: the user listed lucky numbers, facts 1 to 6."

static void
test_summary_primes_new_session (Fixture *f, gconstpointer data)
{
  WaitSummary stored = { f, MEMO };
  Wait one = { f, 1 };
  g_autofree char *request = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *upto = NULL;
  g_autofree char *prime = NULL;
  guint first;

  fake_server_set_chat_reply (f->server, 200, MEMO);
  f->conversation = open_conversation (f);

  /* 21 turns: the 41st message passes the 40-message budget, and the
   * oldest 11 (facts 1–6 and five answers) go to the summarizer. */
  talk (f, 1, 21);
  g_assert_true (test_wait_until (n_chat_requests, &one, 15000));
  g_assert_true (test_wait_until (summary_stored, &stored, 15000));
  request = chat_request (f, 0);
  g_test_message ("summary request:\n%s", request);
  g_assert_nonnull (strstr (request, "Previous summary:\n(none)"));
  assert_facts (request, 1, 6, TRUE);
  assert_facts (request, 7, 21, FALSE);
  summary = lanlan_store_dup_summary (f->store, lanlan_conversation_get_id (f->conversation), &upto);
  g_assert_cmpstr (summary, ==, MEMO);
  /* The bookmark is the newest message summarized: fact 6. */
  g_assert_cmpstr (upto, ==, lanlan_message_get_id (item (f->conversation, 10)));
  g_assert_null (lanlan_conversation_get_error (f->conversation));

  /* A restart from the same file: the new session gets the summary and
   * the messages after it, not the ones it covers. */
  first = fake_server_get_n_connections (f->server);
  restart (f);
  talk (f, 22, 22);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), >, first);
  prime = primed (f, first);
  g_test_message ("primed:\n%s", prime);
  g_assert_nonnull (strstr (prime, MEMO));
  assert_facts (prime, 1, 6, FALSE);
  assert_facts (prime, 7, 22, TRUE);
  assert_all_stored (f, 22);
  assert_nothing_refused (f);
}

#define MEMO2 "Mika's memo: facts 1 to 11, lucky numbers all."

static void
test_summary_refused (Fixture *f, gconstpointer data)
{
  guint status = GPOINTER_TO_UINT (data);
  UptoWait reached = { f, 21, MEMO2 };
  Wait one = { f, 1 }, two = { f, 2 };
  g_autofree char *request = NULL;
  g_autofree char *prime = NULL;
  g_autofree char *code = g_strdup_printf ("%u", status);
  g_autofree char *summary = NULL;
  g_autofree char *upto = NULL;
  const GError *error;
  guint first;
  g_autoptr(GPtrArray) refused = NULL;

  fake_server_set_chat_reply (f->server, status, NULL);
  f->conversation = open_conversation (f);
  talk (f, 1, 21);
  g_assert_true (test_wait_until (n_chat_requests, &one, 15000));

  /* A clear error, which says what the service answered. */
  g_assert_true (test_wait_until (has_error, f->conversation, 15000));
  error = lanlan_conversation_get_error (f->conversation);
  g_test_message ("error: %s", error->message);
  g_assert_error ((GError *) error, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MEMORY);
  g_assert_nonnull (strstr (error->message, code));
  g_assert_null (lanlan_store_dup_summary (f->store, lanlan_conversation_get_id (f->conversation), NULL));
  assert_all_stored (f, 21);

  /* A new session (reconnect) falls back to the newest messages. */
  first = fake_server_get_n_connections (f->server);
  lanlan_conversation_reconnect (f->conversation);
  talk (f, 22, 22);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), >, first);
  prime = primed (f, first);
  g_assert_null (strstr (prime, "Summary of the earlier conversation"));
  assert_facts (prime, 1, 6, FALSE);
  assert_facts (prime, 7, 22, TRUE);
  g_clear_pointer (&prime, g_free);

  /* The service is back. The refused batch goes again (with the next
   * overflow, after five more turns, or on its own a little later): none
   * of it is skipped, and the summary reaches exactly fact 11's answer. */
  refused = fake_server_dup_chat_requests (f->server);
  fake_server_set_chat_reply (f->server, 200, MEMO2);
  talk (f, 23, 26);
  two.n = refused->len + 1;
  g_assert_true (test_wait_until (n_chat_requests, &two, 15000));
  g_assert_true (test_wait_until (summary_upto, &reached, 15000));
  g_assert_true (test_wait_until (has_no_error, f->conversation, 5000));
  {
    g_autoptr(GPtrArray) requests = fake_server_dup_chat_requests (f->server);
    GString *after = g_string_new (NULL);

    for (guint i = refused->len; i < requests->len; i++)
      g_string_append (after, g_ptr_array_index (requests, i));
    request = g_string_free (after, FALSE);
  }
  g_test_message ("summary requests once the service is back:\n%s", request);
  assert_facts (request, 1, 11, TRUE);
  assert_facts (request, 12, 26, FALSE);
  summary = lanlan_store_dup_summary (f->store, lanlan_conversation_get_id (f->conversation), &upto);
  g_assert_cmpstr (summary, ==, MEMO2);
  /* Facts 1–11 and their answers: 22 messages. */
  g_assert_cmpstr (upto, ==, lanlan_message_get_id (item (f->conversation, 21)));

  /* After a restart: the summary and facts 12 on. */
  first = fake_server_get_n_connections (f->server);
  restart (f);
  talk (f, 27, 27);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), >, first);
  prime = primed (f, first);
  g_test_message ("primed:\n%s", prime);
  g_assert_nonnull (strstr (prime, MEMO2));
  assert_facts (prime, 1, 11, FALSE);
  assert_facts (prime, 12, 27, TRUE);
  assert_all_stored (f, 27);
  assert_nothing_refused (f);
}

#define MEMO3 "Mika's memo: facts 1 to 6, after a hiccup."

/* A refused summary is tried again on its own a few seconds later,
 * without waiting for more turns. */
static void
test_summary_retried (Fixture *f, gconstpointer data)
{
  UptoWait reached = { f, 10, MEMO3 };
  Wait one = { f, 1 }, two = { f, 2 };
  g_autofree char *request = NULL;

  fake_server_set_chat_reply (f->server, 500, NULL);
  f->conversation = open_conversation (f);
  talk (f, 1, 21);
  g_assert_true (test_wait_until (n_chat_requests, &one, 15000));
  g_assert_true (test_wait_until (has_error, f->conversation, 15000));
  fake_server_set_chat_reply (f->server, 200, MEMO3);

  g_assert_true (test_wait_until (n_chat_requests, &two, 20000));
  g_assert_true (test_wait_until (summary_upto, &reached, 15000));
  g_assert_true (test_wait_until (has_no_error, f->conversation, 5000));
  request = chat_request (f, 1);
  assert_facts (request, 1, 6, TRUE);
  assert_facts (request, 7, 21, FALSE);
  assert_all_stored (f, 21);
  assert_nothing_refused (f);
}

/* Overwrites the leaf count of the file's first freelist trunk page: a
 * damage PRAGMA integrity_check reports and ordinary reads never touch.
 * Returns the damaged contents. */
static GBytes *
damage_freelist (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length;
  guint page_size, trunk;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  page_size = ((guchar) contents[16] << 8) | (guchar) contents[17];
  if (page_size == 1)
    page_size = 65536;
  trunk = ((guint) (guchar) contents[32] << 24) | ((guint) (guchar) contents[33] << 16) |
          ((guint) (guchar) contents[34] << 8) | (guint) (guchar) contents[35];
  g_assert_cmpuint (trunk, >, 1);
  g_assert_cmpuint ((gsize) trunk * page_size, <=, length);
  memset (contents + (gsize) (trunk - 1) * page_size + 4, 0x7f, 4);
  g_assert_true (g_file_set_contents (path, contents, length, NULL));
  return g_bytes_new_take (g_steal_pointer (&contents), length);
}

static void
on_damaged (LanlanStore *store,
            GError      *error,
            GError     **out)
{
  g_clear_error (out);
  *out = g_error_copy (error);
}

static gboolean
is_set (gpointer data)
{
  return *(GError **) data != NULL;
}

/* The integrity check runs after opening, on the store's writer thread.
 * When it finds the file damaged the conversation already shows what it
 * read from it: that is carried over into the fresh file under a new
 * id, the damaged file is kept byte for byte, and talking goes on. */
static void
test_damage_found_after_opening (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) damaged = NULL;
  g_autoptr(GBytes) bad = NULL;
  g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) stored = NULL;
  g_autofree char *old_id = NULL;
  g_autofree char *kept_contents = NULL;
  gsize kept_length;
  const char *kept;

  f->conversation = open_conversation (f);
  talk (f, 1, 2);
  old_id = g_strdup (lanlan_conversation_get_id (f->conversation));
  /* Free pages, for the freelist to damage. */
  {
    g_autofree char *other = lanlan_store_create_conversation (f->store, "someone-else");

    for (guint i = 0; i < 200; i++)
      {
        g_autofree char *text = g_strnfill (2000, 'a' + i % 26);
        g_autoptr(LanlanMessage) m = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, text);

        lanlan_store_save_message (f->store, other, m);
      }
    g_assert_true (lanlan_store_flush (f->store, NULL));
    lanlan_store_delete_conversation (f->store, other);
  }
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (shown, g_strdup (lanlan_message_get_id (item (f->conversation, i))));
  lanlan_conversation_end (f->conversation);
  g_clear_object (&f->conversation);
  g_assert_true (lanlan_store_flush (f->store, NULL));
  g_clear_object (&f->store);   /* checkpoints into the main file */

  bad = damage_freelist (f->path);
  f->store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);   /* the cheap checks pass */
  g_signal_connect (f->store, "damaged", G_CALLBACK (on_damaged), &damaged);
  f->conversation = open_conversation (f);
  g_assert_true (test_wait_until (is_set, &damaged, 15000));
  g_test_message ("damaged: %s", damaged->message);
  g_assert_error (damaged, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);

  /* Kept aside unchanged. */
  kept = lanlan_store_get_kept_aside (f->store);
  g_assert_nonnull (kept);
  g_assert_nonnull (strstr (damaged->message, kept));
  g_assert_true (g_file_get_contents (kept, &kept_contents, &kept_length, NULL));
  g_assert_cmpmem (kept_contents, kept_length, g_bytes_get_data (bad, NULL), g_bytes_get_size (bad));

  /* What was shown is in the fresh file, same message ids, new
   * conversation id; and the conversation goes on there. */
  g_assert_nonnull (lanlan_conversation_get_id (f->conversation));
  g_assert_cmpstr (lanlan_conversation_get_id (f->conversation), !=, old_id);
  talk (f, 3, 3);
  assert_all_stored (f, 3);
  stored = lanlan_store_load_messages (f->store, lanlan_conversation_get_id (f->conversation), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < shown->len; i++)
    g_assert_cmpstr (lanlan_message_get_id (g_ptr_array_index (stored, i)), ==, g_ptr_array_index (shown, i));

  lanlan_conversation_end (f->conversation);
  g_clear_object (&f->conversation);
  g_clear_object (&f->store);
  /* Closing wrote nothing into the kept file. */
  g_clear_pointer (&kept_contents, g_free);
  {
    g_autofree char *kept_path = NULL;
    g_autofree char *dir = g_path_get_dirname (f->path);
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *p = g_build_filename (dir, name, NULL);

        if (g_str_has_prefix (name, "lanlan.db.damaged-") && !g_str_has_suffix (name, "-wal") &&
            !g_str_has_suffix (name, "-shm"))
          {
            g_assert_true (g_file_get_contents (p, &kept_contents, &kept_length, NULL));
            g_assert_cmpmem (kept_contents, kept_length, g_bytes_get_data (bad, NULL), g_bytes_get_size (bad));
            g_clear_pointer (&kept_contents, g_free);
          }
        if (g_str_has_prefix (name, "lanlan.db.damaged-"))
          g_unlink (p);
      }
  }
  /* The fixture's teardown flushes its store. */
  f->store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  g_test_add ("/conversation/memory/summary-primes-new-session", Fixture, NULL,
              fixture_setup, test_summary_primes_new_session, fixture_teardown);
  g_test_add ("/conversation/memory/summary-refused-500", Fixture, GUINT_TO_POINTER (500),
              fixture_setup, test_summary_refused, fixture_teardown);
  g_test_add ("/conversation/memory/summary-refused-401", Fixture, GUINT_TO_POINTER (401),
              fixture_setup, test_summary_refused, fixture_teardown);
  g_test_add ("/conversation/memory/summary-retried-on-its-own", Fixture, NULL,
              fixture_setup, test_summary_retried, fixture_teardown);
  g_test_add ("/conversation/memory/damage-found-after-opening", Fixture, NULL,
              fixture_setup, test_damage_found_after_opening, fixture_teardown);
  return g_test_run ();
}
