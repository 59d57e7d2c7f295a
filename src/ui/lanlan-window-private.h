/* lanlan-window-private.h — the window's parts, shared by its facets
 * (lanlan-window.c: the conversation view; lanlan-window-history.c:
 * history, search and export)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-window.h"

G_BEGIN_DECLS

struct _LanlanWindow
{
  AdwApplicationWindow      parent_instance;

  LanlanConversation       *conversation;
  GBindingGroup            *bindings;
  GSignalGroup             *signals;

  AdwToastOverlay          *toast_overlay;
  AdwToast                 *toast;
  AdwWindowTitle           *window_title;
  GtkToggleButton          *mic_button;
  GtkScrolledWindow        *scroller;
  GtkListView              *transcript_view;
  GtkSignalListItemFactory *row_factory;
  GtkEntry                 *entry;
  GtkLevelBar              *level_bar;
  GtkBox                   *swap_box;
  GtkSpinner               *swap_spinner;
  GtkLabel                 *swap_label;
  GtkRevealer              *error_revealer;
  GtkLabel                 *error_label;
  GtkButton                *error_button;
  GtkRevealer              *onboarding_revealer;
  GtkLabel                 *onboarding_label;

  char                     *app_error;
  gboolean                  stick_to_end;
  gboolean                  scrolling;

  GObject                  *export_chooser;
};

void lanlan_window_history_class_init (GtkWidgetClass *widget_class);

G_END_DECLS
