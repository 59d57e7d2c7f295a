/* test-icon.c — the app's icon is found without an installed icon theme
 *
 * The icon ships in the GResource under the application's resource base
 * path, which GtkApplication adds to the icon theme: the About window and
 * the window icon work in `meson devenv` and a build run in place. The
 * test environment has no hicolor copy of the icon, so only the resource
 * can answer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gtk/gtk.h>

static void
on_startup (GApplication *app,
            gboolean     *checked)
{
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gdk_display_get_default ());
  g_autoptr(GtkIconPaintable) icon = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *uri = NULL;

  g_assert_true (gtk_icon_theme_has_icon (theme, "io.github.lanlan.Lanlan"));
  g_assert_true (gtk_icon_theme_has_icon (theme, "io.github.lanlan.Lanlan-symbolic"));

  icon = gtk_icon_theme_lookup_icon (theme, "io.github.lanlan.Lanlan", NULL, 128, 1,
                                     GTK_TEXT_DIR_NONE, 0);
  file = gtk_icon_paintable_get_file (icon);
  g_assert_nonnull (file);
  uri = g_file_get_uri (file);
  g_assert_true (g_str_has_prefix (uri, "resource:///io/github/lanlan/Lanlan/icons/"));
  *checked = TRUE;
}

static void
test_icon_in_resources (void)
{
  g_autoptr(GtkApplication) app = gtk_application_new ("io.github.lanlan.Lanlan",
                                                       G_APPLICATION_NON_UNIQUE);
  gboolean checked = FALSE;

  g_signal_connect (app, "startup", G_CALLBACK (on_startup), &checked);
  g_signal_connect (app, "activate", G_CALLBACK (g_application_quit), NULL);
  g_application_run (G_APPLICATION (app), 0, NULL);
  g_assert_true (checked);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/icon/in-resources", test_icon_in_resources);
  return g_test_run ();
}
