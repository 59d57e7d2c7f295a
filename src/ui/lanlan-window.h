/* lanlan-window.h — one character's conversation window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-character.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_ROLE_USER,
  LANLAN_ROLE_CHARACTER,
  LANLAN_ROLE_SYSTEM,
} LanlanRole;

/* Returns the microphone level, 0…1. Called on the main thread. */
typedef double (*LanlanLevelFunc) (gpointer user_data);

#define LANLAN_TYPE_WINDOW (lanlan_window_get_type ())
G_DECLARE_FINAL_TYPE (LanlanWindow, lanlan_window, LANLAN, WINDOW, AdwApplicationWindow)

LanlanWindow    *lanlan_window_new             (GtkApplication  *application,
                                                LanlanCharacter *character);
LanlanCharacter *lanlan_window_get_character   (LanlanWindow    *self);
GtkWidget       *lanlan_window_append_message  (LanlanWindow    *self,
                                                LanlanRole       role,
                                                const char      *text);
gboolean         lanlan_window_get_microphone_active (LanlanWindow *self);
void             lanlan_window_show_toast      (LanlanWindow    *self,
                                                const char      *message);
void             lanlan_window_transcript_delta (LanlanWindow   *self,
                                                 LanlanRole      role,
                                                 const char     *turn_id,
                                                 const char     *delta);
void             lanlan_window_transcript_done (LanlanWindow    *self,
                                                LanlanRole       role,
                                                const char      *turn_id,
                                                const char      *text);
void             lanlan_window_set_status      (LanlanWindow    *self,
                                                const char      *status);
const char      *lanlan_window_get_status      (LanlanWindow    *self);
void             lanlan_window_set_swap_status (LanlanWindow    *self,
                                                const char      *text,
                                                gboolean         busy,
                                                guint            hide_after_ms);
void             lanlan_window_show_error      (LanlanWindow    *self,
                                                const char      *message,
                                                const char      *button_label,
                                                const char      *action_name);
const char      *lanlan_window_get_error       (LanlanWindow    *self);
void             lanlan_window_set_level_func  (LanlanWindow    *self,
                                                LanlanLevelFunc  func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
gboolean         lanlan_window_get_has_api_key (LanlanWindow    *self);
void             lanlan_window_recheck_api_key (LanlanWindow    *self);
void             lanlan_window_set_agent_bridge (LanlanWindow     *self,
                                                 LanlanAgentBridge *bridge);
char            *lanlan_window_dup_user_language (LanlanWindow   *self);

G_END_DECLS
