/* lanlan-tts-espeak.h — the built-in voice: espeak-ng, no service, no key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-tts-worker.h"

G_BEGIN_DECLS

LanlanTtsBackend *lanlan_tts_backend_new_espeak (const char *language,
                                                 const char *voice);
char             *lanlan_tts_espeak_voice_for_language (const char *language);

G_END_DECLS
