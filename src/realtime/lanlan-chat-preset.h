/* lanlan-chat-preset.h — OpenAI-compatible chat services, point and click
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * LanlanChatVision:
 * @LANLAN_CHAT_VISION_NO: never send pictures
 * @LANLAN_CHAT_VISION_YES: the service's models take pictures
 * @LANLAN_CHAT_VISION_TRY: depends on the model (local servers): send
 *   them, and stop for this model if the server refuses them
 */
typedef enum {
  LANLAN_CHAT_VISION_NO,
  LANLAN_CHAT_VISION_YES,
  LANLAN_CHAT_VISION_TRY,
} LanlanChatVision;

/**
 * LanlanChatPreset:
 * @id: stored as the character's provider; shared with the realtime
 *   provider of the same service ("openai", "qwen", "glm") so one key in
 *   the keyring serves both modes
 * @display_name: translatable
 * @base_url: the default address, ending in /v1 or the like; %NULL for
 *   "OpenAI-compatible", where the user types it
 * @default_model: "" means the first model the server lists
 * @key_id: the keyring entry (lanlan_secrets_lookup_sync())
 * @local: runs on the user's machine; no key needed
 */
typedef struct {
  const char       *id;
  const char       *display_name;
  const char       *base_url;
  const char       *default_model;
  const char       *key_id;
  gboolean          local;
  LanlanChatVision  vision;
} LanlanChatPreset;

const LanlanChatPreset  *lanlan_chat_preset_lookup        (const char             *id);
const LanlanChatPreset  *lanlan_chat_preset_get_default   (void);
const LanlanChatPreset **lanlan_chat_preset_list          (guint                  *n_presets);
const LanlanChatPreset  *lanlan_chat_preset_for_provider  (const char             *provider_id);
char                    *lanlan_chat_preset_resolve_url   (const LanlanChatPreset *preset,
                                                           const char             *base_url,
                                                           GError                **error);
gboolean                 lanlan_chat_preset_needs_key     (const LanlanChatPreset *preset,
                                                           const char             *url);
gboolean                 lanlan_chat_url_is_loopback      (const char             *url);

G_END_DECLS
