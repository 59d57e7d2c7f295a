/* lanlan-tts-qwen.h — streaming speech from Qwen-TTS Realtime (WebSocket)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-tts-worker.h"

G_BEGIN_DECLS

LanlanTtsBackend *lanlan_tts_backend_new_qwen (const char *url,
                                               const char *api_key,
                                               const char *model,
                                               const char *voice);

G_END_DECLS
