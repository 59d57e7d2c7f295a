/* lanlan-translate-http.h — JSON over HTTP for translation providers
 *
 * Internal to src/translate.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

void      lanlan_translate_http_post_json_async  (SoupSession         *session,
                                                  const char          *url,
                                                  const char          *bearer_token,
                                                  JsonNode            *body,
                                                  guint                timeout_ms,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
JsonNode *lanlan_translate_http_post_json_finish (GAsyncResult        *result,
                                                  GError             **error);

char     *lanlan_translate_join_url              (const char          *base,
                                                  const char          *path);

G_END_DECLS
