/* lanlan-avatar.h — a character's face: picture or initials, and whether it speaks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "lanlan-character.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_AVATAR_IDLE,
  LANLAN_AVATAR_LISTENING,
  LANLAN_AVATAR_THINKING,
  LANLAN_AVATAR_SPEAKING,
} LanlanAvatarState;

GType lanlan_avatar_state_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_AVATAR_STATE (lanlan_avatar_state_get_type ())

#define LANLAN_TYPE_AVATAR (lanlan_avatar_get_type ())
G_DECLARE_FINAL_TYPE (LanlanAvatar, lanlan_avatar, LANLAN, AVATAR, GtkWidget)

GtkWidget         *lanlan_avatar_new           (LanlanCharacter   *character,
                                                int                size);
LanlanCharacter   *lanlan_avatar_get_character (LanlanAvatar      *self);
void               lanlan_avatar_set_character (LanlanAvatar      *self,
                                                LanlanCharacter   *character);
int                lanlan_avatar_get_size      (LanlanAvatar      *self);
void               lanlan_avatar_set_size      (LanlanAvatar      *self,
                                                int                size);
double             lanlan_avatar_get_level     (LanlanAvatar      *self);
void               lanlan_avatar_set_level     (LanlanAvatar      *self,
                                                double             level);
LanlanAvatarState  lanlan_avatar_get_state     (LanlanAvatar      *self);
void               lanlan_avatar_set_state     (LanlanAvatar      *self,
                                                LanlanAvatarState  state);
GdkPaintable      *lanlan_avatar_get_picture   (LanlanAvatar      *self);
GBytes            *lanlan_avatar_render_png    (LanlanAvatar      *self,
                                                int                size);

G_END_DECLS
