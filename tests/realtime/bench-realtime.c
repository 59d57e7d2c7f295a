/* bench-realtime.c — latency of the speech path and cost of a hot swap
 *
 * Prints figures; fails only on real errors (lost or duplicated audio,
 * a swap that never completes), never on timing.
 *
 *  1. Parser throughput for audio delta events.
 *  2. Time from the loopback server sending an audio delta to the samples
 *     being handed to the audio sink (WebSocket, parse, worker thread),
 *     p50/p99 over many deltas, paced and in a burst.
 *  3. A hot swap while the microphone streams in real time: samples lost,
 *     duplicated, and how long microphone audio was held back (the
 *     silence the model hears added to the stream).
 *  4. A server that closes every session right after session.updated:
 *     reconnect attempts a minute (with the shortest backoff the settings
 *     allow, so the rate cap is what binds) against what a client without
 *     backoff would make (the measured connect-and-close cycle), history
 *     items sent per attempt, and the process's CPU use meanwhile.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <gio/gio.h>

#include "lanlan-fake-server.h"
#include "lanlan-fake-sink.h"
#include "lanlan-realtime-events.h"
#include "lanlan-session-manager.h"

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gint64
percentile (GArray *sorted, double p)
{
  guint i = (guint) (p * (sorted->len - 1) + 0.5);
  return g_array_index (sorted, gint64, i);
}

static void
bench_parser (void)
{
  gint16 pcm[480];
  g_autofree char *b64 = NULL;
  g_autofree char *json = NULL;
  const guint n = 20000;
  gint64 start, elapsed;

  for (guint i = 0; i < G_N_ELEMENTS (pcm); i++)
    pcm[i] = (gint16) (i * 13);
  b64 = g_base64_encode ((const guchar *) pcm, sizeof pcm);
  json = g_strdup_printf ("{\"type\":\"response.output_audio.delta\",\"response_id\":\"resp_1\","
                          "\"item_id\":\"item_1\",\"output_index\":0,\"content_index\":0,"
                          "\"delta\":\"%s\"}", b64);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      LanlanRealtimeEvent event;
      if (!lanlan_realtime_parse_event (json, strlen (json), &event, NULL))
        g_error ("parse failed");
      lanlan_realtime_event_clear (&event);
    }
  elapsed = g_get_monotonic_time () - start;
  printf ("parser: %u audio deltas (20 ms each) in %.1f ms: %.1f µs/event, %.0fx realtime\n",
          n, elapsed / 1000.0, (double) elapsed / n, (n * 20000.0) / elapsed);
}

typedef struct {
  LanlanSessionManager *manager;
  guint                 turns;
  gboolean              swapped;
  gboolean              failed;
  gint64                preparing_at;
  gint64                swapped_at;
  gint                  feeding;
  guint64               fed;
  gint16                next;
} Bench;

static void
on_turn (LanlanSessionManager *m, Bench *b)
{
  b->turns++;
}

static void
on_swap (LanlanSessionManager *m, LanlanHotSwapStage stage, const char *detail, Bench *b)
{
  if (stage == LANLAN_HOT_SWAP_PREPARING)
    b->preparing_at = g_get_monotonic_time ();
  else if (stage == LANLAN_HOT_SWAP_SWAPPED)
    {
      b->swapped = TRUE;
      b->swapped_at = g_get_monotonic_time ();
    }
  else if (stage == LANLAN_HOT_SWAP_FAILED)
    b->failed = TRUE;
}

static gboolean
cond_turns (gpointer data)
{
  return ((Bench *) data)->turns >= 1;
}

static gboolean
cond_connected (gpointer data)
{
  return lanlan_session_manager_get_state (((Bench *) data)->manager) == LANLAN_SESSION_STATE_CONNECTED;
}

static gboolean
cond_swapped (gpointer data)
{
  return ((Bench *) data)->swapped || ((Bench *) data)->failed;
}

static LanlanSessionManager *
make_manager (FakeServer *server, FakeSink *sink, Bench *b)
{
  g_autofree char *url = fake_server_get_url (server, NULL);
  g_autoptr(LanlanCharacter) character = lanlan_character_new ("Bench");
  LanlanSessionManager *m;

  lanlan_character_set_provider (character, "custom");
  lanlan_character_set_base_url (character, url);
  m = lanlan_session_manager_new (character, LANLAN_AUDIO_SINK (sink));
  lanlan_session_manager_set_api_key (m, "bench");
  lanlan_session_manager_set_hot_swap_turns (m, 0);
  lanlan_session_manager_set_hot_swap_seconds (m, 0);
  g_signal_connect (m, "turn-ended", G_CALLBACK (on_turn), b);
  g_signal_connect (m, "hot-swap", G_CALLBACK (on_swap), b);
  b->manager = m;
  lanlan_session_manager_start_session (m);
  if (!test_wait_until (cond_connected, b, 5000))
    g_error ("no connection");
  return m;
}

static void
bench_delta_latency (const char *label,
                     guint       n_deltas,
                     guint       interval_ms)
{
  FakeServer *server = fake_server_new ();
  g_autoptr(FakeSink) sink = fake_sink_new ();
  FakeScript script = { .n_deltas = n_deltas, .samples_per_delta = 480,
                        .delta_interval_ms = interval_ms };
  Bench b = { 0 };
  g_autoptr(GArray) sent = NULL;
  g_autoptr(GArray) firsts = NULL;
  g_autoptr(GArray) written = NULL;
  g_autoptr(GArray) latency = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(LanlanSessionManager) m = NULL;

  fake_server_set_default_script (server, &script);
  m = make_manager (server, sink, &b);
  lanlan_session_manager_stream_text (m, "Talk to me");
  if (!test_wait_until (cond_turns, &b, 15000))
    g_error ("the answer never finished");

  sent = fake_server_dup_delta_times (server, 0);
  firsts = fake_sink_dup_first_values (sink);
  written = fake_sink_dup_write_times (sink);
  if (firsts->len != n_deltas || sent->len != n_deltas)
    g_error ("%u deltas sent, %u reached the sink, %u expected", sent->len, firsts->len, n_deltas);
  for (guint i = 0; i < n_deltas; i++)
    {
      gint64 l;
      if (g_array_index (firsts, gint16, i) != (gint16) (i % 30000 + 1))
        g_error ("delta %u out of order", i);
      l = g_array_index (written, gint64, i) - g_array_index (sent, gint64, i);
      g_array_append_val (latency, l);
    }
  g_array_sort (latency, cmp_i64);
  printf ("delta→sink (%s, %u deltas of 20 ms): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
          label, n_deltas, percentile (latency, 0.5) / 1000.0, percentile (latency, 0.99) / 1000.0,
          g_array_index (latency, gint64, latency->len - 1) / 1000.0);

  g_clear_object (&m);
  fake_server_free (server);
}

static gpointer
feeder (gpointer data)
{
  Bench *b = data;
  gint16 pcm[240];   /* 10 ms at 24 kHz */
  gint64 next = g_get_monotonic_time ();

  while (g_atomic_int_get (&b->feeding))
    {
      for (guint i = 0; i < G_N_ELEMENTS (pcm); i++)
        {
          pcm[i] = b->next;
          b->next = b->next == 32000 ? 1 : b->next + 1;
        }
      lanlan_session_manager_stream_audio (b->manager, pcm, G_N_ELEMENTS (pcm));
      b->fed += G_N_ELEMENTS (pcm);
      next += 10000;
      if (next > g_get_monotonic_time ())
        g_usleep (next - g_get_monotonic_time ());
    }
  return NULL;
}

static gboolean
cond_all_received (gpointer data)
{
  gpointer *pair = data;
  FakeServer *server = pair[0];
  Bench *b = pair[1];
  guint64 total = 0;

  for (guint i = 0; i < fake_server_get_n_connections (server); i++)
    {
      g_autoptr(GArray) s = fake_server_dup_samples (server, i);
      total += s->len;
    }
  return total >= b->fed;
}

static void
bench_hot_swap (guint server_delay_ms)
{
  FakeServer *server = fake_server_new ();
  FakeScript slow = { .n_deltas = 1, .samples_per_delta = 480, .session_delay_ms = server_delay_ms };
  g_autoptr(FakeSink) sink = fake_sink_new ();
  Bench b = { .next = 1 };
  g_autoptr(LanlanSessionManager) m = NULL;
  GThread *thread;
  LanlanSessionStats stats;
  guint64 received = 0, duplicates = 0, missing = 0;
  gint16 expect = 1;
  gpointer pair[2] = { server, &b };

  fake_server_set_script (server, 1, &slow);
  m = make_manager (server, sink, &b);
  g_atomic_int_set (&b.feeding, 1);
  thread = g_thread_new ("feeder", feeder, &b);

  /* 1 s of speech, a swap, 1 s more. */
  test_wait_until (cond_swapped, &b, 1000);
  lanlan_session_manager_request_hot_swap (m);
  if (!test_wait_until (cond_swapped, &b, 8000) || b.failed)
    g_error ("the hot swap did not complete");
  {
    gint64 end = g_get_monotonic_time () + G_USEC_PER_SEC;
    while (g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  }
  g_atomic_int_set (&b.feeding, 0);
  g_thread_join (thread);
  test_wait_until (cond_all_received, pair, 5000);

  for (guint i = 0; i < fake_server_get_n_connections (server); i++)
    {
      g_autoptr(GArray) s = fake_server_dup_samples (server, i);
      for (guint j = 0; j < s->len; j++)
        {
          gint16 v = g_array_index (s, gint16, j);
          received++;
          if (v != expect)
            {
              if (v < expect)
                duplicates++;
              else
                missing += v - expect;
              expect = v;
            }
          expect = expect == 32000 ? 1 : expect + 1;
        }
    }
  lanlan_session_manager_get_stats (m, &stats);
  printf ("hot swap (server answers session.update after %u ms), live microphone: %" G_GUINT64_FORMAT
          " samples in, %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT
          " duplicated\n",
          server_delay_ms, b.fed, received, b.fed - MIN (received, b.fed) + missing, duplicates);
  printf ("  prepare→swapped %.1f ms, switch-over %.1f ms; microphone audio held back "
          "(silence added) %.1f ms, %" G_GUINT64_FORMAT " samples went through the cache\n",
          stats.last_swap_prepare_us / 1000.0, stats.last_swap_barrier_us / 1000.0,
          stats.last_swap_cache_us / 1000.0, stats.mic_samples_cached);

  g_clear_object (&m);
  fake_server_free (server);
  if (received != b.fed || duplicates != 0 || missing != 0)
    g_error ("microphone audio was lost or duplicated during the swap");
}

static gint64
cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

typedef struct { FakeServer *server; guint n; } Conns;

static gboolean
cond_conns (gpointer data)
{
  Conns *c = data;
  return fake_server_get_n_connections (c->server) >= c->n;
}

static void
bench_reconnect_storm (void)
{
  const guint delay_ms = 10;     /* the shortest "reconnect-delay-ms" */
  const guint window_s = 5;
  FakeServer *server = fake_server_new ();
  FakeScript closing = { .n_deltas = 1, .samples_per_delta = 240, .close_after_update = 1011 };
  g_autoptr(FakeSink) sink = fake_sink_new ();
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(LanlanCharacter) character = lanlan_character_new ("Bench");
  g_autoptr(LanlanSessionManager) m = NULL;
  g_autoptr(GPtrArray) stored = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  g_autofree char *url = NULL;
  Conns seven = { server, 7 };
  gint64 start, t7, end, cpu0;
  guint64 items = 0;
  guint n, n_reconnects;
  double cycle_ms, uncapped_per_min, cpu_share;

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *text = g_strdup_printf ("stored message %u", i);
      g_ptr_array_add (stored, lanlan_chat_message_new (i % 2 ? "assistant" : "user", text));
    }
  g_settings_set_uint (settings, "reconnect-attempts", 100);
  g_settings_set_uint (settings, "reconnect-delay-ms", delay_ms);
  fake_server_set_default_script (server, &closing);
  url = fake_server_get_url (server, NULL);
  lanlan_character_set_provider (character, "custom");
  lanlan_character_set_base_url (character, url);
  m = lanlan_session_manager_new (character, LANLAN_AUDIO_SINK (sink));
  g_settings_reset (settings, "reconnect-attempts");
  g_settings_reset (settings, "reconnect-delay-ms");
  lanlan_session_manager_set_api_key (m, "bench");
  lanlan_session_manager_set_history (m, stored, "A summary.");

  start = g_get_monotonic_time ();
  cpu0 = cpu_us ();
  lanlan_session_manager_start_session (m);
  if (!test_wait_until (cond_conns, &seven, 10000))
    g_error ("the reconnects never reached 6");
  t7 = g_get_monotonic_time ();
  while (g_get_monotonic_time () < start + window_s * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, FALSE), g_usleep (2000);
  end = g_get_monotonic_time ();
  cpu_share = 100.0 * (cpu_us () - cpu0) / (end - start);

  n = fake_server_get_n_connections (server);
  n_reconnects = n - 1;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GPtrArray) got = fake_server_dup_items (server, i);
      items += got->len;
    }
  /* 7 connections = 7 connect-and-close cycles + the 6 backoff delays. */
  cycle_ms = ((t7 - start) / 1000.0 - delay_ms * 63) / 7;
  uncapped_per_min = 60000.0 / MAX (cycle_ms, 0.1);
  printf ("reconnect storm (server closes with 1011 right after session.updated, backoff from %u ms): "
          "%u attempts in %u s, at most 6 a minute; a client without backoff: %.0f a minute "
          "(%.1f ms a cycle), %.0fx more\n",
          delay_ms, n_reconnects, window_s, uncapped_per_min, cycle_ms, uncapped_per_min / 6);
  printf ("  history items sent per attempt: %.1f (100 stored: %.0fx fewer), CPU %.1f%% of one core "
          "over the %u s\n",
          (double) items / n, 101.0 / ((double) items / n), cpu_share, window_s);

  lanlan_session_manager_end_session (m);
  g_clear_object (&m);
  fake_server_free (server);
  if (n_reconnects > 6)
    g_error ("%u reconnects in %u s: the rate cap did not hold", n_reconnects, window_s);
}

int
main (int argc, char *argv[])
{
  bench_parser ();
  bench_delta_latency ("paced 2 ms", 1000, 2);
  bench_delta_latency ("burst", 2000, 0);
  bench_hot_swap (0);
  bench_hot_swap (80);
  bench_reconnect_storm ();
  return 0;
}
