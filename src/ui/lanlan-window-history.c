/* lanlan-window-history.c — the window's history, search and export
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-window-private.h"

void
lanlan_window_history_class_init (GtkWidgetClass *widget_class)
{
}
