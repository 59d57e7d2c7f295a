/* lanlan-secrets.h — API keys in the desktop keyring
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LANLAN_SECRETS_ERROR (lanlan_secrets_error_quark ())
GQuark lanlan_secrets_error_quark (void);

/**
 * LanlanSecretsError:
 * @LANLAN_SECRETS_ERROR_MEMORY_ONLY: store: no keyring took the key; it
 *   is kept in this process's memory until the app quits (lookups find
 *   it), never on disk. The message says why.
 * @LANLAN_SECRETS_ERROR_NO_KEYRING: lookup: there is no Secret Service
 *   to ask, and no key was given in this run.
 */
typedef enum {
  LANLAN_SECRETS_ERROR_MEMORY_ONLY,
  LANLAN_SECRETS_ERROR_NO_KEYRING,
} LanlanSecretsError;

gboolean  lanlan_secrets_store_sync   (const char    *provider,
                                       const char    *api_key,
                                       GCancellable  *cancellable,
                                       GError       **error);
char     *lanlan_secrets_lookup_sync  (const char    *provider,
                                       GCancellable  *cancellable,
                                       GError       **error);
gboolean  lanlan_secrets_clear_sync   (const char    *provider,
                                       GCancellable  *cancellable,
                                       GError       **error);
void      lanlan_secrets_lookup_async (const char          *provider,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
char     *lanlan_secrets_lookup_finish (GAsyncResult  *result,
                                        GError       **error);
void      lanlan_secrets_store_async  (const char          *provider,
                                       const char          *api_key,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean  lanlan_secrets_store_finish (GAsyncResult  *result,
                                       GError       **error);

G_END_DECLS
