/* bench-agent-flood.c — a misbehaving agent against the bridge and a link
 *
 * Three floods from another process (agent_flood.py), each measured in
 * this one (the main thread's worst stall, timed by a 5 ms tick, and
 * VmRSS), against a baseline of the same run with no flood:
 *   1. proactive_message at 100,000/s (issue #17): how many injections
 *      and response.create reach the model, how many notifications the
 *      window gets, RSS during and after;
 *   2. tens of MiB of distinct subscriptions on the PUB socket (issue
 *      #13): how long a turn_end publish blocks, RSS;
 *   3. a raw ZMTP peer writing large frames into the PUSH socket: RSS.
 * The policy bounds (injections per 2 s, notifications) are checked.
 *
 * LANLAN_BENCH_FLOOD_SECONDS (default 3) sets the length of flood 1;
 * LANLAN_BENCH_SUB_MIB (default 32) the size of flood 2.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lanlan-agent-link.h"
#include "lanlan-counting-sink.h"
#include "lanlan-fake-chat-server.h"
#include "lanlan-fake-server.h"
#include "lanlan-message.h"

typedef struct {
  gint64  expected;
  gint64  max_late_us;
  guint   n_late_50ms;
} Tick;

#define TICK_MS 5

static gboolean
tick_cb (gpointer data)
{
  Tick *t = data;
  gint64 now = g_get_monotonic_time ();

  if (t->expected != 0)
    {
      gint64 late = now - t->expected;

      if (late > t->max_late_us)
        t->max_late_us = late;
      if (late > 50000)
        t->n_late_50ms++;
    }
  t->expected = now + TICK_MS * 1000;
  return G_SOURCE_CONTINUE;
}

static void
tick_reset (Tick *t)
{
  t->expected = 0;
  t->max_late_us = 0;
  t->n_late_50ms = 0;
}

static double
rss_mb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? strtoul (line + 6, NULL, 10) / 1024.0 : 0;
}

static void
run_for (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
}

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
  char             *line;
  gboolean          done;
} Flooder;

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Flooder *fl = data;

  fl->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  fl->done = TRUE;
}

static gboolean
flooder_done (gpointer data)
{
  return ((Flooder *) data)->done;
}

/* Starts agent_flood.py and returns once it printed its report, the
 * main context running all along. */
static JsonObject *
flooder_run (Flooder    *fl,
             guint       timeout_ms,
             const char *first,
             ...)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "agent", "agent_flood.py", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  va_list ap;

  g_ptr_array_add (argv, "/usr/bin/python3");
  g_ptr_array_add (argv, script);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  memset (fl, 0, sizeof *fl);
  fl->process = g_subprocess_newv ((const char * const *) argv->pdata,
                                   G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  fl->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fl->process));
  g_data_input_stream_read_line_async (fl->out, G_PRIORITY_DEFAULT, NULL, line_cb, fl);
  g_assert_true (test_wait_until (flooder_done, fl, timeout_ms));
  g_assert_nonnull (fl->line);
  g_assert_true (json_parser_load_from_data (parser, fl->line, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
flooder_stop (Flooder *fl)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_close (g_subprocess_get_stdin_pipe (fl->process), NULL, NULL);
  g_subprocess_wait_check (fl->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fl->out);
  g_clear_object (&fl->process);
  g_free (fl->line);
}

static gboolean
is_connected (gpointer data)
{
  return lanlan_session_manager_get_state (data) == LANLAN_SESSION_STATE_CONNECTED;
}

static guint notifications;
static double rss_sampled_peak;

static gboolean
sample_rss (gpointer data)
{
  rss_sampled_peak = MAX (rss_sampled_peak, rss_mb ());
  return G_SOURCE_CONTINUE;
}

static void
on_notification (LanlanAgentLink *link,
                 const char      *text,
                 gboolean         is_error,
                 gpointer         data)
{
  notifications++;
}

/* Distinct agent notices the model was given, over all requests. */
static guint
count_notices (FakeChatServer *server)
{
  g_autoptr(GHashTable) found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint r = 0; r < fake_chat_server_get_n_requests (server); r++)
    {
      g_autofree char *body = fake_chat_server_dup_request (server, r);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *root;

      if (body == NULL || !json_parser_load_from_data (parser, body, -1, NULL))
        continue;
      root = json_node_get_object (json_parser_get_root (parser));
      if (!json_object_has_member (root, "messages"))
        continue;
      for (guint i = 0; i < json_array_get_length (json_object_get_array_member (root, "messages")); i++)
        {
          JsonObject *m = json_array_get_object_element (json_object_get_array_member (root, "messages"), i);
          const char *content = json_object_get_string_member_with_default (m, "content", "");

          if (strstr (content, "[System notice]") != NULL)
            g_hash_table_add (found, g_strdup (content));
        }
    }
  return g_hash_table_size (found);
}

static guint
env_uint (const char *name,
          guint       fallback)
{
  const char *value = g_getenv (name);
  return value ? (guint) strtoul (value, NULL, 10) : fallback;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAgentBridge) bridge = NULL;
  g_autoptr(LanlanCharacter) character = NULL;
  g_autoptr(LanlanCountingSink) sink = NULL;
  g_autoptr(LanlanSessionManager) session = NULL;
  g_autoptr(GListStore) transcript = NULL;
  g_autoptr(LanlanAgentLink) link = NULL;
  g_autoptr(JsonObject) report = NULL;
  g_autofree char *url = NULL;
  g_autofree char *pull = NULL;
  g_autofree char *pub = NULL;
  g_autofree char *push = NULL;
  g_autofree char *rate_s = NULL;
  g_autofree char *seconds_s = NULL;
  g_autofree char *bytes_s = NULL;
  LanlanAgentLinkStats link_stats;
  LanlanAgentBridgeStats bridge_stats;
  FakeChatServer *server;
  Flooder fl;
  Tick tick = { 0 };
  guint flood_seconds = env_uint ("LANLAN_BENCH_FLOOD_SECONDS", 3);
  guint sub_mib = env_uint ("LANLAN_BENCH_SUB_MIB", 32);
  double rss_start, rss_peak, rss_after, rss_settled, rss_base;
  gint64 base_stall, t0, elapsed_us, publish_max = 0, publish_base = 0;
  guint64 received_before;
  guint items, responses;
  guint sampler;
  gint64 flood_stall;

  g_test_init (&argc, &argv, NULL);

  server = fake_chat_server_new ();
  fake_chat_server_add_model (server, "llama3.2", FALSE);
  url = fake_chat_server_get_base_url (server);

  bridge = lanlan_agent_bridge_new_for_ports (0, 0, 0, &error);
  g_assert_no_error (error);
  pub = lanlan_agent_bridge_dup_endpoint (bridge, LANLAN_AGENT_SOCKET_PUB);
  pull = lanlan_agent_bridge_dup_endpoint (bridge, LANLAN_AGENT_SOCKET_PULL);
  push = lanlan_agent_bridge_dup_endpoint (bridge, LANLAN_AGENT_SOCKET_PUSH);

  character = lanlan_character_new ("Mio");
  lanlan_character_set_input_mode (character, LANLAN_INPUT_MODE_TEXT);
  lanlan_character_set_provider (character, "ollama");
  lanlan_character_set_base_url (character, url);
  lanlan_character_set_model (character, "llama3.2");
  sink = lanlan_counting_sink_new ();
  session = lanlan_session_manager_new (character, LANLAN_AUDIO_SINK (sink));
  lanlan_session_manager_set_api_key (session, "agent-flood-bench-key-0123456789");
  lanlan_session_manager_set_tts_backend (session, lanlan_tts_backend_new_tone (1, 20, FALSE));
  transcript = g_list_store_new (LANLAN_TYPE_MESSAGE);
  link = lanlan_agent_link_new (bridge, session, G_LIST_MODEL (transcript));
  g_signal_connect (link, "notification", G_CALLBACK (on_notification), NULL);

  lanlan_session_manager_start_session (session);
  g_assert_true (test_wait_until (is_connected, session, 10000));
  g_timeout_add (TICK_MS, tick_cb, &tick);

  /* Baseline: the same loop, no flood. */
  run_for (1000);
  tick_reset (&tick);
  rss_base = rss_mb ();
  run_for (1000);
  base_stall = tick.max_late_us;
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(JsonObject) payload = json_object_new ();

      t0 = g_get_monotonic_time ();
      lanlan_agent_bridge_publish (bridge, "Mio", "turn_end", payload, NULL);
      publish_base = MAX (publish_base, g_get_monotonic_time () - t0);
    }
  g_print ("agent-flood: baseline: main-thread max stall %.1f ms, turn_end publish max %.3f ms, RSS %.1f MB\n",
           base_stall / 1000.0, publish_base / 1000.0, rss_base);

  /* 1. proactive_message flood. */
  tick_reset (&tick);
  rss_start = rss_mb ();
  rss_peak = rss_start;
  lanlan_agent_bridge_get_stats (bridge, &bridge_stats);
  received_before = bridge_stats.n_received;
  rate_s = g_strdup ("100000");
  seconds_s = g_strdup_printf ("%u", flood_seconds);
  t0 = g_get_monotonic_time ();
  rss_sampled_peak = rss_start;
  sampler = g_timeout_add (50, sample_rss, NULL);
  report = flooder_run (&fl, (flood_seconds + 30) * 1000, "push", pull, rate_s, seconds_s, "Mio", NULL);
  elapsed_us = g_get_monotonic_time () - t0;
  rss_peak = MAX (rss_peak, rss_mb ());
  /* Let the bridge read what is queued, and the link's last batch go. */
  for (guint64 last = 0;;)
    {
      run_for (500);
      rss_peak = MAX (rss_peak, rss_mb ());
      lanlan_agent_bridge_get_stats (bridge, &bridge_stats);
      if (bridge_stats.n_received == last)
        break;
      last = bridge_stats.n_received;
    }
  rss_after = rss_mb ();
  rss_peak = MAX (rss_peak, rss_sampled_peak);
  g_source_remove (sampler);
  run_for (3000);
  rss_settled = rss_mb ();
  elapsed_us = MAX (elapsed_us, 1);

  lanlan_agent_link_get_stats (link, &link_stats);
  items = count_notices (server);
  responses = fake_chat_server_get_n_requests (server);
  g_print ("agent-flood: proactive_message %s/s for %.1f s: sent %" G_GINT64_FORMAT ", refused by backpressure %" G_GINT64_FORMAT
           ", read by the bridge %" G_GUINT64_FORMAT "\n",
           rate_s, json_object_get_double_member (report, "seconds"),
           json_object_get_int_member (report, "sent"), json_object_get_int_member (report, "refused"),
           bridge_stats.n_received - received_before);
  g_print ("agent-flood:   to the model: %u agent system messages over %u chat requests "
           "(%" G_GUINT64_FORMAT " injections carrying %" G_GUINT64_FORMAT " results, %" G_GUINT64_FORMAT " left out); "
           "notifications %u (%" G_GUINT64_FORMAT " folded into them)\n",
           items, responses, link_stats.n_injections, link_stats.n_injections + link_stats.n_coalesced,
           link_stats.n_dropped, notifications, link_stats.n_notifications_merged);
  g_print ("agent-flood:   main-thread max stall %.1f ms (%.1fx baseline), %u stalls over 50 ms\n",
           tick.max_late_us / 1000.0, (double) tick.max_late_us / MAX (base_stall, 1), tick.n_late_50ms);
  g_print ("agent-flood:   RSS start %.1f MB, peak %.1f MB, after the flood %.1f MB, 3 s later %.1f MB (%+.1f MB)\n",
           rss_start, rss_peak, rss_after, rss_settled, rss_settled - rss_start);
  flooder_stop (&fl);

  /* The policy: one injection per 2 s (the first at once), each with a
   * response; notifications a burst of 3 then one per 2 s. */
  {
    double window_s = (g_get_monotonic_time () - t0) / 1e6;
    guint64 max_injections = (guint64) (window_s / 2.0) + 2;

    g_assert_cmpuint (link_stats.n_injections, >=, 1);
    g_assert_cmpuint (link_stats.n_injections, <=, max_injections);
    g_assert_cmpuint (items, ==, link_stats.n_injections);
    g_assert_cmpuint (responses, <=, max_injections);
    g_assert_cmpuint (notifications, <=, 3 + max_injections);
  }
  g_clear_pointer (&report, json_object_unref);

  /* 2. Subscriptions. */
  tick_reset (&tick);
  rss_start = rss_mb ();
  bytes_s = g_strdup_printf ("%u", sub_mib * 1024 * 1024);
  report = flooder_run (&fl, 120000, "subscribe", pub, bytes_s, NULL);
  flood_stall = tick.max_late_us;
  tick_reset (&tick);
  for (guint i = 0; i < 40; i++)
    {
      g_autoptr(JsonObject) payload = json_object_new ();

      json_object_set_int_member (payload, "turn", i);
      t0 = g_get_monotonic_time ();
      lanlan_agent_bridge_publish (bridge, "Mio", "turn_end", payload, NULL);
      publish_max = MAX (publish_max, g_get_monotonic_time () - t0);
      run_for (50);
    }
  rss_peak = rss_mb ();
  lanlan_agent_bridge_get_stats (bridge, &bridge_stats);
  g_print ("agent-flood: %" G_GINT64_FORMAT " subscriptions (%.1f MiB) on PUB: turn_end publish max %.3f ms "
           "(%.1fx baseline), main-thread max stall %.1f ms while they came, %.1f ms after (%.1fx baseline); "
           "%" G_GUINT64_FORMAT " read, "
           "peer cut off %" G_GUINT64_FORMAT " times; "
           "RSS %.1f MB -> %.1f MB (%+.1f MB)\n",
           json_object_get_int_member (report, "subscriptions"),
           json_object_get_int_member (report, "bytes") / 1048576.0,
           publish_max / 1000.0, (double) publish_max / MAX (publish_base, 1),
           flood_stall / 1000.0, tick.max_late_us / 1000.0, (double) tick.max_late_us / MAX (base_stall, 1),
           bridge_stats.n_subscriptions, bridge_stats.n_subscribers_cut, rss_start, rss_peak, rss_peak - rss_start);
  flooder_stop (&fl);
  g_clear_pointer (&report, json_object_unref);

  /* 3. Large frames into the PUSH socket. */
  rss_start = rss_mb ();
  g_free (bytes_s);
  bytes_s = g_strdup_printf ("%u", 100 * 1024 * 1024);
  report = flooder_run (&fl, 60000, "rawpush", push, bytes_s, NULL);
  run_for (500);
  rss_peak = rss_mb ();
  g_print ("agent-flood: raw peer wrote %.1f MiB into the PUSH socket before it was cut off; "
           "RSS %.1f MB -> %.1f MB (%+.1f MB)\n",
           json_object_get_int_member (report, "bytes") / 1048576.0, rss_start, rss_peak, rss_peak - rss_start);
  flooder_stop (&fl);

  g_clear_object (&link);
  lanlan_session_manager_end_session (session);
  g_clear_object (&session);
  g_clear_object (&bridge);
  fake_chat_server_free (server);
  return 0;
}
