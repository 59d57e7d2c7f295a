/* lanlan-session-manager-private.h — what the session manager's facet files share
 *
 * LanlanSessionManager is split by concern, like GNOME Text Editor's
 * editor-session: lanlan-session-manager.c (the worker thread, signals,
 * connections, events, commands, public API) and
 * lanlan-session-hot-swap.c (renewing a session without a gap). The
 * worker state and the functions one facet calls in another live here.
 * All of it runs on the worker thread unless a comment says otherwise.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-realtime-client.h"
#include "lanlan-session-manager.h"

G_BEGIN_DECLS

typedef enum {
  CONN_INITIAL,
  CONN_SWAP,
  CONN_RECONNECT,
} ConnKind;

typedef struct _Worker Worker;
typedef struct _ChatEngine ChatEngine;

typedef struct {
  Worker               *w;
  LanlanRealtimeClient *client;
  const LanlanProvider *provider;
  ConnKind              kind;
  guint64               serial;     /* settings it was built with */
  gboolean              ready;
  gboolean              text_only;
  guint                 n_updated;  /* session.updated seen */
  GArray               *lore;       /* lorebook entries its context has (indexes) */
} Conn;

struct _Worker
{
  gatomicrefcount       ref;
  GWeakRef              owner;
  GMainContext         *owner_ctx;
  GMainContext         *ctx;
  GMainLoop            *loop;
  GThread              *thread;

  /* Shared, under lock. */
  GMutex                lock;
  GPtrArray            *history;        /* LanlanChatMessage, the priming window */
  GPtrArray            *history_ids;    /* char *, "" if none: parallel to it */
  gsize                 history_bytes;
  GQueue                mic_queue;      /* GBytes, not yet seen by the worker */
  gboolean              mic_drain_posted;
  LanlanSessionStats    stats;
  guint                 input_rate;

  /* Signals on their way to the owner's context, in order (under
   * emit_lock). One source carries them all, and a turn's deltas fold
   * into one emission while they wait: see post(). */
  GMutex                emit_lock;
  GQueue                emit_queue;     /* Emission */
  GSource              *emit_source;    /* the pending one, or NULL */
  gint64                emit_last;      /* when the owner last took them */

  /* Worker thread only. */
  LanlanCharacter      *settings;
  guint64               settings_serial; /* the character's, not the copy's */
  char                 *api_key;
  gboolean              have_key;
  LanlanAudioSink      *sink;
  guint                 connect_ms;
  guint                 response_ms;
  guint                 hot_swap_turns;
  guint                 hot_swap_seconds;
  LanlanTtsBackend     *tts_backend;

  gboolean              started;
  LanlanSessionState    state;
  Conn                 *active;
  Conn                 *pending;
  guint64               active_serial;
  guint                 turns;
  gint64                session_started;
  gboolean              force_swap;

  gboolean              in_flight;
  char                 *response_id;
  char                 *audio_item_id;      /* last assistant item with audio */
  gboolean              audio_reset_done;
  GHashTable           *dropped;            /* response ids to ignore */
  GString              *assistant_text;
  gboolean              assistant_done;
  gboolean              user_speaking;
  GPtrArray            *pending_texts;      /* PendingText, typed before connected */
  GBytes               *pending_image;      /* the newest picture shown before connected */
  char                 *summary;            /* of what fell out of the history */
  GPtrArray            *agent_context;      /* for the next priming */
  GPtrArray            *queued_context;     /* text mode, when idle */

  gboolean              swapping;
  guint                 primed_len;
  GSource              *swap_timer;
  guint                 barrier;    /* the n_updated that completes the swap */
  gint64                swap_prepared_at;
  gint64                swap_barrier_at;
  GArray               *mic_cache;
  gint64                cache_started;

  guint                 reconnect_attempt;  /* in a row, by sessions that did not live */
  guint                 reconnect_max;
  guint                 reconnect_delay_ms;
  gint64                reconnect_times[6]; /* the last attempts, a ring */
  guint                 reconnect_head;
  guint                 reconnect_n;
  GSource              *reconnect_timer;
  GError               *last_error;

  /* The last answer, for "interrupted": its text so far and the audio
   * samples of it written to the sink. Outlives reset_response(), since
   * an answer can still be playing after response.done. */
  char                 *reply_id;
  GString              *reply_text;
  guint64               reply_samples;

  LanlanTtsWorker      *tts;
  gboolean              tts_refused;    /* its service refused the key: said once */
  guint                 speech_id;
  GString              *tts_buffer;
  guint                 n_texts;

  ChatEngine           *chat;     /* text mode (lanlan-session-chat.c) */
};

typedef struct {
  char *id;
  char *text;
} PendingText;

/* lanlan-session-manager.c */
void     _lanlan_session_set_state           (Worker             *w,
                                              LanlanSessionState  state);
void     _lanlan_session_emit_hot_swap       (Worker             *w,
                                              LanlanHotSwapStage  stage,
                                              const char         *detail);
void     _lanlan_session_conn_free           (Conn               *conn);
void     _lanlan_session_start_conn          (Worker             *w,
                                              ConnKind            kind);
void     _lanlan_session_prime               (Worker             *w,
                                              Conn               *conn,
                                              guint               from);
void     _lanlan_session_prime_context       (Worker             *w,
                                              Conn               *conn);
guint    _lanlan_session_history_len         (Worker             *w);
char    *_lanlan_session_compose_instructions (Worker            *w,
                                              Conn              *conn);
void     _lanlan_session_flush_mic_cache     (Worker             *w);
void     _lanlan_session_flush_pending_input (Worker             *w);

/* lanlan-session-hot-swap.c */
void     _lanlan_session_swap_conn_ready     (Worker             *w,
                                              Conn               *conn);
void     _lanlan_session_maybe_swap          (Worker             *w);
void     _lanlan_session_prepare_swap        (Worker             *w,
                                              const char         *why);
void     _lanlan_session_finish_swap         (Worker             *w);
void     _lanlan_session_fail_swap           (Worker             *w,
                                              const char         *why);
void     _lanlan_session_on_pending_event    (Worker             *w,
                                              Conn               *conn,
                                              const LanlanRealtimeEvent *event);
void     _lanlan_session_after_turn          (Worker             *w);

/* lanlan-session-manager.c, for the chat engine */
Worker  *_lanlan_session_worker_ref          (Worker             *w);
void     _lanlan_session_worker_unref        (Worker             *w);
void     _lanlan_session_emit_text           (Worker             *w,
                                              gboolean            done,
                                              const char         *role,
                                              const char         *turn_id,
                                              const char         *text);
void     _lanlan_session_emit_turn_ended     (Worker             *w);
void     _lanlan_session_emit_error          (Worker             *w,
                                              const GError       *error);
void     _lanlan_session_emit_text_sent      (Worker             *w,
                                              const char         *message_id);
void     _lanlan_session_emit_speech_started (Worker             *w);
gboolean _lanlan_session_emit_image_refused  (Worker             *w,
                                              GBytes             *jpeg);
void     _lanlan_session_emit_interrupted    (Worker             *w,
                                              const char         *turn_id,
                                              const char         *heard,
                                              guint64             played,
                                              guint64             received);
void     _lanlan_session_fail_session        (Worker             *w,
                                              const GError       *error);
void     _lanlan_session_history_add         (Worker             *w,
                                              const char         *role,
                                              const char         *text);
void     _lanlan_session_history_add_id      (Worker             *w,
                                              const char         *role,
                                              const char         *text,
                                              const char         *id);
void     _lanlan_session_history_remove_id   (Worker             *w,
                                              const char         *id);
void     _lanlan_session_emit_text_failed    (Worker             *w,
                                              const char         *message_id,
                                              const GError       *error);
GPtrArray *_lanlan_session_history_dup       (Worker             *w);
void     _lanlan_session_stats_add           (Worker             *w,
                                              guint64            *field,
                                              guint64             n);
void     _lanlan_session_stats_add_reconnect (Worker             *w);
void     _lanlan_session_close_realtime      (Worker             *w);
void     _lanlan_session_restart             (Worker             *w);
const char *_lanlan_session_model_voice      (LanlanCharacter    *settings,
                                              const LanlanProvider *provider);

/* lanlan-session-chat.c: text mode. The microphone rate it listens at: */
#define _LANLAN_SESSION_CHAT_INPUT_RATE 16000
/* The hooks return TRUE when the chat
 * engine handled the call. */
gboolean _lanlan_session_chat_wanted         (Worker             *w);
gboolean _lanlan_session_chat_is_active      (Worker             *w);
void     _lanlan_session_chat_start          (Worker             *w);
gboolean _lanlan_session_chat_flush_input    (Worker             *w);
gboolean _lanlan_session_chat_barge_in       (Worker             *w);
gboolean _lanlan_session_chat_context        (Worker             *w,
                                              const char         *text);
gboolean _lanlan_session_chat_seen           (Worker             *w,
                                              const char         *text);
gboolean _lanlan_session_chat_image          (Worker             *w,
                                              GBytes             *jpeg);
gboolean _lanlan_session_chat_mic            (Worker             *w,
                                              const gint16       *pcm,
                                              gsize               n_samples);
gboolean _lanlan_session_chat_settings_changed (Worker           *w);
void     _lanlan_session_chat_end            (Worker             *w);
void     _lanlan_session_chat_free           (Worker             *w);

G_END_DECLS
