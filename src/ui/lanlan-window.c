/* lanlan-window.c — one character's conversation window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-window.h"

struct _LanlanWindow
{
  AdwApplicationWindow  parent_instance;

  LanlanCharacter      *character;

  AdwToastOverlay      *toast_overlay;
  AdwWindowTitle       *window_title;
  GtkToggleButton      *mic_button;
  GtkScrolledWindow    *scroller;
  GtkBox               *transcript_box;
  GtkEntry             *entry;
};

G_DEFINE_FINAL_TYPE (LanlanWindow, lanlan_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_CHARACTER,
  PROP_MICROPHONE_ACTIVE,
  N_PROPS
};

enum {
  SEND_TEXT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
update_title (LanlanWindow *self)
{
  const char *name = lanlan_character_get_name (self->character);

  adw_window_title_set_title (self->window_title, name);
  gtk_window_set_title (GTK_WINDOW (self), name);
}

static void
scroll_to_end (LanlanWindow *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
}

GtkWidget *
lanlan_window_append_message (LanlanWindow *self,
                              LanlanRole    role,
                              const char   *text)
{
  static const char * const role_classes[] = { "user", "character", "system" };
  GtkWidget *label;

  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);

  label = gtk_label_new (text);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "bubble");
  gtk_widget_add_css_class (label, role_classes[role]);
  gtk_widget_set_halign (label,
                         role == LANLAN_ROLE_USER ? GTK_ALIGN_END :
                         role == LANLAN_ROLE_CHARACTER ? GTK_ALIGN_START : GTK_ALIGN_CENTER);
  gtk_widget_set_margin_start (label, role == LANLAN_ROLE_USER ? 48 : 0);
  gtk_widget_set_margin_end (label, role == LANLAN_ROLE_CHARACTER ? 48 : 0);

  gtk_box_append (self->transcript_box, label);
  g_idle_add_once ((GSourceOnceFunc) scroll_to_end, self);
  return label;
}

void
lanlan_window_show_toast (LanlanWindow *self,
                          const char   *message)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static void
on_entry_activate (LanlanWindow *self)
{
  g_autofree char *text = NULL;
  gboolean handled = FALSE;

  text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->entry))));
  if (*text == '\0')
    return;

  lanlan_window_append_message (self, LANLAN_ROLE_USER, text);
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  g_signal_emit (self, signals[SEND_TEXT], 0, text, &handled);
}

static void
toggle_microphone_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  gtk_toggle_button_set_active (self->mic_button,
                                !gtk_toggle_button_get_active (self->mic_button));
}

static void
on_mic_toggled (LanlanWindow *self)
{
  gboolean active = gtk_toggle_button_get_active (self->mic_button);

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->mic_button),
                               active ? _("Mute Microphone") : _("Unmute Microphone"));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ACTIVE]);
}

gboolean
lanlan_window_get_microphone_active (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), FALSE);
  return gtk_toggle_button_get_active (self->mic_button);
}

static void
lanlan_window_constructed (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;

  G_OBJECT_CLASS (lanlan_window_parent_class)->constructed (object);

  g_signal_connect_object (self->character, "notify::name",
                           G_CALLBACK (update_title), self, G_CONNECT_SWAPPED);
  update_title (self);
}

static void
lanlan_window_dispose (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_WINDOW);
  g_clear_object (&self->character);

  G_OBJECT_CLASS (lanlan_window_parent_class)->dispose (object);
}

static void
lanlan_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LanlanWindow *self = LANLAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    case PROP_MICROPHONE_ACTIVE:
      g_value_set_boolean (value, lanlan_window_get_microphone_active (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  LanlanWindow *self = LANLAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      self->character = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_window_class_init (LanlanWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = lanlan_window_constructed;
  object_class->dispose = lanlan_window_dispose;
  object_class->get_property = lanlan_window_get_property;
  object_class->set_property = lanlan_window_set_property;

  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE_ACTIVE] =
    g_param_spec_boolean ("microphone-active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LanlanWindow::send-text:
   * @text: what the user typed
   *
   * Emitted when the user sends a message. Returns %TRUE when handled.
   */
  signals[SEND_TEXT] =
    g_signal_new ("send-text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/lanlan-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, mic_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, scroller);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, transcript_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, entry);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_mic_toggled);

  gtk_widget_class_install_action (widget_class, "win.toggle-microphone", NULL,
                                   toggle_microphone_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.toggle-microphone", NULL);
}

static void
lanlan_window_init (LanlanWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

LanlanWindow *
lanlan_window_new (GtkApplication  *application,
                   LanlanCharacter *character)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);

  return g_object_new (LANLAN_TYPE_WINDOW,
                       "application", application,
                       "character", character,
                       NULL);
}

LanlanCharacter *
lanlan_window_get_character (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  return self->character;
}
