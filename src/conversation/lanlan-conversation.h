/* lanlan-conversation.h — one character's conversation, apart from any window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-character.h"
#include "lanlan-echo-cancel.h"
#include "lanlan-message.h"
#include "lanlan-session-manager.h"
#include "lanlan-store.h"
#include "lanlan-vision-link.h"

G_BEGIN_DECLS

#define LANLAN_CONVERSATION_ERROR (lanlan_conversation_error_quark ())
GQuark lanlan_conversation_error_quark (void);

typedef enum {
  LANLAN_CONVERSATION_ERROR_MICROPHONE,
  LANLAN_CONVERSATION_ERROR_NO_KEY,
  LANLAN_CONVERSATION_ERROR_STORE,
  LANLAN_CONVERSATION_ERROR_AUDIO,
  LANLAN_CONVERSATION_ERROR_MEMORY,   /* older turns could not be summarized */
} LanlanConversationError;

/**
 * LanlanSwapStatus:
 * The hot swap as the header's indicator shows it: NONE hides it;
 * SWAPPED and FAILED fall back to NONE on their own after a while.
 */
typedef enum {
  LANLAN_SWAP_STATUS_NONE,
  LANLAN_SWAP_STATUS_PREPARING,
  LANLAN_SWAP_STATUS_READY,
  LANLAN_SWAP_STATUS_SWAPPED,
  LANLAN_SWAP_STATUS_FAILED,
} LanlanSwapStatus;

GType lanlan_swap_status_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_SWAP_STATUS (lanlan_swap_status_get_type ())

#define LANLAN_TYPE_CONVERSATION (lanlan_conversation_get_type ())
G_DECLARE_FINAL_TYPE (LanlanConversation, lanlan_conversation, LANLAN, CONVERSATION, GObject)

LanlanConversation *lanlan_conversation_new               (LanlanCharacter    *character,
                                                           LanlanStore        *store);
LanlanCharacter    *lanlan_conversation_get_character     (LanlanConversation *self);
LanlanStore        *lanlan_conversation_get_store         (LanlanConversation *self);
const char         *lanlan_conversation_get_id            (LanlanConversation *self);
GListModel         *lanlan_conversation_get_messages      (LanlanConversation *self);
LanlanMessage      *lanlan_conversation_lookup_message    (LanlanConversation *self,
                                                           const char         *message_id);

LanlanSessionState  lanlan_conversation_get_state         (LanlanConversation *self);
LanlanSwapStatus    lanlan_conversation_get_swap_status   (LanlanConversation *self);
const char         *lanlan_conversation_get_swap_detail   (LanlanConversation *self);
const GError       *lanlan_conversation_get_error         (LanlanConversation *self);
void                lanlan_conversation_dismiss_error     (LanlanConversation *self);
gboolean            lanlan_conversation_get_has_api_key   (LanlanConversation *self);
void                lanlan_conversation_recheck_api_key   (LanlanConversation *self);
double              lanlan_conversation_get_input_level   (LanlanConversation *self);
double              lanlan_conversation_get_output_level  (LanlanConversation *self);
gboolean            lanlan_conversation_get_microphone_active (LanlanConversation *self);
void                lanlan_conversation_set_microphone_active (LanlanConversation *self,
                                                               gboolean            active);

LanlanMessage      *lanlan_conversation_send_text         (LanlanConversation *self,
                                                           const char         *text);
LanlanMessage      *lanlan_conversation_send_image        (LanlanConversation *self,
                                                           GBytes             *jpeg,
                                                           const char         *text);
LanlanVisionLink   *lanlan_conversation_get_vision        (LanlanConversation *self);
void                lanlan_conversation_resend            (LanlanConversation *self,
                                                           LanlanMessage      *message);
void                lanlan_conversation_reconnect         (LanlanConversation *self);
void                lanlan_conversation_end               (LanlanConversation *self);

/* History: the store's conversations of this character. */
void                lanlan_conversation_start_new         (LanlanConversation *self);
gboolean            lanlan_conversation_open              (LanlanConversation *self,
                                                           const char         *conversation_id,
                                                           GError            **error);

void                lanlan_conversation_set_agent_bridge  (LanlanConversation *self,
                                                           LanlanAgentBridge  *bridge);
void                lanlan_conversation_set_echo_cancel   (LanlanConversation *self,
                                                           LanlanEchoCancel   *echo_cancel);
char               *lanlan_conversation_dup_user_language (LanlanConversation *self);

/* Properties (main thread, notify on change):
 *   "character", "store" (construct-only), "id" (the store's conversation
 *   id), "messages" (GListModel of LanlanMessage), "state"
 *   (LanlanSessionState), "swap-status", "swap-detail", "error" (GError,
 *   the condition now in force, NULL when none), "has-api-key",
 *   "input-level" (0…1, updated about 30 times a second while the
 *   microphone is on), "microphone-active".
 * Signals:
 *   "toast" (const char *message) — something brief for the user
 *   "agent-notification" (const char *text, gboolean is_error)
 */

G_END_DECLS
