/* lanlan-session-manager.h — one character's conversation with its model
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "lanlan-audio-sink.h"
#include "lanlan-character.h"
#include "lanlan-chat-message.h"
#include "lanlan-tts-worker.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_SESSION_STATE_IDLE,
  LANLAN_SESSION_STATE_CONNECTING,
  LANLAN_SESSION_STATE_CONNECTED,
  LANLAN_SESSION_STATE_RESPONDING,
  LANLAN_SESSION_STATE_RECONNECTING,
  LANLAN_SESSION_STATE_ERROR,
  LANLAN_SESSION_STATE_ENDED,
} LanlanSessionState;

GType lanlan_session_state_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_SESSION_STATE (lanlan_session_state_get_type ())

typedef enum {
  LANLAN_HOT_SWAP_PREPARING,
  LANLAN_HOT_SWAP_READY,
  LANLAN_HOT_SWAP_SWAPPED,
  LANLAN_HOT_SWAP_FAILED,
} LanlanHotSwapStage;

GType lanlan_hot_swap_stage_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_HOT_SWAP_STAGE (lanlan_hot_swap_stage_get_type ())

/**
 * LanlanSessionStats:
 * Counters for tests, benchmarks and diagnostics. All samples are counts
 * of PCM16 frames.
 */
typedef struct {
  guint64 mic_samples_in;       /* given to stream_audio() */
  guint64 mic_samples_sent;     /* appended to some connection */
  guint64 mic_samples_cached;   /* went through the swap/reconnect cache */
  guint64 mic_samples_dropped;  /* cache overflow */
  guint64 speaker_samples;      /* written to the sink */
  guint64 speaker_samples_dropped; /* interrupted responses */
  guint   n_swaps;
  guint   n_reconnects;
  guint   n_bad_events;
  gint64  last_swap_cache_us;   /* how long mic audio waited in the last swap */
  gint64  last_swap_prepare_us; /* PREPARING → SWAPPED of the last swap */
  gint64  last_swap_barrier_us; /* the atomic switch-over of the last swap */
} LanlanSessionStats;

#define LANLAN_TYPE_SESSION_MANAGER (lanlan_session_manager_get_type ())
G_DECLARE_FINAL_TYPE (LanlanSessionManager, lanlan_session_manager, LANLAN, SESSION_MANAGER, GObject)

LanlanSessionManager *lanlan_session_manager_new             (LanlanCharacter      *character,
                                                              LanlanAudioSink      *sink);
void                  lanlan_session_manager_set_api_key     (LanlanSessionManager *self,
                                                              const char           *api_key);
void                  lanlan_session_manager_start_session   (LanlanSessionManager *self);
void                  lanlan_session_manager_stream_text     (LanlanSessionManager *self,
                                                              const char           *text);
void                  lanlan_session_manager_send_text       (LanlanSessionManager *self,
                                                              const char           *message_id,
                                                              const char           *text);
void                  lanlan_session_manager_set_history     (LanlanSessionManager *self,
                                                              GPtrArray            *messages,
                                                              const char           *summary);
void                  lanlan_session_manager_set_history_full (LanlanSessionManager *self,
                                                              GPtrArray            *messages,
                                                              const char * const   *ids,
                                                              const char           *summary);
void                  lanlan_session_manager_set_summary     (LanlanSessionManager *self,
                                                              const char           *summary);
void                  lanlan_session_manager_stream_audio    (LanlanSessionManager *self,
                                                              const gint16         *pcm,
                                                              gsize                 n_samples);
void                  lanlan_session_manager_end_session     (LanlanSessionManager *self);
void                  lanlan_session_manager_describe_seen   (LanlanSessionManager *self,
                                                              const char           *text);
void                  lanlan_session_manager_inject_context  (LanlanSessionManager *self,
                                                              const char           *text);
guint                 lanlan_session_manager_get_input_rate  (LanlanSessionManager *self);
gboolean              lanlan_session_manager_get_active      (LanlanSessionManager *self);
LanlanInputMode       lanlan_session_manager_get_input_mode  (LanlanSessionManager *self);
const char           *lanlan_session_manager_get_character_name (LanlanSessionManager *self);
LanlanCharacter      *lanlan_session_manager_get_character   (LanlanSessionManager *self);
LanlanSessionState    lanlan_session_manager_get_state       (LanlanSessionManager *self);
GPtrArray            *lanlan_session_manager_dup_history     (LanlanSessionManager *self);

/* Additions */
void                  lanlan_session_manager_set_hot_swap_turns   (LanlanSessionManager *self,
                                                                   guint                 turns);
void                  lanlan_session_manager_set_hot_swap_seconds (LanlanSessionManager *self,
                                                                   guint                 seconds);
void                  lanlan_session_manager_request_hot_swap     (LanlanSessionManager *self);
void                  lanlan_session_manager_set_timeouts         (LanlanSessionManager *self,
                                                                   guint                 connect_ms,
                                                                   guint                 response_ms);
void                  lanlan_session_manager_set_tts_backend      (LanlanSessionManager *self,
                                                                   LanlanTtsBackend     *backend);
void                  lanlan_session_manager_send_image           (LanlanSessionManager *self,
                                                                   GBytes               *jpeg);
void                  lanlan_session_manager_get_stats            (LanlanSessionManager *self,
                                                                   LanlanSessionStats   *stats);

/* Signals, all on the main context that was thread-default at _new():
 *   "state-changed"    (LanlanSessionState state)
 *   "transcript-delta" (const char *role, const char *turn_id, const char *delta)
 *   "transcript-done"  (const char *role, const char *turn_id, const char *text)
 *   "turn-ended"       ()
 *   "hot-swap"         (LanlanHotSwapStage stage, const char *detail)
 *   "error"            (GError *error)
 *   "speech-started"   ()
 *   "history-overflow" (GPtrArray *messages, GStrv ids)  LanlanChatMessage,
 *                      oldest first: fell out of the priming budget; fold
 *                      them into the summary and call set_summary(). ids[i]
 *                      is what message i was known as: the id given to
 *                      set_history_full() or send_text(), the turn id of
 *                      its "transcript-done" (assistant: the response, user
 *                      speech: the item), or "" 
 *   "text-sent"        (const char *message_id)
 *   "text-failed"      (const char *message_id, GError *error)
 *   "interrupted"      (const char *turn_id, const char *heard_text,
 *                       guint64 played_samples, guint64 received_samples)
 *                      a reply cut by barge-in (while streaming or still
 *                      playing), before its partial "transcript-done";
 *                      heard_text is the played share of its text
 * Properties: "state", "active", "character".
 */

G_END_DECLS
