/* lanlan-libretranslate-provider.h — LibreTranslate-compatible HTTP API
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-translation-provider.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_LIBRETRANSLATE_PROVIDER (lanlan_libretranslate_provider_get_type ())
G_DECLARE_FINAL_TYPE (LanlanLibretranslateProvider, lanlan_libretranslate_provider,
                      LANLAN, LIBRETRANSLATE_PROVIDER, GObject)

LanlanLibretranslateProvider *lanlan_libretranslate_provider_new          (const char *url,
                                                                           const char *api_key);
void                          lanlan_libretranslate_provider_set_timeout  (LanlanLibretranslateProvider *self,
                                                                           guint                         timeout_ms);
const char                   *lanlan_libretranslate_language_code         (const char *tag);

G_END_DECLS
