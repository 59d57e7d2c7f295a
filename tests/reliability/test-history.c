/* test-history.c — a long conversation keeps a bounded history
 *
 * The session manager primes every new session (hot swap, reconnect)
 * with the conversation so far. Over hours that must not grow without
 * end: after many turns the history holds the newest messages within the
 * priming budget (between 30 and 40), everything older came out in
 * "history-overflow" exactly once and in order, and a hot swap primes the
 * new connection with exactly the kept ones, in order.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-counting-sink.h"
#include "lanlan-fake-server.h"
#include "lanlan-session-manager.h"

#define N_TURNS  130   /* 260 messages, far past the budget */
#define MAX_KEPT 40
#define MIN_KEPT 30

typedef struct {
  guint      turns;
  guint      swaps;
  GPtrArray *overflow;   /* "role:content" */
} Counts;

static void
on_overflow (LanlanSessionManager *session,
             GPtrArray            *messages,
             GStrv                 ids,
             Counts               *counts)
{
  g_assert_cmpuint (messages->len, >, 0);
  g_assert_cmpuint (g_strv_length (ids), ==, messages->len);
  for (guint i = 0; i < messages->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (messages, i);
      g_ptr_array_add (counts->overflow, g_strdup_printf ("%s:%s", m->role, m->content));
      /* Each says which turn it was, as its transcript did. */
      g_assert_cmpstr (ids[i], !=, "");
    }
}

static void
on_turn_ended (LanlanSessionManager *session,
               Counts               *counts)
{
  counts->turns++;
}

static void
on_hot_swap (LanlanSessionManager *session,
             LanlanHotSwapStage    stage,
             const char           *detail,
             Counts               *counts)
{
  if (stage == LANLAN_HOT_SWAP_SWAPPED)
    counts->swaps++;
}

typedef struct {
  Counts *counts;
  guint   want;
} Want;

static gboolean
turns_reached (gpointer data)
{
  Want *w = data;
  return w->counts->turns >= w->want;
}

static gboolean
swapped (gpointer data)
{
  return ((Counts *) data)->swaps > 0;
}

static void
test_history_bounded (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Longtalk");
  g_autoptr(LanlanCountingSink) sink = lanlan_counting_sink_new ();
  g_autoptr(LanlanSessionManager) session = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GPtrArray) primed = NULL;
  g_autofree char *url = NULL;
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 1, .samples_per_delta = 240 };
  FakeServer *server = fake_server_new ();
  Counts counts = { 0 };
  guint n_conns;

  counts.overflow = g_ptr_array_new_with_free_func (g_free);

  fake_server_set_default_script (server, &script);
  url = fake_server_get_url (server, "/v1/realtime");

  lanlan_character_set_provider (c, "custom");
  lanlan_character_set_base_url (c, url);
  /* Typed turns over the realtime protocol (text mode is the chat engine). */
  lanlan_character_set_input_mode (c, LANLAN_INPUT_MODE_AUDIO);

  session = lanlan_session_manager_new (c, LANLAN_AUDIO_SINK (sink));
  lanlan_session_manager_set_api_key (session, "history-test-key-0123456789");
  lanlan_session_manager_set_hot_swap_turns (session, 1000);
  g_signal_connect (session, "turn-ended", G_CALLBACK (on_turn_ended), &counts);
  g_signal_connect (session, "hot-swap", G_CALLBACK (on_hot_swap), &counts);
  g_signal_connect (session, "history-overflow", G_CALLBACK (on_overflow), &counts);
  lanlan_session_manager_start_session (session);

  for (guint i = 0; i < N_TURNS; i++)
    {
      g_autofree char *text = g_strdup_printf ("question %u", i);
      Want want = { &counts, i + 1 };

      lanlan_session_manager_stream_text (session, text);
      g_assert_true (test_wait_until (turns_reached, &want, 10000));
    }

  history = lanlan_session_manager_dup_history (session);
  g_assert_cmpuint (history->len, <=, MAX_KEPT);
  g_assert_cmpuint (history->len, >=, MIN_KEPT);
  /* Nothing lost, nothing twice: what fell out and what is kept are the
   * whole conversation, in order, and the newest are kept. */
  g_assert_cmpuint (counts.overflow->len + history->len, ==, 2 * N_TURNS);
  for (guint i = 0; i < 2 * N_TURNS; i++)
    {
      g_autofree char *question = g_strdup_printf ("user:question %u", i / 2);
      const char *got;
      g_autofree char *kept = NULL;

      if (i < counts.overflow->len)
        got = g_ptr_array_index (counts.overflow, i);
      else
        {
          LanlanChatMessage *m = g_ptr_array_index (history, i - counts.overflow->len);
          got = kept = g_strdup_printf ("%s:%s", m->role, m->content);
        }
      if (i % 2 == 0)
        g_assert_cmpstr (got, ==, question);
      else
        g_assert_true (g_str_has_prefix (got, "assistant:"));
    }

  /* A hot swap primes the new connection with exactly what is kept. */
  n_conns = fake_server_get_n_connections (server);
  lanlan_session_manager_request_hot_swap (session);
  g_assert_true (test_wait_until (swapped, &counts, 10000));
  g_assert_cmpuint (fake_server_get_n_connections (server), ==, n_conns + 1);

  primed = fake_server_dup_items (server, n_conns);
  g_assert_cmpuint (primed->len, ==, history->len);
  for (guint i = 0; i < primed->len; i++)
    {
      LanlanChatMessage *m = g_ptr_array_index (history, i);
      g_autofree char *want = g_strdup_printf ("%s:%s", m->role, m->content);
      g_assert_cmpstr (g_ptr_array_index (primed, i), ==, want);
    }

  lanlan_session_manager_end_session (session);
  g_clear_object (&session);
  fake_server_free (server);
  g_ptr_array_unref (counts.overflow);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/history/bounded", test_history_bounded);
  return g_test_run ();
}
