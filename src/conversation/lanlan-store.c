/* lanlan-store.c — the conversation database (SQLite)
 *
 * One file, $XDG_DATA_HOME/lanlan/lanlan.db, in WAL mode with
 * synchronous=NORMAL: a committed transaction is in the WAL file before
 * COMMIT returns, so it survives the process being killed (not a power
 * cut, which would need synchronous=FULL and an fsync per message).
 *
 * Threads. Writes never touch the disk on the caller's thread: every
 * mutating call snapshots its arguments into an Op and appends it to a
 * queue. One writer thread, with its own connection, takes everything
 * queued, runs it in one transaction and commits; then it waits for more.
 * A write the disk refuses (full, read-only, I/O error) is rolled back and
 * kept, in order, in front of the queue; it is retried at the next save or
 * flush (and every few seconds on its own), so nothing is lost while the
 * app runs. "write-failed" is emitted
 * once per streak of failures, "write-succeeded" at the first commit after.
 *
 * Reads (list, load, search, summary, export) run on the caller's thread
 * with a second connection (WAL readers are never blocked by the writer).
 * Each read first waits for the writer to commit everything queued before
 * it (an internal flush), so a read always sees earlier writes, except
 * while the disk refuses them: then it shows what is on disk, and the
 * refused writes stay queued for the next attempt.
 *
 * Damage. A file that is not a database, fails PRAGMA integrity_check,
 * lacks our tables, cannot be opened at all, or carries a newer
 * user_version is renamed aside with its -wal and -shm
 * (lanlan.db.damaged-YYYYmmdd-HHMMSS, lanlan.db.newer-…), never
 * overwritten, and a fresh database is made; the store is returned with a
 * DAMAGED or NEWER error naming the kept file.
 *
 * The integrity_check reads the whole file (200–270 ms for 13,000
 * messages), so opening does only the cheap checks (a database at all,
 * its version, our tables) on the caller's thread, and the writer thread
 * runs integrity_check before its first write; reads go on meanwhile.
 * No write reaches the file before the check has passed: queued writes
 * wait for it, the caller's connection never checkpoints into a file not
 * yet checked, and a file that needs migrating is checked at once, before
 * the migration writes. Damage found that way is handled as above (kept
 * aside, a fresh database, the queued writes go there) and reported by
 * the "damaged" signal.
 *
 * Schema (user_version 2):
 *   conversations (id TEXT PRIMARY KEY, character_id, created, updated,
 *                  summary, summary_upto)
 *   messages      (num INTEGER PRIMARY KEY, id TEXT UNIQUE, conversation_id
 *                  REFERENCES conversations ON DELETE CASCADE, seq, role,
 *                  text, translation, heard, created, ended, status)
 *   message_images (message_num REFERENCES messages ON DELETE CASCADE,
 *                  image: a JPEG the user showed with the message)
 *   messages_fts  FTS5 external-content index over text and translation,
 *                 trigram tokenizer (works for Japanese and Chinese), kept
 *                 in sync by triggers.
 * Messages have an INTEGER PRIMARY KEY "num" besides their UUID: the FTS
 * index addresses rows by rowid, and an implicit rowid could be renumbered
 * by VACUUM. Times are µs since the epoch, UTC. Migrations are a table of
 * SQL steps; step N takes user_version N-1 to N.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <string.h>

#include "lanlan-store.h"

G_DEFINE_QUARK (lanlan-store-error-quark, lanlan_store_error)

/* ---- Schema --------------------------------------------------------- */

static const char * const migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE conversations ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  character_id TEXT NOT NULL,"
  "  created INTEGER NOT NULL,"
  "  updated INTEGER NOT NULL,"
  "  summary TEXT,"
  "  summary_upto TEXT);"
  "CREATE INDEX conversations_by_character ON conversations (character_id, updated);"
  "CREATE INDEX conversations_by_updated ON conversations (updated);"
  "CREATE TABLE messages ("
  "  num INTEGER PRIMARY KEY,"
  "  id TEXT NOT NULL UNIQUE,"
  "  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  role TEXT NOT NULL,"
  "  text TEXT NOT NULL DEFAULT '',"
  "  translation TEXT,"
  "  heard TEXT,"
  "  created INTEGER NOT NULL,"
  "  ended INTEGER NOT NULL DEFAULT 0,"
  "  status TEXT NOT NULL);"
  "CREATE UNIQUE INDEX messages_by_conversation ON messages (conversation_id, seq);"
  "CREATE INDEX messages_by_created ON messages (created);"
  "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
  "  text, translation, content='messages', content_rowid='num', tokenize='trigram');"
  "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
  "  INSERT INTO messages_fts (rowid, text, translation) VALUES (new.num, new.text, new.translation);"
  "END;"
  "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
  "  INSERT INTO messages_fts (messages_fts, rowid, text, translation)"
  "    VALUES ('delete', old.num, old.text, old.translation);"
  "END;"
  "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, translation ON messages BEGIN"
  "  INSERT INTO messages_fts (messages_fts, rowid, text, translation)"
  "    VALUES ('delete', old.num, old.text, old.translation);"
  "  INSERT INTO messages_fts (rowid, text, translation) VALUES (new.num, new.text, new.translation);"
  "END;",
  /* 1 -> 2: pictures the user shows with a message */
  "CREATE TABLE message_images ("
  "  message_num INTEGER PRIMARY KEY REFERENCES messages (num) ON DELETE CASCADE,"
  "  image BLOB NOT NULL);",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))

#define RETRY_INTERVAL_S 5

static const char * const required_tables[] = {
  "conversations", "messages", "messages_fts",
};

/* ---- Queued writes -------------------------------------------------- */

typedef enum {
  OP_CREATE_CONVERSATION,
  OP_SAVE_MESSAGE,
  OP_DELETE_MESSAGE,
  OP_DELETE_CONVERSATION,
  OP_DELETE_CHARACTER,
  OP_SET_SUMMARY,
  OP_REBUILD_INDEX,
} OpKind;

typedef struct {
  OpKind  kind;
  guint64 ticket;
  char   *id;        /* message or conversation id */
  char   *conversation_id;
  char   *character_id;
  char   *role;
  char   *text;      /* message text or summary */
  char   *translation;
  char   *heard;     /* or summary_upto */
  char   *status;
  GBytes *image;
  gint64  created;
  gint64  ended;
} Op;

static void
op_free (Op *op)
{
  g_free (op->id);
  g_free (op->conversation_id);
  g_free (op->character_id);
  g_free (op->role);
  g_free (op->text);
  g_free (op->translation);
  g_free (op->heard);
  g_free (op->status);
  g_clear_pointer (&op->image, g_bytes_unref);
  g_free (op);
}

static gboolean merge_save (GQueue *queue,
                            Op     *op);

struct _LanlanStore
{
  GObject       parent_instance;

  char         *path;
  char         *kept_aside;
  sqlite3      *read_db;
  GMainContext *context;

  GThread      *writer;
  GMutex        lock;
  GCond         cond;
  /* under lock: */
  GQueue        queue;            /* Op*, not yet taken by the writer */
  guint64       last_ticket;      /* tickets handed out */
  guint64       committed_ticket; /* every op up to here is on disk */
  guint64       attempts;         /* writer attempts started */
  guint64       failed_attempt;   /* the latest attempt that failed */
  GError       *failure;          /* why it failed */
  gboolean      failing;          /* in a streak of failures */
  gboolean      retry;            /* a save or flush asked for another try */
  gboolean      quit;
  GSList       *idles;            /* GSource* of pending signal emissions */
  gboolean      check_later;      /* set before the writer starts: it runs integrity_check */
  gboolean      checked;          /* under lock: the file opened passed it later */
  GError       *broken;           /* under lock: no database to write to (damaged, not moved) */
  gboolean      read_db_unchecked; /* main thread: read_db is on the file not checked yet */
};

G_DEFINE_FINAL_TYPE (LanlanStore, lanlan_store, G_TYPE_OBJECT)

enum {
  SIGNAL_WRITE_FAILED,
  SIGNAL_WRITE_SUCCEEDED,
  SIGNAL_DAMAGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- SQLite helpers --------------------------------------------------- */

static gboolean
is_disk_error (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return TRUE;
    default:
      return FALSE;
    }
}

typedef enum {
  ACTION_READ,
  ACTION_OPEN,
  ACTION_SAVE,
  ACTION_SEARCH,
} Action;

static void
set_sqlite_error (GError     **error,
                  sqlite3     *db,
                  int          rc,
                  Action       action)
{
  const char *detail = db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);
  const char *format;

  /* Translators: %s is SQLite's reason, in English */
  switch (action)
    {
    case ACTION_OPEN:
      format = _("The conversation history could not be opened: %s");
      break;
    case ACTION_SAVE:
      format = _("The conversation history could not be saved: %s");
      break;
    case ACTION_SEARCH:
      format = _("The conversation history could not be searched: %s");
      break;
    case ACTION_READ:
    default:
      format = _("The conversation history could not be read: %s");
    }
  g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO, format, detail);
}

static gboolean
exec (sqlite3     *db,
      const char  *sql,
      int         *rc_out,
      GError     **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);

  if (rc_out)
    *rc_out = rc;
  if (rc != SQLITE_OK)
    {
      g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                   "%s", message ? message : sqlite3_errstr (rc));
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

static sqlite3_stmt *
prepare (sqlite3     *db,
         const char  *sql,
         GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, db, rc, ACTION_READ);
      return NULL;
    }
  return stmt;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *text)
{
  if (text)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

static char *
column_dup (sqlite3_stmt *stmt,
            int           index)
{
  const char *text = (const char *) sqlite3_column_text (stmt, index);

  if (text == NULL)
    return NULL;
  if (!g_utf8_validate (text, -1, NULL))
    return g_utf8_make_valid (text, -1);
  return g_strdup (text);
}

static void
configure (sqlite3 *db)
{
  sqlite3_busy_timeout (db, 5000);
  sqlite3_exec (db, "PRAGMA foreign_keys = ON;"
                    "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
}

static sqlite3 *
open_connection (const char  *path,
                 int          flags,
                 int         *rc_out)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

  *rc_out = rc;
  if (rc != SQLITE_OK)
    {
      sqlite3_close (db);
      return NULL;
    }
  sqlite3_extended_result_codes (db, 1);
  return db;
}

/* ---- Opening: checks, keeping a bad file aside, migrations ------------ */

typedef enum {
  CHECK_OK,
  CHECK_DAMAGED,
  CHECK_NEWER,
} CheckResult;

/* Looks at an existing file without changing it (no checkpoint on close).
 * Returns the open connection in @db_out when the file is good. */
static CheckResult
check_existing (const char  *path,
                sqlite3    **db_out,
                gboolean    *check_later,
                char       **reason)
{
  sqlite3 *db;
  sqlite3_stmt *stmt = NULL;
  int rc;
  int version = -1;
  gboolean ok = FALSE;
  g_autoptr(GString) problems = g_string_new (NULL);

  *db_out = NULL;
  if (check_later != NULL)
    *check_later = FALSE;
  db = open_connection (path, SQLITE_OPEN_READWRITE, &rc);
  if (db == NULL)
    {
      *reason = g_strdup (sqlite3_errstr (rc));
      return CHECK_DAMAGED;
    }
  sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_busy_timeout (db, 5000);

  rc = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  else
    g_string_append (problems, sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  stmt = NULL;

  if (version < 0)
    goto bad;

  if (version > SCHEMA_VERSION)
    {
      sqlite3_close (db);
      *reason = g_strdup_printf ("user_version %d > %d", version, SCHEMA_VERSION);
      return CHECK_NEWER;
    }

  /* A current file in WAL mode needs no write to open: its whole check
   * can wait for the writer thread. One to migrate is checked now. */
  if (check_later != NULL && version == SCHEMA_VERSION)
    {
      rc = sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL);
      *check_later = rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW &&
                     g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), "wal") == 0;
      sqlite3_finalize (stmt);
      stmt = NULL;
      if (*check_later)
        goto tables;
    }

  rc = sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      g_string_append (problems, sqlite3_errmsg (db));
      goto bad;
    }
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *line = (const char *) sqlite3_column_text (stmt, 0);

      if (g_strcmp0 (line, "ok") == 0)
        ok = TRUE;
      else if (problems->len < 200)
        {
          /* The first problem comes after a heading line. */
          if (line != NULL && g_str_has_prefix (line, "*** in database ") && strchr (line, '\n') != NULL)
            line = strchr (line, '\n') + 1;
          if (problems->len > 0)
            g_string_append (problems, "; ");
          for (const char *c = line; c != NULL && *c != '\0'; c++)
            {
              if (problems->len >= 200)
                {
                  g_string_append (problems, "…");
                  break;
                }
              if (*c == '\n')
                g_string_append (problems, "; ");
              else if ((guchar) *c >= 0x20 && (guchar) *c < 0x7f)
                g_string_append_c (problems, *c);
            }
        }
    }
  if (rc != SQLITE_DONE)
    {
      ok = FALSE;
      if (problems->len == 0)
        g_string_append (problems, sqlite3_errmsg (db));
    }
  sqlite3_finalize (stmt);
  stmt = NULL;
  if (!ok)
    goto bad;

tables:
  if (version > 0)
    {
      for (guint i = 0; i < G_N_ELEMENTS (required_tables); i++)
        {
          gboolean found = FALSE;

          sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              -1, &stmt, NULL);
          sqlite3_bind_text (stmt, 1, required_tables[i], -1, SQLITE_STATIC);
          found = sqlite3_step (stmt) == SQLITE_ROW;
          sqlite3_finalize (stmt);
          stmt = NULL;
          if (!found)
            {
              g_string_append_printf (problems, "no table %s", required_tables[i]);
              goto bad;
            }
        }
      /* The FTS index's own 'integrity-check' is not run here: it costs
       * four times the whole integrity_check, and the index can be rebuilt
       * from the messages (a search that finds it damaged does so). */
    }

  /* Not checked yet: closing this connection must not checkpoint into
   * the file (see lanlan_store_finalize()). */
  if (check_later == NULL || !*check_later)
    sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
  *db_out = db;
  return CHECK_OK;

bad:
  if (check_later != NULL)
    *check_later = FALSE;
  sqlite3_close (db);
  *reason = g_string_free (g_steal_pointer (&problems), FALSE);
  if (**reason == '\0')
    g_free (g_steal_pointer (reason)), *reason = g_strdup ("?");
  return CHECK_DAMAGED;
}

/* Renames @path (and its -wal, -shm) to @path.@tag-YYYYmmdd-HHMMSS[-N];
 * returns the new name of the main file. */
static char *
keep_aside (const char  *path,
            const char  *tag,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *target = NULL;
  static const char * const suffixes[] = { "-wal", "-shm", "-journal" };

  for (guint n = 0; n < 1000; n++)
    {
      g_free (target);
      target = n == 0 ? g_strdup_printf ("%s.%s-%s", path, tag, stamp)
                      : g_strdup_printf ("%s.%s-%s-%u", path, tag, stamp, n);
      if (!g_file_test (target, G_FILE_TEST_EXISTS))
        break;
    }

  if (g_rename (path, target) != 0)
    {
      int saved = errno;

      g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                   _("The conversation history %s could not be read and could not be moved aside: %s"),
                   path, g_strerror (saved));
      return NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from = g_strconcat (path, suffixes[i], NULL);
      g_autofree char *to = g_strconcat (target, suffixes[i], NULL);

      if (g_file_test (from, G_FILE_TEST_EXISTS) && g_rename (from, to) != 0)
        g_warning ("Could not move %s aside: %s", from, g_strerror (errno));
    }

  return g_steal_pointer (&target);
}

static gboolean
migrate (sqlite3  *db,
         GError  **error)
{
  sqlite3_stmt *stmt = NULL;
  int version = 0;

  if (!exec (db, "PRAGMA journal_mode = WAL", NULL, error))
    return FALSE;

  if (!exec (db, "BEGIN IMMEDIATE", NULL, error))
    return FALSE;
  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  for (int step = version; step < SCHEMA_VERSION; step++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", step + 1);

      if (!exec (db, migrations[step], NULL, error) ||
          !exec (db, bump, NULL, error))
        {
          exec (db, "ROLLBACK", NULL, NULL);
          return FALSE;
        }
    }
  return exec (db, "COMMIT", NULL, error);
}

/* ---- Signals, emitted on the creator's context ------------------------ */

typedef struct {
  LanlanStore *self;
  GSource     *source;
  GError      *error;   /* NULL: write-succeeded */
  char        *kept;    /* not NULL: "damaged", the file was moved there */
} Emission;

static void
emission_free (gpointer data)
{
  Emission *emission = data;

  g_clear_error (&emission->error);
  g_free (emission->kept);
  g_free (emission);
}

/* On the creator's thread, once the writer found the file it opened
 * damaged and made a fresh one: reads go to the fresh one from now on.
 * The old connection does not checkpoint into the kept file on close. */
static void
switch_reader (LanlanStore *self,
               const char  *kept)
{
  sqlite3 *db;
  int rc;

  g_free (self->kept_aside);
  self->kept_aside = g_strdup (kept);
  db = open_connection (self->path, SQLITE_OPEN_READWRITE, &rc);
  if (db == NULL)
    {
      g_warning ("The new conversation history %s could not be opened: %s",
                 self->path, sqlite3_errstr (rc));
      return;
    }
  configure (db);
  g_clear_pointer (&self->read_db, sqlite3_close);
  self->read_db = db;
  self->read_db_unchecked = FALSE;
}

static gboolean
emit_cb (gpointer data)
{
  Emission *emission = data;
  LanlanStore *self = emission->self;

  g_mutex_lock (&self->lock);
  self->idles = g_slist_remove (self->idles, emission->source);
  g_mutex_unlock (&self->lock);

  g_object_ref (self);
  if (emission->kept)
    {
      switch_reader (self, emission->kept);
      g_signal_emit (self, signals[SIGNAL_DAMAGED], 0, emission->error);
    }
  else if (emission->error)
    g_signal_emit (self, signals[SIGNAL_WRITE_FAILED], 0, emission->error);
  else
    g_signal_emit (self, signals[SIGNAL_WRITE_SUCCEEDED], 0);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* Called with the lock held. @kept: see Emission. */
static void
schedule_emission_full (LanlanStore  *self,
                        const GError *error,
                        const char   *kept)
{
  Emission *emission = g_new0 (Emission, 1);
  GSource *source = g_idle_source_new ();

  emission->self = self;
  emission->source = source;
  emission->error = error ? g_error_copy (error) : NULL;
  emission->kept = g_strdup (kept);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, emit_cb, emission, emission_free);
  g_source_set_static_name (source, "[lanlan] store signal");
  self->idles = g_slist_prepend (self->idles, source);
  g_source_attach (source, self->context);
}

static void
schedule_emission (LanlanStore  *self,
                   const GError *error)
{
  schedule_emission_full (self, error, NULL);
}

/* ---- The writer thread ------------------------------------------------ */

typedef struct {
  sqlite3      *db;
  sqlite3_stmt *create_conversation;
  sqlite3_stmt *save_message;
  sqlite3_stmt *save_image;
  sqlite3_stmt *touch_conversation;
  sqlite3_stmt *delete_message;
  sqlite3_stmt *delete_conversation;
  sqlite3_stmt *delete_character;
  sqlite3_stmt *set_summary;
  sqlite3_stmt *rebuild_index;
} Writer;

static void
writer_close (Writer *w)
{
  g_clear_pointer (&w->create_conversation, sqlite3_finalize);
  g_clear_pointer (&w->save_message, sqlite3_finalize);
  g_clear_pointer (&w->save_image, sqlite3_finalize);
  g_clear_pointer (&w->touch_conversation, sqlite3_finalize);
  g_clear_pointer (&w->delete_message, sqlite3_finalize);
  g_clear_pointer (&w->delete_conversation, sqlite3_finalize);
  g_clear_pointer (&w->delete_character, sqlite3_finalize);
  g_clear_pointer (&w->set_summary, sqlite3_finalize);
  g_clear_pointer (&w->rebuild_index, sqlite3_finalize);
  g_clear_pointer (&w->db, sqlite3_close);
}

static gboolean
writer_open (LanlanStore  *self,
             Writer       *w,
             GError      **error)
{
  int rc;
  struct { sqlite3_stmt **stmt; const char *sql; } statements[] = {
    { &w->create_conversation,
      "INSERT OR IGNORE INTO conversations (id, character_id, created, updated) VALUES (?1, ?2, ?3, ?3)" },
    /* A message of a conversation that is gone (deleted while it was still
     * streaming) is dropped; a known id keeps its place (seq). */
    { &w->save_message,
      "INSERT INTO messages (id, conversation_id, seq, role, text, translation, heard, created, ended, status)"
      " SELECT ?1, ?2, (SELECT COALESCE (MAX (seq), 0) + 1 FROM messages WHERE conversation_id = ?2),"
      "        ?3, ?4, ?5, ?6, ?7, ?8, ?9"
      " WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?2)"
      " ON CONFLICT (id) DO UPDATE SET text = excluded.text, translation = excluded.translation,"
      "   heard = excluded.heard, ended = excluded.ended, status = excluded.status, role = excluded.role" },
    { &w->save_image,
      "INSERT OR REPLACE INTO message_images (message_num, image) SELECT num, ?2 FROM messages WHERE id = ?1" },
    { &w->touch_conversation,
      "UPDATE conversations SET updated = MAX (updated, ?2) WHERE id = ?1" },
    { &w->delete_message, "DELETE FROM messages WHERE id = ?1" },
    { &w->delete_conversation, "DELETE FROM conversations WHERE id = ?1" },
    { &w->delete_character, "DELETE FROM conversations WHERE character_id = ?1" },
    { &w->set_summary, "UPDATE conversations SET summary = ?2, summary_upto = ?3 WHERE id = ?1" },
    { &w->rebuild_index, "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')" },
  };

  if (w->db)
    return TRUE;

  w->db = open_connection (self->path, SQLITE_OPEN_READWRITE, &rc);
  if (w->db == NULL)
    {
      set_sqlite_error (error, NULL, rc, ACTION_OPEN);
      return FALSE;
    }
  configure (w->db);

  for (guint i = 0; i < G_N_ELEMENTS (statements); i++)
    {
      rc = sqlite3_prepare_v3 (w->db, statements[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                               statements[i].stmt, NULL);
      if (rc != SQLITE_OK)
        {
          set_sqlite_error (error, w->db, rc, ACTION_OPEN);
          writer_close (w);
          return FALSE;
        }
    }
  return TRUE;
}

/* Runs one op; returns the SQLite result. A constraint or other logic
 * error drops just that op (it could never succeed); a disk error fails
 * the whole batch. */
static int
writer_run (Writer *w,
            Op     *op)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  switch (op->kind)
    {
    case OP_CREATE_CONVERSATION:
      stmt = w->create_conversation;
      bind_text (stmt, 1, op->id);
      bind_text (stmt, 2, op->character_id);
      sqlite3_bind_int64 (stmt, 3, op->created);
      break;
    case OP_SAVE_MESSAGE:
      stmt = w->save_message;
      bind_text (stmt, 1, op->id);
      bind_text (stmt, 2, op->conversation_id);
      bind_text (stmt, 3, op->role);
      bind_text (stmt, 4, op->text);
      bind_text (stmt, 5, op->translation);
      bind_text (stmt, 6, op->heard);
      sqlite3_bind_int64 (stmt, 7, op->created);
      sqlite3_bind_int64 (stmt, 8, op->ended);
      bind_text (stmt, 9, op->status);
      break;
    case OP_DELETE_MESSAGE:
      stmt = w->delete_message;
      bind_text (stmt, 1, op->id);
      break;
    case OP_DELETE_CONVERSATION:
      stmt = w->delete_conversation;
      bind_text (stmt, 1, op->id);
      break;
    case OP_DELETE_CHARACTER:
      stmt = w->delete_character;
      bind_text (stmt, 1, op->character_id);
      break;
    case OP_SET_SUMMARY:
      stmt = w->set_summary;
      bind_text (stmt, 1, op->id);
      bind_text (stmt, 2, op->text);
      bind_text (stmt, 3, op->heard);
      break;
    case OP_REBUILD_INDEX:
      stmt = w->rebuild_index;
      break;
    default:
      g_assert_not_reached ();
    }

  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc == SQLITE_DONE && op->kind == OP_SAVE_MESSAGE)
    {
      stmt = w->touch_conversation;
      bind_text (stmt, 1, op->conversation_id);
      sqlite3_bind_int64 (stmt, 2, op->created);
      rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
    }
  if (rc == SQLITE_DONE && op->kind == OP_SAVE_MESSAGE && op->image != NULL)
    {
      stmt = w->save_image;
      bind_text (stmt, 1, op->id);
      sqlite3_bind_blob64 (stmt, 2, g_bytes_get_data (op->image, NULL), g_bytes_get_size (op->image),
                           SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
    }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static gboolean
writer_commit (LanlanStore  *self,
               Writer       *w,
               GQueue       *batch,
               GError      **error)
{
  int rc = SQLITE_OK;

  g_mutex_lock (&self->lock);
  if (self->broken != NULL)
    {
      /* Kept queued, retried: but never written into a damaged file. */
      g_propagate_error (error, g_error_copy (self->broken));
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  g_mutex_unlock (&self->lock);

  if (!writer_open (self, w, error))
    return FALSE;

  if (!exec (w->db, "BEGIN IMMEDIATE", &rc, NULL))
    goto failed;

  for (GList *l = batch->head; l; l = l->next)
    {
      Op *op = l->data;

      rc = writer_run (w, op);
      if (rc == SQLITE_OK)
        continue;
      if (is_disk_error (rc) || sqlite3_get_autocommit (w->db))
        goto failed;
      g_warning ("Dropped a conversation history write that cannot succeed: %s",
                 sqlite3_errmsg (w->db));
    }

  if (exec (w->db, "COMMIT", &rc, NULL))
    return TRUE;

failed:
  set_sqlite_error (error, w->db, rc, ACTION_SAVE);
  if (w->db && !sqlite3_get_autocommit (w->db))
    sqlite3_exec (w->db, "ROLLBACK", NULL, NULL, NULL);
  /* Start from a fresh connection next time: after an I/O error the old
   * one may hold a stale view of the WAL. */
  writer_close (w);
  return FALSE;
}

/* The integrity_check lanlan_store_new() left for later, on the writer
 * thread before its first write. A damaged file is kept aside, a fresh
 * one made for the writes queued meanwhile and after, and "damaged"
 * tells the creator. When it cannot be moved aside, nothing is written
 * at all: the writes stay queued and "write-failed" says why. */
static void
writer_check (LanlanStore *self)
{
  g_autofree char *reason = NULL;
  g_autofree char *kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) notice = NULL;
  sqlite3 *db = NULL;
  CheckResult result;
  int rc = SQLITE_OK;

  result = check_existing (self->path, &db, NULL, &reason);
  if (db != NULL)
    {
      sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
      sqlite3_close (db);
    }
  if (result == CHECK_OK)
    {
      g_mutex_lock (&self->lock);
      self->checked = TRUE;
      g_mutex_unlock (&self->lock);
      return;
    }

  kept = keep_aside (self->path, result == CHECK_NEWER ? "newer" : "damaged", &error);
  if (kept != NULL)
    {
      db = open_connection (self->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &rc);
      if (db == NULL)
        g_set_error (&error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                     _("The conversation history %s could not be created: %s"),
                     self->path, sqlite3_errstr (rc));
      else
        {
          g_autoptr(GError) local_error = NULL;

          configure (db);
          if (!migrate (db, &local_error))
            g_set_error (&error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                         _("The conversation history %s could not be created: %s"),
                         self->path, local_error->message);
          sqlite3_close (db);
        }
    }

  g_mutex_lock (&self->lock);
  if (error != NULL)
    {
      g_warning ("%s", error->message);
      self->broken = g_steal_pointer (&error);
    }
  else
    {
      notice = g_error_new (LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED,
                            _("The conversation history was found damaged (%s). It was kept "
                              "unchanged as %s and a new history was started."),
                            reason, kept);
      g_message ("%s", notice->message);
      schedule_emission_full (self, notice, kept);
    }
  g_mutex_unlock (&self->lock);
}

static gpointer
writer_thread (gpointer data)
{
  LanlanStore *self = data;
  Writer w = { 0 };
  GQueue batch = G_QUEUE_INIT;   /* taken, not yet committed */

  if (self->check_later)
    writer_check (self);

  g_mutex_lock (&self->lock);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint64 upto;
      gboolean ok;

      /* While the disk refuses, try again at the next save or flush, and
       * on our own every RETRY_INTERVAL_S so the app recovers when idle. */
      while (!self->quit &&
             (self->failing ? !self->retry : g_queue_is_empty (&self->queue)))
        {
          if (!self->failing)
            g_cond_wait (&self->cond, &self->lock);
          else if (!g_cond_wait_until (&self->cond, &self->lock,
                                       g_get_monotonic_time () + RETRY_INTERVAL_S * G_TIME_SPAN_SECOND))
            self->retry = TRUE;
        }

      if (g_queue_is_empty (&self->queue) && batch.length == 0)
        {
          if (self->quit)
            break;
          self->retry = FALSE;
          continue;
        }

      /* Take everything queued, behind what failed before (folding new
       * snapshots of a message into a failed save of it). */
      upto = batch.length ? ((Op *) batch.tail->data)->ticket : 0;
      while (!g_queue_is_empty (&self->queue))
        {
          Op *op = g_queue_pop_head (&self->queue);

          upto = MAX (upto, op->ticket);
          if (!merge_save (&batch, op))
            g_queue_push_tail (&batch, op);
        }
      self->retry = FALSE;
      self->attempts++;
      g_mutex_unlock (&self->lock);

      ok = writer_commit (self, &w, &batch, &error);

      g_mutex_lock (&self->lock);
      if (ok)
        {
          g_queue_clear_full (&batch, (GDestroyNotify) op_free);
          self->committed_ticket = upto;
          if (self->failing)
            {
              self->failing = FALSE;
              g_clear_error (&self->failure);
              schedule_emission (self, NULL);
            }
        }
      else
        {
          self->failed_attempt = self->attempts;
          g_clear_error (&self->failure);
          self->failure = g_error_copy (error);
          if (!self->failing)
            {
              self->failing = TRUE;
              schedule_emission (self, error);
            }
          if (self->quit)
            {
              g_warning ("%s; %u changes are lost", error->message, batch.length);
              g_queue_clear_full (&batch, (GDestroyNotify) op_free);
              g_cond_broadcast (&self->cond);
              break;
            }
        }
      g_cond_broadcast (&self->cond);
    }
  g_mutex_unlock (&self->lock);

  writer_close (&w);
  return NULL;
}

#define MERGE_DEPTH 512

/* Folds a save of a message into an earlier queued save of the same
 * message: the earlier one takes the new snapshot (keeping its place, so
 * the order of first saving stays), and @op is freed. Not across a
 * delete, which must see the row as it was. Keeps memory bounded while
 * the disk refuses writes: one snapshot per message, not one per delta.
 * Returns TRUE when @op was merged. */
static gboolean
merge_save (GQueue *queue,
            Op     *op)
{
  guint depth = 0;

  if (op->kind != OP_SAVE_MESSAGE)
    return FALSE;

  for (GList *l = queue->tail; l && depth < MERGE_DEPTH; l = l->prev, depth++)
    {
      Op *earlier = l->data;

      if (earlier->kind == OP_DELETE_CONVERSATION || earlier->kind == OP_DELETE_CHARACTER ||
          (earlier->kind == OP_DELETE_MESSAGE && g_str_equal (earlier->id, op->id)))
        return FALSE;
      if (earlier->kind != OP_SAVE_MESSAGE || !g_str_equal (earlier->id, op->id))
        continue;
      if (!g_str_equal (earlier->conversation_id, op->conversation_id))
        return FALSE;

      g_free (earlier->role);
      g_free (earlier->text);
      g_free (earlier->translation);
      g_free (earlier->heard);
      g_free (earlier->status);
      earlier->role = g_steal_pointer (&op->role);
      earlier->text = g_steal_pointer (&op->text);
      earlier->translation = g_steal_pointer (&op->translation);
      earlier->heard = g_steal_pointer (&op->heard);
      earlier->status = g_steal_pointer (&op->status);
      earlier->created = op->created;
      earlier->ended = op->ended;
      op_free (op);
      return TRUE;
    }
  return FALSE;
}

static void
enqueue (LanlanStore *self,
         Op          *op)
{
  g_mutex_lock (&self->lock);
  op->ticket = ++self->last_ticket;
  g_queue_push_tail (&self->queue, op);
  self->retry = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* ---- GObject ---------------------------------------------------------- */

static void
lanlan_store_dispose (GObject *object)
{
  LanlanStore *self = LANLAN_STORE (object);

  if (self->writer)
    {
      g_mutex_lock (&self->lock);
      self->quit = TRUE;
      self->retry = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      g_thread_join (g_steal_pointer (&self->writer));
    }

  g_mutex_lock (&self->lock);
  while (self->idles)
    {
      GSource *source = self->idles->data;

      self->idles = g_slist_delete_link (self->idles, self->idles);
      g_source_destroy (source);
      g_source_unref (source);
    }
  g_mutex_unlock (&self->lock);

  G_OBJECT_CLASS (lanlan_store_parent_class)->dispose (object);
}

static void
lanlan_store_finalize (GObject *object)
{
  LanlanStore *self = LANLAN_STORE (object);

  g_queue_clear_full (&self->queue, (GDestroyNotify) op_free);
  g_clear_error (&self->failure);
  g_clear_error (&self->broken);
  /* The writer is gone: the last connection checkpoints on close, but
   * only into a file that passed the check. */
  if (self->read_db != NULL && self->read_db_unchecked && self->checked)
    sqlite3_db_config (self->read_db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
  g_clear_pointer (&self->read_db, sqlite3_close);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->path);
  g_free (self->kept_aside);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (lanlan_store_parent_class)->finalize (object);
}

static void
lanlan_store_class_init (LanlanStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_store_dispose;
  object_class->finalize = lanlan_store_finalize;

  /**
   * LanlanStore::write-failed:
   * @error: why (a LANLAN_STORE_ERROR_IO)
   *
   * Queued writes could not be committed. They are kept and retried at the
   * next save or flush. Emitted once per streak of failures.
   */
  signals[SIGNAL_WRITE_FAILED] =
    g_signal_new ("write-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * LanlanStore::write-succeeded:
   *
   * The first commit after a failure: everything kept has been written.
   */
  signals[SIGNAL_WRITE_SUCCEEDED] =
    g_signal_new ("write-succeeded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * LanlanStore::damaged:
   * @error: a LANLAN_STORE_ERROR_DAMAGED naming the kept file
   *
   * The file opened failed the integrity check made after opening (see
   * lanlan_store_new()). It was kept aside unchanged, nothing was written
   * into it, and a fresh database now takes the writes and reads; what
   * was read from the old one (conversation ids) is not in it.
   */
  signals[SIGNAL_DAMAGED] =
    g_signal_new ("damaged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lanlan_store_init (LanlanStore *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
}

char *
lanlan_store_dup_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "lanlan", "lanlan.db", NULL);
}

/**
 * lanlan_store_new:
 * @path: (nullable): the database file; %NULL for the default path
 *
 * Opens (creating and migrating) the database. A damaged or newer file is
 * kept aside and a fresh one made: the store is returned AND @error is set
 * (DAMAGED or NEWER, naming the kept file). Returns %NULL (IO) only when
 * no database can be had.
 *
 * Only the cheap checks run here; a current file's integrity_check runs
 * on the writer thread before any write, and damage it finds comes later
 * as the "damaged" signal (handled the same way: kept aside, fresh file).
 */
LanlanStore *
lanlan_store_new (const char  *path,
                  GError     **error)
{
  g_autoptr(LanlanStore) self = g_object_new (LANLAN_TYPE_STORE, NULL);
  g_autofree char *dir = NULL;
  g_autoptr(GError) local_error = NULL;
  GError *notice = NULL;
  sqlite3 *db = NULL;
  int rc;

  self->path = path ? g_strdup (path) : lanlan_store_dup_default_path ();
  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                   _("The folder for the conversation history, %s, could not be made: %s"),
                   dir, g_strerror (saved));
      return NULL;
    }

  if (g_file_test (self->path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *reason = NULL;
      CheckResult result = check_existing (self->path, &db, &self->check_later, &reason);

      if (result != CHECK_OK)
        {
          gboolean newer = result == CHECK_NEWER;

          self->kept_aside = keep_aside (self->path, newer ? "newer" : "damaged", error);
          if (self->kept_aside == NULL)
            return NULL;
          if (newer)
            notice = g_error_new (LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NEWER,
                                  _("The conversation history was written by a newer version of "
                                    "Lanlan. It was kept unchanged as %s and a new, empty history "
                                    "was started."), self->kept_aside);
          else
            notice = g_error_new (LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED,
                                  _("The conversation history could not be read (%s). It was "
                                    "kept unchanged as %s and a new, empty history was started."),
                                  reason, self->kept_aside);
          g_message ("%s", notice->message);
        }
    }

  if (db == NULL)
    {
      db = open_connection (self->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &rc);
      if (db == NULL)
        {
          g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                       _("The conversation history %s could not be created: %s"),
                       self->path, sqlite3_errstr (rc));
          g_clear_error (&notice);
          return NULL;
        }
    }
  self->read_db = db;
  self->read_db_unchecked = self->check_later;
  configure (db);

  /* A file left to check later is current: nothing to migrate, and no
   * write into it before the check. */
  if (!self->check_later && !migrate (db, &local_error))
    {
      /* Our tables could not be made: foreign tables with our names, or a
       * disk that refuses. Keep it aside once and start over. */
      if (self->kept_aside == NULL && !is_disk_error (sqlite3_errcode (db)))
        {
          g_clear_pointer (&self->read_db, sqlite3_close);
          self->kept_aside = keep_aside (self->path, "damaged", error);
          if (self->kept_aside == NULL)
            return NULL;
          g_clear_error (&notice);
          notice = g_error_new (LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_DAMAGED,
                                _("The conversation history could not be read (%s). It was "
                                  "kept unchanged as %s and a new, empty history was started."),
                                local_error->message, self->kept_aside);
          g_clear_error (&local_error);
          self->read_db = open_connection (self->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &rc);
          if (self->read_db)
            configure (self->read_db);
        }
      if (local_error || self->read_db == NULL || !migrate (self->read_db, &local_error))
        {
          g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                       _("The conversation history %s could not be created: %s"), self->path,
                       local_error ? local_error->message : sqlite3_errstr (rc));
          g_clear_error (&notice);
          return NULL;
        }
    }

  self->context = g_main_context_ref_thread_default ();
  self->writer = g_thread_new ("lanlan-store", writer_thread, self);

  if (notice)
    g_propagate_error (error, notice);
  return g_steal_pointer (&self);
}

const char *
lanlan_store_get_path (LanlanStore *self)
{
  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  return self->path;
}

/**
 * lanlan_store_get_kept_aside:
 *
 * Returns: (nullable): where a damaged or newer file was moved at open
 */
const char *
lanlan_store_get_kept_aside (LanlanStore *self)
{
  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  return self->kept_aside;
}

/**
 * lanlan_store_flush:
 *
 * Waits until every write queued before this call is committed, retrying
 * writes that failed before. Returns %FALSE with the disk's error when
 * they still cannot be committed (they stay queued).
 */
gboolean
lanlan_store_flush (LanlanStore  *self,
                    GError      **error)
{
  guint64 target, started;
  gboolean ok;

  g_return_val_if_fail (LANLAN_IS_STORE (self), FALSE);

  g_mutex_lock (&self->lock);
  target = self->last_ticket;
  started = self->attempts;
  if (self->committed_ticket < target)
    {
      self->retry = TRUE;
      g_cond_signal (&self->cond);
    }
  /* Done when committed, or when an attempt that began after this call
   * (and so included everything up to @target) failed. */
  while (self->committed_ticket < target && self->failed_attempt <= started && self->writer)
    g_cond_wait (&self->cond, &self->lock);
  ok = self->committed_ticket >= target;
  if (!ok && error)
    *error = self->failure ? g_error_copy (self->failure)
                           : g_error_new_literal (LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_IO,
                                                  _("The conversation history could not be saved"));
  g_mutex_unlock (&self->lock);
  return ok;
}

/* Reads see every write queued before them (see the top of the file). */
static void
sync_for_read (LanlanStore *self)
{
  lanlan_store_flush (self, NULL);
}

/* ---- Conversations ---------------------------------------------------- */

void
lanlan_store_conversation_free (LanlanStoreConversation *conversation)
{
  if (conversation == NULL)
    return;
  g_free (conversation->id);
  g_free (conversation->character_id);
  g_free (conversation->title);
  g_free (conversation);
}

void
lanlan_store_hit_free (LanlanStoreHit *hit)
{
  if (hit == NULL)
    return;
  g_free (hit->conversation_id);
  g_free (hit->character_id);
  g_free (hit->message_id);
  g_free (hit->role);
  g_free (hit->snippet);
  g_free (hit);
}

char *
lanlan_store_create_conversation (LanlanStore *self,
                                  const char  *character_id)
{
  Op *op;
  char *id;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (character_id != NULL, NULL);

  id = g_uuid_string_random ();
  op = g_new0 (Op, 1);
  op->kind = OP_CREATE_CONVERSATION;
  op->id = g_strdup (id);
  op->character_id = g_strdup (character_id);
  op->created = g_get_real_time ();
  enqueue (self, op);
  return id;
}

/**
 * lanlan_store_dup_latest_conversation:
 *
 * Returns: (nullable): the character's most recently active conversation
 */
char *
lanlan_store_dup_latest_conversation (LanlanStore *self,
                                      const char  *character_id)
{
  sqlite3_stmt *stmt;
  char *id = NULL;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (character_id != NULL, NULL);

  sync_for_read (self);
  stmt = prepare (self->read_db,
                  "SELECT id FROM conversations WHERE character_id = ?1"
                  " ORDER BY updated DESC, created DESC, rowid DESC LIMIT 1", NULL);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, character_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    id = column_dup (stmt, 0);
  sqlite3_finalize (stmt);
  return id;
}

#define TITLE_CHARS 60

static char *
make_title (const char *text)
{
  g_autofree char *flat = NULL;
  glong n;

  if (text == NULL)
    return g_strdup ("");
  flat = g_strdup (text);
  for (char *p = flat; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  g_strstrip (flat);
  n = g_utf8_strlen (flat, -1);
  if (n <= TITLE_CHARS)
    return g_steal_pointer (&flat);
  {
    g_autofree char *cut = g_utf8_substring (flat, 0, TITLE_CHARS - 1);
    return g_strconcat (g_strchomp (cut), "…", NULL);
  }
}

GPtrArray *
lanlan_store_list_conversations (LanlanStore  *self,
                                 const char   *character_id,
                                 GError      **error)
{
  g_autoptr(GPtrArray) list = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);

  sync_for_read (self);
  stmt = prepare (self->read_db,
                  "SELECT c.id, c.character_id, c.created, c.updated,"
                  " (SELECT text FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user'"
                  "  ORDER BY seq LIMIT 1),"
                  " (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)"
                  " FROM conversations c WHERE ?1 IS NULL OR c.character_id = ?1"
                  " ORDER BY c.updated DESC, c.created DESC, c.rowid DESC", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, character_id);

  list = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_store_conversation_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      LanlanStoreConversation *c = g_new0 (LanlanStoreConversation, 1);

      c->id = column_dup (stmt, 0);
      c->character_id = column_dup (stmt, 1);
      c->created = sqlite3_column_int64 (stmt, 2);
      c->updated = sqlite3_column_int64 (stmt, 3);
      c->title = make_title ((const char *) sqlite3_column_text (stmt, 4));
      c->n_messages = (guint) sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (list, c);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, self->read_db, rc, ACTION_READ);
      sqlite3_finalize (stmt);
      return NULL;
    }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&list);
}

void
lanlan_store_delete_conversation (LanlanStore *self,
                                  const char  *conversation_id)
{
  Op *op;

  g_return_if_fail (LANLAN_IS_STORE (self));
  g_return_if_fail (conversation_id != NULL);

  op = g_new0 (Op, 1);
  op->kind = OP_DELETE_CONVERSATION;
  op->id = g_strdup (conversation_id);
  enqueue (self, op);
}

void
lanlan_store_delete_character (LanlanStore *self,
                               const char  *character_id)
{
  Op *op;

  g_return_if_fail (LANLAN_IS_STORE (self));
  g_return_if_fail (character_id != NULL);

  op = g_new0 (Op, 1);
  op->kind = OP_DELETE_CHARACTER;
  op->character_id = g_strdup (character_id);
  enqueue (self, op);
}

/* ---- Messages --------------------------------------------------------- */

static const char *
status_to_string (LanlanMessageStatus status)
{
  switch (status)
    {
    case LANLAN_MESSAGE_STATUS_PENDING: return "pending";
    case LANLAN_MESSAGE_STATUS_SENT: return "sent";
    case LANLAN_MESSAGE_STATUS_FAILED: return "failed";
    case LANLAN_MESSAGE_STATUS_INTERRUPTED: return "interrupted";
    default: return "sent";
    }
}

static LanlanMessageStatus
status_from_string (const char *name)
{
  if (g_strcmp0 (name, "pending") == 0)
    return LANLAN_MESSAGE_STATUS_PENDING;
  if (g_strcmp0 (name, "failed") == 0)
    return LANLAN_MESSAGE_STATUS_FAILED;
  if (g_strcmp0 (name, "interrupted") == 0)
    return LANLAN_MESSAGE_STATUS_INTERRUPTED;
  return LANLAN_MESSAGE_STATUS_SENT;
}

/**
 * lanlan_store_save_message:
 *
 * Snapshots @message now, on the caller's thread (which must own the
 * message), and queues the write. Never blocks on the disk.
 */
void
lanlan_store_save_message (LanlanStore   *self,
                           const char    *conversation_id,
                           LanlanMessage *message)
{
  Op *op;

  g_return_if_fail (LANLAN_IS_STORE (self));
  g_return_if_fail (conversation_id != NULL);
  g_return_if_fail (LANLAN_IS_MESSAGE (message));

  op = g_new0 (Op, 1);
  op->kind = OP_SAVE_MESSAGE;
  op->id = g_strdup (lanlan_message_get_id (message));
  op->conversation_id = g_strdup (conversation_id);
  op->role = g_strdup (lanlan_message_get_role_name (message));
  op->text = g_strdup (lanlan_message_get_text (message));
  op->translation = g_strdup (lanlan_message_get_translation (message));
  op->heard = g_strdup (lanlan_message_get_heard (message));
  op->created = lanlan_message_get_created (message);
  op->ended = lanlan_message_get_ended (message);
  op->status = g_strdup (status_to_string (lanlan_message_get_status (message)));
  op->image = lanlan_message_get_image (message) ? g_bytes_ref (lanlan_message_get_image (message)) : NULL;

  /* A streaming reply is saved at every delta: while the writer has not
   * yet taken the previous snapshot of the same message, update that one
   * rather than queue both. */
  g_mutex_lock (&self->lock);
  if (merge_save (&self->queue, op))
    {
      self->retry = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);

  enqueue (self, op);
}

void
lanlan_store_delete_message (LanlanStore *self,
                             const char  *message_id)
{
  Op *op;

  g_return_if_fail (LANLAN_IS_STORE (self));
  g_return_if_fail (message_id != NULL);

  op = g_new0 (Op, 1);
  op->kind = OP_DELETE_MESSAGE;
  op->id = g_strdup (message_id);
  enqueue (self, op);
}

static gboolean
conversation_exists (LanlanStore  *self,
                     const char   *conversation_id,
                     GError      **error)
{
  sqlite3_stmt *stmt = prepare (self->read_db, "SELECT 1 FROM conversations WHERE id = ?1", error);
  gboolean found;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, conversation_id);
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  if (!found)
    g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NOT_FOUND,
                 _("No such conversation"));
  return found;
}

/**
 * lanlan_store_load_messages:
 *
 * Returns: (transfer container): the conversation's messages, oldest
 *   first; %NULL with NOT_FOUND for an unknown conversation
 */
GPtrArray *
lanlan_store_load_messages (LanlanStore  *self,
                            const char   *conversation_id,
                            GError      **error)
{
  g_autoptr(GPtrArray) messages = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);

  sync_for_read (self);
  if (!conversation_exists (self, conversation_id, error))
    return NULL;

  stmt = prepare (self->read_db,
                  "SELECT id, role, text, translation, heard, created, ended, status, i.image"
                  " FROM messages LEFT JOIN message_images i ON i.message_num = num"
                  " WHERE conversation_id = ?1 ORDER BY seq", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation_id);

  messages = g_ptr_array_new_with_free_func (g_object_unref);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *id = (const char *) sqlite3_column_text (stmt, 0);
      LanlanMessageRole role;
      g_autofree char *text = column_dup (stmt, 2);
      g_autofree char *translation = column_dup (stmt, 3);
      g_autofree char *heard = column_dup (stmt, 4);
      LanlanMessage *message;

      if (id == NULL || *id == '\0' ||
          !lanlan_message_role_from_string ((const char *) sqlite3_column_text (stmt, 1), &role))
        continue;
      message = lanlan_message_new_full (id, role, text,
                                         sqlite3_column_int64 (stmt, 5),
                                         sqlite3_column_int64 (stmt, 6),
                                         status_from_string ((const char *) sqlite3_column_text (stmt, 7)));
      if (translation)
        lanlan_message_set_translation (message, translation);
      if (heard)
        lanlan_message_set_heard (message, heard);
      if (sqlite3_column_type (stmt, 8) == SQLITE_BLOB && sqlite3_column_bytes (stmt, 8) > 0)
        {
          g_autoptr(GBytes) image = g_bytes_new (sqlite3_column_blob (stmt, 8), sqlite3_column_bytes (stmt, 8));
          lanlan_message_set_image (message, image);
        }
      g_ptr_array_add (messages, message);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, self->read_db, rc, ACTION_READ);
      sqlite3_finalize (stmt);
      return NULL;
    }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&messages);
}

/* ---- Summary ---------------------------------------------------------- */

void
lanlan_store_set_summary (LanlanStore *self,
                          const char  *conversation_id,
                          const char  *summary,
                          const char  *upto_message_id)
{
  Op *op;

  g_return_if_fail (LANLAN_IS_STORE (self));
  g_return_if_fail (conversation_id != NULL);

  op = g_new0 (Op, 1);
  op->kind = OP_SET_SUMMARY;
  op->id = g_strdup (conversation_id);
  op->text = g_strdup (summary);
  op->heard = g_strdup (upto_message_id);
  enqueue (self, op);
}

/**
 * lanlan_store_dup_summary:
 * @upto_message_id: (out) (optional): the newest message it covers
 *
 * Returns: (nullable): the conversation's summary
 */
char *
lanlan_store_dup_summary (LanlanStore  *self,
                          const char   *conversation_id,
                          char        **upto_message_id)
{
  sqlite3_stmt *stmt;
  char *summary = NULL;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);

  if (upto_message_id)
    *upto_message_id = NULL;
  sync_for_read (self);
  stmt = prepare (self->read_db, "SELECT summary, summary_upto FROM conversations WHERE id = ?1", NULL);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      summary = column_dup (stmt, 0);
      if (upto_message_id)
        *upto_message_id = column_dup (stmt, 1);
    }
  sqlite3_finalize (stmt);
  return summary;
}

/* ---- Search ----------------------------------------------------------- */

#define SNIPPET_CHARS 32

/* Plain text around the first case-insensitive occurrence of @needle. */
static char *
snippet_around (const char *text,
                const char *needle)
{
  g_autofree char *folded_text = g_utf8_casefold (text, -1);
  g_autofree char *folded_needle = g_utf8_casefold (needle, -1);
  const char *hit = strstr (folded_text, folded_needle);
  glong at = hit ? g_utf8_pointer_to_offset (folded_text, hit) : 0;
  glong total = g_utf8_strlen (text, -1);
  glong start = MAX (0, at - SNIPPET_CHARS / 2);
  glong end = MIN (total, start + SNIPPET_CHARS + g_utf8_strlen (needle, -1));
  g_autofree char *middle = g_utf8_substring (text, start, end);

  /* Case folding can change lengths; the offset is then approximate,
   * which only moves the window a little. */
  return g_strconcat (start > 0 ? "…" : "", middle, end < total ? "…" : "", NULL);
}

/* Splits the query into words; TRUE when every word is long enough for
 * the trigram index. */
static gboolean
split_query (const char   *query,
             GPtrArray    *words)
{
  g_auto(GStrv) parts = g_strsplit_set (query, " \t\n\r", -1);
  gboolean all_long = TRUE;

  for (guint i = 0; parts[i]; i++)
    {
      g_autofree char *word = g_strstrip (g_strdup (parts[i]));

      /* U+3000 (ideographic space) is multi-byte: split on it here. */
      if (*word == '\0')
        continue;
      {
        g_auto(GStrv) sub = g_strsplit (word, "\u3000", -1);
        for (guint j = 0; sub[j]; j++)
          if (*sub[j])
            {
              if (g_utf8_strlen (sub[j], -1) < 3)
                all_long = FALSE;
              g_ptr_array_add (words, g_strdup (sub[j]));
            }
      }
    }
  return all_long;
}

static char *
like_pattern (const char *word)
{
  GString *s = g_string_new ("%");

  for (const char *p = word; *p; p++)
    {
      if (*p == '%' || *p == '_' || *p == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '%');
  return g_string_free (s, FALSE);
}

/**
 * lanlan_store_search:
 * @limit: the most hits to return; 0 for 100
 *
 * Finds messages whose text or translation contains every word of @query
 * (substring match, case-insensitive, any script). Words of three
 * characters or more use the trigram index; shorter queries fall back to
 * a scan (LIKE). Newest first, in the order messages were first saved
 * (a message keeps its place when it is saved again).
 *
 * Returns: (transfer container): LanlanStoreHit*
 */
GPtrArray *
lanlan_store_search (LanlanStore  *self,
                     const char   *query,
                     const char   *character_id,
                     guint         limit,
                     GError      **error)
{
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) sql = g_string_new (NULL);
  gboolean use_fts;
  sqlite3_stmt *stmt;
  int rc, n = 1;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  hits = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_store_hit_free);
  if (!g_utf8_validate (query, -1, NULL))
    return g_steal_pointer (&hits);
  use_fts = split_query (query, words);
  if (words->len == 0)
    return g_steal_pointer (&hits);
  if (limit == 0)
    limit = 100;

  sync_for_read (self);

  if (use_fts)
    {
      g_autoptr(GString) match = g_string_new (NULL);

      /* Each word a quoted phrase: no FTS syntax reaches the parser. */
      for (guint i = 0; i < words->len; i++)
        {
          g_autofree char *quoted = NULL;
          g_auto(GStrv) pieces = g_strsplit (words->pdata[i], "\"", -1);

          quoted = g_strjoinv ("\"\"", pieces);
          g_string_append_printf (match, "%s\"%s\"", i ? " AND " : "", quoted);
        }
      /* Newest first by rowid, which FTS5 walks in order without
       * sorting, so LIMIT stops early even when everything matches;
       * snippets are made only for the rows returned. */
      g_string_append (sql,
                       "SELECT m.conversation_id, c.character_id, m.id, m.role,"
                       " snippet(messages_fts, -1, '', '', '…', 16), m.created"
                       " FROM messages_fts f JOIN messages m ON m.num = f.rowid"
                       " JOIN conversations c ON c.id = m.conversation_id"
                       " WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR c.character_id = ?2)"
                       " ORDER BY f.rowid DESC LIMIT ?3");
      stmt = prepare (self->read_db, sql->str, error);
      if (stmt == NULL)
        return NULL;
      bind_text (stmt, 1, match->str);
    }
  else
    {
      g_string_append (sql,
                       "SELECT m.conversation_id, c.character_id, m.id, m.role,"
                       " m.text, m.created, m.translation"
                       " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                       " WHERE (?2 IS NULL OR c.character_id = ?2)");
      for (guint i = 0; i < words->len; i++)
        g_string_append_printf (sql, " AND (m.text LIKE ?%u ESCAPE '\\'"
                                " OR m.translation LIKE ?%u ESCAPE '\\')", i + 4, i + 4);
      g_string_append (sql, " ORDER BY m.num DESC LIMIT ?3");
      stmt = prepare (self->read_db, sql->str, error);
      if (stmt == NULL)
        return NULL;
      for (guint i = 0; i < words->len; i++)
        {
          g_autofree char *pattern = like_pattern (words->pdata[i]);
          bind_text (stmt, i + 4, pattern);
        }
      n = 0;
    }
  bind_text (stmt, 2, character_id);
  sqlite3_bind_int64 (stmt, 3, limit);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      LanlanStoreHit *hit = g_new0 (LanlanStoreHit, 1);

      hit->conversation_id = column_dup (stmt, 0);
      hit->character_id = column_dup (stmt, 1);
      hit->message_id = column_dup (stmt, 2);
      hit->role = column_dup (stmt, 3);
      hit->created = sqlite3_column_int64 (stmt, 5);
      if (n)
        hit->snippet = column_dup (stmt, 4);
      else
        {
          g_autofree char *text = column_dup (stmt, 4);
          g_autofree char *translation = column_dup (stmt, 6);
          g_autofree char *folded = g_utf8_casefold (text ? text : "", -1);
          g_autofree char *needle = g_utf8_casefold (words->pdata[0], -1);
          const char *source = strstr (folded, needle) || translation == NULL ? text : translation;

          hit->snippet = snippet_around (source ? source : "", words->pdata[0]);
        }
      if (hit->snippet == NULL)
        hit->snippet = g_strdup ("");
      g_ptr_array_add (hits, hit);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, self->read_db, rc, ACTION_SEARCH);
      sqlite3_finalize (stmt);
      if ((rc & 0xff) == SQLITE_CORRUPT)
        {
          /* The search index is made from the messages: make it again. */
          Op *op = g_new0 (Op, 1);

          g_message ("The search index is damaged; rebuilding it");
          op->kind = OP_REBUILD_INDEX;
          enqueue (self, op);
        }
      return NULL;
    }
  sqlite3_finalize (stmt);
  return g_steal_pointer (&hits);
}

/* ---- Export ----------------------------------------------------------- */

static char *
format_local_time (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

  return local ? g_date_time_format (local, "%Y-%m-%d %H:%M") : g_strdup ("?");
}

static char *
format_iso8601 (gint64 usec)
{
  g_autoptr(GDateTime) base = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) t = base ? g_date_time_add (base, usec % G_USEC_PER_SEC) : NULL;

  return t ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%S.%fZ") : NULL;
}

/* Text quoted as a Markdown block quote, line by line. */
static void
append_quoted (GString    *out,
               const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    g_string_append_printf (out, "> %s\n", lines[i]);
}

static char *
export_markdown (const char  *character_id,
                 const char  *character_name,
                 gint64       created,
                 GPtrArray   *messages)
{
  GString *out = g_string_new (NULL);
  g_autofree char *when = format_local_time (created);
  const char *name = character_name && *character_name ? character_name : character_id;

  {
    g_autofree char *started = g_strdup_printf (/* Translators: %s: date and time */
                                                _("Started %s"), when);

    g_string_append_printf (out, "# %s\n\n_%s_\n\n",
                            name && *name ? name : _("Conversation"), started);
  }

  for (guint i = 0; i < messages->len; i++)
    {
      LanlanMessage *m = messages->pdata[i];
      g_autofree char *time = format_local_time (lanlan_message_get_created (m));
      const char *who;
      const char *translation = lanlan_message_get_translation (m);

      switch (lanlan_message_get_role (m))
        {
        case LANLAN_MESSAGE_ROLE_USER:
          who = _("You");
          break;
        case LANLAN_MESSAGE_ROLE_ASSISTANT:
          who = character_name && *character_name ? character_name : _("Character");
          break;
        default:
          who = _("System");
        }
      g_string_append_printf (out, "**%s** (%s): %s\n", who, time, lanlan_message_get_text (m));
      if (lanlan_message_get_image (m) != NULL)
        g_string_append_printf (out, "\n_%s_\n", _("(showed a picture)"));
      if (translation && *translation)
        {
          g_string_append_c (out, '\n');
          append_quoted (out, translation);
        }
      switch (lanlan_message_get_status (m))
        {
        case LANLAN_MESSAGE_STATUS_INTERRUPTED:
          {
            const char *heard = lanlan_message_get_heard (m);

            if (heard && *heard)
              {
                g_autofree char *sentence =
                  /* Translators: %s: the part of a reply that was heard before the user cut in */
                  g_strdup_printf (_("Interrupted; heard up to: “%s”"), heard);
                g_string_append_printf (out, "\n_%s_\n", sentence);
              }
            else
              g_string_append_printf (out, "\n_%s_\n", _("Interrupted before it was heard"));
          }
          break;
        case LANLAN_MESSAGE_STATUS_FAILED:
          g_string_append_printf (out, "\n_%s_\n", _("Not sent"));
          break;
        case LANLAN_MESSAGE_STATUS_PENDING:
          g_string_append_printf (out, "\n_%s_\n", _("Unfinished"));
          break;
        default:
          break;
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

static void
add_string_or_null (JsonBuilder *b,
                    const char  *name,
                    const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_time (JsonBuilder *b,
          const char  *name,
          gint64       usec)
{
  g_autofree char *iso = usec > 0 ? format_iso8601 (usec) : NULL;

  add_string_or_null (b, name, iso);
}

/*
 * The JSON export, one object:
 *   {
 *     "format": "lanlan-conversation", "version": 1,
 *     "conversation_id": "…", "character_id": "…",
 *     "character_name": "…" (when known),
 *     "created": "2026-12-01T23:00:00.000000Z",
 *     "summary": "…" or null,
 *     "messages": [ { "id", "role" ("user"|"assistant"|"system"),
 *                     "text", "translation" (or null), "heard" (or null),
 *                     "status" ("pending"|"sent"|"failed"|"interrupted"),
 *                     "created", "ended" (ISO 8601 UTC, or null) }, … ]
 *   }
 */
static char *
export_json (const char  *conversation_id,
             const char  *character_id,
             const char  *character_name,
             gint64       created,
             const char  *summary,
             GPtrArray   *messages)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "lanlan-conversation");
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  add_string_or_null (b, "conversation_id", conversation_id);
  add_string_or_null (b, "character_id", character_id);
  if (character_name)
    add_string_or_null (b, "character_name", character_name);
  add_time (b, "created", created);
  add_string_or_null (b, "summary", summary);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; i < messages->len; i++)
    {
      LanlanMessage *m = messages->pdata[i];

      json_builder_begin_object (b);
      add_string_or_null (b, "id", lanlan_message_get_id (m));
      add_string_or_null (b, "role", lanlan_message_get_role_name (m));
      add_string_or_null (b, "text", lanlan_message_get_text (m));
      add_string_or_null (b, "translation", lanlan_message_get_translation (m));
      add_string_or_null (b, "heard", lanlan_message_get_heard (m));
      add_string_or_null (b, "status", status_to_string (lanlan_message_get_status (m)));
      json_builder_set_member_name (b, "image");
      if (lanlan_message_get_image (m) != NULL)
        {
          gsize size;
          const guchar *data = g_bytes_get_data (lanlan_message_get_image (m), &size);
          g_autofree char *b64 = g_base64_encode (data, size);
          g_autofree char *url = g_strconcat ("data:image/jpeg;base64,", b64, NULL);
          json_builder_add_string_value (b, url);
        }
      else
        json_builder_add_null_value (b);
      add_time (b, "created", lanlan_message_get_created (m));
      add_time (b, "ended", lanlan_message_get_ended (m));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/**
 * lanlan_store_export_as:
 * @character_name: (nullable): the character's display name, used for
 *   its messages and the title
 *
 * Like lanlan_store_export(), naming the character.
 */
char *
lanlan_store_export_as (LanlanStore              *self,
                        const char               *conversation_id,
                        LanlanStoreExportFormat   format,
                        const char               *character_name,
                        GError                  **error)
{
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *character_id = NULL;
  g_autofree char *summary = NULL;
  gint64 created = 0;
  sqlite3_stmt *stmt;

  g_return_val_if_fail (LANLAN_IS_STORE (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);

  messages = lanlan_store_load_messages (self, conversation_id, error);
  if (messages == NULL)
    return NULL;

  stmt = prepare (self->read_db,
                  "SELECT character_id, created, summary FROM conversations WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      character_id = column_dup (stmt, 0);
      created = sqlite3_column_int64 (stmt, 1);
      summary = column_dup (stmt, 2);
    }
  sqlite3_finalize (stmt);

  if (format == LANLAN_STORE_EXPORT_JSON)
    return export_json (conversation_id, character_id, character_name, created, summary, messages);
  return export_markdown (character_id, character_name, created, messages);
}

/**
 * lanlan_store_export:
 *
 * The conversation as Markdown or as JSON (the object is described above
 * export_json()); valid UTF-8.
 */
char *
lanlan_store_export (LanlanStore              *self,
                     const char               *conversation_id,
                     LanlanStoreExportFormat   format,
                     GError                  **error)
{
  return lanlan_store_export_as (self, conversation_id, format, NULL, error);
}
