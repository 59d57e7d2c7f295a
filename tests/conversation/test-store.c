/* test-store.c — the conversation database against real SQLite files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lanlan-store.h"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("lanlan-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "sub", "lanlan.db", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_chmod (path, 0700);
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static LanlanStore *
open_store (const char *path)
{
  g_autoptr(GError) error = NULL;
  LanlanStore *store = lanlan_store_new (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static LanlanMessage *
message (LanlanMessageRole  role,
         const char        *text,
         gint64             created)
{
  g_autofree char *id = g_uuid_string_random ();

  return lanlan_message_new_full (id, role, text, created, 0, LANLAN_MESSAGE_STATUS_SENT);
}

static void
flush (LanlanStore *store)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (lanlan_store_flush (store, &error));
  g_assert_no_error (error);
}

static void
iterate_until (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  g_assert_true (*flag);
}

/* ---- Basics --------------------------------------------------------- */

static void
test_roundtrip (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "char-a");
  g_autoptr(LanlanMessage) user = message (LANLAN_MESSAGE_ROLE_USER, "Hello there\nsecond line", 1000);
  g_autoptr(LanlanMessage) reply = message (LANLAN_MESSAGE_ROLE_ASSISTANT, "Hi! 你好", 2000);
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  LanlanMessage *m;

  g_assert_true (g_uuid_string_is_valid (conv));
  g_assert_cmpstr (lanlan_store_get_path (store), ==, f->path);
  g_assert_null (lanlan_store_get_kept_aside (store));

  lanlan_message_set_translation (reply, "Salut");
  lanlan_message_set_heard (reply, "Hi!");
  lanlan_message_set_status (reply, LANLAN_MESSAGE_STATUS_INTERRUPTED);
  lanlan_store_save_message (store, conv, user);
  lanlan_store_save_message (store, conv, reply);
  g_clear_object (&store);

  /* Closed and reopened: everything is on disk. */
  store = open_store (f->path);
  loaded = lanlan_store_load_messages (store, conv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 2);
  m = loaded->pdata[0];
  g_assert_cmpstr (lanlan_message_get_id (m), ==, lanlan_message_get_id (user));
  g_assert_cmpint (lanlan_message_get_role (m), ==, LANLAN_MESSAGE_ROLE_USER);
  g_assert_cmpstr (lanlan_message_get_text (m), ==, "Hello there\nsecond line");
  g_assert_cmpint (lanlan_message_get_created (m), ==, 1000);
  g_assert_cmpint (lanlan_message_get_status (m), ==, LANLAN_MESSAGE_STATUS_SENT);
  g_assert_null (lanlan_message_get_translation (m));
  m = loaded->pdata[1];
  g_assert_cmpstr (lanlan_message_get_text (m), ==, "Hi! 你好");
  g_assert_cmpstr (lanlan_message_get_translation (m), ==, "Salut");
  g_assert_cmpstr (lanlan_message_get_heard (m), ==, "Hi!");
  g_assert_cmpint (lanlan_message_get_status (m), ==, LANLAN_MESSAGE_STATUS_INTERRUPTED);
  g_assert_cmpint (lanlan_message_get_ended (m), ==, lanlan_message_get_ended (reply));
  g_assert_cmpint (lanlan_message_get_ended (m), >, 0);

  list = lanlan_store_list_conversations (store, "char-a", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  {
    LanlanStoreConversation *c = list->pdata[0];

    g_assert_cmpstr (c->id, ==, conv);
    g_assert_cmpstr (c->character_id, ==, "char-a");
    g_assert_cmpstr (c->title, ==, "Hello there second line");
    g_assert_cmpuint (c->n_messages, ==, 2);
    g_assert_cmpint (c->updated, >=, 2000);
  }
  g_clear_pointer (&list, g_ptr_array_unref);
  list = lanlan_store_list_conversations (store, "nobody", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);

  /* Unknown conversation. */
  g_clear_pointer (&loaded, g_ptr_array_unref);
  loaded = lanlan_store_load_messages (store, "no-such", &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NOT_FOUND);
  g_assert_null (loaded);
}

static void
test_order_and_replace (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "c");
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GError) error = NULL;
  LanlanMessage *streaming;

  /* Order is the order of first saving, not the creation time. */
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      LanlanMessage *m = message (i % 2 ? LANLAN_MESSAGE_ROLE_ASSISTANT : LANLAN_MESSAGE_ROLE_USER,
                                  text, 100000 - i);
      g_ptr_array_add (messages, m);
      lanlan_store_save_message (store, conv, m);
    }
  /* A streaming reply saved at every delta keeps its place and ends with
   * its final text; some saves go through the disk between deltas. */
  streaming = messages->pdata[5];
  lanlan_message_set_text (streaming, "");
  lanlan_message_set_status (streaming, LANLAN_MESSAGE_STATUS_PENDING);
  for (guint i = 0; i < 50; i++)
    {
      lanlan_message_append_text (streaming, "ab");
      lanlan_store_save_message (store, conv, streaming);
      if (i % 7 == 0)
        flush (store);
    }
  lanlan_message_set_status (streaming, LANLAN_MESSAGE_STATUS_SENT);
  lanlan_store_save_message (store, conv, streaming);

  loaded = lanlan_store_load_messages (store, conv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 20);
  for (guint i = 0; i < 20; i++)
    g_assert_cmpstr (lanlan_message_get_id (loaded->pdata[i]), ==,
                     lanlan_message_get_id (messages->pdata[i]));
  g_assert_cmpuint (strlen (lanlan_message_get_text (loaded->pdata[5])), ==, 100);
  g_assert_cmpint (lanlan_message_get_status (loaded->pdata[5]), ==, LANLAN_MESSAGE_STATUS_SENT);

  /* The search index follows the replacement: the old text is gone. */
  {
    g_autoptr(GPtrArray) hits = lanlan_store_search (store, "message", NULL, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (hits->len, ==, 19);
    for (guint i = 0; i < hits->len; i++)
      g_assert_cmpstr (((LanlanStoreHit *) hits->pdata[i])->message_id, !=,
                       lanlan_message_get_id (streaming));
    g_clear_pointer (&hits, g_ptr_array_unref);
    hits = lanlan_store_search (store, "ababab", NULL, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (hits->len, ==, 1);
  }

  /* Deleting one message. */
  lanlan_store_delete_message (store, lanlan_message_get_id (messages->pdata[3]));
  g_clear_pointer (&loaded, g_ptr_array_unref);
  loaded = lanlan_store_load_messages (store, conv, &error);
  g_assert_cmpuint (loaded->len, ==, 19);
  g_assert_cmpstr (lanlan_message_get_id (loaded->pdata[3]), ==,
                   lanlan_message_get_id (messages->pdata[4]));
}

static gint64
count_rows (const char *path,
            const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static void
test_delete_cascade (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *a1 = lanlan_store_create_conversation (store, "a");
  g_autofree char *a2 = lanlan_store_create_conversation (store, "a");
  g_autofree char *b1 = lanlan_store_create_conversation (store, "b");
  const char *convs[] = { a1, a2, b1 };
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *latest = NULL;

  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 5; i++)
      {
        g_autofree char *text = g_strdup_printf ("zebra %u in %u", i, c);
        g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, text, (c + 1) * 1000 + i);
        lanlan_store_save_message (store, convs[c], m);
      }

  latest = lanlan_store_dup_latest_conversation (store, "a");
  g_assert_cmpstr (latest, ==, a2);
  list = lanlan_store_list_conversations (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_cmpstr (((LanlanStoreConversation *) list->pdata[0])->id, ==, b1);

  lanlan_store_delete_conversation (store, a1);
  hits = lanlan_store_search (store, "zebra", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 10);
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM messages"), ==, 10);

  lanlan_store_delete_character (store, "a");
  flush (store);
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM messages"), ==, 5);
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM conversations"), ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "zebra", NULL, 0, &error);
  g_assert_cmpuint (hits->len, ==, 5);
  g_clear_pointer (&latest, g_free);
  latest = lanlan_store_dup_latest_conversation (store, "a");
  g_assert_null (latest);

  /* A message saved to a deleted conversation is dropped, and does not
   * stop the writes queued with it. */
  {
    g_autoptr(LanlanMessage) late = message (LANLAN_MESSAGE_ROLE_ASSISTANT, "late", 9000);
    g_autoptr(LanlanMessage) fine = message (LANLAN_MESSAGE_ROLE_USER, "fine", 9001);

    lanlan_store_save_message (store, a1, late);
    lanlan_store_save_message (store, b1, fine);
    flush (store);
    g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM messages"), ==, 6);
  }
}

static void
test_summary (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "c");
  g_autofree char *upto = NULL;
  g_autofree char *summary = NULL;

  summary = lanlan_store_dup_summary (store, conv, &upto);
  g_assert_null (summary);
  g_assert_null (upto);

  lanlan_store_set_summary (store, conv, "They talked about cats. 猫の話。", "msg-42");
  g_clear_object (&store);
  store = open_store (f->path);
  summary = lanlan_store_dup_summary (store, conv, &upto);
  g_assert_cmpstr (summary, ==, "They talked about cats. 猫の話。");
  g_assert_cmpstr (upto, ==, "msg-42");
  g_clear_pointer (&summary, g_free);
  summary = lanlan_store_dup_summary (store, conv, NULL);
  g_assert_nonnull (summary);
}

/* ---- Search ----------------------------------------------------------- */

static void
test_search (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *a = lanlan_store_create_conversation (store, "alice");
  g_autofree char *b = lanlan_store_create_conversation (store, "bob");
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GError) error = NULL;
  struct { const char *conv; const char *text; gint64 t; } rows[] = {
    { a, "The weather in Kyoto is lovely today", 10 },
    { a, "今日は京都の天気がとてもいいですね", 20 },
    { b, "我们明天去北京吧", 30 },
    { b, "Is the WEATHER nice where you are?", 40 },
    { a, "A \"quoted\" OR tricky* (query) NEAR text", 50 },
    { b, "猫", 60 },
  };
  LanlanStoreHit *hit;

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, rows[i].text, rows[i].t);
      lanlan_store_save_message (store, rows[i].conv, m);
    }

  /* English, case-insensitive, newest first. */
  hits = lanlan_store_search (store, "weather", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 2);
  hit = hits->pdata[0];
  g_assert_cmpint (hit->created, ==, 40);
  g_assert_cmpstr (hit->conversation_id, ==, b);
  g_assert_cmpstr (hit->character_id, ==, "bob");
  g_assert_cmpstr (hit->role, ==, "user");
  g_assert_nonnull (strstr (hit->snippet, "WEATHER"));
  g_assert_cmpint (((LanlanStoreHit *) hits->pdata[1])->created, ==, 10);

  /* Character filter and limit. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "weather", "alice", 0, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpstr (((LanlanStoreHit *) hits->pdata[0])->character_id, ==, "alice");
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "weather", NULL, 1, &error);
  g_assert_cmpuint (hits->len, ==, 1);

  /* Two words: both must be there. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "weather kyoto", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);

  /* Japanese and Chinese, no spaces between words. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "京都の天気", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_nonnull (strstr (((LanlanStoreHit *) hits->pdata[0])->snippet, "京都の天気"));
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "去北京", NULL, 0, &error);
  g_assert_cmpuint (hits->len, ==, 1);

  /* Short queries (under three characters) use the fallback. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "京都", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_nonnull (strstr (((LanlanStoreHit *) hits->pdata[0])->snippet, "京都"));
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "猫", NULL, 0, &error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "is", NULL, 0, &error);   /* "Is", "is" in lovely… no: "Is the" */
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 2);   /* "Kyoto is", "Is the" */

  /* FTS syntax in a query is just text; LIKE wildcards are just text. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "\"quoted\" OR tricky*", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "%", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 0);
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = lanlan_store_search (store, "   ", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 0);

  /* The translation is searched too. */
  {
    g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_ASSISTANT, "Bonjour", 70);
    lanlan_message_set_translation (m, "Good morning");
    lanlan_store_save_message (store, a, m);
    g_clear_pointer (&hits, g_ptr_array_unref);
    hits = lanlan_store_search (store, "morning", NULL, 0, &error);
    g_assert_cmpuint (hits->len, ==, 1);
    g_assert_cmpstr (((LanlanStoreHit *) hits->pdata[0])->role, ==, "assistant");
  }
}

/* A damaged search index is rebuilt from the messages. */
static void
test_search_index_rebuilt (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "c");
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *text = g_strdup_printf ("needle number %u in a haystack", i);
      g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, text, i);
      lanlan_store_save_message (store, conv, m);
    }
  flush (store);

  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "UPDATE messages_fts_data SET block = x'00ff00ff00ff' WHERE id > 1",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  hits = lanlan_store_search (store, "needle", NULL, 0, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO);
  g_assert_null (hits);
  g_clear_error (&error);

  hits = lanlan_store_search (store, "needle", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 50);
}

/* ---- Export ----------------------------------------------------------- */

static void
test_export (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "char-x");
  g_autoptr(LanlanMessage) user = message (LANLAN_MESSAGE_ROLE_USER, "Tell me a story", 1700000000000000);
  g_autoptr(LanlanMessage) reply = message (LANLAN_MESSAGE_ROLE_ASSISTANT,
                                            "Once upon a time, \"quotes\" and\nnew lines — 昔々", 1700000001000000);
  g_autoptr(GError) error = NULL;
  g_autofree char *md = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *m;
  JsonArray *messages;

  lanlan_message_set_heard (reply, "Once upon");
  lanlan_message_set_status (reply, LANLAN_MESSAGE_STATUS_INTERRUPTED);
  lanlan_message_set_translation (user, "物語を話して");
  lanlan_store_save_message (store, conv, user);
  lanlan_store_save_message (store, conv, reply);

  md = lanlan_store_export_as (store, conv, LANLAN_STORE_EXPORT_MARKDOWN, "Lanlan", &error);
  g_assert_no_error (error);
  g_assert_true (g_utf8_validate (md, -1, NULL));
  g_assert_true (g_str_has_prefix (md, "# Lanlan\n"));
  g_assert_nonnull (strstr (md, "**You** ("));
  g_assert_nonnull (strstr (md, "): Tell me a story\n"));
  g_assert_nonnull (strstr (md, "**Lanlan** ("));
  g_assert_nonnull (strstr (md, "> 物語を話して"));
  g_assert_nonnull (strstr (md, "“Once upon”"));
  g_assert_true (strstr (md, "Tell me") < strstr (md, "Once upon a time"));

  json = lanlan_store_export (store, conv, LANLAN_STORE_EXPORT_JSON, &error);
  g_assert_no_error (error);
  g_assert_true (g_utf8_validate (json, -1, NULL));
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "format"), ==, "lanlan-conversation");
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (root, "conversation_id"), ==, conv);
  g_assert_cmpstr (json_object_get_string_member (root, "character_id"), ==, "char-x");
  g_assert_false (json_object_has_member (root, "character_name"));
  g_assert_nonnull (json_object_get_string_member (root, "created"));
  messages = json_object_get_array_member (root, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 2);
  m = json_array_get_object_element (messages, 0);
  g_assert_cmpstr (json_object_get_string_member (m, "id"), ==, lanlan_message_get_id (user));
  g_assert_cmpstr (json_object_get_string_member (m, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (m, "translation"), ==, "物語を話して");
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==, "sent");
  g_assert_cmpstr (json_object_get_string_member (m, "created"), ==, "2023-11-14T22:13:20.000000Z");
  g_assert_true (json_object_get_null_member (m, "ended"));
  m = json_array_get_object_element (messages, 1);
  g_assert_cmpstr (json_object_get_string_member (m, "text"), ==,
                   "Once upon a time, \"quotes\" and\nnew lines — 昔々");
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==, "interrupted");
  g_assert_cmpstr (json_object_get_string_member (m, "heard"), ==, "Once upon");
  g_assert_true (json_object_get_null_member (m, "translation"));
  g_assert_nonnull (json_object_get_string_member (m, "ended"));

  g_clear_pointer (&json, g_free);
  json = lanlan_store_export (store, "missing", LANLAN_STORE_EXPORT_JSON, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NOT_FOUND);
  g_assert_null (json);
}

/* ---- Damaged, newer, unreadable --------------------------------------- */

static char *
find_kept (const char *dir,
           const char *prefix)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    if (g_str_has_prefix (name, prefix) && !g_str_has_suffix (name, "-wal") &&
        !g_str_has_suffix (name, "-shm"))
      return g_build_filename (dir, name, NULL);
  return NULL;
}

static void
test_damaged (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  const char garbage[] = "this is not a database, but someone's precious notes\n";
  g_autofree char *kept = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanStore) store = NULL;
  g_autofree char *conv = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (f->path, garbage, -1, NULL));
  {
    /* Its -wal goes with it. */
    g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
    g_assert_true (g_file_set_contents (wal, "wal bytes", -1, NULL));
  }

  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  g_assert_nonnull (store);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  g_assert_cmpstr (lanlan_store_get_kept_aside (store), ==, kept);
  g_assert_nonnull (strstr (error->message, kept));
  g_assert_true (g_file_get_contents (kept, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, garbage);
  {
    g_autofree char *kept_wal = g_strconcat (kept, "-wal", NULL);
    g_autofree char *wal_contents = NULL;

    g_assert_true (g_file_get_contents (kept_wal, &wal_contents, NULL, NULL));
    g_assert_cmpstr (wal_contents, ==, "wal bytes");
  }

  /* The new database works. */
  conv = lanlan_store_create_conversation (store, "c");
  {
    g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, "after", 1);
    g_autoptr(GPtrArray) loaded = NULL;

    lanlan_store_save_message (store, conv, m);
    loaded = lanlan_store_load_messages (store, conv, NULL);
    g_assert_cmpuint (loaded->len, ==, 1);
  }
  g_clear_object (&store);

  /* Reopening the good new file reports nothing. */
  g_clear_error (&error);
  store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_null (lanlan_store_get_kept_aside (store));
}

static void
on_damaged (LanlanStore *store,
            GError      *error,
            GError     **out)
{
  g_assert_null (*out);
  *out = g_error_copy (error);
}

static gboolean
has_error (GError **error)
{
  return *error != NULL;
}

static void
iterate_until_error (GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!has_error (error) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  g_assert_nonnull (*error);
}

/* A real database whose pages were overwritten in the middle: the cheap
 * checks at opening pass, the integrity check after it (on the writer
 * thread) finds the damage before any write. The file is kept aside
 * byte for byte; what was queued meanwhile goes to the fresh file; reads
 * follow it; reopening the fresh file reports nothing. */
static void
test_corrupt_pages (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "c");
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) damaged = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *conv2 = NULL;
  gsize length;

  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *text = g_strdup_printf ("%u %s", i, "lorem ipsum dolor sit amet consectetur adipiscing elit");
      g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, text, i);
      lanlan_store_save_message (store, conv, m);
    }
  g_clear_object (&store);   /* checkpoints: everything in the main file */

  g_assert_true (g_file_get_contents (f->path, &contents, &length, NULL));
  g_assert_cmpuint (length, >, 8 * 4096);
  /* Scribble over pages 3..6, keep the header. */
  memset (contents + 2 * 4096, 0x5a, 4 * 4096);
  g_assert_true (g_file_set_contents (f->path, contents, length, NULL));

  store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_signal_connect (store, "damaged", G_CALLBACK (on_damaged), &damaged);
  /* Queued while the check runs (or after it): must not land in the
   * damaged file. */
  conv2 = lanlan_store_create_conversation (store, "c");
  {
    g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, "said while checking", 1);
    lanlan_store_save_message (store, conv2, m);
  }
  iterate_until_error (&damaged);
  g_assert_error (damaged, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  g_assert_cmpstr (lanlan_store_get_kept_aside (store), ==, kept);
  g_assert_nonnull (strstr (damaged->message, kept));
  {
    g_autofree char *again = NULL;
    gsize again_length;

    g_assert_true (g_file_get_contents (kept, &again, &again_length, NULL));
    g_assert_cmpmem (again, again_length, contents, length);
  }

  /* The fresh file has what was said meanwhile, and reads see it. */
  {
    g_autoptr(GPtrArray) loaded = lanlan_store_load_messages (store, conv2, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (loaded->len, ==, 1);
    g_assert_cmpstr (lanlan_message_get_text (g_ptr_array_index (loaded, 0)), ==, "said while checking");
    g_assert_null (lanlan_store_dup_latest_conversation (store, "nobody"));
  }
  g_clear_object (&store);
  {
    g_autofree char *again = NULL;
    gsize again_length;

    /* Closing wrote nothing into the kept file either. */
    g_assert_true (g_file_get_contents (kept, &again, &again_length, NULL));
    g_assert_cmpmem (again, again_length, contents, length);
  }
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), ==, 0);
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM messages"), ==, 1);

  g_clear_pointer (&damaged, g_error_free);
  store = lanlan_store_new (f->path, &error);
  g_assert_no_error (error);
  g_signal_connect (store, "damaged", G_CALLBACK (on_damaged), &damaged);
  flush (store);
  {
    g_autoptr(GPtrArray) loaded = lanlan_store_load_messages (store, conv2, &error);
    g_assert_cmpuint (loaded->len, ==, 1);
  }
  g_clear_object (&store);
  g_assert_null (damaged);
}

static void
make_db (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_newer (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanStore) store = NULL;

  make_db (f->path, "PRAGMA journal_mode = WAL;"
                    "CREATE TABLE future (x);"
                    "INSERT INTO future VALUES ('from the future');"
                    "PRAGMA user_version = 99;");

  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NEWER);
  g_assert_nonnull (store);
  kept = find_kept (dir, "lanlan.db.newer-");
  g_assert_nonnull (kept);
  g_assert_nonnull (strstr (error->message, kept));
  g_assert_cmpstr (lanlan_store_get_kept_aside (store), ==, kept);
  /* Kept unchanged: still version 99 with its data. */
  g_assert_cmpint (count_rows (kept, "PRAGMA user_version"), ==, 99);
  g_assert_cmpint (count_rows (kept, "SELECT COUNT(*) FROM future"), ==, 1);
  /* And the new one is ours, at the current version. */
  g_assert_cmpint (count_rows (f->path, "PRAGMA user_version"), ==, 2);
}

/* Our user_version but a table missing: damaged, kept. A database with
 * no version and unrelated tables is also not ours to migrate over. */
static void
test_missing_tables (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanStore) store = NULL;

  make_db (f->path, "CREATE TABLE conversations (id TEXT PRIMARY KEY);"
                    "PRAGMA user_version = 1;");
  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  g_assert_cmpint (count_rows (kept, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'conversations'"), ==, 1);
  g_clear_object (&store);
  g_clear_pointer (&kept, g_free);
  remove_tree (dir);

  make_db (f->path, "CREATE TABLE messages (whatever);");
  g_clear_error (&error);
  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  g_assert_nonnull (store);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  g_assert_cmpint (count_rows (f->path, "PRAGMA user_version"), ==, 2);
}

/* A picture shown with a message is kept with it; a version-1 file (no
 * pictures yet) is migrated forward with its messages. */
static void
test_images_and_migration (Fixture       *f,
                           gconstpointer  data)
{
  static const char fake_jpeg[] = "\xff\xd8\xff\xe0 not really a jpeg";
  g_autoptr(GBytes) jpeg = g_bytes_new_static (fake_jpeg, sizeof fake_jpeg - 1);
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *json = NULL;

  {
    g_autoptr(LanlanStore) store = open_store (f->path);
    g_autoptr(LanlanMessage) plain = message (LANLAN_MESSAGE_ROLE_USER, "before pictures", 1);

    conv = lanlan_store_create_conversation (store, "c");
    lanlan_store_save_message (store, conv, plain);
    flush (store);
  }
  /* Make it a version-1 file, as an older Lanlan left it. */
  {
    sqlite3 *db = NULL;
    g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_exec (db, "DROP TABLE message_images; PRAGMA user_version = 1;",
                                   NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close (db);
  }
  {
    g_autoptr(LanlanStore) store = open_store (f->path);
    g_autoptr(LanlanMessage) shown = message (LANLAN_MESSAGE_ROLE_USER, "look at this", 2);

    g_assert_cmpint (count_rows (f->path, "PRAGMA user_version"), ==, 2);
    lanlan_message_set_image (shown, jpeg);
    lanlan_store_save_message (store, conv, shown);
    /* Saved again (a status change): the picture stays. */
    lanlan_message_set_status (shown, LANLAN_MESSAGE_STATUS_SENT);
    lanlan_store_save_message (store, conv, shown);
    flush (store);
    loaded = lanlan_store_load_messages (store, conv, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (loaded->len, ==, 2);
    g_assert_cmpstr (lanlan_message_get_text (loaded->pdata[0]), ==, "before pictures");
    g_assert_null (lanlan_message_get_image (loaded->pdata[0]));
    g_assert_nonnull (lanlan_message_get_image (loaded->pdata[1]));
    g_assert_true (g_bytes_equal (lanlan_message_get_image (loaded->pdata[1]), jpeg));
    json = lanlan_store_export (store, conv, LANLAN_STORE_EXPORT_JSON, &error);
    g_assert_no_error (error);
    g_assert_nonnull (strstr (json, "\"data:image/jpeg;base64,"));
    /* Deleting the conversation takes its pictures along. */
    lanlan_store_delete_conversation (store, conv);
    flush (store);
  }
  g_assert_cmpint (count_rows (f->path, "SELECT COUNT(*) FROM message_images"), ==, 0);
}

/* A file we cannot open: a folder in its place (fails even for root), or
 * a file with mode 000 (only when permissions apply to us). */
static void
test_unreadable (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *inside = g_build_filename (f->path, "keep-me", NULL);
  g_autofree char *kept = NULL;
  g_autofree char *kept_inside = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanStore) store = NULL;
  int fd;

  g_assert_cmpint (g_mkdir_with_parents (f->path, 0700), ==, 0);
  g_assert_true (g_file_set_contents (inside, "x", -1, NULL));
  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  g_assert_nonnull (store);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  kept_inside = g_build_filename (kept, "keep-me", NULL);
  g_assert_true (g_file_test (kept_inside, G_FILE_TEST_IS_REGULAR));
  g_clear_object (&store);
  remove_tree (dir);
  g_clear_pointer (&kept, g_free);
  g_clear_error (&error);

  /* Mode 000. */
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  make_db (f->path, "CREATE TABLE mine (x); INSERT INTO mine VALUES (1);");
  g_assert_cmpint (g_chmod (f->path, 0), ==, 0);
  fd = g_open (f->path, O_RDONLY, 0);
  if (fd >= 0)
    {
      close (fd);
      g_test_message ("permissions do not stop this user (root?): mode 000 part skipped");
      return;
    }
  store = lanlan_store_new (f->path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED);
  g_assert_nonnull (store);
  kept = find_kept (dir, "lanlan.db.damaged-");
  g_assert_nonnull (kept);
  g_assert_nonnull (strstr (error->message, kept));
  g_chmod (kept, 0600);
  g_assert_cmpint (count_rows (kept, "SELECT COUNT(*) FROM mine"), ==, 1);
}

/* No database at all: the folder cannot be made. */
static void
test_no_folder (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *file = g_build_filename (f->dir, "a-file", NULL);
  g_autofree char *path = g_build_filename (file, "lanlan", "lanlan.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanStore) store = NULL;

  g_assert_true (g_file_set_contents (file, "", -1, NULL));
  store = lanlan_store_new (path, &error);
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO);
  g_assert_null (store);
}

/* ---- The disk refuses, then accepts again ----------------------------- */

typedef struct {
  gboolean failed;
  gboolean succeeded;
  guint    n_failed;
  guint    n_succeeded;
} Signals;

static void
on_write_failed (LanlanStore *store,
                 GError      *error,
                 Signals     *s)
{
  g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO);
  g_assert_nonnull (error->message);
  s->failed = TRUE;
  s->n_failed++;
}

static void
on_write_succeeded (LanlanStore *store,
                    Signals     *s)
{
  s->succeeded = TRUE;
  s->n_succeeded++;
}

/* The file size limit (RLIMIT_FSIZE) makes every write to the database
 * fail with EFBIG, for root too: a disk that refuses. */
static void
test_write_failure (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(LanlanStore) store = open_store (f->path);
  g_autofree char *conv = lanlan_store_create_conversation (store, "c");
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GError) error = NULL;
  struct rlimit saved, tiny;
  Signals s = { 0 };

  g_signal_connect (store, "write-failed", G_CALLBACK (on_write_failed), &s);
  g_signal_connect (store, "write-succeeded", G_CALLBACK (on_write_succeeded), &s);
  flush (store);

  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  tiny = saved;
  tiny.rlim_cur = 1;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &tiny), ==, 0);

  for (guint round = 0; round < 3; round++)
    {
      for (guint i = 0; i < 5; i++)
        {
          g_autofree char *text = g_strdup_printf ("kept %u.%u", round, i);
          g_autoptr(LanlanMessage) m = message (LANLAN_MESSAGE_ROLE_USER, text, round * 10 + i);

          g_ptr_array_add (ids, g_strdup (lanlan_message_get_id (m)));
          lanlan_store_save_message (store, conv, m);
        }
      g_assert_false (lanlan_store_flush (store, &error));
      g_assert_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO);
      g_clear_error (&error);
    }
  /* While refused: a streamed reply saved at every delta, interleaved
   * with another message, keeps its place and ends with its last text. */
  {
    g_autoptr(LanlanMessage) reply = lanlan_message_new (LANLAN_MESSAGE_ROLE_ASSISTANT, "");
    g_autoptr(LanlanMessage) other = message (LANLAN_MESSAGE_ROLE_USER, "meanwhile", 99);

    g_ptr_array_add (ids, g_strdup (lanlan_message_get_id (reply)));
    g_ptr_array_add (ids, g_strdup (lanlan_message_get_id (other)));
    for (guint d = 0; d < 300; d++)
      {
        lanlan_message_append_text (reply, "x");
        lanlan_store_save_message (store, conv, reply);
        if (d == 0)
          lanlan_store_save_message (store, conv, other);
        if (d % 50 == 0)
          {
            g_assert_false (lanlan_store_flush (store, NULL));
          }
      }
    lanlan_message_set_status (reply, LANLAN_MESSAGE_STATUS_SENT);
    lanlan_store_save_message (store, conv, reply);
  }
  iterate_until (&s.failed);
  /* Once per streak. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (s.n_failed, ==, 1);
  g_assert_false (s.succeeded);

  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, SIG_DFL);

  /* No save, no flush: the writer tries again on its own. */
  iterate_until (&s.succeeded);
  flush (store);
  g_assert_cmpuint (s.n_succeeded, ==, 1);
  g_assert_cmpuint (s.n_failed, ==, 1);
  g_clear_object (&store);

  store = open_store (f->path);
  loaded = lanlan_store_load_messages (store, conv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, ids->len);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpstr (lanlan_message_get_id (loaded->pdata[i]), ==, ids->pdata[i]);
  g_assert_cmpuint (strlen (lanlan_message_get_text (loaded->pdata[ids->len - 2])), ==, 300);
  g_assert_cmpint (lanlan_message_get_status (loaded->pdata[ids->len - 2]), ==, LANLAN_MESSAGE_STATUS_SENT);
  g_assert_cmpstr (lanlan_message_get_text (loaded->pdata[ids->len - 1]), ==, "meanwhile");
}

/* ---- Killed while writing --------------------------------------------- */

/* The child: saves messages (a user message, then a reply streamed in
 * deltas) and prints each id once lanlan_store_flush() has returned, that
 * is once the store has committed it. */
static int
child_main (const char *path)
{
  g_autoptr(LanlanStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conv = NULL;

  store = lanlan_store_new (path, &error);
  if (store == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  conv = lanlan_store_dup_latest_conversation (store, "kill");
  if (conv == NULL)
    conv = lanlan_store_create_conversation (store, "kill");

  for (guint n = 0; ; n++)
    {
      g_autoptr(LanlanMessage) user = message (LANLAN_MESSAGE_ROLE_USER, "question", g_get_real_time ());
      g_autoptr(LanlanMessage) reply = lanlan_message_new (LANLAN_MESSAGE_ROLE_ASSISTANT, "");
      g_autofree char *line = NULL;

      lanlan_store_save_message (store, conv, user);
      for (guint d = 0; d < 5; d++)
        {
          lanlan_message_append_text (reply, "delta ");
          lanlan_store_save_message (store, conv, reply);
        }
      lanlan_message_set_status (reply, LANLAN_MESSAGE_STATUS_SENT);
      lanlan_store_save_message (store, conv, reply);
      if (!lanlan_store_flush (store, &error))
        {
          g_printerr ("child: %s\n", error->message);
          return 1;
        }
      line = g_strdup_printf ("%s %s\n", lanlan_message_get_id (user), lanlan_message_get_id (reply));
      if (write (STDOUT_FILENO, line, strlen (line)) < 0)
        return 1;
    }
  return 0;
}

static const char *self_exe;

static void
test_sigkill (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GHashTable) committed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GRand) rand = g_rand_new ();
  guint rounds = 30;
  GHashTableIter iter;
  gpointer key;

  g_test_message ("random seed: %u", g_test_rand_int ());
  for (guint round = 0; round < rounds; round++)
    {
      const char *argv[] = { self_exe, "--store-child", f->path, NULL };
      g_autoptr(GError) error = NULL;
      g_autoptr(GString) out = g_string_new (NULL);
      GPid pid;
      int out_fd, status;
      gint64 kill_at;
      char buffer[4096];
      gssize n;

      g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                               NULL, NULL, &pid, NULL, &out_fd, NULL, &error));
      g_assert_no_error (error);

      /* Every fifth round dies within 50 ms of starting (opening,
       * migrating); the others 0–100 ms after their first commit, in the
       * middle of writing. Timed from what the child reports, not from
       * the clock alone, so a slow machine (ASan, valgrind) still kills
       * it while it writes. */
      g_unix_set_fd_nonblocking (out_fd, TRUE, NULL);
      {
        gboolean early = round % 5 == 0;
        gint64 started = g_get_monotonic_time ();
        gint64 give_up = started + 60 * G_USEC_PER_SEC;

        kill_at = early ? started + g_rand_int_range (rand, 0, 50) * 1000 : 0;
        for (;;)
          {
            gint64 now = g_get_monotonic_time ();

            while ((n = read (out_fd, buffer, sizeof buffer)) > 0)
              g_string_append_len (out, buffer, n);
            if (kill_at == 0 && strchr (out->str, '\n') != NULL)
              kill_at = now + g_rand_int_range (rand, 0, 100) * 1000;
            if ((kill_at != 0 && now >= kill_at) || now >= give_up)
              break;
            g_usleep (1000);
          }
      }
      kill (pid, SIGKILL);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_spawn_close_pid (pid);
      g_unix_set_fd_nonblocking (out_fd, FALSE, NULL);
      while ((n = read (out_fd, buffer, sizeof buffer)) > 0)
        g_string_append_len (out, buffer, n);
      close (out_fd);
      /* It died by our signal, not by an error of its own. */
      g_assert_true (WIFSIGNALED (status));

      /* Only complete lines were committed. */
      {
        g_auto(GStrv) lines = g_strsplit (out->str, "\n", -1);
        guint n_lines = g_strv_length (lines);

        for (guint i = 0; i + 1 < n_lines; i++)
          {
            g_auto(GStrv) ids = g_strsplit (lines[i], " ", -1);
            for (guint j = 0; ids[j]; j++)
              g_hash_table_add (committed, g_strdup (ids[j]));
          }
      }
    }

  g_test_message ("%u ids reported committed over %u kills", g_hash_table_size (committed), rounds);
  g_assert_cmpuint (g_hash_table_size (committed), >, 0);

  /* The file is whole, and holds every committed message. */
  {
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    g_autoptr(LanlanStore) store = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_cmpint (sqlite3_open_v2 (f->path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
    sqlite3_finalize (stmt);

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT status, text FROM messages WHERE id = ?", -1, &stmt, NULL), ==, SQLITE_OK);
    g_hash_table_iter_init (&iter, committed);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      {
        sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_ROW)
          g_error ("committed message %s is missing", (char *) key);
        g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "sent");
        sqlite3_reset (stmt);
      }
    sqlite3_finalize (stmt);
    sqlite3_close (db);

    store = lanlan_store_new (f->path, &error);
    g_assert_no_error (error);
    g_assert_null (lanlan_store_get_kept_aside (store));
  }
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--store-child"))
    return child_main (argv[2]);

  self_exe = argv[0];
  g_test_init (&argc, &argv, NULL);

#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/store/roundtrip", test_roundtrip);
  ADD ("/store/order-and-replace", test_order_and_replace);
  ADD ("/store/delete-cascade", test_delete_cascade);
  ADD ("/store/summary", test_summary);
  ADD ("/store/search", test_search);
  ADD ("/store/search-index-rebuilt", test_search_index_rebuilt);
  ADD ("/store/export", test_export);
  ADD ("/store/images-and-migration", test_images_and_migration);
  ADD ("/store/damaged", test_damaged);
  ADD ("/store/corrupt-pages", test_corrupt_pages);
  ADD ("/store/newer", test_newer);
  ADD ("/store/missing-tables", test_missing_tables);
  ADD ("/store/unreadable", test_unreadable);
  ADD ("/store/no-folder", test_no_folder);
  ADD ("/store/write-failure", test_write_failure);
  ADD ("/store/sigkill", test_sigkill);
#undef ADD

  return g_test_run ();
}
