/* lanlan-session-chat.c — text mode: the chat completions engine
 *
 * A character in text mode talks to any OpenAI-compatible chat server
 * (a local Ollama, llama.cpp or LM Studio, or a chat-only key) instead
 * of a realtime WebSocket, as N.E.K.O.'s OmniOfflineClient does, and its
 * answers are always spoken by the TTS worker (espeak-ng unless another
 * backend was set). This facet is that second engine; the rest of the
 * session manager calls in through a handful of hooks and everything the
 * manager promises works the same:
 *
 *  - start/stream/end: each turn is one streamed POST with the persona,
 *    the summary and the history; the reply streams as transcript
 *    deltas and is spoken sentence by sentence while it streams;
 *  - barge-in (typing, or speech in the microphone): playback stops at
 *    once, the HTTP request is cancelled, and the part that was heard
 *    is what the history keeps ("interrupted" says how much);
 *  - hot swap: a new client primed with the latest settings replaces
 *    the old one at the end of a turn (settings changed, turn or time
 *    limit, or asked for); a chat server keeps no state, so "priming" is
 *    the history sent with every request;
 *  - agent results (inject_context) go in as system messages and get an
 *    answer right away when idle, else after the current one;
 *  - a failed request that produced nothing is retried with backoff;
 *    a refused key or a bad setting stops with the server's message.
 *
 * Everything here runs on the session worker thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "lanlan-chat-client.h"
#include "lanlan-secrets.h"
#include "lanlan-session-manager-private.h"
#include "lanlan-speech-chunker.h"
#include "lanlan-tts-select.h"
#include "lanlan-vad.h"

#define CHAT_MAX_RETRIES   4
#define DESCRIBE_WAIT_MS   90000   /* for a refused picture's description */
#define CHAT_INPUT_RATE    _LANLAN_SESSION_CHAT_INPUT_RATE   /* what transcription servers like */

struct _ChatEngine
{
  Worker                 *w;
  gboolean                active;      /* text mode is the engine in use */

  const LanlanChatPreset *preset;
  LanlanChatClient       *client;
  char                   *model;       /* "" until resolved from /models */
  char                   *instructions;
  guint64                 serial;      /* settings the client was built with */
  GCancellable           *resolving;

  GCancellable           *cancel;      /* the request in flight */
  gboolean                in_flight;
  gboolean                respond_again;
  guint                   attempt;
  GSource                *retry_timer;
  char                   *turn_id;
  GString                *text;        /* received of this answer */
  guint                   n_answers;
  gboolean                had_images;
  gboolean                no_vision;   /* this model refused pictures */
  gboolean                awaiting_description;   /* of a refused picture (retry_timer bounds it) */
  GBytes                 *image;       /* the latest frame, for the next request */

  LanlanTtsWorker        *tts;
  LanlanSpeechChunker    *chunker;
  guint                   speech_id;
  gboolean                audio_reset_done;
  /* What was spoken of this answer: each piece's text and the sample
   * count at its end (0 while it is being synthesized). */
  GPtrArray              *pieces;
  GArray                 *piece_ends;
  guint                   n_pieces_done;
  guint64                 samples;     /* of this answer, written to the sink */

  guint                   turns;
  gint64                  started;

  /* The microphone: voice activity, then transcription. */
  LanlanVad              *vad;
  LanlanChatClient       *stt;
  char                   *stt_url;
  char                   *stt_key;
  char                   *key;         /* the chat server's */
  char                   *stt_model;
  GCancellable           *stt_cancel;
  guint                   n_voice;
};

static void chat_send (ChatEngine *chat);
static void setup_transcription (ChatEngine *chat, const char *chat_url, const char *chat_key);
static void chat_after_turn (ChatEngine *chat);
static gboolean describe_timeout_cb (gpointer data);
static gboolean wait_for_words (ChatEngine *chat, GBytes *image);

/* --- Helpers ---------------------------------------------------------------- */

gboolean
_lanlan_session_chat_wanted (Worker *w)
{
  return lanlan_character_get_input_mode (w->settings) == LANLAN_INPUT_MODE_TEXT;
}

static gboolean
is_active (Worker *w)
{
  return w->chat != NULL && w->chat->active;
}

static ChatEngine *
chat_ensure (Worker *w)
{
  ChatEngine *chat = w->chat;

  if (chat != NULL)
    return chat;
  chat = g_new0 (ChatEngine, 1);
  chat->w = w;
  chat->text = g_string_new (NULL);
  chat->chunker = lanlan_speech_chunker_new ();
  chat->pieces = g_ptr_array_new_with_free_func (g_free);
  chat->piece_ends = g_array_new (FALSE, FALSE, sizeof (guint64));
  w->chat = chat;
  return chat;
}

static void
stop_retry (ChatEngine *chat)
{
  chat->awaiting_description = FALSE;
  if (chat->retry_timer != NULL)
    {
      g_source_destroy (chat->retry_timer);
      g_clear_pointer (&chat->retry_timer, g_source_unref);
    }
}

static void
cancel_request (ChatEngine *chat)
{
  stop_retry (chat);
  if (chat->cancel != NULL)
    {
      g_cancellable_cancel (chat->cancel);
      g_clear_object (&chat->cancel);
    }
  chat->in_flight = FALSE;
}

/* --- Speech ----------------------------------------------------------------- */

static gboolean
drain_tts (gpointer data)
{
  Worker *w = data;
  ChatEngine *chat = w->chat;
  LanlanTtsResponse *r;

  while (chat != NULL && chat->tts != NULL && (r = lanlan_tts_worker_pop (chat->tts, 0)) != NULL)
    {
      if (r->speech_id != chat->speech_id)
        ;   /* an answer already over */
      else if (r->type == LANLAN_TTS_RESPONSE_AUDIO && w->sink != NULL)
        {
          gsize size;
          const gint16 *pcm = g_bytes_get_data (r->pcm, &size);
          gsize n;

          if (!chat->audio_reset_done)
            {
              lanlan_audio_sink_reset_played (w->sink);
              chat->audio_reset_done = TRUE;
            }
          n = lanlan_audio_sink_write (w->sink, pcm, size / 2);
          chat->samples += n;
          _lanlan_session_stats_add (w, &w->stats.speaker_samples, n);
          if (n < size / 2)
            _lanlan_session_stats_add (w, &w->stats.speaker_samples_dropped, size / 2 - n);
        }
      else if (r->type == LANLAN_TTS_RESPONSE_PIECE_END)
        {
          if (chat->n_pieces_done < chat->piece_ends->len)
            g_array_index (chat->piece_ends, guint64, chat->n_pieces_done++) = chat->samples;
        }
      else if (r->type == LANLAN_TTS_RESPONSE_ERROR)
        _lanlan_session_emit_error (w, r->error);
      lanlan_tts_response_free (r);
    }
  return G_SOURCE_REMOVE;
}

/* On the TTS thread. */
static void
tts_notify (gpointer data)
{
  Worker *w = data;

  g_main_context_invoke_full (w->ctx, G_PRIORITY_DEFAULT, drain_tts,
                              _lanlan_session_worker_ref (w),
                              (GDestroyNotify) _lanlan_session_worker_unref);
}

/* An OpenAI-compatible /audio/speech: OpenAI's, or where "http:VOICE"
 * says there is one. */
static const char *
speech_url (ChatEngine *chat)
{
  const char *voice = lanlan_character_get_voice (chat->w->settings);

  if (chat->client == NULL)
    return NULL;
  if ((chat->preset != NULL && g_str_equal (chat->preset->id, "openai")) ||
      g_str_has_prefix (voice ? voice : "", "http:"))
    return lanlan_chat_client_get_base_url (chat->client);
  return NULL;
}

static void
ensure_tts (ChatEngine *chat)
{
  Worker *w = chat->w;
  LanlanTtsBackend *backend;

  /* A backend set since (lanlan_session_manager_set_tts_backend()) wins. */
  if (chat->tts != NULL && w->tts_backend == NULL)
    return;
  if (w->tts_backend != NULL)
    backend = g_steal_pointer (&w->tts_backend);
  else
    backend = lanlan_tts_backend_new_for_voice (lanlan_character_get_voice (w->settings),
                                                lanlan_character_get_language (w->settings),
                                                speech_url (chat), chat->key);
  g_clear_object (&chat->tts);
  chat->tts = lanlan_tts_worker_new (backend, tts_notify, w);
  lanlan_tts_worker_set_piece_marks (chat->tts, TRUE);
}

static void
speak (ChatEngine *chat,
       char       *piece)
{
  guint64 zero = 0;

  if (piece == NULL || chat->tts == NULL)
    {
      g_free (piece);
      return;
    }
  lanlan_tts_worker_speak (chat->tts, chat->speech_id, piece);
  g_ptr_array_add (chat->pieces, piece);
  g_array_append_val (chat->piece_ends, zero);
}

static void
speak_delta (ChatEngine *chat,
             const char *delta)
{
  g_autoptr(GPtrArray) pieces = lanlan_speech_chunker_feed (chat->chunker, delta);

  for (guint i = 0; i < pieces->len; i++)
    speak (chat, g_strdup (g_ptr_array_index (pieces, i)));
}

/* What was heard of the answer when @played samples of it had played:
 * whole pieces, and the played share of the piece that was playing. */
static char *
heard_text (ChatEngine *chat,
            guint64     played)
{
  GString *heard = g_string_new (NULL);
  guint64 start = 0;

  for (guint i = 0; i < chat->pieces->len; i++)
    {
      const char *piece = g_ptr_array_index (chat->pieces, i);
      guint64 end = i < chat->n_pieces_done ? g_array_index (chat->piece_ends, guint64, i)
                                           : chat->samples;

      if (heard->len > 0)
        g_string_append_c (heard, ' ');
      if (played >= end && i < chat->n_pieces_done)
        g_string_append (heard, piece);
      else
        {
          glong n = g_utf8_strlen (piece, -1);
          double share = end > start ? (double) (played - MIN (played, start)) / (end - start) : 0;
          g_autofree char *part = g_utf8_substring (piece, 0, (glong) (n * MIN (share, 1.0)));

          g_string_append (heard, part);
          break;
        }
      start = end;
    }
  g_strchomp (heard->str);
  heard->len = strlen (heard->str);
  return g_string_free (heard, FALSE);
}

/* --- Client ----------------------------------------------------------------- */

static void
on_delta (LanlanChatClient *client,
          const char       *delta,
          gpointer          data)
{
  ChatEngine *chat = data;
  Worker *w = chat->w;

  if (!chat->in_flight)
    return;
  if (chat->text->len == 0)
    _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RESPONDING);
  g_string_append (chat->text, delta);
  _lanlan_session_emit_text (w, FALSE, "assistant", chat->turn_id, delta);
  speak_delta (chat, delta);
}

/* Builds the client for the current settings; NULL and @error if they
 * cannot work (unknown service, bad address, missing key). */
static LanlanChatClient *
build_client (ChatEngine  *chat,
              GError     **error)
{
  Worker *w = chat->w;
  const char *provider = lanlan_character_get_provider (w->settings);
  const LanlanChatPreset *preset = lanlan_chat_preset_for_provider (provider);
  g_autofree char *url = NULL;
  g_autofree char *key = NULL;
  LanlanChatClient *client;

  if (preset == NULL)
    {
      g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                   _("“%s” is not a chat service; choose one for text mode"), provider);
      return NULL;
    }
  /* A realtime address of a custom service is turned into its HTTP base. */
  url = lanlan_chat_preset_resolve_url (preset, lanlan_character_get_base_url (w->settings), error);
  if (url == NULL)
    return NULL;

  if (w->have_key)
    key = g_strdup (w->api_key);
  else
    {
      g_autoptr(GError) local = NULL;

      key = lanlan_secrets_lookup_sync (preset->key_id, NULL, &local);
      if (key == NULL && lanlan_chat_preset_needs_key (preset, url))
        {
          if (local != NULL)
            g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                         _("The API key for %s could not be read from the keyring: %s"),
                         _(preset->display_name), local->message);
          else
            g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                         _("No API key for %s is stored. Add one in Preferences."),
                         _(preset->display_name));
          return NULL;
        }
    }

  client = lanlan_chat_client_new (_(preset->display_name), url, key);
  setup_transcription (chat, url, key);
  lanlan_chat_client_set_timeouts (client, MAX (w->response_ms * 3, w->connect_ms), w->response_ms);
  g_signal_connect (client, "delta", G_CALLBACK (on_delta), chat);
  chat->preset = preset;
  return client;
}

static char *
setting_string (const char *key)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettings) settings = NULL;

  if (source == NULL || (schema = g_settings_schema_source_lookup (source, APP_ID, TRUE)) == NULL ||
      !g_settings_schema_has_key (schema, key))
    return NULL;
  settings = g_settings_new (APP_ID);
  return g_settings_get_string (settings, key);
}

/* Where the microphone's words go: the transcription server of the
 * preferences, else the chat server (OpenAI has both). */
static void
setup_transcription (ChatEngine *chat,
                     const char *chat_url,
                     const char *chat_key)
{
  g_autofree char *url = setting_string ("transcription-url");
  g_autofree char *model = setting_string ("transcription-model");

  g_clear_object (&chat->stt);
  g_free (chat->stt_url);
  g_free (chat->stt_model);
  if (chat->stt_key != NULL)
    memset (chat->stt_key, 0, strlen (chat->stt_key));
  g_clear_pointer (&chat->stt_key, g_free);
  if (url != NULL && *url != '\0')
    {
      g_strstrip (url);
      while (g_str_has_suffix (url, "/"))
        url[strlen (url) - 1] = '\0';
    }
  chat->stt_url = url != NULL && *url != '\0' ? g_steal_pointer (&url) : g_strdup (chat_url);
  /* The chat key goes only to the chat server. */
  chat->stt_key = g_strcmp0 (chat->stt_url, chat_url) == 0 ? g_strdup (chat_key) : NULL;
  if (chat->key != NULL)
    memset (chat->key, 0, strlen (chat->key));
  g_free (chat->key);
  chat->key = g_strdup (chat_key);
  chat->stt_model = model != NULL && *model != '\0' ? g_steal_pointer (&model) : g_strdup ("whisper-1");
}

static void
set_client (ChatEngine       *chat,
            LanlanChatClient *client)
{
  Worker *w = chat->w;
  const char *model = lanlan_character_get_model (w->settings);

  if (chat->client != NULL)
    g_signal_handlers_disconnect_by_data (chat->client, chat);
  g_clear_object (&chat->client);
  chat->client = client;
  chat->serial = w->settings_serial;
  g_free (chat->model);
  /* A realtime model name means nothing to a chat server. */
  if (model == NULL || *model == '\0' ||
      (lanlan_provider_lookup (lanlan_character_get_provider (w->settings)) != NULL &&
       g_strcmp0 (model, lanlan_provider_lookup (lanlan_character_get_provider (w->settings))->default_model) == 0))
    model = chat->preset->default_model;
  chat->model = g_strdup (model);
  chat->no_vision = chat->preset->vision == LANLAN_CHAT_VISION_NO;
  g_free (chat->instructions);
  chat->instructions = _lanlan_session_build_instructions (w->settings);
  chat->turns = 0;
  chat->started = g_get_monotonic_time ();
}

static void
end_answer (ChatEngine *chat)
{
  Worker *w = chat->w;

  chat->in_flight = FALSE;
  g_clear_object (&chat->cancel);
  chat->turns++;
  w->turns = chat->turns;
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
  _lanlan_session_emit_turn_ended (w);
}

static gboolean
is_retryable (const GError *error)
{
  return g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK) ||
         g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT) ||
         g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER) ||
         g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED);
}

static gboolean
retry_cb (gpointer data)
{
  ChatEngine *chat = data;

  g_clear_pointer (&chat->retry_timer, g_source_unref);
  chat_send (chat);
  return G_SOURCE_REMOVE;
}

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Worker *w = data;
  ChatEngine *chat = w->chat;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanChatResult) answer = NULL;
  g_autofree char *rest = NULL;

  answer = lanlan_chat_client_stream_finish (LANLAN_CHAT_CLIENT (source), result, &error);
  /* Cancelled: a barge-in or the end already took care of the turn. An
   * answer that finished just before its barge-in is as stale: only the
   * request of the current cancellable counts. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || chat == NULL ||
      !chat->in_flight || (GObject *) chat->client != source ||
      g_task_get_cancellable (G_TASK (result)) != chat->cancel)
    {
      _lanlan_session_worker_unref (w);
      return;
    }

  if (answer != NULL)
    {
      chat->attempt = 0;
      /* A picture goes with one question, not with every turn after. */
      if (chat->had_images)
        g_clear_pointer (&chat->image, g_bytes_unref);
      _lanlan_session_history_add (w, "assistant", answer->text);
      _lanlan_session_emit_text (w, TRUE, "assistant", chat->turn_id, answer->text);
      speak (chat, lanlan_speech_chunker_finish (chat->chunker));
      if (chat->tts != NULL)
        lanlan_tts_worker_end_turn (chat->tts, chat->speech_id);
      end_answer (chat);
      chat_after_turn (chat);
      _lanlan_session_worker_unref (w);
      return;
    }

  /* A model that does not see: for the rest of this session pictures
   * stay home. This one is described to it (the vision link answers
   * image-refused with lanlan_session_manager_describe_seen()) and the
   * question waits for the words, within bounds; without anyone to
   * describe it, the question goes again at once without it. */
  if (chat->had_images && chat->text->len == 0 &&
      g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG) &&
      chat->preset->vision == LANLAN_CHAT_VISION_TRY)
    {
      g_autoptr(GBytes) image = g_steal_pointer (&chat->image);

      g_debug ("%s; sending without pictures", error->message);
      chat->no_vision = TRUE;
      if (image == NULL || !wait_for_words (chat, image))
        chat_send (chat);
      _lanlan_session_worker_unref (w);
      return;
    }

  if (is_retryable (error) && chat->text->len == 0 && chat->attempt < CHAT_MAX_RETRIES)
    {
      guint delay = (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED)
                     ? 1000u : 250u) << chat->attempt;

      g_debug ("Chat request failed (%s); again in %u ms", error->message, delay);
      chat->attempt++;
      _lanlan_session_stats_add_reconnect (w);
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RECONNECTING);
      chat->retry_timer = g_timeout_source_new (delay);
      g_source_set_callback (chat->retry_timer, retry_cb, chat, NULL);
      g_source_attach (chat->retry_timer, w->ctx);
      _lanlan_session_worker_unref (w);
      return;
    }

  /* Keep what came before the failure, then say what went wrong. */
  if (chat->text->len > 0)
    {
      _lanlan_session_history_add (w, "assistant", chat->text->str);
      _lanlan_session_emit_text (w, TRUE, "assistant", chat->turn_id, chat->text->str);
      speak (chat, lanlan_speech_chunker_finish (chat->chunker));
      if (chat->tts != NULL)
        lanlan_tts_worker_end_turn (chat->tts, chat->speech_id);
    }
  chat->attempt = 0;
  chat->in_flight = FALSE;
  g_clear_object (&chat->cancel);
  _lanlan_session_emit_turn_ended (w);
  if (is_retryable (error) && chat->text->len > 0)
    {
      /* The answer broke off; the session itself is fine. */
      _lanlan_session_emit_error (w, error);
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
    }
  else
    _lanlan_session_fail_session (w, error);
  _lanlan_session_worker_unref (w);
}

static gboolean
describe_timeout_cb (gpointer data)
{
  ChatEngine *chat = data;

  g_debug ("No description of the refused picture came; asking without it");
  g_clear_pointer (&chat->retry_timer, g_source_unref);
  chat->awaiting_description = FALSE;
  chat_send (chat);
  return G_SOURCE_REMOVE;
}

/* A picture this model does not take: the question waits (in flight,
 * so barge-in and context behave as during an answer) for its
 * description, lanlan_session_manager_describe_seen(), within bounds.
 * FALSE when nobody describes pictures. */
static gboolean
wait_for_words (ChatEngine *chat,
                GBytes     *image)
{
  Worker *w = chat->w;

  if (!_lanlan_session_emit_image_refused (w, image))
    return FALSE;
  stop_retry (chat);
  chat->awaiting_description = TRUE;
  chat->in_flight = TRUE;
  chat->retry_timer = g_timeout_source_new (DESCRIBE_WAIT_MS);
  g_source_set_callback (chat->retry_timer, describe_timeout_cb, chat, NULL);
  g_source_attach (chat->retry_timer, w->ctx);
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_RESPONDING);
  return TRUE;
}

/* Sends the conversation and streams the answer. */
static void
chat_send (ChatEngine *chat)
{
  Worker *w = chat->w;
  g_autoptr(LanlanChatRequest) request = NULL;
  g_autoptr(GPtrArray) history = NULL;

  if (chat->client == NULL || chat->model == NULL || *chat->model == '\0')
    return;
  /* A picture for a model that does not see goes in words. */
  if (chat->image != NULL && chat->no_vision && !chat->awaiting_description)
    {
      g_autoptr(GBytes) image = g_steal_pointer (&chat->image);

      if (wait_for_words (chat, image))
        return;
    }
  request = lanlan_chat_request_new (chat->model);
  if (chat->instructions != NULL && *chat->instructions != '\0')
    lanlan_chat_request_add_message (request, "system", chat->instructions);
  if (w->summary != NULL && *w->summary != '\0')
    {
      g_autofree char *memo = g_strconcat ("Summary of the earlier conversation:\n", w->summary, NULL);
      lanlan_chat_request_add_message (request, "system", memo);
    }
  history = _lanlan_session_history_dup (w);
  for (guint i = 0; i < history->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (history, i);
      lanlan_chat_request_add_message (request, m->role, m->content);
    }
  chat->had_images = FALSE;
  if (chat->image != NULL && !chat->no_vision)
    {
      lanlan_chat_request_add_image (request, chat->image);
      chat->had_images = TRUE;
    }

  g_string_truncate (chat->text, 0);
  chat->in_flight = TRUE;
  g_clear_object (&chat->cancel);
  chat->cancel = g_cancellable_new ();
  _lanlan_session_set_state (w, chat->attempt > 0 ? LANLAN_SESSION_STATE_RECONNECTING
                                                  : LANLAN_SESSION_STATE_RESPONDING);
  lanlan_chat_client_stream_async (chat->client, request, chat->cancel, on_answer,
                                   _lanlan_session_worker_ref (w));
}

/* A new answer: fresh speech, fresh counters. */
static void
start_answer (ChatEngine *chat)
{
  Worker *w = chat->w;

  stop_retry (chat);
  chat->attempt = 0;
  chat->respond_again = FALSE;
  g_free (chat->turn_id);
  chat->turn_id = g_strdup_printf ("chat-%u", ++chat->n_answers);
  chat->speech_id++;
  chat->audio_reset_done = FALSE;
  chat->samples = 0;
  chat->n_pieces_done = 0;
  g_ptr_array_set_size (chat->pieces, 0);
  g_array_set_size (chat->piece_ends, 0);
  lanlan_speech_chunker_reset (chat->chunker);
  ensure_tts (chat);
  /* The manager's "interrupted" bookkeeping follows this answer. */
  g_free (w->reply_id);
  w->reply_id = g_strdup (chat->turn_id);
  chat_send (chat);
}

/* --- Model ------------------------------------------------------------------ */

static void
on_models (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Worker *w = data;
  ChatEngine *chat = w->chat;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) models = lanlan_chat_client_list_models_finish (LANLAN_CHAT_CLIENT (source),
                                                                result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || chat == NULL ||
      (GObject *) chat->client != source)
    {
      _lanlan_session_worker_unref (w);
      return;
    }
  g_clear_object (&chat->resolving);
  if (models != NULL && models[0] == NULL)
    error = g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG,
                         _("%s is running but offers no model. Load or download one first."),
                         lanlan_chat_client_get_service_name (chat->client));
  if (error != NULL)
    {
      _lanlan_session_fail_session (w, error);
      _lanlan_session_worker_unref (w);
      return;
    }
  g_free (chat->model);
  chat->model = g_strdup (models[0]);
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
  _lanlan_session_chat_flush_input (w);
  _lanlan_session_worker_unref (w);
}

/* "Connected" means a model is known: the character's, or the first the
 * server lists. */
static void
resolve_model (ChatEngine *chat)
{
  Worker *w = chat->w;

  if (chat->model != NULL && *chat->model != '\0')
    {
      _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTED);
      _lanlan_session_chat_flush_input (w);
      return;
    }
  _lanlan_session_set_state (w, LANLAN_SESSION_STATE_CONNECTING);
  g_clear_object (&chat->resolving);
  chat->resolving = g_cancellable_new ();
  lanlan_chat_client_list_models_async (chat->client, chat->resolving, on_models,
                                        _lanlan_session_worker_ref (w));
}

/* --- Microphone -------------------------------------------------------------- */

static void
on_transcribed (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Worker *w = data;
  ChatEngine *chat = w->chat;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = lanlan_chat_client_transcribe_finish (LANLAN_CHAT_CLIENT (source),
                                                                result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || chat == NULL || !chat->active)
    {
      _lanlan_session_worker_unref (w);
      return;
    }
  if (text == NULL)
    _lanlan_session_emit_error (w, error);
  else if (*text != '\0')
    {
      PendingText *t = g_new0 (PendingText, 1);

      t->id = g_strdup_printf ("voice-%u", ++chat->n_voice);
      t->text = g_steal_pointer (&text);
      _lanlan_session_emit_text (w, TRUE, "user", t->id, t->text);
      g_ptr_array_add (w->pending_texts, t);
      _lanlan_session_chat_flush_input (w);
    }
  _lanlan_session_worker_unref (w);
}

static void
transcribe (ChatEngine *chat,
            GArray     *utterance)
{
  Worker *w = chat->w;

  if (chat->stt == NULL && chat->stt_url != NULL)
    {
      chat->stt = lanlan_chat_client_new (_("The speech recognition server"), chat->stt_url,
                                          chat->stt_key);
      lanlan_chat_client_set_timeouts (chat->stt, MAX (w->response_ms * 3, w->connect_ms),
                                       w->response_ms);
    }
  if (chat->stt == NULL)
    return;
  if (chat->stt_cancel == NULL)
    chat->stt_cancel = g_cancellable_new ();
  _lanlan_session_stats_add (w, &w->stats.mic_samples_sent, utterance->len);
  lanlan_chat_client_transcribe_async (chat->stt, chat->stt_model,
                                       (const gint16 *) utterance->data, utterance->len,
                                       CHAT_INPUT_RATE, lanlan_character_get_language (w->settings),
                                       chat->stt_cancel, on_transcribed,
                                       _lanlan_session_worker_ref (w));
}

/* Microphone audio in text mode (CHAT_INPUT_RATE): speech interrupts
 * the character, and each utterance is transcribed and sent. */
gboolean
_lanlan_session_chat_mic (Worker       *w,
                          const gint16 *pcm,
                          gsize         n_samples)
{
  ChatEngine *chat = w->chat;
  LanlanVadState state;

  if (!is_active (w))
    return FALSE;
  if (chat->vad == NULL)
    chat->vad = lanlan_vad_new (CHAT_INPUT_RATE);
  state = lanlan_vad_process (chat->vad, pcm, n_samples);
  if (state == LANLAN_VAD_STARTED)
    {
      w->user_speaking = TRUE;
      _lanlan_session_emit_speech_started (w);
      _lanlan_session_chat_barge_in (w);
    }
  else if (state == LANLAN_VAD_ENDED)
    {
      g_autoptr(GArray) utterance = lanlan_vad_take_utterance (chat->vad);

      w->user_speaking = FALSE;
      if (utterance != NULL && utterance->len > 0)
        transcribe (chat, utterance);
    }
  return TRUE;
}

/* --- Hooks ------------------------------------------------------------------ */

/* worker_start() in text mode; w->started is set. */
void
_lanlan_session_chat_start (Worker *w)
{
  ChatEngine *chat = chat_ensure (w);
  g_autoptr(GError) error = NULL;
  LanlanChatClient *client;

  chat->active = TRUE;
  g_mutex_lock (&w->lock);
  w->input_rate = CHAT_INPUT_RATE;
  g_mutex_unlock (&w->lock);
  if (chat->client != NULL && chat->serial == w->settings_serial)
    {
      resolve_model (chat);
      return;
    }
  client = build_client (chat, &error);
  if (client == NULL)
    {
      _lanlan_session_fail_session (w, error);
      return;
    }
  set_client (chat, client);
  /* Agent results that came while no session ran. */
  for (guint i = 0; i < w->agent_context->len; i++)
    _lanlan_session_history_add (w, "system", g_ptr_array_index (w->agent_context, i));
  g_ptr_array_set_size (w->agent_context, 0);
  ensure_tts (chat);
  resolve_model (chat);
}

/* Typed text and agent results waiting: they go in, and an answer comes. */
gboolean
_lanlan_session_chat_flush_input (Worker *w)
{
  ChatEngine *chat = w->chat;
  gboolean respond = FALSE;

  if (!is_active (w))
    return FALSE;
  if (chat->client == NULL || chat->resolving != NULL || chat->model == NULL || *chat->model == '\0')
    return TRUE;   /* after the model is known */
  /* Typing while the character talks interrupts it. */
  if (w->pending_texts->len > 0 && chat->in_flight)
    _lanlan_session_chat_barge_in (w);
  for (guint i = 0; i < w->pending_texts->len; i++)
    {
      PendingText *t = g_ptr_array_index (w->pending_texts, i);

      _lanlan_session_history_add (w, "user", t->text);
      _lanlan_session_emit_text_sent (w, t->id);
      respond = TRUE;
    }
  g_ptr_array_set_size (w->pending_texts, 0);
  if (!chat->in_flight)
    {
      for (guint i = 0; i < w->queued_context->len; i++)
        _lanlan_session_history_add (w, "system", g_ptr_array_index (w->queued_context, i));
      respond |= w->queued_context->len > 0 || chat->respond_again;
      g_ptr_array_set_size (w->queued_context, 0);
    }
  if (respond && !chat->in_flight)
    start_answer (chat);
  return TRUE;
}

/* The user talks over the character: silence at once, drop the request,
 * keep what was heard. */
gboolean
_lanlan_session_chat_barge_in (Worker *w)
{
  ChatEngine *chat = w->chat;
  guint64 played = 0;
  gsize queued = 0;

  if (!is_active (w))
    return FALSE;
  if (w->sink != NULL)
    {
      queued = lanlan_audio_sink_get_queued (w->sink);
      played = chat->audio_reset_done ? lanlan_audio_sink_get_played (w->sink) : 0;
      lanlan_audio_sink_flush (w->sink);
    }
  if (chat->tts != NULL)
    lanlan_tts_worker_interrupt (chat->tts);

  if (w->reply_id != NULL && (chat->in_flight || queued > 0))
    {
      g_autofree char *heard = w->sink != NULL ? heard_text (chat, played)
                                               : g_strdup (chat->text->str);

      _lanlan_session_emit_interrupted (w, w->reply_id, heard, MIN (played, chat->samples),
                                        chat->samples);
      if (chat->in_flight)
        {
          /* The model remembers what the user heard, the screen shows
           * what arrived. */
          _lanlan_session_history_add (w, "assistant", chat->samples > 0 ? heard : chat->text->str);
          _lanlan_session_emit_text (w, TRUE, "assistant", chat->turn_id, chat->text->str);
        }
    }
  g_clear_pointer (&w->reply_id, g_free);

  if (chat->in_flight || chat->retry_timer != NULL)
    {
      cancel_request (chat);
      end_answer (chat);
    }
  chat->speech_id++;   /* nothing of the old answer plays any more */
  return TRUE;
}

gboolean
_lanlan_session_chat_context (Worker     *w,
                              const char *text)
{
  ChatEngine *chat = w->chat;

  if (!is_active (w))
    return FALSE;
  if (chat->in_flight || chat->client == NULL || chat->resolving != NULL)
    g_ptr_array_add (w->queued_context, g_strdup (text));
  else
    {
      _lanlan_session_history_add (w, "system", text);
      start_answer (chat);
    }
  return TRUE;
}

/* Words for a picture (lanlan_session_manager_describe_seen()): the
 * ones a question waits for let it go, with them; any other (late, after
 * a barge-in or the wait's end) goes with the next request, without an
 * answer of its own. */
gboolean
_lanlan_session_chat_seen (Worker     *w,
                           const char *text)
{
  ChatEngine *chat = w->chat;

  if (!is_active (w))
    return FALSE;
  _lanlan_session_history_add (w, "system", text);
  if (chat->awaiting_description)
    {
      stop_retry (chat);
      chat_send (chat);
    }
  return TRUE;
}

gboolean
_lanlan_session_chat_image (Worker *w,
                            GBytes *jpeg)
{
  ChatEngine *chat = w->chat;

  if (!is_active (w))
    return FALSE;
  g_clear_pointer (&chat->image, g_bytes_unref);
  chat->image = g_bytes_ref (jpeg);
  return TRUE;
}

/* Hot swap, engine switch: only between answers. */
static void
chat_after_turn (ChatEngine *chat)
{
  Worker *w = chat->w;
  gint64 elapsed = (g_get_monotonic_time () - chat->started) / G_USEC_PER_SEC;
  const char *why = NULL;
  g_autoptr(GError) error = NULL;
  LanlanChatClient *client;

  if (chat->in_flight || !w->started)
    return;

  if (!_lanlan_session_chat_wanted (w))
    {
      /* Back to audio mode: the realtime engine takes over. */
      _lanlan_session_chat_end (w);
      _lanlan_session_restart (w);
      return;
    }

  if (chat->serial != w->settings_serial)
    why = _("settings changed");
  else if (w->force_swap)
    why = _("requested");
  else if (w->hot_swap_turns > 0 && chat->turns >= w->hot_swap_turns)
    why = _("turn limit");
  else if (w->hot_swap_seconds > 0 && elapsed >= w->hot_swap_seconds)
    why = _("time limit");

  if (why != NULL)
    {
      g_autofree char *detail = NULL;

      w->force_swap = FALSE;
      _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_PREPARING, why);
      client = build_client (chat, &error);
      if (client == NULL)
        {
          /* Keep talking with the old settings; try again after a period. */
          chat->serial = w->settings_serial;
          chat->turns = 0;
          chat->started = g_get_monotonic_time ();
          _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_FAILED, error->message);
        }
      else
        {
          _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_READY, NULL);
          set_client (chat, client);
          ensure_tts (chat);
          g_mutex_lock (&w->lock);
          w->stats.n_swaps++;
          g_mutex_unlock (&w->lock);
          detail = g_strdup_printf ("%s/%s", chat->preset->id, chat->model);
          _lanlan_session_emit_hot_swap (w, LANLAN_HOT_SWAP_SWAPPED, detail);
          if (chat->model == NULL || *chat->model == '\0')
            {
              resolve_model (chat);
              return;
            }
        }
    }

  /* Agent results that came in while the character talked. */
  if (w->queued_context->len > 0 || w->pending_texts->len > 0)
    _lanlan_session_chat_flush_input (w);
}

/* CMD_SETTINGS and CMD_SWAP_NOW. Returns TRUE when text mode handled it:
 * the chat engine runs, or the character just switched to text mode. */
gboolean
_lanlan_session_chat_settings_changed (Worker *w)
{
  if (is_active (w))
    {
      g_mutex_lock (&w->lock);
      w->input_rate = CHAT_INPUT_RATE;
      g_mutex_unlock (&w->lock);
      chat_after_turn (w->chat);
      return TRUE;
    }
  if (!w->started && _lanlan_session_chat_wanted (w))
    {
      /* The microphone is opened at the rate text mode listens at. */
      g_mutex_lock (&w->lock);
      w->input_rate = CHAT_INPUT_RATE;
      g_mutex_unlock (&w->lock);
      return TRUE;
    }
  if (w->started && _lanlan_session_chat_wanted (w))
    {
      /* From audio to text mode between turns; while the realtime model
       * answers, at the end of its answer (_lanlan_session_after_turn). */
      if (!w->in_flight)
        {
          _lanlan_session_close_realtime (w);
          _lanlan_session_chat_start (w);
        }
      return TRUE;
    }
  return FALSE;
}

/* The session ends (or the engine is switched off): stop everything,
 * keep the unfinished answer. */
void
_lanlan_session_chat_end (Worker *w)
{
  ChatEngine *chat = w->chat;

  if (chat == NULL)
    return;
  if (chat->in_flight && chat->text->len > 0)
    {
      _lanlan_session_history_add (w, "assistant", chat->text->str);
      _lanlan_session_emit_text (w, TRUE, "assistant", chat->turn_id, chat->text->str);
    }
  if (chat->in_flight)
    _lanlan_session_emit_turn_ended (w);
  cancel_request (chat);
  if (chat->resolving != NULL)
    {
      g_cancellable_cancel (chat->resolving);
      g_clear_object (&chat->resolving);
    }
  if (chat->tts != NULL)
    lanlan_tts_worker_interrupt (chat->tts);
  if (chat->stt_cancel != NULL)
    {
      g_cancellable_cancel (chat->stt_cancel);
      g_clear_object (&chat->stt_cancel);
    }
  if (chat->vad != NULL)
    lanlan_vad_reset (chat->vad);
  chat->speech_id++;
  chat->active = FALSE;
}

/* The worker quits. */
void
_lanlan_session_chat_free (Worker *w)
{
  ChatEngine *chat = w->chat;

  if (chat == NULL)
    return;
  _lanlan_session_chat_end (w);
  if (chat->client != NULL)
    g_signal_handlers_disconnect_by_data (chat->client, chat);
  g_clear_object (&chat->client);
  /* Joins the TTS thread: no notify comes after this. */
  g_clear_object (&chat->tts);
  g_clear_pointer (&chat->image, g_bytes_unref);
  g_clear_object (&chat->stt);
  g_free (chat->stt_url);
  g_free (chat->stt_model);
  if (chat->stt_key != NULL)
    memset (chat->stt_key, 0, strlen (chat->stt_key));
  g_free (chat->stt_key);
  if (chat->key != NULL)
    memset (chat->key, 0, strlen (chat->key));
  g_free (chat->key);
  lanlan_vad_free (chat->vad);
  g_free (chat->model);
  g_free (chat->instructions);
  g_free (chat->turn_id);
  g_string_free (chat->text, TRUE);
  lanlan_speech_chunker_free (chat->chunker);
  g_ptr_array_unref (chat->pieces);
  g_array_unref (chat->piece_ends);
  g_free (chat);
  w->chat = NULL;
}

gboolean
_lanlan_session_chat_is_active (Worker *w)
{
  return is_active (w);
}
