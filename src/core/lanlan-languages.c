/* lanlan-languages.c — the languages offered in pickers
 *
 * One list for the character's language and the user's, so the two
 * pickers always offer the same languages under the same names.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-languages.h"

static const LanlanLanguage languages[] = {
  { "en", N_("English") },
  { "zh-CN", N_("Chinese (Simplified)") },
  { "zh-TW", N_("Chinese (Traditional)") },
  { "ja", N_("Japanese") },
  { "ko", N_("Korean") },
  { "fr", N_("French") },
  { "de", N_("German") },
  { "es", N_("Spanish") },
  { "it", N_("Italian") },
  { "pt-BR", N_("Portuguese (Brazil)") },
  { "ru", N_("Russian") },
  { "uk", N_("Ukrainian") },
  { "pl", N_("Polish") },
  { "nl", N_("Dutch") },
  { "tr", N_("Turkish") },
  { "ar", N_("Arabic") },
  { "hi", N_("Hindi") },
  { "id", N_("Indonesian") },
  { "vi", N_("Vietnamese") },
  { "th", N_("Thai") },
};

const LanlanLanguage *
lanlan_languages_get (guint *n_languages)
{
  *n_languages = G_N_ELEMENTS (languages);
  return languages;
}

/**
 * lanlan_language_dup_label:
 *
 * Returns: the translated name with its tag, as "Japanese (ja)".
 */
char *
lanlan_language_dup_label (const LanlanLanguage *language)
{
  return g_strdup_printf ("%s (%s)", _(language->name), language->tag);
}
