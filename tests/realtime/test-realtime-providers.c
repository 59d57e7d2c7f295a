/* test-realtime-providers.c — one conversation per provider profile
 *
 * A real LanlanSessionManager talks to the fake server playing OpenAI GA,
 * Qwen-Omni, GLM and StepFun in turn, each as strict as the real service:
 * a typed turn, barge-in while the answer streams and after response.done,
 * a picture, a reconnect that primes the new session, a hot swap after a
 * persona change, and an expiry (error, then close 1001). The fake answers
 * anything the service would refuse with an `error`, and the test fails on
 * any such error and on any error shown to the user.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-fake-server.h"
#include "lanlan-fake-sink.h"
#include "lanlan-lorebook.h"
#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"
#include "lanlan-session-manager.h"

typedef struct {
  const char   *id;
  FakeProvider  fake;
  const char   *image_event;   /* NULL: takes no pictures */
} ProviderCase;

typedef struct {
  FakeServer           *server;
  FakeSink             *sink;
  LanlanCharacter      *character;
  LanlanSessionManager *manager;
  const ProviderCase   *pc;
  guint                 n_turns;
  GPtrArray            *swaps;
  GPtrArray            *errors;
  GThread              *feeder;
  gint                  feeding;
} Fixture;

static void
on_turn (LanlanSessionManager *m, Fixture *f)
{
  f->n_turns++;
}

static void
on_swap (LanlanSessionManager *m, LanlanHotSwapStage stage, const char *detail, Fixture *f)
{
  g_test_message ("hot-swap %d %s", stage, detail ? detail : "");
  g_ptr_array_add (f->swaps, GINT_TO_POINTER (stage));
}

static void
on_error (LanlanSessionManager *m, GError *error, Fixture *f)
{
  g_test_message ("error shown to the user: %s", error->message);
  g_ptr_array_add (f->errors, g_error_copy (error));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *url = NULL;

  f->pc = data;
  f->server = fake_server_new ();
  f->sink = fake_sink_new ();
  fake_sink_set_main_thread (f->sink, g_thread_self ());
  f->swaps = g_ptr_array_new ();
  f->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  url = fake_server_get_url (f->server, NULL);
  f->character = lanlan_character_new ("Lanlan");
  lanlan_character_set_persona (f->character, "You are Lanlan, a cat.");
  lanlan_character_set_provider (f->character, f->pc->id);
  lanlan_character_set_base_url (f->character, url);
  lanlan_character_set_language (f->character, "zh-CN");
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

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop_feeder (f);
  g_clear_object (&f->manager);
  g_clear_object (&f->character);
  g_clear_object (&f->sink);
  fake_server_free (f->server);
  g_ptr_array_unref (f->swaps);
  g_ptr_array_unref (f->errors);
}

static gpointer
feeder_thread (gpointer data)
{
  Fixture *f = data;
  guint chunk = lanlan_session_manager_get_input_rate (f->manager) / 200;   /* 5 ms */
  g_autofree gint16 *pcm = g_new0 (gint16, chunk);

  for (guint i = 0; i < chunk; i++)
    pcm[i] = (gint16) (i * 37);
  while (g_atomic_int_get (&f->feeding))
    {
      lanlan_session_manager_stream_audio (f->manager, pcm, chunk);
      g_usleep (5000);
    }
  return NULL;
}

static void
start_feeder (Fixture *f)
{
  g_atomic_int_set (&f->feeding, 1);
  f->feeder = g_thread_new ("feeder", feeder_thread, f);
}

/* --- waiting -------------------------------------------------------------- */

typedef struct { Fixture *f; guint n; guint index; const char *s; } W;

static gboolean
cond_connected (gpointer data)
{
  W *w = data;
  return lanlan_session_manager_get_state (w->f->manager) == LANLAN_SESSION_STATE_CONNECTED &&
         fake_server_get_n_connections (w->f->server) >= w->n;
}

static void
wait_connected (Fixture *f, guint n_connections)
{
  W w = { f, n_connections };
  g_assert_true (test_wait_until (cond_connected, &w, 10000));
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
  g_assert_true (test_wait_until (cond_turns, &w, 10000));
}

static gboolean
cond_swapped (gpointer data)
{
  W *w = data;
  return g_ptr_array_find (w->f->swaps, GINT_TO_POINTER (LANLAN_HOT_SWAP_SWAPPED), NULL);
}

static gboolean
cond_sink (gpointer data)
{
  W *w = data;
  return fake_sink_get_written (w->f->sink) >= w->n;
}

static gboolean
cond_type (gpointer data)
{
  W *w = data;
  return fake_server_count_type (w->f->server, w->index, w->s) >= w->n;
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

/* --- checks --------------------------------------------------------------- */

static gboolean
uses_items (Fixture *f)
{
  return lanlan_provider_accepts (lanlan_provider_lookup (f->pc->id), "conversation.item.create");
}

/* The service at @index has heard @role say @text: as an item, or in the
 * instructions for services without items. */
static gboolean
knows (Fixture *f, guint index, const char *role, const char *text)
{
  if (uses_items (f))
    {
      g_autoptr(GPtrArray) items = fake_server_dup_items (f->server, index);
      g_autofree char *want = g_strdup_printf ("%s:%s", role, text);

      for (guint i = 0; i < items->len; i++)
        if (g_str_equal (g_ptr_array_index (items, i), want))
          return TRUE;
      return FALSE;
    }
  else
    {
      g_autofree char *instructions = fake_server_dup_instructions (f->server, index);
      g_autofree char *want = g_strdup_printf ("%s: %s", g_str_equal (role, "user") ? "User" :
                                               g_str_equal (role, "assistant") ? "Assistant" :
                                               "Context", text);
      return instructions != NULL && strstr (instructions, want) != NULL;
    }
}

static gboolean
cond_knows (gpointer data)
{
  W *w = data;
  return knows (w->f, w->index, w->n ? "assistant" : "user", w->s);
}

/* Priming may still be on its way (Qwen: a session.update after connect). */
static void
wait_knows (Fixture *f, guint index, const char *text)
{
  g_assert_true (test_wait_until (cond_knows, &(W) { f, 0, index, text }, 5000));
}

static void
assert_clean (Fixture *f)
{
  for (guint i = 0; i < fake_server_get_n_connections (f->server); i++)
    {
      g_autofree char *errors = fake_server_dup_errors (f->server, i);
      if (*errors != '\0')
        g_error ("%s, connection %u: the client provoked: %s", f->pc->id, i, errors);
    }
  g_assert_cmpuint (f->errors->len, ==, 0);
}

/* --- the conversation ------------------------------------------------------ */

static void
test_conversation (Fixture *f, gconstpointer data)
{
  /* 30 deltas of 100 ms, one every 5 ms: the sink has seconds queued. */
  FakeScript script = { .provider = f->pc->fake, .beta = f->pc->fake != FAKE_PROVIDER_OPENAI,
                        .n_deltas = 30, .samples_per_delta = 2400, .delta_interval_ms = 5 };
  FakeScript expire = script;
  gboolean interrupts = f->pc->fake != FAKE_PROVIDER_STEPFUN;
  g_autoptr(GBytes) jpeg = g_bytes_new_static ("\xff\xd8\xff\xe0" "fakejpeg", 12);
  const char *image_event = f->pc->image_event;
  guint cancels;

  expire.on_response = FAKE_RESPONSE_EXPIRE;
  fake_server_set_default_script (f->server, &script);
  fake_server_set_script (f->server, 2, &expire);

  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk");
  lanlan_session_manager_set_hot_swap_turns (f->manager, 0);
  lanlan_session_manager_set_hot_swap_seconds (f->manager, 0);
  lanlan_session_manager_set_timeouts (f->manager, test_scale_ms (5000), test_scale_ms (5000));
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "hot-swap", G_CALLBACK (on_swap), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_start_session (f->manager);
  wait_connected (f, 1);

  /* A typed turn. */
  lanlan_session_manager_stream_text (f->manager, "Hello");
  wait_turns (f, 1);
  wait_knows (f, 0, "Hello");
  assert_clean (f);

  /* Barge-in while the answer streams. */
  lanlan_session_manager_stream_text (f->manager, "Tell me a story");
  g_assert_true (test_wait_until (cond_sink, &(W) { f, fake_sink_get_written (f->sink) + 2400 * 3 }, 10000));
  cancels = fake_server_count_type (f->server, 0, "response.cancel");
  fake_server_speech_started (f->server, 0);
  wait_turns (f, 2);
  spin (100);
  /* Services whose VAD ends the answer get no cancel; the others one. */
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.cancel"), ==,
                    cancels + (interrupts ? 0 : 1));
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "conversation.item.truncate"), ==,
                    f->pc->fake == FAKE_PROVIDER_OPENAI ? 1 : 0);
  assert_clean (f);

  /* Barge-in after response.done, while its audio still plays. */
  lanlan_session_manager_stream_text (f->manager, "Short answer?");
  wait_turns (f, 3);
  cancels = fake_server_count_type (f->server, 0, "response.cancel");
  fake_server_speech_started (f->server, 0);
  spin (200);
  g_assert_cmpuint (fake_server_count_type (f->server, 0, "response.cancel"), ==, cancels);
  assert_clean (f);

  /* A picture while the microphone streams. */
  start_feeder (f);
  spin (30);
  lanlan_session_manager_send_image (f->manager, jpeg);
  if (image_event != NULL)
    g_assert_true (test_wait_until (cond_type, &(W) { f, 1, 0, image_event }, 5000));
  spin (100);
  stop_feeder (f);
  assert_clean (f);

  /* A dropped connection: the next one is primed with the conversation. */
  fake_server_drop (f->server, 0);
  wait_connected (f, 2);
  spin (100);
  /* The drop itself is worth telling (once); the UI clears it when the
   * state is back to connected. */
  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_NETWORK);
  g_ptr_array_set_size (f->errors, 0);
  wait_knows (f, 1, "Hello");
  wait_knows (f, 1, "Tell me a story");
  assert_clean (f);

  /* A persona change: a hot swap to a session that knows it all. */
  lanlan_character_set_persona (f->character, "You are Lanlan, a fox.");
  g_assert_true (test_wait_until (cond_swapped, &(W) { f }, 10000));
  {
    g_autofree char *instructions = fake_server_dup_instructions (f->server, 2);
    g_assert_nonnull (instructions);
    g_assert_nonnull (strstr (instructions, "a fox"));
  }
  wait_knows (f, 2, "Hello");
  g_assert_false (g_ptr_array_find (f->swaps, GINT_TO_POINTER (LANLAN_HOT_SWAP_FAILED), NULL));
  assert_clean (f);

  /* The swapped-in session expires after this answer: renewed silently. */
  lanlan_session_manager_stream_text (f->manager, "Still there?");
  wait_turns (f, 4);
  wait_connected (f, 4);
  wait_knows (f, 3, "Still there?");
  lanlan_session_manager_stream_text (f->manager, "After renewal");
  wait_turns (f, 5);
  assert_clean (f);
  g_assert_false (g_ptr_array_find (f->swaps, GINT_TO_POINTER (LANLAN_HOT_SWAP_FAILED), NULL));

  lanlan_session_manager_end_session (f->manager);
}

/* Issue #17: a message sent as endless fragments ends the connection with a
 * clear error instead of growing memory, and the session comes back. */
static void
test_oversized_message (Fixture *f, gconstpointer data)
{
  FakeScript script = { .provider = FAKE_PROVIDER_OPENAI, .n_deltas = 2, .samples_per_delta = 480 };

  fake_server_set_default_script (f->server, &script);
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk");
  lanlan_session_manager_set_timeouts (f->manager, test_scale_ms (5000), test_scale_ms (5000));
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_start_session (f->manager);
  wait_connected (f, 1);

  fake_server_send_fragmented (f->server, 0, (guint64) 64 * 1024 * 1024, 64 * 1024);
  wait_connected (f, 2);
  g_assert_cmpuint (f->errors->len, ==, 1);
  g_assert_error ((GError *) g_ptr_array_index (f->errors, 0), LANLAN_REALTIME_ERROR,
                  LANLAN_REALTIME_ERROR_PROTOCOL);
  g_test_message ("shown: %s", ((GError *) g_ptr_array_index (f->errors, 0))->message);

  lanlan_session_manager_stream_text (f->manager, "Are you back?");
  wait_turns (f, 1);
  lanlan_session_manager_end_session (f->manager);
}

/* --- the lorebook on later turns -------------------------------------------- */

#define MOCHI "Mochi is the user's grey cat."

/* How many times the session at @index was given @content as lorebook
 * context: system items, or the instructions of a service without items. */
static guint
lore_count (Fixture *f, guint index, const char *content)
{
  guint n = 0;

  if (uses_items (f))
    {
      g_autoptr(GPtrArray) items = fake_server_dup_items (f->server, index);

      for (guint i = 0; i < items->len; i++)
        {
          const char *item = g_ptr_array_index (items, i);
          if (g_str_has_prefix (item, "system:") && strstr (item, content) != NULL)
            n++;
        }
    }
  else
    {
      g_autofree char *instructions = fake_server_dup_instructions (f->server, index);

      for (const char *p = instructions; p != NULL && (p = strstr (p, content)) != NULL; p++)
        n++;
    }
  return n;
}

static gboolean
cond_lore (gpointer data)
{
  W *w = data;
  return lore_count (w->f, w->index, w->s) > 0;
}

/* Issue #15: an entry that a later turn activates reaches the live session
 * (not only the next priming), once, before the answer to that turn, in
 * the provider's own way; an entry nobody mentions stays out. */
static void
test_lorebook_live (Fixture *f, gconstpointer data)
{
  FakeScript script = { .provider = f->pc->fake, .beta = f->pc->fake != FAKE_PROVIDER_OPENAI,
                        .n_deltas = 2, .samples_per_delta = 480 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LanlanLorebook) book = NULL;
  g_autoptr(GPtrArray) received = NULL;
  g_autoptr(GError) error = NULL;
  gint lore_at = -1, last_response = -1;

  g_assert_true (json_parser_load_from_data (parser,
    "{\"entries\":["
    "{\"keys\":[\"Mochi\"],\"content\":\"" MOCHI "\",\"enabled\":true},"
    "{\"keys\":[\"volcano\"],\"content\":\"The user fears volcanoes.\",\"enabled\":true}]}", -1, NULL));
  book = lanlan_lorebook_new_from_json (json_node_get_object (json_parser_get_root (parser)), &error);
  g_assert_no_error (error);
  lanlan_character_set_lorebook (f->character, book);

  fake_server_set_default_script (f->server, &script);
  f->manager = lanlan_session_manager_new (f->character, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->manager, "sk");
  lanlan_session_manager_set_hot_swap_turns (f->manager, 0);
  lanlan_session_manager_set_hot_swap_seconds (f->manager, 0);
  lanlan_session_manager_set_timeouts (f->manager, test_scale_ms (5000), test_scale_ms (5000));
  g_signal_connect (f->manager, "turn-ended", G_CALLBACK (on_turn), f);
  g_signal_connect (f->manager, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_start_session (f->manager);
  wait_connected (f, 1);

  lanlan_session_manager_stream_text (f->manager, "Hello");
  wait_turns (f, 1);
  spin (100);
  g_assert_cmpuint (lore_count (f, 0, MOCHI), ==, 0);

  /* The second turn names the cat: the entry joins the live session. */
  lanlan_session_manager_stream_text (f->manager, "Mochi knocked my cup over again.");
  g_assert_true (test_wait_until (cond_lore, &(W) { f, 0, 0, MOCHI }, 5000));
  wait_turns (f, 2);
  received = fake_server_dup_received (f->server, 0);
  for (guint i = 0; i < received->len; i++)
    {
      const char *event = g_ptr_array_index (received, i);
      if (lore_at < 0 && strstr (event, "Mochi is the user") != NULL)
        lore_at = i;
      if (strstr (event, "\"type\":\"response.create\"") != NULL)
        last_response = i;
    }
  g_assert_cmpint (lore_at, >=, 0);
  g_assert_cmpint (lore_at, <, last_response);   /* before the answer it is for */

  /* Named again: not sent again. */
  lanlan_session_manager_stream_text (f->manager, "Mochi is asleep now.");
  wait_turns (f, 3);
  spin (100);
  g_assert_cmpuint (lore_count (f, 0, MOCHI), ==, 1);
  g_assert_cmpuint (lore_count (f, 0, "volcano"), ==, 0);
  assert_clean (f);

  lanlan_session_manager_end_session (f->manager);
}

static const ProviderCase lorebook_cases[] = {
  { "openai", FAKE_PROVIDER_OPENAI, NULL },
  { "qwen", FAKE_PROVIDER_QWEN, NULL },
};

static const ProviderCase oversized = { "openai", FAKE_PROVIDER_OPENAI, NULL };

static const ProviderCase cases[] = {
  { "openai", FAKE_PROVIDER_OPENAI, "conversation.item.create" },
  { "qwen", FAKE_PROVIDER_QWEN, "input_image_buffer.append" },
  { "glm", FAKE_PROVIDER_GLM, "input_audio_buffer.append_video_frame" },
  { "stepfun", FAKE_PROVIDER_STEPFUN, NULL },
};

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/realtime/providers/%s", cases[i].id);
      g_test_add (path, Fixture, &cases[i], fixture_setup, test_conversation, fixture_teardown);
    }
  for (guint i = 0; i < G_N_ELEMENTS (lorebook_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/realtime/providers/lorebook-live/%s", lorebook_cases[i].id);
      g_test_add (path, Fixture, &lorebook_cases[i], fixture_setup, test_lorebook_live, fixture_teardown);
    }
  g_test_add ("/realtime/providers/oversized-message", Fixture, &oversized,
              fixture_setup, test_oversized_message, fixture_teardown);
  return g_test_run ();
}
