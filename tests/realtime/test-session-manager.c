/* test-session-manager.c — sessions, barge-in, hot swap and reconnect
 *
 * Every test drives a real LanlanSessionManager (its own worker thread)
 * against the loopback fake server, with a real GMainLoop on the test's
 * side, and checks what reached the server and the sink sample by sample.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-fake-server.h"
#include "lanlan-fake-sink.h"
#include "lanlan-lorebook.h"
#include "lanlan-realtime-events.h"
#include "lanlan-secrets.h"
#include "lanlan-session-manager.h"

#define ERR(f, i) ((GError *) g_ptr_array_index ((f)->errors, (i)))

typedef struct {
  FakeServer           *server;
  FakeSink             *sink;
  LanlanCharacter      *character;
  LanlanSessionManager *manager;
  GThread              *main_thread;
  GPtrArray            *states;         /* LanlanSessionState as pointers */
  GPtrArray            *done;           /* "role:text" */
  GString              *assistant_deltas;
  guint                 n_turns;
  guint                 n_speech_started;
  GPtrArray            *swaps;          /* LanlanHotSwapStage as pointers */
  GPtrArray            *errors;         /* GError copies */
  gboolean              off_thread_signal;
  /* microphone feeder */
  GThread              *feeder;
  gint                  feeding;
  gint16                next_value;
  guint64               fed;
} Fixture;

static void
on_state (LanlanSessionManager *m, LanlanSessionState state, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  g_ptr_array_add (f->states, GINT_TO_POINTER (state));
  g_assert_cmpint (lanlan_session_manager_get_state (m), ==, state);
}

static void
on_delta (LanlanSessionManager *m, const char *role, const char *turn_id,
          const char *delta, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  if (g_str_equal (role, "assistant"))
    g_string_append (f->assistant_deltas, delta);
}

static void
on_done (LanlanSessionManager *m, const char *role, const char *turn_id,
         const char *text, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  g_assert_nonnull (turn_id);
  g_ptr_array_add (f->done, g_strdup_printf ("%s:%s", role, text));
}

static void
on_turn (LanlanSessionManager *m, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  f->n_turns++;
}

static void
on_swap (LanlanSessionManager *m, LanlanHotSwapStage stage, const char *detail, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  g_test_message ("hot-swap %d %s", stage, detail);
  g_ptr_array_add (f->swaps, GINT_TO_POINTER (stage));
}

static void
on_error (LanlanSessionManager *m, GError *error, Fixture *f)
{
  f->off_thread_signal |= g_thread_self () != f->main_thread;
  g_test_message ("error: %s", error->message);
  g_ptr_array_add (f->errors, g_error_copy (error));
}

static void
on_speech (LanlanSessionManager *m, Fixture *f)
{
  f->n_speech_started++;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *url = NULL;

  f->server = fake_server_new ();
  f->sink = fake_sink_new ();
  f->main_thread = g_thread_self ();
  fake_sink_set_main_thread (f->sink, f->main_thread);
  f->states = g_ptr_array_new ();
  f->done = g_ptr_array_new_with_free_func (g_free);
  f->swaps = g_ptr_array_new ();
  f->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  f->assistant_deltas = g_string_new (NULL);
  f->next_value = 1;

  url = fake_server_get_url (f->server, NULL);
  f->character = lanlan_character_new ("Lanlan");
  lanlan_character_set_persona (f->character, "You are Lanlan, a cat.");
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_voice (f->character, "alloy");
}

/* Memcheck runs everything some 20 times slower, AddressSanitizer some
 * three: the service deadlines the tests do not exercise stretch with it. */
static guint
scaled_ms (guint ms)
{
  return g_getenv ("LANLAN_UNDER_VALGRIND") != NULL ? ms * 10 : test_scale_ms (ms);
}

/* An answer long enough to be still streaming when the test barges in,
 * however far the client lags behind the fake on a loaded machine: 200
 * deltas of 100 ms each, sent every 10 ms (2 s of streaming, 20 s of
 * audio). With 40 the fake could finish (and the sink play) the whole
 * answer before the speech started. */
#define LONG_ANSWER_DELTAS 200

static void
create_manager (Fixture *f)
{
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk-session");
  lanlan_session_manager_set_hot_swap_turns (f->manager, 0);
  lanlan_session_manager_set_hot_swap_seconds (f->manager, 0);
  lanlan_session_manager_set_timeouts (f->manager, scaled_ms (3000), scaled_ms (3000));
  g_signal_connect (f->manager, "state-changed", G_CALLBACK (on_state), f);
  g_signal_connect (f->manager, "transcript-delta", G_CALLBACK (on_delta), f);
  g_signal_connect (f->manager, "transcript-done", G_CALLBACK (on_done), f);
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "hot-swap", G_CALLBACK (on_swap), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  g_signal_connect (f->manager, "speech-started", G_CALLBACK (on_speech), f);
}

static void stop_feeder (Fixture *f);

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop_feeder (f);
  g_clear_object (&f->manager);
  g_assert_false (f->off_thread_signal);
  g_assert_true (fake_sink_is_main_thread_free (f->sink));
  g_clear_object (&f->character);
  g_clear_object (&f->sink);
  fake_server_free (f->server);
  g_ptr_array_unref (f->states);
  g_ptr_array_unref (f->done);
  g_ptr_array_unref (f->swaps);
  g_ptr_array_unref (f->errors);
  g_string_free (f->assistant_deltas, TRUE);
}

/* --- waiting helpers ------------------------------------------------------ */

typedef struct { Fixture *f; guint n; LanlanSessionState state; guint index; const char *s; } W;

static gboolean
cond_state (gpointer data)
{
  W *w = data;
  return lanlan_session_manager_get_state (w->f->manager) == w->state;
}

static void
wait_state (Fixture *f, LanlanSessionState state)
{
  W w = { f, 0, state };
  g_assert_true (test_wait_until (cond_state, &w, scaled_ms (8000)));
}

static gboolean
cond_turns (gpointer data)
{
  W *w = data;
  return w->f->n_turns >= w->n;
}

static void
wait_turns (Fixture *f, guint n)
{
  W w = { f, n };
  g_assert_true (test_wait_until (cond_turns, &w, scaled_ms (8000)));
}

static gboolean
cond_swap (gpointer data)
{
  W *w = data;
  for (guint i = 0; i < w->f->swaps->len; i++)
    if (GPOINTER_TO_INT (g_ptr_array_index (w->f->swaps, i)) == (int) w->n)
      return TRUE;
  return FALSE;
}

static void
wait_swap (Fixture *f, LanlanHotSwapStage stage)
{
  W w = { f, stage };
  g_assert_true (test_wait_until (cond_swap, &w, scaled_ms (8000)));
}

static gboolean
cond_server_type (gpointer data)
{
  W *w = data;
  return fake_server_count_type (w->f->server, w->index, w->s) >= w->n;
}

static void
wait_server_type (Fixture *f, guint index, const char *type, guint n)
{
  W w = { f, n, 0, index, type };
  g_assert_true (test_wait_until (cond_server_type, &w, scaled_ms (8000)));
}

static gboolean
cond_connections (gpointer data)
{
  W *w = data;
  return fake_server_get_n_connections (w->f->server) >= w->n;
}

static gboolean
cond_sink (gpointer data)
{
  W *w = data;
  return fake_sink_get_written (w->f->sink) >= w->n;
}

static gboolean
cond_errors (gpointer data)
{
  W *w = data;
  return w->f->errors->len >= w->n;
}

static gboolean
cond_samples (gpointer data)
{
  W *w = data;
  guint64 total = 0;

  for (guint i = 0; i < fake_server_get_n_connections (w->f->server); i++)
    {
      g_autoptr(GArray) s = fake_server_dup_samples (w->f->server, i);
      total += s->len;
    }
  return total >= w->f->fed;
}

static gboolean
cond_closed (gpointer data)
{
  W *w = data;
  return fake_server_is_closed (w->f->server, w->index);
}

static void
wait_closed (Fixture *f, guint index)
{
  W w = { f, 0, 0, index };
  g_assert_true (test_wait_until (cond_closed, &w, scaled_ms (5000)));
}

static gboolean
cond_conn_samples (gpointer data)
{
  W *w = data;
  g_autoptr(GArray) s = fake_server_dup_samples (w->f->server, w->index);
  return s->len > 0;
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

/* --- microphone feeder thread --------------------------------------------- */

static gpointer
feeder_thread (gpointer data)
{
  Fixture *f = data;
  guint rate = lanlan_session_manager_get_input_rate (f->manager);
  guint chunk = rate / 100;   /* 10 ms */
  g_autofree gint16 *pcm = g_new (gint16, chunk);

  while (g_atomic_int_get (&f->feeding))
    {
      for (guint i = 0; i < chunk; i++)
        {
          pcm[i] = f->next_value;
          f->next_value = f->next_value == 32000 ? 1 : f->next_value + 1;
        }
      lanlan_session_manager_stream_audio (f->manager, pcm, chunk);
      f->fed += chunk;
      /* Faster than real time: a harder test. Under memcheck, which runs
       * every thread of the process on one core twenty times slower,
       * real time: a flood there starves the connections under test. */
      g_usleep (g_getenv ("LANLAN_UNDER_VALGRIND") != NULL ? 10000 : 2000);
    }
  return NULL;
}

static void
start_feeder (Fixture *f)
{
  g_atomic_int_set (&f->feeding, 1);
  f->feeder = g_thread_new ("feeder", feeder_thread, f);
}

static void
stop_feeder (Fixture *f)
{
  if (f->feeder == NULL)
    return;
  g_atomic_int_set (&f->feeding, 0);
  g_thread_join (f->feeder);
  f->feeder = NULL;
}

/* All samples fed, across all connections in order, exactly once. */
static void
check_mic_samples (Fixture *f)
{
  W w = { f };
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint16));
  gint16 expect = 1;
  LanlanSessionStats stats;

  g_assert_true (test_wait_until (cond_samples, &w, scaled_ms (8000)));
  for (guint i = 0; i < fake_server_get_n_connections (f->server); i++)
    {
      g_autoptr(GArray) s = fake_server_dup_samples (f->server, i);
      g_test_message ("connection %u got %u samples", i, s->len);
      g_array_append_vals (all, s->data, s->len);
    }
  g_assert_cmpuint (all->len, ==, f->fed);
  for (guint i = 0; i < all->len; i++)
    {
      if (g_array_index (all, gint16, i) != expect)
        g_error ("sample %u is %d, expected %d", i, g_array_index (all, gint16, i), expect);
      expect = expect == 32000 ? 1 : expect + 1;
    }
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.mic_samples_in, ==, f->fed);
  g_assert_cmpuint (stats.mic_samples_sent, ==, f->fed);
  g_assert_cmpuint (stats.mic_samples_dropped, ==, 0);
}

static gboolean
history_has (Fixture *f, const char *role, const char *text)
{
  g_autoptr(GPtrArray) history = lanlan_session_manager_dup_history (f->manager);

  for (guint i = 0; i < history->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (history, i);
      if (g_str_equal (m->role, role) && g_str_equal (m->content, text))
        return TRUE;
    }
  return FALSE;
}

static gboolean
items_have (Fixture *f, guint index, const char *item)
{
  g_autoptr(GPtrArray) items = fake_server_dup_items (f->server, index);

  for (guint i = 0; i < items->len; i++)
    if (g_str_equal (g_ptr_array_index (items, i), item))
      return TRUE;
  return FALSE;
}

typedef struct { Fixture *f; guint index; const char *item; } WaitItem;

static gboolean
cond_item (gpointer data)
{
  WaitItem *w = data;
  return items_have (w->f, w->index, w->item);
}

/* Waits until the fake read the conversation item (priming goes out when
 * the session is ready; the fake reads it some time later). */
static void
wait_item (Fixture *f, guint index, const char *item)
{
  g_assert_true (test_wait_until (cond_item, &(WaitItem) { f, index, item }, scaled_ms (8000)));
}

/* --- tests ---------------------------------------------------------------- */

static void
test_lifecycle_text (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 6, .samples_per_delta = 480 };
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GPtrArray) received = NULL;
  g_autofree char *auth = NULL;
  g_autoptr(GArray) firsts = NULL;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  g_assert_cmpint (lanlan_session_manager_get_state (f->manager), ==, LANLAN_SESSION_STATE_IDLE);
  g_assert_false (lanlan_session_manager_get_active (f->manager));
  g_assert_cmpuint (lanlan_session_manager_get_input_rate (f->manager), ==, 24000);
  g_assert_cmpstr (lanlan_session_manager_get_character_name (f->manager), ==, "Lanlan");

  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  g_assert_true (lanlan_session_manager_get_active (f->manager));
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (f->states, 0)), ==,
                   LANLAN_SESSION_STATE_CONNECTING);

  auth = fake_server_dup_auth (f->server, 0);
  g_assert_cmpstr (auth, ==, "Bearer sk-session");
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "You are Lanlan, a cat."));
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"voice\":\"alloy\""));

  lanlan_session_manager_stream_text (f->manager, "Hello!");
  wait_turns (f, 1);
  g_assert_cmpstr (f->assistant_deltas->str, ==, "w0 w1 w2 w3 w4 w5 ");
  g_assert_true (items_have (f, 0, "user:Hello!"));
  g_assert_cmpuint (fake_sink_get_written (f->sink), ==, 6 * 480);
  firsts = fake_sink_dup_first_values (f->sink);
  for (guint i = 0; i < firsts->len; i++)
    g_assert_cmpint (g_array_index (firsts, gint16, i), ==, i + 1);

  history = lanlan_session_manager_dup_history (f->manager);
  g_assert_cmpuint (history->len, ==, 2);
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 0))->content, ==, "Hello!");
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 1))->role, ==, "assistant");
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 1))->content, ==,
                   "w0 w1 w2 w3 w4 w5 ");
  g_assert_cmpuint (f->done->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->done, 0), ==, "user:Hello!");

  /* A second turn. */
  lanlan_session_manager_stream_text (f->manager, "Again");
  wait_turns (f, 2);
  g_assert_cmpuint (fake_sink_get_written (f->sink), ==, 2 * 6 * 480);

  lanlan_session_manager_end_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_ENDED);
  g_assert_false (lanlan_session_manager_get_active (f->manager));
  wait_closed (f, 0);
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 1);
}

static gboolean
cond_history_user_hi_cat (gpointer data)
{
  return history_has (data, "user", "Hi cat");
}

static void
test_lifecycle_audio_beta (Fixture *f, gconstpointer data)
{
  FakeScript script = { .beta = TRUE, .n_deltas = 4, .samples_per_delta = 240 };

  fake_server_set_default_script (f->server, &script);
  lanlan_character_set_provider (f->character, "custom-beta");
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  /* Audio before the connection is up is cached, not lost. */
  start_feeder (f);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  spin (50);
  stop_feeder (f);
  check_mic_samples (f);

  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"u1\"}");
  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_stopped\",\"item_id\":\"u1\"}");
  fake_server_send (f->server, 0, "{\"type\":\"conversation.item.input_audio_transcription.completed\","
                                  "\"item_id\":\"u1\",\"content_index\":0,\"transcript\":\"Hi cat\"}");
  fake_server_send (f->server, 0, "{\"type\":\"response.create\"}");  /* ignored by the client */
  g_assert_true (test_wait_until (cond_history_user_hi_cat, f, scaled_ms (8000)));
  spin (300);
  g_assert_cmpuint (f->n_turns, ==, 0);
  g_assert_cmpuint (f->n_speech_started, ==, 1);
  lanlan_session_manager_end_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_ENDED);
}

static void
test_barge_in (Fixture *f, gconstpointer data)
{
  /* Deltas of 100 ms each, sent every 10 ms: audio piles up in the sink. */
  FakeScript script = { .n_deltas = LONG_ANSWER_DELTAS, .samples_per_delta = 2400,
                        .delta_interval_ms = 10 };
  W w = { f, 2400 * 10 };
  gint ms;
  guint64 written;
  guint64 played;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Tell me a long story");
  g_assert_true (test_wait_until (cond_sink, &w, scaled_ms (5000)));
  spin (30);

  /* Server VAD: the service cancels its own answer at speech start; the
   * client only says how much of it was heard, and cancels nothing. */
  fake_server_speech_started (f->server, 0);
  wait_server_type (f, 0, "conversation.item.truncate", 1);
  ms = fake_server_get_truncate_ms (f->server, 0);
  played = fake_sink_get_last_played (f->sink);
  g_test_message ("truncated at %d ms, sink played %" G_GUINT64_FORMAT " samples", ms, played);
  g_assert_cmpint (ms, ==, (gint) (played * 1000 / 24000));
  g_assert_cmpint (ms, >, 0);
  g_assert_cmpint (ms, <, LONG_ANSWER_DELTAS * 100);
  g_assert_cmpuint (fake_sink_get_n_flushes (f->sink), >=, 1);
  wait_turns (f, 1);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.cancel"), ==, 0);
  g_assert_cmpuint (fake_server_count_errors (f->server, 0), ==, 0);

  /* Late deltas of the interrupted answer must not reach the sink. */
  written = fake_sink_get_written (f->sink);
  {
    gint16 pcm[240] = { 0 };
    g_autofree char *b64 = g_base64_encode ((const guchar *) pcm, sizeof pcm);
    g_autofree char *json = g_strdup_printf ("{\"type\":\"response.output_audio.delta\","
                                             "\"response_id\":\"resp_0_1\",\"item_id\":\"item_0_1\","
                                             "\"delta\":\"%s\"}", b64);
    fake_server_send (f->server, 0, json);
    fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_stopped\"}");
  }
  spin (150);
  g_assert_cmpuint (fake_sink_get_written (f->sink), ==, written);
  g_assert_cmpuint (f->n_speech_started, ==, 1);
  /* The partial answer is kept in the history. */
  {
    g_autoptr(GPtrArray) history = lanlan_session_manager_dup_history (f->manager);
    LanlanChatMessage *last = g_ptr_array_index (history, history->len - 1);
    g_assert_cmpstr (last->role, ==, "assistant");
    g_assert_true (g_str_has_prefix (last->content, "w0 w1 "));
  }

  /* And the conversation goes on. */
  lanlan_session_manager_stream_text (f->manager, "Short one");
  wait_turns (f, 2);
}

static void
test_hot_swap_turns (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 5, .samples_per_delta = 480 };
  /* The new server takes 60 ms to confirm: the microphone is cached meanwhile. */
  FakeScript slow = { .n_deltas = 5, .samples_per_delta = 480, .session_delay_ms = 60 };
  W w = { f, 2 };
  LanlanSessionStats stats;

  fake_server_set_default_script (f->server, &script);
  fake_server_set_script (f->server, 1, &slow);
  create_manager (f);
  lanlan_session_manager_set_hot_swap_turns (f->manager, 1);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  start_feeder (f);
  g_assert_true (test_wait_until (cond_conn_samples, &(W) { f, 0, 0, 0 }, scaled_ms (5000)));

  lanlan_session_manager_stream_text (f->manager, "First question");
  wait_turns (f, 1);
  wait_swap (f, LANLAN_HOT_SWAP_SWAPPED);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (f->swaps, 0)), ==, LANLAN_HOT_SWAP_PREPARING);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (f->swaps, 1)), ==, LANLAN_HOT_SWAP_READY);
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (100)));
  spin (100);
  stop_feeder (f);
  check_mic_samples (f);
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.mic_samples_cached, >, 0);
  g_assert_cmpuint (stats.n_swaps, ==, 1);
  {
    g_autoptr(GArray) old = fake_server_dup_samples (f->server, 0);
    g_assert_cmpuint (old->len, >, 0);
  }

  /* The new session was primed with the conversation so far. */
  g_assert_true (items_have (f, 1, "user:First question"));
  g_assert_true (items_have (f, 1, "assistant:w0 w1 w2 w3 w4 "));
  wait_closed (f, 0);

  /* The new session answers. */
  lanlan_session_manager_set_hot_swap_turns (f->manager, 0);
  lanlan_session_manager_stream_text (f->manager, "Second question");
  wait_turns (f, 2);
  g_assert_true (items_have (f, 1, "user:Second question"));
  g_assert_cmpuint (fake_server_count_type (f->server, 1, "response.create"), ==, 1);
  g_assert_cmpuint (fake_sink_get_written (f->sink), ==, 2 * 5 * 480);
  g_assert_cmpuint (f->errors->len, ==, 0);
}

static void
test_hot_swap_time (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 2, .samples_per_delta = 480 };
  gint64 started;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_set_hot_swap_seconds (f->manager, 1);
  started = g_get_monotonic_time ();
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Early");
  wait_turns (f, 1);
  spin (100);
  /* Too soon, if the session is younger than a second yet (on a loaded
   * machine connecting and the first turn may take longer than that). */
  if (g_get_monotonic_time () - started < 900 * G_TIME_SPAN_MILLISECOND)
    g_assert_cmpuint (f->swaps->len, ==, 0);
  else
    g_test_message ("first turn took %" G_GINT64_FORMAT " ms: 'too soon' not checked",
                    (g_get_monotonic_time () - started) / 1000);
  spin (1000);
  lanlan_session_manager_stream_text (f->manager, "Later");
  wait_turns (f, 2);
  wait_swap (f, LANLAN_HOT_SWAP_SWAPPED);
  g_assert_true (items_have (f, 1, "user:Early"));
  g_assert_true (items_have (f, 1, "user:Later"));
}

static void
test_hot_swap_settings (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 3, .samples_per_delta = 480 };
  g_autoptr(GPtrArray) received = NULL;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Hi");
  wait_turns (f, 1);
  lanlan_session_manager_inject_context (f->manager, "The weather is sunny.");

  start_feeder (f);
  lanlan_character_set_voice (f->character, "verse");
  wait_swap (f, LANLAN_HOT_SWAP_SWAPPED);
  spin (50);
  stop_feeder (f);
  check_mic_samples (f);

  received = fake_server_dup_received (f->server, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"voice\":\"verse\""));
  g_assert_true (items_have (f, 1, "user:Hi"));
  g_assert_true (items_have (f, 1, "system:The weather is sunny."));
  g_assert_false (items_have (f, 0, "system:The weather is sunny."));
}

static void
test_hot_swap_failure (Fixture *f, gconstpointer data)
{
  FakeScript good = { .n_deltas = 3, .samples_per_delta = 480 };
  FakeScript bad = { .reject_session = TRUE, .n_deltas = 3, .samples_per_delta = 480 };

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 1, &bad);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  start_feeder (f);
  lanlan_session_manager_request_hot_swap (f->manager);
  wait_swap (f, LANLAN_HOT_SWAP_FAILED);
  g_assert_false (cond_swap (&(W) { f, LANLAN_HOT_SWAP_SWAPPED }));

  /* The old session keeps running. */
  lanlan_session_manager_stream_text (f->manager, "Still there?");
  wait_turns (f, 1);
  stop_feeder (f);
  check_mic_samples (f);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.create"), ==, 1);
  g_assert_false (fake_server_is_closed (f->server, 0));
  g_assert_cmpint (lanlan_session_manager_get_state (f->manager), ==, LANLAN_SESSION_STATE_CONNECTED);
}

static void
test_hot_swap_drop_during_switch (Fixture *f, gconstpointer data)
{
  FakeScript good = { .n_deltas = 3, .samples_per_delta = 480 };
  /* Accepts the session, then dies at the switch-over's session.update. */
  FakeScript dies = { .n_deltas = 3, .samples_per_delta = 480, .drop_at_update = 2,
                      .session_delay_ms = 30 };
  LanlanSessionStats stats;

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 1, &dies);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  start_feeder (f);
  spin (30);
  lanlan_session_manager_request_hot_swap (f->manager);
  wait_swap (f, LANLAN_HOT_SWAP_FAILED);
  g_assert_true (cond_swap (&(W) { f, LANLAN_HOT_SWAP_READY }));
  spin (50);
  stop_feeder (f);
  /* Audio held back during the failed switch went to the old session. */
  check_mic_samples (f);
  {
    g_autoptr(GArray) dead = fake_server_dup_samples (f->server, 1);
    g_assert_cmpuint (dead->len, ==, 0);
  }
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.n_swaps, ==, 0);
  lanlan_session_manager_stream_text (f->manager, "Still the old one?");
  wait_turns (f, 1);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.create"), ==, 1);
}

static void
test_reconnect_expiry (Fixture *f, gconstpointer data)
{
  FakeScript expire = { .on_response = FAKE_RESPONSE_EXPIRE, .n_deltas = 3, .samples_per_delta = 480 };
  FakeScript good = { .n_deltas = 3, .samples_per_delta = 480 };
  W w = { f, 2 };

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 0, &expire);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  start_feeder (f);
  lanlan_session_manager_stream_text (f->manager, "Before expiry");
  wait_turns (f, 1);
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (5000)));
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  spin (50);
  stop_feeder (f);
  check_mic_samples (f);
  g_assert_true (items_have (f, 1, "user:Before expiry"));
  g_assert_true (items_have (f, 1, "assistant:w0 w1 w2 "));
  /* Expiry is routine: no error for the user. */
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_assert_true (g_ptr_array_find (f->states, GINT_TO_POINTER (LANLAN_SESSION_STATE_RECONNECTING), NULL));

  lanlan_session_manager_stream_text (f->manager, "After expiry");
  wait_turns (f, 2);
}

static void
test_reconnect_drop (Fixture *f, gconstpointer data)
{
  FakeScript drop = { .on_response = FAKE_RESPONSE_DROP, .n_deltas = 10,
                      .samples_per_delta = 480, .delta_interval_ms = 5 };
  FakeScript good = { .n_deltas = 3, .samples_per_delta = 480 };
  W w = { f, 2 };

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 0, &drop);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Hello?");
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (5000)));
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  /* What was said before the drop is kept and given to the new session. */
  g_assert_true (history_has (f, "assistant", "w0 w1 w2 w3 w4 "));
  wait_item (f, 1, "assistant:w0 w1 w2 w3 w4 ");
  g_assert_cmpuint (f->errors->len, >=, 1);
  g_assert_error (ERR (f, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_NETWORK);
  lanlan_session_manager_stream_text (f->manager, "Back?");
  wait_turns (f, 2);
}

static guint
count_items (Fixture *f, guint index, const char *item)
{
  g_autoptr(GPtrArray) items = fake_server_dup_items (f->server, index);
  guint n = 0;

  for (guint i = 0; i < items->len; i++)
    n += g_str_equal (g_ptr_array_index (items, i), item);
  return n;
}

static void
test_typing_starts_and_restarts (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 2, .samples_per_delta = 100 };
  W w = { f, 2 };
  g_autoptr(GPtrArray) history = NULL;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  /* No start_session(): typing starts one. */
  lanlan_session_manager_stream_text (f->manager, "Are you there?");
  wait_turns (f, 1);
  g_assert_cmpuint (count_items (f, 0, "user:Are you there?"), ==, 1);

  lanlan_session_manager_end_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_ENDED);
  lanlan_session_manager_start_session (f->manager);
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (5000)));
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  /* The new session hears the earlier conversation, once. */
  wait_item (f, 1, "assistant:w0 w1 ");
  spin (50);
  g_assert_cmpuint (count_items (f, 1, "user:Are you there?"), ==, 1);
  g_assert_cmpuint (count_items (f, 1, "assistant:w0 w1 "), ==, 1);
  history = lanlan_session_manager_dup_history (f->manager);
  g_assert_cmpuint (history->len, ==, 2);
}

static void
test_text_while_reconnecting (Fixture *f, gconstpointer data)
{
  FakeScript good = { .n_deltas = 2, .samples_per_delta = 100 };
  /* The replacement takes a while to accept the session. */
  FakeScript slow = { .n_deltas = 2, .samples_per_delta = 100, .session_delay_ms = 300 };
  W w = { f, 2 };
  g_autoptr(GPtrArray) history = NULL;

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 1, &slow);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  fake_server_close (f->server, 0, 1001);
  wait_state (f, LANLAN_SESSION_STATE_RECONNECTING);
  lanlan_session_manager_stream_text (f->manager, "Typed while away");
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (5000)));
  wait_turns (f, 1);
  g_assert_cmpuint (count_items (f, 1, "user:Typed while away"), ==, 1);
  g_assert_cmpuint (fake_server_count_type (f->server, 1, "response.create"), ==, 1);
  history = lanlan_session_manager_dup_history (f->manager);
  g_assert_cmpuint (history->len, ==, 2);
}

static void
test_stall_timeout (Fixture *f, gconstpointer data)
{
  FakeScript stall = { .on_response = FAKE_RESPONSE_STALL, .n_deltas = 3, .samples_per_delta = 480 };
  FakeScript good = { .n_deltas = 3, .samples_per_delta = 480 };
  W w = { f, 1 };

  fake_server_set_default_script (f->server, &good);
  fake_server_set_script (f->server, 0, &stall);
  create_manager (f);
  lanlan_session_manager_set_timeouts (f->manager, 3000, 300);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Anyone?");
  g_assert_true (test_wait_until (cond_errors, &w, scaled_ms (5000)));
  g_assert_error (ERR (f, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_TIMEOUT);
  w.n = 2;
  g_assert_true (test_wait_until (cond_connections, &w, scaled_ms (5000)));
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Now?");
  wait_turns (f, 1);
}

static void
test_refused_key (Fixture *f, gconstpointer data)
{
  W w = { f, 1 };

  fake_server_set_expected_key (f->server, "the-right-key");
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  g_assert_true (test_wait_until (cond_errors, &w, scaled_ms (5000)));
  wait_state (f, LANLAN_SESSION_STATE_ERROR);
  g_assert_error (ERR (f, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_AUTH);
  g_assert_null (strstr (((GError *) g_ptr_array_index (f->errors, 0))->message, "sk-session"));
  spin (400);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 1);
  g_assert_false (lanlan_session_manager_get_active (f->manager));
}

static void
test_garbage_and_errors (Fixture *f, gconstpointer data)
{
  FakeScript script = { .garbage_first = TRUE, .n_deltas = 3, .samples_per_delta = 480 };
  LanlanSessionStats stats;

  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  fake_server_send (f->server, 0, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                                  "\"message\":\"Something minor\"}}");
  lanlan_session_manager_stream_text (f->manager, "Still fine?");
  wait_turns (f, 1);
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.n_bad_events, ==, 2);
  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error (ERR (f, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_SERVER);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 1);
}

/* Text mode runs on the chat engine now: its agent results are tested in
 * tests/chat/test-session-chat.c (/chat/session/context). */

static void
test_text_only_tts (Fixture *f, gconstpointer data)
{
  FakeScript script = { .text_only = TRUE, .n_deltas = 4, .samples_per_delta = 0 };
  W w = { f, 1 };
  g_autoptr(GPtrArray) received = NULL;

  fake_server_set_default_script (f->server, &script);
  lanlan_character_set_provider (f->character, "custom-text");
  create_manager (f);
  /* 10 ms of tone per character. */
  lanlan_session_manager_set_tts_backend (f->manager, lanlan_tts_backend_new_tone (10, 20, FALSE));
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  received = fake_server_dup_received (f->server, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"output_modalities\":[\"text\"]"));
  lanlan_session_manager_stream_text (f->manager, "Speak");
  wait_turns (f, 1);
  /* "w0 w1 w2 w3" is 11 characters → 110 ms at 24 kHz. */
  w.n = 11 * 240;
  g_assert_true (test_wait_until (cond_sink, &w, scaled_ms (5000)));
  spin (50);
  g_assert_cmpuint (fake_sink_get_written (f->sink), ==, 11 * 240);
  g_assert_true (history_has (f, "assistant", "w0 w1 w2 w3 "));
}

/* --- memory, message ids, interruptions ------------------------------------ */

typedef struct {
  GPtrArray *overflow;     /* "role:content" */
  GPtrArray *overflow_ids;
  GPtrArray *sent;         /* message ids */
  GPtrArray *failed;       /* "id:domain-code" */
  GPtrArray *order;        /* "interrupted:<turn>" and "done:<role>:<turn>" */
  char      *heard;
  char      *partial;      /* the interrupted answer's transcript-done */
  guint64    played;
  guint64    received;
  guint      n_interrupted;
} Notes;

static void
notes_init (Notes *n)
{
  memset (n, 0, sizeof *n);
  n->overflow = g_ptr_array_new_with_free_func (g_free);
  n->overflow_ids = g_ptr_array_new_with_free_func (g_free);
  n->sent = g_ptr_array_new_with_free_func (g_free);
  n->failed = g_ptr_array_new_with_free_func (g_free);
  n->order = g_ptr_array_new_with_free_func (g_free);
}

static void
notes_clear (Notes *n)
{
  g_ptr_array_unref (n->overflow);
  g_ptr_array_unref (n->overflow_ids);
  g_ptr_array_unref (n->sent);
  g_ptr_array_unref (n->failed);
  g_ptr_array_unref (n->order);
  g_free (n->heard);
  g_free (n->partial);
}

static void
on_overflow (LanlanSessionManager *m, GPtrArray *messages, GStrv ids, Notes *n)
{
  g_assert_cmpuint (messages->len, >, 0);
  g_assert_cmpuint (g_strv_length (ids), ==, messages->len);
  for (guint i = 0; i < messages->len; i++)
    {
      LanlanChatMessage *msg = g_ptr_array_index (messages, i);
      g_ptr_array_add (n->overflow, g_strdup_printf ("%s:%s", msg->role, msg->content));
      g_ptr_array_add (n->overflow_ids, g_strdup (ids[i]));
    }
}

static void
on_text_sent (LanlanSessionManager *m, const char *id, Notes *n)
{
  g_ptr_array_add (n->sent, g_strdup (id));
}

static void
on_text_failed (LanlanSessionManager *m, const char *id, GError *error, Notes *n)
{
  g_assert_nonnull (error);
  g_test_message ("text-failed %s: %s", id, error->message);
  g_ptr_array_add (n->failed, g_strdup_printf ("%s:%s-%d", id, g_quark_to_string (error->domain),
                                               error->code));
}

static void
on_interrupted (LanlanSessionManager *m, const char *turn_id, const char *heard,
                guint64 played, guint64 received, Notes *n)
{
  n->n_interrupted++;
  g_free (n->heard);
  n->heard = g_strdup (heard);
  n->played = played;
  n->received = received;
  g_ptr_array_add (n->order, g_strdup_printf ("interrupted:%s", turn_id));
}

static void
on_done_order (LanlanSessionManager *m, const char *role, const char *turn_id,
               const char *text, Notes *n)
{
  g_ptr_array_add (n->order, g_strdup_printf ("done:%s:%s", role, turn_id));
  if (n->n_interrupted > 0 && n->partial == NULL && g_str_equal (role, "assistant"))
    n->partial = g_strdup (text);
}

static void
connect_notes (Fixture *f, Notes *n)
{
  g_signal_connect (f->manager, "history-overflow", G_CALLBACK (on_overflow), n);
  g_signal_connect (f->manager, "text-sent", G_CALLBACK (on_text_sent), n);
  g_signal_connect (f->manager, "text-failed", G_CALLBACK (on_text_failed), n);
  g_signal_connect (f->manager, "interrupted", G_CALLBACK (on_interrupted), n);
  g_signal_connect (f->manager, "transcript-done", G_CALLBACK (on_done_order), n);
}

typedef struct { GPtrArray *array; guint n; } Len;

static gboolean
cond_len (gpointer data)
{
  Len *l = data;
  return l->array->len >= l->n;
}

static gboolean
cond_items (gpointer data)
{
  W *w = data;
  g_autoptr(GPtrArray) items = fake_server_dup_items (w->f->server, w->index);
  return items->len >= w->n;
}

static void
test_history_priming (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_auto(GStrv) id_array = NULL;
  Notes n;

  notes_init (&n);
  /* 100 stored messages: the newest that fit the budget are primed, the
   * rest come back to be summarized. */
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autofree char *id = g_strdup_printf ("msg-%u", i);

      g_ptr_array_add (stored, lanlan_chat_message_new (i % 2 ? "assistant" : "user", text));
      g_strv_builder_add (ids, id);
    }
  id_array = g_strv_builder_end (ids);
  create_manager (f);
  connect_notes (f, &n);
  lanlan_session_manager_set_history_full (f->manager, stored, (const char * const *) id_array,
                                           "We talked about cats.");
  g_assert_true (test_wait_until (cond_len, &(Len) { n.overflow, 1 }, scaled_ms (5000)));
  g_assert_cmpuint (n.overflow->len, ==, 70);
  g_assert_cmpstr (g_ptr_array_index (n.overflow_ids, 0), ==, "msg-0");
  g_assert_cmpstr (g_ptr_array_index (n.overflow_ids, 69), ==, "msg-69");
  g_assert_cmpstr (g_ptr_array_index (n.overflow, 0), ==, "user:message 0");
  g_assert_cmpstr (g_ptr_array_index (n.overflow, 69), ==, "assistant:message 69");

  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  g_assert_true (test_wait_until (cond_items, &(W) { f, 31, 0, 0 }, scaled_ms (5000)));
  spin (50);
  items = fake_server_dup_items (f->server, 0);
  g_assert_cmpuint (items->len, ==, 31);
  g_assert_cmpstr (g_ptr_array_index (items, 0), ==,
                   "system:Summary of the earlier conversation:\nWe talked about cats.");
  g_assert_cmpstr (g_ptr_array_index (items, 1), ==, "user:message 70");
  g_assert_cmpstr (g_ptr_array_index (items, 30), ==, "assistant:message 99");
  g_clear_pointer (&items, g_ptr_array_unref);

  /* A new summary is what the next session hears. */
  lanlan_session_manager_set_summary (f->manager, "Cats, then dogs.");
  lanlan_session_manager_request_hot_swap (f->manager);
  wait_swap (f, LANLAN_HOT_SWAP_SWAPPED);
  g_assert_true (test_wait_until (cond_items, &(W) { f, 31, 0, 1 }, scaled_ms (5000)));
  spin (50);
  items = fake_server_dup_items (f->server, 1);
  g_assert_cmpuint (items->len, ==, 31);
  g_assert_cmpstr (g_ptr_array_index (items, 0), ==,
                   "system:Summary of the earlier conversation:\nCats, then dogs.");
  g_assert_cmpstr (g_ptr_array_index (items, 1), ==, "user:message 70");
  g_clear_pointer (&items, g_ptr_array_unref);

  /* The byte budget: 20 messages of 2 KiB do not all fit in 16 KiB. */
  g_ptr_array_set_size (stored, 0);
  g_ptr_array_set_size (n.overflow, 0);
  g_ptr_array_set_size (n.overflow_ids, 0);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *text = g_strnfill (2048, 'a' + i);
      g_ptr_array_add (stored, lanlan_chat_message_new ("user", text));
    }
  lanlan_session_manager_set_history (f->manager, stored, NULL);
  g_assert_true (test_wait_until (cond_len, &(Len) { n.overflow, 1 }, scaled_ms (5000)));
  g_assert_cmpstr (g_ptr_array_index (n.overflow_ids, 0), ==, "");   /* none given */
  history = lanlan_session_manager_dup_history (f->manager);
  g_assert_cmpuint (history->len, ==, 6);   /* 12 KiB: three quarters of the budget */
  g_assert_cmpuint (n.overflow->len, ==, 14);
  g_assert_cmpint (((LanlanChatMessage *) g_ptr_array_index (history, 5))->content[0], ==, 'a' + 19);
  g_assert_cmpuint (f->errors->len, ==, 0);
  notes_clear (&n);
}

static void
test_send_text_ids (Fixture *f, gconstpointer data)
{
  FakeScript slow = { .n_deltas = 2, .samples_per_delta = 480, .session_delay_ms = 300 };
  FakeScript script = { .n_deltas = 2, .samples_per_delta = 480 };
  Notes n;

  notes_init (&n);
  fake_server_set_script (f->server, 0, &slow);
  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  connect_notes (f, &n);

  /* Typed while connecting: sent once the session is ready; not echoed
   * as a transcript. */
  lanlan_session_manager_send_text (f->manager, "msg-1", "Hello there");
  spin (100);
  g_assert_cmpuint (n.sent->len, ==, 0);
  g_assert_true (test_wait_until (cond_len, &(Len) { n.sent, 1 }, scaled_ms (5000)));
  g_assert_cmpstr (g_ptr_array_index (n.sent, 0), ==, "msg-1");
  /* "text-sent" means it went out; the fake may not have read it yet. */
  g_assert_true (test_wait_until (cond_items, &(W) { f, 1, 0, 0 }, 5000));
  g_assert_true (items_have (f, 0, "user:Hello there"));
  wait_turns (f, 1);
  for (guint i = 0; i < f->done->len; i++)
    g_assert_false (g_str_has_prefix (g_ptr_array_index (f->done, i), "user:"));
  g_assert_true (history_has (f, "user", "Hello there"));

  /* stream_text() still echoes. */
  lanlan_session_manager_stream_text (f->manager, "Echo me");
  wait_turns (f, 2);
  g_assert_cmpstr (g_ptr_array_index (f->done, 1), ==, "user:Echo me");
  g_assert_cmpuint (n.sent->len, ==, 2);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (n.sent, 1), "text-"));

  /* Ended before it could go. */
  lanlan_session_manager_end_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_ENDED);
  fake_server_set_default_script (f->server, &slow);
  lanlan_session_manager_send_text (f->manager, "msg-2", "Too late");
  lanlan_session_manager_end_session (f->manager);
  g_assert_true (test_wait_until (cond_len, &(Len) { n.failed, 1 }, scaled_ms (5000)));
  g_assert_cmpstr (g_ptr_array_index (n.failed, 0), ==, "msg-2:g-io-error-quark-19");
  g_assert_cmpuint (n.sent->len, ==, 2);

  /* Refused key: the message fails with the authentication error. */
  fake_server_set_expected_key (f->server, "the-right-key");
  lanlan_session_manager_send_text (f->manager, "msg-3", "Knock knock");
  g_assert_true (test_wait_until (cond_len, &(Len) { n.failed, 2 }, scaled_ms (5000)));
  {
    g_autofree char *want = g_strdup_printf ("msg-3:%s-%d", g_quark_to_string (LANLAN_REALTIME_ERROR),
                                             LANLAN_REALTIME_ERROR_AUTH);
    g_assert_cmpstr (g_ptr_array_index (n.failed, 1), ==, want);
  }
  wait_state (f, LANLAN_SESSION_STATE_ERROR);
  g_assert_cmpuint (n.sent->len, ==, 2);

  /* No key for a service: every message typed fails, the second too
   * (the state already is ERROR then). */
  {
    g_autoptr(LanlanCharacter) character = lanlan_character_new ("Keyless");
    g_autoptr(LanlanSessionManager) keyless = NULL;
    Notes k;

    notes_init (&k);
    lanlan_secrets_clear_sync ("stepfun", NULL, NULL);
    lanlan_character_set_provider (character, "stepfun");
    keyless = lanlan_session_manager_new (character, NULL);
    g_signal_connect (keyless, "text-sent", G_CALLBACK (on_text_sent), &k);
    g_signal_connect (keyless, "text-failed", G_CALLBACK (on_text_failed), &k);
    lanlan_session_manager_send_text (keyless, "k-1", "Hello?");
    g_assert_true (test_wait_until (cond_len, &(Len) { k.failed, 1 }, scaled_ms (5000)));
    lanlan_session_manager_send_text (keyless, "k-2", "Anyone?");
    g_assert_true (test_wait_until (cond_len, &(Len) { k.failed, 2 }, scaled_ms (5000)));
    g_assert_true (g_str_has_prefix (g_ptr_array_index (k.failed, 0), "k-1:lanlan-realtime-error"));
    g_assert_true (g_str_has_prefix (g_ptr_array_index (k.failed, 1), "k-2:lanlan-realtime-error"));
    g_assert_cmpuint (k.sent->len, ==, 0);
    g_clear_object (&keyless);
    notes_clear (&k);
  }
  notes_clear (&n);
}

static gboolean
cond_speech (gpointer data)
{
  W *w = data;
  return w->f->n_speech_started >= w->n;
}

static void
test_interrupted_heard (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = LONG_ANSWER_DELTAS, .samples_per_delta = 2400,
                        .delta_interval_ms = 10 };
  W w = { f, 2400 * 10 };
  glong n_chars;
  Notes n;

  notes_init (&n);
  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  connect_notes (f, &n);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  lanlan_session_manager_stream_text (f->manager, "Tell me a long story");
  g_assert_true (test_wait_until (cond_sink, &w, scaled_ms (5000)));
  spin (30);
  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"u2\"}");
  wait_turns (f, 1);
  g_assert_true (test_wait_until (cond_len, &(Len) { n.order, 3 }, scaled_ms (5000)));

  g_assert_cmpuint (n.n_interrupted, ==, 1);
  /* Reported before the partial answer's transcript, with its turn id. */
  g_assert_cmpstr (g_ptr_array_index (n.order, 0), ==, "done:user:text-1");
  g_assert_true (g_str_has_prefix (g_ptr_array_index (n.order, 1), "interrupted:resp_"));
  g_assert_cmpstr ((char *) g_ptr_array_index (n.order, 1) + strlen ("interrupted:"), ==,
                   (char *) g_ptr_array_index (n.order, 2) + strlen ("done:assistant:"));
  /* The share of the text that matches the played share of the audio. */
  g_assert_nonnull (n.partial);
  g_test_message ("played %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ", heard \"%s\" of \"%s\"",
                  n.played, n.received, n.heard, n.partial);
  g_assert_cmpuint (n.received, ==, fake_sink_get_written (f->sink));
  g_assert_cmpuint (n.played, ==, fake_sink_get_last_played (f->sink));
  g_assert_cmpuint (n.played, >, 0);
  g_assert_cmpuint (n.played, <, n.received);
  n_chars = g_utf8_strlen (n.partial, -1);
  g_assert_cmpint (g_utf8_strlen (n.heard, -1), ==, (glong) ((double) n_chars * n.played / n.received));
  g_assert_true (g_str_has_prefix (n.partial, n.heard));
  g_assert_true (g_str_has_prefix (n.heard, "w0 "));

  /* The next barge-in, with nothing playing, interrupts nothing. */
  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_stopped\"}");
  fake_server_send (f->server, 0, "{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"u3\"}");
  g_assert_true (test_wait_until (cond_speech, &(W) { f, 2 }, scaled_ms (5000)));
  spin (50);
  g_assert_cmpuint (n.n_interrupted, ==, 1);
  notes_clear (&n);
}

/* --- reconnects that do not spin ------------------------------------------- */

typedef struct {
  GPtrArray         *errors;
  guint              n_overflow;
  LanlanSessionState state;
} Storm;

static void
storm_on_error (LanlanSessionManager *m, GError *error, Storm *s)
{
  g_ptr_array_add (s->errors, g_error_copy (error));
}

static void
storm_on_state (LanlanSessionManager *m, LanlanSessionState state, Storm *s)
{
  s->state = state;
}

static gboolean
storm_in_error (gpointer data)
{
  return ((Storm *) data)->state == LANLAN_SESSION_STATE_ERROR;
}

static gboolean
storm_connections (gpointer data)
{
  W *w = data;
  return fake_server_get_n_connections ((FakeServer *) w->s) >= w->n;
}

static GPtrArray *
stored_history (guint n)
{
  GPtrArray *stored = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_ptr_array_add (stored, lanlan_chat_message_new (i % 2 ? "assistant" : "user", text));
    }
  return stored;
}

/* A server that closes (@code, or -1: resets) right after every
 * session.updated: a few attempts with growing delays, each primed within
 * the budget, then ERROR with the reason, and Retry starts over. */
static void
run_storm (Fixture *f,
           gint     close_code)
{
  FakeScript script = { .n_deltas = 1, .samples_per_delta = 240, .close_after_update = close_code };
  FakeServer *server = fake_server_new ();
  g_autoptr(LanlanCharacter) character = lanlan_character_new ("Storm");
  g_autoptr(LanlanSessionManager) manager = NULL;
  g_autoptr(GPtrArray) stored = stored_history (100);
  g_autofree char *url = NULL;
  Storm storm = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free), 0,
                  LANLAN_SESSION_STATE_IDLE };
  gint64 started;
  guint n_conns;
  GError *last;

  fake_server_set_default_script (server, &script);
  url = fake_server_get_url (server, NULL);
  lanlan_character_set_provider (character, "custom");
  lanlan_character_set_base_url (character, url);
  manager = lanlan_session_manager_new (character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (manager, "sk-storm");
  lanlan_session_manager_set_timeouts (manager, scaled_ms (3000), scaled_ms (3000));
  g_signal_connect (manager, "error", G_CALLBACK (storm_on_error), &storm);
  g_signal_connect (manager, "state-changed", G_CALLBACK (storm_on_state), &storm);
  lanlan_session_manager_set_history (manager, stored, "Earlier talk.");

  started = g_get_monotonic_time ();
  lanlan_session_manager_start_session (manager);
  g_assert_true (test_wait_until (storm_in_error, &storm, scaled_ms (15000)));
  n_conns = fake_server_get_n_connections (server);
  g_test_message ("close %d: %u connections in %.2f s before ERROR", close_code, n_conns,
                  (g_get_monotonic_time () - started) / 1e6);
  /* The first connection and 4 reconnects, no more. */
  g_assert_cmpuint (n_conns, ==, 5);
  last = g_ptr_array_index (storm.errors, storm.errors->len - 1);
  g_test_message ("final error: %s", last->message);
  g_assert_error (last, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  g_assert_nonnull (strstr (last->message, "4 attempts"));
  /* Every attempt was primed with the summary and the budget, no more. */
  for (guint i = 0; i < n_conns; i++)
    {
      g_autoptr(GPtrArray) items = fake_server_dup_items (server, i);
      g_assert_cmpuint (items->len, <=, 31);
    }
  /* It stays stopped... */
  spin (300);
  g_assert_cmpuint (fake_server_get_n_connections (server), ==, n_conns);
  g_assert_cmpint (lanlan_session_manager_get_state (manager), ==, LANLAN_SESSION_STATE_ERROR);

  /* ...until the user retries: a full new round. */
  storm.state = LANLAN_SESSION_STATE_IDLE;
  lanlan_session_manager_start_session (manager);
  g_assert_true (test_wait_until (storm_in_error, &storm, scaled_ms (15000)));
  g_assert_cmpuint (fake_server_get_n_connections (server), ==, 2 * n_conns);

  lanlan_session_manager_end_session (manager);
  g_clear_object (&manager);
  fake_server_free (server);
  g_ptr_array_unref (storm.errors);
}

static void
set_reconnect_settings (guint attempts,
                        guint delay_ms)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);

  g_settings_set_uint (settings, "reconnect-attempts", attempts);
  g_settings_set_uint (settings, "reconnect-delay-ms", delay_ms);
}

static void
reset_reconnect_settings (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);

  g_settings_reset (settings, "reconnect-attempts");
  g_settings_reset (settings, "reconnect-delay-ms");
}

static void
test_reconnect_storm (Fixture *f, gconstpointer data)
{
  const gint codes[] = { 1000, 1001, 1006, 1011, 4000, -1 };

  set_reconnect_settings (4, 20);
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    run_storm (f, codes[i]);
  reset_reconnect_settings ();
}

/* However many attempts are allowed, no more than 6 start in a minute. */
static void
test_reconnect_rate (Fixture *f, gconstpointer data)
{
  FakeScript script = { .n_deltas = 1, .samples_per_delta = 240, .close_after_update = 1011 };
  W w = { f, 7 };

  set_reconnect_settings (100, 10);
  fake_server_set_default_script (f->server, &script);
  create_manager (f);
  reset_reconnect_settings ();
  lanlan_session_manager_start_session (f->manager);
  w.s = (const char *) f->server;
  g_assert_true (test_wait_until (storm_connections, &w, scaled_ms (10000)));
  spin (1500);
  g_test_message ("%u connections", fake_server_get_n_connections (f->server));
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 7);
  g_assert_cmpint (lanlan_session_manager_get_state (f->manager), ==, LANLAN_SESSION_STATE_RECONNECTING);
  lanlan_session_manager_end_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_ENDED);
}

/* A lorebook entry the primed conversation mentions reaches the new
 * session's instructions; one it does not mention stays out. */
static void
test_lorebook_priming (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LanlanLorebook) book = NULL;
  g_autoptr(GPtrArray) received = NULL;
  g_autoptr(GError) error = NULL;
  const char *update;

  g_assert_true (json_parser_load_from_data (parser,
    "{\"entries\":["
    "{\"keys\":[\"Mochi\"],\"content\":\"Mochi is the user's grey cat.\",\"enabled\":true},"
    "{\"keys\":[\"volcano\"],\"content\":\"The user fears volcanoes.\",\"enabled\":true}]}", -1, NULL));
  book = lanlan_lorebook_new_from_json (json_node_get_object (json_parser_get_root (parser)), &error);
  g_assert_no_error (error);
  lanlan_character_set_lorebook (f->character, book);
  g_ptr_array_add (stored, lanlan_chat_message_new ("user", "Mochi knocked my cup over again."));
  g_ptr_array_add (stored, lanlan_chat_message_new ("assistant", "Oh no, that cat!"));

  create_manager (f);
  lanlan_session_manager_set_history (f->manager, stored, NULL);
  lanlan_session_manager_start_session (f->manager);
  wait_state (f, LANLAN_SESSION_STATE_CONNECTED);
  received = fake_server_dup_received (f->server, 0);
  update = g_ptr_array_index (received, 0);
  g_assert_nonnull (strstr (update, "\"type\":\"session.update\""));
  g_assert_nonnull (strstr (update, "You are Lanlan, a cat."));
  g_assert_nonnull (strstr (update, "Mochi is the user's grey cat."));
  g_assert_null (strstr (update, "volcano"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/realtime/session/lifecycle-text", test_lifecycle_text);
  ADD ("/realtime/session/lifecycle-audio-beta", test_lifecycle_audio_beta);
  ADD ("/realtime/session/barge-in", test_barge_in);
  ADD ("/realtime/session/hot-swap-turns", test_hot_swap_turns);
  ADD ("/realtime/session/hot-swap-time", test_hot_swap_time);
  ADD ("/realtime/session/hot-swap-settings", test_hot_swap_settings);
  ADD ("/realtime/session/hot-swap-failure", test_hot_swap_failure);
  ADD ("/realtime/session/hot-swap-drop-during-switch", test_hot_swap_drop_during_switch);
  ADD ("/realtime/session/reconnect-expiry", test_reconnect_expiry);
  ADD ("/realtime/session/reconnect-drop", test_reconnect_drop);
  ADD ("/realtime/session/stall-timeout", test_stall_timeout);
  ADD ("/realtime/session/typing-starts-and-restarts", test_typing_starts_and_restarts);
  ADD ("/realtime/session/text-while-reconnecting", test_text_while_reconnecting);
  ADD ("/realtime/session/refused-key", test_refused_key);
  ADD ("/realtime/session/garbage-and-errors", test_garbage_and_errors);
  ADD ("/realtime/session/text-only-tts", test_text_only_tts);
  ADD ("/realtime/session/history-priming", test_history_priming);
  ADD ("/realtime/session/send-text-ids", test_send_text_ids);
  ADD ("/realtime/session/interrupted-heard", test_interrupted_heard);
  ADD ("/realtime/session/reconnect-storm", test_reconnect_storm);
  ADD ("/realtime/session/reconnect-rate", test_reconnect_rate);
  ADD ("/realtime/session/lorebook-priming", test_lorebook_priming);

  return g_test_run ();
}
