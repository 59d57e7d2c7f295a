/* lanlan-languages.h — the languages offered in pickers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *tag;    /* BCP 47 */
  const char *name;   /* untranslated: show with _() or lanlan_language_dup_label() */
} LanlanLanguage;

const LanlanLanguage *lanlan_languages_get         (guint                *n_languages);
char                 *lanlan_language_dup_label    (const LanlanLanguage *language);

G_END_DECLS
