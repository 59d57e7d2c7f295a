/* lanlan-character-store.c — the list of characters, saved as JSON
 *
 * The store is a GListModel of LanlanCharacter. It is written to a
 * temporary file which is fsynced and renamed over the old one, so a
 * crash never leaves a half-written config.
 * A config that cannot be parsed is moved aside to a timestamped
 * backup (never deleted) and the reason is kept for the UI to show.
 * Characters are saved automatically, debounced, whenever they change.
 *
 * Faults. A file that exists but cannot be read (permissions, a folder or
 * a symlink loop in its place) is never overwritten: the store runs on
 * the default character, "write-blocked" is TRUE and saving refuses until
 * the user agrees to lanlan_character_store_replace_unreadable(), which
 * moves the old file aside first. A save the disk refuses sets
 * "save-error" (a banner for the UI) until a save succeeds; the unsaved
 * state stays in memory and the next change tries again. A symlinked
 * characters.json is written through to its target. A file from a newer
 * version keeps its unknown keys (top level and per character) and is
 * copied to characters.json.vN-backup before it is first rewritten. Stale
 * temporary files of a save killed half-way (characters.json.tmp-XXXXXX,
 * and an older build's characters.json.XXXXXX) are removed at load.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "lanlan-character-store.h"
#include "lanlan-json.h"

#define CONFIG_VERSION 1
#define SAVE_DELAY_MS 300

struct _LanlanCharacterStore
{
  GObject     parent_instance;

  GFile      *file;
  GListStore *characters;
  char       *load_error;
  GFile      *backup_file;
  guint       save_source;
  gboolean    loading;

  char       *save_error;
  gboolean    write_blocked;   /* the file on disk could not be read */
  gint64      file_version;    /* "version" of the loaded file */
  gboolean    newer_backed_up;
  JsonObject *extra_root;      /* unknown top-level members */
  GHashTable *extra;           /* character id -> JsonObject of unknown members */
};

static void list_model_iface_init (GListModelInterface *iface);

static gboolean parse_characters (const char  *contents,
                                  gsize        length,
                                  GPtrArray   *out,
                                  JsonObject **root_out,
                                  GError     **error);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanCharacterStore, lanlan_character_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_LOAD_ERROR,
  PROP_SAVE_ERROR,
  PROP_WRITE_BLOCKED,
  PROP_BACKUP_FILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
get_item_type (GListModel *model)
{
  return LANLAN_TYPE_CHARACTER;
}

static guint
get_n_items (GListModel *model)
{
  return g_list_model_get_n_items (G_LIST_MODEL (LANLAN_CHARACTER_STORE (model)->characters));
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  return g_list_model_get_item (G_LIST_MODEL (LANLAN_CHARACTER_STORE (model)->characters), position);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
on_items_changed (GListModel           *model,
                  guint                 position,
                  guint                 removed,
                  guint                 added,
                  LanlanCharacterStore *self)
{
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

static gboolean
save_timeout_cb (gpointer user_data)
{
  LanlanCharacterStore *self = user_data;
  g_autoptr(GError) error = NULL;

  self->save_source = 0;
  /* A failure is kept in "save-error" for the UI; the next change retries. */
  if (!lanlan_character_store_save (self, &error))
    g_debug ("Could not save characters: %s", error->message);

  return G_SOURCE_REMOVE;
}

static void
queue_save (LanlanCharacterStore *self)
{
  if (self->loading || self->save_source != 0)
    return;

  self->save_source = g_timeout_add (SAVE_DELAY_MS, save_timeout_cb, self);
}

static void
on_character_notify (LanlanCharacter      *character,
                     GParamSpec           *pspec,
                     LanlanCharacterStore *self)
{
  queue_save (self);
}

static void
lanlan_character_store_dispose (GObject *object)
{
  LanlanCharacterStore *self = (LanlanCharacterStore *)object;

  if (self->save_source != 0)
    {
      g_autoptr(GError) error = NULL;

      g_clear_handle_id (&self->save_source, g_source_remove);
      if (!lanlan_character_store_save (self, &error) && !self->write_blocked)
        g_warning ("Could not save characters: %s", error->message);
    }

  if (self->characters != NULL)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->characters));

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->characters), i);
          g_signal_handlers_disconnect_by_data (c, self);
        }
    }

  g_clear_object (&self->characters);
  g_clear_object (&self->file);
  g_clear_object (&self->backup_file);
  g_clear_pointer (&self->load_error, g_free);
  g_clear_pointer (&self->save_error, g_free);
  g_clear_pointer (&self->extra_root, json_object_unref);
  g_clear_pointer (&self->extra, g_hash_table_unref);

  G_OBJECT_CLASS (lanlan_character_store_parent_class)->dispose (object);
}

static void
lanlan_character_store_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  LanlanCharacterStore *self = LANLAN_CHARACTER_STORE (object);

  switch (prop_id)
    {
    case PROP_LOAD_ERROR:
      g_value_set_string (value, self->load_error);
      break;
    case PROP_SAVE_ERROR:
      g_value_set_string (value, self->save_error);
      break;
    case PROP_WRITE_BLOCKED:
      g_value_set_boolean (value, self->write_blocked);
      break;
    case PROP_BACKUP_FILE:
      g_value_set_object (value, self->backup_file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_character_store_class_init (LanlanCharacterStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_character_store_dispose;
  object_class->get_property = lanlan_character_store_get_property;

  properties[PROP_LOAD_ERROR] =
    g_param_spec_string ("load-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanCharacterStore:save-error:
   *
   * Why the last save failed, for a banner that stays until a save
   * succeeds (then %NULL). Changes are kept in memory meanwhile and every
   * change tries again.
   */
  properties[PROP_SAVE_ERROR] =
    g_param_spec_string ("save-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanCharacterStore:write-blocked:
   *
   * The file exists but could not be read, so it is not overwritten:
   * nothing is saved until the user agrees to
   * lanlan_character_store_replace_unreadable().
   */
  properties[PROP_WRITE_BLOCKED] =
    g_param_spec_boolean ("write-blocked", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanCharacterStore:backup-file:
   *
   * Where the old file was kept: a damaged one moved aside, an unreadable
   * one replaced at the user's word, or a newer version's copy.
   */
  properties[PROP_BACKUP_FILE] =
    g_param_spec_object ("backup-file", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_character_store_init (LanlanCharacterStore *self)
{
  self->characters = g_list_store_new (LANLAN_TYPE_CHARACTER);
  self->extra = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) json_object_unref);
  g_signal_connect (self->characters, "items-changed", G_CALLBACK (on_items_changed), self);
}

LanlanCharacterStore *
lanlan_character_store_new (GFile *file)
{
  LanlanCharacterStore *self;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  self = g_object_new (LANLAN_TYPE_CHARACTER_STORE, NULL);
  self->file = g_object_ref (file);
  return self;
}

/**
 * lanlan_character_store_new_default:
 *
 * The store at `$XDG_CONFIG_HOME/lanlan/characters.json`.
 */
LanlanCharacterStore *
lanlan_character_store_new_default (void)
{
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "lanlan", "characters.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);

  return lanlan_character_store_new (file);
}

GFile *
lanlan_character_store_get_file (LanlanCharacterStore *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), NULL);
  return self->file;
}

const char *
lanlan_character_store_get_load_error (LanlanCharacterStore *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), NULL);
  return self->load_error;
}

GFile *
lanlan_character_store_get_backup_file (LanlanCharacterStore *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), NULL);
  return self->backup_file;
}

static void
add_internal (LanlanCharacterStore *self,
              LanlanCharacter      *character)
{
  g_signal_connect_object (character, "notify", G_CALLBACK (on_character_notify), self, 0);
  g_list_store_append (self->characters, character);
}

static LanlanCharacter *
make_default_character (void)
{
  LanlanCharacter *c = lanlan_character_new (_("Lanlan"));

  lanlan_character_set_persona (c, _("You are Lanlan, a warm and curious companion. "
                                     "Answer briefly and naturally, as in a spoken conversation."));
  lanlan_character_set_provider (c, "openai");
  lanlan_character_set_model (c, "gpt-realtime");
  lanlan_character_set_voice (c, "marin");
  return c;
}

/**
 * lanlan_character_store_parse:
 * @contents: the bytes of a characters.json
 * @length: their length
 *
 * Parses a config without touching any store or file.
 *
 * Returns: (transfer full): the characters, or %NULL with @error set.
 */
GPtrArray *
lanlan_character_store_parse (const char  *contents,
                              gsize        length,
                              GError     **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_object_unref);

  if (!parse_characters (contents, length, out, NULL, error))
    return NULL;

  return g_steal_pointer (&out);
}

static gboolean
parse_characters (const char  *contents,
                  gsize        length,
                  GPtrArray   *out,
                  JsonObject **root_out,
                  GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  JsonArray *array;
  JsonNode *node;

  parser = lanlan_json_parse (contents, length, error);
  if (parser == NULL)
    return FALSE;

  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The file does not hold a settings object"));
      return FALSE;
    }

  root = json_node_get_object (node);
  node = json_object_get_member (root, "characters");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The file has no list of characters"));
      return FALSE;
    }

  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      LanlanCharacter *c;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Character %u is not an object"), i + 1);
          return FALSE;
        }

      c = lanlan_character_new_from_json (json_node_get_object (element), error);
      if (c == NULL)
        return FALSE;

      g_ptr_array_add (out, c);
    }

  if (root_out)
    *root_out = json_object_ref (root);
  return TRUE;
}

static GFile *
move_aside (GFile       *file,
            const char  *tag,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *basename = g_file_get_basename (file);
  g_autofree char *backup_name = g_strdup_printf ("%s.%s-%s", basename, tag, stamp);
  g_autoptr(GFile) parent = g_file_get_parent (file);
  g_autoptr(GFile) backup = g_file_get_child (parent, backup_name);

  if (!g_file_move (file, backup, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL, error))
    return NULL;

  return g_steal_pointer (&backup);
}

/* The file a save must replace: @file itself, or the end of its chain of
 * symlinks (so the link stays a link). A dangling link resolves to where
 * it points. */
static GFile *
resolve_target (GFile *file)
{
  g_autoptr(GFile) current = g_object_ref (file);

  for (guint depth = 0; depth < 40; depth++)
    {
      g_autoptr(GFileInfo) info =
        g_file_query_info (current, G_FILE_ATTRIBUTE_STANDARD_IS_SYMLINK ","
                           G_FILE_ATTRIBUTE_STANDARD_SYMLINK_TARGET,
                           G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
      g_autoptr(GFile) parent = NULL;
      const char *target;

      if (info == NULL || !g_file_info_get_is_symlink (info))
        return g_steal_pointer (&current);
      target = g_file_info_get_symlink_target (info);
      if (target == NULL)
        return g_steal_pointer (&current);
      parent = g_file_get_parent (current);
      g_set_object (&current, g_file_resolve_relative_path (parent, target));
      g_object_unref (current);   /* g_set_object took its own ref */
    }
  return g_steal_pointer (&current);
}

#define TEMP_INFIX ".tmp-"

/* Is @suffix six characters of mkstemp's alphabet? */
static gboolean
is_mkstemp_suffix (const char *suffix,
                   gboolean    strict)
{
  gboolean upper = FALSE, lower = FALSE, digit = FALSE;

  if (strlen (suffix) != 6)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    {
      if (!g_ascii_isalnum (suffix[i]))
        return FALSE;
      upper |= g_ascii_isupper (suffix[i]);
      lower |= g_ascii_islower (suffix[i]);
      digit |= g_ascii_isdigit (suffix[i]);
    }
  return !strict || (upper && lower && digit);
}

/* Our own temporary files are "@base.tmp-XXXXXX", which nothing else is
 * called. Older builds used g_file_set_contents(): "@base.XXXXXX", which
 * a name a person chose (".backup", ".202401", ".Backup") could also
 * match, so those count only with upper case, lower case and a digit. */
static gboolean
is_temp_name (const char *name,
              const char *base)
{
  gsize base_len = strlen (base);
  const char *suffix;

  if (strncmp (name, base, base_len) != 0 || name[base_len] != '.')
    return FALSE;
  suffix = name + base_len;
  if (g_str_has_prefix (suffix, TEMP_INFIX))
    return is_mkstemp_suffix (suffix + strlen (TEMP_INFIX), FALSE);
  return is_mkstemp_suffix (suffix + 1, TRUE);
}

/* Atomic replace: a temporary file beside @path (mode 0600, the persona
 * is private), written, fsynced, renamed over @path. */
static gboolean
write_atomically (const char  *path,
                  const char  *data,
                  gsize        length,
                  GError     **error)
{
  g_autofree char *tmp = g_strconcat (path, TEMP_INFIX "XXXXXX", NULL);
  gsize done = 0;
  int fd, saved;

  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not create a file in the folder of %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  while (done < length)
    {
      gssize n = write (fd, data + done, length - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        goto failed;
      done += n;
    }
  if (fsync (fd) != 0)
    goto failed;
  if (close (fd) != 0)
    {
      fd = -1;
      goto failed;
    }
  fd = -1;
  if (g_rename (tmp, path) != 0)
    goto failed;
  return TRUE;

failed:
  saved = errno ? errno : EIO;
  if (fd >= 0)
    close (fd);
  g_unlink (tmp);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               _("Could not write %s: %s"), path, g_strerror (saved));
  return FALSE;
}

#define STALE_TEMP_AGE_S 10

/* Temporary files of a save that was killed half-way. Only regular
 * files matching the pattern and older than a few seconds (another
 * instance may be saving right now). */
static void
remove_stale_temps (GFile *target)
{
  g_autoptr(GFile) parent = g_file_get_parent (target);
  g_autofree char *base = g_file_get_basename (target);
  g_autoptr(GFileEnumerator) children = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  children = g_file_enumerate_children (parent,
                                        G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  if (children == NULL)
    return;
  for (;;)
    {
      GFileInfo *info = NULL;
      GFile *child = NULL;

      if (!g_file_enumerator_iterate (children, &info, &child, NULL, NULL) || info == NULL)
        break;
      if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR ||
          !is_temp_name (g_file_info_get_name (info), base))
        continue;
      if (now - (gint64) g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED)
          < STALE_TEMP_AGE_S)
        continue;
      g_debug ("Removing a stale temporary file %s", g_file_info_get_name (info));
      g_file_delete (child, NULL, NULL);
    }
}

static void
set_save_error (LanlanCharacterStore *self,
                const char           *message)
{
  if (g_strcmp0 (self->save_error, message) == 0)
    return;
  g_free (self->save_error);
  self->save_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAVE_ERROR]);
}

static void
set_write_blocked (LanlanCharacterStore *self,
                   gboolean              blocked)
{
  if (self->write_blocked == blocked)
    return;
  self->write_blocked = blocked;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITE_BLOCKED]);
}

static void
set_backup_file (LanlanCharacterStore *self,
                 GFile                *backup)
{
  if (g_set_object (&self->backup_file, backup))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKUP_FILE]);
}

/* Remembers the members of each character and of the top level that
 * this version does not write, to write them back unchanged. */
static void
keep_unknown_members (LanlanCharacterStore *self,
                      JsonObject           *root,
                      GPtrArray            *loaded)
{
  JsonArray *array = json_object_get_array_member (root, "characters");

  g_clear_pointer (&self->extra_root, json_object_unref);
  g_hash_table_remove_all (self->extra);

  self->extra_root = json_object_new ();
  {
    g_autoptr(GList) names = json_object_get_members (root);
    for (GList *l = names; l; l = l->next)
      if (!g_str_equal (l->data, "version") && !g_str_equal (l->data, "characters"))
        json_object_set_member (self->extra_root, l->data,
                                json_node_copy (json_object_get_member (root, l->data)));
  }

  for (guint i = 0; i < loaded->len && i < json_array_get_length (array); i++)
    {
      LanlanCharacter *c = loaded->pdata[i];
      JsonObject *original = json_array_get_object_element (array, i);
      g_autoptr(JsonNode) known = lanlan_character_to_json (c);
      JsonObject *known_object = json_node_get_object (known);
      g_autoptr(GList) names = json_object_get_members (original);
      g_autoptr(JsonObject) unknown = json_object_new ();

      for (GList *l = names; l; l = l->next)
        if (!json_object_has_member (known_object, l->data))
          json_object_set_member (unknown, l->data,
                                  json_node_copy (json_object_get_member (original, l->data)));
      if (json_object_get_size (unknown) > 0)
        g_hash_table_replace (self->extra, g_strdup (lanlan_character_get_id (c)),
                              g_steal_pointer (&unknown));
    }
}

static gint64
file_version (JsonObject *root)
{
  JsonNode *node = json_object_get_member (root, "version");

  if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  return CONFIG_VERSION;
}

/**
 * lanlan_character_store_load:
 *
 * Loads the characters. A missing file gives the default character. A file
 * that cannot be parsed is moved to a backup next to it, the store falls
 * back to the default character, and the reason is returned as @error and
 * kept in #LanlanCharacterStore:load-error. A file that exists but cannot
 * be read is left where it is and "write-blocked" is set: nothing is saved
 * over it until lanlan_character_store_replace_unreadable(). The store is
 * usable in every case.
 */
gboolean
lanlan_character_store_load (LanlanCharacterStore  *self,
                             GError               **error)
{
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(GFile) target = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  gboolean ok = TRUE;
  gboolean blocked = FALSE;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  g_clear_pointer (&self->load_error, g_free);
  set_backup_file (self, NULL);
  g_clear_pointer (&self->extra_root, json_object_unref);
  g_hash_table_remove_all (self->extra);
  self->file_version = CONFIG_VERSION;
  self->newer_backed_up = FALSE;

  target = resolve_target (self->file);
  remove_stale_temps (target);

  if (!g_file_load_contents (self->file, NULL, &contents, &length, NULL, &local_error))
    {
      /* ENOTDIR: a folder on the way is a file, so there is no config
       * (and saving will say why it cannot make one). */
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
          !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY))
        {
          g_autofree char *path = g_file_get_path (self->file);

          self->load_error = g_strdup_printf (_("Could not read the character settings in %s (%s). "
                                                "The file is left untouched and changes are not "
                                                "saved until you choose to replace it."),
                                              path, local_error->message);
          blocked = TRUE;
          ok = FALSE;
        }
      g_clear_error (&local_error);
    }
  else if (!parse_characters (contents, length, loaded, &root, &local_error))
    {
      g_autoptr(GError) move_error = NULL;
      g_autoptr(GFile) backup = NULL;
      g_autofree char *path = g_file_get_path (self->file);

      g_ptr_array_set_size (loaded, 0);
      backup = move_aside (self->file, "corrupt", &move_error);
      if (backup != NULL)
        {
          g_autofree char *backup_path = g_file_get_path (backup);
          set_backup_file (self, backup);
          self->load_error = g_strdup_printf (_("The character settings in %s are damaged (%s). "
                                                "They were kept as %s and defaults are used."),
                                              path, local_error->message, backup_path);
        }
      else
        {
          self->load_error = g_strdup_printf (_("The character settings in %s are damaged (%s) "
                                                "and could not be backed up (%s)."),
                                              path, local_error->message, move_error->message);
          blocked = TRUE;
        }
      ok = FALSE;
    }
  else
    {
      keep_unknown_members (self, root, loaded);
      self->file_version = file_version (root);
      if (self->file_version > CONFIG_VERSION)
        {
          g_autofree char *path = g_file_get_path (self->file);
          g_autofree char *backup_path = g_strdup_printf ("%s.v%" G_GINT64_FORMAT "-backup",
                                                          path, self->file_version);

          self->load_error = g_strdup_printf (_("The character settings in %s were written by a "
                                                "newer version of Lanlan. Settings this version "
                                                "does not know are kept; before the file is first "
                                                "saved, it is copied to %s."),
                                              path, backup_path);
        }
    }

  self->loading = TRUE;
  g_list_store_remove_all (self->characters);
  if (loaded->len == 0)
    {
      g_autoptr(LanlanCharacter) c = make_default_character ();
      add_internal (self, c);
    }
  else
    {
      for (guint i = 0; i < loaded->len; i++)
        add_internal (self, g_ptr_array_index (loaded, i));
    }
  self->loading = FALSE;

  set_write_blocked (self, blocked);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_ERROR]);

  if (!ok)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, self->load_error);
      return FALSE;
    }

  return TRUE;
}

/* Before a newer version's file is rewritten in our older format, a copy:
 * characters.json.vN-backup (-2, -3… when taken). */
static gboolean
back_up_newer (LanlanCharacterStore  *self,
               GFile                 *target,
               GError               **error)
{
  g_autofree char *path = g_file_get_path (self->file);
  g_autoptr(GError) local_error = NULL;

  if (self->file_version <= CONFIG_VERSION || self->newer_backed_up)
    return TRUE;
  if (!g_file_query_exists (target, NULL))
    {
      self->newer_backed_up = TRUE;
      return TRUE;
    }

  for (guint n = 1; n < 100; n++)
    {
      g_autofree char *name = n == 1
        ? g_strdup_printf ("%s.v%" G_GINT64_FORMAT "-backup", path, self->file_version)
        : g_strdup_printf ("%s.v%" G_GINT64_FORMAT "-backup-%u", path, self->file_version, n);
      g_autoptr(GFile) backup = g_file_new_for_path (name);

      g_clear_error (&local_error);
      if (g_file_copy (target, backup, G_FILE_COPY_NONE, NULL, NULL, NULL, &local_error))
        {
          self->newer_backed_up = TRUE;
          set_backup_file (self, backup);
          return TRUE;
        }
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        break;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               _("The character settings were written by a newer version of Lanlan and could "
                 "not be backed up before saving (%s), so they were not saved."),
               local_error ? local_error->message : "?");
  return FALSE;
}

static char *
serialize (LanlanCharacterStore *self,
           gsize                *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonObject *root_object;
  guint n;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, CONFIG_VERSION);
  json_builder_set_member_name (builder, "characters");
  json_builder_begin_array (builder);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->characters));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->characters), i);
      JsonNode *node = lanlan_character_to_json (c);
      JsonObject *unknown = g_hash_table_lookup (self->extra, lanlan_character_get_id (c));

      if (unknown)
        {
          JsonObject *object = json_node_get_object (node);
          g_autoptr(GList) names = json_object_get_members (unknown);

          for (GList *l = names; l; l = l->next)
            if (!json_object_has_member (object, l->data))
              json_object_set_member (object, l->data,
                                      json_node_copy (json_object_get_member (unknown, l->data)));
        }
      json_builder_add_value (builder, node);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  root_object = json_node_get_object (root);
  if (self->extra_root)
    {
      g_autoptr(GList) names = json_object_get_members (self->extra_root);

      for (GList *l = names; l; l = l->next)
        json_object_set_member (root_object, l->data,
                                json_node_copy (json_object_get_member (self->extra_root, l->data)));
    }
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, length);
}

/**
 * lanlan_character_store_save:
 *
 * Writes the characters now. On failure the reason is also kept in
 * #LanlanCharacterStore:save-error until a save succeeds.
 */
gboolean
lanlan_character_store_save (LanlanCharacterStore  *self,
                             GError               **error)
{
  g_autoptr(GFile) target = NULL;
  g_autoptr(GFile) parent = NULL;
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  g_clear_handle_id (&self->save_source, g_source_remove);

  if (self->write_blocked)
    {
      g_set_error_literal (&local_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           _("Changes to the characters are not saved: the settings file "
                             "could not be read and is kept as it is."));
      goto failed;
    }

  data = serialize (self, &length);
  target = resolve_target (self->file);

  parent = g_file_get_parent (target);
  if (!g_file_make_directory_with_parents (parent, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        goto failed;
      g_clear_error (&local_error);
    }

  if (!back_up_newer (self, target, &local_error))
    goto failed;

  path = g_file_get_path (target);
  if (!write_atomically (path, data, length, &local_error))
    goto failed;

  self->file_version = CONFIG_VERSION;
  set_save_error (self, NULL);
  return TRUE;

failed:
  {
    g_autofree char *message = g_strdup_printf (_("The characters could not be saved: %s"),
                                                local_error->message);
    set_save_error (self, message);
  }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * lanlan_character_store_replace_unreadable:
 *
 * The user agreed to replace a settings file that could not be read
 * (#LanlanCharacterStore:write-blocked): it is moved aside
 * (characters.json.unreadable-YYYYmmdd-HHMMSS, see "backup-file"), never
 * deleted, and the current characters are saved in its place.
 */
gboolean
lanlan_character_store_replace_unreadable (LanlanCharacterStore  *self,
                                           GError               **error)
{
  g_autoptr(GFile) backup = NULL;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  if (self->write_blocked)
    {
      g_autoptr(GError) local_error = NULL;

      backup = move_aside (self->file, "unreadable", &local_error);
      if (backup == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("The unreadable settings file could not be moved aside: %s"),
                       local_error->message);
          return FALSE;
        }
      set_backup_file (self, backup);
      set_write_blocked (self, FALSE);
      g_clear_pointer (&self->load_error, g_free);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_ERROR]);
    }
  return lanlan_character_store_save (self, error);
}

const char *
lanlan_character_store_get_save_error (LanlanCharacterStore *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), NULL);
  return self->save_error;
}

gboolean
lanlan_character_store_get_write_blocked (LanlanCharacterStore *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);
  return self->write_blocked;
}

void
lanlan_character_store_add (LanlanCharacterStore *self,
                            LanlanCharacter      *character)
{
  g_return_if_fail (LANLAN_IS_CHARACTER_STORE (self));
  g_return_if_fail (LANLAN_IS_CHARACTER (character));

  add_internal (self, character);
  queue_save (self);
}

gboolean
lanlan_character_store_remove (LanlanCharacterStore *self,
                               LanlanCharacter      *character)
{
  guint position;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  if (!g_list_store_find (self->characters, character, &position))
    return FALSE;

  g_signal_handlers_disconnect_by_data (character, self);
  g_list_store_remove (self->characters, position);
  queue_save (self);
  return TRUE;
}

LanlanCharacter *
lanlan_character_store_lookup (LanlanCharacterStore *self,
                               const char           *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->characters));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->characters), i);
      if (g_strcmp0 (lanlan_character_get_id (c), id) == 0)
        return c;
    }

  return NULL;
}

LanlanCharacter *
lanlan_character_store_lookup_by_name (LanlanCharacterStore *self,
                                       const char           *name)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->characters));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->characters), i);
      if (g_strcmp0 (lanlan_character_get_name (c), name) == 0)
        return c;
    }

  return NULL;
}
