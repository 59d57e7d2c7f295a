/* lanlan-translator.h — translate between the user's and a character's language
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-translation-provider.h"

G_BEGIN_DECLS

#define LANLAN_TRANSLATOR_DEFAULT_CACHE_SIZE 512

#define LANLAN_TYPE_TRANSLATOR (lanlan_translator_get_type ())
G_DECLARE_FINAL_TYPE (LanlanTranslator, lanlan_translator, LANLAN, TRANSLATOR, GObject)

char             *lanlan_translator_normalize_language (const char                *tag);
gboolean          lanlan_translator_same_language      (const char                *a,
                                                        const char                *b);
const char       *lanlan_translator_language_name      (const char                *tag);

LanlanTranslator *lanlan_translator_new                (void);
void              lanlan_translator_add_provider       (LanlanTranslator          *self,
                                                        LanlanTranslationProvider *provider);
void              lanlan_translator_clear_providers    (LanlanTranslator          *self);
guint             lanlan_translator_get_n_providers    (LanlanTranslator          *self);

void              lanlan_translator_set_cache_size     (LanlanTranslator          *self,
                                                        guint                      max_entries);
guint             lanlan_translator_get_cache_size     (LanlanTranslator          *self);
void              lanlan_translator_clear_cache        (LanlanTranslator          *self);
guint64           lanlan_translator_get_n_cache_hits   (LanlanTranslator          *self);

void              lanlan_translator_translate_async    (LanlanTranslator          *self,
                                                        const char                *text,
                                                        const char                *from,
                                                        const char                *to,
                                                        GCancellable              *cancellable,
                                                        GAsyncReadyCallback        callback,
                                                        gpointer                   user_data);
char             *lanlan_translator_translate_finish   (LanlanTranslator          *self,
                                                        GAsyncResult              *result,
                                                        char                     **provider_name,
                                                        GError                   **error);

G_END_DECLS
