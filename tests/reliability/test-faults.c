/* test-faults.c — huge and oversized frames from the realtime server
 *
 * A server (or something in between) may send a 10 MB frame: a long
 * audio delta, or garbage. The session must survive both and keep
 * talking. A frame above the client's 32 MiB limit makes the WebSocket
 * close (1009); the session must reconnect by itself, keep the history,
 * and answer the next turn.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-counting-sink.h"
#include "lanlan-fake-server.h"
#include "lanlan-session-manager.h"

typedef struct {
  FakeServer           *server;
  LanlanSessionManager *session;
  LanlanCountingSink   *sink;
  guint                 turns;
  guint                 errors;
} Fixture;

typedef struct {
  Fixture *f;
  guint    want;
} Want;

static void
on_turn_ended (LanlanSessionManager *session,
               Fixture              *f)
{
  f->turns++;
}

static void
on_error (LanlanSessionManager *session,
          GError               *error,
          Fixture              *f)
{
  g_test_message ("session error: %s", error->message);
  f->errors++;
}

static gboolean
turns_reached (gpointer data)
{
  Want *w = data;
  return w->f->turns >= w->want;
}

static gboolean
connected (gpointer data)
{
  Fixture *f = data;
  return lanlan_session_manager_get_state (f->session) == LANLAN_SESSION_STATE_CONNECTED;
}

static gboolean
reconnected (gpointer data)
{
  Fixture *f = data;
  return fake_server_get_n_connections (f->server) >= 2 && connected (f);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Sturdy");
  g_autofree char *url = NULL;
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 2, .samples_per_delta = 480 };

  f->server = fake_server_new ();
  fake_server_set_default_script (f->server, &script);
  url = fake_server_get_url (f->server, "/v1/realtime");

  lanlan_character_set_provider (c, "custom");
  lanlan_character_set_base_url (c, url);
  /* Typed turns over the realtime protocol (text mode is the chat engine). */
  lanlan_character_set_input_mode (c, LANLAN_INPUT_MODE_AUDIO);

  f->sink = lanlan_counting_sink_new ();
  f->session = lanlan_session_manager_new (c, LANLAN_AUDIO_SINK (f->sink));
  lanlan_session_manager_set_api_key (f->session, "faults-test-key-0123456789");
  g_signal_connect (f->session, "turn-ended", G_CALLBACK (on_turn_ended), f);
  g_signal_connect (f->session, "error", G_CALLBACK (on_error), f);
  lanlan_session_manager_start_session (f->session);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  lanlan_session_manager_end_session (f->session);
  g_clear_object (&f->session);
  g_clear_object (&f->sink);
  fake_server_free (f->server);
}

static void
talk (Fixture    *f,
      const char *text)
{
  Want want = { f, f->turns + 1 };

  lanlan_session_manager_stream_text (f->session, text);
  g_assert_true (test_wait_until (turns_reached, &want, 15000));
}

static char *
huge_audio_delta (gsize n_bytes_pcm)
{
  g_autofree guchar *pcm = g_malloc0 (n_bytes_pcm);
  g_autofree char *b64 = NULL;

  for (gsize i = 0; i + 1 < n_bytes_pcm; i += 2)
    pcm[i] = (guchar) (i / 2);
  b64 = g_base64_encode (pcm, n_bytes_pcm);
  return g_strdup_printf ("{\"type\":\"response.output_audio.delta\",\"response_id\":\"resp_stray\","
                          "\"item_id\":\"item_stray\",\"output_index\":0,\"content_index\":0,"
                          "\"delta\":\"%s\"}", b64);
}

static void
test_huge_audio_frame (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *frame = huge_audio_delta (7 * 1024 * 1024 + 512 * 1024);  /* ~10 MB as base64 */
  g_autoptr(GPtrArray) history = NULL;

  g_assert_cmpuint (strlen (frame), >, 10 * 1000 * 1000);
  talk (f, "first");
  fake_server_send (f->server, 0, frame);
  talk (f, "second");

  g_assert_cmpuint (f->errors, ==, 0);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 1);
  history = lanlan_session_manager_dup_history (f->session);
  g_assert_cmpuint (history->len, ==, 4);
}

static void
test_huge_garbage_frame (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *garbage = g_strnfill (10 * 1024 * 1024, 'x');
  LanlanSessionStats stats = { 0 };

  talk (f, "first");
  garbage[0] = '{';
  fake_server_send (f->server, 0, garbage);
  talk (f, "second");

  lanlan_session_manager_get_stats (f->session, &stats);
  g_assert_cmpuint (stats.n_bad_events, >=, 1);
  g_assert_cmpuint (stats.n_reconnects, ==, 0);
  g_assert_cmpuint (fake_server_get_n_connections (f->server), ==, 1);
}

static void
test_oversized_frame (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *frame = huge_audio_delta (25 * 1024 * 1024);   /* ~33 MiB as base64 */
  g_autoptr(GPtrArray) history = NULL;
  LanlanSessionStats stats = { 0 };

  talk (f, "before the big frame");
  fake_server_send (f->server, 0, frame);

  /* The client refuses the frame and the connection goes; the session
   * reconnects by itself, primed with what was said. */
  g_assert_true (test_wait_until (reconnected, f, 20000));
  talk (f, "after the big frame");

  lanlan_session_manager_get_stats (f->session, &stats);
  g_assert_cmpuint (stats.n_reconnects, >=, 1);
  history = lanlan_session_manager_dup_history (f->session);
  g_assert_cmpuint (history->len, ==, 4);
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 0))->content, ==, "before the big frame");
  g_assert_cmpstr (((LanlanChatMessage *) g_ptr_array_index (history, 2))->content, ==, "after the big frame");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/faults/huge-audio-frame", Fixture, NULL, fixture_setup, test_huge_audio_frame, fixture_teardown);
  g_test_add ("/faults/huge-garbage-frame", Fixture, NULL, fixture_setup, test_huge_garbage_frame, fixture_teardown);
  g_test_add ("/faults/oversized-frame", Fixture, NULL, fixture_setup, test_oversized_frame, fixture_teardown);

  return g_test_run ();
}
