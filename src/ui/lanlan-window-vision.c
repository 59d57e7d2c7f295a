/* lanlan-window-vision.c — showing the character a picture, the screen
 * or the camera (a facet of LanlanWindow)
 *
 * A picture is attached with the paperclip (a file chooser: GtkFileDialog
 * from GTK 4.10, GtkFileChooserNative before), pasted (Ctrl+V with a
 * picture on the clipboard; text pastes as usual) or dropped on the
 * window; it waits above the entry and goes with the next message. A
 * dropped character card is imported instead. Screen and camera go
 * through the portals; a bar says what is being shown while it is, with
 * one button to stop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <libportal-gtk4/portal-gtk4.h>

#include "lanlan-character-card.h"
#include "lanlan-conversation.h"
#include "lanlan-vision-link.h"
#include "lanlan-window-private.h"

static void
show_error (LanlanWindow *self,
            const char   *message)
{
  lanlan_window_show_toast (self, message);
}

/**
 * lanlan_window_vision_attach:
 * @image: a picture in any format gdk-pixbuf reads
 *
 * Makes @image the picture that goes with the next message.
 */
void
lanlan_window_vision_attach (LanlanWindow *self,
                             GBytes       *image)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) jpeg = lanlan_vision_link_image_to_jpeg (image, &error);
  g_autoptr(GdkTexture) texture = NULL;

  if (jpeg == NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("This picture cannot be used: %s"), error->message);
      show_error (self, msg);
      return;
    }
  g_clear_pointer (&self->pending_jpeg, g_bytes_unref);
  self->pending_jpeg = g_steal_pointer (&jpeg);
  texture = gdk_texture_new_from_bytes (self->pending_jpeg, NULL);
  gtk_picture_set_paintable (self->pending_picture, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (GTK_WIDGET (self->pending_box), TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.remove-picture", TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
}

static void
clear_pending (LanlanWindow *self)
{
  g_clear_pointer (&self->pending_jpeg, g_bytes_unref);
  gtk_picture_set_paintable (self->pending_picture, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->pending_box), FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.remove-picture", FALSE);
}

/**
 * lanlan_window_vision_send:
 *
 * Sends the attached picture with @text, if a picture is attached.
 *
 * Returns: %TRUE when it did (the text went with it)
 */
gboolean
lanlan_window_vision_send (LanlanWindow *self,
                           const char   *text)
{
  if (self->pending_jpeg == NULL)
    return FALSE;
  lanlan_conversation_send_image (self->conversation, self->pending_jpeg, text);
  clear_pending (self);
  return TRUE;
}

static void
remove_picture_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  clear_pending (LANLAN_WINDOW (widget));
}

/* --- Files: chooser and drop ------------------------------------------- */

static void
on_file_loaded (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_file_load_bytes_finish (G_FILE (source), result, NULL, &error);

  if (bytes == NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("The picture could not be read: %s"), error->message);
      show_error (self, msg);
      return;
    }
  lanlan_window_vision_attach (self, bytes);
}

static void
attach_file (LanlanWindow *self,
             GFile        *file)
{
  g_file_load_bytes_async (file, NULL, on_file_loaded, g_object_ref (self));
}

#if GTK_CHECK_VERSION(4, 10, 0)
static void
on_open_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GFile) file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (source), result, NULL);

  if (file != NULL)
    attach_file (self, file);
}

static void
attach_picture_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();
  g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);

  gtk_file_filter_set_name (images, _("Pictures"));
  gtk_file_filter_add_pixbuf_formats (images);
  g_list_store_append (filters, images);
  gtk_file_dialog_set_title (dialog, _("Attach a Picture"));
  gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
  gtk_file_dialog_open (dialog, GTK_WINDOW (self), NULL, on_open_done, g_object_ref (self));
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
        attach_file (self, file);
    }
  gtk_native_dialog_destroy (chooser);
  g_clear_object (&self->picture_chooser);
}

static void
attach_picture_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();

  if (self->picture_chooser != NULL)
    return;
  chooser = gtk_file_chooser_native_new (_("Attach a Picture"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Attach"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_filter_set_name (images, _("Pictures"));
  gtk_file_filter_add_pixbuf_formats (images);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  self->picture_chooser = G_OBJECT (chooser);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}
#endif

/* A dropped character card is imported; any other picture is attached.
 * The file is read once, off the main thread, for both questions. */
static void
on_drop_loaded (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_file_load_bytes_finish (G_FILE (source), result, NULL, &error);
  g_autofree char *path = g_file_get_path (G_FILE (source));
  g_autoptr(LanlanCharacter) card = NULL;

  if (bytes == NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("The picture could not be read: %s"), error->message);
      show_error (self, msg);
      return;
    }
  card = lanlan_character_card_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  if (card != NULL && path != NULL)
    {
      gtk_widget_activate_action (GTK_WIDGET (self), "app.import-card", "s", path);
      return;
    }
  lanlan_window_vision_attach (self, bytes);
}

static void
drop_file (LanlanWindow *self,
           GFile        *file)
{
  g_file_load_bytes_async (file, NULL, on_drop_loaded, g_object_ref (self));
}

static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         LanlanWindow  *self)
{
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = g_value_get_boxed (value);

      if (files == NULL)
        return FALSE;
      drop_file (self, files->data);
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    {
      g_autoptr(GBytes) png = gdk_texture_save_to_png_bytes (g_value_get_object (value));

      lanlan_window_vision_attach (self, png);
      return TRUE;
    }
  return FALSE;
}

/* --- Paste ----------------------------------------------------------------- */

static void
on_texture_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (source), result, &error);
  g_autoptr(GBytes) png = NULL;

  if (texture == NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("The picture could not be pasted: %s"), error->message);
      show_error (self, msg);
      return;
    }
  png = gdk_texture_save_to_png_bytes (texture);
  lanlan_window_vision_attach (self, png);
}

/* Ctrl+V with a picture on the clipboard attaches it; anything else
 * pastes into the entry as usual. */
static gboolean
on_key_pressed (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                LanlanWindow          *self)
{
  GdkClipboard *clipboard;
  GdkContentFormats *formats;

  if ((keyval != GDK_KEY_v && keyval != GDK_KEY_V) ||
      (state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) != GDK_CONTROL_MASK)
    return FALSE;
  clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));
  formats = gdk_clipboard_get_formats (clipboard);
  if (!gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE) ||
      gdk_content_formats_contain_gtype (formats, G_TYPE_STRING))
    return FALSE;
  gdk_clipboard_read_texture_async (clipboard, NULL, on_texture_read, g_object_ref (self));
  return TRUE;
}

/* --- Screen and camera ----------------------------------------------------- */

static void
update_sharing (LanlanWindow *self)
{
  LanlanVisionLink *vision = lanlan_conversation_get_vision (self->conversation);
  LanlanVisionSharing sharing = lanlan_vision_link_get_sharing (vision);
  const char *name = lanlan_character_get_name (lanlan_conversation_get_character (self->conversation));
  g_autofree char *text = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->sharing_bar), sharing != LANLAN_VISION_SHARING_NONE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.stop-sharing",
                                 sharing != LANLAN_VISION_SHARING_NONE);
  if (sharing == LANLAN_VISION_SHARING_NONE)
    return;
  if (sharing == LANLAN_VISION_SHARING_CAMERA)
    {
      /* Translators: %s is the character's name */
      text = g_strdup_printf (_("%s can see your camera"), name);
      gtk_image_set_from_icon_name (self->sharing_icon, "camera-web-symbolic");
    }
  else
    {
      /* Translators: %s is the character's name */
      text = g_strdup_printf (_("%s can see your screen"), name);
      gtk_image_set_from_icon_name (self->sharing_icon, "video-display-symbolic");
    }
  gtk_label_set_text (self->sharing_label, text);
}

static void
on_shared (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lanlan_vision_link_share_finish (LANLAN_VISION_LINK (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    show_error (self, error->message);
}

static void
share (LanlanWindow      *self,
       LanlanShareSource  source)
{
  lanlan_vision_link_share_async (lanlan_conversation_get_vision (self->conversation), source,
                                  xdp_parent_new_gtk (GTK_WINDOW (self)), NULL,
                                  on_shared, g_object_ref (self));
}

static void
share_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  share (LANLAN_WINDOW (widget), g_str_equal (action_name, "win.share-camera")
                                 ? LANLAN_SHARE_SOURCE_CAMERA : LANLAN_SHARE_SOURCE_SCREEN);
}

static void
stop_sharing_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  lanlan_vision_link_stop_sharing (lanlan_conversation_get_vision (self->conversation));
}

/* --- Facet plumbing --------------------------------------------------------- */

void
lanlan_window_vision_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, sharing_bar);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, sharing_icon);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, sharing_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, pending_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, pending_picture);

  gtk_widget_class_install_action (widget_class, "win.attach-picture", NULL, attach_picture_action);
  gtk_widget_class_install_action (widget_class, "win.remove-picture", NULL, remove_picture_action);
  gtk_widget_class_install_action (widget_class, "win.share-screen", NULL, share_action);
  gtk_widget_class_install_action (widget_class, "win.share-camera", NULL, share_action);
  gtk_widget_class_install_action (widget_class, "win.stop-sharing", NULL, stop_sharing_action);
}

void
lanlan_window_vision_init (LanlanWindow *self)
{
  GtkDropTarget *drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  GType types[] = { GDK_TYPE_FILE_LIST, GDK_TYPE_TEXTURE };
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_drop_target_set_gtypes (drop, types, G_N_ELEMENTS (types));
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.remove-picture", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.stop-sharing", FALSE);
}

void
lanlan_window_vision_constructed (LanlanWindow *self)
{
  self->sharing_handler =
    g_signal_connect_object (lanlan_conversation_get_vision (self->conversation), "notify::sharing",
                             G_CALLBACK (update_sharing), self, G_CONNECT_SWAPPED);
  update_sharing (self);
}

void
lanlan_window_vision_dispose (LanlanWindow *self)
{
  g_clear_pointer (&self->pending_jpeg, g_bytes_unref);
  if (self->picture_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->picture_chooser));
  g_clear_object (&self->picture_chooser);
}
