/* bench-store.c — the conversation database's throughput and latency
 *
 * Prints figures and ratios against a raw sqlite3 loop measured in the
 * same run, on the same disk, with the same pragmas (WAL,
 * synchronous=NORMAL) and the same trigram search index, one autocommit
 * INSERT per message on the calling thread. Judges nothing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "lanlan-store.h"

#define N_INSERT 3000
#define N_LATENCY 300
#define N_LOAD 10000

static const char text[] = "The weather in Kyoto is lovely today; shall we walk along the river? "
                           "今日は京都の天気がとてもいいですね。";

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static long
rss_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line ? strtol (line + 6, NULL, 10) : -1;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
percentile (GArray *values,
            double  p)
{
  g_array_sort (values, cmp_double);
  return g_array_index (values, double, MIN (values->len - 1, (guint) (p * values->len)));
}

/* ---- Baseline: raw sqlite3, one autocommit INSERT per message --------- */

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert (sqlite3_open (path, &db) == SQLITE_OK);
  sqlite3_exec (db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                    "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, conversation_id TEXT,"
                    " seq INTEGER, role TEXT, text TEXT, created INTEGER);"
                    /* The same search index as the store's. */
                    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (text,"
                    " content='messages', tokenize='trigram');"
                    "CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages BEGIN"
                    " INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text); END;",
                NULL, NULL, NULL);
  return db;
}

static void
raw_insert (sqlite3_stmt *stmt,
            guint         seq)
{
  g_autofree char *id = g_uuid_string_random ();

  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, "conv", -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, seq);
  sqlite3_bind_text (stmt, 4, "user", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
  g_assert (sqlite3_step (stmt) == SQLITE_DONE);
  sqlite3_reset (stmt);
}

/* ---- The streaming turn ------------------------------------------------ */

typedef struct {
  LanlanStore *store;
  const char  *conversation;
  gint         stop;
  guint        deltas;
} Streamer;

static gpointer
stream_thread (gpointer data)
{
  Streamer *s = data;
  g_autoptr(LanlanMessage) reply = lanlan_message_new (LANLAN_MESSAGE_ROLE_ASSISTANT, "");

  /* A voice reply's transcript: a delta every 20 ms. */
  while (!g_atomic_int_get (&s->stop))
    {
      lanlan_message_append_text (reply, "delta ");
      lanlan_store_save_message (s->store, s->conversation, reply);
      s->deltas++;
      g_usleep (20000);
    }
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("lanlan-bench-store-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "lanlan.db", NULL);
  g_autofree char *raw_path = g_build_filename (dir, "raw.db", NULL);
  g_autoptr(LanlanStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conv = NULL;
  g_autoptr(GArray) raw_lat = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) store_lat = g_array_new (FALSE, FALSE, sizeof (double));
  sqlite3 *raw;
  sqlite3_stmt *stmt;
  double t0, raw_rate, store_rate, raw_load, store_load;
  long rss0, rss1;

  g_assert (dir != NULL);

  /* Baseline insert throughput and latency. */
  raw = raw_open (raw_path);
  g_assert (sqlite3_prepare_v2 (raw, "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", -1, &stmt, NULL) == SQLITE_OK);
  t0 = now_s ();
  for (guint i = 0; i < N_INSERT; i++)
    raw_insert (stmt, i);
  raw_rate = N_INSERT / (now_s () - t0);
  for (guint i = 0; i < N_LATENCY; i++)
    {
      double t = now_s ();
      raw_insert (stmt, N_INSERT + i);
      t = (now_s () - t) * 1000;
      g_array_append_val (raw_lat, t);
    }
  sqlite3_finalize (stmt);

  /* The store: save N messages, then flush. */
  store = lanlan_store_new (path, &error);
  g_assert_no_error (error);
  conv = lanlan_store_create_conversation (store, "bench");
  t0 = now_s ();
  for (guint i = 0; i < N_INSERT; i++)
    {
      g_autoptr(LanlanMessage) m = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, text);
      lanlan_store_save_message (store, conv, m);
    }
  g_assert (lanlan_store_flush (store, NULL));
  store_rate = N_INSERT / (now_s () - t0);

  /* Commit latency (save + flush) of user messages while a reply
   * streams into the same conversation. */
  {
    Streamer s = { store, conv, 0, 0 };
    GThread *thread = g_thread_new ("stream", stream_thread, &s);

    for (guint i = 0; i < N_LATENCY; i++)
      {
        g_autoptr(LanlanMessage) m = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, text);
        double t = now_s ();

        lanlan_store_save_message (store, conv, m);
        g_assert (lanlan_store_flush (store, NULL));
        t = (now_s () - t) * 1000;
        g_array_append_val (store_lat, t);
        g_usleep (2000);
      }
    g_atomic_int_set (&s.stop, 1);
    g_thread_join (thread);
    printf ("streaming deltas saved meanwhile: %u\n", s.deltas);
  }

  printf ("insert throughput: store %.0f msg/s, raw sqlite3 autocommit %.0f msg/s, ratio %.2f\n",
          store_rate, raw_rate, store_rate / raw_rate);
  printf ("commit latency (save+flush, while streaming): store p50 %.3f ms p99 %.3f ms;"
          " raw autocommit insert p50 %.3f ms p99 %.3f ms; ratio p50 %.2f p99 %.2f\n",
          percentile (store_lat, 0.5), percentile (store_lat, 0.99),
          percentile (raw_lat, 0.5), percentile (raw_lat, 0.99),
          percentile (store_lat, 0.5) / percentile (raw_lat, 0.5),
          percentile (store_lat, 0.99) / percentile (raw_lat, 0.99));

  /* Load 10,000 messages of one conversation. */
  {
    g_autoptr(LanlanMessage) rare = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER,
                                                        "Where did I put the blue umbrella?");
    lanlan_store_save_message (store, conv, rare);
  }
  g_clear_pointer (&conv, g_free);
  conv = lanlan_store_create_conversation (store, "bench-load");
  for (guint i = 0; i < N_LOAD; i++)
    {
      g_autoptr(LanlanMessage) m = lanlan_message_new (i % 2 ? LANLAN_MESSAGE_ROLE_ASSISTANT
                                                             : LANLAN_MESSAGE_ROLE_USER, text);
      lanlan_store_save_message (store, conv, m);
    }
  g_assert (lanlan_store_flush (store, NULL));
  g_clear_object (&store);

  store = lanlan_store_new (path, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GPtrArray) loaded = NULL;

    rss0 = rss_kb ();
    t0 = now_s ();
    loaded = lanlan_store_load_messages (store, conv, &error);
    store_load = now_s () - t0;
    rss1 = rss_kb ();
    g_assert_no_error (error);
    g_assert (loaded->len == N_LOAD);
  }

  /* Baseline: the same rows read with a bare SELECT into nothing. */
  g_assert (sqlite3_prepare_v2 (raw, "SELECT id, role, text, created FROM messages ORDER BY seq",
                                -1, &stmt, NULL) == SQLITE_OK);
  for (guint i = 0; i < N_LOAD - N_INSERT - N_LATENCY; i++)
    {
      sqlite3_stmt *insert;
      if (i == 0)
        sqlite3_exec (raw, "BEGIN", NULL, NULL, NULL);
      g_assert (sqlite3_prepare_v2 (raw, "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", -1, &insert, NULL) == SQLITE_OK);
      raw_insert (insert, 100000 + i);
      sqlite3_finalize (insert);
    }
  sqlite3_exec (raw, "COMMIT", NULL, NULL, NULL);
  t0 = now_s ();
  {
    guint rows = 0;
    while (sqlite3_step (stmt) == SQLITE_ROW)
      {
        volatile const unsigned char *t = sqlite3_column_text (stmt, 2);
        (void) t;
        rows++;
      }
    g_assert (rows == N_LOAD);
  }
  raw_load = now_s () - t0;
  sqlite3_finalize (stmt);
  sqlite3_close (raw);

  printf ("load %u messages: store %.1f ms (RSS +%ld KiB), raw SELECT %.1f ms, ratio %.2f\n",
          N_LOAD, store_load * 1000, rss1 - rss0, raw_load * 1000, store_load / raw_load);

  /* Opening the 13,300-message file: what the caller's (main) thread
   * pays, against the baseline of what it paid before the check moved to
   * the writer thread (open + PRAGMA integrity_check on the caller's
   * thread, raw sqlite3, same file, same run); and when the first write
   * commits (after the writer thread's check). Medians of 5. */
  g_clear_object (&store);
  {
    g_autoptr(GArray) opens = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) checks = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) writes = g_array_new (FALSE, FALSE, sizeof (double));
    g_autofree char *conv = NULL;
    double open_p50, check_p50;

    for (guint round = 0; round < 5; round++)
      {
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        g_autoptr(LanlanMessage) m = NULL;
        double t1, d;

        t0 = now_s ();
        g_assert (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        g_assert (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK);
        g_assert (sqlite3_step (stmt) == SQLITE_ROW);
        g_assert (g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), "ok") == 0);
        sqlite3_finalize (stmt);
        sqlite3_close (db);
        d = now_s () - t0;
        g_array_append_val (checks, d);

        t0 = now_s ();
        store = lanlan_store_new (path, &error);
        g_assert_no_error (error);
        t1 = now_s ();
        d = t1 - t0;
        g_array_append_val (opens, d);
        /* The first write waits for the check on the writer thread. */
        if (conv == NULL)
          conv = lanlan_store_create_conversation (store, "open-bench");
        m = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, "after opening");
        lanlan_store_save_message (store, conv, m);
        g_assert (lanlan_store_flush (store, NULL));
        d = now_s () - t0;
        g_array_append_val (writes, d);
        if (round < 4)
          g_clear_object (&store);
      }
    open_p50 = percentile (opens, 0.5);
    check_p50 = percentile (checks, 0.5);
    printf ("open %u messages, caller's thread: store p50 %.1f ms, baseline (open + integrity_check "
            "there, as before) p50 %.1f ms, ratio %.3f; first write committed after p50 %.1f ms "
            "(the check runs on the writer thread)\n",
            N_INSERT + N_LATENCY + N_LOAD, open_p50 * 1000, check_p50 * 1000,
            open_p50 / check_p50, percentile (writes, 0.5) * 1000);
  }

  /* Search across them. */
  {
    g_autoptr(GPtrArray) hits = NULL;

    t0 = now_s ();
    hits = lanlan_store_search (store, "京都の天気", NULL, 50, &error);
    printf ("search (trigram, every one of %u messages matches, 50 newest): %.1f ms\n",
            N_INSERT + N_LATENCY + N_LOAD, (now_s () - t0) * 1000);
    g_assert_no_error (error);
    g_clear_pointer (&hits, g_ptr_array_unref);
    t0 = now_s ();
    hits = lanlan_store_search (store, "blue umbrella", NULL, 50, &error);
    printf ("search (trigram, one hit among %u): %.1f ms\n",
            N_INSERT + N_LATENCY + N_LOAD, (now_s () - t0) * 1000);
    g_assert_no_error (error);
    g_assert (hits->len == 1);
    g_clear_pointer (&hits, g_ptr_array_unref);
    t0 = now_s ();
    hits = lanlan_store_search (store, "京都", NULL, 50, &error);
    printf ("search (short query, LIKE fallback): %.1f ms\n", (now_s () - t0) * 1000);
  }

  g_clear_object (&store);
  {
    const char *suffixes[] = { "", "-wal", "-shm" };
    for (guint i = 0; i < 3; i++)
      {
        g_autofree char *a = g_strconcat (path, suffixes[i], NULL);
        g_autofree char *b = g_strconcat (raw_path, suffixes[i], NULL);
        g_remove (a);
        g_remove (b);
      }
    g_rmdir (dir);
  }
  return 0;
}
