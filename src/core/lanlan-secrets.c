/* lanlan-secrets.c — API keys in the desktop keyring
 *
 * Keys live only in the Secret Service (GNOME Keyring, KWallet, or the
 * Flatpak secret portal through libsecret). They are never written to a
 * file, and every key that passes through here is registered with the
 * log writer so that it is masked if it ever reaches a log message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <libsecret/secret.h>

#include "lanlan-log.h"
#include "lanlan-secrets.h"

static const SecretSchema *
get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.lanlan.Lanlan.ApiKey", SECRET_SCHEMA_NONE,
    {
      { "provider", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

gboolean
lanlan_secrets_store_sync (const char    *provider,
                           const char    *api_key,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autofree char *label = NULL;

  g_return_val_if_fail (provider != NULL, FALSE);
  g_return_val_if_fail (api_key != NULL, FALSE);

  lanlan_log_add_secret (api_key);
  /* Translators: %s is an AI service such as OpenAI */
  label = g_strdup_printf (_("Lanlan API key for %s"), provider);
  return secret_password_store_sync (get_schema (), SECRET_COLLECTION_DEFAULT,
                                     label, api_key, cancellable, error,
                                     "provider", provider,
                                     NULL);
}

char *
lanlan_secrets_lookup_sync (const char    *provider,
                            GCancellable  *cancellable,
                            GError       **error)
{
  char *secret;
  char *ret;

  g_return_val_if_fail (provider != NULL, NULL);

  secret = secret_password_lookup_sync (get_schema (), cancellable, error,
                                        "provider", provider,
                                        NULL);
  if (secret == NULL)
    return NULL;

  lanlan_log_add_secret (secret);
  ret = g_strdup (secret);
  secret_password_free (secret);
  return ret;
}

gboolean
lanlan_secrets_clear_sync (const char    *provider,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (provider != NULL, FALSE);

  if (!secret_password_clear_sync (get_schema (), cancellable, &local_error,
                                   "provider", provider,
                                   NULL) && local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

static void
lookup_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;
  char *key = lanlan_secrets_lookup_sync (task_data, cancellable, &error);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, key, g_free);
}

void
lanlan_secrets_lookup_async (const char          *provider,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, lanlan_secrets_lookup_async);
  g_task_set_task_data (task, g_strdup (provider), g_free);
  g_task_run_in_thread (task, lookup_thread);
}

char *
lanlan_secrets_lookup_finish (GAsyncResult  *result,
                              GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char *provider;
  char *api_key;
} StoreData;

static void
store_data_free (gpointer data)
{
  StoreData *d = data;

  g_free (d->provider);
  if (d->api_key != NULL)
    {
      explicit_bzero (d->api_key, strlen (d->api_key));
      g_free (d->api_key);
    }
  g_free (d);
}

static void
store_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  StoreData *d = task_data;
  GError *error = NULL;

  if (lanlan_secrets_store_sync (d->provider, d->api_key, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
lanlan_secrets_store_async (const char          *provider,
                            const char          *api_key,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  StoreData *d = g_new0 (StoreData, 1);

  d->provider = g_strdup (provider);
  d->api_key = g_strdup (api_key);
  lanlan_log_add_secret (api_key);
  g_task_set_source_tag (task, lanlan_secrets_store_async);
  g_task_set_task_data (task, d, store_data_free);
  g_task_run_in_thread (task, store_thread);
}

gboolean
lanlan_secrets_store_finish (GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
