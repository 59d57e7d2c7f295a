/* lanlan-window-private.h — the window's parts, shared by its facets
 * (lanlan-window.c: the conversation view; lanlan-window-history.c:
 * history, search and export)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-avatar.h"
#include "lanlan-character-store.h"
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
  GtkBox                   *title_box;
  LanlanAvatar             *avatar;
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
  GtkRevealer              *save_revealer;
  GtkLabel                 *save_label;
  GtkButton                *save_retry_button;
  GtkButton                *save_replace_button;
  LanlanCharacterStore     *character_store;

  /* lanlan-window-vision.c */
  GtkBox                   *sharing_bar;
  GtkImage                 *sharing_icon;
  GtkLabel                 *sharing_label;
  GtkBox                   *pending_box;
  GtkPicture               *pending_picture;
  GBytes                   *pending_jpeg;
  GObject                  *picture_chooser;
  gulong                    sharing_handler;

  char                     *app_error;
  gboolean                  stick_to_end;
  gboolean                  focus_set;
  gboolean                  scrolling;

  GObject                  *export_chooser;
};

void     lanlan_window_history_class_init (GtkWidgetClass *widget_class);
void     lanlan_window_vision_class_init  (GtkWidgetClass *widget_class);
void     lanlan_window_vision_init        (LanlanWindow   *self);
void     lanlan_window_vision_constructed (LanlanWindow   *self);
void     lanlan_window_vision_dispose     (LanlanWindow   *self);
gboolean lanlan_window_vision_send        (LanlanWindow   *self,
                                           const char     *text);
void     lanlan_window_vision_attach      (LanlanWindow   *self,
                                           GBytes         *image);

G_END_DECLS
