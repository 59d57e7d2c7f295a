/* lanlan-window-history.c — the window's history, search and export
 *
 * win.history and win.search open the history window (its conversations
 * page, or its search page); win.export saves the conversation shown as
 * Markdown or JSON, chosen by the file's name, through the desktop's
 * file chooser (GtkFileDialog from GTK 4.10, GtkFileChooserNative before).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-history-window.h"
#include "lanlan-window-private.h"

static void
history_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  LanlanHistoryWindow *history = lanlan_history_window_new (GTK_WINDOW (self), self->conversation);

  if (g_str_equal (action_name, "win.search"))
    lanlan_history_window_show_search (history);
  gtk_window_present (GTK_WINDOW (history));
}

/* Writes the conversation to @file, as JSON when its name says so. */
static void
export_to (LanlanWindow *self,
           GFile        *file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *text = NULL;
  LanlanStoreExportFormat format = g_str_has_suffix (name, ".json") ? LANLAN_STORE_EXPORT_JSON
                                                                   : LANLAN_STORE_EXPORT_MARKDOWN;
  LanlanStore *store = lanlan_conversation_get_store (self->conversation);
  const char *id = lanlan_conversation_get_id (self->conversation);

  if (store == NULL || id == NULL)
    return;

  text = lanlan_store_export_as (store, id, format,
                                 lanlan_character_get_name (lanlan_window_get_character (self)), &error);
  if (text == NULL ||
      !g_file_replace_contents (file, text, strlen (text), NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                NULL, NULL, &error))
    {
      g_autofree char *msg = g_strdup_printf (_("The conversation could not be exported: %s"), error->message);

      lanlan_window_show_error (self, msg);
      return;
    }

  {
    g_autofree char *msg = g_strdup_printf (_("Exported to %s"), name);
    lanlan_window_show_toast (self, msg);
  }
}

static char *
suggested_name (LanlanWindow *self)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d");
  g_autofree char *name = g_strdup_printf ("%s %s.md", lanlan_character_get_name (lanlan_window_get_character (self)), date);

  g_strdelimit (name, "/\\:", '-');
  return g_steal_pointer (&name);
}

#if GTK_CHECK_VERSION(4, 10, 0)
static void
on_save_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GFile) file = gtk_file_dialog_save_finish (GTK_FILE_DIALOG (source), result, NULL);

  if (file != NULL)
    export_to (self, file);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  g_autoptr(GtkFileDialog) dialog = NULL;
  g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
  g_autoptr(GtkFileFilter) md = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) json = gtk_file_filter_new ();
  g_autofree char *name = suggested_name (self);

  if (lanlan_conversation_get_id (self->conversation) == NULL)
    return;

  gtk_file_filter_set_name (md, _("Markdown"));
  gtk_file_filter_add_suffix (md, "md");
  gtk_file_filter_set_name (json, _("JSON"));
  gtk_file_filter_add_suffix (json, "json");
  g_list_store_append (filters, md);
  g_list_store_append (filters, json);

  dialog = gtk_file_dialog_new ();
  gtk_file_dialog_set_title (dialog, _("Export Conversation"));
  gtk_file_dialog_set_initial_name (dialog, name);
  gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
  gtk_file_dialog_save (dialog, GTK_WINDOW (self), NULL, on_save_done, g_object_ref (self));
}
#else
static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     LanlanWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      if (file != NULL)
        export_to (self, file);
    }
  g_clear_object (&self->export_chooser);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) md = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) json = gtk_file_filter_new ();
  g_autofree char *name = suggested_name (self);

  if (lanlan_conversation_get_id (self->conversation) == NULL)
    return;
  if (self->export_chooser != NULL)
    {
      gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->export_chooser));
      return;
    }

  gtk_file_filter_set_name (md, _("Markdown"));
  gtk_file_filter_add_suffix (md, "md");
  gtk_file_filter_set_name (json, _("JSON"));
  gtk_file_filter_add_suffix (json, "json");

  chooser = gtk_file_chooser_native_new (_("Export Conversation"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), md);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), json);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  self->export_chooser = G_OBJECT (chooser);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}
#endif

void
lanlan_window_history_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.history", NULL, history_action);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, history_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
}
