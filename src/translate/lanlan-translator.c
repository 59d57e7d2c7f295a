/* lanlan-translator.c — translate between the user's and a character's language
 *
 * When the user writes in one language and the character speaks another,
 * text is passed through a chain of providers: the first that succeeds
 * wins, and each failure (HTTP error, stall, bad JSON, refused
 * connection) just moves on to the next, so a dead self-hosted server
 * costs one short timeout, not a lost message. Only the caller's own
 * cancellation stops the chain. When every provider fails the error
 * names each one and why.
 *
 * Results are kept in a small LRU cache keyed by (from, to, text):
 * greetings and repeated phrases are common in chat, and a cache hit
 * costs no request and no latency. Same-language and empty text never
 * reach a provider.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "lanlan-translator.h"

typedef struct {
  char *key;
  char *value;
} CacheEntry;

struct _LanlanTranslator
{
  GObject     parent_instance;

  GPtrArray  *providers;
  GHashTable *cache;        /* key -> GList* in lru (owned by the queue) */
  GQueue      lru;          /* CacheEntry*, most recent first */
  guint       cache_size;
  guint64     n_cache_hits;
};

G_DEFINE_FINAL_TYPE (LanlanTranslator, lanlan_translator, G_TYPE_OBJECT)

/* --- languages ---------------------------------------------------------- */

/**
 * lanlan_translator_normalize_language:
 * @tag: "ja", "en_US.UTF-8", "zh-TW", "zh-Hans-CN", ...
 *
 * Lower-cases, drops encoding and modifiers and the region, except that
 * Chinese keeps its script ("zh-hans" or "zh-hant"), which is what
 * matters for translation.
 *
 * Returns: (transfer full): the normalized tag, "" if @tag is empty
 */
char *
lanlan_translator_normalize_language (const char *tag)
{
  g_autofree char *lower = NULL;
  g_auto(GStrv) parts = NULL;
  char *cut;

  if (tag == NULL)
    return g_strdup ("");

  lower = g_ascii_strdown (tag, -1);
  g_strstrip (lower);
  if ((cut = strpbrk (lower, ".@")) != NULL)
    *cut = '\0';
  g_strdelimit (lower, "_", '-');

  parts = g_strsplit (lower, "-", -1);
  if (parts[0] == NULL)
    return g_strdup ("");

  if (g_str_equal (parts[0], "zh") || g_str_equal (parts[0], "zt"))
    {
      gboolean traditional = g_str_equal (parts[0], "zt");

      for (guint i = 1; parts[i] != NULL; i++)
        {
          if (g_str_equal (parts[i], "hant") || g_str_equal (parts[i], "tw") ||
              g_str_equal (parts[i], "hk") || g_str_equal (parts[i], "mo"))
            traditional = TRUE;
          else if (g_str_equal (parts[i], "hans"))
            {
              traditional = FALSE;
              break;
            }
        }
      return g_strdup (traditional ? "zh-hant" : "zh-hans");
    }

  return g_strdup (parts[0]);
}

gboolean
lanlan_translator_same_language (const char *a,
                                 const char *b)
{
  g_autofree char *na = lanlan_translator_normalize_language (a);
  g_autofree char *nb = lanlan_translator_normalize_language (b);

  return g_str_equal (na, nb);
}

/**
 * lanlan_translator_language_name:
 *
 * Returns: an English name for @tag, for prompts; the tag itself if unknown
 */
const char *
lanlan_translator_language_name (const char *tag)
{
  static const struct { const char *code, *name; } names[] = {
    { "en", "English" }, { "ja", "Japanese" }, { "zh-hans", "Simplified Chinese" },
    { "zh-hant", "Traditional Chinese" }, { "ko", "Korean" }, { "fr", "French" },
    { "de", "German" }, { "es", "Spanish" }, { "it", "Italian" }, { "pt", "Portuguese" },
    { "ru", "Russian" }, { "uk", "Ukrainian" }, { "pl", "Polish" }, { "nl", "Dutch" },
    { "sv", "Swedish" }, { "tr", "Turkish" }, { "ar", "Arabic" }, { "hi", "Hindi" },
    { "id", "Indonesian" }, { "vi", "Vietnamese" }, { "th", "Thai" },
  };
  g_autofree char *norm = lanlan_translator_normalize_language (tag);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (names[i].code, norm))
      return names[i].name;

  return g_intern_string (norm);
}

/* --- cache -------------------------------------------------------------- */

static void
cache_entry_free (gpointer data)
{
  CacheEntry *entry = data;

  g_free (entry->key);
  g_free (entry->value);
  g_free (entry);
}

static char *
cache_key (const char *from,
           const char *to,
           const char *text)
{
  /* Normalized tags never contain '\n'. */
  return g_strconcat (from, "\n", to, "\n", text, NULL);
}

static const char *
cache_lookup (LanlanTranslator *self,
              const char       *key)
{
  GList *link = g_hash_table_lookup (self->cache, key);

  if (link == NULL)
    return NULL;

  g_queue_unlink (&self->lru, link);
  g_queue_push_head_link (&self->lru, link);
  return ((CacheEntry *) link->data)->value;
}

static void
cache_trim (LanlanTranslator *self)
{
  while (self->lru.length > self->cache_size)
    {
      CacheEntry *entry = g_queue_pop_tail (&self->lru);

      g_hash_table_remove (self->cache, entry->key);
      cache_entry_free (entry);
    }
}

static void
cache_insert (LanlanTranslator *self,
              const char       *key,
              const char       *value)
{
  GList *link = g_hash_table_lookup (self->cache, key);
  CacheEntry *entry;

  if (self->cache_size == 0)
    return;

  if (link != NULL)
    {
      entry = link->data;
      g_free (entry->value);
      entry->value = g_strdup (value);
      g_queue_unlink (&self->lru, link);
      g_queue_push_head_link (&self->lru, link);
      return;
    }

  entry = g_new0 (CacheEntry, 1);
  entry->key = g_strdup (key);
  entry->value = g_strdup (value);
  g_queue_push_head (&self->lru, entry);
  g_hash_table_insert (self->cache, entry->key, self->lru.head);
  cache_trim (self);
}

void
lanlan_translator_clear_cache (LanlanTranslator *self)
{
  g_return_if_fail (LANLAN_IS_TRANSLATOR (self));

  g_hash_table_remove_all (self->cache);
  g_queue_clear_full (&self->lru, cache_entry_free);
}

void
lanlan_translator_set_cache_size (LanlanTranslator *self,
                                  guint             max_entries)
{
  g_return_if_fail (LANLAN_IS_TRANSLATOR (self));

  self->cache_size = max_entries;
  cache_trim (self);
}

guint
lanlan_translator_get_cache_size (LanlanTranslator *self)
{
  g_return_val_if_fail (LANLAN_IS_TRANSLATOR (self), 0);
  return self->cache_size;
}

guint64
lanlan_translator_get_n_cache_hits (LanlanTranslator *self)
{
  g_return_val_if_fail (LANLAN_IS_TRANSLATOR (self), 0);
  return self->n_cache_hits;
}

/* --- providers ---------------------------------------------------------- */

void
lanlan_translator_add_provider (LanlanTranslator          *self,
                                LanlanTranslationProvider *provider)
{
  g_return_if_fail (LANLAN_IS_TRANSLATOR (self));
  g_return_if_fail (LANLAN_IS_TRANSLATION_PROVIDER (provider));

  g_ptr_array_add (self->providers, g_object_ref (provider));
}

void
lanlan_translator_clear_providers (LanlanTranslator *self)
{
  g_return_if_fail (LANLAN_IS_TRANSLATOR (self));
  g_ptr_array_set_size (self->providers, 0);
}

guint
lanlan_translator_get_n_providers (LanlanTranslator *self)
{
  g_return_val_if_fail (LANLAN_IS_TRANSLATOR (self), 0);
  return self->providers->len;
}

/* --- translating -------------------------------------------------------- */

typedef struct {
  char      *text;
  char      *from;
  char      *to;
  char      *key;
  GPtrArray *chain;     /* providers, as they were when the call began */
  guint      next;
  GString   *failures;
  char      *provider_name;
} Translation;

static void
translation_free (gpointer data)
{
  Translation *t = data;

  g_free (t->text);
  g_free (t->from);
  g_free (t->to);
  g_free (t->key);
  g_clear_pointer (&t->chain, g_ptr_array_unref);
  if (t->failures)
    g_string_free (t->failures, TRUE);
  g_free (t->provider_name);
  g_free (t);
}

static void try_next (GTask *task);

static void
provider_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanTranslator *self = g_task_get_source_object (task);
  Translation *t = g_task_get_task_data (task);
  LanlanTranslationProvider *provider = LANLAN_TRANSLATION_PROVIDER (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *translated = NULL;

  translated = lanlan_translation_provider_translate_finish (provider, result, &error);
  if (translated != NULL)
    {
      cache_insert (self, t->key, translated);
      t->provider_name = g_strdup (lanlan_translation_provider_get_name (provider));
      g_task_return_pointer (task, g_steal_pointer (&translated), g_free);
      return;
    }

  if (g_task_return_error_if_cancelled (task))
    return;

  g_message ("Translation by %s failed%s: %s",
             lanlan_translation_provider_get_name (provider),
             t->next < t->chain->len ? ", trying the next provider" : "",
             error->message);
  if (t->failures->len > 0)
    g_string_append (t->failures, "; ");
  g_string_append_printf (t->failures, "%s: %s",
                          lanlan_translation_provider_get_name (provider), error->message);
  try_next (task);
}

static void
try_next (GTask *task)
{
  Translation *t = g_task_get_task_data (task);
  LanlanTranslationProvider *provider;

  if (t->next >= t->chain->len)
    {
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_FAILED,
                               _("Could not translate from %s to %s: %s"),
                               t->from, t->to, t->failures->str);
      return;
    }

  provider = g_ptr_array_index (t->chain, t->next++);
  lanlan_translation_provider_translate_async (provider, t->text, t->from, t->to,
                                               g_task_get_cancellable (task),
                                               provider_done, g_object_ref (task));
}

static gpointer
copy_object (gconstpointer object,
             gpointer      user_data)
{
  return g_object_ref ((gpointer) object);
}

static gboolean
is_blank (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/**
 * lanlan_translator_translate_async:
 * @self: the translator
 * @text: what to translate
 * @from: its language (BCP 47 or POSIX tag)
 * @to: the language wanted
 * @cancellable: (nullable): stops the whole chain
 * @callback: called with the result
 * @user_data: for @callback
 *
 * Blank text, or @from and @to being the same language, gives @text back
 * without any request; so does a cache hit.
 */
void
lanlan_translator_translate_async (LanlanTranslator    *self,
                                   const char          *text,
                                   const char          *from,
                                   const char          *to,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Translation *t;
  const char *cached;

  g_return_if_fail (LANLAN_IS_TRANSLATOR (self));
  g_return_if_fail (text != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_translator_translate_async);

  t = g_new0 (Translation, 1);
  t->text = g_strdup (text);
  t->from = lanlan_translator_normalize_language (from);
  t->to = lanlan_translator_normalize_language (to);
  g_task_set_task_data (task, t, translation_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "Text to translate is not valid UTF-8");
      return;
    }

  if (is_blank (text) || *t->from == '\0' || *t->to == '\0' || g_str_equal (t->from, t->to))
    {
      t->provider_name = g_strdup ("none");
      g_task_return_pointer (task, g_strdup (text), g_free);
      return;
    }

  t->key = cache_key (t->from, t->to, text);
  cached = cache_lookup (self, t->key);
  if (cached != NULL)
    {
      self->n_cache_hits++;
      t->provider_name = g_strdup ("cache");
      g_task_return_pointer (task, g_strdup (cached), g_free);
      return;
    }

  if (self->providers->len == 0)
    {
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_NO_PROVIDER,
                               _("No translation service is configured"));
      return;
    }

  t->chain = g_ptr_array_copy (self->providers, copy_object, NULL);
  g_ptr_array_set_free_func (t->chain, g_object_unref);
  t->failures = g_string_new (NULL);
  try_next (task);
}

/**
 * lanlan_translator_translate_finish:
 * @provider_name: (out) (optional): who translated: a provider's name,
 *   "cache", or "none" when nothing needed translating
 *
 * Returns: (transfer full): the translation, or %NULL with @error set
 */
char *
lanlan_translator_translate_finish (LanlanTranslator  *self,
                                    GAsyncResult      *result,
                                    char             **provider_name,
                                    GError           **error)
{
  char *text;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  text = g_task_propagate_pointer (G_TASK (result), error);
  if (provider_name != NULL)
    {
      Translation *t = g_task_get_task_data (G_TASK (result));
      *provider_name = text ? g_strdup (t->provider_name) : NULL;
    }
  return text;
}

/* --- object ------------------------------------------------------------- */

static void
lanlan_translator_finalize (GObject *object)
{
  LanlanTranslator *self = LANLAN_TRANSLATOR (object);

  lanlan_translator_clear_cache (self);
  g_hash_table_unref (self->cache);
  g_ptr_array_unref (self->providers);

  G_OBJECT_CLASS (lanlan_translator_parent_class)->finalize (object);
}

static void
lanlan_translator_class_init (LanlanTranslatorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_translator_finalize;
}

static void
lanlan_translator_init (LanlanTranslator *self)
{
  self->providers = g_ptr_array_new_with_free_func (g_object_unref);
  self->cache = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->lru);
  self->cache_size = LANLAN_TRANSLATOR_DEFAULT_CACHE_SIZE;
}

LanlanTranslator *
lanlan_translator_new (void)
{
  return g_object_new (LANLAN_TYPE_TRANSLATOR, NULL);
}
