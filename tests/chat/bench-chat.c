/* bench-chat.c — text mode's latencies, printed with their baselines
 *
 *  1. First speech: from the first text delta leaving the chat server to
 *     the first sample written to the sink, with espeak-ng, with the HTTP
 *     speech stand-in (the fake's /audio/speech) and, as the floor, with
 *     an instant tone generator. The sentence chunker decides when the
 *     first piece can go; that part is the same for all three.
 *  2. Delta latency: from each delta leaving the server to the session's
 *     "transcript-delta" on the main thread, against the bare chat
 *     client's "delta" on the same thread (no session worker hop).
 *
 * Figures, not assertions: a loaded machine moves them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lanlan-chat-client.h"
#include "lanlan-fake-chat-server.h"
#include "lanlan-fake-server.h"
#include "lanlan-fake-sink.h"
#include "lanlan-session-manager.h"
#include "lanlan-speech-chunker.h"
#include "lanlan-tts-espeak.h"

#define RUNS 5
#define REPLY "Hello there, it is good to see you again. I was just thinking about our last talk. " \
              "Shall we go on where we stopped? I still have so many questions for you."

typedef struct {
  guint   turns;
  GArray *signal_times;   /* gint64, transcript-delta */
} Counts;

static void
on_turn (LanlanSessionManager *m, Counts *c)
{
  c->turns++;
}

static void
on_delta (LanlanSessionManager *m, const char *role, const char *turn_id,
          const char *delta, Counts *c)
{
  gint64 now = g_get_monotonic_time ();

  if (g_str_equal (role, "assistant"))
    g_array_append_val (c->signal_times, now);
}

static gboolean
turn_done (gpointer data)
{
  Counts *c = data;
  return c->turns > 0;
}

static gboolean
sink_written (gpointer data)
{
  return fake_sink_get_written (FAKE_SINK (data)) > 0;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *values)
{
  g_array_sort (values, cmp_double);
  return values->len ? g_array_index (values, double, values->len / 2) : 0;
}

static double
percentile (GArray *values,
            double  p)
{
  g_array_sort (values, cmp_double);
  return values->len ? g_array_index (values, double, (guint) ((values->len - 1) * p)) : 0;
}

typedef enum { TTS_TONE, TTS_ESPEAK, TTS_HTTP } TtsKind;

/* One turn; returns ms from the first delta at the server to the first
 * sample at the sink, and adds the delta → signal latencies to @deltas. */
/* Which delta completes the first speakable piece of REPLY. */
static guint
first_piece_delta (void)
{
  g_autoptr(LanlanSpeechChunker) chunker = lanlan_speech_chunker_new ();
  g_auto(GStrv) words = g_strsplit (REPLY, " ", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autofree char *delta = g_strconcat (words[i], words[i + 1] ? " " : "", NULL);
      g_autoptr(GPtrArray) pieces = lanlan_speech_chunker_feed (chunker, delta);
      if (pieces->len > 0)
        return i;
    }
  return 0;
}

static double
one_turn (FakeChatServer *server,
          TtsKind         kind,
          GArray         *deltas,
          double         *synthesis)
{
  g_autofree char *base = fake_chat_server_get_base_url (server);
  g_autoptr(LanlanCharacter) character = lanlan_character_new ("Bench");
  g_autoptr(FakeSink) sink = fake_sink_new ();
  g_autoptr(LanlanSessionManager) manager = NULL;
  g_autoptr(GArray) writes = NULL;
  g_autoptr(GArray) sent = NULL;
  Counts c = { 0, g_array_new (FALSE, FALSE, sizeof (gint64)) };
  guint index = fake_chat_server_get_n_requests (server);
  LanlanTtsBackend *backend;
  double first_speech;

  lanlan_character_set_input_mode (character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (character, "openai-compatible");
  lanlan_character_set_base_url (character, base);
  lanlan_character_set_model (character, "llama3.2");
  lanlan_character_set_language (character, "en");
  manager = lanlan_session_manager_new (character, LANLAN_AUDIO_SINK (sink));
  switch (kind)
    {
    case TTS_TONE:
      backend = lanlan_tts_backend_new_tone (60, 20, FALSE);
      break;
    case TTS_ESPEAK:
      backend = lanlan_tts_backend_new_espeak ("en", NULL);
      break;
    default:
      backend = lanlan_tts_backend_new_http (base, NULL, "tts-1", "alloy");
      break;
    }
  lanlan_session_manager_set_tts_backend (manager, backend);
  g_signal_connect (manager, "turn-ended", G_CALLBACK (on_turn), &c);
  g_signal_connect (manager, "transcript-delta", G_CALLBACK (on_delta), &c);
  lanlan_session_manager_send_text (manager, "b1", "Hi");
  g_assert_true (test_wait_until (turn_done, &c, 20000));
  g_assert_true (test_wait_until (sink_written, sink, 20000));

  writes = fake_sink_dup_write_times (sink);
  first_speech = (g_array_index (writes, gint64, 0) -
                  fake_chat_server_get_first_delta_time (server, index)) / 1000.0;
  sent = fake_chat_server_dup_delta_times (server, index);
  if (synthesis != NULL)
    *synthesis = first_speech - (g_array_index (sent, gint64, first_piece_delta ()) -
                                 g_array_index (sent, gint64, 0)) / 1000.0;
  for (guint i = 0; i < MIN (sent->len, c.signal_times->len); i++)
    {
      double ms = (g_array_index (c.signal_times, gint64, i) - g_array_index (sent, gint64, i)) / 1000.0;
      g_array_append_val (deltas, ms);
    }
  g_array_unref (c.signal_times);
  return first_speech;
}

typedef struct {
  GArray *times;
  gboolean done;
} Raw;

static void
on_raw_delta (LanlanChatClient *client, const char *text, Raw *r)
{
  gint64 now = g_get_monotonic_time ();
  g_array_append_val (r->times, now);
}

static void
on_raw_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Raw *r = data;
  g_autoptr(LanlanChatResult) answer = lanlan_chat_client_stream_finish (LANLAN_CHAT_CLIENT (source), result, NULL);
  r->done = TRUE;
}

static gboolean
raw_done (gpointer data)
{
  return ((Raw *) data)->done;
}

/* The bare client's delta latency on the test thread: the baseline. */
static void
raw_turn (FakeChatServer *server,
          GArray         *deltas)
{
  g_autofree char *base = fake_chat_server_get_base_url (server);
  g_autoptr(LanlanChatClient) client = lanlan_chat_client_new ("Bench", base, NULL);
  g_autoptr(LanlanChatRequest) request = lanlan_chat_request_new ("llama3.2");
  g_autoptr(GArray) sent = NULL;
  Raw r = { g_array_new (FALSE, FALSE, sizeof (gint64)), FALSE };
  guint index = fake_chat_server_get_n_requests (server);

  lanlan_chat_request_add_message (request, "user", "Hi");
  g_signal_connect (client, "delta", G_CALLBACK (on_raw_delta), &r);
  lanlan_chat_client_stream_async (client, request, NULL, on_raw_done, &r);
  g_assert_true (test_wait_until (raw_done, &r, 20000));
  sent = fake_chat_server_dup_delta_times (server, index);
  for (guint i = 0; i < MIN (sent->len, r.times->len); i++)
    {
      double ms = (g_array_index (r.times, gint64, i) - g_array_index (sent, gint64, i)) / 1000.0;
      g_array_append_val (deltas, ms);
    }
  g_array_unref (r.times);
}

int
main (int argc, char *argv[])
{
  FakeChatServer *server = fake_chat_server_new ();
  FakeChatScript script = { .reply = REPLY, .delta_interval_ms = 25 };
  const char *names[] = { "tone (instant)", "espeak-ng", "HTTP /audio/speech" };
  double first[3];
  double synth[3];
  g_autoptr(GArray) session_deltas = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) raw_deltas = g_array_new (FALSE, FALSE, sizeof (double));

  fake_chat_server_add_model (server, "llama3.2", FALSE);
  fake_chat_server_set_default_script (server, &script);

  /* Warm up espeak-ng's data and the HTTP stack. */
  {
    g_autoptr(GArray) ignore = g_array_new (FALSE, FALSE, sizeof (double));
    one_turn (server, TTS_ESPEAK, ignore, NULL);
  }

  for (guint k = 0; k < 3; k++)
    {
      g_autoptr(GArray) runs = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr(GArray) synths = g_array_new (FALSE, FALSE, sizeof (double));

      for (guint i = 0; i < RUNS; i++)
        {
          double sy = 0;
          double ms = one_turn (server, (TtsKind) k, session_deltas, &sy);
          g_array_append_val (runs, ms);
          g_array_append_val (synths, sy);
        }
      first[k] = median (runs);
      synth[k] = median (synths);
    }
  for (guint i = 0; i < RUNS; i++)
    raw_turn (server, raw_deltas);

  printf ("text mode, first speech sample at the sink after the first text delta "
          "(median of %u, deltas every 25 ms):\n", RUNS);
  printf ("  (the first sentence is complete %u deltas in; the rest is synthesis + hops)\n",
          first_piece_delta ());
  for (guint k = 0; k < 3; k++)
    printf ("  %-20s %7.1f ms   after the first sentence: %6.1f ms (x%.2f the instant tone)\n",
            names[k], first[k], synth[k], synth[0] > 0 ? synth[k] / synth[0] : 0);
  printf ("chat delta → signal on the main thread (%u deltas):\n", raw_deltas->len);
  printf ("  bare chat client     median %.2f ms  p95 %.2f ms\n",
          median (raw_deltas), percentile (raw_deltas, 0.95));
  printf ("  session (worker hop) median %.2f ms  p95 %.2f ms  (x%.2f)\n",
          median (session_deltas), percentile (session_deltas, 0.95),
          median (raw_deltas) > 0 ? median (session_deltas) / median (raw_deltas) : 0);

  fake_chat_server_free (server);
  return 0;
}
