/* lanlan-history-window.c — a character's past conversations, and search
 *
 * The character's conversations, newest first (title, date, how many
 * messages; open one, delete one, or clear them all after a
 * confirmation); typing in the search entry searches every message of
 * every character instead (the store's FTS5 index), and a result opens
 * its conversation, in its character's window.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-history-window.h"

#define SEARCH_LIMIT 100

struct _LanlanHistoryWindow
{
  AdwWindow           parent_instance;

  LanlanConversation *conversation;

  GtkStack           *list_stack;
  GtkListBox         *conversation_list;
  GtkButton          *clear_button;
  GtkSearchEntry     *search_entry;
  GtkListBox         *result_list;
};

G_DEFINE_FINAL_TYPE (LanlanHistoryWindow, lanlan_history_window, ADW_TYPE_WINDOW)

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);

  return dt != NULL ? g_date_time_format (dt, "%x %H:%M") : g_strdup ("");
}

static LanlanStore *
store (LanlanHistoryWindow *self)
{
  return lanlan_conversation_get_store (self->conversation);
}

static void
clear_list (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static void refresh (LanlanHistoryWindow *self);
static void open_row (LanlanHistoryWindow *self, GtkListBoxRow *row);

/* Rows open with their own button too: not every assistive technology
 * can activate a list row. */
static void
on_open_clicked (GtkButton           *button,
                 LanlanHistoryWindow *self)
{
  GtkWidget *row = gtk_widget_get_ancestor (GTK_WIDGET (button), GTK_TYPE_LIST_BOX_ROW);

  if (row != NULL)
    open_row (self, GTK_LIST_BOX_ROW (row));
}

static void
add_open_button (LanlanHistoryWindow *self,
                 GtkWidget           *row,
                 const char          *label)
{
  GtkWidget *open = gtk_button_new_from_icon_name ("go-next-symbolic");

  gtk_widget_set_valign (open, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (open, "flat");
  gtk_widget_set_tooltip_text (open, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (open), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_signal_connect (open, "clicked", G_CALLBACK (on_open_clicked), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), open);
}

static void
on_delete_clicked (GtkButton           *button,
                   LanlanHistoryWindow *self)
{
  const char *id = g_object_get_data (G_OBJECT (button), "conversation-id");

  lanlan_store_delete_conversation (store (self), id);
  /* The conversation shown is gone: what follows is a new one. */
  if (g_strcmp0 (id, lanlan_conversation_get_id (self->conversation)) == 0)
    lanlan_conversation_start_new (self->conversation);
  refresh (self);
}

static GtkWidget *
conversation_row (LanlanHistoryWindow           *self,
                  const LanlanStoreConversation *c)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *delete;
  g_autofree char *when = format_time (c->updated ? c->updated : c->created);
  g_autofree char *count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message", "%u messages",
                                                         c->n_messages), c->n_messages);
  g_autofree char *subtitle = g_strdup_printf ("%s · %s", when, count);
  const char *title = c->title != NULL && *c->title != '\0' ? c->title : _("Untitled Conversation");

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "conversation-id", g_strdup (c->id), g_free);

  if (g_strcmp0 (c->id, lanlan_conversation_get_id (self->conversation)) == 0)
    {
      GtkWidget *current = gtk_label_new (_("Current"));

      gtk_widget_add_css_class (current, "dim-label");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), current);
    }

  delete = gtk_button_new_from_icon_name ("user-trash-symbolic");
  gtk_widget_set_valign (delete, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (delete, "flat");
  gtk_widget_set_tooltip_text (delete, _("Delete Conversation"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (delete), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Delete Conversation"), -1);
  g_object_set_data_full (G_OBJECT (delete), "conversation-id", g_strdup (c->id), g_free);
  g_signal_connect (delete, "clicked", G_CALLBACK (on_delete_clicked), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), delete);
  add_open_button (self, row, _("Open Conversation"));
  return row;
}

static void
refresh (LanlanHistoryWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  LanlanCharacter *character = lanlan_conversation_get_character (self->conversation);

  clear_list (self->conversation_list);
  if (store (self) != NULL)
    list = lanlan_store_list_conversations (store (self), lanlan_character_get_id (character), &error);
  if (list == NULL && error != NULL)
    g_warning ("Could not list the conversations: %s", error->message);

  for (guint i = 0; list != NULL && i < list->len; i++)
    gtk_list_box_append (self->conversation_list, conversation_row (self, g_ptr_array_index (list, i)));

  if (*gtk_editable_get_text (GTK_EDITABLE (self->search_entry)) == '\0')
    gtk_stack_set_visible_child_name (self->list_stack, list != NULL && list->len > 0 ? "list" : "empty");
  gtk_widget_set_sensitive (GTK_WIDGET (self->clear_button), list != NULL && list->len > 0);
}

static void
on_clear_response (AdwMessageDialog    *dialog,
                   const char          *response,
                   LanlanHistoryWindow *self)
{
  if (g_strcmp0 (response, "clear") != 0)
    return;

  lanlan_store_delete_character (store (self),
                                 lanlan_character_get_id (lanlan_conversation_get_character (self->conversation)));
  lanlan_conversation_start_new (self->conversation);
  refresh (self);
}

static void
on_clear_clicked (LanlanHistoryWindow *self)
{
  LanlanCharacter *character = lanlan_conversation_get_character (self->conversation);
  g_autofree char *body =
    g_strdup_printf (_("Every conversation with %s will be deleted. This cannot be undone."),
                     lanlan_character_get_name (character));
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Delete All Conversations?"), body);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "clear", _("_Delete All"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "clear",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_clear_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* --- Search ----------------------------------------------------------------- */

static LanlanCharacter *
lookup_character (const char *character_id)
{
  GApplication *app = g_application_get_default ();

  if (!LANLAN_IS_APPLICATION (app))
    return NULL;
  return lanlan_character_store_lookup (lanlan_application_get_store (LANLAN_APPLICATION (app)),
                                        character_id);
}

static void
on_search_changed (LanlanHistoryWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = NULL;
  g_autofree char *query = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))));

  clear_list (self->result_list);
  if (*query == '\0' || store (self) == NULL)
    {
      refresh (self);
      return;
    }

  hits = lanlan_store_search (store (self), query, NULL, SEARCH_LIMIT, &error);
  if (hits == NULL)
    {
      g_message ("Search for “%s” failed: %s", query, error ? error->message : "");
      gtk_stack_set_visible_child_name (self->list_stack, "no-results");
      return;
    }
  gtk_stack_set_visible_child_name (self->list_stack, hits->len > 0 ? "results" : "no-results");

  for (guint i = 0; i < hits->len; i++)
    {
      LanlanStoreHit *hit = g_ptr_array_index (hits, i);
      LanlanCharacter *character = lookup_character (hit->character_id);
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *when = format_time (hit->created);
      const char *who = g_strcmp0 (hit->role, "user") == 0 ? _("You")
                        : character != NULL ? lanlan_character_get_name (character) : _("Unknown");
      g_autofree char *subtitle = NULL;

      if (g_strcmp0 (hit->role, "user") == 0 && character != NULL)
        /* Translators: a search result, "You, to Mika · date" */
        subtitle = g_strdup_printf (_("You, to %s · %s"), lanlan_character_get_name (character), when);
      else
        subtitle = g_strdup_printf ("%s · %s", who, when);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), hit->snippet);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 3);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      g_object_set_data_full (G_OBJECT (row), "conversation-id", g_strdup (hit->conversation_id), g_free);
      g_object_set_data_full (G_OBJECT (row), "character-id", g_strdup (hit->character_id), g_free);
      add_open_button (self, row, _("Open Conversation"));
      gtk_list_box_append (self->result_list, row);
    }
}

/* A conversation opens here; a search result opens its conversation in
 * its character's window. */
static void
open_row (LanlanHistoryWindow *self,
          GtkListBoxRow       *row)
{
  const char *id = g_object_get_data (G_OBJECT (row), "conversation-id");
  const char *character_id = g_object_get_data (G_OBJECT (row), "character-id");
  LanlanCharacter *character = character_id != NULL ? lookup_character (character_id) : NULL;
  GApplication *app = g_application_get_default ();
  LanlanConversation *target = self->conversation;
  g_autoptr(GError) error = NULL;

  if (character_id != NULL && character != NULL &&
      character != lanlan_conversation_get_character (self->conversation) &&
      LANLAN_IS_APPLICATION (app))
    target = lanlan_application_ensure_conversation (LANLAN_APPLICATION (app), character);

  if (!lanlan_conversation_open (target, id, &error))
    {
      g_warning ("Could not open the conversation: %s", error->message);
      return;
    }
  if (target != self->conversation)
    lanlan_application_open_character (LANLAN_APPLICATION (app), character);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
on_row_activated (LanlanHistoryWindow *self,
                  GtkListBoxRow       *row)
{
  open_row (self, row);
}

void
lanlan_history_window_show_search (LanlanHistoryWindow *self)
{
  g_return_if_fail (LANLAN_IS_HISTORY_WINDOW (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

/* --- GObject ------------------------------------------------------------------ */

static void
lanlan_history_window_dispose (GObject *object)
{
  LanlanHistoryWindow *self = (LanlanHistoryWindow *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_HISTORY_WINDOW);
  g_clear_object (&self->conversation);

  G_OBJECT_CLASS (lanlan_history_window_parent_class)->dispose (object);
}

static void
lanlan_history_window_class_init (LanlanHistoryWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lanlan_history_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/lanlan-history-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanHistoryWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, LanlanHistoryWindow, conversation_list);
  gtk_widget_class_bind_template_child (widget_class, LanlanHistoryWindow, clear_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanHistoryWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, LanlanHistoryWindow, result_list);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_clear_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
lanlan_history_window_init (LanlanHistoryWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

LanlanHistoryWindow *
lanlan_history_window_new (GtkWindow          *parent,
                           LanlanConversation *conversation)
{
  LanlanHistoryWindow *self;
  g_autofree char *title = NULL;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (conversation), NULL);

  self = g_object_new (LANLAN_TYPE_HISTORY_WINDOW, "transient-for", parent, NULL);
  self->conversation = g_object_ref (conversation);
  /* Translators: the history window's title, with the character's name */
  title = g_strdup_printf (_("Conversations with %s"),
                           lanlan_character_get_name (lanlan_conversation_get_character (conversation)));
  gtk_window_set_title (GTK_WINDOW (self), title);
  refresh (self);
  return self;
}
