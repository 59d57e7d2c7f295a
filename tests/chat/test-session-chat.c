/* test-session-chat.c — a text-mode session on the chat engine
 *
 * A real LanlanSessionManager in text mode against the strict fake chat
 * server: answers stream as transcript deltas and are spoken into the
 * sink; typing over an answer cancels its request and keeps what was
 * heard; agent results get an answer; failures are retried with backoff
 * or stop with the server's message; changed settings swap in at the
 * end of a turn.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lanlan-fake-chat-server.h"
#include "lanlan-fake-server.h"
#include "lanlan-fake-sink.h"
#include "lanlan-fake-tts-server.h"
#include "lanlan-realtime-events.h"
#include "lanlan-lorebook.h"
#include "lanlan-session-manager.h"
#include "lanlan-tts-qwen.h"

typedef struct {
  FakeChatServer       *server;
  FakeSink             *sink;
  LanlanCharacter      *character;
  LanlanSessionManager *manager;
  GPtrArray            *states;
  GPtrArray            *done;         /* "role:text" */
  GString              *deltas;
  GPtrArray            *sent;         /* message ids */
  GPtrArray            *failed;       /* message ids */
  GPtrArray            *interrupted;  /* heard texts */
  GPtrArray            *swaps;
  GPtrArray            *errors;
  guint                 n_turns;
  guint                 n_speech;
} Fixture;

static void
on_speech (LanlanSessionManager *m, Fixture *f)
{
  f->n_speech++;
}

static void
on_state (LanlanSessionManager *m, LanlanSessionState state, Fixture *f)
{
  g_ptr_array_add (f->states, GINT_TO_POINTER (state));
}

static void
on_delta (LanlanSessionManager *m, const char *role, const char *turn_id,
          const char *delta, Fixture *f)
{
  if (g_str_equal (role, "assistant"))
    g_string_append (f->deltas, delta);
}

static void
on_done (LanlanSessionManager *m, const char *role, const char *turn_id,
         const char *text, Fixture *f)
{
  g_ptr_array_add (f->done, g_strdup_printf ("%s:%s", role, text));
}

static void
on_turn (LanlanSessionManager *m, Fixture *f)
{
  f->n_turns++;
}

static void
on_sent (LanlanSessionManager *m, const char *id, Fixture *f)
{
  g_ptr_array_add (f->sent, g_strdup (id));
}

static void
on_failed (LanlanSessionManager *m, const char *id, GError *error, Fixture *f)
{
  g_test_message ("not sent %s: %s", id, error->message);
  g_ptr_array_add (f->failed, g_strdup (id));
}

static void
on_interrupted (LanlanSessionManager *m, const char *turn_id, const char *heard,
                guint64 played, guint64 received, Fixture *f)
{
  g_test_message ("interrupted %s: heard “%s” (%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ")",
                  turn_id, heard, played, received);
  g_ptr_array_add (f->interrupted, g_strdup (heard));
}

static void
on_swap (LanlanSessionManager *m, LanlanHotSwapStage stage, const char *detail, Fixture *f)
{
  g_test_message ("hot-swap %d %s", stage, detail);
  g_ptr_array_add (f->swaps, GINT_TO_POINTER (stage));
}

static void
on_error (LanlanSessionManager *m, GError *error, Fixture *f)
{
  g_test_message ("error: %s", error->message);
  g_ptr_array_add (f->errors, g_error_copy (error));
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree char *base = NULL;

  f->server = fake_chat_server_new ();
  fake_chat_server_add_model (f->server, "llama3.2", FALSE);
  fake_chat_server_add_model (f->server, "qwen2.5", FALSE);
  f->sink = fake_sink_new ();
  f->states = g_ptr_array_new ();
  f->done = g_ptr_array_new_with_free_func (g_free);
  f->deltas = g_string_new (NULL);
  f->sent = g_ptr_array_new_with_free_func (g_free);
  f->failed = g_ptr_array_new_with_free_func (g_free);
  f->interrupted = g_ptr_array_new_with_free_func (g_free);
  f->swaps = g_ptr_array_new ();
  f->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);

  base = fake_chat_server_get_base_url (f->server);
  f->character = lanlan_character_new ("Lanlan");
  lanlan_character_set_persona (f->character, "You are Lanlan, a cat.");
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (f->character, "ollama");
  lanlan_character_set_base_url (f->character, base);
  lanlan_character_set_model (f->character, "llama3.2");
  lanlan_character_set_language (f->character, "en");
}

static void
create_manager (Fixture *f)
{
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_hot_swap_turns (f->manager, 0);
  lanlan_session_manager_set_hot_swap_seconds (f->manager, 0);
  lanlan_session_manager_set_timeouts (f->manager, 3000, 3000);
  /* 10 ms of tone per character, as fast as it can. */
  lanlan_session_manager_set_tts_backend (f->manager, lanlan_tts_backend_new_tone (10, 20, FALSE));
  g_signal_connect (f->manager, "state-changed", G_CALLBACK (on_state), f);
  g_signal_connect (f->manager, "transcript-delta", G_CALLBACK (on_delta), f);
  g_signal_connect (f->manager, "transcript-done", G_CALLBACK (on_done), f);
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "text-sent", G_CALLBACK (on_sent), f);
  g_signal_connect (f->manager, "text-failed", G_CALLBACK (on_failed), f);
  g_signal_connect (f->manager, "interrupted", G_CALLBACK (on_interrupted), f);
  g_signal_connect (f->manager, "hot-swap", G_CALLBACK (on_swap), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  g_signal_connect (f->manager, "speech-started", G_CALLBACK (on_speech), f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->manager);
  /* Signals already posted are dropped with the manager. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->character);
  g_clear_object (&f->sink);
  fake_chat_server_free (f->server);
  g_ptr_array_unref (f->states);
  g_ptr_array_unref (f->done);
  g_string_free (f->deltas, TRUE);
  g_ptr_array_unref (f->sent);
  g_ptr_array_unref (f->failed);
  g_ptr_array_unref (f->interrupted);
  g_ptr_array_unref (f->swaps);
  g_ptr_array_unref (f->errors);
}

typedef struct {
  Fixture *f;
  guint    n;
} Want;

static gboolean
turns_at_least (gpointer data)
{
  Want *want = data;
  return want->f->n_turns >= want->n;
}

static gboolean
errors_at_least (gpointer data)
{
  Want *want = data;
  return want->f->errors->len >= want->n;
}

static gboolean
requests_at_least (gpointer data)
{
  Want *want = data;
  return fake_chat_server_get_n_requests (want->f->server) >= want->n;
}

static gboolean
deltas_nonempty (gpointer data)
{
  Fixture *f = data;
  return f->deltas->len > 0;
}

static gboolean
three_arrived (gpointer data)
{
  Fixture *f = data;
  return strstr (f->deltas->str, "Three.") != NULL;
}

static gboolean
sink_has_audio (gpointer data)
{
  Want *want = data;
  return fake_sink_get_written (want->f->sink) >= want->n;
}

static gboolean
swapped (gpointer data)
{
  Fixture *f = data;

  for (guint i = 0; i < f->swaps->len; i++)
    if (GPOINTER_TO_INT (g_ptr_array_index (f->swaps, i)) == LANLAN_HOT_SWAP_SWAPPED)
      return TRUE;
  return FALSE;
}

static void
spin_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

#define WAIT(cond, data) g_assert_true (test_wait_until ((cond), (data), 15000))

static gboolean
has_state (Fixture *f, LanlanSessionState state)
{
  for (guint i = 0; i < f->states->len; i++)
    if (GPOINTER_TO_INT (g_ptr_array_index (f->states, i)) == (int) state)
      return TRUE;
  return FALSE;
}

static gboolean
done_has (Fixture *f, const char *entry)
{
  for (guint i = 0; i < f->done->len; i++)
    if (g_str_equal (g_ptr_array_index (f->done, i), entry))
      return TRUE;
  return FALSE;
}

static void
test_answer (Fixture *f, gconstpointer data)
{
  FakeChatScript script = { .ollama = TRUE, .reply = "Hello! I am Lanlan. Nice to see you." };
  Want one = { f, 1 };
  g_autoptr(GPtrArray) history = NULL;
  g_autofree char *body = NULL;
  LanlanSessionStats stats;

  fake_chat_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi there");
  WAIT (turns_at_least, &one);

  g_assert_cmpstr (f->deltas->str, ==, "Hello! I am Lanlan. Nice to see you.");
  g_assert_true (done_has (f, "assistant:Hello! I am Lanlan. Nice to see you."));
  g_assert_cmpuint (f->sent->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->sent, 0), ==, "m1");
  g_assert_true (has_state (f, LANLAN_SESSION_STATE_CONNECTED));
  g_assert_true (has_state (f, LANLAN_SESSION_STATE_RESPONDING));
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_assert_cmpuint (lanlan_session_manager_get_input_rate (f->manager), ==, 16000);

  /* What went out: persona and language, then the user's words. */
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "\"model\":\"llama3.2\""));
  g_assert_nonnull (strstr (body, "{\"role\":\"system\",\"content\":\"You are Lanlan, a cat."));
  g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"Hi there\"}"));
  /* No key is sent to a loopback server that needs none. */
  history = lanlan_session_manager_dup_history (f->manager);
  g_assert_cmpuint (history->len, ==, 2);

  /* It was spoken: the tone is 10 ms a character of each sentence. */
  {
    Want audio = { f, 240 * strlen ("Hello!I am Lanlan.Nice to see you.") };
    WAIT (sink_has_audio, &audio);
  }
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.speaker_samples, ==, 240 * strlen ("Hello!I am Lanlan.Nice to see you."));

  /* The next turn carries the whole conversation. */
  lanlan_session_manager_send_text (f->manager, "m2", "And now?");
  {
    Want two = { f, 2 };
    WAIT (turns_at_least, &two);
  }
  g_free (body);
  body = fake_chat_server_dup_request (f->server, 1);
  g_assert_nonnull (strstr (body, "{\"role\":\"assistant\",\"content\":\"Hello! I am Lanlan. Nice to see you.\"}"));
  g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"And now?\"}"));
}

/* Issue #15: every request carries the lorebook entries its messages
 * activate now, as SillyTavern's world info does each turn: an entry
 * named on a later turn is in that turn's request, one nobody names is in
 * none. */
static void
test_lorebook (Fixture *f, gconstpointer data)
{
  FakeChatScript script = { .ollama = TRUE, .reply = "I see." };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LanlanLorebook) book = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  g_assert_true (json_parser_load_from_data (parser,
    "{\"entries\":["
    "{\"keys\":[\"Mochi\"],\"content\":\"Mochi is the user's grey cat.\",\"enabled\":true},"
    "{\"keys\":[\"volcano\"],\"content\":\"The user fears volcanoes.\",\"enabled\":true}]}", -1, NULL));
  book = lanlan_lorebook_new_from_json (json_node_get_object (json_parser_get_root (parser)), &error);
  g_assert_no_error (error);
  lanlan_character_set_lorebook (f->character, book);

  fake_chat_server_set_default_script (f->server, &script);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi there");
  {
    Want one = { f, 1 };
    WAIT (turns_at_least, &one);
  }
  lanlan_session_manager_send_text (f->manager, "m2", "Mochi knocked my cup over.");
  {
    Want two = { f, 2 };
    WAIT (turns_at_least, &two);
  }
  first = fake_chat_server_dup_request (f->server, 0);
  second = fake_chat_server_dup_request (f->server, 1);
  g_assert_null (strstr (first, "grey cat"));
  g_assert_nonnull (strstr (second, "{\"role\":\"system\",\"content\":\"Mochi is the user's grey cat."));
  g_assert_nonnull (strstr (second, "You are Lanlan, a cat."));
  g_assert_null (strstr (second, "volcano"));
}

static void
test_first_model (Fixture *f, gconstpointer data)
{
  Want one = { f, 1 };
  g_autofree char *body = NULL;

  /* No model chosen: the first one the server lists. */
  lanlan_character_set_model (f->character, "");
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &one);
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "\"model\":\"llama3.2\""));
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 w3 w4");
}

static gboolean
aborted (gpointer data)
{
  Fixture *f = data;
  return fake_chat_server_was_aborted (f->server, 0);
}

static void
test_barge_in (Fixture *f, gconstpointer data)
{
  FakeChatScript slow = { .reply = "One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten.",
                          .delta_interval_ms = 150 };
  FakeChatScript quick = { .reply = "Okay." };
  Want two = { f, 2 };
  g_autoptr(GPtrArray) history = NULL;
  LanlanChatMessage *kept;

  fake_chat_server_set_script (f->server, 0, &slow);
  fake_chat_server_set_script (f->server, 1, &quick);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Count to ten");
  /* Two sentences spoken (10 ms a character) and played by now. */
  WAIT (three_arrived, f);
  {
    Want audio = { f, 240 * strlen ("One.Two.") };
    WAIT (sink_has_audio, &audio);
  }
  /* Typing over the answer interrupts it. */
  lanlan_session_manager_send_text (f->manager, "m2", "Stop!");
  WAIT (turns_at_least, &two);
  WAIT (aborted, f);

  g_assert_cmpuint (f->interrupted->len, ==, 1);
  g_assert_cmpuint (fake_sink_get_n_flushes (f->sink), >=, 1);
  history = lanlan_session_manager_dup_history (f->manager);
  /* user, the kept part of the answer, user, answer */
  g_assert_cmpuint (history->len, ==, 4);
  kept = g_ptr_array_index (history, 1);
  g_assert_cmpstr (kept->role, ==, "assistant");
  g_assert_true (g_str_has_prefix (kept->content, "One. Two."));
  g_assert_true (g_str_has_prefix ("One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten.", kept->content));
  g_assert_cmpuint (strlen (kept->content), <, strlen ("One. Two. Three. Four. Five."));
  g_assert_cmpstr (kept->content, ==, g_ptr_array_index (f->interrupted, 0));
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 3))->content, ==, "Okay.");
  g_assert_cmpuint (f->errors->len, ==, 0);
}

static void
test_context (Fixture *f, gconstpointer data)
{
  Want one = { f, 1 };
  Want three = { f, 3 };
  FakeChatScript slow = { .n_deltas = 6, .delta_interval_ms = 100 };
  g_autofree char *body = NULL;

  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  /* Idle: an agent result gets an answer right away. */
  lanlan_session_manager_inject_context (f->manager, "The weather in Kyoto: sunny, 21 °C.");
  WAIT (turns_at_least, &one);
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "{\"role\":\"system\",\"content\":\"The weather in Kyoto: sunny, 21 °C.\"}"));

  /* While answering: after the answer. */
  fake_chat_server_set_default_script (f->server, &slow);
  lanlan_session_manager_send_text (f->manager, "m1", "Tell me a story");
  {
    Want two_requests = { f, 2 };
    WAIT (requests_at_least, &two_requests);
  }
  lanlan_session_manager_inject_context (f->manager, "Reminder: meeting at 3 pm.");
  WAIT (turns_at_least, &three);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 3);
  g_assert_false (fake_chat_server_was_aborted (f->server, 1));
  g_free (body);
  body = fake_chat_server_dup_request (f->server, 2);
  g_assert_nonnull (strstr (body, "Reminder: meeting at 3 pm."));
  g_assert_cmpuint (f->interrupted->len, ==, 0);
}

static void
test_retry (Fixture *f, gconstpointer data)
{
  FakeChatScript busy = { .mode = FAKE_CHAT_HTTP_ERROR, .http_status = 503 };
  FakeChatScript limited = { .mode = FAKE_CHAT_HTTP_ERROR, .http_status = 429 };
  Want one = { f, 1 };
  LanlanSessionStats stats;

  fake_chat_server_set_script (f->server, 0, &busy);
  fake_chat_server_set_script (f->server, 1, &limited);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &one);
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 w3 w4");
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 3);
  g_assert_true (has_state (f, LANLAN_SESSION_STATE_RECONNECTING));
  g_assert_cmpuint (f->errors->len, ==, 0);
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.n_reconnects, ==, 2);
}

static gboolean
in_error (gpointer data)
{
  Fixture *f = data;
  return lanlan_session_manager_get_state (f->manager) == LANLAN_SESSION_STATE_ERROR;
}

static void
test_fatal (Fixture *f, gconstpointer data)
{
  Want one = { f, 1 };

  /* A model the server does not have: no retry, the server's words. */
  lanlan_character_set_model (f->character, "mistral");
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (errors_at_least, &one);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (f->errors, 0))->message, "“mistral”"));
  WAIT (in_error, f);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 1);
}

static void
test_no_key (Fixture *f, gconstpointer data)
{
  /* A service that needs a key, none in the keyring: nothing is sent. */
  lanlan_character_set_provider (f->character, "deepseek");
  lanlan_character_set_base_url (f->character, "");
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  WAIT (in_error, f);
  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (f->errors, 0))->message, "DeepSeek"));
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 0);
}

static void
test_broken_answer (Fixture *f, gconstpointer data)
{
  FakeChatScript drop = { .mode = FAKE_CHAT_DROP, .n_deltas = 8, .stall_after = 3 };
  Want one = { f, 1 };
  Want two = { f, 2 };

  fake_chat_server_set_script (f->server, 0, &drop);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &one);
  WAIT (errors_at_least, &one);
  /* What arrived is kept; the session goes on. */
  g_assert_true (done_has (f, "assistant:w0 w1 w2 "));
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK);
  /* The question was not answered: it is not sent, and not in the
   * history, so that sending it again does not ask it twice. */
  g_assert_cmpuint (f->sent->len, ==, 0);
  g_assert_cmpuint (f->failed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->failed, 0), ==, "m1");
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &two);
  g_assert_true (done_has (f, "assistant:w0 w1 w2 w3 w4"));
  g_assert_cmpuint (f->sent->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->sent, 0), ==, "m1");
  {
    g_autofree char *body = fake_chat_server_dup_request (f->server, 1);
    const char *first = strstr (body, "{\"role\":\"user\",\"content\":\"Hi\"}");

    g_assert_nonnull (first);
    g_assert_null (strstr (first + 1, "{\"role\":\"user\",\"content\":\"Hi\"}"));
    g_assert_null (strstr (body, "w0 w1 w2"));
  }
}

/* An error event in the middle of an answer: the same, with the
 * server's words. */
static void
test_error_mid_answer (Fixture *f, gconstpointer data)
{
  FakeChatScript broken = { .mode = FAKE_CHAT_STREAM_ERROR, .n_deltas = 8, .stall_after = 2,
                            .error_message = "out of memory" };
  Want one = { f, 1 };
  Want two = { f, 2 };

  fake_chat_server_set_script (f->server, 1, &broken);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &one);
  lanlan_session_manager_send_text (f->manager, "m2", "Tell me more");
  WAIT (errors_at_least, &one);
  WAIT (turns_at_least, &two);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (f->errors, 0))->message, "out of memory"));
  g_assert_cmpuint (f->sent->len, ==, 1);
  g_assert_cmpuint (f->failed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->failed, 0), ==, "m2");
  g_assert_true (has_state (f, LANLAN_SESSION_STATE_CONNECTED));
  {
    g_autoptr(GPtrArray) history = lanlan_session_manager_dup_history (f->manager);
    g_assert_cmpuint (history->len, ==, 2);   /* Hi, and its answer */
  }
}

static void
test_hot_swap (Fixture *f, gconstpointer data)
{
  Want one = { f, 1 };
  Want two = { f, 2 };
  g_autofree char *body = NULL;

  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (turns_at_least, &one);
  /* New settings between turns: swapped in at once. */
  lanlan_character_set_model (f->character, "qwen2.5");
  WAIT (swapped, f);
  lanlan_session_manager_send_text (f->manager, "m2", "Who are you now?");
  WAIT (turns_at_least, &two);
  body = fake_chat_server_dup_request (f->server, 1);
  g_assert_nonnull (strstr (body, "\"model\":\"qwen2.5\""));
  /* The history survived the swap. */
  g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"Hi\"}"));
  g_assert_cmpuint (f->swaps->len, ==, 3);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (f->swaps, 0)), ==, LANLAN_HOT_SWAP_PREPARING);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (f->swaps, 1)), ==, LANLAN_HOT_SWAP_READY);
}

static void
test_swap_at_turn_end (Fixture *f, gconstpointer data)
{
  FakeChatScript slow = { .n_deltas = 6, .delta_interval_ms = 80 };
  Want one = { f, 1 };
  Want two = { f, 2 };
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  fake_chat_server_set_script (f->server, 0, &slow);
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Hi");
  WAIT (deltas_nonempty, f);
  /* Changed mid-answer: the answer finishes with the old settings. */
  lanlan_character_set_model (f->character, "qwen2.5");
  WAIT (turns_at_least, &one);
  WAIT (swapped, f);
  g_assert_false (fake_chat_server_was_aborted (f->server, 0));
  lanlan_session_manager_send_text (f->manager, "m2", "Hello again");
  WAIT (turns_at_least, &two);
  first = fake_chat_server_dup_request (f->server, 0);
  second = fake_chat_server_dup_request (f->server, 1);
  g_assert_nonnull (strstr (first, "\"model\":\"llama3.2\""));
  g_assert_nonnull (strstr (second, "\"model\":\"qwen2.5\""));
}

/* @ms of room noise or of something voice-like, at 16 kHz, in 20 ms blocks. */
static void
talk (Fixture  *f,
      guint     ms,
      gboolean  voice)
{
  static guint32 seed = 7;
  static gsize offset;
  gint16 block[320];

  for (guint b = 0; b < ms / 20; b++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (block); i++)
        {
          double t = (offset + i) / 16000.0;
          double noise = ((seed = seed * 1664525u + 1013904223u) >> 16) / 65536.0 - 0.5;

          block[i] = (gint16) (noise * 60 + (voice ? 5000 * sin (2 * G_PI * 210 * t) *
                                                     (0.6 + 0.4 * sin (2 * G_PI * 4 * t)) : 0));
        }
      offset += G_N_ELEMENTS (block);
      lanlan_session_manager_stream_audio (f->manager, block, G_N_ELEMENTS (block));
    }
}

static gboolean
connected (gpointer data)
{
  Fixture *f = data;
  return lanlan_session_manager_get_state (f->manager) == LANLAN_SESSION_STATE_CONNECTED;
}

static void
test_voice (Fixture *f, gconstpointer data)
{
  Want one = { f, 1 };
  g_autoptr(GArray) audio = NULL;
  g_autofree char *body = NULL;
  g_autofree char *model = NULL;
  guint rate = 0;

  fake_chat_server_set_transcript (f->server, "What time is it?");
  create_manager (f);
  /* The microphone can be opened at the right rate before the start. */
  g_assert_cmpuint (lanlan_session_manager_get_input_rate (f->manager), ==, 16000);
  lanlan_session_manager_start_session (f->manager);
  WAIT (connected, f);
  g_assert_cmpuint (lanlan_session_manager_get_input_rate (f->manager), ==, 16000);

  talk (f, 1000, FALSE);
  talk (f, 1200, TRUE);
  talk (f, 1500, FALSE);
  WAIT (turns_at_least, &one);

  g_assert_cmpuint (f->n_speech, ==, 1);
  g_assert_cmpuint (fake_chat_server_get_n_transcriptions (f->server), ==, 1);
  audio = fake_chat_server_dup_transcription_audio (f->server, 0, &rate);
  g_assert_cmpuint (rate, ==, 16000);
  /* 300 ms before the voice was heard, the voice, 700 ms after it. */
  g_assert_cmpuint (audio->len, >=, 16000 * 19 / 10);
  g_assert_cmpuint (audio->len, <=, 16000 * 23 / 10);
  model = fake_chat_server_dup_transcription_field (f->server, 0, "model");
  g_assert_cmpstr (model, ==, "whisper-1");
  g_assert_true (done_has (f, "user:What time is it?"));
  body = fake_chat_server_dup_request (f->server, 0);
  g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"What time is it?\"}"));
}

static gboolean
speech_heard (gpointer data)
{
  Fixture *f = data;
  return f->n_speech > 0;
}

static void
test_voice_barge_in (Fixture *f, gconstpointer data)
{
  FakeChatScript slow = { .reply = "One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten.",
                          .delta_interval_ms = 150 };
  Want two = { f, 2 };

  fake_chat_server_set_script (f->server, 0, &slow);
  fake_chat_server_set_transcript (f->server, "Wait");
  create_manager (f);
  lanlan_session_manager_send_text (f->manager, "m1", "Count to ten");
  WAIT (three_arrived, f);
  /* Speaking over the character stops it as soon as speech is sure. */
  talk (f, 300, TRUE);
  WAIT (speech_heard, f);
  WAIT (aborted, f);
  g_assert_cmpuint (f->interrupted->len, ==, 1);
  talk (f, 1000, FALSE);
  WAIT (turns_at_least, &two);
  g_assert_true (done_has (f, "user:Wait"));
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 2);
}

static guint
count_swapped (Fixture *f)
{
  guint n = 0;

  for (guint i = 0; i < f->swaps->len; i++)
    n += GPOINTER_TO_INT (g_ptr_array_index (f->swaps, i)) == LANLAN_HOT_SWAP_SWAPPED;
  return n;
}

static void
test_swap_turn_limit (Fixture *f, gconstpointer data)
{
  Want two = { f, 2 };
  LanlanSessionStats stats;

  create_manager (f);
  lanlan_session_manager_set_hot_swap_turns (f->manager, 1);
  lanlan_session_manager_send_text (f->manager, "m1", "One");
  lanlan_session_manager_send_text (f->manager, "m2", "Two");
  WAIT (turns_at_least, &two);
  WAIT (swapped, f);
  spin_until_idle ();
  lanlan_session_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.n_swaps, >=, 1);
  g_assert_cmpuint (count_swapped (f), ==, stats.n_swaps);
}

/* Audio mode to text mode and back, between turns, in one session. */
static void
test_switch_modes (Fixture *f, gconstpointer data)
{
  FakeServer *realtime = fake_server_new ();
  FakeScript script = { .n_deltas = 2, .samples_per_delta = 100 };
  g_autofree char *ws = fake_server_get_url (realtime, NULL);
  g_autofree char *http = fake_chat_server_get_base_url (f->server);
  Want one = { f, 1 };
  Want two = { f, 2 };
  Want three = { f, 3 };

  fake_server_set_default_script (realtime, &script);
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, ws);
  create_manager (f);
  lanlan_session_manager_set_api_key (f->manager, "sk-session");
  lanlan_session_manager_send_text (f->manager, "m1", "Hello realtime");
  WAIT (turns_at_least, &one);
  g_assert_cmpuint (fake_server_get_n_connections (realtime), ==, 1);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 0);

  /* To text mode, applied at once as an editor does: the chat server
   * answers, with the history so far. */
  g_object_freeze_notify (G_OBJECT (f->character));
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (f->character, "ollama");
  lanlan_character_set_base_url (f->character, http);
  g_object_thaw_notify (G_OBJECT (f->character));
  WAIT (connected, f);
  lanlan_session_manager_send_text (f->manager, "m2", "Hello chat");
  WAIT (turns_at_least, &two);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 1);
  {
    g_autofree char *body = fake_chat_server_dup_request (f->server, 0);
    g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"Hello realtime\"}"));
    g_assert_nonnull (strstr (body, "{\"role\":\"user\",\"content\":\"Hello chat\"}"));
  }
  g_assert_true (fake_server_is_closed (realtime, 0));

  /* And back to audio mode: a new realtime connection. */
  g_object_freeze_notify (G_OBJECT (f->character));
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, ws);
  g_object_thaw_notify (G_OBJECT (f->character));
  lanlan_session_manager_send_text (f->manager, "m3", "Hello again");
  WAIT (turns_at_least, &three);
  g_assert_cmpuint (fake_server_get_n_connections (realtime), ==, 2);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 1);
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_clear_object (&f->manager);
  fake_server_free (realtime);
}

/* Switched to text mode while the realtime model answers: the answer
 * finishes, then the chat engine takes over. */
static void
test_switch_mid_answer (Fixture *f, gconstpointer data)
{
  FakeServer *realtime = fake_server_new ();
  FakeScript script = { .n_deltas = 6, .samples_per_delta = 100, .delta_interval_ms = 100 };
  g_autofree char *ws = fake_server_get_url (realtime, NULL);
  g_autofree char *http = fake_chat_server_get_base_url (f->server);
  Want one = { f, 1 };
  Want two = { f, 2 };

  fake_server_set_default_script (realtime, &script);
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, ws);
  create_manager (f);
  lanlan_session_manager_set_api_key (f->manager, "sk-session");
  lanlan_session_manager_send_text (f->manager, "m1", "Hello realtime");
  WAIT (deltas_nonempty, f);
  g_object_freeze_notify (G_OBJECT (f->character));
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (f->character, "ollama");
  lanlan_character_set_base_url (f->character, http);
  g_object_thaw_notify (G_OBJECT (f->character));
  WAIT (turns_at_least, &one);
  g_assert_true (done_has (f, "assistant:w0 w1 w2 w3 w4 w5 "));
  lanlan_session_manager_send_text (f->manager, "m2", "Hello chat");
  WAIT (turns_at_least, &two);
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 1);
  g_assert_cmpuint (fake_server_get_n_connections (realtime), ==, 1);
  /* No realtime renewal was tried with the chat settings. */
  g_assert_cmpuint (f->swaps->len, ==, 0);
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_clear_object (&f->manager);
  fake_server_free (realtime);
}

static void
test_images (Fixture *f, gconstpointer data)
{
  static const guint8 jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0xFF, 0xD9 };
  g_autoptr(GBytes) frame = g_bytes_new_static (jpeg, sizeof jpeg);
  Want one = { f, 1 };
  Want two = { f, 2 };
  g_autofree char *first = NULL;
  g_autofree char *retry = NULL;
  g_autofree char *later = NULL;

  /* Ollama's model may or may not see: this one does not. */
  create_manager (f);
  lanlan_session_manager_start_session (f->manager);
  WAIT (connected, f);
  lanlan_session_manager_send_image (f->manager, frame);
  lanlan_session_manager_send_text (f->manager, "m1", "What do you see?");
  WAIT (turns_at_least, &one);
  first = fake_chat_server_dup_request (f->server, 0);
  retry = fake_chat_server_dup_request (f->server, 1);
  g_assert_nonnull (strstr (first, "\"type\":\"image_url\""));
  g_assert_cmpuint (fake_chat_server_get_status (f->server, 0), ==, 400);
  /* Asked again without the picture, and answered; no error shown. */
  g_assert_null (strstr (retry, "image_url"));
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_assert_cmpstr (f->deltas->str, ==, "w0 w1 w2 w3 w4");
  /* From now on the picture stays home. */
  lanlan_session_manager_send_text (f->manager, "m2", "And now?");
  WAIT (turns_at_least, &two);
  later = fake_chat_server_dup_request (f->server, 2);
  g_assert_null (strstr (later, "image_url"));
  g_assert_cmpuint (fake_chat_server_get_n_requests (f->server), ==, 3);
}

/* Audio mode with another engine's voice: the realtime model writes, the
 * TTS worker (espeak-ng here) speaks. */
static void
test_custom_voice_audio_mode (Fixture *f, gconstpointer data)
{
  FakeServer *realtime = fake_server_new ();
  FakeScript script = { .text_only = TRUE, .n_deltas = 4 };
  g_autofree char *url = fake_server_get_url (realtime, NULL);
  g_autoptr(GPtrArray) received = NULL;
  Want one = { f, 1 };
  Want audio = { f, LANLAN_MODEL_RATE / 10 };

  fake_server_set_default_script (realtime, &script);
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_voice (f->character, "espeak:en");
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk-session");
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_stream_text (f->manager, "Speak");
  WAIT (turns_at_least, &one);
  WAIT (sink_has_audio, &audio);

  received = fake_server_dup_received (realtime, 0);
  /* Text out, and the provider's own voice name, not ours. */
  g_assert_nonnull (strstr (g_ptr_array_index (received, 0), "\"output_modalities\":[\"text\"]"));
  g_assert_null (strstr (g_ptr_array_index (received, 0), "espeak:"));
  g_assert_cmpuint (f->errors->len, ==, 0);
  g_clear_object (&f->manager);
  fake_server_free (realtime);
}

/* Audio mode with a Qwen voice whose key is refused: said once over two
 * answers, the service asked once. */
static void
test_custom_voice_refused_key (Fixture *f, gconstpointer data)
{
  FakeServer *realtime = fake_server_new ();
  FakeScript script = { .text_only = TRUE, .n_deltas = 4 };
  FakeTtsServer *tts = fake_tts_server_new ("sk-dash");
  g_autofree char *url = fake_server_get_url (realtime, NULL);
  g_autofree char *tts_url = fake_tts_server_get_url (tts);
  Want one = { f, 1 };
  Want two = { f, 2 };

  fake_server_set_default_script (realtime, &script);
  lanlan_character_set_input_mode (f->character, LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_provider (f->character, "custom");
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_voice (f->character, "qwen:Cherry");
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk-session");
  lanlan_session_manager_set_tts_backend (f->manager, lanlan_tts_backend_new_qwen (tts_url, "sk-wrong", NULL, "Cherry"));
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_stream_text (f->manager, "Speak");
  WAIT (turns_at_least, &one);
  WAIT (errors_at_least, &one);
  lanlan_session_manager_stream_text (f->manager, "Again");
  WAIT (turns_at_least, &two);
  test_wait_until (errors_at_least, &two, 1000);   /* none may come */

  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpuint (fake_tts_server_get_n_connections (tts), ==, 1);
  g_clear_object (&f->manager);
  fake_server_free (realtime);
  fake_tts_server_free (tts);
}

/* The Qwen voice's key is refused (HTTP 401 at the handshake): the user
 * is told once, the service is asked once, and the answers still come
 * as text. */
static void
test_tts_refused_key (Fixture *f, gconstpointer data)
{
  FakeChatScript script = { .reply = "One. Two. Three." };
  FakeTtsServer *tts = fake_tts_server_new ("sk-dash");
  g_autofree char *url = fake_tts_server_get_url (tts);
  Want one = { f, 1 };
  Want two = { f, 2 };
  Want three = { f, 3 };

  fake_chat_server_set_default_script (f->server, &script);
  lanlan_character_set_voice (f->character, "qwen:Cherry");
  create_manager (f);
  lanlan_session_manager_set_tts_backend (f->manager, lanlan_tts_backend_new_qwen (url, "sk-wrong", NULL, "Cherry"));
  lanlan_session_manager_send_text (f->manager, "m1", "Count");
  WAIT (turns_at_least, &one);
  WAIT (errors_at_least, &one);
  lanlan_session_manager_send_text (f->manager, "m2", "Again");
  WAIT (turns_at_least, &two);
  lanlan_session_manager_send_text (f->manager, "m3", "Once more");
  WAIT (turns_at_least, &three);
  /* Nine pieces went to a voice that cannot speak; a moment for any
   * further error to arrive (none may). */
  test_wait_until (errors_at_least, &two, 500);

  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (f->errors, 0))->message,
                            "The speech service refused the key"));
  g_assert_cmpuint (fake_tts_server_get_n_connections (tts), ==, 1);
  g_assert_cmpuint (f->sent->len, ==, 3);
  g_assert_true (done_has (f, "assistant:One. Two. Three."));
  g_assert_true (has_state (f, LANLAN_SESSION_STATE_CONNECTED));
  g_clear_object (&f->manager);
  fake_tts_server_free (tts);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/chat/session/" path, Fixture, NULL, setup, func, teardown)
  ADD ("answer", test_answer);
  ADD ("first-model", test_first_model);
  ADD ("barge-in", test_barge_in);
  ADD ("context", test_context);
  ADD ("lorebook", test_lorebook);
  ADD ("retry", test_retry);
  ADD ("fatal", test_fatal);
  ADD ("no-key", test_no_key);
  ADD ("broken-answer", test_broken_answer);
  ADD ("error-mid-answer", test_error_mid_answer);
  ADD ("tts-refused-key", test_tts_refused_key);
  ADD ("custom-voice-refused-key", test_custom_voice_refused_key);
  ADD ("hot-swap", test_hot_swap);
  ADD ("swap-at-turn-end", test_swap_at_turn_end);
  ADD ("voice", test_voice);
  ADD ("voice-barge-in", test_voice_barge_in);
  ADD ("custom-voice-audio-mode", test_custom_voice_audio_mode);
  ADD ("images", test_images);
  ADD ("swap-turn-limit", test_swap_turn_limit);
  ADD ("switch-modes", test_switch_modes);
  ADD ("switch-mid-answer", test_switch_mid_answer);
#undef ADD

  return g_test_run ();
}
