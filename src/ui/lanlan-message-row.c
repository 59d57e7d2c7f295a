/* lanlan-message-row.c — one message of the transcript, as a bubble
 *
 * The list view's rows are recycled: a row is bound to one message at a
 * time through a binding group (translation, picture) and a signal group
 * (text, status), and shows a failed message's Resend button and an
 * interrupted reply's mark. The text label says who spoke in its
 * accessible description, for screen readers and the UI tests.
 *
 * A long text is shown in pieces of about CHUNK_BYTES, one label each
 * (the first in the text label): Pango lays a paragraph out again, from
 * shaping on, whenever its width or text changes, so one label holding a
 * streamed reply cost time in proportion to the whole reply at every
 * delta. Growing at the end touches only the last piece, and no more
 * than PIECES_PER_FRAME new pieces are shown in one frame (the rest
 * follow frame by frame), so a flood of deltas, or binding a row to a
 * megabyte of text, costs each frame a bounded amount of layout.
 *
 * The avatar and the bubble sit in a GtkGrid, not a horizontal GtkBox:
 * a GtkBox allocates its children by asking their width for its height,
 * which makes every wrapped label in the bubble search for its width
 * (a dozen layouts each) whenever the bubble's height changes, which is
 * every frame of a streamed reply. A grid asks widths first and heights
 * for them, which labels answer from their caches. The pieces after the
 * first sit in a LanlanPieceBox, which draws only those in view.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-avatar.h"
#include "lanlan-message-row.h"
#include "lanlan-piece-box.h"

#define CHUNK_BYTES       512
#define PIECES_PER_FRAME  8

struct _LanlanMessageRow
{
  GtkWidget       parent_instance;

  LanlanMessage  *message;
  GBindingGroup  *bindings;
  GSignalGroup   *signals;

  GtkGrid        *line;
  GtkWidget      *avatar;

  GtkBox         *bubble;
  GtkPicture     *picture;
  GtkLabel       *text_label;
  GtkBox         *more_box;
  GtkLabel       *translation_label;
  GtkBox         *status_box;
  GtkLabel       *status_label;
  GtkButton      *resend_button;

  GPtrArray      *labels;        /* GtkLabel: one per piece, text_label first */
  GString        *shown;         /* the text the labels show, a prefix of the message's */
  GArray         *starts;        /* gsize: where each shown piece starts */
  guint           tick_id;       /* showing the rest, a few pieces a frame */
};

G_DEFINE_FINAL_TYPE (LanlanMessageRow, lanlan_message_row, GTK_TYPE_WIDGET)

static const char * const role_classes[] = { "user", "character", "system" };

static gboolean
translation_visible (GBinding     *binding,
                     const GValue *from,
                     GValue       *to,
                     gpointer      user_data)
{
  const char *text = g_value_get_string (from);

  g_value_set_boolean (to, text != NULL && *text != '\0');
  return TRUE;
}


/* Where the piece starting at @start ends: all of it when short, else
 * at a line break or space in its second half, else at a character. */
static gsize
piece_end (const char *text,
           gsize       len,
           gsize       start)
{
  gsize limit = start + CHUNK_BYTES;
  const char *cut;

  if (len - start <= CHUNK_BYTES)
    return len;
  for (gsize i = limit; i > start + CHUNK_BYTES / 2; i--)
    if (text[i - 1] == '\n' || text[i - 1] == ' ')
      return i;
  cut = g_utf8_find_prev_char (text + start, text + limit + 1);
  return cut != NULL && cut > text + start ? (gsize) (cut - text) : limit;
}

static GtkLabel *
piece_label (LanlanMessageRow *self,
             guint             index)
{
  GtkWidget *label;

  if (index < self->labels->len)
    return g_ptr_array_index (self->labels, index);

  g_assert (index == self->labels->len);
  label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  /* A wrapped label's minimum width is found by wrapping at every
   * chance it has: with a width in characters it wraps far less. */
  gtk_label_set_width_chars (GTK_LABEL (label), 20);
  gtk_widget_add_css_class (label, "bubble-more");
  gtk_box_append (self->more_box, label);
  gtk_widget_set_visible (GTK_WIDGET (self->more_box), TRUE);
  g_ptr_array_add (self->labels, label);
  return GTK_LABEL (label);
}

/* Keeps the first @n pieces' labels. */
static void
drop_pieces (LanlanMessageRow *self,
             guint             n)
{
  n = MAX (n, 1);
  while (self->labels->len > n)
    {
      GtkWidget *label = g_ptr_array_steal_index (self->labels, self->labels->len - 1);

      gtk_box_remove (self->more_box, label);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->more_box), self->labels->len > 1);
}

/* Shows up to @budget more pieces of the message's text, from the last
 * shown piece (which may have grown) on. Returns whether all is shown. */
static gboolean
show_pieces (LanlanMessageRow *self,
             guint             budget)
{
  const char *text = self->message ? lanlan_message_get_text (self->message) : "";
  gsize len = strlen (text);
  guint index = self->starts->len > 0 ? self->starts->len - 1 : 0;
  gsize start = index > 0 ? g_array_index (self->starts, gsize, index) : 0;

  g_array_set_size (self->starts, index);
  g_string_truncate (self->shown, start);
  for (guint done = 0; (start < len || index == 0) && done < budget; done++, index++)
    {
      gsize end = piece_end (text, len, start);
      g_autofree char *piece = g_strndup (text + start, end - start);

      g_array_append_val (self->starts, start);
      gtk_label_set_text (piece_label (self, index), piece);
      g_string_append_len (self->shown, text + start, end - start);
      start = end;
    }
  return start >= len;
}

static gboolean
show_more (GtkWidget     *widget,
           GdkFrameClock *clock,
           gpointer       user_data)
{
  LanlanMessageRow *self = LANLAN_MESSAGE_ROW (widget);

  if (!show_pieces (self, PIECES_PER_FRAME))
    return G_SOURCE_CONTINUE;
  self->tick_id = 0;
  return G_SOURCE_REMOVE;
}

/* The message's text changed: usually grown at the end (a delta), or
 * replaced (a final transcript, another message). */
static void
update_text (LanlanMessageRow *self)
{
  const char *text = self->message ? lanlan_message_get_text (self->message) : "";
  gsize keep = 0;

  /* What is shown and still holds, and the piece it ends in. */
  if (strncmp (text, self->shown->str, self->shown->len) == 0)
    keep = self->shown->len;
  else
    while (text[keep] == self->shown->str[keep])
      keep++;
  if (keep < self->shown->len)
    {
      guint k = self->starts->len;

      while (k > 1 && g_array_index (self->starts, gsize, k - 1) > keep)
        k--;
      g_array_set_size (self->starts, k);
      g_string_truncate (self->shown, g_array_index (self->starts, gsize, k - 1));
      drop_pieces (self, k);
    }

  if (self->tick_id != 0)
    return;     /* the next frame shows it */
  if (!show_pieces (self, PIECES_PER_FRAME))
    self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), show_more, NULL, NULL);
}

/* The picture the user showed with a message, decoded when the row is
 * bound (rows are recycled, so only the visible ones hold a texture). */
static gboolean
image_to_paintable (GBinding     *binding,
                    const GValue *from,
                    GValue       *to,
                    gpointer      user_data)
{
  GBytes *jpeg = g_value_get_boxed (from);
  g_autoptr(GError) error = NULL;
  GdkTexture *texture;

  if (jpeg == NULL)
    {
      g_value_set_object (to, NULL);
      return TRUE;
    }
  texture = gdk_texture_new_from_bytes (jpeg, &error);
  if (texture == NULL)
    g_debug ("A message's picture could not be shown: %s", error->message);
  g_value_take_object (to, texture);
  return TRUE;
}

static gboolean
image_visible (GBinding     *binding,
               const GValue *from,
               GValue       *to,
               gpointer      user_data)
{
  g_value_set_boolean (to, g_value_get_boxed (from) != NULL);
  return TRUE;
}

static void
update_status (LanlanMessageRow *self)
{
  LanlanMessageStatus status;
  gboolean streaming, failed, interrupted;

  if (self->message == NULL)
    return;

  status = lanlan_message_get_status (self->message);
  streaming = status == LANLAN_MESSAGE_STATUS_PENDING;
  failed = status == LANLAN_MESSAGE_STATUS_FAILED;
  interrupted = status == LANLAN_MESSAGE_STATUS_INTERRUPTED;

  if (streaming)
    gtk_widget_add_css_class (GTK_WIDGET (self->text_label), "streaming");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->text_label), "streaming");
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self->bubble), "failed");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->bubble), "failed");

  gtk_widget_set_visible (GTK_WIDGET (self->status_box), failed || interrupted);
  gtk_widget_set_visible (GTK_WIDGET (self->resend_button), failed);
  if (failed)
    {
      gtk_label_set_text (self->status_label, _("Not sent"));
      gtk_actionable_set_action_target (GTK_ACTIONABLE (self->resend_button), "s",
                                        lanlan_message_get_id (self->message));
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->resend_button), "win.resend-message");
    }
  else if (interrupted)
    gtk_label_set_text (self->status_label, _("Interrupted"));
}

/**
 * lanlan_message_row_set_message:
 * @message: (nullable): the message to show
 * @character_name: who speaks for the character
 */
void
lanlan_message_row_set_message (LanlanMessageRow *self,
                                LanlanMessage    *message,
                                const char       *character_name)
{
  LanlanMessageRole role;
  const char *speaker;

  g_return_if_fail (LANLAN_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || LANLAN_IS_MESSAGE (message));

  for (guint i = 0; i < G_N_ELEMENTS (role_classes); i++)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->bubble), role_classes[i]);
      gtk_widget_remove_css_class (GTK_WIDGET (self->text_label), role_classes[i]);
    }

  g_set_object (&self->message, message);
  g_binding_group_set_source (self->bindings, message);
  g_signal_group_set_target (self->signals, message);
  g_array_set_size (self->starts, 0);
  g_string_truncate (self->shown, 0);
  drop_pieces (self, 1);
  update_text (self);
  if (message == NULL)
    return;

  role = lanlan_message_get_role (message);
  gtk_widget_add_css_class (GTK_WIDGET (self->bubble), role_classes[role]);
  gtk_widget_add_css_class (GTK_WIDGET (self->text_label), role_classes[role]);
  gtk_widget_set_halign (GTK_WIDGET (self->line),
                         role == LANLAN_MESSAGE_ROLE_USER ? GTK_ALIGN_END :
                         role == LANLAN_MESSAGE_ROLE_ASSISTANT ? GTK_ALIGN_START : GTK_ALIGN_CENTER);
  gtk_widget_set_margin_start (GTK_WIDGET (self->line), role == LANLAN_MESSAGE_ROLE_USER ? 48 : 0);
  gtk_widget_set_margin_end (GTK_WIDGET (self->line), role == LANLAN_MESSAGE_ROLE_ASSISTANT ? 48 : 0);
  /* The character's face goes with what the character says. */
  if (self->avatar != NULL)
    gtk_widget_set_visible (self->avatar, role == LANLAN_MESSAGE_ROLE_ASSISTANT);

  speaker = role == LANLAN_MESSAGE_ROLE_USER ? _("You") :
            role == LANLAN_MESSAGE_ROLE_ASSISTANT ? character_name : _("Notice");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->text_label),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, speaker, -1);
  update_status (self);
}

LanlanMessage *
lanlan_message_row_get_message (LanlanMessageRow *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}

static void
lanlan_message_row_dispose (GObject *object)
{
  LanlanMessageRow *self = (LanlanMessageRow *)object;

  if (self->bindings != NULL)
    g_binding_group_set_source (self->bindings, NULL);
  if (self->signals != NULL)
    g_signal_group_set_target (self->signals, NULL);
  g_clear_object (&self->bindings);
  g_clear_object (&self->signals);
  g_clear_object (&self->message);
  if (self->tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
  self->tick_id = 0;
  if (self->shown != NULL)
    g_string_free (g_steal_pointer (&self->shown), TRUE);
  g_clear_pointer (&self->starts, g_array_unref);
  g_clear_pointer (&self->labels, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_MESSAGE_ROW);

  G_OBJECT_CLASS (lanlan_message_row_parent_class)->dispose (object);
}

static void
lanlan_message_row_class_init (LanlanMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lanlan_message_row_dispose;

  g_type_ensure (LANLAN_TYPE_PIECE_BOX);
  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/lanlan-message-row.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, line);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, picture);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, more_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, translation_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, status_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanMessageRow, resend_button);
}

static void
lanlan_message_row_init (LanlanMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->shown = g_string_new (NULL);
  self->starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  self->labels = g_ptr_array_new ();
  g_ptr_array_add (self->labels, self->text_label);
  self->bindings = g_binding_group_new ();
  g_binding_group_bind_full (self->bindings, "image", self->picture, "paintable",
                             G_BINDING_SYNC_CREATE, image_to_paintable, NULL, NULL, NULL);
  g_binding_group_bind_full (self->bindings, "image", self->picture, "visible",
                             G_BINDING_SYNC_CREATE, image_visible, NULL, NULL, NULL);
  g_binding_group_bind (self->bindings, "translation", self->translation_label, "label",
                        G_BINDING_SYNC_CREATE);
  g_binding_group_bind_full (self->bindings, "translation", self->translation_label, "visible",
                             G_BINDING_SYNC_CREATE, translation_visible, NULL, NULL, NULL);

  self->signals = g_signal_group_new (LANLAN_TYPE_MESSAGE);
  g_signal_group_connect_swapped (self->signals, "notify::status", G_CALLBACK (update_status), self);
  g_signal_group_connect_swapped (self->signals, "notify::text", G_CALLBACK (update_text), self);
}

/**
 * lanlan_message_row_new:
 * @character: (nullable): whose face goes at the start of the
 *   character's messages
 */
GtkWidget *
lanlan_message_row_new (LanlanCharacter *character)
{
  LanlanMessageRow *self = g_object_new (LANLAN_TYPE_MESSAGE_ROW, NULL);

  g_return_val_if_fail (character == NULL || LANLAN_IS_CHARACTER (character), GTK_WIDGET (self));

  if (character != NULL)
    {
      self->avatar = lanlan_avatar_new (character, 28);
      gtk_widget_set_valign (self->avatar, GTK_ALIGN_START);
      gtk_widget_set_visible (self->avatar, FALSE);
      gtk_grid_attach (self->line, self->avatar, 0, 0, 1, 1);
    }
  return GTK_WIDGET (self);
}
