/* lanlan-log.h — a log writer that never prints a secret
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void   lanlan_log_init        (void);
void   lanlan_log_add_secret  (const char *secret);
char  *lanlan_log_redact      (const char *text);

G_END_DECLS
