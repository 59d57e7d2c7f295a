/* lanlan-session-hot-swap.c — renewing a session without a gap
 *
 * A facet of LanlanSessionManager (see lanlan-session-manager-private.h).
 * After some turns or minutes, or when the character's settings change, a
 * second connection is opened with the latest settings and primed with
 * the conversation so far; at the next turn end it replaces the first.
 * Microphone audio that arrives while the swap completes is cached and
 * sent to the new session in order. Everything here runs on the worker
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-session-manager-private.h"

#define SWAP_BARRIER_MS     5000

void
_lanlan_session_finish_swap (Worker *w)
{
  Conn *old = w->active;
  Conn *fresh = g_steal_pointer (&w->pending);
  g_autofree char *detail = NULL;

  if (w->swap_timer != NULL)
    {
      g_source_destroy (w->swap_timer);
      g_clear_pointer (&w->swap_timer, g_source_unref);
    }

  w->active = fresh;
  w->swapping = FALSE;
  w->active_serial = fresh->serial;
  w->turns = 0;
  w->session_started = g_get_monotonic_time ();
  w->force_swap = FALSE;
  g_ptr_array_set_size (w->agent_context, 0);
  g_mutex_lock (&w->lock);
  w->input_rate = fresh->provider->input_rate;
  w->stats.n_swaps++;
  if (w->swap_prepared_at != 0)
    w->stats.last_swap_prepare_us = g_get_monotonic_time () - w->swap_prepared_at;
  if (w->swap_barrier_at != 0)
    w->stats.last_swap_barrier_us = g_get_monotonic_time () - w->swap_barrier_at;
  w->swap_prepared_at = w->swap_barrier_at = 0;
  g_mutex_unlock (&w->lock);
  _lanlan_session_conn_free (old);

  _lanlan_session_flush_mic_cache (w);
  _lanlan_session_flush_pending_input (w);
  {
    const char *model = lanlan_character_get_model (w->settings);
    detail = g_strdup_printf ("%s/%s", fresh->provider->id,
                              model && *model ? model : fresh->provider->default_model);
  }
  _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_SWAPPED, detail);
  if (w->state == LANLAN_SESSION_STATE_RECONNECTING)
    _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
}

void
_lanlan_session_fail_swap (Worker     *w,
           const char *why)
{
  if (w->swap_timer != NULL)
    {
      g_source_destroy (w->swap_timer);
      g_clear_pointer (&w->swap_timer, g_source_unref);
    }
  _lanlan_session_conn_free (g_steal_pointer (&w->pending));
  w->swapping = FALSE;
  w->force_swap = FALSE;
  /* Try again after another full period, not at every turn. */
  w->turns = 0;
  w->session_started = g_get_monotonic_time ();
  _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_FAILED, why);
  _lanlan_session_flush_mic_cache (w);
}

void
_lanlan_session_on_pending_event (Worker                    *w,
                  Conn                      *conn,
                  const LanlanRealtimeEvent *event)
{
  if (event->type == LANLAN_REALTIME_EVENT_SESSION_UPDATED)
    {
      conn->n_updated++;
      if (w->swapping && conn->n_updated >= w->barrier)
        _lanlan_session_finish_swap (w);
    }
  else if (event->type == LANLAN_REALTIME_EVENT_ERROR && w->swapping)
    {
      g_autoptr(GError) error = lanlan_realtime_event_to_error (event);
      _lanlan_session_fail_swap (w, error->message);
    }
}

static gboolean
swap_barrier_timeout (gpointer data)
{
  Worker *w = data;

  g_clear_pointer (&w->swap_timer, g_source_unref);
  _lanlan_session_fail_swap (w, _("The new session did not confirm in time"));
  return G_SOURCE_REMOVE;
}

/* Starts the atomic part: the old session stops hearing the microphone,
 * the new one gets the turns it has not seen, and once it confirms (a
 * session.update round trip) it becomes the active one. */
void
_lanlan_session_maybe_swap (Worker *w)
{
  g_autofree char *instructions = NULL;
  LanlanRealtimeConfig config = { 0 };

  if (w->pending == NULL || !w->pending->ready || w->swapping || w->active == NULL ||
      !w->active->ready || w->in_flight || w->user_speaking)
    return;

  w->swapping = TRUE;
  w->swap_barrier_at = g_get_monotonic_time ();
  _lanlan_session_prime (w, w->pending, w->primed_len);
  w->primed_len = _lanlan_session_history_len (w);

  instructions = _lanlan_session_compose_instructions (w, w->pending);
  config.model = lanlan_character_get_model (w->settings);
  config.instructions = instructions;
  config.voice = _lanlan_session_model_voice (w->settings, w->pending->provider);
  config.language = lanlan_character_get_language (w->settings);
  config.text_only = w->pending->text_only;
  config.server_vad = TRUE;
  lanlan_realtime_client_send_session_update (w->pending->client, &config);
  w->barrier = w->pending->n_updated + 1;

  w->swap_timer = g_timeout_source_new (SWAP_BARRIER_MS);
  g_source_set_callback (w->swap_timer, swap_barrier_timeout, w, NULL);
  g_source_attach (w->swap_timer, w->ctx);
}

/* The replacement is open: it hears the conversation so far now, and the
 * turns it has not seen at the switch-over. */
void
_lanlan_session_swap_conn_ready (Worker *w,
                                 Conn   *conn)
{
  _lanlan_session_prime (w, conn, 0);
  _lanlan_session_prime_context (w, conn);
  w->primed_len = _lanlan_session_history_len (w);
  _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_READY, NULL);
  _lanlan_session_maybe_swap (w);
}

void
_lanlan_session_prepare_swap (Worker     *w,
                     const char *why)
{
  if (!w->started || w->active == NULL || !w->active->ready)
    return;
  if (w->pending != NULL)
    {
      if (w->pending->serial == w->settings_serial || w->swapping)
        return;
      _lanlan_session_conn_free (g_steal_pointer (&w->pending));  /* stale settings */
    }
  _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_PREPARING, why);
  w->swap_prepared_at = g_get_monotonic_time ();
  _lanlan_session_start_conn (w, CONN_SWAP);
}

void
_lanlan_session_after_turn (Worker *w)
{
  gint64 elapsed = (g_get_monotonic_time () - w->session_started) / G_USEC_PER_SEC;

  /* Switched to text mode while the model was talking: the chat engine
   * takes over now, between turns. */
  if (!w->in_flight && _lanlan_session_chat_wanted (w) && _lanlan_session_chat_settings_changed (w))
    return;

  /* Agent results that came in while the model was talking. */
  if (w->queued_context->len > 0 && w->active != NULL && w->active->ready && !w->swapping)
    {
      _lanlan_session_flush_pending_input (w);
      return;
    }

  if (w->active_serial != w->settings_serial)
    _lanlan_session_prepare_swap (w, _("settings changed"));
  else if (w->pending == NULL)
    {
      if (w->force_swap)
        _lanlan_session_prepare_swap (w, _("requested"));
      else if (w->hot_swap_turns > 0 && w->turns >= w->hot_swap_turns)
        _lanlan_session_prepare_swap (w, _("turn limit"));
      else if (w->hot_swap_seconds > 0 && elapsed >= w->hot_swap_seconds)
        _lanlan_session_prepare_swap (w, _("time limit"));
    }
  _lanlan_session_maybe_swap (w);
}
