/* bench-conversation.c — opening a long conversation
 *
 * A store file in a temp dir holds a conversation of 10 messages (the
 * baseline) and one of 10,000. For each: the time from making the
 * conversation (which loads it) to the window's first frame, the RSS it
 * adds, and how many message rows the list view made (recycled rows: a
 * screenful and a margin, not one per message). A first window, which
 * pays for the theme, fonts and renderer, is opened and not counted.
 * Prints figures and the
 * ratios against the baseline; asserts only that rows are recycled.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "lanlan-application.h"
#include "lanlan-message-row.h"

static LanlanApplication *app;

static gsize
rss_kib (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%lu %lu", &size, &resident);
  return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

static void
count_rows (GtkWidget *widget,
            guint     *n)
{
  if (LANLAN_IS_MESSAGE_ROW (widget))
    (*n)++;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    count_rows (c, n);
}

static void
on_after_paint (GdkFrameClock *clock,
                gboolean      *painted)
{
  *painted = TRUE;
}

static void
fill (LanlanStore     *store,
      LanlanCharacter *character,
      guint            n)
{
  g_autofree char *id = lanlan_store_create_conversation (store, lanlan_character_get_id (character));

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("Message %u: %s", i,
                                               i % 3 ? "a short line" :
                                               "a longer message that wraps over a few lines in the bubble, "
                                               "as a character's answers often do when they explain something");
      g_autoptr(LanlanMessage) m = lanlan_message_new (i % 2 ? LANLAN_MESSAGE_ROLE_ASSISTANT
                                                             : LANLAN_MESSAGE_ROLE_USER, text);

      lanlan_message_set_status (m, LANLAN_MESSAGE_STATUS_SENT);
      lanlan_store_save_message (store, id, m);
    }
}

typedef struct {
  double ms;
  gsize  rss_kib;
  guint  rows;
  guint  messages;
} Figures;

static Figures
open_and_measure (LanlanStore     *store,
                  LanlanCharacter *character)
{
  Figures f = { 0 };
  gsize rss0 = rss_kib ();
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(LanlanConversation) conversation = lanlan_conversation_new (character, store);
  LanlanWindow *window = lanlan_window_new (GTK_APPLICATION (app), conversation);
  gboolean painted = FALSE;
  GdkFrameClock *clock;

  gtk_window_present (GTK_WINDOW (window));
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
  while (!painted)
    g_main_context_iteration (NULL, TRUE);
  f.ms = (g_get_monotonic_time () - t0) / 1000.0;
  g_signal_handlers_disconnect_by_data (clock, &painted);

  /* Let the list settle (scrolled to the end), then count. */
  for (gint64 end = g_get_monotonic_time () + 300 * G_TIME_SPAN_MILLISECOND; g_get_monotonic_time () < end; )
    g_main_context_iteration (NULL, FALSE);
  f.rss_kib = rss_kib () - MIN (rss0, rss_kib ());
  count_rows (GTK_WIDGET (window), &f.rows);
  f.messages = g_list_model_get_n_items (lanlan_conversation_get_messages (conversation));

  gtk_window_destroy (GTK_WINDOW (window));
  lanlan_conversation_end (conversation);
  return f;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(LanlanStore) store = NULL;
  g_autoptr(LanlanCharacter) small = lanlan_character_new ("Small");
  g_autoptr(LanlanCharacter) large = lanlan_character_new ("Large");
  Figures base, big;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* Software GL (llvmpipe) compiling shaders would be most of what is
   * measured; cairo measures Lanlan's part. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_init ();
  adw_init ();
  app = lanlan_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);

  dir = g_dir_make_tmp ("lanlan-bench-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "lanlan.db", NULL);
  store = lanlan_store_new (path, &error);
  g_assert_no_error (error);
  fill (store, small, 10);
  fill (store, large, 10000);
  g_assert_true (lanlan_store_flush (store, &error));

  /* A first window pays for the theme, fonts and renderer: not counted. */
  open_and_measure (store, small);
  base = open_and_measure (store, small);
  big = open_and_measure (store, large);

  g_print ("open %5u messages: first frame %7.1f ms, +%6zu KiB RSS, %3u row widgets\n",
           base.messages, base.ms, base.rss_kib, base.rows);
  g_print ("open %5u messages: first frame %7.1f ms, +%6zu KiB RSS, %3u row widgets\n",
           big.messages, big.ms, big.rss_kib, big.rows);
  g_print ("ratio (10000 / 10): time %.1fx, rows %.1fx, messages %.0fx\n",
           big.ms / MAX (base.ms, 0.001), (double) big.rows / MAX (base.rows, 1),
           (double) big.messages / MAX (base.messages, 1));

  g_assert_cmpuint (big.messages, ==, 10000);
  /* Recycled: rows do not grow with the conversation. */
  g_assert_cmpuint (big.rows, <, 300);

  g_clear_object (&store);
  for (guint i = 0; i < 3; i++)
    {
      static const char * const suffix[] = { "", "-wal", "-shm" };
      g_autofree char *p = g_strconcat (path, suffix[i], NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
  g_clear_object (&app);
  return 0;
}
