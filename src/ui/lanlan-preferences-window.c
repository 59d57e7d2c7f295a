/* lanlan-preferences-window.c — characters, API keys, audio, language, agent
 *
 * The Characters page lists the store (add, import, edit, open); editing
 * happens in a LanlanCharacterEditor subpage. The API Keys page has one
 * password row per provider: a key is handed to the keyring
 * (lanlan_secrets_store_async) and the row only ever says whether a key is
 * set — the key is never shown, written to a file or logged. The Audio,
 * Language and Agent pages edit GSettings, which open windows and the
 * application follow as the keys change.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-chat-preset.h"
#include "lanlan-application.h"
#include "lanlan-audio-capture.h"
#include "lanlan-audio-devices.h"
#include "lanlan-avatar.h"
#include "lanlan-character-editor.h"
#include "lanlan-log.h"
#include "lanlan-languages.h"
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

  GSettings            *settings;

  AdwPreferencesPage   *audio_page;
  AdwComboRow          *input_row;
  AdwComboRow          *output_row;
  AdwActionRow         *level_row;
  GtkLevelBar          *input_level;
  GtkSwitch            *echo_cancel_switch;
  LanlanAudioCapture   *preview;
  guint                 preview_source;

  AdwComboRow          *user_language_row;
  AdwEntryRow          *translate_url_row;
  AdwComboRow          *vision_service_row;
  AdwEntryRow          *vision_model_row;
  AdwEntryRow          *vision_url_row;
  guint                 translate_url_source;

  AdwActionRow         *agent_row;
  GtkSwitch            *agent_switch;
  GtkSpinButton        *pub_port_spin;
  GtkSpinButton        *pull_port_spin;
  GtkSpinButton        *push_port_spin;
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

/* A flat icon button at the end of a character's row; its accessible
 * label names the character ("Open Mio"), its tooltip says what it does. */
static void
add_row_button (LanlanPreferencesWindow *self,
                GtkWidget               *row,
                LanlanCharacter         *character,
                const char              *icon_name,
                const char              *tooltip,
                const char              *label,
                GCallback                clicked)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_object_set_data_full (G_OBJECT (button), "character", g_object_ref (character), g_object_unref);
  g_signal_connect_object (button, "clicked", clicked, self, 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
}

static GtkWidget *
create_character_row (gpointer item,
                      gpointer user_data)
{
  LanlanPreferencesWindow *self = user_data;
  LanlanCharacter *character = item;
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *open_label = g_strdup_printf (_("Open %s"), lanlan_character_get_name (character));
  g_autofree char *edit_label = g_strdup_printf (_("Edit %s"), lanlan_character_get_name (character));

  g_object_set_data_full (G_OBJECT (row), "character", g_object_ref (character), g_object_unref);
  g_object_bind_property (character, "name", row, "title", G_BINDING_SYNC_CREATE);
  g_object_bind_property_full (character, "provider", row, "subtitle", G_BINDING_SYNC_CREATE,
                               provider_to_subtitle, NULL, NULL, NULL);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_signal_connect_object (row, "activated", G_CALLBACK (on_row_activated), self, 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), lanlan_avatar_new (character, 32));

  add_row_button (self, row, character, "window-new-symbolic", _("Open Window"), open_label,
                  G_CALLBACK (on_open_clicked));
  add_row_button (self, row, character, "document-edit-symbolic", _("Edit"), edit_label,
                  G_CALLBACK (on_edit_clicked));
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

/* A short message is a toast; a long one, which a toast would cut, is a
 * dialog with the whole text (in every language). */
static void
show_message (LanlanPreferencesWindow *self,
              const char              *heading,
              const char              *message)
{
  GtkWidget *dialog;

  if (g_utf8_strlen (message, -1) <= 40)
    {
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      return;
    }

  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_key_stored (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  KeyRow *kr = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (!lanlan_secrets_store_finish (result, &error) &&
      g_error_matches (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_MEMORY_ONLY))
    {
      /* No keyring took it, but the key works until Lanlan quits. */
      key_row_set_state (kr, TRUE);
      notify_app_key_changed (kr->self, kr->provider_id);
      gtk_widget_set_sensitive (GTK_WIDGET (kr->row), TRUE);
      show_message (kr->self, _("Key Kept Until Lanlan Quits"), error->message);
      return;
    }
  else if (error != NULL)
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
  if (error != NULL)
    show_message (kr->self, _("Could Not Save the Key"), message);
  else
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
      show_message (kr->self, _("Could Not Remove the Key"), message);
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

/* --- Audio ------------------------------------------------------------------ */

/* Lanlan's own echo-cancel nodes are plumbing, not devices to choose. */
static gboolean
is_user_device (gpointer item,
                gpointer user_data)
{
  const char *name = lanlan_audio_device_get_name (item);

  return name == NULL || !g_str_has_prefix (name, "lanlan_ec_");
}

/* "System Default" first, then the live PipeWire devices. */
static GListModel *
device_model (LanlanAudioDevicesFilter filter)
{
  g_autoptr(GListStore) models = g_list_store_new (G_TYPE_LIST_MODEL);
  g_autoptr(GListStore) fallback = g_list_store_new (LANLAN_TYPE_AUDIO_DEVICE);
  g_autoptr(LanlanAudioDevice) dflt = NULL;
  g_autoptr(LanlanAudioDevices) devices = NULL;
  g_autoptr(GError) error = NULL;

  dflt = lanlan_audio_device_new (0, "", _("System Default"), filter == LANLAN_AUDIO_DEVICES_SOURCES);
  g_list_store_append (fallback, dflt);
  g_list_store_append (models, fallback);

  devices = lanlan_audio_devices_new (filter, &error);
  if (devices != NULL)
    {
      GtkCustomFilter *own = gtk_custom_filter_new (is_user_device, NULL, NULL);
      g_autoptr(GtkFilterListModel) shown =
        gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (devices)), GTK_FILTER (own));

      g_list_store_append (models, shown);
    }
  else
    g_message ("No audio device list: %s", error->message);

  return G_LIST_MODEL (gtk_flatten_list_model_new (G_LIST_MODEL (g_steal_pointer (&models))));
}

static guint
find_device (GListModel *model,
             const char *name)
{
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanAudioDevice) device = g_list_model_get_item (model, i);

      if (g_strcmp0 (lanlan_audio_device_get_name (device), name) == 0)
        return i;
    }

  return GTK_INVALID_LIST_POSITION;
}

/* Selects the row's device from GSettings; a device that is gone leaves
 * the setting alone and shows the default. */
static void
sync_device_row (LanlanPreferencesWindow *self,
                 AdwComboRow             *row,
                 const char              *key)
{
  g_autofree char *name = g_settings_get_string (self->settings, key);
  GListModel *model = adw_combo_row_get_model (row);
  guint pos = find_device (model, name);

  g_object_set_data (G_OBJECT (row), "syncing", GINT_TO_POINTER (TRUE));
  adw_combo_row_set_selected (row, pos == GTK_INVALID_LIST_POSITION ? 0 : pos);
  g_object_set_data (G_OBJECT (row), "syncing", NULL);
}

static void
sync_device_rows (LanlanPreferencesWindow *self)
{
  sync_device_row (self, self->input_row, "input-device");
  sync_device_row (self, self->output_row, "output-device");
}

static void
on_device_selected (AdwComboRow             *row,
                    GParamSpec              *pspec,
                    LanlanPreferencesWindow *self)
{
  g_autoptr(LanlanAudioDevice) device = NULL;
  const char *key = row == self->input_row ? "input-device" : "output-device";
  guint pos = adw_combo_row_get_selected (row);

  if (g_object_get_data (G_OBJECT (row), "syncing") || pos == GTK_INVALID_LIST_POSITION)
    return;

  device = g_list_model_get_item (adw_combo_row_get_model (row), pos);
  if (device != NULL)
    g_settings_set_string (self->settings, key, lanlan_audio_device_get_name (device));
}

static gboolean
preview_tick (gpointer user_data)
{
  LanlanPreferencesWindow *self = user_data;
  float dbfs = lanlan_audio_level_to_dbfs (lanlan_audio_capture_get_level (self->preview, NULL));

  gtk_level_bar_set_value (self->input_level, CLAMP ((dbfs + 60.0) / 60.0, 0.0, 1.0));
  return G_SOURCE_CONTINUE;
}

static void
stop_preview (LanlanPreferencesWindow *self)
{
  g_clear_handle_id (&self->preview_source, g_source_remove);
  if (self->preview != NULL)
    lanlan_audio_capture_stop (self->preview);
  g_clear_object (&self->preview);
  gtk_level_bar_set_value (self->input_level, 0);
}

static void
discard_samples (const gint16 *pcm,
                 gsize         n_samples,
                 gpointer      user_data)
{
}

/* A live level of the chosen microphone while the Audio page is shown. */
static void
update_preview (LanlanPreferencesWindow *self)
{
  g_autofree char *input = NULL;
  g_autoptr(GError) error = NULL;

  stop_preview (self);
  if (!gtk_widget_get_visible (GTK_WIDGET (self)) ||
      adw_preferences_window_get_visible_page (ADW_PREFERENCES_WINDOW (self)) !=
        ADW_PREFERENCES_PAGE (self->audio_page))
    return;

  input = g_settings_get_string (self->settings, "input-device");
  self->preview = lanlan_audio_capture_new (*input ? input : NULL, 16000, discard_samples, NULL, NULL);
  if (!lanlan_audio_capture_start (self->preview, &error))
    {
      adw_action_row_set_subtitle (self->level_row, error->message);
      g_clear_object (&self->preview);
      return;
    }
  adw_action_row_set_subtitle (self->level_row, "");
  self->preview_source = g_timeout_add (50, preview_tick, self);
}

/* --- Language ---------------------------------------------------------------- */

/* Position 0 of the user's language picker is "Automatic"; the shared
 * list follows. Returns %NULL past its end (a tag set elsewhere). */
static const char *
user_language_tag (guint pos)
{
  guint n;
  const LanlanLanguage *list = lanlan_languages_get (&n);

  if (pos == 0)
    return "";
  return pos <= n ? list[pos - 1].tag : NULL;
}


static void
sync_user_language (LanlanPreferencesWindow *self)
{
  g_autofree char *tag = g_settings_get_string (self->settings, "user-language");
  GtkStringList *model = GTK_STRING_LIST (adw_combo_row_get_model (self->user_language_row));
  guint pos = GTK_INVALID_LIST_POSITION;

  for (guint i = 0; user_language_tag (i) != NULL; i++)
    if (g_ascii_strcasecmp (user_language_tag (i), tag) == 0)
      pos = i;

  if (pos == GTK_INVALID_LIST_POSITION)
    {
      /* A tag set elsewhere (dconf): show it as it is. */
      gtk_string_list_append (model, tag);
      pos = g_list_model_get_n_items (G_LIST_MODEL (model)) - 1;
    }

  g_object_set_data (G_OBJECT (self->user_language_row), "syncing", GINT_TO_POINTER (TRUE));
  adw_combo_row_set_selected (self->user_language_row, pos);
  g_object_set_data (G_OBJECT (self->user_language_row), "syncing", NULL);
}

static void
on_user_language_selected (LanlanPreferencesWindow *self)
{
  guint pos = adw_combo_row_get_selected (self->user_language_row);
  GListModel *model = adw_combo_row_get_model (self->user_language_row);

  if (g_object_get_data (G_OBJECT (self->user_language_row), "syncing") ||
      pos == GTK_INVALID_LIST_POSITION)
    return;

  if (user_language_tag (pos) != NULL)
    g_settings_set_string (self->settings, "user-language", user_language_tag (pos));
  else
    g_settings_set_string (self->settings, "user-language",
                           gtk_string_list_get_string (GTK_STRING_LIST (model), pos));
}

static void
apply_translate_url (LanlanPreferencesWindow *self)
{
  g_autofree char *url = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->translate_url_row))));

  if (*url != '\0' && !g_str_has_prefix (url, "http://") && !g_str_has_prefix (url, "https://"))
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->translate_url_row), "error");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->translate_url_row),
                                   _("The address must start with http:// or https://"));
      return;
    }

  gtk_widget_remove_css_class (GTK_WIDGET (self->translate_url_row), "error");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->translate_url_row), NULL);
  g_settings_set_string (self->settings, "translate-url", url);
}

static void
apply_translate_url_cb (gpointer user_data)
{
  LanlanPreferencesWindow *self = user_data;

  self->translate_url_source = 0;
  apply_translate_url (self);
}

static void
queue_apply_translate_url (LanlanPreferencesWindow *self)
{
  g_autofree char *current = g_settings_get_string (self->settings, "translate-url");

  g_clear_handle_id (&self->translate_url_source, g_source_remove);
  if (g_strcmp0 (current, gtk_editable_get_text (GTK_EDITABLE (self->translate_url_row))) != 0)
    self->translate_url_source = g_timeout_add_once (700, apply_translate_url_cb, self);
}

static void
sync_translate_url (LanlanPreferencesWindow *self)
{
  g_autofree char *url = g_settings_get_string (self->settings, "translate-url");

  if (g_strcmp0 (url, gtk_editable_get_text (GTK_EDITABLE (self->translate_url_row))) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->translate_url_row), url);
}

/* --- Agent ------------------------------------------------------------------- */

static void
update_agent_status (LanlanPreferencesWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  g_autofree char *subtitle = NULL;

  if (!g_settings_get_boolean (self->settings, "agent-enabled"))
    subtitle = g_strdup (_("Off"));
  else if (LANLAN_IS_APPLICATION (app) && lanlan_application_get_agent_bridge (LANLAN_APPLICATION (app)))
    subtitle = g_strdup (_("Running, reachable from this computer only"));
  else if (LANLAN_IS_APPLICATION (app) && lanlan_application_get_agent_error (LANLAN_APPLICATION (app)))
    subtitle = g_strdup_printf (_("Could not start: %s"),
                                lanlan_application_get_agent_error (LANLAN_APPLICATION (app)));
  else
    subtitle = g_strdup (_("Starting…"));

  adw_action_row_set_subtitle (self->agent_row, subtitle);
}

static void
setup_settings_pages (LanlanPreferencesWindow *self)
{
  g_autoptr(GtkStringList) langs = gtk_string_list_new (NULL);
  const LanlanLanguage *language_list;
  guint n_languages;
  g_autoptr(GListModel) inputs = device_model (LANLAN_AUDIO_DEVICES_SOURCES);
  g_autoptr(GListModel) outputs = device_model (LANLAN_AUDIO_DEVICES_SINKS);
  g_autoptr(GtkExpression) expr = NULL;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  /* Audio */
  expr = gtk_property_expression_new (LANLAN_TYPE_AUDIO_DEVICE, NULL, "description");
  adw_combo_row_set_expression (self->input_row, expr);
  adw_combo_row_set_expression (self->output_row, expr);
  adw_combo_row_set_model (self->input_row, inputs);
  adw_combo_row_set_model (self->output_row, outputs);
  sync_device_rows (self);
  g_signal_connect (self->input_row, "notify::selected", G_CALLBACK (on_device_selected), self);
  g_signal_connect (self->output_row, "notify::selected", G_CALLBACK (on_device_selected), self);
  /* Devices come and go; keep showing the chosen one. */
  g_signal_connect_object (inputs, "items-changed", G_CALLBACK (sync_device_rows), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (outputs, "items-changed", G_CALLBACK (sync_device_rows), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::input-device",
                           G_CALLBACK (sync_device_rows), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::output-device",
                           G_CALLBACK (sync_device_rows), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::input-device",
                           G_CALLBACK (update_preview), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self, "notify::visible-page",
                           G_CALLBACK (update_preview), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self, "notify::visible",
                           G_CALLBACK (update_preview), self, G_CONNECT_SWAPPED);
  g_settings_bind (self->settings, "echo-cancel", self->echo_cancel_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);

  /* Language */
  gtk_string_list_append (langs, _("Automatic (desktop language)"));
  language_list = lanlan_languages_get (&n_languages);
  for (guint i = 0; i < n_languages; i++)
    {
      g_autofree char *label = lanlan_language_dup_label (&language_list[i]);
      gtk_string_list_append (langs, label);
    }
  adw_combo_row_set_model (self->user_language_row, G_LIST_MODEL (langs));
  sync_user_language (self);
  g_signal_connect_swapped (self->user_language_row, "notify::selected",
                            G_CALLBACK (on_user_language_selected), self);
  g_signal_connect_object (self->settings, "changed::user-language",
                           G_CALLBACK (sync_user_language), self, G_CONNECT_SWAPPED);
  sync_translate_url (self);
  /* Applied as typed (after a pause), like the rest of Preferences. */
  g_signal_connect_swapped (self->translate_url_row, "changed", G_CALLBACK (queue_apply_translate_url), self);
  g_signal_connect_swapped (self->translate_url_row, "entry-activated",
                            G_CALLBACK (apply_translate_url), self);
  g_signal_connect_object (self->settings, "changed::translate-url",
                           G_CALLBACK (sync_translate_url), self, G_CONNECT_SWAPPED);

  /* Agent */
  g_settings_bind (self->settings, "agent-enabled", self->agent_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "agent-pub-port", self->pub_port_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "agent-pull-port", self->pull_port_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "agent-push-port", self->push_port_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed::agent-enabled",
                           G_CALLBACK (update_agent_status), self, G_CONNECT_SWAPPED);
  if (LANLAN_IS_APPLICATION (app))
    g_signal_connect_object (app, "agent-changed", G_CALLBACK (update_agent_status),
                             self, G_CONNECT_SWAPPED);
  update_agent_status (self);
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
  setup_settings_pages (self);
}

static void
lanlan_preferences_window_dispose (GObject *object)
{
  LanlanPreferencesWindow *self = (LanlanPreferencesWindow *)object;

  g_cancellable_cancel (self->cancellable);
  stop_preview (self);
  g_clear_handle_id (&self->translate_url_source, g_source_remove);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
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

/* The describer's service: the combo's position <-> a chat preset id. */
static gboolean
vision_service_get (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  const char *id = g_variant_get_string (variant, NULL);
  guint n = 0;
  const LanlanChatPreset **presets = lanlan_chat_preset_list (&n);

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (presets[i]->id, id) == 0)
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  g_value_set_uint (value, 0);
  return TRUE;
}

static GVariant *
vision_service_set (const GValue       *value,
                    const GVariantType *type,
                    gpointer            user_data)
{
  guint n = 0;
  const LanlanChatPreset **presets = lanlan_chat_preset_list (&n);
  guint i = g_value_get_uint (value);

  if (i >= n)
    return NULL;
  return g_variant_new_string (presets[i]->id);
}

static void
setup_vision_rows (LanlanPreferencesWindow *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  guint n = 0;
  const LanlanChatPreset **presets = lanlan_chat_preset_list (&n);

  for (guint i = 0; i < n; i++)
    gtk_string_list_append (names, _(presets[i]->display_name));
  adw_combo_row_set_model (self->vision_service_row, G_LIST_MODEL (names));
  g_settings_bind_with_mapping (self->settings, "vision-service", self->vision_service_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, vision_service_get, vision_service_set, NULL, NULL);
  g_settings_bind (self->settings, "vision-model", self->vision_model_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "vision-base-url", self->vision_url_row, "text", G_SETTINGS_BIND_DEFAULT);
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
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, audio_page);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, input_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, output_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, level_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, input_level);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, echo_cancel_switch);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, user_language_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, translate_url_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, vision_service_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, vision_model_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, vision_url_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, agent_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, agent_switch);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, pub_port_spin);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, pull_port_spin);
  gtk_widget_class_bind_template_child (widget_class, LanlanPreferencesWindow, push_port_spin);

  gtk_widget_class_install_action (widget_class, "prefs.add-character", NULL, add_character_action);
}

static void
lanlan_preferences_window_init (LanlanPreferencesWindow *self)
{
  self->cancellable = g_cancellable_new ();
  self->settings = g_settings_new (APP_ID);
  gtk_widget_init_template (GTK_WIDGET (self));
  setup_vision_rows (self);
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
