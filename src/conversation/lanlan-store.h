/* lanlan-store.h — the conversation database (SQLite)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-message.h"

G_BEGIN_DECLS

#define LANLAN_STORE_ERROR (lanlan_store_error_quark ())
GQuark lanlan_store_error_quark (void);

/**
 * LanlanStoreError:
 * @LANLAN_STORE_ERROR_DAMAGED: the file is not a database we can read; it
 *   was kept aside (see lanlan_store_get_kept_aside()) and a new one made
 * @LANLAN_STORE_ERROR_NEWER: the file was written by a newer Lanlan; kept
 *   aside likewise, never downgraded
 * @LANLAN_STORE_ERROR_IO: the disk refused (full, read-only, not a file)
 * @LANLAN_STORE_ERROR_NOT_FOUND: no such conversation or message
 */
typedef enum {
  LANLAN_STORE_ERROR_DAMAGED,
  LANLAN_STORE_ERROR_NEWER,
  LANLAN_STORE_ERROR_IO,
  LANLAN_STORE_ERROR_NOT_FOUND,
} LanlanStoreError;

/**
 * LanlanStoreConversation:
 * One conversation of a character, as listed in the history browser.
 */
typedef struct {
  char   *id;            /* UUID */
  char   *character_id;
  char   *title;         /* the first user message, shortened; may be "" */
  gint64  created;       /* µs since the epoch, UTC */
  gint64  updated;       /* the newest message's created */
  guint   n_messages;
} LanlanStoreConversation;

void lanlan_store_conversation_free (LanlanStoreConversation *conversation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanStoreConversation, lanlan_store_conversation_free)

/**
 * LanlanStoreHit:
 * One search result.
 */
typedef struct {
  char   *conversation_id;
  char   *character_id;
  char   *message_id;
  char   *role;          /* "user", "assistant", "system" */
  char   *snippet;       /* plain text around the match */
  gint64  created;
} LanlanStoreHit;

void lanlan_store_hit_free (LanlanStoreHit *hit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanStoreHit, lanlan_store_hit_free)

typedef enum {
  LANLAN_STORE_EXPORT_MARKDOWN,
  LANLAN_STORE_EXPORT_JSON,
} LanlanStoreExportFormat;

#define LANLAN_TYPE_STORE (lanlan_store_get_type ())
G_DECLARE_FINAL_TYPE (LanlanStore, lanlan_store, LANLAN, STORE, GObject)

/* Opening. The file is created (with its folder) when missing and
 * migrated forward. A damaged or newer file is renamed aside, never
 * overwritten; a fresh database is made in its place and @error says
 * what happened (DAMAGED or NEWER) while the store is still returned.
 * Returns NULL only when no database can be had at all (IO).
 * The full integrity check of a current file runs afterwards on the
 * writer thread, before any write: damage it finds is handled the same
 * way and reported by the "damaged" signal (GError *), after which reads
 * and writes go to the fresh file. */
LanlanStore *lanlan_store_new                 (const char       *path,
                                               GError          **error);
const char  *lanlan_store_get_path            (LanlanStore      *self);
const char  *lanlan_store_get_kept_aside      (LanlanStore      *self);
/* $XDG_DATA_HOME/lanlan/lanlan.db */
char        *lanlan_store_dup_default_path    (void);

/* Conversations. Ids are made here (UUIDs) and returned at once; the
 * row itself is written by the writer thread. */
char        *lanlan_store_create_conversation (LanlanStore      *self,
                                               const char       *character_id);
char        *lanlan_store_dup_latest_conversation (LanlanStore  *self,
                                               const char       *character_id);
GPtrArray   *lanlan_store_list_conversations  (LanlanStore      *self,
                                               const char       *character_id,
                                               GError          **error); /* LanlanStoreConversation*, newest first */
void         lanlan_store_delete_conversation (LanlanStore      *self,
                                               const char       *conversation_id);
void         lanlan_store_delete_character    (LanlanStore      *self,
                                               const char       *character_id);

/* Messages. save_message() snapshots the message (id, role, text,
 * translation, heard, created, ended, status) and queues the write to the
 * writer thread, which commits it promptly (several queued writes may share
 * one transaction); saving the same id again replaces the row. Never blocks
 * on the disk. */
void         lanlan_store_save_message        (LanlanStore      *self,
                                               const char       *conversation_id,
                                               LanlanMessage    *message);
void         lanlan_store_delete_message      (LanlanStore      *self,
                                               const char       *message_id);
GPtrArray   *lanlan_store_load_messages       (LanlanStore      *self,
                                               const char       *conversation_id,
                                               GError          **error); /* LanlanMessage*, oldest first */

/* The rolling summary of older turns (memory). @upto_message_id: the
 * newest message the summary covers. */
void         lanlan_store_set_summary         (LanlanStore      *self,
                                               const char       *conversation_id,
                                               const char       *summary,
                                               const char       *upto_message_id);
char        *lanlan_store_dup_summary         (LanlanStore      *self,
                                               const char       *conversation_id,
                                               char            **upto_message_id);

/* Search (FTS5) across all conversations, or one character's when
 * @character_id is not NULL. Newest first. */
GPtrArray   *lanlan_store_search              (LanlanStore      *self,
                                               const char       *query,
                                               const char       *character_id,
                                               guint             limit,
                                               GError          **error); /* LanlanStoreHit* */

/* Markdown: a title, then "**You** (time): text" per message, the
 * translation quoted below it, interrupted replies marked with what was
 * heard. JSON: {"format": "lanlan-conversation", "version": 1,
 * "conversation_id", "character_id", ["character_name"], "created",
 * "summary", "messages": [{"id", "role", "text", "translation", "heard",
 * "status", "created", "ended"}]}, times ISO 8601 UTC or null. */
char        *lanlan_store_export              (LanlanStore      *self,
                                               const char       *conversation_id,
                                               LanlanStoreExportFormat format,
                                               GError          **error);
/* The same, naming the character (title, its messages' speaker, and
 * "character_name" in JSON); @character_name may be NULL. */
char        *lanlan_store_export_as           (LanlanStore      *self,
                                               const char       *conversation_id,
                                               LanlanStoreExportFormat format,
                                               const char       *character_name,
                                               GError          **error);

/* Waits until every queued write is committed (shutdown, tests). */
gboolean     lanlan_store_flush               (LanlanStore      *self,
                                               GError          **error);

/* Signals (main context of the creator):
 *   "write-failed" (GError *error) — a queued write could not be
 *     committed (disk full, read-only); the write is kept and retried
 *     at the next save or flush, so nothing is lost while the app runs.
 *   "write-succeeded" () — the first commit after a failure.
 */

G_END_DECLS
