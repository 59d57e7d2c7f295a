/* bench-soak.c — three characters talking in parallel for minutes
 *
 * Three session managers, each on its own worker thread, exchange
 * scripted turns with a loopback realtime server (tests/realtime's fake
 * server) for LANLAN_SOAK_SECONDS (default 180), with a hot swap every
 * few turns. Prints turns completed, swaps, audio received, and RSS at
 * the start (after warm-up) and at the end. Fails on a real error:
 * a session error, a lost turn, lost transcript, or memory that keeps
 * growing (more than LANLAN_SOAK_MAX_GROWTH_KB, default 16 MiB, between
 * the end of warm-up and the end).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "lanlan-counting-sink.h"
#include "lanlan-fake-server.h"
#include "lanlan-session-manager.h"

#define N_CHARACTERS 3

/* AddressSanitizer holds freed memory back in a quarantine of its own,
 * so RSS keeps growing there whatever the app does: under it, memory is
 * reported but not judged (leaks are LeakSanitizer's and memcheck's job). */
#if defined(__SANITIZE_ADDRESS__)
# define UNDER_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define UNDER_ASAN 1
# endif
#endif
#ifndef UNDER_ASAN
# define UNDER_ASAN 0
#endif

typedef struct {
  LanlanSessionManager *session;
  LanlanCountingSink   *sink;
  guint                 turns_sent;
  guint                 turns_done;
  guint                 transcripts;
  guint                 errors;
  gboolean              busy;
  gint64                busy_since;
  guint                 stalls;
} Talker;

#define STALL_US (15 * G_USEC_PER_SEC)

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gsize
rss_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? strtoul (line + 6, NULL, 10) : 0;
}

static void
send_turn (Talker *t)
{
  g_autofree char *text = g_strdup_printf ("Scripted turn %u, please answer.", t->turns_sent + 1);

  t->turns_sent++;
  t->busy = TRUE;
  t->busy_since = g_get_monotonic_time ();
  lanlan_session_manager_stream_text (t->session, text);
}

static void
on_turn_ended (LanlanSessionManager *session,
               Talker               *t)
{
  t->turns_done++;
  t->busy = FALSE;
}

static void
on_transcript_done (LanlanSessionManager *session,
                    const char           *role,
                    const char           *turn_id,
                    const char           *text,
                    Talker               *t)
{
  if (g_strcmp0 (role, "assistant") == 0)
    t->transcripts++;
}

static void
on_error (LanlanSessionManager *session,
          GError               *error,
          Talker               *t)
{
  g_printerr ("session %s: %s\n", lanlan_session_manager_get_character_name (session), error->message);
  t->errors++;
}

static gboolean
all_connected (gpointer data)
{
  Talker *talkers = data;

  for (guint i = 0; i < N_CHARACTERS; i++)
    if (lanlan_session_manager_get_state (talkers[i].session) != LANLAN_SESSION_STATE_CONNECTED)
      return FALSE;
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  Talker talkers[N_CHARACTERS] = { 0 };
  FakeServer *server;
  FakeScript script = {
    .on_response = FAKE_RESPONSE_STREAM,
    .n_deltas = 8,
    .samples_per_delta = 1200,       /* 50 ms at 24 kHz */
    .delta_interval_ms = 5,
  };
  g_autofree char *url = NULL;
  const char *env;
  guint seconds = 180;
  gsize max_growth_kb = 16 * 1024;
  gsize rss_start = 0, rss_end, rss_peak = 0;
  gint64 start, warm_until, end;
  guint total_turns = 0, total_swaps = 0, total_errors = 0, lost = 0;

  setvbuf (stdout, NULL, _IOLBF, 0);
  /* Wake up now and then, so a stalled turn is noticed instead of waited on. */
  g_timeout_add (100, wake, NULL);

  if ((env = g_getenv ("LANLAN_SOAK_SECONDS")))
    seconds = MAX (atoi (env), 10);
  if ((env = g_getenv ("LANLAN_SOAK_MAX_GROWTH_KB")))
    max_growth_kb = strtoul (env, NULL, 10);

  server = fake_server_new ();
  fake_server_set_recording (server, FALSE);
  fake_server_set_default_script (server, &script);
  url = fake_server_get_url (server, "/v1/realtime");

  for (guint i = 0; i < N_CHARACTERS; i++)
    {
      static const char * const names[] = { "Lanlan", "Mio", "Hana" };
      g_autoptr(LanlanCharacter) c = lanlan_character_new (names[i]);

      lanlan_character_set_provider (c, "custom");
      lanlan_character_set_base_url (c, url);
      /* Typed turns over the realtime protocol (text mode is the chat engine). */
      lanlan_character_set_input_mode (c, LANLAN_INPUT_MODE_AUDIO);
      lanlan_character_set_model (c, "soak-model");
      lanlan_character_set_persona (c, "You are a soak test.");

      talkers[i].sink = lanlan_counting_sink_new ();
      talkers[i].session = lanlan_session_manager_new (c, LANLAN_AUDIO_SINK (talkers[i].sink));
      lanlan_session_manager_set_api_key (talkers[i].session, "soak-test-key-0123456789");
      lanlan_session_manager_set_hot_swap_turns (talkers[i].session, 7);
      g_signal_connect (talkers[i].session, "turn-ended", G_CALLBACK (on_turn_ended), &talkers[i]);
      g_signal_connect (talkers[i].session, "transcript-done", G_CALLBACK (on_transcript_done), &talkers[i]);
      g_signal_connect (talkers[i].session, "error", G_CALLBACK (on_error), &talkers[i]);
      lanlan_session_manager_start_session (talkers[i].session);
    }

  g_print ("soak: connecting %d characters\n", N_CHARACTERS);
  if (!test_wait_until (all_connected, talkers, 10000))
    {
      g_printerr ("sessions did not connect\n");
      return 1;
    }

  start = g_get_monotonic_time ();
  warm_until = start + MIN (20, seconds / 5) * G_USEC_PER_SEC;
  end = start + (gint64) seconds * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end)
    {
      gint64 now;

      now = g_get_monotonic_time ();
      for (guint i = 0; i < N_CHARACTERS; i++)
        {
          if (!talkers[i].busy)
            send_turn (&talkers[i]);
          else if (now - talkers[i].busy_since > STALL_US)
            {
              g_printerr ("%s: turn %u got no answer in %d s\n",
                          lanlan_session_manager_get_character_name (talkers[i].session),
                          talkers[i].turns_sent, (int) (STALL_US / G_USEC_PER_SEC));
              talkers[i].stalls++;
              talkers[i].busy = FALSE;
            }
        }

      g_main_context_iteration (context, TRUE);

      now = g_get_monotonic_time ();
      if (rss_start == 0 && now >= warm_until)
        rss_start = rss_kb ();
      if (rss_start != 0)
        rss_peak = MAX (rss_peak, rss_kb ());
    }

  /* Let the turns in flight finish. */
  {
    gint64 drain_until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    gboolean busy = TRUE;

    while (busy && g_get_monotonic_time () < drain_until)
      {
        busy = FALSE;
        for (guint i = 0; i < N_CHARACTERS; i++)
          busy |= talkers[i].busy;
        g_main_context_iteration (context, busy);
      }
  }
  rss_end = rss_kb ();

  for (guint i = 0; i < N_CHARACTERS; i++)
    {
      LanlanSessionStats stats = { 0 };
      guint64 expected_audio = (guint64) talkers[i].turns_done * script.n_deltas * script.samples_per_delta;

      lanlan_session_manager_get_stats (talkers[i].session, &stats);
      g_print ("%-6s turns sent %u, completed %u, transcripts %u, swaps %u, reconnects %u, "
               "audio %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " samples, errors %u, stalls %u\n",
               lanlan_session_manager_get_character_name (talkers[i].session),
               talkers[i].turns_sent, talkers[i].turns_done, talkers[i].transcripts,
               stats.n_swaps, stats.n_reconnects,
               lanlan_counting_sink_get_total (talkers[i].sink), expected_audio,
               talkers[i].errors, talkers[i].stalls);

      total_turns += talkers[i].turns_done;
      total_swaps += stats.n_swaps;
      total_errors += talkers[i].errors + talkers[i].stalls;
      lost += talkers[i].turns_sent - talkers[i].turns_done - talkers[i].stalls;
      lost += talkers[i].turns_done - MIN (talkers[i].turns_done, talkers[i].transcripts);
      if (lanlan_counting_sink_get_total (talkers[i].sink) < expected_audio)
        lost++;
    }

  g_print ("soak: %u s, %d characters, %u turns completed (%.1f/s), %u hot swaps\n",
           seconds, N_CHARACTERS, total_turns, total_turns / (double) seconds, total_swaps);
  g_print ("soak: RSS after warm-up %zu KiB, peak %zu KiB, end %zu KiB, growth %+ld KiB\n",
           rss_start, rss_peak, rss_end, (long) rss_end - (long) rss_start);

  for (guint i = 0; i < N_CHARACTERS; i++)
    {
      lanlan_session_manager_end_session (talkers[i].session);
      g_clear_object (&talkers[i].session);
      g_clear_object (&talkers[i].sink);
    }
  fake_server_free (server);

  if (total_errors > 0 || lost > 0 || total_turns == 0)
    {
      g_printerr ("soak: FAILED: %u errors, %u turns or transcripts lost\n", total_errors, lost);
      return 1;
    }
  if (UNDER_ASAN)
    g_print ("soak: memory growth not judged under AddressSanitizer (its quarantine keeps freed memory)\n");
  else if (rss_end > rss_start + max_growth_kb)
    {
      g_printerr ("soak: FAILED: memory grew by %zu KiB (limit %zu KiB)\n",
                  rss_end - rss_start, max_growth_kb);
      return 1;
    }
  return 0;
}
