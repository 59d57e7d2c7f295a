/* main.c — Lanlan entry point
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "lanlan-application.h"
#include "lanlan-log.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(LanlanApplication) app = NULL;

  lanlan_log_init ();

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("LANLAN_LOCALEDIR") ? g_getenv ("LANLAN_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = lanlan_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
