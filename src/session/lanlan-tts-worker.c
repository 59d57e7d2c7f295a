/* lanlan-tts-worker.c — speech for models that only write text
 *
 * A text-only model answers in text deltas; something has to speak them.
 * This worker owns one thread and two queues: requests (speak text as
 * speech N, end of turn, quit) and responses (ready, audio chunks, turn
 * end, error). Synthesis is a pluggable backend: an OpenAI-compatible
 * HTTP endpoint (POST {base}/audio/speech, raw PCM streamed back) or a
 * tone generator for tests and offline use. Interrupting bumps a floor
 * under the speech ids: everything queued or still arriving for an older
 * speech is dropped, so a barge-in never lets stale audio through.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <string.h>

#include "lanlan-audio-sink.h"
#include "lanlan-tts-worker.h"

/* --- backends ------------------------------------------------------------ */

void
lanlan_tts_backend_free (LanlanTtsBackend *backend)
{
  if (backend != NULL)
    backend->free (backend);
}

typedef struct {
  LanlanTtsBackend  parent;
  char             *base_url;
  char             *api_key;
  char             *model;
  char             *voice;
  SoupSession      *session;  /* created on the TTS thread */
} HttpBackend;

static void
http_free (LanlanTtsBackend *backend)
{
  HttpBackend *self = (HttpBackend *) backend;

  g_free (self->base_url);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);
  g_free (self->model);
  g_free (self->voice);
  g_clear_object (&self->session);
  g_free (self);
}

static gboolean
http_synthesize (LanlanTtsBackend   *backend,
                 const char         *text,
                 GCancellable       *cancellable,
                 LanlanTtsEmitFunc   emit,
                 gpointer            emit_data,
                 GError            **error)
{
  HttpBackend *self = (HttpBackend *) backend;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  g_autofree char *json = NULL;
  guint8 buf[9600];
  guint8 carry = 0;
  gboolean have_carry = FALSE;
  guint status;

  if (self->session == NULL)
    self->session = soup_session_new_with_options ("timeout", 30, NULL);

  url = g_strdup_printf ("%s/audio/speech", self->base_url);
  msg = soup_message_new (SOUP_METHOD_POST, url);
  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid speech service address"), self->base_url);
      return FALSE;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, self->model);
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "voice");
  json_builder_add_string_value (b, self->voice);
  json_builder_set_member_name (b, "response_format");
  json_builder_add_string_value (b, "pcm");
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  body = g_bytes_new (json, strlen (json));
  soup_message_set_request_body_from_bytes (msg, "application/json", body);

  if (self->api_key != NULL && *self->api_key != '\0')
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->api_key, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }

  stream = soup_session_send (self->session, msg, cancellable, error);
  if (stream == NULL)
    return FALSE;

  status = soup_message_get_status (msg);
  if (status != SOUP_STATUS_OK)
    {
      if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     _("The speech service refused the API key (HTTP %u)"), status);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     _("The speech service failed (HTTP %u)"), status);
      return FALSE;
    }

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buf + 1, sizeof buf - 1, cancellable, error);
      guint8 *start = buf + 1;
      gsize len;

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      len = n;
      if (have_carry)
        {
          buf[0] = carry;
          start = buf;
          len++;
          have_carry = FALSE;
        }
      if (len % 2 != 0)
        {
          carry = start[len - 1];
          have_carry = TRUE;
          len--;
        }
      if (len > 0)
        {
          /* The buffer may be unaligned by one; copy to be safe. */
          g_autofree gint16 *pcm = g_memdup2 (start, len);
          for (gsize i = 0; i < len / 2; i++)
            pcm[i] = GINT16_FROM_LE (pcm[i]);
          emit (pcm, len / 2, emit_data);
        }
    }

  return g_input_stream_close (stream, cancellable, error);
}

/**
 * lanlan_tts_backend_new_http:
 * @base_url: e.g. `https://api.openai.com/v1`; `/audio/speech` is appended
 *
 * An OpenAI-compatible speech endpoint returning raw 24 kHz PCM16.
 */
LanlanTtsBackend *
lanlan_tts_backend_new_http (const char *base_url,
                             const char *api_key,
                             const char *model,
                             const char *voice)
{
  HttpBackend *self = g_new0 (HttpBackend, 1);

  g_return_val_if_fail (base_url != NULL, NULL);

  self->parent.synthesize = http_synthesize;
  self->parent.free = http_free;
  self->parent.rate = LANLAN_MODEL_RATE;
  self->base_url = g_strdup (base_url);
  if (g_str_has_suffix (self->base_url, "/"))
    self->base_url[strlen (self->base_url) - 1] = '\0';
  self->api_key = g_strdup (api_key);
  self->model = g_strdup (model && *model ? model : "gpt-4o-mini-tts");
  self->voice = g_strdup (voice && *voice ? voice : "alloy");
  return &self->parent;
}

typedef struct {
  LanlanTtsBackend parent;
  guint            ms_per_char;
  guint            chunk_ms;
  gboolean         realtime;
} ToneBackend;

static void
tone_free (LanlanTtsBackend *backend)
{
  g_free (backend);
}

static gboolean
tone_synthesize (LanlanTtsBackend   *backend,
                 const char         *text,
                 GCancellable       *cancellable,
                 LanlanTtsEmitFunc   emit,
                 gpointer            emit_data,
                 GError            **error)
{
  ToneBackend *self = (ToneBackend *) backend;
  guint rate = backend->rate;
  gsize total = (gsize) g_utf8_strlen (text, -1) * self->ms_per_char * rate / 1000;
  gsize chunk = MAX (1, (gsize) self->chunk_ms * rate / 1000);
  g_autofree gint16 *pcm = g_new (gint16, chunk);
  gsize done = 0;

  if (g_str_has_prefix (text, "<error>"))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("The speech engine could not speak this text"));
      return FALSE;
    }

  while (done < total)
    {
      gsize n = MIN (chunk, total - done);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      for (gsize i = 0; i < n; i++)
        pcm[i] = (gint16) (8000 * sin (2 * G_PI * 440 * (double) (done + i) / rate));
      emit (pcm, n, emit_data);
      done += n;
      if (self->realtime)
        g_usleep (n * G_USEC_PER_SEC / rate);
    }
  return TRUE;
}

/**
 * lanlan_tts_backend_new_tone:
 * @ms_per_char: how long each character of text sounds
 * @chunk_ms: size of each audio chunk
 * @realtime: pace the chunks like a real engine would
 *
 * A 440 Hz tone as long as the text; for tests and as an offline
 * fallback. Text starting with `<error>` fails, to exercise error paths.
 */
LanlanTtsBackend *
lanlan_tts_backend_new_tone (guint    ms_per_char,
                             guint    chunk_ms,
                             gboolean realtime)
{
  ToneBackend *self = g_new0 (ToneBackend, 1);

  self->parent.synthesize = tone_synthesize;
  self->parent.free = tone_free;
  self->parent.rate = LANLAN_MODEL_RATE;
  self->ms_per_char = ms_per_char;
  self->chunk_ms = MAX (chunk_ms, 1);
  self->realtime = realtime;
  return &self->parent;
}

/* --- worker -------------------------------------------------------------- */

typedef enum {
  REQUEST_SPEAK,
  REQUEST_END_TURN,
  REQUEST_QUIT,
} RequestType;

typedef struct {
  RequestType  type;
  guint        speech_id;
  char        *text;
} Request;

struct _LanlanTtsWorker
{
  GObject           parent_instance;

  LanlanTtsBackend *backend;
  GThread          *thread;
  GAsyncQueue      *requests;
  GAsyncQueue      *responses;
  LanlanTtsNotify   notify;
  gpointer          notify_data;

  GMutex            lock;
  GCancellable     *current;
  guint             current_id;
  guint             floor;      /* speech ids below this are stale */
  guint             max_seen;
  gboolean          piece_marks;
};

G_DEFINE_FINAL_TYPE (LanlanTtsWorker, lanlan_tts_worker, G_TYPE_OBJECT)

static void
request_free (Request *request)
{
  g_free (request->text);
  g_free (request);
}

void
lanlan_tts_response_free (LanlanTtsResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->pcm, g_bytes_unref);
  g_clear_error (&response->error);
  g_free (response);
}

static gboolean
is_stale (LanlanTtsWorker *self,
          guint            speech_id)
{
  gboolean stale;

  g_mutex_lock (&self->lock);
  stale = speech_id < self->floor;
  g_mutex_unlock (&self->lock);
  return stale;
}

static void
push_response (LanlanTtsWorker       *self,
               LanlanTtsResponseType  type,
               guint                  speech_id,
               GBytes                *pcm,
               GError                *error)
{
  LanlanTtsResponse *response = g_new0 (LanlanTtsResponse, 1);

  response->type = type;
  response->speech_id = speech_id;
  response->pcm = pcm;
  response->error = error;
  g_async_queue_push (self->responses, response);
  if (self->notify != NULL)
    self->notify (self->notify_data);
}

typedef struct {
  LanlanTtsWorker *self;
  guint            speech_id;
} EmitData;

static void
emit_chunk (const gint16 *pcm,
            gsize         n_samples,
            gpointer      data)
{
  EmitData *e = data;

  if (n_samples == 0 || is_stale (e->self, e->speech_id))
    return;
  push_response (e->self, LANLAN_TTS_RESPONSE_AUDIO, e->speech_id,
                 g_bytes_new (pcm, n_samples * sizeof (gint16)), NULL);
}

static gpointer
worker_thread (gpointer data)
{
  LanlanTtsWorker *self = data;

  push_response (self, LANLAN_TTS_RESPONSE_READY, 0, NULL, NULL);

  for (;;)
    {
      Request *request = g_async_queue_pop (self->requests);
      RequestType type = request->type;

      if (type == REQUEST_QUIT)
        {
          request_free (request);
          break;
        }

      if (is_stale (self, request->speech_id))
        {
          request_free (request);
          continue;
        }

      if (type == REQUEST_END_TURN)
        push_response (self, LANLAN_TTS_RESPONSE_TURN_END, request->speech_id, NULL, NULL);
      else
        {
          g_autoptr(GCancellable) cancellable = g_cancellable_new ();
          g_autoptr(GError) error = NULL;
          EmitData e = { self, request->speech_id };

          g_mutex_lock (&self->lock);
          g_set_object (&self->current, cancellable);
          self->current_id = request->speech_id;
          g_mutex_unlock (&self->lock);

          if (!self->backend->synthesize (self->backend, request->text, cancellable,
                                          emit_chunk, &e, &error) &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
              !is_stale (self, request->speech_id))
            push_response (self, LANLAN_TTS_RESPONSE_ERROR, request->speech_id,
                           NULL, g_steal_pointer (&error));

          g_mutex_lock (&self->lock);
          g_clear_object (&self->current);
          g_mutex_unlock (&self->lock);
          if (g_atomic_int_get (&self->piece_marks) && !is_stale (self, request->speech_id))
            push_response (self, LANLAN_TTS_RESPONSE_PIECE_END, request->speech_id, NULL, NULL);
        }
      request_free (request);
    }

  return NULL;
}

static void
lanlan_tts_worker_finalize (GObject *object)
{
  LanlanTtsWorker *self = LANLAN_TTS_WORKER (object);
  Request *quit = g_new0 (Request, 1);

  lanlan_tts_worker_interrupt (self);
  quit->type = REQUEST_QUIT;
  g_async_queue_push_front (self->requests, quit);
  g_thread_join (self->thread);

  g_async_queue_unref (self->requests);
  g_async_queue_unref (self->responses);
  lanlan_tts_backend_free (self->backend);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (lanlan_tts_worker_parent_class)->finalize (object);
}

static void
lanlan_tts_worker_class_init (LanlanTtsWorkerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_tts_worker_finalize;
}

static void
lanlan_tts_worker_init (LanlanTtsWorker *self)
{
  g_mutex_init (&self->lock);
  self->requests = g_async_queue_new_full ((GDestroyNotify) request_free);
  self->responses = g_async_queue_new_full ((GDestroyNotify) lanlan_tts_response_free);
}

/**
 * lanlan_tts_worker_new:
 * @backend: (transfer full): how to synthesize
 * @notify: (nullable): called on the TTS thread after each queued response
 *
 * Starts the thread; its first response is %LANLAN_TTS_RESPONSE_READY.
 */
LanlanTtsWorker *
lanlan_tts_worker_new (LanlanTtsBackend *backend,
                       LanlanTtsNotify   notify,
                       gpointer          notify_data)
{
  LanlanTtsWorker *self;

  g_return_val_if_fail (backend != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_TTS_WORKER, NULL);
  self->backend = backend;
  self->notify = notify;
  self->notify_data = notify_data;
  self->thread = g_thread_new ("lanlan-tts", worker_thread, self);
  return self;
}

guint
lanlan_tts_worker_get_rate (LanlanTtsWorker *self)
{
  g_return_val_if_fail (LANLAN_IS_TTS_WORKER (self), 0);
  return self->backend->rate;
}

static void
push_request (LanlanTtsWorker *self,
              RequestType      type,
              guint            speech_id,
              const char      *text)
{
  Request *request = g_new0 (Request, 1);

  request->type = type;
  request->speech_id = speech_id;
  request->text = g_strdup (text);
  g_mutex_lock (&self->lock);
  self->max_seen = MAX (self->max_seen, speech_id);
  g_mutex_unlock (&self->lock);
  g_async_queue_push (self->requests, request);
}

/**
 * lanlan_tts_worker_speak:
 * @speech_id: increases with every assistant turn; ids below the last
 *   interrupt's floor are dropped
 */
void
lanlan_tts_worker_speak (LanlanTtsWorker *self,
                         guint            speech_id,
                         const char      *text)
{
  g_return_if_fail (LANLAN_IS_TTS_WORKER (self));
  g_return_if_fail (text != NULL);

  if (*text != '\0')
    push_request (self, REQUEST_SPEAK, speech_id, text);
}

void
lanlan_tts_worker_end_turn (LanlanTtsWorker *self,
                            guint            speech_id)
{
  g_return_if_fail (LANLAN_IS_TTS_WORKER (self));
  push_request (self, REQUEST_END_TURN, speech_id, NULL);
}

/**
 * lanlan_tts_worker_set_piece_marks:
 * @marks: queue %LANLAN_TTS_RESPONSE_PIECE_END after the audio of each
 *   text given to lanlan_tts_worker_speak(), so a caller can tell which
 *   text the audio played so far belongs to
 */
void
lanlan_tts_worker_set_piece_marks (LanlanTtsWorker *self,
                                   gboolean         marks)
{
  g_return_if_fail (LANLAN_IS_TTS_WORKER (self));
  g_atomic_int_set (&self->piece_marks, marks);
}

/**
 * lanlan_tts_worker_interrupt:
 *
 * Drops every queued request, stops the current synthesis and makes every
 * speech id seen so far stale, including audio already in the response
 * queue. Any thread.
 */
void
lanlan_tts_worker_interrupt (LanlanTtsWorker *self)
{
  Request *request;

  g_return_if_fail (LANLAN_IS_TTS_WORKER (self));

  g_mutex_lock (&self->lock);
  self->floor = self->max_seen + 1;
  if (self->current != NULL)
    g_cancellable_cancel (self->current);
  g_mutex_unlock (&self->lock);

  /* Keep a quit request if one is queued. */
  g_async_queue_lock (self->requests);
  while ((request = g_async_queue_try_pop_unlocked (self->requests)) != NULL)
    {
      if (request->type == REQUEST_QUIT)
        {
          g_async_queue_push_front_unlocked (self->requests, request);
          break;
        }
      request_free (request);
    }
  g_async_queue_unlock (self->requests);
}

/**
 * lanlan_tts_worker_pop:
 * @timeout_ms: 0 to not wait
 *
 * Returns: (transfer full) (nullable): the next response that is not stale
 */
LanlanTtsResponse *
lanlan_tts_worker_pop (LanlanTtsWorker *self,
                       guint            timeout_ms)
{
  gint64 deadline;

  g_return_val_if_fail (LANLAN_IS_TTS_WORKER (self), NULL);

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      LanlanTtsResponse *response;

      response = left > 0 ? g_async_queue_timeout_pop (self->responses, left)
                          : g_async_queue_try_pop (self->responses);
      if (response == NULL)
        return NULL;
      if (response->type != LANLAN_TTS_RESPONSE_READY && is_stale (self, response->speech_id))
        {
          lanlan_tts_response_free (response);
          continue;
        }
      return response;
    }
}
