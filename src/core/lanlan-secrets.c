/* lanlan-secrets.c — API keys in the desktop keyring
 *
 * Keys live only in the Secret Service (GNOME Keyring, KWallet, or the
 * Flatpak secret portal through libsecret). They are never written to a
 * file, and every key that passes through here is registered with the
 * log writer so that it is masked if it ever reaches a log message.
 *
 * Without a Secret Service (no keyring daemon, no portal, no session
 * bus), a key the user gives is not thrown away: it is kept in this
 * process's memory for the rest of the run (never on disk), lookups find
 * it there, and storing returns LANLAN_SECRETS_ERROR_MEMORY_ONLY saying
 * why it could not be kept for next time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <libsecret/secret.h>

#include "lanlan-log.h"
#include "lanlan-secrets.h"

G_DEFINE_QUARK (lanlan-secrets-error-quark, lanlan_secrets_error)

/* provider -> key, for keys no keyring would take. */
static GMutex memory_lock;
static GHashTable *memory_keys;

static void
wipe_free (gpointer data)
{
  char *key = data;

  if (key != NULL)
    {
      explicit_bzero (key, strlen (key));
      g_free (key);
    }
}

static gboolean
memory_set (const char *provider,
            const char *api_key)
{
  gboolean removed = FALSE;

  g_mutex_lock (&memory_lock);
  if (memory_keys == NULL)
    memory_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  if (api_key)
    g_hash_table_replace (memory_keys, g_strdup (provider), g_strdup (api_key));
  else
    removed = g_hash_table_remove (memory_keys, provider);
  g_mutex_unlock (&memory_lock);
  return removed;
}

static char *
memory_dup (const char *provider)
{
  char *key = NULL;

  g_mutex_lock (&memory_lock);
  if (memory_keys != NULL)
    key = g_strdup (g_hash_table_lookup (memory_keys, provider));
  g_mutex_unlock (&memory_lock);
  return key;
}

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
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (provider != NULL, FALSE);
  g_return_val_if_fail (api_key != NULL, FALSE);

  lanlan_log_add_secret (api_key);
  /* Translators: %s is an AI service such as OpenAI */
  label = g_strdup_printf (_("Lanlan API key for %s"), provider);
  if (secret_password_store_sync (get_schema (), SECRET_COLLECTION_DEFAULT,
                                  label, api_key, cancellable, &local_error,
                                  "provider", provider,
                                  NULL))
    {
      memory_set (provider, NULL);
      return TRUE;
    }

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* No keyring took it: keep it for this run rather than lose it. */
  memory_set (provider, api_key);
  g_set_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_MEMORY_ONLY,
               _("No keyring could keep the key (%s). It is kept in memory until Lanlan "
                 "quits and will have to be entered again next time."),
               local_error ? local_error->message : _("the keyring refused"));
  return FALSE;
}

char *
lanlan_secrets_lookup_sync (const char    *provider,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  char *secret;
  char *ret;

  g_return_val_if_fail (provider != NULL, NULL);

  /* A key given in this run that no keyring would take. */
  ret = memory_dup (provider);
  if (ret != NULL)
    return ret;

  secret = secret_password_lookup_sync (get_schema (), cancellable, &local_error,
                                        "provider", provider,
                                        NULL);
  if (secret == NULL)
    {
      if (local_error != NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_set_error (error, LANLAN_SECRETS_ERROR, LANLAN_SECRETS_ERROR_NO_KEYRING,
                     _("No keyring is available: %s"), local_error->message);
      else if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

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
  gboolean had_memory_key;

  g_return_val_if_fail (provider != NULL, FALSE);

  had_memory_key = memory_set (provider, NULL);
  if (!secret_password_clear_sync (get_schema (), cancellable, &local_error,
                                   "provider", provider,
                                   NULL) && local_error != NULL &&
      !(had_memory_key && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
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
