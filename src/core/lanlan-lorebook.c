/* lanlan-lorebook.c — a character's lorebook (world info) and its matcher
 *
 * A lorebook is the "character_book" of a Character Card V2/V3: entries of
 * background text, each with trigger keys. Before a turn, the most recent
 * messages (the book's scan depth, 4 by default) are scanned; an entry is
 * active when one of its keys appears there (and, for a "selective" entry,
 * one of its secondary keys too), or always when it is "constant". With
 * recursive scanning, active entries' text is scanned as well, up to
 * LANLAN_LOREBOOK_MAX_RECURSION rounds. Active entries are then fitted into
 * the book's token budget, dropping the lowest priority first (ties: the
 * lowest insertion order first, as SillyTavern's world info does), and
 * rendered in insertion order, before or after the character's persona.
 *
 * Keys match without regard to case unless the entry is case sensitive.
 * A key that starts or ends with a Latin letter or digit matches whole
 * words only ("cat" does not fire on "category"); other keys (Chinese,
 * Japanese) match anywhere. With "use_regex" a key is a regular expression,
 * written bare or as /pattern/flags; one that does not compile is ignored.
 *
 * The object is immutable once built, so a session thread can use a
 * character's lorebook while the UI replaces it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-lorebook.h"

typedef struct {
  char                   **keys;            /* as written */
  char                   **secondary_keys;
  char                   **folded_keys;     /* casefolded, when not case sensitive */
  char                   **folded_secondary;
  GPtrArray               *regexes;         /* GRegex, when use_regex */
  GPtrArray               *secondary_regexes;
  char                    *content;
  char                    *name;
  char                    *comment;
  gboolean                 enabled;
  gboolean                 case_sensitive;
  gboolean                 use_regex;
  gboolean                 constant;
  gboolean                 selective;
  gboolean                 has_priority;
  gint64                   insertion_order;
  gint64                   priority;
  LanlanLorebookPosition   position;
  guint                    tokens;
} Entry;

struct _LanlanLorebook
{
  GObject    parent_instance;

  char      *name;
  char      *description;
  guint      scan_depth;
  guint      token_budget;
  gboolean   recursive;
  GArray    *entries;   /* Entry */
};

G_DEFINE_FINAL_TYPE (LanlanLorebook, lanlan_lorebook, G_TYPE_OBJECT)

static void
entry_clear (gpointer data)
{
  Entry *e = data;

  g_strfreev (e->keys);
  g_strfreev (e->secondary_keys);
  g_strfreev (e->folded_keys);
  g_strfreev (e->folded_secondary);
  g_clear_pointer (&e->regexes, g_ptr_array_unref);
  g_clear_pointer (&e->secondary_regexes, g_ptr_array_unref);
  g_free (e->content);
  g_free (e->name);
  g_free (e->comment);
}

static void
lanlan_lorebook_finalize (GObject *object)
{
  LanlanLorebook *self = (LanlanLorebook *)object;

  g_free (self->name);
  g_free (self->description);
  g_clear_pointer (&self->entries, g_array_unref);

  G_OBJECT_CLASS (lanlan_lorebook_parent_class)->finalize (object);
}

static void
lanlan_lorebook_class_init (LanlanLorebookClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_lorebook_finalize;
}

static void
lanlan_lorebook_init (LanlanLorebook *self)
{
  self->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_array_set_clear_func (self->entries, entry_clear);
  self->scan_depth = LANLAN_LOREBOOK_DEFAULT_SCAN_DEPTH;
  self->token_budget = LANLAN_LOREBOOK_DEFAULT_TOKEN_BUDGET;
}

/**
 * lanlan_lorebook_estimate_tokens:
 *
 * A tokenizer-free estimate: a quarter token per ASCII byte, one per other
 * character (a CJK character is about one token in current tokenizers).
 */
guint
lanlan_lorebook_estimate_tokens (const char *text)
{
  gsize ascii = 0, other = 0;

  if (text == NULL)
    return 0;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      if ((guchar) *p < 0x80)
        ascii++;
      else
        other++;
    }

  return (guint) MIN ((ascii + 3) / 4 + other, G_MAXUINT);
}

/* Lenient readers: cards come from many tools; a wrong type means "absent". */
static const char *
get_string (JsonObject *o,
            const char *member)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  return NULL;
}

static gboolean
get_bool (JsonObject *o,
          const char *member,
          gboolean    fallback)
{
  JsonNode *node = json_object_get_member (o, member);

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return json_node_get_boolean (node);
  return fallback;
}

static gboolean
get_int (JsonObject *o,
         const char *member,
         gint64     *out)
{
  JsonNode *node = json_object_get_member (o, member);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *out = json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);
      if (!(d > -1e15 && d < 1e15))
        return FALSE;
      *out = (gint64) d;
    }
  else
    return FALSE;
  return TRUE;
}

static char **
get_keys (JsonObject  *o,
          const char  *member,
          guint        entry_index,
          GError     **error)
{
  JsonNode *node = json_object_get_member (o, member);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;
  guint n;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strv_builder_end (builder);

  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Lorebook entry %u: “%s” must be a list of words"),
                   entry_index + 1, member);
      return NULL;
    }

  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > LANLAN_LOREBOOK_MAX_KEYS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Lorebook entry %u has too many keys (%u, at most %u)"),
                   entry_index + 1, n, LANLAN_LOREBOOK_MAX_KEYS);
      return NULL;
    }

  for (guint i = 0; i < n; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autofree char *key = NULL;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Lorebook entry %u: “%s” must be a list of words"),
                       entry_index + 1, member);
          return NULL;
        }

      key = g_strstrip (g_strdup (json_node_get_string (item)));
      if (*key != '\0')
        g_strv_builder_add (builder, key);
    }

  return g_strv_builder_end (builder);
}

static char **
fold_keys (char **keys)
{
  guint n = g_strv_length (keys);
  char **folded = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    folded[i] = g_utf8_casefold (keys[i], -1);
  return folded;
}

static GPtrArray *
compile_keys (char     **keys,
              gboolean   case_sensitive)
{
  GPtrArray *regexes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref);

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *pattern = NULL;
      GRegexCompileFlags flags = 0;   /* no JIT: small patterns, and memcheck-clean */
      const char *key = keys[i];
      const char *last_slash = strrchr (key, '/');
      GRegex *regex;

      if (!case_sensitive)
        flags |= G_REGEX_CASELESS;

      /* "/pattern/flags", as SillyTavern writes regex keys */
      if (key[0] == '/' && last_slash != NULL && last_slash > key)
        {
          pattern = g_strndup (key + 1, last_slash - key - 1);
          for (const char *f = last_slash + 1; *f; f++)
            if (*f == 'i')
              flags |= G_REGEX_CASELESS;
            else if (*f == 'm')
              flags |= G_REGEX_MULTILINE;
            else if (*f == 's')
              flags |= G_REGEX_DOTALL;
        }
      else
        pattern = g_strdup (key);

      regex = g_regex_new (pattern, flags, 0, NULL);
      if (regex != NULL)
        g_ptr_array_add (regexes, regex);
    }

  return regexes;
}

static gboolean
parse_entry (JsonObject  *o,
             guint        index,
             Entry       *e,
             GError     **error)
{
  const char *content = get_string (o, "content");
  const char *position = get_string (o, "position");
  gint64 value;

  if (!(e->keys = get_keys (o, "keys", index, error)))
    return FALSE;
  if (!(e->secondary_keys = get_keys (o, "secondary_keys", index, error)))
    return FALSE;

  e->content = g_strdup (content ? content : "");
  e->name = g_strdup (get_string (o, "name"));
  e->comment = g_strdup (get_string (o, "comment"));
  e->enabled = get_bool (o, "enabled", TRUE);
  e->case_sensitive = get_bool (o, "case_sensitive", FALSE);
  e->use_regex = get_bool (o, "use_regex", FALSE);
  e->constant = get_bool (o, "constant", FALSE);
  e->selective = get_bool (o, "selective", FALSE);
  e->insertion_order = get_int (o, "insertion_order", &value) ? value : 100;
  e->has_priority = get_int (o, "priority", &value);
  e->priority = e->has_priority ? value : 0;
  e->position = g_strcmp0 (position, "after_char") == 0 ? LANLAN_LOREBOOK_AFTER_CHAR
                                                        : LANLAN_LOREBOOK_BEFORE_CHAR;
  e->tokens = lanlan_lorebook_estimate_tokens (e->content);

  if (e->use_regex)
    {
      e->regexes = compile_keys (e->keys, e->case_sensitive);
      e->secondary_regexes = compile_keys (e->secondary_keys, e->case_sensitive);
    }
  else if (!e->case_sensitive)
    {
      e->folded_keys = fold_keys (e->keys);
      e->folded_secondary = fold_keys (e->secondary_keys);
    }

  return TRUE;
}

/**
 * lanlan_lorebook_new_from_json:
 * @book: a "character_book" object (as in a card, or as written by
 *   lanlan_lorebook_to_json())
 *
 * Unknown members are ignored and optional members of the wrong type are
 * taken as absent; "entries" must be a list of objects and keys lists of
 * text.
 */
LanlanLorebook *
lanlan_lorebook_new_from_json (JsonObject  *book,
                               GError     **error)
{
  g_autoptr(LanlanLorebook) self = NULL;
  JsonNode *entries;
  JsonArray *array;
  gint64 value;
  guint n;

  g_return_val_if_fail (book != NULL, NULL);

  self = g_object_new (LANLAN_TYPE_LOREBOOK, NULL);
  self->name = g_strdup (get_string (book, "name"));
  self->description = g_strdup (get_string (book, "description"));
  self->recursive = get_bool (book, "recursive_scanning", FALSE);
  if (get_int (book, "scan_depth", &value) && value > 0)
    self->scan_depth = (guint) MIN (value, 1000);
  if (get_int (book, "token_budget", &value) && value > 0)
    self->token_budget = (guint) MIN (value, 1000000);

  entries = json_object_get_member (book, "entries");
  if (entries == NULL || JSON_NODE_HOLDS_NULL (entries))
    return g_steal_pointer (&self);

  if (!JSON_NODE_HOLDS_ARRAY (entries))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The lorebook’s “entries” must be a list"));
      return NULL;
    }

  array = json_node_get_array (entries);
  n = json_array_get_length (array);
  if (n > LANLAN_LOREBOOK_MAX_ENTRIES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The lorebook has too many entries (%u, at most %u)"),
                   n, LANLAN_LOREBOOK_MAX_ENTRIES);
      return NULL;
    }

  for (guint i = 0; i < n; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      Entry e = { 0 };

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Lorebook entry %u is not an object"), i + 1);
          return NULL;
        }

      if (!parse_entry (json_node_get_object (item), i, &e, error))
        {
          entry_clear (&e);
          return NULL;
        }
      g_array_append_val (self->entries, e);
    }

  return g_steal_pointer (&self);
}

static void
add_strv (JsonBuilder *builder,
          const char  *member,
          char       **strv)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; strv[i] != NULL; i++)
    json_builder_add_string_value (builder, strv[i]);
  json_builder_end_array (builder);
}

/**
 * lanlan_lorebook_to_json:
 *
 * Returns: (transfer full): the book as a Character Card V3
 *   "character_book" object.
 */
JsonNode *
lanlan_lorebook_to_json (LanlanLorebook *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), NULL);

  json_builder_begin_object (b);
  if (self->name != NULL)
    {
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, self->name);
    }
  if (self->description != NULL)
    {
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, self->description);
    }
  json_builder_set_member_name (b, "scan_depth");
  json_builder_add_int_value (b, self->scan_depth);
  json_builder_set_member_name (b, "token_budget");
  json_builder_add_int_value (b, self->token_budget);
  json_builder_set_member_name (b, "recursive_scanning");
  json_builder_add_boolean_value (b, self->recursive);
  json_builder_set_member_name (b, "extensions");
  json_builder_begin_object (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "entries");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *e = &g_array_index (self->entries, Entry, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, i);
      add_strv (b, "keys", e->keys);
      add_strv (b, "secondary_keys", e->secondary_keys);
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, e->content);
      json_builder_set_member_name (b, "extensions");
      json_builder_begin_object (b);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "enabled");
      json_builder_add_boolean_value (b, e->enabled);
      json_builder_set_member_name (b, "insertion_order");
      json_builder_add_int_value (b, e->insertion_order);
      json_builder_set_member_name (b, "case_sensitive");
      json_builder_add_boolean_value (b, e->case_sensitive);
      json_builder_set_member_name (b, "use_regex");
      json_builder_add_boolean_value (b, e->use_regex);
      json_builder_set_member_name (b, "constant");
      json_builder_add_boolean_value (b, e->constant);
      json_builder_set_member_name (b, "selective");
      json_builder_add_boolean_value (b, e->selective);
      json_builder_set_member_name (b, "position");
      json_builder_add_string_value (b, e->position == LANLAN_LOREBOOK_AFTER_CHAR
                                        ? "after_char" : "before_char");
      if (e->has_priority)
        {
          json_builder_set_member_name (b, "priority");
          json_builder_add_int_value (b, e->priority);
        }
      if (e->name != NULL)
        {
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, e->name);
        }
      if (e->comment != NULL)
        {
          json_builder_set_member_name (b, "comment");
          json_builder_add_string_value (b, e->comment);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

const char *
lanlan_lorebook_get_name (LanlanLorebook *self)
{
  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), NULL);
  return self->name;
}

guint
lanlan_lorebook_get_n_entries (LanlanLorebook *self)
{
  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), 0);
  return self->entries->len;
}

guint
lanlan_lorebook_get_scan_depth (LanlanLorebook *self)
{
  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), 0);
  return self->scan_depth;
}

guint
lanlan_lorebook_get_token_budget (LanlanLorebook *self)
{
  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), 0);
  return self->token_budget;
}

const char *
lanlan_lorebook_get_entry_content (LanlanLorebook *self,
                                   guint           index)
{
  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);
  return g_array_index (self->entries, Entry, index).content;
}

static gboolean
is_word_char (gunichar c)
{
  return c < 0x80 && (g_ascii_isalnum (c) || c == '_');
}

/* @haystack and @needle in the same case form. */
static gboolean
contains_key (const char *haystack,
              const char *needle)
{
  gsize needle_len = strlen (needle);
  gboolean word_start, word_end;
  const char *p = haystack;

  if (needle_len == 0)
    return FALSE;

  word_start = is_word_char (g_utf8_get_char (needle));
  word_end = is_word_char (g_utf8_get_char (g_utf8_find_prev_char (needle, needle + needle_len)));

  while ((p = strstr (p, needle)) != NULL)
    {
      gboolean ok = TRUE;

      if (word_start && p > haystack &&
          is_word_char (g_utf8_get_char (g_utf8_find_prev_char (haystack, p))))
        ok = FALSE;
      if (ok && word_end && p[needle_len] != '\0' &&
          is_word_char (g_utf8_get_char (p + needle_len)))
        ok = FALSE;
      if (ok)
        return TRUE;

      p = g_utf8_next_char (p);
    }

  return FALSE;
}

static gboolean
any_key_matches (Entry      *e,
                 gboolean    secondary,
                 const char *text,
                 const char *folded_text)
{
  if (e->use_regex)
    {
      GPtrArray *regexes = secondary ? e->secondary_regexes : e->regexes;

      for (guint i = 0; i < regexes->len; i++)
        if (g_regex_match (g_ptr_array_index (regexes, i), text, 0, NULL))
          return TRUE;
      return FALSE;
    }

  if (e->case_sensitive)
    {
      char **keys = secondary ? e->secondary_keys : e->keys;

      for (guint i = 0; keys[i] != NULL; i++)
        if (contains_key (text, keys[i]))
          return TRUE;
      return FALSE;
    }

  {
    char **keys = secondary ? e->folded_secondary : e->folded_keys;

    for (guint i = 0; keys[i] != NULL; i++)
      if (contains_key (folded_text, keys[i]))
        return TRUE;
  }
  return FALSE;
}

static gboolean
entry_fires (Entry      *e,
             const char *text,
             const char *folded_text)
{
  if (!any_key_matches (e, FALSE, text, folded_text))
    return FALSE;
  if (e->selective && e->secondary_keys[0] != NULL)
    return any_key_matches (e, TRUE, text, folded_text);
  return TRUE;
}

static int
compare_for_budget (gconstpointer a,
                    gconstpointer b,
                    gpointer      user_data)
{
  GArray *entries = user_data;
  Entry *ea = &g_array_index (entries, Entry, *(const guint *) a);
  Entry *eb = &g_array_index (entries, Entry, *(const guint *) b);

  /* Constant entries first, then the highest priority, then the highest order. */
  if (ea->constant != eb->constant)
    return ea->constant ? -1 : 1;
  if (ea->priority != eb->priority)
    return ea->priority > eb->priority ? -1 : 1;
  if (ea->insertion_order != eb->insertion_order)
    return ea->insertion_order > eb->insertion_order ? -1 : 1;
  return *(const guint *) a < *(const guint *) b ? -1 : 1;
}

static int
compare_for_prompt (gconstpointer a,
                    gconstpointer b,
                    gpointer      user_data)
{
  GArray *entries = user_data;
  Entry *ea = &g_array_index (entries, Entry, *(const guint *) a);
  Entry *eb = &g_array_index (entries, Entry, *(const guint *) b);

  if (ea->insertion_order != eb->insertion_order)
    return ea->insertion_order < eb->insertion_order ? -1 : 1;
  return *(const guint *) a < *(const guint *) b ? -1 : 1;
}

/**
 * lanlan_lorebook_match:
 * @recent: (array length=n_recent): message texts, oldest first
 *
 * Finds the entries to put into the context for the next turn: only the
 * last scan-depth texts are scanned. Returns entry indices in insertion
 * order, already cut to the token budget.
 *
 * Returns: (transfer full) (element-type guint): the active entries.
 */
GArray *
lanlan_lorebook_match (LanlanLorebook     *self,
                       const char * const *recent,
                       gsize               n_recent)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree gboolean *active = NULL;
  g_autoptr(GArray) candidates = g_array_new (FALSE, FALSE, sizeof (guint));
  GArray *result = g_array_new (FALSE, FALSE, sizeof (guint));
  gsize first = n_recent > self->scan_depth ? n_recent - self->scan_depth : 0;
  guint used = 0;

  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), result);
  g_return_val_if_fail (recent != NULL || n_recent == 0, result);

  if (self->entries->len == 0)
    return result;

  active = g_new0 (gboolean, self->entries->len);

  for (gsize i = first; i < n_recent; i++)
    if (recent[i] != NULL && g_utf8_validate (recent[i], -1, NULL))
      {
        g_string_append (text, recent[i]);
        g_string_append_c (text, '\n');
      }

  for (guint round = 0; round <= LANLAN_LOREBOOK_MAX_RECURSION; round++)
    {
      g_autofree char *folded = g_utf8_casefold (text->str, text->len);
      g_autoptr(GString) added = g_string_new (NULL);

      for (guint i = 0; i < self->entries->len; i++)
        {
          Entry *e = &g_array_index (self->entries, Entry, i);

          if (active[i] || !e->enabled)
            continue;
          if (e->constant || entry_fires (e, text->str, folded))
            {
              active[i] = TRUE;
              g_string_append (added, e->content);
              g_string_append_c (added, '\n');
            }
        }

      if (!self->recursive || added->len == 0)
        break;
      /* The next round scans only what was just added. */
      g_string_assign (text, added->str);
    }

  for (guint i = 0; i < self->entries->len; i++)
    if (active[i])
      g_array_append_val (candidates, i);

  g_array_sort_with_data (candidates, compare_for_budget, self->entries);
  for (guint i = 0; i < candidates->len; i++)
    {
      guint index = g_array_index (candidates, guint, i);
      Entry *e = &g_array_index (self->entries, Entry, index);

      if (e->tokens > self->token_budget - used)
        continue;
      used += e->tokens;
      g_array_append_val (result, index);
    }

  g_array_sort_with_data (result, compare_for_prompt, self->entries);
  return result;
}

/**
 * lanlan_lorebook_render:
 * @matched: (element-type guint): from lanlan_lorebook_match()
 *
 * Returns: (transfer full): the text of the matched entries placed at
 *   @position, one per paragraph, or "" when there are none.
 */
char *
lanlan_lorebook_render (LanlanLorebook         *self,
                        GArray                 *matched,
                        LanlanLorebookPosition  position)
{
  g_autoptr(GString) out = g_string_new (NULL);

  g_return_val_if_fail (LANLAN_IS_LOREBOOK (self), NULL);
  g_return_val_if_fail (matched != NULL, NULL);

  for (guint i = 0; i < matched->len; i++)
    {
      guint index = g_array_index (matched, guint, i);
      Entry *e;
      g_autofree char *content = NULL;

      if (index >= self->entries->len)
        continue;
      e = &g_array_index (self->entries, Entry, index);
      if (e->position != position)
        continue;

      content = g_strstrip (g_strdup (e->content));
      if (*content == '\0')
        continue;
      if (out->len > 0)
        g_string_append (out, "\n\n");
      g_string_append (out, content);
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}
