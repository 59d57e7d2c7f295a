/* lanlan-application.c — the app: one window per character
 *
 * Owns the character store and the preferences window; opens a window for
 * every character marked open-on-start; imports character cards (from the
 * menu, from `--import FILE`, or through the app.import-card action);
 * shows a damaged config as a banner in the first window. Runs the agent
 * bridge while GSettings agent-enabled is on: switching it (or a port)
 * opens or closes the bridge at once and hands it to every conversation.
 *
 * Keeps one LanlanConversation per character that has been opened, in a
 * list model: a conversation outlives its window, so closing a window
 * ends nothing that is stored and opening the character again shows it.
 * Owns the conversation store (SQLite); a store that could not be read
 * as it was is told to the user once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-application.h"
#include "lanlan-character-card.h"
#include "lanlan-log.h"
#include "lanlan-preferences-window.h"
#include "lanlan-store.h"
#include "lanlan-vision-link.h"

struct _LanlanApplication
{
  AdwApplication        parent_instance;

  LanlanCharacterStore    *store;
  LanlanPreferencesWindow *preferences;
  GtkFileChooserNative    *import_chooser;
  gboolean                 activated;
  LanlanAgentBridge       *agent;
  char                    *agent_error;
  LanlanEchoCancel        *echo_cancel;
  GSettings               *settings;
  GListStore              *conversations;
  LanlanStore             *conversation_store;
  char                    *store_error;
  gboolean                 store_failing;
};

G_DEFINE_FINAL_TYPE (LanlanApplication, lanlan_application, ADW_TYPE_APPLICATION)

enum {
  API_KEY_CHANGED,
  AGENT_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GResource *lanlan_get_resource (void);

/**
 * lanlan_application_get_agent_bridge:
 *
 * Returns: (nullable): the link to the local agent, or %NULL when the
 *   agent is disabled (GSettings agent-enabled) or could not bind.
 */
LanlanAgentBridge *
lanlan_application_get_agent_bridge (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->agent;
}

/**
 * lanlan_application_get_agent_error:
 *
 * Returns: (nullable): why the agent bridge could not be opened, while
 *   agent-enabled is on and it is not running
 */
const char *
lanlan_application_get_agent_error (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->agent_error;
}

/* Opens or closes the bridge to match GSettings, and tells the windows. */
static void
setup_agent (LanlanApplication *self)
{
  g_autoptr(GError) error = NULL;

  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      lanlan_conversation_set_agent_bridge (c, NULL);
    }
  /* Close the old sockets before binding the ports again. */
  g_clear_object (&self->agent);
  g_clear_pointer (&self->agent_error, g_free);

  if (g_settings_get_boolean (self->settings, "agent-enabled"))
    {
      self->agent = lanlan_agent_bridge_new_for_ports (g_settings_get_uint (self->settings, "agent-pub-port"),
                                                       g_settings_get_uint (self->settings, "agent-pull-port"),
                                                       g_settings_get_uint (self->settings, "agent-push-port"),
                                                       &error);
      if (self->agent == NULL)
        {
          g_warning ("The agent link could not be opened: %s", error->message);
          self->agent_error = g_strdup (error->message);
        }
      else
        {
          lanlan_agent_bridge_set_characters (self->agent, G_LIST_MODEL (self->store));
          g_message ("Agent bridge open");
        }
    }
  else
    g_message ("Agent bridge closed");

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      lanlan_conversation_set_agent_bridge (c, self->agent);
    }

  g_signal_emit (self, signals[AGENT_CHANGED], 0);
}

static void
on_agent_setting_changed (LanlanApplication *self,
                          const char        *key)
{
  gboolean enabled = g_settings_get_boolean (self->settings, "agent-enabled");

  /* A port change only matters while the bridge is on. */
  if (g_strcmp0 (key, "agent-enabled") != 0 && !enabled)
    return;
  if (g_strcmp0 (key, "agent-enabled") == 0 && enabled == (self->agent != NULL || self->agent_error != NULL))
    return;
  setup_agent (self);
}

LanlanCharacterStore *
lanlan_application_get_store (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->store;
}

static LanlanWindow *
window_for_character (LanlanApplication *self,
                      LanlanCharacter   *character)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data) && lanlan_window_get_character (l->data) == character)
      return l->data;
  return NULL;
}

/* What the agent wants the user to see, as a desktop notification when
 * the character's window is not the one in front (the window, when
 * there is one, shows a toast too). */
static void
on_agent_notification (LanlanConversation *conversation,
                       const char         *text,
                       gboolean            is_error,
                       LanlanApplication  *self)
{
  LanlanCharacter *character = lanlan_conversation_get_character (conversation);
  LanlanWindow *window = window_for_character (self, character);
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;

  if (window != NULL && gtk_window_is_active (GTK_WINDOW (window)))
    return;

  notification = g_notification_new (lanlan_character_get_name (character));
  id = g_strdup_printf ("agent-%s", lanlan_character_get_id (character));
  g_notification_set_body (notification, text);
  if (is_error)
    g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  g_notification_set_default_action_and_target (notification, "app.open-character", "s",
                                                lanlan_character_get_id (character));
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

/**
 * lanlan_application_get_conversations:
 *
 * Returns: (transfer none): a #GListModel of #LanlanConversation, one per
 *   character opened since the app started
 */
GListModel *
lanlan_application_get_conversations (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return G_LIST_MODEL (self->conversations);
}

/**
 * lanlan_application_get_conversation_store:
 *
 * Returns: (nullable) (transfer none): the conversation database, %NULL
 *   when none could be opened at all
 */
LanlanStore *
lanlan_application_get_conversation_store (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->conversation_store;
}

/**
 * lanlan_application_ensure_conversation:
 *
 * Returns: (transfer none): the conversation of @character, made (with
 *   its latest stored conversation) if it has none yet
 */
LanlanConversation *
lanlan_application_ensure_conversation (LanlanApplication *self,
                                        LanlanCharacter   *character)
{
  g_autoptr(LanlanConversation) conversation = NULL;
  guint n;

  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      if (lanlan_conversation_get_character (c) == character)
        return c;   /* the list keeps it */
    }

  conversation = g_object_new (LANLAN_TYPE_CONVERSATION,
                               "character", character,
                               "store", self->conversation_store,
                               "echo-cancel", self->echo_cancel,
                               NULL);
  lanlan_conversation_set_agent_bridge (conversation, self->agent);
  g_signal_connect_object (conversation, "agent-notification",
                           G_CALLBACK (on_agent_notification), self, 0);
  g_list_store_append (self->conversations, conversation);
  return conversation;
}

/**
 * lanlan_application_open_character:
 *
 * Presents the window of @character, creating it if it is not open.
 */
LanlanWindow *
lanlan_application_open_character (LanlanApplication *self,
                                   LanlanCharacter   *character)
{
  LanlanWindow *window = window_for_character (self, character);

  if (window == NULL)
    {
      LanlanConversation *conversation = lanlan_application_ensure_conversation (self, character);

      window = lanlan_window_new (GTK_APPLICATION (self), conversation);
      if (self->store_error != NULL)
        {
          /* Told once, in the first window. */
          lanlan_window_show_error (window, self->store_error);
          g_clear_pointer (&self->store_error, g_free);
        }
    }

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/**
 * lanlan_application_close_character:
 *
 * Closes the window of @character, if it is open.
 */
void
lanlan_application_close_character (LanlanApplication *self,
                                    LanlanCharacter   *character)
{
  g_autoptr(GList) windows = NULL;

  g_return_if_fail (LANLAN_IS_APPLICATION (self));

  windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));
  for (GList *l = windows; l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data) && lanlan_window_get_character (l->data) == character)
      gtk_window_destroy (GTK_WINDOW (l->data));
}

/**
 * lanlan_application_api_key_changed:
 * @provider: the provider whose key was stored or removed
 *
 * Tells every window (through #LanlanApplication::api-key-changed) to look
 * its key up again.
 */
void
lanlan_application_api_key_changed (LanlanApplication *self,
                                    const char        *provider)
{
  g_return_if_fail (LANLAN_IS_APPLICATION (self));

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->conversations)); i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      if (g_strcmp0 (lanlan_character_get_provider (lanlan_conversation_get_character (c)), provider) == 0)
        lanlan_conversation_recheck_api_key (c);
      /* The vision model may be another provider's. */
      lanlan_vision_link_api_key_changed (lanlan_conversation_get_vision (c), provider);
    }

  g_signal_emit (self, signals[API_KEY_CHANGED], 0, provider);
}

static LanlanWindow *
any_character_window (LanlanApplication *self)
{
  GtkWindow *active = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (LANLAN_IS_WINDOW (active))
    return LANLAN_WINDOW (active);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data))
      return l->data;

  return NULL;
}

static void
report_error (LanlanApplication *self,
              const char        *message)
{
  LanlanWindow *window = any_character_window (self);

  if (self->preferences != NULL && gtk_widget_get_visible (GTK_WIDGET (self->preferences)))
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self->preferences),
                                      adw_toast_new (message));
  else if (window != NULL)
    lanlan_window_show_error (window, message);
  else
    g_warning ("%s", message);
}

/**
 * lanlan_application_import_card:
 *
 * Imports a character card file into the store and opens the character's
 * window. On error nothing is added.
 */
LanlanCharacter *
lanlan_application_import_card (LanlanApplication  *self,
                                GFile              *file,
                                GError            **error)
{
  g_autoptr(LanlanCharacter) character = NULL;

  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  /* The card's picture is saved with the character. */
  character = lanlan_character_card_import (self->store, file, NULL, error);
  if (character == NULL)
    return NULL;

  lanlan_application_open_character (self, character);
  return character;
}

static void
import_card_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  LanlanApplication *self = user_data;
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (g_variant_get_string (parameter, NULL));
  g_autoptr(GError) error = NULL;

  if (lanlan_application_import_card (self, file, &error) == NULL)
    report_error (self, error->message);
}

static void
on_import_response (GtkNativeDialog   *chooser,
                    int                response,
                    LanlanApplication *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GError) error = NULL;

      if (file != NULL && lanlan_application_import_card (self, file, &error) == NULL)
        report_error (self, error->message);
    }

  g_clear_object (&self->import_chooser);
}

static void
import_card_dialog_action (GSimpleAction *action,
                           GVariant      *parameter,
                           gpointer       user_data)
{
  LanlanApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  g_autoptr(GtkFileFilter) cards = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();

  if (self->import_chooser != NULL)
    {
      gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->import_chooser));
      return;
    }

  gtk_file_filter_set_name (cards, _("Character Cards"));
  gtk_file_filter_add_mime_type (cards, "image/png");
  gtk_file_filter_add_mime_type (cards, "application/json");
  gtk_file_filter_add_suffix (cards, "png");
  gtk_file_filter_add_suffix (cards, "json");
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");

  self->import_chooser = gtk_file_chooser_native_new (_("Import Character Card"), parent,
                                                      GTK_FILE_CHOOSER_ACTION_OPEN,
                                                      _("_Import"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->import_chooser), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->import_chooser), cards);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->import_chooser), all);
  g_signal_connect (self->import_chooser, "response", G_CALLBACK (on_import_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->import_chooser));
}

static LanlanPreferencesWindow *
ensure_preferences (LanlanApplication *self)
{
  if (self->preferences == NULL)
    {
      self->preferences = lanlan_preferences_window_new (GTK_APPLICATION (self), self->store);
      gtk_window_set_hide_on_close (GTK_WINDOW (self->preferences), FALSE);
      g_object_add_weak_pointer (G_OBJECT (self->preferences), (gpointer *) &self->preferences);
    }

  return self->preferences;
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  gtk_window_present (GTK_WINDOW (ensure_preferences (user_data)));
}

static void
api_keys_action (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  LanlanPreferencesWindow *prefs = ensure_preferences (user_data);

  lanlan_preferences_window_show_keys (prefs);
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
edit_character_action (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  LanlanApplication *self = user_data;
  LanlanCharacter *c = lanlan_character_store_lookup (self->store, g_variant_get_string (parameter, NULL));
  LanlanPreferencesWindow *prefs;

  if (c == NULL)
    return;

  prefs = ensure_preferences (self);
  lanlan_preferences_window_edit_character (prefs, c);
  gtk_window_present (GTK_WINDOW (prefs));
}

/* Ctrl+N: the editor for a new character, which becomes one (and opens
 * its window) only when the user saves it. */
static void
new_character_action (GSimpleAction *action,
                      GVariant      *parameter,
                      gpointer       user_data)
{
  LanlanPreferencesWindow *prefs = ensure_preferences (user_data);

  lanlan_preferences_window_edit_character (prefs, NULL);
  gtk_window_present (GTK_WINDOW (prefs));
}

/* The target of desktop notifications: brings a character's window up. */
static void
open_character_action (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  LanlanApplication *self = user_data;
  LanlanCharacter *c = lanlan_character_store_lookup (self->store, g_variant_get_string (parameter, NULL));

  if (c != NULL)
    lanlan_application_open_character (self, c);
}

static void
lanlan_application_activate (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  const char *load_error;
  guint n, opened = 0;

  if (self->activated)
    {
      LanlanWindow *window = any_character_window (self);

      if (window != NULL)
        gtk_window_present (GTK_WINDOW (window));
      else
        g_action_group_activate_action (G_ACTION_GROUP (self), "preferences", NULL);
      return;
    }
  self->activated = TRUE;

  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (lanlan_character_get_open_on_start (c) || (i == n - 1 && opened == 0))
        {
          lanlan_application_open_character (self, c);
          opened++;
        }
    }

  load_error = lanlan_character_store_get_load_error (self->store);
  if (load_error != NULL)
    {
      LanlanWindow *window = any_character_window (self);

      if (window != NULL)
        lanlan_window_show_error (window, load_error);
    }
}

/* Files given to the app (`lanlan card.png`, the desktop's Open With, a
 * card dropped on the launcher) are character cards: each one imported
 * opens its window. A first start that opens cards opens only them, not
 * also the characters marked open-on-start. */
static void
lanlan_application_open (GApplication  *app,
                         GFile        **files,
                         int            n_files,
                         const char    *hint)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  g_autoptr(GString) errors = g_string_new (NULL);
  guint imported = 0;
  GtkWindow *parent;
  AdwMessageDialog *dialog;

  for (int i = 0; i < n_files; i++)
    {
      g_autoptr(GError) error = NULL;

      if (lanlan_application_import_card (self, files[i], &error) != NULL)
        imported++;
      else
        {
          g_autofree char *name = g_file_get_parse_name (files[i]);

          /* The message names the file already; keep the whole path too. */
          g_string_append_printf (errors, "%s%s\n%s", errors->len ? "\n\n" : "", name, error->message);
        }
    }

  if (imported > 0)
    self->activated = TRUE;
  else
    g_application_activate (app);

  if (errors->len == 0)
    return;

  parent = GTK_WINDOW (any_character_window (self));
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent,
                                                       _("Import Failed"),
                                                       errors->str));
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  gtk_window_set_application (GTK_WINDOW (dialog), GTK_APPLICATION (app));
  gtk_window_present (GTK_WINDOW (dialog));
}

static int
lanlan_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  g_autofree const char **files = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_variant_dict_lookup (options, "import", "^a&ay", &files) || files == NULL)
    return -1;

  if (!g_application_register (app, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (files[i]);
      g_autofree char *path = g_file_get_path (file);

      g_action_group_activate_action (G_ACTION_GROUP (app), "import-card",
                                      g_variant_new_string (path ? path : files[i]));
    }

  return -1;
}

/* One echo canceller for the whole app, between the chosen microphone
 * and speaker. Every window plays into its sink and records from its
 * source, so a character does not hear itself, nor the other characters,
 * through the speakers and barge in on its own voice. */
static void
setup_echo_cancel (LanlanApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *input = NULL;
  g_autofree char *output = NULL;

  g_clear_object (&self->echo_cancel);

  if (!g_settings_get_boolean (self->settings, "echo-cancel"))
    goto out;

  if (!lanlan_echo_cancel_is_available ())
    {
      g_message ("Echo cancellation is not available: PipeWire's echo-cancel module is not installed");
      goto out;
    }

  input = g_settings_get_string (self->settings, "input-device");
  output = g_settings_get_string (self->settings, "output-device");
  self->echo_cancel = lanlan_echo_cancel_new (*input ? input : NULL, *output ? output : NULL, &error);
  if (self->echo_cancel == NULL)
    g_warning ("Echo cancellation is off: %s", error->message);

out:
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->conversations)); i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      lanlan_conversation_set_echo_cancel (c, self->echo_cancel);
    }
}

/**
 * lanlan_application_get_echo_cancel:
 *
 * Returns: (nullable) (transfer none): the app's echo canceller, or %NULL
 *   when it is switched off or unavailable.
 */
LanlanEchoCancel *
lanlan_application_get_echo_cancel (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->echo_cancel;
}

/* Writes are kept and retried while the disk refuses them: every window
 * says so until a write goes through again. */
static void
on_store_write_failed (LanlanStore       *store,
                       GError            *error,
                       LanlanApplication *self)
{
  g_autofree char *msg = g_strdup_printf (_("Conversations are not being saved: %s"),
                                          error ? error->message : _("unknown error"));

  if (self->store_failing)
    return;
  self->store_failing = TRUE;
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data))
      lanlan_window_show_error (l->data, msg);
}

static void
on_store_write_succeeded (LanlanStore       *store,
                          LanlanApplication *self)
{
  self->store_failing = FALSE;
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data))
      lanlan_window_show_error (l->data, NULL);
}

/* The conversation database. A file that could not be read as it was
 * (damaged, or from a newer Lanlan) was kept aside and a new one made:
 * the user is told once, in the first window. */
static void
setup_conversation_store (LanlanApplication *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = lanlan_store_dup_default_path ();

  if (path == NULL)
    return;
  self->conversation_store = lanlan_store_new (path, &error);
  if (self->conversation_store == NULL)
    {
      g_warning ("Conversations cannot be kept: %s", error->message);
      self->store_error = g_strdup_printf (_("Conversations cannot be kept: %s"), error->message);
    }
  else if (error != NULL)
    {
      /* The message names the file kept aside. */
      g_warning ("Conversation store: %s", error->message);
      self->store_error = g_strdup (error->message);
    }

  if (self->conversation_store != NULL)
    {
      g_signal_connect_object (self->conversation_store, "write-failed",
                               G_CALLBACK (on_store_write_failed), self, 0);
      g_signal_connect_object (self->conversation_store, "write-succeeded",
                               G_CALLBACK (on_store_write_succeeded), self, 0);
    }
}

static void
lanlan_application_startup (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (lanlan_application_parent_class)->startup (app);

  gtk_css_provider_load_from_resource (css, RESOURCE_PREFIX "/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  if (!lanlan_character_store_load (self->store, &error))
    g_warning ("%s", error->message);
  g_clear_error (&error);

  setup_conversation_store (self);

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_swapped (self->settings, "changed::agent-enabled",
                            G_CALLBACK (on_agent_setting_changed), self);
  g_signal_connect_swapped (self->settings, "changed::agent-pub-port",
                            G_CALLBACK (on_agent_setting_changed), self);
  g_signal_connect_swapped (self->settings, "changed::agent-pull-port",
                            G_CALLBACK (on_agent_setting_changed), self);
  g_signal_connect_swapped (self->settings, "changed::agent-push-port",
                            G_CALLBACK (on_agent_setting_changed), self);
  if (g_settings_get_boolean (self->settings, "agent-enabled"))
    setup_agent (self);

  g_signal_connect_swapped (self->settings, "changed::echo-cancel",
                            G_CALLBACK (setup_echo_cancel), self);
  g_signal_connect_swapped (self->settings, "changed::input-device",
                            G_CALLBACK (setup_echo_cancel), self);
  g_signal_connect_swapped (self->settings, "changed::output-device",
                            G_CALLBACK (setup_echo_cancel), self);
  setup_echo_cancel (self);
}

static void
lanlan_application_shutdown (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  g_autoptr(GError) error = NULL;

  if (!lanlan_character_store_save (self->store, &error))
    g_warning ("Could not save characters: %s", error->message);
  g_clear_error (&error);

  /* Sessions end; what was said is on disk before the app goes. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->conversations)); i++)
    {
      g_autoptr(LanlanConversation) c = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      lanlan_conversation_end (c);
    }
  if (self->conversation_store != NULL && !lanlan_store_flush (self->conversation_store, &error))
    g_warning ("Could not save conversations: %s", error->message);

  G_APPLICATION_CLASS (lanlan_application_parent_class)->shutdown (app);
}

static void
lanlan_application_dispose (GObject *object)
{
  LanlanApplication *self = (LanlanApplication *)object;

  g_clear_object (&self->store);
  g_clear_object (&self->import_chooser);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  g_clear_object (&self->agent);
  g_clear_pointer (&self->agent_error, g_free);
  g_clear_object (&self->echo_cancel);
  if (self->conversations != NULL)
    g_list_store_remove_all (self->conversations);
  g_clear_object (&self->conversations);
  g_clear_object (&self->conversation_store);
  g_clear_pointer (&self->store_error, g_free);

  G_OBJECT_CLASS (lanlan_application_parent_class)->dispose (object);
}

static void
lanlan_application_class_init (LanlanApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = lanlan_application_dispose;
  app_class->activate = lanlan_application_activate;
  app_class->open = lanlan_application_open;
  app_class->startup = lanlan_application_startup;
  app_class->shutdown = lanlan_application_shutdown;
  app_class->handle_local_options = lanlan_application_handle_local_options;

  /**
   * LanlanApplication::api-key-changed:
   * @provider: the provider id
   *
   * An API key was stored in or removed from the keyring.
   */
  signals[API_KEY_CHANGED] =
    g_signal_new ("api-key-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * LanlanApplication::agent-changed:
   *
   * The agent bridge was opened, closed, or failed to open.
   */
  signals[AGENT_CHANGED] =
    g_signal_new ("agent-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Referencing the resource keeps it linked in from the static library. */
  g_resources_register (lanlan_get_resource ());
}

static void
new_window_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  LanlanApplication *self = user_data;
  g_autoptr(LanlanCharacter) c = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  g_autofree char *name = g_strdup_printf (_("Character %u"), n + 1);

  c = lanlan_character_new (name);
  lanlan_character_store_add (self->store, c);
  lanlan_application_open_character (self, c);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  LanlanApplication *self = user_data;
  static const char *developers[] = { "The Lanlan developers", NULL };
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  adw_show_about_window (window,
                         "application-name", _("Lanlan"),
                         "application-icon", APP_ID,
                         "developer-name", _("The Lanlan developers"),
                         "version", PACKAGE_VERSION,
                         "developers", developers,
                         /* Translators: put your names here, one per line */
                         "translator-credits", _("translator-credits"),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         NULL);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
lanlan_application_init (LanlanApplication *self)
{
  static const GActionEntry app_actions[] = {
    { "new-window", new_window_action },
    { "new-character", new_character_action },
    { "preferences", preferences_action },
    { "api-keys", api_keys_action },
    { "edit-character", edit_character_action, "s" },
    { "open-character", open_character_action, "s" },
    { "import-card", import_card_action, "s" },
    { "import-card-dialog", import_card_dialog_action },
    { "about", about_action },
    { "quit", quit_action },
  };

  static const GOptionEntry options[] = {
    { "import", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, NULL,
      N_("Import a character card (PNG or JSON)"), N_("FILE") },
    { NULL }
  };

  self->store = lanlan_character_store_new_default ();
  self->conversations = g_list_store_new (LANLAN_TYPE_CONVERSATION);
  g_application_add_main_option_entries (G_APPLICATION (self), options);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.new-character",
                                         (const char *[]) { "<Control>n", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
}

LanlanApplication *
lanlan_application_new (void)
{
  return g_object_new (LANLAN_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS | G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/lanlan/Lanlan",
                       NULL);
}
