/* lanlan-piece-box.h — a vertical box that draws only what can be seen
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define LANLAN_TYPE_PIECE_BOX (lanlan_piece_box_get_type ())
G_DECLARE_FINAL_TYPE (LanlanPieceBox, lanlan_piece_box, LANLAN, PIECE_BOX, GtkBox)

GtkWidget *lanlan_piece_box_new (void);

G_END_DECLS
