/* lanlan-window.c — a view of one character's conversation
 *
 * The window is bound to a LanlanConversation, which owns the session,
 * the audio and the transcript and outlives it: a binding group ties the
 * microphone toggle and its level meter to the conversation, a signal
 * group follows its state (the status subtitle), hot swap (the header's
 * indicator), error (a banner with its way out: Change Key…, Retry, Edit
 * Character…), key (the onboarding banner) and toasts. A second banner
 * follows the app's characters file: a refused save, or an unreadable
 * file kept as it is (with Replace…). The transcript is
 * a GtkListView of recycled LanlanMessageRow over the conversation's
 * messages, kept scrolled to the end while the user is there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-message-row.h"
#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"
#include "lanlan-window-private.h"

G_DEFINE_FINAL_TYPE (LanlanWindow, lanlan_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_CONVERSATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update_title (LanlanWindow *self)
{
  const char *name = lanlan_character_get_name (lanlan_window_get_character (self));

  adw_window_title_set_title (self->window_title, name);
  gtk_window_set_title (GTK_WINDOW (self), name);
}

/* --- Scrolling ------------------------------------------------------------- */

static void
scroll_to_end (LanlanWindow *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);

  self->scrolling = TRUE;
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  self->scrolling = FALSE;
}

static void
on_vadjustment_value (GtkAdjustment *adj,
                      GParamSpec    *pspec,
                      LanlanWindow  *self)
{
  /* The user scrolled: follow new messages only from the end. */
  if (!self->scrolling)
    self->stick_to_end = gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >=
                         gtk_adjustment_get_upper (adj) - 24;
}

static void
on_vadjustment_upper (GtkAdjustment *adj,
                      GParamSpec    *pspec,
                      LanlanWindow  *self)
{
  if (self->stick_to_end)
    scroll_to_end (self);
}

/* --- Rows ------------------------------------------------------------------ */

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           LanlanWindow             *self)
{
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_child (item, lanlan_message_row_new (lanlan_window_get_character (self)));
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          LanlanWindow             *self)
{
  lanlan_message_row_set_message (LANLAN_MESSAGE_ROW (gtk_list_item_get_child (item)),
                                  gtk_list_item_get_item (item),
                                  lanlan_character_get_name (lanlan_window_get_character (self)));
}

static void
unbind_row (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            LanlanWindow             *self)
{
  lanlan_message_row_set_message (LANLAN_MESSAGE_ROW (gtk_list_item_get_child (item)), NULL, NULL);
}

/* --- Banners ---------------------------------------------------------------- */

static void
on_banner_child_revealed (GtkRevealer *revealer)
{
  /* Hidden banners leave the accessibility tree, not just the screen. */
  if (!gtk_revealer_get_reveal_child (revealer) && !gtk_revealer_get_child_revealed (revealer))
    gtk_widget_set_visible (GTK_WIDGET (revealer), FALSE);
}

static void
set_banner_revealed (GtkRevealer *revealer,
                     gboolean     revealed)
{
  if (revealed)
    gtk_widget_set_visible (GTK_WIDGET (revealer), TRUE);
  gtk_revealer_set_reveal_child (revealer, revealed);
  if (!revealed && !gtk_widget_get_mapped (GTK_WIDGET (revealer)))
    gtk_widget_set_visible (GTK_WIDGET (revealer), FALSE);
}

/* The banner shows the conversation's error, else a message of the app
 * (a damaged characters file, a card that would not import). */
static void
update_error_banner (LanlanWindow *self)
{
  const GError *error = lanlan_conversation_get_error (self->conversation);
  const char *message = error != NULL ? error->message : self->app_error;
  const char *button = NULL;
  const char *action = NULL;

  if (message == NULL)
    {
      set_banner_revealed (self->error_revealer, FALSE);
      return;
    }

  /* The session's messages are whole sentences already ("The service
   * refused the API key (HTTP 401)", "Could not connect to the service:
   * …"); the banner adds the way out. */
  if (error == NULL)
    ;
  else if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH))
    button = _("Change Key…"), action = "app.api-keys";
  else if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK) ||
           g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT))
    button = _("Retry"), action = "win.reconnect";
  else if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG))
    button = _("Edit Character…"), action = "win.edit-character";

  gtk_label_set_text (self->error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_button), button != NULL);
  if (button != NULL)
    {
      gtk_button_set_label (self->error_button, button);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->error_button), action);
    }
  set_banner_revealed (self->error_revealer, TRUE);
}

/**
 * lanlan_window_show_error:
 * @message: (nullable): a message of the app for this window's banner;
 *   %NULL hides it
 */
void
lanlan_window_show_error (LanlanWindow *self,
                          const char   *message)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  g_free (self->app_error);
  self->app_error = g_strdup (message);
  update_error_banner (self);
}

static void
dismiss_error_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  g_clear_pointer (&self->app_error, g_free);
  lanlan_conversation_dismiss_error (self->conversation);
  update_error_banner (self);
}

/* The characters file: a save the disk refused (the banner stays, with
 * the whole message, until a save succeeds; Try Again saves now), or a
 * file that could not be read and is kept as it is (Replace… moves it
 * aside, never deletes it, after asking). Every window shows it. */
static void
update_save_banner (LanlanWindow *self)
{
  LanlanCharacterStore *store = self->character_store;
  gboolean blocked;
  const char *message;

  if (store == NULL)
    {
      set_banner_revealed (self->save_revealer, FALSE);
      return;
    }

  blocked = lanlan_character_store_get_write_blocked (store);
  message = blocked ? lanlan_character_store_get_load_error (store)
                    : lanlan_character_store_get_save_error (store);
  if (blocked && message == NULL)
    message = lanlan_character_store_get_save_error (store);
  if (message == NULL)
    {
      set_banner_revealed (self->save_revealer, FALSE);
      return;
    }

  gtk_label_set_text (self->save_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->save_retry_button), !blocked);
  gtk_widget_set_visible (GTK_WIDGET (self->save_replace_button), blocked);
  set_banner_revealed (self->save_revealer, TRUE);
}

static void
retry_save_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  /* A failure stays in "save-error", and so in the banner. */
  if (self->character_store != NULL)
    lanlan_character_store_save (self->character_store, NULL);
}

static void
on_replace_response (AdwMessageDialog *dialog,
                     const char       *response,
                     LanlanWindow     *self)
{
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "replace") != 0 || self->character_store == NULL)
    return;

  if (!lanlan_character_store_replace_unreadable (self->character_store, &error) &&
      lanlan_character_store_get_save_error (self->character_store) == NULL)
    {
      /* The file could not even be moved aside: say so in full. */
      AdwMessageDialog *failed =
        ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Could Not Replace the File"),
                                                    error->message));

      adw_message_dialog_add_response (failed, "close", _("_Close"));
      gtk_window_present (GTK_WINDOW (failed));
    }
  update_save_banner (self);
}

static void
replace_characters_file_action (GtkWidget  *widget,
                                const char *action_name,
                                GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  AdwMessageDialog *dialog;

  if (self->character_store == NULL || !lanlan_character_store_get_write_blocked (self->character_store))
    return;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Replace the Character Settings File?"),
                                                       _("The file that could not be read is renamed "
                                                         "and kept next to it, not deleted. Your "
                                                         "characters as they are now are saved in "
                                                         "its place.")));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "replace", _("_Replace"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "replace", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_replace_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
set_character_store (LanlanWindow         *self,
                     LanlanCharacterStore *store)
{
  if (self->character_store != NULL)
    g_signal_handlers_disconnect_by_data (self->character_store, self);
  g_set_object (&self->character_store, store);
  if (store != NULL)
    {
      g_signal_connect_object (store, "notify::save-error", G_CALLBACK (update_save_banner), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (store, "notify::write-blocked", G_CALLBACK (update_save_banner), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (store, "notify::load-error", G_CALLBACK (update_save_banner), self,
                               G_CONNECT_SWAPPED);
    }
  update_save_banner (self);
}

static void
update_onboarding (LanlanWindow *self)
{
  LanlanCharacter *character = lanlan_window_get_character (self);
  const char *provider_id = lanlan_character_get_provider (character);
  const LanlanProvider *provider = lanlan_provider_lookup (provider_id);
  gboolean has_key = lanlan_conversation_get_has_api_key (self->conversation);
  g_autofree char *msg =
    g_strdup_printf (_("No API key is set for %s. Add one to start talking with %s."),
                     provider ? _(provider->display_name) : provider_id,
                     lanlan_character_get_name (character));

  gtk_label_set_text (self->onboarding_label, msg);
  set_banner_revealed (self->onboarding_revealer, !has_key);
}

/* --- Status, hot swap, toasts ------------------------------------------------ */

/* A message of the user's still waiting for its answer: the last one of
 * the transcript is theirs, and went (or is going) out. */
static gboolean
awaiting_answer (LanlanWindow *self)
{
  GListModel *messages = lanlan_conversation_get_messages (self->conversation);
  guint n = g_list_model_get_n_items (messages);
  g_autoptr(LanlanMessage) last = n > 0 ? g_list_model_get_item (messages, n - 1) : NULL;
  LanlanMessageStatus status;

  if (last == NULL || lanlan_message_get_role (last) != LANLAN_MESSAGE_ROLE_USER)
    return FALSE;
  status = lanlan_message_get_status (last);
  return status == LANLAN_MESSAGE_STATUS_PENDING || status == LANLAN_MESSAGE_STATUS_SENT;
}

/* The header's face follows the conversation: speaking while the
 * answer plays, listening while the microphone is on, thinking while a
 * message waits for its answer. Its ring follows the conversation's
 * "output-level" (bound in constructed()). */
static void
update_avatar (LanlanWindow *self)
{
  LanlanSessionState state;
  LanlanAvatarState avatar_state;

  if (self->avatar == NULL || self->conversation == NULL)
    return;

  state = lanlan_conversation_get_state (self->conversation);
  if (state == LANLAN_SESSION_STATE_RESPONDING)
    avatar_state = LANLAN_AVATAR_SPEAKING;
  else if (lanlan_conversation_get_microphone_active (self->conversation))
    avatar_state = LANLAN_AVATAR_LISTENING;
  else if ((state == LANLAN_SESSION_STATE_CONNECTED || state == LANLAN_SESSION_STATE_CONNECTING) &&
           awaiting_answer (self))
    avatar_state = LANLAN_AVATAR_THINKING;
  else
    avatar_state = LANLAN_AVATAR_IDLE;

  lanlan_avatar_set_state (self->avatar, avatar_state);
}

static void
update_status (LanlanWindow *self)
{
  const char *status;

  switch (lanlan_conversation_get_state (self->conversation))
    {
    case LANLAN_SESSION_STATE_CONNECTING: status = _("Connecting…"); break;
    case LANLAN_SESSION_STATE_CONNECTED: status = _("Connected"); break;
    case LANLAN_SESSION_STATE_RESPONDING: status = _("Speaking…"); break;
    case LANLAN_SESSION_STATE_RECONNECTING: status = _("Reconnecting…"); break;
    case LANLAN_SESSION_STATE_ERROR: status = _("Connection failed"); break;
    case LANLAN_SESSION_STATE_IDLE:
    case LANLAN_SESSION_STATE_ENDED:
    default:
      status = _("Not connected");
      break;
    }

  adw_window_title_set_subtitle (self->window_title, status);
}

static void
update_swap (LanlanWindow *self)
{
  const char *text = NULL;
  gboolean busy = FALSE;

  switch (lanlan_conversation_get_swap_status (self->conversation))
    {
    case LANLAN_SWAP_STATUS_PREPARING: text = _("Applying changes…"); busy = TRUE; break;
    case LANLAN_SWAP_STATUS_READY: text = _("Switching at the end of this turn…"); busy = TRUE; break;
    case LANLAN_SWAP_STATUS_SWAPPED: text = _("Changes applied"); break;
    case LANLAN_SWAP_STATUS_FAILED: text = _("Changes not applied"); break;
    case LANLAN_SWAP_STATUS_NONE:
    default:
      break;
    }

  /* The label stays (empty when idle): screen readers follow a label
   * whose text changes more surely than one that comes and goes. */
  gtk_label_set_text (self->swap_label, text ? text : "");
  gtk_spinner_set_spinning (self->swap_spinner, busy);
  gtk_widget_set_visible (GTK_WIDGET (self->swap_spinner), busy);
}

static void
on_toast_dismissed (AdwToast     *toast,
                    LanlanWindow *self)
{
  if (self->toast == toast)
    self->toast = NULL;
}

/**
 * lanlan_window_show_toast:
 *
 * Shows @message briefly. A toast still on screen shows the newest
 * message instead of queueing another, so a flood stays one toast.
 */
void
lanlan_window_show_toast (LanlanWindow *self,
                          const char   *message)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  if (self->toast != NULL)
    {
      adw_toast_set_title (self->toast, message);
      return;
    }

  self->toast = adw_toast_new (message);
  g_signal_connect_object (self->toast, "dismissed", G_CALLBACK (on_toast_dismissed), self, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, self->toast);
}

/* What the agent wants the user to see: a toast here; the app sends a
 * desktop notification when this window is not the one in front. */
static void
on_agent_notification (LanlanWindow *self,
                       const char   *text,
                       gboolean      is_error)
{
  lanlan_window_show_toast (self, text);
}

/* --- Actions ------------------------------------------------------------------ */

static void
on_entry_activate (LanlanWindow *self)
{
  g_autofree char *text = NULL;

  text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->entry))));
  if (*text == '\0' && self->pending_jpeg == NULL)
    return;

  /* The text is in the transcript (and, failed or not, kept) before the
   * entry is cleared; an attached picture goes with it. */
  if (!lanlan_window_vision_send (self, text))
    lanlan_conversation_send_text (self->conversation, text);
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  self->stick_to_end = TRUE;
  scroll_to_end (self);
}

static void
toggle_microphone_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  lanlan_conversation_set_microphone_active (self->conversation,
                                             !lanlan_conversation_get_microphone_active (self->conversation));
}

static void
reconnect_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  lanlan_conversation_reconnect (LANLAN_WINDOW (widget)->conversation);
}

static void
edit_character_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  gtk_widget_activate_action (widget, "app.edit-character", "s",
                              lanlan_character_get_id (lanlan_window_get_character (self)));
}

static void
resend_message_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  LanlanMessage *message =
    lanlan_conversation_lookup_message (self->conversation, g_variant_get_string (parameter, NULL));

  if (message != NULL)
    lanlan_conversation_resend (self->conversation, message);
}

static void
new_conversation_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  lanlan_conversation_start_new (self->conversation);
  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
}

/* Only a conversation with something in it can be exported. */
static void
update_actions (LanlanWindow *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.export",
                                 lanlan_conversation_get_id (self->conversation) != NULL &&
                                 lanlan_conversation_get_store (self->conversation) != NULL);
}

static void
on_mic_active (LanlanWindow *self)
{
  gboolean active = lanlan_conversation_get_microphone_active (self->conversation);

  /* The toggle shows what is true: one that turned the microphone on
   * goes back off when it could not be opened (the binding does not
   * carry a change made while it is setting the conversation). */
  if (gtk_toggle_button_get_active (self->mic_button) != active)
    gtk_toggle_button_set_active (self->mic_button, active);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->mic_button),
                               active ? _("Mute Microphone") : _("Unmute Microphone"));
}

/* --- Keyboard shortcuts ------------------------------------------------------- */

/* Works around a crash in GTK 4.8 (gtk/a11y/gtkatspiroot.c, the
 * application object's GetChildAtIndex): asked for an index past the
 * visible windows, as a screen reader holding a child count from before
 * a window closed does, GTK answers with the *last* toplevel, visible or
 * not, and a hidden window that was never shown has no AT-SPI object
 * path: g_variant_new_object_path (NULL) fails and the reply crashes the
 * app (SEGV in g_variant_builder_add_value). GtkApplication gives every
 * window such a hidden toplevel, the GtkShortcutsWindow built from
 * gtk/help-overlay.ui, and it comes last. So the app keeps no hidden
 * toplevels: that overlay is destroyed at once, and win.show-help-overlay
 * builds one that is destroyed again when it closes. Tested by
 * tests/ui/test_window_cycles.py (StaleIndexTest, close-while-listing). */
static void
show_help_overlay (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  LanlanWindow *self = user_data;
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource (RESOURCE_PREFIX "/gtk/help-overlay.ui");
  GtkWindow *overlay = GTK_WINDOW (gtk_builder_get_object (builder, "help_overlay"));

  gtk_window_set_transient_for (overlay, GTK_WINDOW (self));
  gtk_window_set_destroy_with_parent (overlay, TRUE);
  gtk_window_set_hide_on_close (overlay, FALSE);
  gtk_window_present (overlay);
}

static void
drop_hidden_help_overlay (LanlanWindow *self)
{
  static const GActionEntry entries[] = {
    { "show-help-overlay", show_help_overlay },
  };
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (self));

  if (overlay != NULL)
    {
      g_object_ref (overlay);
      gtk_application_window_set_help_overlay (GTK_APPLICATION_WINDOW (self), NULL);
      gtk_window_destroy (GTK_WINDOW (overlay));
      g_object_unref (overlay);
    }
  g_action_map_remove_action (G_ACTION_MAP (self), "show-help-overlay");
  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
}

/* --- GObject ------------------------------------------------------------------- */

static void
lanlan_window_constructed (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;
  g_autoptr(GtkNoSelection) selection = NULL;
  LanlanCharacter *character;

  G_OBJECT_CLASS (lanlan_window_parent_class)->constructed (object);

  g_assert (self->conversation != NULL);
  character = lanlan_conversation_get_character (self->conversation);

  g_signal_connect_object (character, "notify::name", G_CALLBACK (update_title), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (character, "notify::provider", G_CALLBACK (update_onboarding), self,
                           G_CONNECT_SWAPPED);
  update_title (self);

  self->avatar = LANLAN_AVATAR (lanlan_avatar_new (character, 32));
  gtk_widget_set_valign (GTK_WIDGET (self->avatar), GTK_ALIGN_CENTER);
  gtk_box_prepend (self->title_box, GTK_WIDGET (self->avatar));
  g_binding_group_bind (self->bindings, "output-level", self->avatar, "level", G_BINDING_SYNC_CREATE);
  g_signal_connect_object (lanlan_conversation_get_messages (self->conversation), "items-changed",
                           G_CALLBACK (update_avatar), self, G_CONNECT_SWAPPED);

  selection = gtk_no_selection_new (g_object_ref (lanlan_conversation_get_messages (self->conversation)));
  gtk_list_view_set_model (self->transcript_view, GTK_SELECTION_MODEL (selection));

  g_binding_group_set_source (self->bindings, self->conversation);
  g_signal_group_set_target (self->signals, self->conversation);

  update_status (self);
  update_swap (self);
  update_error_banner (self);
  update_onboarding (self);
  on_mic_active (self);
  update_avatar (self);
  update_actions (self);
  lanlan_window_vision_constructed (self);
  self->stick_to_end = TRUE;
}

/* A new window is there to type in: the entry takes the focus once the
 * window is on screen (set before, GTK 4.8 leaves a later window out of
 * the accessibility tree). */
static void
lanlan_window_map (GtkWidget *widget)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  GTK_WIDGET_CLASS (lanlan_window_parent_class)->map (widget);

  if (!self->focus_set)
    {
      self->focus_set = TRUE;
      gtk_widget_grab_focus (GTK_WIDGET (self->entry));
    }
}

static void
lanlan_window_dispose (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;

  if (self->bindings != NULL)
    g_binding_group_set_source (self->bindings, NULL);
  if (self->signals != NULL)
    g_signal_group_set_target (self->signals, NULL);
  g_clear_object (&self->bindings);
  g_clear_object (&self->signals);
  if (self->toast != NULL)
    g_signal_handlers_disconnect_by_data (self->toast, self);
  self->toast = NULL;
  g_clear_pointer (&self->app_error, g_free);
  if (self->export_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->export_chooser));
  g_clear_object (&self->export_chooser);
  lanlan_window_vision_dispose (self);
  self->avatar = NULL;
  set_character_store (self, NULL);

  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_WINDOW);
  g_clear_object (&self->conversation);

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
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
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
    case PROP_CONVERSATION:
      self->conversation = g_value_dup_object (value);
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
  widget_class->map = lanlan_window_map;

  properties[PROP_CONVERSATION] =
    g_param_spec_object ("conversation", NULL, NULL, LANLAN_TYPE_CONVERSATION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/lanlan-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, title_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, mic_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, scroller);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, transcript_view);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, row_factory);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, entry);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, level_bar);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_spinner);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, onboarding_revealer);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, onboarding_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, save_revealer);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, save_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, save_retry_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, save_replace_button);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activate);

  gtk_widget_class_install_action (widget_class, "win.toggle-microphone", NULL,
                                   toggle_microphone_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-error", NULL,
                                   dismiss_error_action);
  gtk_widget_class_install_action (widget_class, "win.reconnect", NULL, reconnect_action);
  gtk_widget_class_install_action (widget_class, "win.retry-save", NULL, retry_save_action);
  gtk_widget_class_install_action (widget_class, "win.replace-characters-file", NULL,
                                   replace_characters_file_action);
  gtk_widget_class_install_action (widget_class, "win.edit-character", NULL,
                                   edit_character_action);
  gtk_widget_class_install_action (widget_class, "win.resend-message", "s",
                                   resend_message_action);
  gtk_widget_class_install_action (widget_class, "win.new-conversation", NULL,
                                   new_conversation_action);
  lanlan_window_history_class_init (widget_class);
  lanlan_window_vision_class_init (widget_class);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.toggle-microphone", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.new-conversation", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK,
                                       "win.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_h, GDK_CONTROL_MASK,
                                       "win.history", NULL);
}

static void
lanlan_window_init (LanlanWindow *self)
{
  GtkAdjustment *vadj;

  gtk_widget_init_template (GTK_WIDGET (self));
  lanlan_window_vision_init (self);

  g_signal_connect (self->error_revealer, "notify::child-revealed",
                    G_CALLBACK (on_banner_child_revealed), NULL);
  g_signal_connect (self->onboarding_revealer, "notify::child-revealed",
                    G_CALLBACK (on_banner_child_revealed), NULL);
  g_signal_connect (self->save_revealer, "notify::child-revealed",
                    G_CALLBACK (on_banner_child_revealed), NULL);

  g_signal_connect (self->row_factory, "setup", G_CALLBACK (setup_row), self);
  g_signal_connect (self->row_factory, "bind", G_CALLBACK (bind_row), self);
  g_signal_connect (self->row_factory, "unbind", G_CALLBACK (unbind_row), self);

  vadj = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect (vadj, "notify::value", G_CALLBACK (on_vadjustment_value), self);
  g_signal_connect (vadj, "notify::upper", G_CALLBACK (on_vadjustment_upper), self);
  g_signal_connect (vadj, "notify::page-size", G_CALLBACK (on_vadjustment_upper), self);

  self->bindings = g_binding_group_new ();
  g_binding_group_bind (self->bindings, "microphone-active", self->mic_button, "active",
                        G_BINDING_SYNC_CREATE | G_BINDING_BIDIRECTIONAL);
  g_binding_group_bind (self->bindings, "microphone-active", self->level_bar, "visible",
                        G_BINDING_SYNC_CREATE);
  g_binding_group_bind (self->bindings, "input-level", self->level_bar, "value",
                        G_BINDING_SYNC_CREATE);

  self->signals = g_signal_group_new (LANLAN_TYPE_CONVERSATION);
  g_signal_group_connect_swapped (self->signals, "notify::state", G_CALLBACK (update_status), self);
  g_signal_group_connect_swapped (self->signals, "notify::state", G_CALLBACK (update_avatar), self);
  g_signal_group_connect_swapped (self->signals, "notify::microphone-active", G_CALLBACK (update_avatar), self);
  g_signal_group_connect_swapped (self->signals, "notify::error", G_CALLBACK (update_avatar), self);
  g_signal_group_connect_swapped (self->signals, "notify::swap-status", G_CALLBACK (update_swap), self);
  g_signal_group_connect_swapped (self->signals, "notify::error", G_CALLBACK (update_error_banner), self);
  g_signal_group_connect_swapped (self->signals, "notify::has-api-key", G_CALLBACK (update_onboarding), self);
  g_signal_group_connect_swapped (self->signals, "notify::microphone-active", G_CALLBACK (on_mic_active), self);
  g_signal_group_connect_swapped (self->signals, "notify::id", G_CALLBACK (update_actions), self);
  g_signal_group_connect_swapped (self->signals, "toast", G_CALLBACK (lanlan_window_show_toast), self);
  g_signal_group_connect_swapped (self->signals, "agent-notification",
                                  G_CALLBACK (on_agent_notification), self);
}

LanlanWindow *
lanlan_window_new (GtkApplication     *application,
                   LanlanConversation *conversation)
{
  LanlanWindow *self;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (conversation), NULL);

  self = g_object_new (LANLAN_TYPE_WINDOW,
                       "application", application,
                       "conversation", conversation,
                       NULL);
  /* GtkApplication gave it its help overlay when it was added, after
   * constructed(). */
  drop_hidden_help_overlay (self);
  if (LANLAN_IS_APPLICATION (application))
    set_character_store (self, lanlan_application_get_store (LANLAN_APPLICATION (application)));
  return self;
}

LanlanConversation *
lanlan_window_get_conversation (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  return self->conversation;
}

LanlanCharacter *
lanlan_window_get_character (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  return lanlan_conversation_get_character (self->conversation);
}
