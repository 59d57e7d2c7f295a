/* lanlan-tts-select.h — which voice speaks for a character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-tts-worker.h"

G_BEGIN_DECLS

gboolean          lanlan_tts_voice_is_external      (const char *voice);
LanlanTtsBackend *lanlan_tts_backend_new_for_voice  (const char *voice,
                                                     const char *language,
                                                     const char *http_base_url,
                                                     const char *http_api_key);

G_END_DECLS
