/* test-tts-worker.c — the TTS thread's queues, and the HTTP backend
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "lanlan-tts-worker.h"

static LanlanTtsResponse *
pop (LanlanTtsWorker *worker)
{
  LanlanTtsResponse *r = lanlan_tts_worker_pop (worker, 5000);
  g_assert_nonnull (r);
  return r;
}

static void
expect_ready (LanlanTtsWorker *worker)
{
  g_autoptr(LanlanTtsResponse) r = pop (worker);
  g_assert_cmpint (r->type, ==, LANLAN_TTS_RESPONSE_READY);
}

/* Collects audio of @speech_id until its turn end; returns samples. */
static gsize
collect_turn (LanlanTtsWorker *worker,
              guint            speech_id)
{
  gsize total = 0;

  for (;;)
    {
      g_autoptr(LanlanTtsResponse) r = pop (worker);

      g_assert_cmpuint (r->speech_id, ==, speech_id);
      if (r->type == LANLAN_TTS_RESPONSE_TURN_END)
        return total;
      g_assert_cmpint (r->type, ==, LANLAN_TTS_RESPONSE_AUDIO);
      total += g_bytes_get_size (r->pcm) / 2;
    }
}

static void
test_order (void)
{
  g_autoptr(LanlanTtsWorker) worker = lanlan_tts_worker_new (lanlan_tts_backend_new_tone (10, 25, FALSE),
                                                             NULL, NULL);

  g_assert_cmpuint (lanlan_tts_worker_get_rate (worker), ==, 24000);
  expect_ready (worker);
  lanlan_tts_worker_speak (worker, 1, "Hello.");           /* 6 chars */
  lanlan_tts_worker_speak (worker, 1, "How are you?");     /* 12 chars */
  lanlan_tts_worker_end_turn (worker, 1);
  lanlan_tts_worker_speak (worker, 2, "Fine!");            /* 5 chars */
  lanlan_tts_worker_end_turn (worker, 2);

  g_assert_cmpuint (collect_turn (worker, 1), ==, 18 * 240);
  g_assert_cmpuint (collect_turn (worker, 2), ==, 5 * 240);
  g_assert_null (lanlan_tts_worker_pop (worker, 50));
}

static void
test_interrupt (void)
{
  /* 50 ms per character, paced in real time: 4 s of speech for id 1. */
  g_autoptr(LanlanTtsWorker) worker = lanlan_tts_worker_new (lanlan_tts_backend_new_tone (50, 20, TRUE),
                                                             NULL, NULL);
  g_autoptr(LanlanTtsResponse) first = NULL;
  gint64 start;
  gsize after = 0;

  expect_ready (worker);
  lanlan_tts_worker_speak (worker, 1, "This is a long sentence that takes a while.");
  lanlan_tts_worker_speak (worker, 1, "And another one queued behind it.");
  lanlan_tts_worker_end_turn (worker, 1);
  first = pop (worker);
  g_assert_cmpint (first->type, ==, LANLAN_TTS_RESPONSE_AUDIO);
  g_usleep (100 * 1000);

  start = g_get_monotonic_time ();
  lanlan_tts_worker_interrupt (worker);
  lanlan_tts_worker_speak (worker, 2, "New.");
  lanlan_tts_worker_end_turn (worker, 2);

  /* Nothing of speech 1 comes out any more, not even its turn end. */
  after = collect_turn (worker, 2);
  g_assert_cmpuint (after, ==, 4 * 50 * 24);
  /* The current synthesis stopped early instead of playing out (4 s). */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_null (lanlan_tts_worker_pop (worker, 100));

  /* Speaking a stale id after the interrupt is dropped as well. */
  lanlan_tts_worker_speak (worker, 1, "stale");
  lanlan_tts_worker_end_turn (worker, 1);
  lanlan_tts_worker_speak (worker, 3, "ok");
  lanlan_tts_worker_end_turn (worker, 3);
  g_assert_cmpuint (collect_turn (worker, 3), ==, 2 * 50 * 24);
}

static void
test_error (void)
{
  g_autoptr(LanlanTtsWorker) worker = lanlan_tts_worker_new (lanlan_tts_backend_new_tone (10, 10, FALSE),
                                                             NULL, NULL);
  g_autoptr(LanlanTtsResponse) r = NULL;

  expect_ready (worker);
  lanlan_tts_worker_speak (worker, 1, "<error> cannot say this");
  lanlan_tts_worker_speak (worker, 1, "but this");
  lanlan_tts_worker_end_turn (worker, 1);
  r = pop (worker);
  g_assert_cmpint (r->type, ==, LANLAN_TTS_RESPONSE_ERROR);
  g_assert_error (r->error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpuint (collect_turn (worker, 1), ==, 8 * 240);
}

static gint notified;

static void
count_notify (gpointer data)
{
  g_atomic_int_inc (&notified);
}

static void
test_notify (void)
{
  g_autoptr(LanlanTtsWorker) worker = lanlan_tts_worker_new (lanlan_tts_backend_new_tone (10, 10, FALSE),
                                                             count_notify, NULL);

  expect_ready (worker);
  lanlan_tts_worker_speak (worker, 1, "abc");
  lanlan_tts_worker_end_turn (worker, 1);
  g_assert_cmpuint (collect_turn (worker, 1), ==, 3 * 240);
  /* ready + 3 chunks + turn end; notify runs just after each push */
  for (guint i = 0; i < 2000 && g_atomic_int_get (&notified) < 5; i++)
    g_usleep (1000);
  g_usleep (20 * 1000);
  g_assert_cmpint (g_atomic_int_get (&notified), ==, 5);
}

/* --- HTTP backend against a loopback server ------------------------------- */

typedef struct {
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *server;
  guint         port;
  GMutex        lock;
  GCond         cond;
  char         *last_body;
  char         *last_auth;
} SpeechServer;

static void
speech_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  SpeechServer *s = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  gint16 pcm[2401];   /* odd byte splits are the client's problem */

  g_mutex_lock (&s->lock);
  g_free (s->last_body);
  s->last_body = g_strndup (body->data, body->length);
  g_free (s->last_auth);
  s->last_auth = g_strdup (auth);
  g_mutex_unlock (&s->lock);

  if (g_strcmp0 (auth, "Bearer tts-key") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (pcm); i++)
    pcm[i] = GINT16_TO_LE ((gint16) i);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "audio/pcm", SOUP_MEMORY_COPY,
                                    (const char *) pcm, sizeof pcm);
}

static gpointer
speech_thread (gpointer data)
{
  SpeechServer *s = data;
  GSList *uris;

  g_main_context_push_thread_default (s->context);
  s->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (s->server, "/v1/audio/speech", speech_cb, s, NULL);
  g_assert_true (soup_server_listen_local (s->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
  uris = soup_server_get_uris (s->server);
  g_mutex_lock (&s->lock);
  s->port = g_uri_get_port (uris->data);
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (s->loop);
  g_clear_object (&s->server);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
test_http_backend (void)
{
  SpeechServer s = { 0 };
  g_autofree char *base = NULL;
  gsize total = 0;
  GArray *audio = g_array_new (FALSE, FALSE, sizeof (gint16));

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  s.context = g_main_context_new ();
  s.loop = g_main_loop_new (s.context, FALSE);
  s.thread = g_thread_new ("speech-server", speech_thread, &s);
  g_mutex_lock (&s.lock);
  while (s.port == 0)
    g_cond_wait (&s.cond, &s.lock);
  g_mutex_unlock (&s.lock);
  base = g_strdup_printf ("http://127.0.0.1:%u/v1/", s.port);

  {
    g_autoptr(LanlanTtsWorker) worker =
      lanlan_tts_worker_new (lanlan_tts_backend_new_http (base, "tts-key", "tts-1", "nova"), NULL, NULL);

    expect_ready (worker);
    lanlan_tts_worker_speak (worker, 7, "Bonjour “monde”");
    lanlan_tts_worker_end_turn (worker, 7);
    for (;;)
      {
        g_autoptr(LanlanTtsResponse) r = pop (worker);
        if (r->type == LANLAN_TTS_RESPONSE_TURN_END)
          break;
        g_assert_cmpint (r->type, ==, LANLAN_TTS_RESPONSE_AUDIO);
        g_array_append_vals (audio, g_bytes_get_data (r->pcm, NULL), g_bytes_get_size (r->pcm) / 2);
        total += g_bytes_get_size (r->pcm) / 2;
      }
    g_assert_cmpuint (total, ==, 2401);
    for (guint i = 0; i < audio->len; i++)
      g_assert_cmpint (g_array_index (audio, gint16, i), ==, (gint16) i);

    g_mutex_lock (&s.lock);
    g_assert_nonnull (strstr (s.last_body, "\"response_format\":\"pcm\""));
    g_assert_nonnull (strstr (s.last_body, "\"voice\":\"nova\""));
    g_assert_nonnull (strstr (s.last_body, "\"model\":\"tts-1\""));
    g_assert_nonnull (strstr (s.last_body, "Bonjour “monde”"));
    g_mutex_unlock (&s.lock);
  }

  {
    g_autoptr(LanlanTtsWorker) worker =
      lanlan_tts_worker_new (lanlan_tts_backend_new_http (base, "wrong", NULL, NULL), NULL, NULL);
    g_autoptr(LanlanTtsResponse) r = NULL;

    expect_ready (worker);
    lanlan_tts_worker_speak (worker, 1, "Hi");
    r = pop (worker);
    g_assert_cmpint (r->type, ==, LANLAN_TTS_RESPONSE_ERROR);
    g_assert_error (r->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_null (strstr (r->error->message, "wrong"));
  }

  g_array_unref (audio);
  g_main_context_invoke (s.context, quit, s.loop);
  g_thread_join (s.thread);
  g_main_loop_unref (s.loop);
  g_main_context_unref (s.context);
  g_free (s.last_body);
  g_free (s.last_auth);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/realtime/tts/order", test_order);
  g_test_add_func ("/realtime/tts/interrupt", test_interrupt);
  g_test_add_func ("/realtime/tts/error", test_error);
  g_test_add_func ("/realtime/tts/notify", test_notify);
  g_test_add_func ("/realtime/tts/http-backend", test_http_backend);

  return g_test_run ();
}
