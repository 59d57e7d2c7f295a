/* lanlan-translation-provider.c — one way to translate text
 *
 * A GInterface so the translator can chain any number of services
 * (LibreTranslate, a language model, something local later) and fall
 * back from one to the next without knowing what they are.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-translation-provider.h"

G_DEFINE_QUARK (lanlan-translate-error-quark, lanlan_translate_error)

G_DEFINE_INTERFACE (LanlanTranslationProvider, lanlan_translation_provider, G_TYPE_OBJECT)

static void
lanlan_translation_provider_default_init (LanlanTranslationProviderInterface *iface)
{
}

const char *
lanlan_translation_provider_get_name (LanlanTranslationProvider *self)
{
  LanlanTranslationProviderInterface *iface;

  g_return_val_if_fail (LANLAN_IS_TRANSLATION_PROVIDER (self), NULL);
  iface = LANLAN_TRANSLATION_PROVIDER_GET_IFACE (self);
  return iface->get_name ? iface->get_name (self) : G_OBJECT_TYPE_NAME (self);
}

void
lanlan_translation_provider_translate_async (LanlanTranslationProvider *self,
                                             const char                *text,
                                             const char                *from,
                                             const char                *to,
                                             GCancellable              *cancellable,
                                             GAsyncReadyCallback        callback,
                                             gpointer                   user_data)
{
  g_return_if_fail (LANLAN_IS_TRANSLATION_PROVIDER (self));
  g_return_if_fail (text != NULL && from != NULL && to != NULL);

  LANLAN_TRANSLATION_PROVIDER_GET_IFACE (self)->translate_async (self, text, from, to,
                                                                  cancellable, callback, user_data);
}

char *
lanlan_translation_provider_translate_finish (LanlanTranslationProvider  *self,
                                              GAsyncResult               *result,
                                              GError                    **error)
{
  g_return_val_if_fail (LANLAN_IS_TRANSLATION_PROVIDER (self), NULL);

  return LANLAN_TRANSLATION_PROVIDER_GET_IFACE (self)->translate_finish (self, result, error);
}
