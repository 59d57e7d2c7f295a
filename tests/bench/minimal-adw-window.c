/* minimal-adw-window.c — the baseline for the idle benchmark
 *
 * A plain AdwApplication with one window (a header bar, a label and an
 * entry), nothing else: what any GTK 4 + libadwaita app costs sitting
 * idle in the same session. SIGUSR1 opens one more window, to measure
 * what a window costs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <adwaita.h>
#include <glib-unix.h>

static void
on_activate (GtkApplication *app)
{
  GtkWidget *window = adw_application_window_new (app);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *label = gtk_label_new ("Idle baseline");
  GtkWidget *entry = gtk_entry_new ();

  gtk_window_set_title (GTK_WINDOW (window), "Baseline");
  gtk_window_set_default_size (GTK_WINDOW (window), 480, 640);
  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  gtk_widget_set_vexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), entry);
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (window), box);
  gtk_window_present (GTK_WINDOW (window));
}

static gboolean
on_sigusr1 (gpointer app)
{
  on_activate (app);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = adw_application_new ("io.github.lanlan.IdleBaseline",
                                                       G_APPLICATION_NON_UNIQUE);

  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  g_unix_signal_add (SIGUSR1, on_sigusr1, app);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
