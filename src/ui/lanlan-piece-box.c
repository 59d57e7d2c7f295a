/* lanlan-piece-box.c — a vertical box that draws only what can be seen
 *
 * A long reply is shown as a column of labels (see lanlan-message-row.c)
 * that can be far taller than the window. GTK 4 snapshots every child
 * of a box, and the Cairo renderer draws every glyph of every snapshot
 * text, clipped or not, so a frame cost in proportion to the whole
 * reply. This box snapshots only the children that meet the visible
 * part of its scrolled window, or a window's height above or below it
 * (its children are stacked top to bottom), and draws again when that
 * window scrolls or changes size, since its own allocation does not
 * change then.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-piece-box.h"

struct _LanlanPieceBox
{
  GtkBox         parent_instance;

  GtkAdjustment *adjustments[2];    /* the scrolled window's, while mapped */
};

G_DEFINE_FINAL_TYPE (LanlanPieceBox, lanlan_piece_box, GTK_TYPE_BOX)

static void
watch (LanlanPieceBox *self,
       GtkWidget      *scroller)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->adjustments); i++)
    {
      if (self->adjustments[i] != NULL)
        g_signal_handlers_disconnect_by_func (self->adjustments[i], gtk_widget_queue_draw, self);
      g_clear_object (&self->adjustments[i]);
    }
  if (scroller == NULL)
    return;

  self->adjustments[0] = g_object_ref (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller)));
  self->adjustments[1] = g_object_ref (gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (scroller)));
  for (guint i = 0; i < G_N_ELEMENTS (self->adjustments); i++)
    {
      g_signal_connect_swapped (self->adjustments[i], "value-changed", G_CALLBACK (gtk_widget_queue_draw), self);
      g_signal_connect_swapped (self->adjustments[i], "changed", G_CALLBACK (gtk_widget_queue_draw), self);
    }
}

static void
lanlan_piece_box_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (lanlan_piece_box_parent_class)->map (widget);
  watch (LANLAN_PIECE_BOX (widget), gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW));
}

static void
lanlan_piece_box_unmap (GtkWidget *widget)
{
  watch (LANLAN_PIECE_BOX (widget), NULL);
  GTK_WIDGET_CLASS (lanlan_piece_box_parent_class)->unmap (widget);
}

static void
lanlan_piece_box_snapshot (GtkWidget   *widget,
                           GtkSnapshot *snapshot)
{
  GtkWidget *scroller = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);
  graphene_rect_t visible;

  /* The scrolled window's area, in our coordinates. */
  if (scroller == NULL || !gtk_widget_compute_bounds (scroller, widget, &visible))
    {
      GTK_WIDGET_CLASS (lanlan_piece_box_parent_class)->snapshot (widget, snapshot);
      return;
    }

  /* With a window's height to spare on each side: the row can move
   * without a scroll (a message above it grows), and that does not
   * draw this box again. */
  visible.origin.y -= visible.size.height;
  visible.size.height *= 3;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      graphene_rect_t bounds;

      if (!gtk_widget_compute_bounds (child, widget, &bounds))
        continue;
      if (bounds.origin.y + bounds.size.height < visible.origin.y)
        continue;
      if (bounds.origin.y > visible.origin.y + visible.size.height)
        break;
      gtk_widget_snapshot_child (widget, child, snapshot);
    }
}

static void
lanlan_piece_box_dispose (GObject *object)
{
  watch (LANLAN_PIECE_BOX (object), NULL);
  G_OBJECT_CLASS (lanlan_piece_box_parent_class)->dispose (object);
}

static void
lanlan_piece_box_class_init (LanlanPieceBoxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lanlan_piece_box_dispose;
  widget_class->map = lanlan_piece_box_map;
  widget_class->unmap = lanlan_piece_box_unmap;
  widget_class->snapshot = lanlan_piece_box_snapshot;
}

static void
lanlan_piece_box_init (LanlanPieceBox *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
}

GtkWidget *
lanlan_piece_box_new (void)
{
  return g_object_new (LANLAN_TYPE_PIECE_BOX, NULL);
}
