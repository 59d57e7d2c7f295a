/* lanlan-preferences-window.c — characters and API keys
 *
 * The Characters page lists the store (add, import, edit, open); editing
 * happens in a LanlanCharacterEditor subpage. The API Keys page has one
 * password row per provider: a key is handed to the keyring
 * (lanlan_secrets_store_async) and the row only ever says whether a key is
 * set — the key is never shown, written to a file or logged.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-character-editor.h"
#include "lanlan-log.h"
#include "lanlan-preferences-window.h"
#include "lanlan-provider.h"
#include "lanlan-secrets.h"

struct _LanlanPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  LanlanCharacterStore *store;
  GCancellable         *cancellable;

  AdwPreferencesPage   *characters_page;
  AdwPreferencesPage   *keys_page;
  GtkListBox           *character_list;
  AdwPreferencesGroup  *keys_group;
};

G_DEFINE_FINAL_TYPE (LanlanPreferencesWindow, lanlan_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* --- Characters ---------------------------------------------------------- */

static gboolean
provider_to_subtitle (GBinding     *binding,
                      const GValue *from,
                      GValue       *to,
                      gpointer      user_data)
{
  const LanlanProvider *provider = lanlan_provider_lookup (g_value_get_string (from));

  g_value_set_string (to, provider ? _(provider->display_name) : g_value_get_string (from));
  return TRUE;
}

static void
on_editor_done (LanlanPreferencesWindow *self)
{
  adw_preferences_window_close_subpage (ADW_PREFERENCES_WINDOW (self));
}

static void
present_editor (LanlanPreferencesWindow *self,
                LanlanCharacter         *character)
{
  GtkWidget *editor = lanlan_character_editor_new (self->store, character);

  g_signal_connect_object (editor, "done", G_CALLBACK (on_editor_done), self, G_CONNECT_SWAPPED);
  adw_preferences_window_present_subpage (ADW_PREFERENCES_WINDOW (self), editor);
}

void
lanlan_preferences_window_edit_character (LanlanPreferencesWindow *self,
                                          LanlanCharacter         *character)
{
  g_return_if_fail (LANLAN_IS_PREFERENCES_WINDOW (self));
  g_return_if_fail (character == NULL || LANLAN_IS_CHARACTER (character));

  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self), self->characters_page);
  present_editor (self, character);
}

static void
on_row_activated (AdwActionRow            *row,
                  LanlanPreferencesWindow *self)
{
  present_editor (self, g_object_get_data (G_OBJECT (row), "character"));
}

static void
on_open_clicked (GtkButton               *button,
                 LanlanPreferencesWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  LanlanCharacter *character = g_object_get_data (G_OBJECT (button), "character");

  if (LANLAN_IS_APPLICATION (app))
    lanlan_application_open_character (LANLAN_APPLICATION (app), character);
}

static void
on_edit_clicked (GtkButton               *button,
                 LanlanPreferencesWindow *self)
{
  present_editor (self, g_object_get_data (G_OBJECT (button), "character"));
}

static GtkWidget *
create_character_row (gpointer item,
                      gpointer user_data)
{
  LanlanPreferencesWindow *self = user_data;
  LanlanCharacter *character = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *open = gtk_button_new_from_icon_name ("window-new-symbolic");
  GtkWidget *edit = gtk_button_new_from_icon_name ("document-edit-symbolic");
  g_autofree char *open_label = NULL;
  g_autofree char *edit_label = NULL;

  g_object_set_data_full (G_OBJECT (row), "character", g_object_ref (character), g_object_unref);
  g_object_bind_property (character, "name", row, "title", G_BINDING_SYNC_CREATE);
  g_object_bind_property_full (character, "provider", row, "subtitle", G_BINDING_SYNC_CREATE,
                               provider_to_subtitle, NULL, NULL, NULL);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_signal_connect_object (row, "activated", G_CALLBACK (on_row_activated), self, 0);

  open_label = g_strdup_printf (_("Open %s"), lanlan_character_get_name (character));
  gtk_widget_set_valign (open, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (open, "flat");
  gtk_widget_set_tooltip_text (open, _("Open Window"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (open),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, open_label, -1);
  g_object_set_data_full (G_OBJECT (open), "character", g_object_ref (character), g_object_unref);
  g_signal_connect_object (open, "clicked", G_CALLBACK (on_open_clicked), self, 0);

  edit_label = g_strdup_printf (_("Edit %s"), lanlan_character_get_name (character));
  gtk_widget_set_valign (edit, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (edit, "flat");
  gtk_widget_set_tooltip_text (edit, _("Edit"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (edit),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, edit_label, -1);
  g_object_set_data_full (G_OBJECT (edit), "character", g_object_ref (character), g_object_unref);
  g_signal_connect_object (edit, "clicked", G_CALLBACK (on_edit_clicked), self, 0);

  adw_action_row_add_suffix (ADW_ACTION_ROW (row), open);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), edit);
  return row;
}

static void
add_character_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  present_editor (LANLAN_PREFERENCES_WINDOW (widget), NULL);
}

/* --- API keys -------------------------------------------------------------- */

typedef struct {
  LanlanPreferencesWindow *self;
  char                    *provider_id;
  AdwPasswordEntryRow     *row;
  GtkLabel                *status;
  GtkWidget               *remove;
} KeyRow;

static void
key_row_free (KeyRow *kr)
{
  g_free (kr->provider_id);
  g_free (kr);
}

static void
key_row_set_state (KeyRow   *kr,
                   gboolean  has_key)
{
  gtk_label_set_text (kr->status, has_key ? _("Key set") : _("No key"));
  gtk_widget_set_visible (kr->remove, has_key);
}

static void
notify_app_key_changed (LanlanPreferencesWindow *self,
                        const char              *provider)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (LANLAN_IS_APPLICATION (app))
    lanlan_application_api_key_changed (LANLAN_APPLICATION (app), provider);
}

static void
on_key_looked_up (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  KeyRow *kr = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (error != NULL)
    gtk_label_set_text (kr->status, _("Keyring unavailable"));
  else
    key_row_set_state (kr, key != NULL && *key != '\0');

  if (key != NULL)
    memset (key, 0, strlen (key));
}

static void
on_key_stored (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  KeyRow *kr = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (!lanlan_secrets_store_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = g_strdup_printf (_("The key could not be saved: %s"), error->message);
    }
  else
    {
      message = g_strdup_printf (_("Key for %s saved in the keyring"),
                                 adw_preferences_row_get_title (ADW_PREFERENCES_ROW (kr->row)));
      key_row_set_state (kr, TRUE);
      notify_app_key_changed (kr->self, kr->provider_id);
    }

  gtk_widget_set_sensitive (GTK_WIDGET (kr->row), TRUE);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (kr->self), adw_toast_new (message));
}

static void
save_key (KeyRow *kr)
{
  g_autofree char *key = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (kr->row))));

  if (*key == '\0')
    return;

  /* Should it ever reach a log line, it is redacted. */
  lanlan_log_add_secret (key);
  gtk_widget_set_sensitive (GTK_WIDGET (kr->row), FALSE);
  lanlan_secrets_store_async (kr->provider_id, key, kr->self->cancellable, on_key_stored, kr);
  gtk_editable_set_text (GTK_EDITABLE (kr->row), "");
  memset (key, 0, strlen (key));
}

static void
clear_key_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  GError *error = NULL;

  if (lanlan_secrets_clear_sync (task_data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_key_cleared (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  KeyRow *kr = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = g_strdup_printf (_("The key could not be removed: %s"), error->message);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (kr->self), adw_toast_new (message));
      return;
    }

  key_row_set_state (kr, FALSE);
  notify_app_key_changed (kr->self, kr->provider_id);
}

static void
remove_key (KeyRow *kr)
{
  g_autoptr(GTask) task = g_task_new (NULL, kr->self->cancellable, on_key_cleared, kr);

  g_task_set_task_data (task, g_strdup (kr->provider_id), g_free);
  g_task_run_in_thread (task, clear_key_thread);
}

static void
add_key_rows (LanlanPreferencesWindow *self)
{
  guint n = 0;
  const LanlanProvider **list = lanlan_provider_list (&n);

  for (guint i = 0; i < n; i++)
    {
      KeyRow *kr = g_new0 (KeyRow, 1);
      const char *name = _(list[i]->display_name);
      g_autofree char *save_label = g_strdup_printf (_("Save Key for %s"), name);
      g_autofree char *remove_label = g_strdup_printf (_("Remove Key for %s"), name);
      GtkWidget *save;

      kr->self = self;
      kr->provider_id = g_strdup (list[i]->id);
      kr->row = ADW_PASSWORD_ENTRY_ROW (adw_password_entry_row_new ());
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (kr->row), name);
      g_object_set_data_full (G_OBJECT (kr->row), "key-row", kr, (GDestroyNotify) key_row_free);

      kr->status = GTK_LABEL (gtk_label_new (NULL));
      gtk_widget_add_css_class (GTK_WIDGET (kr->status), "dim-label");
      gtk_widget_add_css_class (GTK_WIDGET (kr->status), "caption");
      adw_entry_row_add_suffix (ADW_ENTRY_ROW (kr->row), GTK_WIDGET (kr->status));

      kr->remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
      gtk_widget_set_valign (kr->remove, GTK_ALIGN_CENTER);
      gtk_widget_set_visible (kr->remove, FALSE);
      gtk_widget_set_tooltip_text (kr->remove, remove_label);
      gtk_widget_add_css_class (kr->remove, "flat");
      gtk_accessible_update_property (GTK_ACCESSIBLE (kr->remove),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, remove_label, -1);
      g_signal_connect_swapped (kr->remove, "clicked", G_CALLBACK (remove_key), kr);
      adw_entry_row_add_suffix (ADW_ENTRY_ROW (kr->row), kr->remove);

      save = gtk_button_new_with_mnemonic (_("_Save"));
      gtk_widget_set_valign (save, GTK_ALIGN_CENTER);
      gtk_accessible_update_property (GTK_ACCESSIBLE (save),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, save_label, -1);
      g_signal_connect_swapped (save, "clicked", G_CALLBACK (save_key), kr);
      g_signal_connect_swapped (kr->row, "entry-activated", G_CALLBACK (save_key), kr);
      adw_entry_row_add_suffix (ADW_ENTRY_ROW (kr->row), save);

      adw_preferences_group_add (self->keys_group, GTK_WIDGET (kr->row));

      lanlan_secrets_lookup_async (kr->provider_id, self->cancellable, on_key_looked_up, kr);
    }
}

void
lanlan_preferences_window_show_keys (LanlanPreferencesWindow *self)
{
  g_return_if_fail (LANLAN_IS_PREFERENCES_WINDOW (self));

  adw_preferences_window_close_subpage (ADW_PREFERENCES_WINDOW (self));
  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self), self->keys_page);
}

/* --- GObject ------------------------------------------------------------- */

static void
lanlan_preferences_window_constructed (GObject *object)
{
  LanlanPreferencesWindow *self = (LanlanPreferencesWindow *)object;

  G_OBJECT_CLASS (lanlan_preferences_window_parent_class)->constructed (object);

  gtk_list_box_bind_model (self->character_list, G_LIST_MODEL (self->store),
                           create_character_row, self, NULL);
  add_key_rows (self);
}

static void
lanlan_preferences_window_dispose (GObject *object)
{
  LanlanPreferencesWindow *self = (LanlanPreferencesWindow *)object;

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (lanlan_preferences_window_parent_class)->dispose (object);
}

static void
lanlan_preferences_window_finalize (GObject *object)
{
  LanlanPreferencesWindow *self = (LanlanPreferencesWindow *)object;

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lanlan_preferences_window_parent_class)->finalize (object);
}

static void
lanlan_preferences_window_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  LanlanPreferencesWindow *self = LANLAN_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_preferences_window_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  LanlanPreferencesWindow *self = LANLAN_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_preferences_window_class_init (LanlanPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = lanlan_preferences_window_constructed;
  object_class->dispose = lanlan_preferences_window_dispose;
  object_class->finalize = lanlan_preferences_window_finalize;
  object_class->get_property = lanlan_preferences_window_get_property;
  object_class->set_property = lanlan_preferences_window_set_property;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, LANLAN_TYPE_CHARACTER_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_PREFIX "/lanlan-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, characters_page);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, keys_page);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, character_list);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, keys_group);

  gtk_widget_class_install_action (widget_class, "prefs.add-character", NULL, add_character_action);
}

static void
lanlan_preferences_window_init (LanlanPreferencesWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

LanlanPreferencesWindow *
lanlan_preferences_window_new (GtkApplication       *application,
                               LanlanCharacterStore *store)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (store), NULL);

  return g_object_new (LANLAN_TYPE_PREFERENCES_WINDOW,
                       "application", application,
                       "store", store,
                       NULL);
}
