/* lanlan-application.h — the app: one window per character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-character-store.h"
#include "lanlan-echo-cancel.h"
#include "lanlan-window.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_APPLICATION (lanlan_application_get_type ())
G_DECLARE_FINAL_TYPE (LanlanApplication, lanlan_application, LANLAN, APPLICATION, AdwApplication)

LanlanApplication    *lanlan_application_new             (void);
LanlanCharacterStore *lanlan_application_get_store       (LanlanApplication *self);
LanlanWindow         *lanlan_application_open_character  (LanlanApplication *self,
                                                          LanlanCharacter   *character);
void                  lanlan_application_close_character (LanlanApplication *self,
                                                          LanlanCharacter   *character);
LanlanCharacter      *lanlan_application_import_card     (LanlanApplication *self,
                                                          GFile             *file,
                                                          GError           **error);
LanlanAgentBridge    *lanlan_application_get_agent_bridge (LanlanApplication *self);
const char           *lanlan_application_get_agent_error (LanlanApplication *self);
void                  lanlan_application_api_key_changed (LanlanApplication *self,
                                                          const char        *provider);

LanlanEchoCancel     *lanlan_application_get_echo_cancel (LanlanApplication *self);
GListModel           *lanlan_application_get_conversations (LanlanApplication *self);
LanlanConversation   *lanlan_application_ensure_conversation (LanlanApplication *self,
                                                            LanlanCharacter   *character);
LanlanStore          *lanlan_application_get_conversation_store (LanlanApplication *self);

G_END_DECLS
