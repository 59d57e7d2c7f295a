/* lanlan-translation-provider.h — one way to translate text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LANLAN_TRANSLATE_ERROR (lanlan_translate_error_quark ())
GQuark lanlan_translate_error_quark (void);

/**
 * LanlanTranslateError:
 * @LANLAN_TRANSLATE_ERROR_HTTP: the service answered with an HTTP error
 * @LANLAN_TRANSLATE_ERROR_BAD_RESPONSE: the answer could not be understood
 * @LANLAN_TRANSLATE_ERROR_TIMED_OUT: the service took too long
 * @LANLAN_TRANSLATE_ERROR_NO_PROVIDER: no provider is configured
 * @LANLAN_TRANSLATE_ERROR_FAILED: every provider failed; the message lists why
 */
typedef enum {
  LANLAN_TRANSLATE_ERROR_HTTP,
  LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
  LANLAN_TRANSLATE_ERROR_TIMED_OUT,
  LANLAN_TRANSLATE_ERROR_NO_PROVIDER,
  LANLAN_TRANSLATE_ERROR_FAILED,
} LanlanTranslateError;

#define LANLAN_TYPE_TRANSLATION_PROVIDER (lanlan_translation_provider_get_type ())
G_DECLARE_INTERFACE (LanlanTranslationProvider, lanlan_translation_provider,
                     LANLAN, TRANSLATION_PROVIDER, GObject)

/**
 * LanlanTranslationProviderInterface:
 * @get_name: a short name for logs and errors ("libretranslate", "llm")
 * @translate_async: translate @text; @from and @to are BCP 47 tags
 * @translate_finish: the translation, or %NULL with an error
 *
 * Implementations apply their own timeout and must honour @cancellable.
 */
struct _LanlanTranslationProviderInterface
{
  GTypeInterface parent_iface;

  const char *(*get_name)         (LanlanTranslationProvider *self);
  void        (*translate_async)  (LanlanTranslationProvider *self,
                                   const char                *text,
                                   const char                *from,
                                   const char                *to,
                                   GCancellable              *cancellable,
                                   GAsyncReadyCallback        callback,
                                   gpointer                   user_data);
  char       *(*translate_finish) (LanlanTranslationProvider *self,
                                   GAsyncResult              *result,
                                   GError                   **error);
};

const char *lanlan_translation_provider_get_name         (LanlanTranslationProvider *self);
void        lanlan_translation_provider_translate_async  (LanlanTranslationProvider *self,
                                                          const char                *text,
                                                          const char                *from,
                                                          const char                *to,
                                                          GCancellable              *cancellable,
                                                          GAsyncReadyCallback        callback,
                                                          gpointer                   user_data);
char       *lanlan_translation_provider_translate_finish (LanlanTranslationProvider *self,
                                                          GAsyncResult              *result,
                                                          GError                   **error);

G_END_DECLS
