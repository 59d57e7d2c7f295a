/* lanlan-json.h — checks before handing outside JSON to json-glib
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deeper than any message or file of ours; far below what overflows the stack. */
#define LANLAN_JSON_MAX_DEPTH 64

gboolean    lanlan_json_precheck    (const char  *data,
                                     gsize        length,
                                     guint        max_depth,
                                     GError     **error);
JsonParser *lanlan_json_parse       (const char  *data,
                                     gsize        length,
                                     GError     **error);

G_END_DECLS
