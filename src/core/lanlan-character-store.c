/* lanlan-character-store.c — the list of characters, saved as JSON
 *
 * The store is a GListModel of LanlanCharacter. It is written with
 * g_file_set_contents(), which writes a temporary file and renames it
 * over the old one, so a crash never leaves a half-written config.
 * A config that cannot be parsed is moved aside to a timestamped
 * backup (never deleted) and the reason is kept for the UI to show.
 * Characters are saved automatically, debounced, whenever they change.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

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
};

static void list_model_iface_init (GListModelInterface *iface);

static gboolean parse_characters (const char  *contents,
                                  gsize        length,
                                  GPtrArray   *out,
                                  GError     **error);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanCharacterStore, lanlan_character_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_LOAD_ERROR,
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
  if (!lanlan_character_store_save (self, &error))
    g_warning ("Could not save characters: %s", error->message);

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
      if (!lanlan_character_store_save (self, &error))
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

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_character_store_init (LanlanCharacterStore *self)
{
  self->characters = g_list_store_new (LANLAN_TYPE_CHARACTER);
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

  if (!parse_characters (contents, length, out, error))
    return NULL;

  return g_steal_pointer (&out);
}

static gboolean
parse_characters (const char  *contents,
                  gsize        length,
                  GPtrArray   *out,
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

  return TRUE;
}

static GFile *
move_aside (GFile   *file,
            GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *basename = g_file_get_basename (file);
  g_autofree char *backup_name = g_strdup_printf ("%s.corrupt-%s", basename, stamp);
  g_autoptr(GFile) parent = g_file_get_parent (file);
  g_autoptr(GFile) backup = g_file_get_child (parent, backup_name);

  if (!g_file_move (file, backup, G_FILE_COPY_NONE, NULL, NULL, NULL, error))
    return NULL;

  return g_steal_pointer (&backup);
}

/**
 * lanlan_character_store_load:
 *
 * Loads the characters. A missing file gives the default character. A file
 * that cannot be read as a config is moved to a backup next to it, the
 * store falls back to the default character, and the reason is returned as
 * @error and kept in #LanlanCharacterStore:load-error. The store is usable
 * in every case.
 */
gboolean
lanlan_character_store_load (LanlanCharacterStore  *self,
                             GError               **error)
{
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  g_clear_pointer (&self->load_error, g_free);
  g_clear_object (&self->backup_file);

  if (!g_file_load_contents (self->file, NULL, &contents, &length, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          self->load_error = g_strdup_printf (_("Could not read the character settings: %s"),
                                              local_error->message);
          ok = FALSE;
        }
      g_clear_error (&local_error);
    }
  else if (!parse_characters (contents, length, loaded, &local_error))
    {
      g_autoptr(GError) move_error = NULL;
      g_autofree char *path = g_file_get_path (self->file);

      g_ptr_array_set_size (loaded, 0);
      self->backup_file = move_aside (self->file, &move_error);
      if (self->backup_file != NULL)
        {
          g_autofree char *backup_path = g_file_get_path (self->backup_file);
          self->load_error = g_strdup_printf (_("The character settings in %s are damaged (%s). "
                                                "They were kept as %s and defaults are used."),
                                              path, local_error->message, backup_path);
        }
      else
        self->load_error = g_strdup_printf (_("The character settings in %s are damaged (%s) "
                                              "and could not be backed up (%s)."),
                                            path, local_error->message, move_error->message);
      ok = FALSE;
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

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOAD_ERROR]);

  if (!ok)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, self->load_error);
      return FALSE;
    }

  return TRUE;
}

gboolean
lanlan_character_store_save (LanlanCharacterStore  *self,
                             GError               **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GFile) parent = NULL;
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) mkdir_error = NULL;
  gsize length;
  guint n;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (self), FALSE);

  g_clear_handle_id (&self->save_source, g_source_remove);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, CONFIG_VERSION);
  json_builder_set_member_name (builder, "characters");
  json_builder_begin_array (builder);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->characters));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->characters), i);
      json_builder_add_value (builder, lanlan_character_to_json (c));
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  data = json_generator_to_data (generator, &length);

  parent = g_file_get_parent (self->file);
  if (!g_file_make_directory_with_parents (parent, NULL, &mkdir_error) &&
      !g_error_matches (mkdir_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&mkdir_error));
      return FALSE;
    }

  path = g_file_get_path (self->file);
  /* Atomic: temp file + fsync + rename. Mode 0600, the persona is private. */
  return g_file_set_contents_full (path, data, length,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
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
