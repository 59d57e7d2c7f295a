/* test-delta-flood.c — a window under a flood of transcript deltas
 *
 * The service streams 10,000 transcript deltas a second into one reply
 * (and, in the second test, each delta in a new output item, which
 * still belong to the one reply of their response, as in N.E.K.O.),
 * while the reply's window is on screen. The main thread must keep
 * running (the session folds deltas together and hands them over at
 * most once a frame, the row appends a few pieces a frame and draws only
 * those in view), every delta must land, in order, in the message, the
 * window and the database, and memory stays bounded.
 *
 * The main loop's health is measured by a 5 ms ticker: the longest gap
 * between two ticks (wall clock, which a loaded machine stretches), and
 * the main thread's own CPU time within one gap (the work the app did
 * without letting the loop run, which load does not stretch), and how
 * much of the longest gap the thread spent runnable, waiting for a CPU.
 *
 * As a test: two seconds of flood. The old code spent seconds of CPU
 * in a single frame there (laying every piece of the reply out again);
 * the bounds are a tenth of that, many times what the app needs. With
 * LANLAN_BENCH=1 (suite 'bench'): ten seconds, after the same window
 * idle for as long as the baseline, and the figures are printed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "lanlan-application.h"
#include "lanlan-fake-server.h"
#include "lanlan-message-row.h"
#include "lanlan-secrets.h"
#include "lanlan-store.h"

#define RATE_PER_S  10000
#define BATCH       100        /* deltas per 10 ms */

static LanlanApplication *app;
static gboolean bench;

/* --- Measuring ----------------------------------------------------------- */

static double
rss_mb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? g_ascii_strtod (line + 6, NULL) / 1024.0 : 0;
}

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static double
process_cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* How long this thread has waited for a CPU while runnable (the
 * scheduler's, not the app's time), in µs; 0 where not known. */
static gint64
thread_wait_us (void)
{
  char buf[128];
  FILE *f = fopen ("/proc/thread-self/schedstat", "r");
  unsigned long long run = 0, wait = 0;

  if (f == NULL)
    return 0;
  if (fgets (buf, sizeof buf, f) == NULL || sscanf (buf, "%llu %llu", &run, &wait) != 2)
    wait = 0;
  fclose (f);
  return (gint64) (wait / 1000);
}

typedef struct {
  gint64  last;
  gint64  last_cpu;
  gint64  last_wait;
  gint64  max_gap_wait;   /* of the longest gap, the time spent waiting for a CPU */
  gint64  max_gap;        /* wall clock between two ticks */
  gint64  max_cpu;        /* the main thread's CPU time between two ticks */
  guint   n_gaps;
  guint   n_long;         /* gaps over 100 ms */
  gint64  start_cpu;
  double  start_process_cpu;
  gint64  start;
} Ticker;

static gboolean
tick (gpointer data)
{
  Ticker *t = data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  gint64 wait = thread_wait_us ();

  if (t->last != 0)
    {
      if (now - t->last > t->max_gap)
        t->max_gap_wait = wait - t->last_wait;
      t->max_gap = MAX (t->max_gap, now - t->last);
      t->max_cpu = MAX (t->max_cpu, cpu - t->last_cpu);
      t->n_gaps++;
      if (now - t->last > 100000)
        t->n_long++;
    }
  t->last = now;
  t->last_cpu = cpu;
  t->last_wait = wait;
  return G_SOURCE_CONTINUE;
}

static guint
ticker_start (Ticker *t)
{
  *t = (Ticker) { 0, };
  t->start = g_get_monotonic_time ();
  t->start_cpu = thread_cpu_us ();
  t->start_process_cpu = process_cpu_s ();
  return g_timeout_add (5, tick, t);
}

/* Main-thread and whole-process CPU per second since the start. */
static void
ticker_cpu (Ticker *t,
            double *main_share,
            double *process_share)
{
  double wall = (g_get_monotonic_time () - t->start) / 1e6;

  *main_share = (thread_cpu_us () - t->start_cpu) / 1e6 / wall;
  *process_share = (process_cpu_s () - t->start_process_cpu) / wall;
}

static gboolean
elapsed (gpointer data)
{
  return g_get_monotonic_time () >= *(gint64 *) data;
}

/* --- The flood, from its own thread ------------------------------------------ */

typedef struct {
  FakeServer *server;
  guint       seconds;
  gboolean    new_items;      /* every delta in a new output item */
  guint       sent;
  gboolean    done;
} Flood;

static gpointer
flood_thread (gpointer data)
{
  Flood *f = data;
  gint64 start = g_get_monotonic_time ();
  guint total = f->seconds * RATE_PER_S;

  while (f->sent < total)
    {
      gint64 due = start + (gint64) (f->sent / BATCH) * 10000;

      if (g_get_monotonic_time () < due)
        g_usleep (due - g_get_monotonic_time ());
      for (guint i = 0; i < BATCH && f->sent < total; i++, f->sent++)
        {
          g_autofree char *json = NULL;

          if (f->new_items)
            {
              g_autofree char *added =
                g_strdup_printf ("{\"type\":\"response.output_item.added\",\"response_id\":\"resp_f\","
                                 "\"output_index\":%u,\"item\":{\"id\":\"item_%u\",\"type\":\"message\","
                                 "\"role\":\"assistant\"}}", f->sent, f->sent);
              fake_server_send (f->server, 0, added);
            }
          json = g_strdup_printf ("{\"type\":\"response.output_audio_transcript.delta\","
                                  "\"response_id\":\"resp_f\",\"item_id\":\"item_%u\","
                                  "\"output_index\":0,\"content_index\":0,\"delta\":\"d%u \"}",
                                  f->new_items ? f->sent : 0, f->sent);
          fake_server_send (f->server, 0, json);
        }
    }
  g_atomic_int_set (&f->done, TRUE);
  return NULL;
}

/* --- Waiting ------------------------------------------------------------------ */

static gboolean
asked_for_response (gpointer server)
{
  return fake_server_count_type (server, 0, "response.create") >= 1;
}

static gboolean
is_connected (gpointer conversation)
{
  LanlanSessionState state = lanlan_conversation_get_state (conversation);

  return state == LANLAN_SESSION_STATE_CONNECTED || state == LANLAN_SESSION_STATE_RESPONDING;
}

typedef struct {
  LanlanConversation *conversation;
  gsize               length;     /* of the reply, once all landed */
  guint               n_messages;
} Landed;

static gsize
reply_length (LanlanConversation *conversation,
              guint              *n_out)
{
  GListModel *messages = lanlan_conversation_get_messages (conversation);
  guint n = g_list_model_get_n_items (messages);
  gsize length = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanMessage) m = g_list_model_get_item (messages, i);

      if (lanlan_message_get_role (m) == LANLAN_MESSAGE_ROLE_ASSISTANT)
        length += strlen (lanlan_message_get_text (m));
    }
  if (n_out)
    *n_out = n;
  return length;
}

static gboolean
all_landed (gpointer data)
{
  Landed *l = data;

  return reply_length (l->conversation, NULL) >= l->length;
}

static gsize
expected_length (guint n)
{
  gsize length = 0;

  for (guint i = 0; i < n; i++)
    {
      char buf[32];

      length += g_snprintf (buf, sizeof buf, "d%u ", i);
    }
  return length;
}

/* The reply's text as its row shows it, piece by piece. */
static void
collect_shown (GtkWidget     *widget,
               LanlanMessage *message,
               GString       *out,
               gboolean       inside)
{
  if (LANLAN_IS_MESSAGE_ROW (widget))
    inside = lanlan_message_row_get_message (LANLAN_MESSAGE_ROW (widget)) == message;
  if (inside && GTK_IS_LABEL (widget) &&
      (gtk_widget_has_css_class (widget, "bubble") || gtk_widget_has_css_class (widget, "bubble-more")))
    g_string_append (out, gtk_label_get_text (GTK_LABEL (widget)));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_shown (child, message, out, inside);
}

typedef struct {
  GtkWidget     *window;
  LanlanMessage *message;
} Shown;

static gboolean
all_shown (gpointer data)
{
  Shown *s = data;
  g_autoptr(GString) shown = g_string_new (NULL);

  collect_shown (s->window, s->message, shown, FALSE);
  return g_str_equal (shown->str, lanlan_message_get_text (s->message));
}

static gboolean
is_stored (gpointer data)
{
  LanlanMessage *message = data;

  return lanlan_message_get_status (message) == LANLAN_MESSAGE_STATUS_SENT;
}

/* --- The test ------------------------------------------------------------------ */

/* The figures of one window over one stretch of time. */
typedef struct {
  double stall_ms;        /* the longest gap between two ticks */
  double waited_ms;       /* of which runnable, waiting for a CPU */
  double work_ms;         /* the main thread's CPU time within one gap, at most */
  guint  n_long;          /* gaps over 100 ms */
  double main_cpu;        /* main-thread CPU seconds per second */
  double process_cpu;     /* the whole process's */
  double rss_before;
  double rss_after;
} Figures;

static void
figures_take (Figures *f,
              Ticker  *t,
              double   rss_before)
{
  f->stall_ms = t->max_gap / 1000.0;
  f->waited_ms = t->max_gap_wait / 1000.0;
  f->work_ms = t->max_cpu / 1000.0;
  f->n_long = t->n_long;
  ticker_cpu (t, &f->main_cpu, &f->process_cpu);
  f->rss_before = rss_before;
  f->rss_after = rss_mb ();
}

static void
run_flood (gboolean new_items)
{
  const char *name = new_items ? "new-item" : "delta";
  FakeServer *server = fake_server_new ();
  FakeScript script = { .on_response = FAKE_RESPONSE_STALL, .text_only = TRUE };
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Flood");
  g_autoptr(LanlanConversation) conversation = NULL;
  g_autoptr(LanlanStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanMessage) reply = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autofree char *url = fake_server_get_url (server, NULL);
  g_autofree char *dir = g_dir_make_tmp ("lanlan-flood-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(GThread) thread = NULL;
  Flood flood = { server, bench ? 10 : 2, new_items, 0, FALSE };
  Ticker ticker;
  Figures idle = { 0, }, flooded = { 0, };
  Landed landed;
  Shown shown;
  LanlanWindow *window;
  GListModel *messages;
  gint64 start, drained, until;
  guint tick_id, n_messages = 0;
  const char *text;

  g_assert_no_error (error);
  path = g_build_filename (dir, "lanlan.db", NULL);
  store = lanlan_store_new (path, &error);
  g_assert_no_error (error);

  lanlan_character_set_provider (c, "custom");
  lanlan_character_set_base_url (c, url);
  fake_server_set_default_script (server, &script);
  g_assert_true (lanlan_secrets_store_sync ("custom", "sk-flood", NULL, &error));
  g_assert_no_error (error);

  conversation = lanlan_conversation_new (c, store);
  window = lanlan_window_new (GTK_APPLICATION (app), conversation);
  gtk_window_present (GTK_WINDOW (window));
  lanlan_conversation_send_text (conversation, "Say a lot.");
  g_assert_true (test_wait_until (is_connected, conversation, 15000));
  g_assert_true (test_wait_until (asked_for_response, server, 15000));

  fake_server_send (server, 0, "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_f\","
                               "\"status\":\"in_progress\"}}");
  if (!new_items)
    fake_server_send (server, 0, "{\"type\":\"response.output_item.added\",\"response_id\":\"resp_f\","
                                 "\"output_index\":0,\"item\":{\"id\":\"item_0\",\"type\":\"message\","
                                 "\"role\":\"assistant\"}}");

  /* The baseline: the same window, idle, for as long as the flood. */
  if (bench)
    {
      double rss_before = rss_mb ();

      tick_id = ticker_start (&ticker);
      until = g_get_monotonic_time () + flood.seconds * G_USEC_PER_SEC;
      test_wait_until (elapsed, &until, 2 * flood.seconds * 1000);
      g_source_remove (tick_id);
      figures_take (&idle, &ticker, rss_before);
    }

  {
    double rss_before = rss_mb ();

    tick_id = ticker_start (&ticker);
    start = g_get_monotonic_time ();
    thread = g_thread_new ("flood", flood_thread, &flood);

    landed = (Landed) { conversation, expected_length (flood.seconds * RATE_PER_S), 0 };
    /* Everything lands in the end, however slow the machine. */
    g_assert_true (test_wait_until (all_landed, &landed, 60000 * flood.seconds));
    drained = g_get_monotonic_time ();
    g_thread_join (g_steal_pointer (&thread));
    g_source_remove (tick_id);
    figures_take (&flooded, &ticker, rss_before);
  }

  /* One reply, in order, in the message. */
  g_assert_cmpuint (reply_length (conversation, &n_messages), ==, landed.length);
  messages = lanlan_conversation_get_messages (conversation);
  reply = g_list_model_get_item (messages, g_list_model_get_n_items (messages) - 1);
  g_assert_cmpint (lanlan_message_get_role (reply), ==, LANLAN_MESSAGE_ROLE_ASSISTANT);
  text = lanlan_message_get_text (reply);
  g_assert_true (g_str_has_prefix (text, "d0 d1 d2 "));
  {
    g_autofree char *last = g_strdup_printf (" d%u ", flood.seconds * RATE_PER_S - 1);

    g_assert_true (g_str_has_suffix (text, last));
  }

  /* In the window: the row catches up, a few pieces a frame. */
  shown = (Shown) { GTK_WIDGET (window), reply };
  g_assert_true (test_wait_until (all_shown, &shown, 60000));

  /* In the database, once the reply is done. */
  fake_server_send (server, 0, "{\"type\":\"response.done\",\"response\":{\"id\":\"resp_f\","
                               "\"status\":\"completed\"}}");
  g_assert_true (test_wait_until (is_stored, reply, 15000));
  stored = lanlan_store_load_messages (store, lanlan_conversation_get_id (conversation), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 2);
  g_assert_cmpstr (lanlan_message_get_id (g_ptr_array_index (stored, 1)), ==, lanlan_message_get_id (reply));
  g_assert_true (g_str_equal (lanlan_message_get_text (g_ptr_array_index (stored, 1)), text));

  g_print ("# %s flood: %u deltas in %u s, drained after %.1f s; main thread: longest gap %.0f ms "
           "(%.0f ms of it waiting for a CPU), most CPU in one gap %.0f ms, %u gaps over 100 ms, "
           "%.2f CPU-s/s; process %.2f CPU-s/s; RSS %.1f -> %.1f MB (+%.1f); %u messages\n",
           name, flood.sent, flood.seconds, (drained - start) / 1e6,
           flooded.stall_ms, flooded.waited_ms, flooded.work_ms, flooded.n_long, flooded.main_cpu, flooded.process_cpu,
           flooded.rss_before, flooded.rss_after, flooded.rss_after - flooded.rss_before, n_messages);
  if (bench)
    {
      g_print ("# baseline, the same window idle for %u s: longest gap %.0f ms, most CPU in one gap %.0f ms, "
               "%.2f CPU-s/s; process %.2f CPU-s/s; RSS +%.1f MB\n",
               flood.seconds, idle.stall_ms, idle.work_ms, idle.main_cpu, idle.process_cpu,
               idle.rss_after - idle.rss_before);
      g_print ("# main-thread stall (max) during a %u s %s flood: %.0f ms, %.0f ms of it waiting for a CPU "
               "(%.1fx the idle window's %.0f ms); "
               "most main-thread CPU in one gap %.0f ms (idle %.0f ms); RSS growth %.1f MB (idle %.1f MB); "
               "process CPU %.2f CPU-s/s (idle %.2f)\n",
               flood.seconds, name, flooded.stall_ms, flooded.waited_ms,
               flooded.stall_ms / MAX (idle.stall_ms, 1.0),
               idle.stall_ms, flooded.work_ms, idle.work_ms,
               flooded.rss_after - flooded.rss_before, idle.rss_after - idle.rss_before,
               flooded.process_cpu, idle.process_cpu);
    }
  else
    {
      /* The old code froze the loop for seconds of CPU in one frame
       * here (9.5 s of CPU, a 38 s gap on a loaded 2-core box); the app
       * now needs tens of milliseconds (gaps of 0.5-1.5 s at a load of
       * 17 on 2 cores were the scheduler's, not the app's work). AddressSanitizer makes GTK's layout
       * several times slower and keeps freed memory in quarantine, so
       * there the figures are printed, not judged. */
#if defined(__SANITIZE_ADDRESS__)
      g_test_message ("under AddressSanitizer: stall and RSS not judged");
#else
      g_assert_cmpfloat (flooded.work_ms, <, 500.0);
      g_assert_cmpfloat (flooded.stall_ms, <, 5000.0);
      g_assert_cmpfloat (flooded.rss_after - flooded.rss_before, <, 60.0);
#endif
    }

  gtk_window_destroy (GTK_WINDOW (window));
  lanlan_conversation_end (conversation);
  g_clear_object (&conversation);
  lanlan_store_flush (store, NULL);
  g_clear_object (&store);
  fake_server_free (server);
  for (guint i = 0; i < 3; i++)
    {
      static const char * const suffix[] = { "", "-wal", "-shm" };
      g_autofree char *p = g_strconcat (path, suffix[i], NULL);

      g_unlink (p);
    }
  g_rmdir (dir);
}

static void
test_delta_flood (void)
{
  run_flood (FALSE);
}

static void
test_new_item_flood (void)
{
  run_flood (TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  bench = g_strcmp0 (g_getenv ("LANLAN_BENCH"), "1") == 0;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* llvmpipe compiling GL shaders would be measured as a stall too. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  app = lanlan_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/flood/deltas", test_delta_flood);
  g_test_add_func ("/flood/new-items", test_new_item_flood);

  ret = g_test_run ();
  g_clear_object (&app);
  return ret;
}
