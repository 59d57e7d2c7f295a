/* test-window-api.c — a character window's streaming transcript, status,
 * hot-swap indicator and error banner, driven through its C API
 *
 * Runs under Xvfb (tests/harness/lanlan-test-env).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-application.h"

static LanlanApplication *app;

static void
collect_bubbles (GtkWidget *widget,
                 GPtrArray *out)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_has_css_class (widget, "bubble"))
    g_ptr_array_add (out, widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect_bubbles (child, out);
}

static GPtrArray *
bubbles (LanlanWindow *window)
{
  GPtrArray *out = g_ptr_array_new ();

  collect_bubbles (GTK_WIDGET (window), out);
  return out;
}

static const char *
bubble_text (GPtrArray *b,
             guint      i)
{
  return gtk_label_get_text (g_ptr_array_index (b, i));
}

static LanlanWindow *
new_window (const char *name)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new (name);

  return lanlan_window_new (GTK_APPLICATION (app), c);
}

static void
test_streaming (void)
{
  LanlanWindow *window = new_window ("Stream");
  g_autoptr(GPtrArray) b = NULL;

  lanlan_window_transcript_delta (window, LANLAN_ROLE_USER, "u1", "Hel");
  lanlan_window_transcript_delta (window, LANLAN_ROLE_CHARACTER, "a1", "Good ");
  lanlan_window_transcript_delta (window, LANLAN_ROLE_USER, "u1", "lo");
  lanlan_window_transcript_delta (window, LANLAN_ROLE_CHARACTER, "a1", "morning");
  lanlan_window_transcript_delta (window, LANLAN_ROLE_CHARACTER, "a1", "");

  b = bubbles (window);
  g_assert_cmpuint (b->len, ==, 2);
  g_assert_cmpstr (bubble_text (b, 0), ==, "Hello");
  g_assert_cmpstr (bubble_text (b, 1), ==, "Good morning");
  g_assert_true (gtk_widget_has_css_class (g_ptr_array_index (b, 1), "streaming"));
  g_assert_true (gtk_widget_has_css_class (g_ptr_array_index (b, 0), "user"));
  g_assert_true (gtk_widget_has_css_class (g_ptr_array_index (b, 1), "character"));

  /* done replaces the streamed text and closes the bubble */
  lanlan_window_transcript_done (window, LANLAN_ROLE_CHARACTER, "a1", "Good morning!");
  g_assert_false (gtk_widget_has_css_class (g_ptr_array_index (b, 1), "streaming"));
  g_assert_cmpstr (bubble_text (b, 1), ==, "Good morning!");

  /* the same turn id afterwards starts a new bubble */
  lanlan_window_transcript_delta (window, LANLAN_ROLE_CHARACTER, "a1", "Again");
  /* done without deltas makes a finished bubble */
  lanlan_window_transcript_done (window, LANLAN_ROLE_USER, "u2", "Typed");
  /* done with no text keeps what was streamed */
  lanlan_window_transcript_done (window, LANLAN_ROLE_USER, "u1", NULL);

  g_ptr_array_unref (g_steal_pointer (&b));
  b = bubbles (window);
  g_assert_cmpuint (b->len, ==, 4);
  g_assert_cmpstr (bubble_text (b, 0), ==, "Hello");
  g_assert_false (gtk_widget_has_css_class (g_ptr_array_index (b, 0), "streaming"));
  g_assert_cmpstr (bubble_text (b, 2), ==, "Again");
  g_assert_cmpstr (bubble_text (b, 3), ==, "Typed");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_status_and_banners (void)
{
  LanlanWindow *window = new_window ("Status");

  g_assert_cmpstr (lanlan_window_get_status (window), ==, "Not connected");
  lanlan_window_set_status (window, "Connected");
  g_assert_cmpstr (lanlan_window_get_status (window), ==, "Connected");

  g_assert_null (lanlan_window_get_error (window));
  lanlan_window_show_error (window, "The API key was refused", "Change Key…", "app.api-keys");
  g_assert_cmpstr (lanlan_window_get_error (window), ==, "The API key was refused");
  lanlan_window_show_error (window, NULL, NULL, NULL);
  g_assert_null (lanlan_window_get_error (window));

  lanlan_window_set_swap_status (window, "Applying changes…", TRUE, 0);
  lanlan_window_set_swap_status (window, "Changes applied", FALSE, 50);
  lanlan_window_set_swap_status (window, NULL, FALSE, 0);

  gtk_window_destroy (GTK_WINDOW (window));
}

static double
fake_level (gpointer user_data)
{
  guint *calls = user_data;

  (*calls)++;
  return 0.5;
}

static void
test_level_meter_and_many_windows (void)
{
  LanlanWindow *windows[4];
  guint calls = 0;
  gint64 deadline;

  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_autofree char *name = g_strdup_printf ("W%u", i);
      windows[i] = new_window (name);
      gtk_window_present (GTK_WINDOW (windows[i]));
    }

  lanlan_window_set_level_func (windows[0], fake_level, &calls, NULL);
  g_assert_false (lanlan_window_get_microphone_active (windows[0]));
  /* The meter is polled only while the microphone is on. */
  deadline = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (calls, ==, 0);

  gtk_widget_activate_action (GTK_WIDGET (windows[0]), "win.toggle-microphone", NULL);
  g_assert_true (lanlan_window_get_microphone_active (windows[0]));
  lanlan_window_set_level_func (windows[0], fake_level, &calls, NULL);
  deadline = g_get_monotonic_time () + 500 * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  /* ~30 Hz: about 15 calls in half a second */
  g_assert_cmpuint (calls, >=, 5);
  g_assert_cmpuint (calls, <=, 30);

  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_autoptr(GPtrArray) b = NULL;

      lanlan_window_append_message (windows[i], LANLAN_ROLE_USER, "only here");
      b = bubbles (windows[i]);
      g_assert_cmpuint (b->len, ==, 1);
    }

  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    gtk_window_destroy (GTK_WINDOW (windows[i]));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  app = lanlan_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/window/streaming", test_streaming);
  g_test_add_func ("/window/status-and-banners", test_status_and_banners);
  g_test_add_func ("/window/level-meter-and-many-windows", test_level_meter_and_many_windows);

  ret = g_test_run ();
  g_clear_object (&app);
  return ret;
}
