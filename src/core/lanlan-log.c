/* lanlan-log.c — a log writer that never prints a secret
 *
 * Every API key the app handles is registered here; the structured log
 * writer replaces any occurrence of one in a message before it goes to
 * the journal or stderr. Keys shorter than 8 characters are not masked
 * (they would mangle ordinary words and are not real keys).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-log.h"

#define MIN_SECRET_LEN 8
#define MASK "[redacted]"

static GMutex secrets_lock;
static GPtrArray *secrets;

void
lanlan_log_add_secret (const char *secret)
{
  if (secret == NULL || strlen (secret) < MIN_SECRET_LEN)
    return;

  g_mutex_lock (&secrets_lock);
  if (secrets == NULL)
    secrets = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < secrets->len; i++)
    if (g_str_equal (secrets->pdata[i], secret))
      {
        g_mutex_unlock (&secrets_lock);
        return;
      }
  g_ptr_array_add (secrets, g_strdup (secret));
  g_mutex_unlock (&secrets_lock);
}

/**
 * lanlan_log_redact:
 *
 * Returns: (nullable): @text with every registered secret masked, or %NULL
 *   when it holds none.
 */
char *
lanlan_log_redact (const char *text)
{
  GString *out = NULL;

  if (text == NULL)
    return NULL;

  g_mutex_lock (&secrets_lock);
  for (guint i = 0; secrets != NULL && i < secrets->len; i++)
    {
      const char *secret = secrets->pdata[i];

      if (strstr (out ? out->str : text, secret) == NULL)
        continue;
      if (out == NULL)
        out = g_string_new (text);
      g_string_replace (out, secret, MASK, 0);
    }
  g_mutex_unlock (&secrets_lock);

  return out ? g_string_free (out, FALSE) : NULL;
}

static GLogWriterOutput
redacting_writer (GLogLevelFlags   log_level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  g_autofree GLogField *copy = NULL;
  g_autofree char *redacted = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") != 0 || fields[i].length != -1)
        continue;

      redacted = lanlan_log_redact (fields[i].value);
      if (redacted != NULL)
        {
          copy = g_memdup2 (fields, sizeof (GLogField) * n_fields);
          copy[i].value = redacted;
        }
      break;
    }

  return g_log_writer_default (log_level, copy ? copy : fields, n_fields, user_data);
}

void
lanlan_log_init (void)
{
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      g_log_set_writer_func (redacting_writer, NULL, NULL);
      g_once_init_leave (&initialized, 1);
    }
}
