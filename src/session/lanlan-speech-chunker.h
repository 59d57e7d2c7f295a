/* lanlan-speech-chunker.h — streamed text cut into speakable pieces
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LanlanSpeechChunker LanlanSpeechChunker;

LanlanSpeechChunker *lanlan_speech_chunker_new    (void);
void                 lanlan_speech_chunker_free   (LanlanSpeechChunker *self);
void                 lanlan_speech_chunker_reset  (LanlanSpeechChunker *self);
GPtrArray           *lanlan_speech_chunker_feed   (LanlanSpeechChunker *self,
                                                   const char          *delta);
char                *lanlan_speech_chunker_finish (LanlanSpeechChunker *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanSpeechChunker, lanlan_speech_chunker_free)

G_END_DECLS
