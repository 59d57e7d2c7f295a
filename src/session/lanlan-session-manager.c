/* lanlan-session-manager.c — one character's conversation with its model
 *
 * Each character gets a worker thread with its own GMainContext; the
 * realtime client, the conversation state and the audio routing live
 * there, so a slow network or a burst of audio deltas never stalls the UI,
 * and one character's trouble never touches another's. The UI talks to it
 * through thread-safe calls that post to the worker, and hears back
 * through signals that the worker posts to the context that created the
 * manager. The worker never holds a strong reference to the manager (a
 * GWeakRef in a shared refcounted struct), so dropping the last UI
 * reference shuts the thread down cleanly.
 *
 * Sessions are renewed without a gap ("hot swap", in
 * lanlan-session-hot-swap.c). A dropped or expired connection is replaced
 * the same way, with backoff, and the history survives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gio/gio.h>
#include <string.h>

#include "lanlan-log.h"
#include "lanlan-realtime-client.h"
#include "lanlan-secrets.h"
#include "lanlan-session-manager-private.h"
#include "lanlan-tts-select.h"

#define MIC_CACHE_SECONDS   30

/* Reconnecting. A server that accepts a session and closes it at once
 * must not get a connection (and the primed history) every 100 ms
 * forever: the attempt counter only resets once a session has lived
 * (SESSION_LIVED_SECONDS, or answered a turn), each attempt waits twice
 * as long as the one before (from the "reconnect-delay-ms" setting up to
 * RECONNECT_MAX_DELAY_MS), no more than RECONNECTS_PER_MINUTE start in
 * any minute, and after "reconnect-attempts" in a row the session stops
 * in ERROR, with a message, until the user retries. */
#define SESSION_LIVED_SECONDS   30
#define RECONNECT_MAX_DELAY_MS  30000
#define RECONNECTS_PER_MINUTE   G_N_ELEMENTS (((Worker *) NULL)->reconnect_times)

G_DEFINE_ENUM_TYPE (LanlanSessionState, lanlan_session_state,
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_IDLE, "idle"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_CONNECTED, "connected"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_RESPONDING, "responding"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_RECONNECTING, "reconnecting"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_ERROR, "error"),
  G_DEFINE_ENUM_VALUE (LANLAN_SESSION_STATE_ENDED, "ended"))

G_DEFINE_ENUM_TYPE (LanlanHotSwapStage, lanlan_hot_swap_stage,
  G_DEFINE_ENUM_VALUE (LANLAN_HOT_SWAP_PREPARING, "preparing"),
  G_DEFINE_ENUM_VALUE (LANLAN_HOT_SWAP_READY, "ready"),
  G_DEFINE_ENUM_VALUE (LANLAN_HOT_SWAP_SWAPPED, "swapped"),
  G_DEFINE_ENUM_VALUE (LANLAN_HOT_SWAP_FAILED, "failed"))


struct _LanlanSessionManager
{
  GObject             parent_instance;

  GMainContext       *owner_ctx;
  LanlanCharacter    *character;
  gulong              serial_handler;
  LanlanAudioSink    *sink;
  Worker             *worker;
  LanlanSessionState  state;
  gboolean            active;
};

G_DEFINE_FINAL_TYPE (LanlanSessionManager, lanlan_session_manager, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_ACTIVE,
  PROP_CHARACTER,
  N_PROPS
};

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_TRANSCRIPT_DELTA,
  SIGNAL_TRANSCRIPT_DONE,
  SIGNAL_TURN_ENDED,
  SIGNAL_HOT_SWAP,
  SIGNAL_ERROR,
  SIGNAL_SPEECH_STARTED,
  SIGNAL_HISTORY_OVERFLOW,
  SIGNAL_TEXT_SENT,
  SIGNAL_TEXT_FAILED,
  SIGNAL_INTERRUPTED,
  SIGNAL_IMAGE_REFUSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void worker_conn_lost     (Worker *w, Conn *conn, GError *error);

/* --- Worker lifetime ------------------------------------------------------ */

static Worker *
worker_ref (Worker *w)
{
  g_atomic_ref_count_inc (&w->ref);
  return w;
}

static void
worker_unref (Worker *w)
{
  if (!g_atomic_ref_count_dec (&w->ref))
    return;

  g_weak_ref_clear (&w->owner);
  g_main_context_unref (w->owner_ctx);
  g_main_context_unref (w->ctx);
  g_main_loop_unref (w->loop);
  g_ptr_array_unref (w->history);
  g_ptr_array_unref (w->history_ids);
  g_queue_clear_full (&w->mic_queue, (GDestroyNotify) g_bytes_unref);
  g_mutex_clear (&w->lock);
  g_mutex_clear (&w->emit_lock);
  g_clear_object (&w->settings);
  g_free (w->api_key);
  g_clear_object (&w->sink);
  lanlan_tts_backend_free (w->tts_backend);
  g_hash_table_unref (w->dropped);
  g_string_free (w->assistant_text, TRUE);
  g_ptr_array_unref (w->pending_texts);
  g_clear_pointer (&w->pending_image, g_bytes_unref);
  g_free (w->summary);
  g_free (w->reply_id);
  g_string_free (w->reply_text, TRUE);
  g_ptr_array_unref (w->agent_context);
  g_ptr_array_unref (w->queued_context);
  g_array_unref (w->mic_cache);
  g_string_free (w->tts_buffer, TRUE);
  g_free (w->response_id);
  g_free (w->audio_item_id);
  g_clear_error (&w->last_error);
  g_free (w);
}

/* --- Posting to the owner's context -------------------------------------- *
 *
 * The worker's signals reach the owner's context through one queue and
 * one source, in order. A server may stream thousands of transcript
 * deltas a second: one idle source each buried the owner's main loop
 * (each iteration walks every source) and woke it thousands of times a
 * second. Now the deltas of one turn fold into the emission waiting at
 * the tail of the queue, and the source that carries them goes out at
 * most once per EMIT_DELTA_INTERVAL_US; any other signal (state, done,
 * errors) goes out at once, with everything queued before it. Nothing
 * is dropped: the owner gets the same text in fewer, larger deltas.
 */

#define EMIT_DELTA_INTERVAL_US  (16 * G_TIME_SPAN_MILLISECOND)

typedef enum {
  EMIT_STATE,
  EMIT_DELTA,
  EMIT_DONE,
  EMIT_TURN_ENDED,
  EMIT_HOT_SWAP,
  EMIT_ERROR,
  EMIT_SPEECH_STARTED,
  EMIT_HISTORY_OVERFLOW,
  EMIT_TEXT_SENT,
  EMIT_TEXT_FAILED,
  EMIT_INTERRUPTED,
  EMIT_IMAGE_REFUSED,
} EmitKind;

typedef struct {
  Worker             *w;
  EmitKind            kind;
  LanlanSessionState  state;
  gboolean            active;
  LanlanHotSwapStage  stage;
  char               *role;
  char               *turn_id;
  char               *text;
  GString            *delta;        /* EMIT_DELTA: the turn's deltas so far */
  GError             *error;
  GPtrArray          *messages;
  char              **ids;
  guint64             played;
  guint64             received;
  GBytes             *bytes;
} Emission;

static void
emission_free (gpointer data)
{
  Emission *e = data;

  worker_unref (e->w);
  g_free (e->role);
  g_free (e->turn_id);
  g_free (e->text);
  if (e->delta != NULL)
    g_string_free (e->delta, TRUE);
  g_clear_error (&e->error);
  g_clear_pointer (&e->messages, g_ptr_array_unref);
  g_strfreev (e->ids);
  g_clear_pointer (&e->bytes, g_bytes_unref);
  g_free (e);
}

static void
emission_dispatch (Emission             *e,
                   LanlanSessionManager *self)
{
  switch (e->kind)
    {
    case EMIT_STATE:
      {
        gboolean active_changed = self->active != e->active;

        self->state = e->state;
        self->active = e->active;
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
        if (active_changed)
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
        g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, e->state);
      }
      break;
    case EMIT_DELTA:
      g_signal_emit (self, signals[SIGNAL_TRANSCRIPT_DELTA], 0, e->role, e->turn_id, e->delta->str);
      break;
    case EMIT_DONE:
      g_signal_emit (self, signals[SIGNAL_TRANSCRIPT_DONE], 0, e->role, e->turn_id, e->text);
      break;
    case EMIT_TURN_ENDED:
      g_signal_emit (self, signals[SIGNAL_TURN_ENDED], 0);
      break;
    case EMIT_HOT_SWAP:
      g_signal_emit (self, signals[SIGNAL_HOT_SWAP], 0, e->stage, e->text);
      break;
    case EMIT_ERROR:
      g_signal_emit (self, signals[SIGNAL_ERROR], 0, e->error);
      break;
    case EMIT_SPEECH_STARTED:
      g_signal_emit (self, signals[SIGNAL_SPEECH_STARTED], 0);
      break;
    case EMIT_HISTORY_OVERFLOW:
      g_signal_emit (self, signals[SIGNAL_HISTORY_OVERFLOW], 0, e->messages, e->ids);
      break;
    case EMIT_TEXT_SENT:
      g_signal_emit (self, signals[SIGNAL_TEXT_SENT], 0, e->turn_id);
      break;
    case EMIT_TEXT_FAILED:
      g_signal_emit (self, signals[SIGNAL_TEXT_FAILED], 0, e->turn_id, e->error);
      break;
    case EMIT_INTERRUPTED:
      g_signal_emit (self, signals[SIGNAL_INTERRUPTED], 0, e->turn_id, e->text,
                     e->played, e->received);
      break;
    case EMIT_IMAGE_REFUSED:
      g_signal_emit (self, signals[SIGNAL_IMAGE_REFUSED], 0, e->bytes);
      break;
    }
}

/* One trip of the queue to the owner's context. */
typedef struct {
  Worker  *w;
  GSource *source;
} Trip;

/* Takes the queue if @trip's source is still the pending one. */
static GQueue
trip_take_queue (Trip *trip)
{
  Worker *w = trip->w;
  GQueue queue = G_QUEUE_INIT;

  g_mutex_lock (&w->emit_lock);
  if (w->emit_source == trip->source)
    {
      queue = w->emit_queue;
      g_queue_init (&w->emit_queue);
      g_clear_pointer (&w->emit_source, g_source_unref);
      w->emit_last = g_get_monotonic_time ();
    }
  g_mutex_unlock (&w->emit_lock);
  return queue;
}

static gboolean
trip_dispatch (gpointer data)
{
  Trip *trip = data;
  g_autoptr(LanlanSessionManager) self = g_weak_ref_get (&trip->w->owner);
  GQueue queue = trip_take_queue (trip);
  Emission *e;

  while ((e = g_queue_pop_head (&queue)) != NULL)
    {
      if (self != NULL)
        emission_dispatch (e, self);
      emission_free (e);
    }
  return G_SOURCE_REMOVE;
}

static void
trip_free (gpointer data)
{
  Trip *trip = data;
  GQueue queue = trip_take_queue (trip);   /* destroyed before it went */

  g_queue_clear_full (&queue, emission_free);
  worker_unref (trip->w);
  g_free (trip);
}

static gboolean
trip_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs trip_source_funcs = {
  .dispatch = trip_source_dispatch,
};

/* With emit_lock held: makes sure a source will carry the queue, at once
 * or, for deltas alone, a frame after the last trip. */
static void
schedule_locked (Worker   *w,
                 gboolean  at_once)
{
  GSource *source;
  Trip *trip;

  if (w->emit_source != NULL)
    {
      if (at_once)
        g_source_set_ready_time (w->emit_source, 0);
      return;
    }

  trip = g_new0 (Trip, 1);
  trip->w = worker_ref (w);
  trip->source = source = g_source_new (&trip_source_funcs, sizeof (GSource));
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, trip_dispatch, trip, trip_free);
  g_source_set_static_name (source, "[lanlan] session signals");
  g_source_set_ready_time (source, at_once ? 0 : w->emit_last + EMIT_DELTA_INTERVAL_US);
  w->emit_source = source;
  g_source_attach (source, w->owner_ctx);
}

static Emission *
emission_new (Worker   *w,
              EmitKind  kind)
{
  Emission *e = g_new0 (Emission, 1);

  e->w = worker_ref (w);
  e->kind = kind;
  return e;
}

static void
post (Emission *e)
{
  Worker *w = e->w;

  g_mutex_lock (&w->emit_lock);
  g_queue_push_tail (&w->emit_queue, e);
  schedule_locked (w, e->kind != EMIT_DELTA);
  g_mutex_unlock (&w->emit_lock);
}

/* A delta joins the one waiting for the same turn at the tail. */
static void
post_delta (Worker     *w,
            const char *role,
            const char *turn_id,
            const char *text)
{
  Emission *last;

  if (turn_id == NULL)
    turn_id = "";
  g_mutex_lock (&w->emit_lock);
  last = g_queue_peek_tail (&w->emit_queue);
  if (last != NULL && last->kind == EMIT_DELTA &&
      g_str_equal (last->role, role) && g_str_equal (last->turn_id, turn_id))
    g_string_append (last->delta, text);
  else
    {
      Emission *e = emission_new (w, EMIT_DELTA);

      e->role = g_strdup (role);
      e->turn_id = g_strdup (turn_id);
      e->delta = g_string_new (text);
      g_queue_push_tail (&w->emit_queue, e);
      schedule_locked (w, FALSE);
    }
  g_mutex_unlock (&w->emit_lock);
}

static void
emit_text (Worker     *w,
           EmitKind    kind,
           const char *role,
           const char *turn_id,
           const char *text)
{
  Emission *e;

  if (kind == EMIT_DELTA)
    {
      post_delta (w, role, turn_id, text ? text : "");
      return;
    }
  e = emission_new (w, kind);
  e->role = g_strdup (role);
  e->turn_id = g_strdup (turn_id ? turn_id : "");
  e->text = g_strdup (text ? text : "");
  post (e);
}

static void
emit_simple (Worker   *w,
             EmitKind  kind)
{
  post (emission_new (w, kind));
}

void
_lanlan_session_emit_hot_swap (Worker             *w,
               LanlanHotSwapStage  stage,
               const char         *detail)
{
  Emission *e = emission_new (w, EMIT_HOT_SWAP);

  e->stage = stage;
  e->text = g_strdup (detail ? detail : "");
  post (e);
}

static void
emit_error (Worker       *w,
            const GError *error)
{
  Emission *e = emission_new (w, EMIT_ERROR);

  e->error = g_error_copy (error);
  post (e);
}

static void
pending_text_free (gpointer data)
{
  PendingText *t = data;

  g_free (t->id);
  g_free (t->text);
  g_free (t);
}

static void
emit_text_sent (Worker     *w,
                const char *message_id)
{
  Emission *e = emission_new (w, EMIT_TEXT_SENT);

  e->turn_id = g_strdup (message_id);
  post (e);
}

/* Typed text that can no longer go out: the session failed or ended. */
static void
fail_pending_texts (Worker       *w,
                    const GError *error)
{
  for (guint i = 0; i < w->pending_texts->len; i++)
    {
      PendingText *t = g_ptr_array_index (w->pending_texts, i);
      Emission *e = emission_new (w, EMIT_TEXT_FAILED);

      e->turn_id = g_strdup (t->id);
      e->error = g_error_copy (error);
      post (e);
    }
  g_ptr_array_set_size (w->pending_texts, 0);
}

static gboolean
state_is_active (gboolean           started,
                 LanlanSessionState state)
{
  return started && (state == LANLAN_SESSION_STATE_CONNECTING ||
                     state == LANLAN_SESSION_STATE_CONNECTED ||
                     state == LANLAN_SESSION_STATE_RESPONDING ||
                     state == LANLAN_SESSION_STATE_RECONNECTING);
}

void
_lanlan_session_set_state (Worker             *w,
           LanlanSessionState  state)
{
  Emission *e;

  if (w->state == state)
    return;
  w->state = state;
  e = emission_new (w, EMIT_STATE);
  e->state = state;
  e->active = state_is_active (w->started, state);
  post (e);

  if (state == LANLAN_SESSION_STATE_ERROR && w->pending_texts->len > 0)
    {
      g_autoptr(GError) error = w->last_error != NULL ? g_error_copy (w->last_error)
        : g_error_new_literal (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                               _("The conversation could not be reached"));
      fail_pending_texts (w, error);
    }
  else if (state == LANLAN_SESSION_STATE_ENDED && w->pending_texts->len > 0)
    {
      g_autoptr(GError) error =
        g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("The conversation ended before the message was sent"));
      fail_pending_texts (w, error);
    }
}

/* The session cannot go on: says why and waits for the user's retry. */
static void
fail_session (Worker       *w,
              const GError *error)
{
  if (error != w->last_error)
    {
      g_clear_error (&w->last_error);
      w->last_error = g_error_copy (error);
    }
  emit_error (w, error);
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_ERROR);
  /* Also when the state already was ERROR (typing after a failure). */
  fail_pending_texts (w, error);
}

/* --- History ------------------------------------------------------------- */

/* What a new session is primed with (start, reconnect, hot swap): a
 * summary of what came before as system context, then the newest messages
 * within a budget of count and bytes, the same for every service. Past
 * the budget the oldest messages go in one batch, down to three quarters
 * of it (so a batch is worth summarizing), and are handed to the owner in
 * "history-overflow" to fold into the summary (LanlanSummarizer), which
 * comes back through lanlan_session_manager_set_summary(). N.E.K.O keeps
 * a handful of recent messages plus a compressed memo the same way. The
 * conversation keeps the whole transcript. */
#define PRIME_MAX_MESSAGES 40
#define PRIME_MAX_BYTES    (16 * 1024)
#define SUMMARY_PREFIX     "Summary of the earlier conversation:\n"
#define LORE_PREFIX        "Background for the conversation from here on:\n"

/* Under the lock. Returns what fell out, or NULL; @ids gets their ids. */
static GPtrArray *
history_trim_locked (Worker     *w,
                     GPtrArray **ids)
{
  GPtrArray *overflow;

  *ids = NULL;
  if (w->history->len <= PRIME_MAX_MESSAGES && w->history_bytes <= PRIME_MAX_BYTES)
    return NULL;
  overflow = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  *ids = g_ptr_array_new_with_free_func (g_free);
  while (w->history->len > 1 &&
         (w->history->len > PRIME_MAX_MESSAGES * 3 / 4 || w->history_bytes > PRIME_MAX_BYTES * 3 / 4))
    {
      LanlanChatMessage *oldest = g_ptr_array_steal_index (w->history, 0);

      w->history_bytes -= strlen (oldest->content);
      g_ptr_array_add (overflow, oldest);
      g_ptr_array_add (*ids, g_ptr_array_steal_index (w->history_ids, 0));
      /* Indexes into the history shift with it. */
      if (w->primed_len > 0)
        w->primed_len--;
    }
  return overflow;
}

/* Takes both. */
static void
emit_overflow (Worker    *w,
               GPtrArray *overflow,
               GPtrArray *ids)
{
  Emission *e;

  if (overflow == NULL || overflow->len == 0)
    {
      g_clear_pointer (&overflow, g_ptr_array_unref);
      g_clear_pointer (&ids, g_ptr_array_unref);
      return;
    }
  e = emission_new (w, EMIT_HISTORY_OVERFLOW);
  e->messages = overflow;
  g_ptr_array_add (ids, NULL);
  e->ids = (char **) g_ptr_array_free (ids, FALSE);
  post (e);
}

static void lore_refresh (Worker *w);

/* @id: what the message was reported as (a message id or a turn id), so
 * that "history-overflow" can say which messages fell out. */
static void
history_add (Worker     *w,
             const char *role,
             const char *text,
             const char *id)
{
  GPtrArray *overflow;
  GPtrArray *ids;

  if (text == NULL || *text == '\0')
    return;
  g_mutex_lock (&w->lock);
  g_ptr_array_add (w->history, lanlan_chat_message_new (role, text));
  g_ptr_array_add (w->history_ids, g_strdup (id ? id : ""));
  w->history_bytes += strlen (text);
  overflow = history_trim_locked (w, &ids);
  g_mutex_unlock (&w->lock);
  emit_overflow (w, overflow, ids);
  lore_refresh (w);
}

/* @messages (LanlanChatMessage, oldest first) and @ids (nullable, as
 * many): copied. */
static void
history_replace (Worker      *w,
                 GPtrArray   *messages,
                 char       **ids)
{
  GPtrArray *overflow;
  GPtrArray *out_ids;

  g_mutex_lock (&w->lock);
  g_ptr_array_set_size (w->history, 0);
  g_ptr_array_set_size (w->history_ids, 0);
  w->history_bytes = 0;
  for (guint i = 0; i < messages->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (messages, i);

      if (m->content == NULL || *m->content == '\0')
        continue;
      g_ptr_array_add (w->history, lanlan_chat_message_copy (m));
      g_ptr_array_add (w->history_ids, g_strdup (ids != NULL ? ids[i] : ""));
      w->history_bytes += strlen (m->content);
    }
  /* A pending replacement has seen none of these. */
  w->primed_len = 0;
  overflow = history_trim_locked (w, &out_ids);
  g_mutex_unlock (&w->lock);
  emit_overflow (w, overflow, out_ids);
}

static GPtrArray *
history_dup_from (Worker *w,
                  guint   from)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  g_mutex_lock (&w->lock);
  for (guint i = from; i < w->history->len; i++)
    g_ptr_array_add (copy, lanlan_chat_message_copy (g_ptr_array_index (w->history, i)));
  g_mutex_unlock (&w->lock);
  return copy;
}

guint
_lanlan_session_history_len (Worker *w)
{
  guint n;

  g_mutex_lock (&w->lock);
  n = w->history->len;
  g_mutex_unlock (&w->lock);
  return n;
}

/* --- Connections --------------------------------------------------------- */

void
_lanlan_session_conn_free (Conn *conn)
{
  if (conn == NULL)
    return;
  if (conn->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn->client, conn);
      lanlan_realtime_client_close (conn->client);
      g_clear_object (&conn->client);
    }
  g_clear_pointer (&conn->lore, g_array_unref);
  g_free (conn);
}

static void
stats_add (Worker  *w,
           guint64 *field,
           guint64  n)
{
  g_mutex_lock (&w->lock);
  *field += n;
  g_mutex_unlock (&w->lock);
}

static void
send_mic (Worker       *w,
          const gint16 *pcm,
          gsize         n)
{
  if (lanlan_realtime_client_append_audio (w->active->client, pcm, n))
    stats_add (w, &w->stats.mic_samples_sent, n);
  else
    stats_add (w, &w->stats.mic_samples_dropped, n);
}

static gboolean
can_send_mic (Worker *w)
{
  return w->active != NULL && w->active->ready && !w->swapping &&
         lanlan_realtime_client_is_open (w->active->client);
}

static void
cache_mic (Worker       *w,
           const gint16 *pcm,
           gsize         n)
{
  guint max = MIC_CACHE_SECONDS * MAX (w->input_rate, 8000);

  if (w->mic_cache->len == 0)
    w->cache_started = g_get_monotonic_time ();
  g_array_append_vals (w->mic_cache, pcm, n);
  stats_add (w, &w->stats.mic_samples_cached, n);
  if (w->mic_cache->len > max)
    {
      guint excess = w->mic_cache->len - max;

      g_array_remove_range (w->mic_cache, 0, excess);
      stats_add (w, &w->stats.mic_samples_dropped, excess);
    }
}

void
_lanlan_session_flush_mic_cache (Worker *w)
{
  if (w->mic_cache->len == 0 || !can_send_mic (w))
    return;
  /* Chunks of 100 ms keep each frame small. */
  for (guint off = 0; off < w->mic_cache->len; off += w->input_rate / 10)
    {
      guint n = MIN (w->input_rate / 10, w->mic_cache->len - off);
      send_mic (w, &g_array_index (w->mic_cache, gint16, off), n);
    }
  g_mutex_lock (&w->lock);
  w->stats.last_swap_cache_us = g_get_monotonic_time () - w->cache_started;
  g_mutex_unlock (&w->lock);
  g_array_set_size (w->mic_cache, 0);
}

static const LanlanProvider *
settings_provider (LanlanCharacter *settings)
{
  const LanlanProvider *p = lanlan_provider_lookup (lanlan_character_get_provider (settings));
  return p;
}

static char *
instructions_for (LanlanCharacter *settings,
                  const char      *persona)
{
  const char *language = lanlan_character_get_language (settings);
  GString *s = g_string_new (persona);

  if (language != NULL && *language != '\0')
    g_string_append_printf (s, "%sAlways answer in the language with the BCP 47 tag “%s”.",
                            s->len > 0 ? "\n\n" : "", language);
  return g_string_free (s, FALSE);
}

/* The lorebook entries the priming window activates now, or NULL
 * without a lorebook. */
static GArray *
lore_match (Worker *w)
{
  LanlanLorebook *book = lanlan_character_get_lorebook (w->settings);
  g_autoptr(GPtrArray) recent = NULL;
  g_autofree const char **texts = NULL;

  if (book == NULL)
    return NULL;
  recent = history_dup_from (w, 0);
  texts = g_new0 (const char *, recent->len + 1);
  for (guint i = 0; i < recent->len; i++)
    texts[i] = ((LanlanChatMessage *) g_ptr_array_index (recent, i))->content;
  return lanlan_lorebook_match (book, texts, recent->len);
}

/* What a new session (or a text-mode request) is told: the persona with
 * the lorebook entries that the conversation it is primed with activates
 * (the lorebook applies its own scan depth), and the language. Renewed at
 * every priming: start, reconnect and hot swap. @conn (nullable) remembers
 * which entries it was given, so later turns add only new ones. */
char *
_lanlan_session_compose_instructions (Worker *w,
                                      Conn   *conn)
{
  g_autoptr(GPtrArray) recent = history_dup_from (w, 0);
  g_autofree const char **texts = g_new0 (const char *, recent->len + 1);
  g_autofree char *persona = NULL;

  for (guint i = 0; i < recent->len; i++)
    texts[i] = ((LanlanChatMessage *) g_ptr_array_index (recent, i))->content;
  persona = lanlan_character_compose_instructions (w->settings, texts, recent->len);
  if (conn != NULL)
    {
      g_clear_pointer (&conn->lore, g_array_unref);
      conn->lore = lore_match (w);
    }
  return instructions_for (w->settings, persona);
}

static gboolean
lore_has (GArray *lore,
          guint   index)
{
  for (guint i = 0; lore != NULL && i < lore->len; i++)
    if (g_array_index (lore, guint, i) == index)
      return TRUE;
  return FALSE;
}

/* Lorebook entries that later turns activate reach the live session as
 * context, each once per session (SillyTavern scans the recent messages
 * every turn; priming alone would miss them). How is the provider's: the
 * client makes a system item, or, for a service without items (Qwen),
 * adds it to the instructions. Text mode composes each request instead. */
static void
lore_refresh (Worker *w)
{
  LanlanLorebook *book = lanlan_character_get_lorebook (w->settings);
  Conn *conn = w->active;
  g_autoptr(GArray) matched = NULL;
  g_autoptr(GArray) fresh = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;

  if (book == NULL || conn == NULL || !conn->ready || w->swapping)
    return;
  matched = lore_match (w);
  fresh = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < matched->len; i++)
    if (!lore_has (conn->lore, g_array_index (matched, guint, i)))
      g_array_append_val (fresh, g_array_index (matched, guint, i));
  if (fresh->len == 0)
    return;

  before = lanlan_lorebook_render (book, fresh, LANLAN_LOREBOOK_BEFORE_CHAR);
  after = lanlan_lorebook_render (book, fresh, LANLAN_LOREBOOK_AFTER_CHAR);
  text = g_strconcat (LORE_PREFIX, before, *before && *after ? "\n\n" : "", after, NULL);
  if (!lanlan_realtime_client_create_item (conn->client, "system", text))
    return;
  if (conn->lore == NULL)
    conn->lore = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_vals (conn->lore, fresh->data, fresh->len);
}

/* Sends the conversation so far (from @from on; 0: the summary too) to a
 * new session. */
void
_lanlan_session_prime (Worker *w,
       Conn   *conn,
       guint   from)
{
  g_autoptr(GPtrArray) messages = history_dup_from (w, from);

  if (from == 0 && w->summary != NULL && *w->summary != '\0')
    {
      g_autofree char *memo = g_strconcat (SUMMARY_PREFIX, w->summary, NULL);
      lanlan_realtime_client_create_item (conn->client, "system", memo);
    }
  for (guint i = 0; i < messages->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (messages, i);
      lanlan_realtime_client_create_item (conn->client, m->role, m->content);
    }
}

void
_lanlan_session_prime_context (Worker *w,
               Conn   *conn)
{
  for (guint i = 0; i < w->agent_context->len; i++)
    lanlan_realtime_client_create_item (conn->client, "system",
                                        g_ptr_array_index (w->agent_context, i));
}

static void
reset_response (Worker *w)
{
  w->in_flight = FALSE;
  g_clear_pointer (&w->response_id, g_free);
  g_string_truncate (w->assistant_text, 0);
  w->assistant_done = FALSE;
  g_string_truncate (w->tts_buffer, 0);
}

/* Keeps what the assistant said of an unfinished answer. */
static void
commit_partial_answer (Worker *w)
{
  if (!w->assistant_done && w->assistant_text->len > 0)
    {
      history_add (w, "assistant", w->assistant_text->str, w->response_id);
      emit_text (w, EMIT_DONE, "assistant", w->response_id, w->assistant_text->str);
      w->assistant_done = TRUE;
    }
}

/* --- TTS ------------------------------------------------------------------ */

static gboolean
drain_tts (gpointer data)
{
  Worker *w = data;
  LanlanTtsResponse *r;

  while (w->tts != NULL && (r = lanlan_tts_worker_pop (w->tts, 0)) != NULL)
    {
      if (r->type == LANLAN_TTS_RESPONSE_AUDIO && w->sink != NULL && r->speech_id == w->speech_id)
        {
          gsize size;
          const gint16 *pcm = g_bytes_get_data (r->pcm, &size);
          gsize n;

          if (!w->audio_reset_done)
            {
              lanlan_audio_sink_reset_played (w->sink);
              w->audio_reset_done = TRUE;
            }
          n = lanlan_audio_sink_write (w->sink, pcm, size / 2);
          w->reply_samples += n;
          stats_add (w, &w->stats.speaker_samples, n);
        }
      else if (r->type == LANLAN_TTS_RESPONSE_ERROR)
        {
          /* A refused key is said once, not for every sentence. */
          gboolean refused = g_error_matches (r->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);

          if (!refused || !w->tts_refused)
            emit_error (w, r->error);
          w->tts_refused |= refused;
        }
      lanlan_tts_response_free (r);
    }
  return G_SOURCE_REMOVE;
}

static void
tts_notify (gpointer data)
{
  Worker *w = data;

  g_main_context_invoke_full (w->ctx, G_PRIORITY_DEFAULT, drain_tts,
                              worker_ref (w), (GDestroyNotify) worker_unref);
}

static void
ensure_tts (Worker *w)
{
  LanlanTtsBackend *backend;

  if (w->tts != NULL)
    return;
  if (w->tts_backend != NULL)
    backend = g_steal_pointer (&w->tts_backend);
  else
    {
      g_autofree char *http = lanlan_provider_build_http_url (settings_provider (w->settings),
                                                               lanlan_character_get_base_url (w->settings),
                                                               NULL);

      if (http == NULL)
        http = lanlan_provider_build_http_url (lanlan_provider_get_default (), NULL, NULL);
      backend = lanlan_tts_voice_is_external (lanlan_character_get_voice (w->settings))
        ? lanlan_tts_backend_new_for_voice (lanlan_character_get_voice (w->settings),
                                            lanlan_character_get_language (w->settings),
                                            http, w->api_key)
        : lanlan_tts_backend_new_http (http, w->api_key, NULL,
                                       lanlan_character_get_voice (w->settings));
    }
  /* The TTS thread only touches the worker through tts_notify. */
  w->tts_refused = FALSE;
  w->tts = lanlan_tts_worker_new (backend, tts_notify, w);
}

static void
tts_feed (Worker     *w,
          const char *delta,
          gboolean    final)
{
  const char *p;
  const char *cut = NULL;

  if (w->tts == NULL)
    return;
  g_string_append (w->tts_buffer, delta);
  /* Speak whole sentences as soon as they are complete. */
  for (p = w->tts_buffer->str; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '.' || c == '!' || c == '?' || c == '\n' ||
          c == 0x3002 || c == 0xFF01 || c == 0xFF1F)
        cut = g_utf8_next_char (p);
    }
  if (final)
    cut = w->tts_buffer->str + w->tts_buffer->len;
  if (cut != NULL && cut > w->tts_buffer->str)
    {
      g_autofree char *sentence = g_strndup (w->tts_buffer->str, cut - w->tts_buffer->str);
      g_string_erase (w->tts_buffer, 0, cut - w->tts_buffer->str);
      g_strstrip (sentence);
      if (*sentence != '\0')
        lanlan_tts_worker_speak (w->tts, w->speech_id, sentence);
    }
  if (final)
    lanlan_tts_worker_end_turn (w->tts, w->speech_id);
}

/* --- Barge-in ------------------------------------------------------------ */

/* What the user heard of @text when @played of the @received samples of
 * its audio were played: the same share of its characters. Speech runs at
 * a roughly even pace and the transcript arrives with (or slightly ahead
 * of) its audio, so this is approximate, to a word or two. Without a sink
 * the user only read it: all of it counts. */
static char *
heard_text (const char *text,
            guint64     played,
            guint64     received,
            gboolean    have_sink)
{
  glong n = g_utf8_strlen (text, -1);

  if (!have_sink)
    return g_strdup (text);
  if (received == 0)
    return g_strdup ("");
  played = MIN (played, received);
  return g_utf8_substring (text, 0, (glong) ((double) n * played / received));
}

static void
emit_interrupted (Worker  *w,
                  guint64  played)
{
  Emission *e = emission_new (w, EMIT_INTERRUPTED);

  e->turn_id = g_strdup (w->reply_id);
  e->played = MIN (played, w->reply_samples);
  e->received = w->reply_samples;
  e->text = heard_text (w->reply_text->str, played, w->reply_samples, w->sink != NULL);
  post (e);
}

static void
barge_in (Worker *w)
{
  guint64 played = 0;
  gsize queued = 0;

  if (_lanlan_session_chat_barge_in (w))
    return;

  if (w->sink != NULL)
    {
      queued = lanlan_audio_sink_get_queued (w->sink);

      played = lanlan_audio_sink_get_played (w->sink);
      lanlan_audio_sink_flush (w->sink);
      if (w->audio_item_id != NULL && (w->in_flight || queued > 0) && w->active != NULL &&
          !w->active->text_only)
        lanlan_realtime_client_truncate (w->active->client, w->audio_item_id, 0,
                                         (guint) (played * 1000 / LANLAN_MODEL_RATE));
    }
  if (w->tts != NULL)
    lanlan_tts_worker_interrupt (w->tts);

  /* An answer cut short, while it streams or while it still plays. */
  if (w->reply_id != NULL && (w->in_flight || queued > 0))
    emit_interrupted (w, played);
  g_clear_pointer (&w->reply_id, g_free);

  if (w->in_flight && w->active != NULL)
    {
      if (w->response_id != NULL)
        g_hash_table_add (w->dropped, g_strdup (w->response_id));
      lanlan_realtime_client_cancel_response (w->active->client);
      commit_partial_answer (w);
      reset_response (w);
      w->turns++;
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
      emit_simple (w, EMIT_TURN_ENDED);
    }
  g_clear_pointer (&w->audio_item_id, g_free);
}

/* --- Events ---------------------------------------------------------------- */

static gboolean
is_dropped (Worker                    *w,
            const LanlanRealtimeEvent *event)
{
  return event->response_id != NULL && g_hash_table_contains (w->dropped, event->response_id);
}

static void
on_active_event (Worker                    *w,
                 Conn                      *conn,
                 const LanlanRealtimeEvent *event)
{
  switch (event->type)
    {
    case LANLAN_REALTIME_EVENT_RESPONSE_CREATED:
      reset_response (w);
      w->in_flight = TRUE;
      w->response_id = g_strdup (event->response_id);
      w->audio_reset_done = FALSE;
      w->speech_id++;
      g_free (w->reply_id);
      w->reply_id = g_strdup (event->response_id ? event->response_id : "");
      g_string_truncate (w->reply_text, 0);
      w->reply_samples = 0;
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RESPONDING);
      break;

    case LANLAN_REALTIME_EVENT_OUTPUT_ITEM_ADDED:
      if (!is_dropped (w, event) && g_strcmp0 (event->role, "assistant") == 0)
        {
          g_free (w->audio_item_id);
          w->audio_item_id = g_strdup (event->item_id);
        }
      break;

    case LANLAN_REALTIME_EVENT_AUDIO_DELTA:
      {
        gsize size;
        const gint16 *pcm = g_bytes_get_data (event->audio, &size);

        if (is_dropped (w, event) || !w->in_flight)
          {
            stats_add (w, &w->stats.speaker_samples_dropped, size / 2);
            break;
          }
        if (w->audio_item_id == NULL && event->item_id != NULL)
          w->audio_item_id = g_strdup (event->item_id);
        if (w->sink != NULL)
          {
            gsize n;

            if (!w->audio_reset_done)
              {
                lanlan_audio_sink_reset_played (w->sink);
                w->audio_reset_done = TRUE;
              }
            n = lanlan_audio_sink_write (w->sink, pcm, size / 2);
            w->reply_samples += n;
            stats_add (w, &w->stats.speaker_samples, n);
            if (n < size / 2)
              stats_add (w, &w->stats.speaker_samples_dropped, size / 2 - n);
          }
      }
      break;

    case LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA:
    case LANLAN_REALTIME_EVENT_TEXT_DELTA:
      if (is_dropped (w, event) || !w->in_flight || w->assistant_done)
        break;
      g_string_append (w->assistant_text, event->text);
      g_string_append (w->reply_text, event->text);
      emit_text (w, EMIT_DELTA, "assistant", w->response_id, event->text);
      if (conn->text_only)
        tts_feed (w, event->text, FALSE);
      break;

    case LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DONE:
    case LANLAN_REALTIME_EVENT_TEXT_DONE:
      if (is_dropped (w, event) || !w->in_flight || w->assistant_done)
        break;
      {
        const char *text = event->text ? event->text : w->assistant_text->str;

        history_add (w, "assistant", text, w->response_id);
        emit_text (w, EMIT_DONE, "assistant", w->response_id, text);
        w->assistant_done = TRUE;
        g_string_assign (w->reply_text, text);
        if (conn->text_only)
          tts_feed (w, "", TRUE);
      }
      break;

    case LANLAN_REALTIME_EVENT_SPEECH_STARTED:
      w->user_speaking = TRUE;
      emit_simple (w, EMIT_SPEECH_STARTED);
      barge_in (w);
      break;

    case LANLAN_REALTIME_EVENT_SPEECH_STOPPED:
    case LANLAN_REALTIME_EVENT_INPUT_AUDIO_COMMITTED:
      w->user_speaking = FALSE;
      break;

    case LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_DELTA:
      emit_text (w, EMIT_DELTA, "user", event->item_id, event->text);
      break;

    case LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_COMPLETED:
      history_add (w, "user", event->text, event->item_id);
      emit_text (w, EMIT_DONE, "user", event->item_id, event->text);
      break;

    case LANLAN_REALTIME_EVENT_RESPONSE_DONE:
      if (event->response_id != NULL && g_hash_table_remove (w->dropped, event->response_id))
        {
          /* The end of an answer we interrupted; its turn already ended. */
          if (!w->in_flight)
            _lanlan_session_after_turn (w);
          break;
        }
      if (w->response_id != NULL && event->response_id != NULL &&
          !g_str_equal (w->response_id, event->response_id))
        break;
      commit_partial_answer (w);
      if (conn->text_only && !w->assistant_done)
        tts_feed (w, "", TRUE);
      reset_response (w);
      w->reconnect_attempt = 0;   /* this session works */
      w->turns++;
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
      emit_simple (w, EMIT_TURN_ENDED);
      _lanlan_session_after_turn (w);
      break;

    case LANLAN_REALTIME_EVENT_ERROR:
      {
        g_autoptr(GError) error = lanlan_realtime_event_to_error (event);

        emit_error (w, error);
        if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH))
          worker_conn_lost (w, conn, g_steal_pointer (&error));
        else if (w->in_flight && w->response_id == NULL &&
                 (event->request_type == NULL ||
                  g_str_equal (event->request_type, "response.create")))
          {
            /* response.create was refused: no answer is coming. (An error
             * the client matched to another request leaves it alone.) */
            reset_response (w);
            _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
          }
      }
      break;

    default:
      break;
    }
}

/* Adds typed text to the history as it goes out, so priming a new
 * session and sending it can never both carry it. */
static gboolean
send_user_text (Worker      *w,
                PendingText *t)
{
  if (!lanlan_realtime_client_create_item (w->active->client, "user", t->text))
    return FALSE;
  history_add (w, "user", t->text, t->id);
  emit_text_sent (w, t->id);
  return TRUE;
}

/* Text typed and agent context queued while no session could take them. */
void
_lanlan_session_flush_pending_input (Worker *w)
{
  gboolean respond = FALSE;

  if (_lanlan_session_chat_flush_input (w))
    return;
  if (w->active == NULL || !w->active->ready || w->swapping)
    return;
  /* Typing while the character talks interrupts it, as speaking does. */
  if (w->pending_texts->len > 0 && w->in_flight)
    barge_in (w);
  /* A picture shown before the session was up goes before the words. */
  if (w->pending_image != NULL)
    {
      lanlan_realtime_client_append_image (w->active->client, w->pending_image);
      g_clear_pointer (&w->pending_image, g_bytes_unref);
    }
  {
    guint n_sent = 0;

    /* What could not go out waits for the next connection. */
    while (n_sent < w->pending_texts->len &&
           send_user_text (w, g_ptr_array_index (w->pending_texts, n_sent)))
      n_sent++;
    g_ptr_array_remove_range (w->pending_texts, 0, n_sent);
    respond |= n_sent > 0;
  }
  if (!w->in_flight)
    {
      for (guint i = 0; i < w->queued_context->len; i++)
        lanlan_realtime_client_create_item (w->active->client, "system",
                                            g_ptr_array_index (w->queued_context, i));
      respond |= w->queued_context->len > 0;
      g_ptr_array_set_size (w->queued_context, 0);
    }
  if (respond && !w->in_flight)
    {
      lanlan_realtime_client_create_response (w->active->client);
      w->in_flight = TRUE;
    }
}

static void
on_client_event (LanlanRealtimeClient      *client,
                 const LanlanRealtimeEvent *event,
                 gpointer                   data)
{
  Conn *conn = data;
  Worker *w = conn->w;

  if (conn == w->active)
    on_active_event (w, conn, event);
  else if (conn == w->pending)
    _lanlan_session_on_pending_event (w, conn, event);
}

static void
on_client_protocol_error (LanlanRealtimeClient *client,
                          GError               *error,
                          gpointer              data)
{
  Conn *conn = data;

  g_debug ("%s", error->message);
  g_mutex_lock (&conn->w->lock);
  conn->w->stats.n_bad_events++;
  g_mutex_unlock (&conn->w->lock);
}

static gboolean
reconnect_cb (gpointer data)
{
  Worker *w = data;

  g_clear_pointer (&w->reconnect_timer, g_source_unref);
  if (w->started && w->active == NULL)
    {
      guint slot = (w->reconnect_head + w->reconnect_n) % RECONNECTS_PER_MINUTE;

      /* Remember when, for the rate cap; the oldest goes when full. */
      w->reconnect_times[slot] = g_get_monotonic_time ();
      if (w->reconnect_n < RECONNECTS_PER_MINUTE)
        w->reconnect_n++;
      else
        w->reconnect_head = (w->reconnect_head + 1) % RECONNECTS_PER_MINUTE;
      _lanlan_session_start_conn (w, CONN_RECONNECT);
    }
  return G_SOURCE_REMOVE;
}

static void
reset_reconnects (Worker *w)
{
  w->reconnect_attempt = 0;
  w->reconnect_head = 0;
  w->reconnect_n = 0;
}

/* A session that lasted or answered: the connection works after all. */
static gboolean
session_lived (Worker *w)
{
  return w->session_started != 0 &&
         g_get_monotonic_time () - w->session_started >= SESSION_LIVED_SECONDS * G_USEC_PER_SEC;
}

static void
schedule_reconnect (Worker *w)
{
  guint delay;

  if (w->reconnect_timer != NULL)
    return;
  if (w->reconnect_attempt >= w->reconnect_max)
    {
      g_autoptr(GError) error =
        g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                     g_dngettext (GETTEXT_PACKAGE,
                                  "Stopped reconnecting after %u attempt in a row that failed or was closed at once: %s",
                                  "Stopped reconnecting after %u attempts in a row that failed or were closed at once: %s",
                                  w->reconnect_attempt),
                     w->reconnect_attempt,
                     w->last_error ? w->last_error->message : _("unknown error"));
      fail_session (w, error);
      return;
    }
  delay = (guint) MIN ((guint64) w->reconnect_delay_ms << MIN (w->reconnect_attempt, 16u),
                       (guint64) RECONNECT_MAX_DELAY_MS);
  if (w->reconnect_n == RECONNECTS_PER_MINUTE)
    {
      gint64 free_at = w->reconnect_times[w->reconnect_head] + 60 * G_USEC_PER_SEC;
      gint64 wait_ms = (free_at - g_get_monotonic_time () + 999) / 1000;

      delay = MAX (delay, (guint) CLAMP (wait_ms, 0, 60000));
    }
  w->reconnect_attempt++;
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RECONNECTING);
  w->reconnect_timer = g_timeout_source_new (delay);
  g_source_set_callback (w->reconnect_timer, reconnect_cb, w, NULL);
  g_source_attach (w->reconnect_timer, w->ctx);
}

static gboolean
is_fatal (const GError *error)
{
  return g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH) ||
         g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
}

/* The active connection is gone (@error owned). */
static void
worker_conn_lost (Worker *w,
                  Conn   *conn,
                  GError *error)
{
  if (conn != w->active)
    {
      g_clear_error (&error);
      return;
    }

  commit_partial_answer (w);
  if (w->in_flight)
    emit_simple (w, EMIT_TURN_ENDED);
  reset_response (w);
  w->user_speaking = FALSE;
  w->active = NULL;
  /* Microphone audio the client still held goes to the next session. */
  {
    g_autoptr(GArray) unsent = g_array_new (FALSE, FALSE, sizeof (gint16));

    if (lanlan_realtime_client_take_unsent_audio (conn->client, unsent) > 0)
      {
        /* Older than anything cached meanwhile: it goes first. */
        if (w->mic_cache->len == 0)
          w->cache_started = g_get_monotonic_time ();
        g_array_prepend_vals (w->mic_cache, unsent->data, unsent->len);
        stats_add (w, &w->stats.mic_samples_sent, -(guint64) unsent->len);
        stats_add (w, &w->stats.mic_samples_cached, unsent->len);
      }
  }
  _lanlan_session_conn_free (conn);
  w->swapping = FALSE;
  if (w->swap_timer != NULL)
    {
      g_source_destroy (w->swap_timer);
      g_clear_pointer (&w->swap_timer, g_source_unref);
    }

  if (error != NULL)
    {
      g_clear_error (&w->last_error);
      w->last_error = g_error_copy (error);
      if (!g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_EXPIRED))
        emit_error (w, error);
    }

  if (!w->started)
    {
      g_clear_error (&error);
      return;
    }

  if (error != NULL && is_fatal (error))
    {
      _lanlan_session_conn_free (g_steal_pointer (&w->pending));
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_ERROR);
      g_clear_error (&error);
      return;
    }
  g_clear_error (&error);

  g_mutex_lock (&w->lock);
  w->stats.n_reconnects++;
  g_mutex_unlock (&w->lock);
  if (session_lived (w))
    w->reconnect_attempt = 0;

  /* A primed replacement is already waiting: use it. */
  if (w->pending != NULL && w->pending->ready)
    {
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RECONNECTING);
      _lanlan_session_prime (w, w->pending, w->primed_len);
      _lanlan_session_finish_swap (w);
      return;
    }
  _lanlan_session_conn_free (g_steal_pointer (&w->pending));
  schedule_reconnect (w);
}

static void
on_client_closed (LanlanRealtimeClient *client,
                  GError               *error,
                  gpointer              data)
{
  Conn *conn = data;
  Worker *w = conn->w;

  if (conn == w->pending)
    {
      _lanlan_session_fail_swap (w, error ? error->message : _("closed"));
      return;
    }
  worker_conn_lost (w, conn, error ? g_error_copy (error) : NULL);
}

static void
on_conn_ready (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Worker *w = data;
  g_autoptr(GError) error = NULL;
  Conn *conn;
  gboolean ok;

  ok = lanlan_realtime_client_connect_finish (LANLAN_REALTIME_CLIENT (source), result, &error);

  /* The connection may have been given up on (and freed) meanwhile. */
  if (w->active != NULL && (GObject *) w->active->client == source)
    conn = w->active;
  else if (w->pending != NULL && (GObject *) w->pending->client == source)
    conn = w->pending;
  else
    return;

  if (!ok)
    {

      if (conn->kind == CONN_SWAP)
        {
          if (conn == w->pending)
            _lanlan_session_fail_swap (w, error->message);
          return;
        }
      if (conn != w->active)
        return;
      w->active = NULL;
      _lanlan_session_conn_free (conn);
      g_clear_error (&w->last_error);
      w->last_error = g_error_copy (error);
      emit_error (w, error);
      if (is_fatal (error) || !w->started)
        _lanlan_session_set_state (w, LANLAN_SESSION_STATE_ERROR);
      else
        schedule_reconnect (w);
      return;
    }

  conn->ready = TRUE;

  if (conn->kind == CONN_SWAP)
    {
      if (conn == w->pending)
        _lanlan_session_swap_conn_ready (w, conn);
      return;
    }

  if (conn != w->active)
    return;

  /* A reconnect, or a session started again after it ended: the new
   * session hears the conversation so far. */
  _lanlan_session_prime (w, conn, 0);
  _lanlan_session_prime_context (w, conn);
  lore_refresh (w);   /* turns that came while it connected */
  g_ptr_array_set_size (w->agent_context, 0);
  w->turns = 0;
  w->active_serial = conn->serial;
  w->session_started = g_get_monotonic_time ();
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
  _lanlan_session_flush_mic_cache (w);
  _lanlan_session_flush_pending_input (w);
  /* Settings changed while connecting: renew right away. */
  if (!w->in_flight && w->active_serial != w->settings_serial)
    _lanlan_session_after_turn (w);
}

void
_lanlan_session_start_conn (Worker   *w,
                   ConnKind  kind)
{
  const LanlanProvider *provider = settings_provider (w->settings);
  g_autofree char *url = NULL;
  g_autofree char *instructions = NULL;
  g_autoptr(GError) error = NULL;
  LanlanRealtimeConfig config = { 0 };
  Conn *conn;

  if (provider == NULL)
    error = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                         _("Unknown service “%s”"), lanlan_character_get_provider (w->settings));
  else
    url = lanlan_provider_build_url (provider, lanlan_character_get_base_url (w->settings),
                                     lanlan_character_get_model (w->settings), &error);
  if (url == NULL)
    {
      if (kind == CONN_SWAP)
        {
          _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_FAILED, error->message);
          return;
        }
      fail_session (w, error);
      return;
    }

  conn = g_new0 (Conn, 1);
  conn->w = w;
  conn->kind = kind;
  conn->provider = provider;
  conn->serial = w->settings_serial;
  /* A custom voice (another engine's) speaks the model's text. */
  conn->text_only = provider->text_only ||
                    lanlan_tts_voice_is_external (lanlan_character_get_voice (w->settings));
  conn->client = lanlan_realtime_client_new (provider, url, w->api_key);
  lanlan_realtime_client_set_timeouts (conn->client, w->connect_ms, w->response_ms);
  g_signal_connect (conn->client, "event", G_CALLBACK (on_client_event), conn);
  g_signal_connect (conn->client, "protocol-error", G_CALLBACK (on_client_protocol_error), conn);
  g_signal_connect (conn->client, "closed", G_CALLBACK (on_client_closed), conn);

  instructions = _lanlan_session_compose_instructions (w, conn);
  config.model = lanlan_character_get_model (w->settings);
  config.instructions = instructions;
  config.voice = _lanlan_session_model_voice (w->settings, provider);
  config.language = lanlan_character_get_language (w->settings);
  config.text_only = conn->text_only;
  config.server_vad = TRUE;

  if (kind == CONN_SWAP)
    w->pending = conn;
  else
    {
      w->active = conn;
      _lanlan_session_set_state (w, kind == CONN_INITIAL ? LANLAN_SESSION_STATE_CONNECTING
                                         : LANLAN_SESSION_STATE_RECONNECTING);
    }

  if (conn->text_only)
    ensure_tts (w);

  lanlan_realtime_client_connect_async (conn->client, &config, NULL, on_conn_ready, w);
}

/* --- Commands (run on the worker) ---------------------------------------- */

typedef enum {
  CMD_START,
  CMD_END,
  CMD_TEXT,
  CMD_CONTEXT,
  CMD_SEE,
  CMD_SETTINGS,
  CMD_API_KEY,
  CMD_SWAP_TURNS,
  CMD_SWAP_SECONDS,
  CMD_SWAP_NOW,
  CMD_TIMEOUTS,
  CMD_TTS_BACKEND,
  CMD_IMAGE,
  CMD_HISTORY,
  CMD_SUMMARY,
  CMD_QUIT,
} CmdKind;

typedef struct {
  Worker           *w;
  CmdKind           kind;
  char             *text;
  LanlanCharacter  *settings;
  guint             a, b;
  guint64           serial;
  LanlanTtsBackend *backend;
  GBytes           *bytes;
  char             *id;
  GPtrArray        *messages;
  char            **ids;
} Cmd;

static void
cmd_free (gpointer data)
{
  Cmd *c = data;

  worker_unref (c->w);
  if (c->text != NULL)
    memset (c->text, 0, strlen (c->text));
  g_free (c->text);
  g_clear_object (&c->settings);
  lanlan_tts_backend_free (c->backend);
  g_clear_pointer (&c->bytes, g_bytes_unref);
  g_free (c->id);
  g_clear_pointer (&c->messages, g_ptr_array_unref);
  g_strfreev (c->ids);
  g_free (c);
}

static void
worker_end (Worker *w)
{
  _lanlan_session_chat_end (w);
  w->started = FALSE;
  if (w->reconnect_timer != NULL)
    {
      g_source_destroy (w->reconnect_timer);
      g_clear_pointer (&w->reconnect_timer, g_source_unref);
    }
  if (w->swap_timer != NULL)
    {
      g_source_destroy (w->swap_timer);
      g_clear_pointer (&w->swap_timer, g_source_unref);
    }
  commit_partial_answer (w);
  reset_response (w);
  _lanlan_session_conn_free (g_steal_pointer (&w->pending));
  _lanlan_session_conn_free (g_steal_pointer (&w->active));
  w->swapping = FALSE;
  g_array_set_size (w->mic_cache, 0);
  if (w->sink != NULL)
    lanlan_audio_sink_flush (w->sink);
  if (w->tts != NULL)
    lanlan_tts_worker_interrupt (w->tts);
}

static void worker_start (Worker *w);

/* @echo: also report it as the user's transcript (stream_text()). */
static void
worker_send_text (Worker     *w,
                  const char *message_id,
                  const char *text,
                  gboolean    echo)
{
  PendingText *t = g_new0 (PendingText, 1);

  t->id = message_id != NULL ? g_strdup (message_id) : g_strdup_printf ("text-%u", ++w->n_texts);
  t->text = g_strdup (text);
  if (echo)
    emit_text (w, EMIT_DONE, "user", t->id, text);
  g_ptr_array_add (w->pending_texts, t);

  if (!w->started || w->state == LANLAN_SESSION_STATE_ERROR)
    worker_start (w);   /* typing starts a session */
  else
    _lanlan_session_flush_pending_input (w);
}

static void
worker_start (Worker *w)
{
  w->started = TRUE;
  reset_reconnects (w);   /* the user's start or Retry */
  if (_lanlan_session_chat_wanted (w))
    {
      _lanlan_session_chat_start (w);
      return;
    }
  if (!w->have_key)
    {
      g_autoptr(GError) error = NULL;
      const LanlanProvider *p = settings_provider (w->settings);

      g_free (w->api_key);
      w->api_key = lanlan_secrets_lookup_sync (p ? p->id : lanlan_character_get_provider (w->settings),
                                               NULL, &error);
      if (error != NULL)
        g_debug ("No key from the keyring: %s", error->message);
      /* Custom servers may need no key; the services always do. */
      if (w->api_key == NULL && p != NULL && p->url != NULL)
        {
          g_autoptr(GError) e = NULL;

          if (error != NULL)
            e = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                             _("The API key for %s could not be read from the keyring: %s"),
                             p->display_name, error->message);
          else
            e = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                             _("No API key for %s is stored. Add one in Preferences."),
                             p->display_name);
          fail_session (w, e);
          return;
        }
    }
  if (w->active == NULL)
    _lanlan_session_start_conn (w, CONN_INITIAL);
}

static gboolean
run_cmd (gpointer data)
{
  Cmd *c = data;
  Worker *w = c->w;

  switch (c->kind)
    {
    case CMD_START:
      if (w->started && w->state != LANLAN_SESSION_STATE_ERROR)
        break;
      worker_start (w);
      break;

    case CMD_END:
      worker_end (w);
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_ENDED);
      break;

    case CMD_TEXT:
      worker_send_text (w, c->id, c->text, c->a);
      break;

    case CMD_HISTORY:
      history_replace (w, c->messages, c->ids);
      g_free (w->summary);
      w->summary = g_steal_pointer (&c->text);
      break;

    case CMD_SUMMARY:
      g_free (w->summary);
      w->summary = g_steal_pointer (&c->text);
      break;

    case CMD_CONTEXT:
      if (_lanlan_session_chat_context (w, c->text))
        break;
      if (lanlan_character_get_input_mode (w->settings) == LANLAN_INPUT_MODE_TEXT &&
          w->active != NULL && w->active->ready)
        {
          g_ptr_array_add (w->agent_context, g_strdup (c->text));
          if (w->in_flight || w->swapping)
            g_ptr_array_add (w->queued_context, g_strdup (c->text));
          else
            {
              lanlan_realtime_client_create_item (w->active->client, "system", c->text);
              lanlan_realtime_client_create_response (w->active->client);
              w->in_flight = TRUE;
            }
        }
      else
        g_ptr_array_add (w->agent_context, g_strdup (c->text));
      break;

    case CMD_SEE:
      /* What the user shows a model without eyes, in words: the live
       * session hears it now, without answering; later sessions are
       * primed with it. Text mode: the question waiting for it goes
       * now, or it goes with the next request. */
      if (_lanlan_session_chat_seen (w, c->text))
        break;
      g_ptr_array_add (w->agent_context, g_strdup (c->text));
      if (w->active != NULL && w->active->ready)
        lanlan_realtime_client_create_item (w->active->client, "system", c->text);
      break;

    case CMD_SETTINGS:
      g_set_object (&w->settings, c->settings);
      w->settings_serial = c->serial;
      if (_lanlan_session_chat_settings_changed (w))
        break;
      if (w->active == NULL || !w->active->ready)
        {
          const LanlanProvider *p = settings_provider (w->settings);
          g_mutex_lock (&w->lock);
          if (p != NULL)
            w->input_rate = p->input_rate;
          g_mutex_unlock (&w->lock);
        }
      else if (!w->in_flight)
        _lanlan_session_after_turn (w);
      else
        _lanlan_session_prepare_swap (w, _("settings changed"));
      break;

    case CMD_API_KEY:
      g_free (w->api_key);
      w->api_key = g_strdup (c->text);
      w->have_key = c->text != NULL;
      break;

    case CMD_SWAP_TURNS:
      w->hot_swap_turns = c->a;
      break;

    case CMD_SWAP_SECONDS:
      w->hot_swap_seconds = c->a;
      break;

    case CMD_SWAP_NOW:
      w->force_swap = TRUE;
      if (_lanlan_session_chat_settings_changed (w))
        break;
      if (!w->in_flight)
        _lanlan_session_after_turn (w);
      break;

    case CMD_TIMEOUTS:
      w->connect_ms = c->a;
      w->response_ms = c->b;
      break;

    case CMD_TTS_BACKEND:
      lanlan_tts_backend_free (w->tts_backend);
      w->tts_backend = g_steal_pointer (&c->backend);
      break;

    case CMD_IMAGE:
      if (_lanlan_session_chat_image (w, c->bytes))
        break;
      if (w->active != NULL && w->active->ready && !w->swapping)
        lanlan_realtime_client_append_image (w->active->client, c->bytes);
      else
        {
          /* Not connected yet (showing a picture starts the session):
           * the newest one waits for the connection. */
          g_clear_pointer (&w->pending_image, g_bytes_unref);
          w->pending_image = g_bytes_ref (c->bytes);
        }
      break;

    case CMD_QUIT:
      worker_end (w);
      _lanlan_session_chat_free (w);
      g_clear_object (&w->tts);
      g_main_loop_quit (w->loop);
      break;
    }

  return G_SOURCE_REMOVE;
}

static void
send_cmd (Worker *w,
          Cmd    *c)
{
  GSource *source = g_idle_source_new ();

  c->w = worker_ref (w);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, run_cmd, c, cmd_free);
  g_source_set_static_name (source, "[lanlan] session command");
  g_source_attach (source, w->ctx);
  g_source_unref (source);
}

static Cmd *
cmd_new (CmdKind kind)
{
  Cmd *c = g_new0 (Cmd, 1);
  c->kind = kind;
  return c;
}

static gboolean
drain_mic (gpointer data)
{
  Worker *w = data;
  GQueue chunks = G_QUEUE_INIT;
  GBytes *bytes;

  g_mutex_lock (&w->lock);
  chunks = w->mic_queue;
  g_queue_init (&w->mic_queue);
  w->mic_drain_posted = FALSE;
  g_mutex_unlock (&w->lock);

  while ((bytes = g_queue_pop_head (&chunks)) != NULL)
    {
      gsize size;
      const gint16 *pcm = g_bytes_get_data (bytes, &size);

      if (!w->started)
        stats_add (w, &w->stats.mic_samples_dropped, size / 2);
      else if (_lanlan_session_chat_mic (w, pcm, size / 2))
        ;   /* text mode: voice activity and transcription */
      else if (can_send_mic (w) && w->mic_cache->len == 0)
        send_mic (w, pcm, size / 2);
      else
        {
          cache_mic (w, pcm, size / 2);
          _lanlan_session_flush_mic_cache (w);
        }
      g_bytes_unref (bytes);
    }
  return G_SOURCE_REMOVE;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;

  g_main_context_push_thread_default (w->ctx);
  g_main_loop_run (w->loop);
  /* Let closing frames go out. */
  while (g_main_context_iteration (w->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (w->ctx);
  worker_unref (w);
  return NULL;
}

/* --- GObject -------------------------------------------------------------- */

static void
on_character_serial (LanlanCharacter      *character,
                     GParamSpec           *pspec,
                     LanlanSessionManager *self)
{
  Cmd *c = cmd_new (CMD_SETTINGS);

  c->settings = lanlan_character_dup (character);
  c->serial = lanlan_character_get_serial (character);
  send_cmd (self->worker, c);
}

static void
lanlan_session_manager_dispose (GObject *object)
{
  LanlanSessionManager *self = LANLAN_SESSION_MANAGER (object);

  if (self->worker != NULL)
    {
      GThread *thread = self->worker->thread;

      send_cmd (self->worker, cmd_new (CMD_QUIT));
      g_thread_join (thread);
      g_clear_pointer (&self->worker, worker_unref);
    }
  if (self->character != NULL)
    g_clear_signal_handler (&self->serial_handler, self->character);
  g_clear_object (&self->character);
  g_clear_object (&self->sink);
  g_clear_pointer (&self->owner_ctx, g_main_context_unref);

  G_OBJECT_CLASS (lanlan_session_manager_parent_class)->dispose (object);
}

static void
lanlan_session_manager_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  LanlanSessionManager *self = LANLAN_SESSION_MANAGER (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_session_manager_class_init (LanlanSessionManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = lanlan_session_manager_dispose;
  object_class->get_property = lanlan_session_manager_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, LANLAN_TYPE_SESSION_STATE,
                       LANLAN_SESSION_STATE_IDLE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, LANLAN_TYPE_SESSION_STATE);
  signals[SIGNAL_TRANSCRIPT_DELTA] =
    g_signal_new ("transcript-delta", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_TRANSCRIPT_DONE] =
    g_signal_new ("transcript-done", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_TURN_ENDED] =
    g_signal_new ("turn-ended", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[SIGNAL_HOT_SWAP] =
    g_signal_new ("hot-swap", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, LANLAN_TYPE_HOT_SWAP_STAGE, G_TYPE_STRING);
  signals[SIGNAL_ERROR] =
    g_signal_new ("error", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_SPEECH_STARTED] =
    g_signal_new ("speech-started", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[SIGNAL_HISTORY_OVERFLOW] =
    g_signal_new ("history-overflow", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_PTR_ARRAY, G_TYPE_STRV);
  signals[SIGNAL_TEXT_SENT] =
    g_signal_new ("text-sent", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_TEXT_FAILED] =
    g_signal_new ("text-failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
  signals[SIGNAL_INTERRUPTED] =
    g_signal_new ("interrupted", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64);
  /**
   * LanlanSessionManager::image-refused:
   * @jpeg: the picture
   *
   * Text mode: the character's model does not take pictures (its
   * preset says so, or its server refused this one: a "try" preset such
   * as Ollama's). The question waits for a description of the picture,
   * given with lanlan_session_manager_describe_seen(), and is asked
   * without it when none comes within a minute and a half. Emitted only
   * while a handler is connected; without one the question goes at once
   * without the picture.
   */
  signals[SIGNAL_IMAGE_REFUSED] =
    g_signal_new ("image-refused", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BYTES);
}

static void
lanlan_session_manager_init (LanlanSessionManager *self)
{
}

static void
load_hot_swap_defaults (Worker *w)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettings) settings = NULL;

  w->hot_swap_turns = 10;
  w->hot_swap_seconds = 1500;
  w->reconnect_max = 8;
  w->reconnect_delay_ms = 250;
  if (source == NULL || (schema = g_settings_schema_source_lookup (source, APP_ID, TRUE)) == NULL ||
      !g_settings_schema_has_key (schema, "hot-swap-turns"))
    return;
  settings = g_settings_new (APP_ID);
  w->hot_swap_turns = g_settings_get_uint (settings, "hot-swap-turns");
  w->hot_swap_seconds = g_settings_get_uint (settings, "hot-swap-seconds");
  if (g_settings_schema_has_key (schema, "reconnect-attempts"))
    {
      w->reconnect_max = g_settings_get_uint (settings, "reconnect-attempts");
      w->reconnect_delay_ms = g_settings_get_uint (settings, "reconnect-delay-ms");
    }
}

/**
 * lanlan_session_manager_new:
 * @character: the character; its settings are copied now and again
 *   whenever its serial changes
 * @sink: (nullable): where the model's speech goes
 *
 * Starts the worker thread. Signals are emitted on the thread-default
 * main context of the caller.
 */
LanlanSessionManager *
lanlan_session_manager_new (LanlanCharacter *character,
                            LanlanAudioSink *sink)
{
  LanlanSessionManager *self;
  const LanlanProvider *p;
  Worker *w;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);
  g_return_val_if_fail (sink == NULL || LANLAN_IS_AUDIO_SINK (sink), NULL);

  self = g_object_new (LANLAN_TYPE_SESSION_MANAGER, NULL);
  self->owner_ctx = g_main_context_ref_thread_default ();
  self->character = g_object_ref (character);
  self->sink = sink ? g_object_ref (sink) : NULL;

  w = g_new0 (Worker, 1);
  g_atomic_ref_count_init (&w->ref);
  g_weak_ref_init (&w->owner, self);
  w->owner_ctx = g_main_context_ref (self->owner_ctx);
  w->ctx = g_main_context_new ();
  w->loop = g_main_loop_new (w->ctx, FALSE);
  g_mutex_init (&w->lock);
  g_mutex_init (&w->emit_lock);
  g_queue_init (&w->emit_queue);
  w->history = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  w->history_ids = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&w->mic_queue);
  w->settings = lanlan_character_dup (character);
  w->settings_serial = lanlan_character_get_serial (character);
  w->sink = sink ? g_object_ref (sink) : NULL;
  w->connect_ms = 15000;
  w->response_ms = 20000;
  w->dropped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->assistant_text = g_string_new (NULL);
  w->pending_texts = g_ptr_array_new_with_free_func (pending_text_free);
  w->reply_text = g_string_new (NULL);
  w->agent_context = g_ptr_array_new_with_free_func (g_free);
  w->queued_context = g_ptr_array_new_with_free_func (g_free);
  w->mic_cache = g_array_new (FALSE, FALSE, sizeof (gint16));
  w->tts_buffer = g_string_new (NULL);
  w->state = LANLAN_SESSION_STATE_IDLE;
  p = settings_provider (w->settings);
  w->input_rate = p ? p->input_rate : 24000;
  if (_lanlan_session_chat_wanted (w))
    w->input_rate = _LANLAN_SESSION_CHAT_INPUT_RATE;
  load_hot_swap_defaults (w);

  self->worker = w;
  self->serial_handler = g_signal_connect (character, "notify::serial",
                                           G_CALLBACK (on_character_serial), self);
  w->thread = g_thread_new ("lanlan-session", worker_thread, worker_ref (w));
  return self;
}

/**
 * lanlan_session_manager_set_api_key:
 * @api_key: (nullable): %NULL to look it up in the keyring again
 */
void
lanlan_session_manager_set_api_key (LanlanSessionManager *self,
                                    const char           *api_key)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  /* Masked should it ever reach a log line. */
  lanlan_log_add_secret (api_key);
  c = cmd_new (CMD_API_KEY);
  c->text = g_strdup (api_key);
  send_cmd (self->worker, c);
}

void
lanlan_session_manager_start_session (LanlanSessionManager *self)
{
  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  send_cmd (self->worker, cmd_new (CMD_START));
}

/**
 * lanlan_session_manager_stream_text:
 *
 * Sends what the user typed; interrupts an answer in progress. Starts a
 * session if none is running.
 */
void
lanlan_session_manager_stream_text (LanlanSessionManager *self,
                                    const char           *text)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_return_if_fail (text != NULL);
  if (*text == '\0')
    return;
  c = cmd_new (CMD_TEXT);
  c->text = g_strdup (text);
  c->a = TRUE;  /* also a "transcript-done" for the user, id "text-N" */
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_send_text:
 * @message_id: the caller's id for this message, reported back
 * @text: what the user typed
 *
 * Like lanlan_session_manager_stream_text(), but reports what became of
 * the message instead of echoing it as a transcript: "text-sent"
 * (@message_id) once it went out on a ready connection, or "text-failed"
 * (@message_id, error) when it cannot go (no or refused key, the service
 * unreachable after the retries, the session ended first). Text typed
 * while (re)connecting waits for the connection. In text mode a message
 * is sent once it is answered (or the user cut the answer short); an
 * answer that fails, even halfway, makes it "text-failed", and the
 * session forgets it, so that sending it again asks it once.
 */
void
lanlan_session_manager_send_text (LanlanSessionManager *self,
                                  const char           *message_id,
                                  const char           *text)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_return_if_fail (message_id != NULL);
  g_return_if_fail (text != NULL);
  c = cmd_new (CMD_TEXT);
  c->id = g_strdup (message_id);
  c->text = g_strdup (text);
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_set_history:
 * @messages: (element-type LanlanChatMessage): the stored conversation the
 *   summary does not cover yet, oldest first; copied
 * @summary: (nullable): what came before them, in a few sentences
 *
 * lanlan_session_manager_set_history_full() without ids.
 */
void
lanlan_session_manager_set_history (LanlanSessionManager *self,
                                    GPtrArray            *messages,
                                    const char           *summary)
{
  lanlan_session_manager_set_history_full (self, messages, NULL, summary);
}

/**
 * lanlan_session_manager_set_history_full:
 * @messages: (element-type LanlanChatMessage): the stored conversation the
 *   summary does not cover yet, oldest first; copied
 * @ids: (nullable) (array): one id per message (e.g. its LanlanMessage
 *   id), given back by "history-overflow"
 * @summary: (nullable): what came before them, in a few sentences
 *
 * Replaces what new sessions are primed with (the running one keeps what
 * it heard). Priming sends @summary as system context and the newest
 * messages within the budget (40 messages, 16 KiB); what does not fit
 * comes back at once in "history-overflow", to be summarized.
 */
void
lanlan_session_manager_set_history_full (LanlanSessionManager *self,
                                         GPtrArray            *messages,
                                         const char * const   *ids,
                                         const char           *summary)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_return_if_fail (messages != NULL);
  g_return_if_fail (ids == NULL || g_strv_length ((char **) ids) == messages->len);
  c = cmd_new (CMD_HISTORY);
  c->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  for (guint i = 0; i < messages->len; i++)
    g_ptr_array_add (c->messages, lanlan_chat_message_copy (g_ptr_array_index (messages, i)));
  c->ids = g_strdupv ((char **) ids);
  c->text = g_strdup (summary);
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_set_summary:
 * @summary: (nullable): the new summary, covering what "history-overflow"
 *   handed out so far
 *
 * Used from the next priming on (hot swap, reconnect, new session).
 */
void
lanlan_session_manager_set_summary (LanlanSessionManager *self,
                                    const char           *summary)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_SUMMARY);
  c->text = g_strdup (summary);
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_stream_audio:
 * @pcm: mono PCM16 at lanlan_session_manager_get_input_rate()
 *
 * Any thread; copies. Order is kept across calls from one thread.
 */
void
lanlan_session_manager_stream_audio (LanlanSessionManager *self,
                                     const gint16         *pcm,
                                     gsize                 n_samples)
{
  Worker *w;
  gboolean post_drain;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  if (n_samples == 0)
    return;

  w = self->worker;
  g_mutex_lock (&w->lock);
  g_queue_push_tail (&w->mic_queue, g_bytes_new (pcm, n_samples * sizeof (gint16)));
  w->stats.mic_samples_in += n_samples;
  post_drain = !w->mic_drain_posted;
  w->mic_drain_posted = TRUE;
  g_mutex_unlock (&w->lock);

  if (post_drain)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, drain_mic, worker_ref (w), (GDestroyNotify) worker_unref);
      g_source_set_static_name (source, "[lanlan] microphone");
      g_source_attach (source, w->ctx);
      g_source_unref (source);
    }
}

void
lanlan_session_manager_end_session (LanlanSessionManager *self)
{
  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  send_cmd (self->worker, cmd_new (CMD_END));
}

/**
 * lanlan_session_manager_inject_context:
 *
 * Agent results. Text mode: sent right away when idle (or at the end of
 * the current answer), and the model answers. Voice mode: given to the
 * next session at the next hot swap.
 */
void
lanlan_session_manager_inject_context (LanlanSessionManager *self,
                                       const char           *text)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_return_if_fail (text != NULL);
  c = cmd_new (CMD_CONTEXT);
  c->text = g_strdup (text);
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_describe_seen:
 * @text: what the user is showing, in words (a vision model's
 *   description, for a model that cannot take pictures)
 *
 * Voice mode: the live session gets it as context now, without an
 * answer of its own, and later sessions are primed with it. Text mode:
 * the question waiting for it (#LanlanSessionManager::image-refused)
 * goes, with it; otherwise it goes with the next request.
 */
void
lanlan_session_manager_describe_seen (LanlanSessionManager *self,
                                      const char           *text)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_return_if_fail (text != NULL);
  c = cmd_new (CMD_SEE);
  c->text = g_strdup (text);
  send_cmd (self->worker, c);
}

guint
lanlan_session_manager_get_input_rate (LanlanSessionManager *self)
{
  guint rate;

  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), 24000);
  g_mutex_lock (&self->worker->lock);
  rate = self->worker->input_rate;
  g_mutex_unlock (&self->worker->lock);
  return rate;
}

gboolean
lanlan_session_manager_get_active (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), FALSE);
  return self->active;
}

LanlanInputMode
lanlan_session_manager_get_input_mode (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), LANLAN_INPUT_MODE_AUDIO);
  return lanlan_character_get_input_mode (self->character);
}

const char *
lanlan_session_manager_get_character_name (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), NULL);
  return lanlan_character_get_name (self->character);
}

LanlanCharacter *
lanlan_session_manager_get_character (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), NULL);
  return self->character;
}

LanlanSessionState
lanlan_session_manager_get_state (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), LANLAN_SESSION_STATE_IDLE);
  return self->state;
}

/**
 * lanlan_session_manager_dup_history:
 *
 * Returns: (transfer full) (element-type LanlanChatMessage): a copy of
 *   the conversation so far
 */
GPtrArray *
lanlan_session_manager_dup_history (LanlanSessionManager *self)
{
  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (self), NULL);
  return history_dup_from (self->worker, 0);
}

/**
 * lanlan_session_manager_set_hot_swap_turns:
 * @turns: renew the session after this many answers; 0: never
 */
void
lanlan_session_manager_set_hot_swap_turns (LanlanSessionManager *self,
                                           guint                 turns)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_SWAP_TURNS);
  c->a = turns;
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_set_hot_swap_seconds:
 * @seconds: renew the session after this long (checked at turn ends); 0: never
 */
void
lanlan_session_manager_set_hot_swap_seconds (LanlanSessionManager *self,
                                             guint                 seconds)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_SWAP_SECONDS);
  c->a = seconds;
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_request_hot_swap:
 *
 * Renews the session at the next opportunity, as if a threshold was hit.
 */
void
lanlan_session_manager_request_hot_swap (LanlanSessionManager *self)
{
  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  send_cmd (self->worker, cmd_new (CMD_SWAP_NOW));
}

/**
 * lanlan_session_manager_set_timeouts:
 * @connect_ms: how long a connection may take to be accepted
 * @response_ms: how long response.create may wait for response.created
 */
void
lanlan_session_manager_set_timeouts (LanlanSessionManager *self,
                                     guint                 connect_ms,
                                     guint                 response_ms)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_TIMEOUTS);
  c->a = connect_ms;
  c->b = response_ms;
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_set_tts_backend:
 * @backend: (transfer full): speech for text-only services; the default
 *   is the OpenAI-compatible HTTP endpoint next to the character's base-url
 */
void
lanlan_session_manager_set_tts_backend (LanlanSessionManager *self,
                                        LanlanTtsBackend     *backend)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_TTS_BACKEND);
  c->backend = backend;
  send_cmd (self->worker, c);
}

/**
 * lanlan_session_manager_send_image:
 * @jpeg: a camera or screen frame, for services that take pictures
 */
void
lanlan_session_manager_send_image (LanlanSessionManager *self,
                                   GBytes               *jpeg)
{
  Cmd *c;

  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  c = cmd_new (CMD_IMAGE);
  c->bytes = g_bytes_ref (jpeg);
  send_cmd (self->worker, c);
}

void
lanlan_session_manager_get_stats (LanlanSessionManager *self,
                                  LanlanSessionStats   *stats)
{
  g_return_if_fail (LANLAN_IS_SESSION_MANAGER (self));
  g_mutex_lock (&self->worker->lock);
  *stats = self->worker->stats;
  g_mutex_unlock (&self->worker->lock);
}

/* --- For the chat engine (lanlan-session-chat.c) ---------------------------- */

Worker *
_lanlan_session_worker_ref (Worker *w)
{
  return worker_ref (w);
}

void
_lanlan_session_worker_unref (Worker *w)
{
  worker_unref (w);
}

void
_lanlan_session_emit_text (Worker     *w,
                           gboolean    done,
                           const char *role,
                           const char *turn_id,
                           const char *text)
{
  emit_text (w, done ? EMIT_DONE : EMIT_DELTA, role, turn_id, text);
}

void
_lanlan_session_emit_turn_ended (Worker *w)
{
  emit_simple (w, EMIT_TURN_ENDED);
}

void
_lanlan_session_emit_speech_started (Worker *w)
{
  emit_simple (w, EMIT_SPEECH_STARTED);
}

void
_lanlan_session_emit_error (Worker       *w,
                            const GError *error)
{
  emit_error (w, error);
}

/* The chat engine's model refused a picture; whoever listens describes
 * it (lanlan_session_manager_describe_seen()). */
gboolean
_lanlan_session_emit_image_refused (Worker *w,
                                    GBytes *jpeg)
{
  g_autoptr(LanlanSessionManager) self = g_weak_ref_get (&w->owner);
  Emission *e;

  if (self == NULL || !g_signal_has_handler_pending (self, signals[SIGNAL_IMAGE_REFUSED], 0, FALSE))
    return FALSE;
  e = emission_new (w, EMIT_IMAGE_REFUSED);
  e->bytes = g_bytes_ref (jpeg);
  post (e);
  return TRUE;
}

void
_lanlan_session_emit_text_sent (Worker     *w,
                                const char *message_id)
{
  emit_text_sent (w, message_id);
}

void
_lanlan_session_emit_interrupted (Worker     *w,
                                  const char *turn_id,
                                  const char *heard,
                                  guint64     played,
                                  guint64     received)
{
  Emission *e = emission_new (w, EMIT_INTERRUPTED);

  e->turn_id = g_strdup (turn_id);
  e->text = g_strdup (heard);
  e->played = played;
  e->received = received;
  post (e);
}

void
_lanlan_session_fail_session (Worker       *w,
                              const GError *error)
{
  fail_session (w, error);
}

void
_lanlan_session_history_add (Worker     *w,
                             const char *role,
                             const char *text)
{
  history_add (w, role, text, NULL);
}

void
_lanlan_session_history_add_id (Worker     *w,
                                const char *role,
                                const char *text,
                                const char *id)
{
  history_add (w, role, text, id);
}

/* Takes back what was added under @id (a message whose answer failed,
 * to be sent again): the history is as if it never went. */
void
_lanlan_session_history_remove_id (Worker     *w,
                                   const char *id)
{
  g_mutex_lock (&w->lock);
  for (guint i = w->history_ids->len; i > 0; i--)
    if (g_strcmp0 (g_ptr_array_index (w->history_ids, i - 1), id) == 0)
      {
        LanlanChatMessage *m = g_ptr_array_index (w->history, i - 1);

        w->history_bytes -= MIN (w->history_bytes, strlen (m->content ? m->content : ""));
        g_ptr_array_remove_index (w->history, i - 1);
        g_ptr_array_remove_index (w->history_ids, i - 1);
        break;
      }
  g_mutex_unlock (&w->lock);
}

void
_lanlan_session_emit_text_failed (Worker       *w,
                                  const char   *message_id,
                                  const GError *error)
{
  Emission *e = emission_new (w, EMIT_TEXT_FAILED);

  e->turn_id = g_strdup (message_id);
  e->error = g_error_copy (error);
  post (e);
}

GPtrArray *
_lanlan_session_history_dup (Worker *w)
{
  return history_dup_from (w, 0);
}

void
_lanlan_session_stats_add (Worker  *w,
                           guint64 *field,
                           guint64  n)
{
  stats_add (w, field, n);
}

void
_lanlan_session_stats_add_reconnect (Worker *w)
{
  g_mutex_lock (&w->lock);
  w->stats.n_reconnects++;
  g_mutex_unlock (&w->lock);
}

/* Switching to text mode: the realtime connections go, the session stays. */
void
_lanlan_session_close_realtime (Worker *w)
{
  if (w->swap_timer != NULL)
    {
      g_source_destroy (w->swap_timer);
      g_clear_pointer (&w->swap_timer, g_source_unref);
    }
  if (w->reconnect_timer != NULL)
    {
      g_source_destroy (w->reconnect_timer);
      g_clear_pointer (&w->reconnect_timer, g_source_unref);
    }
  reset_response (w);
  _lanlan_session_conn_free (g_steal_pointer (&w->pending));
  _lanlan_session_conn_free (g_steal_pointer (&w->active));
  w->swapping = FALSE;
  if (w->tts != NULL)
    lanlan_tts_worker_interrupt (w->tts);
}

/* Switching back to audio mode. */
void
_lanlan_session_restart (Worker *w)
{
  worker_start (w);
}

/* The voice to ask the realtime model for: the provider's own when the
 * character's voice belongs to another engine. */
const char *
_lanlan_session_model_voice (LanlanCharacter      *settings,
                             const LanlanProvider *provider)
{
  const char *voice = lanlan_character_get_voice (settings);

  if (lanlan_tts_voice_is_external (voice))
    return provider != NULL ? lanlan_provider_get_default_voice (provider) : NULL;
  return voice;
}
