/* lanlan-character.c — one AI character's settings
 *
 * A character is plain data: name, persona (system prompt), language,
 * voice, provider, model and input mode, plus what a character card
 * brings: greetings (the first one a new conversation starts with is
 * chosen by greeting-index), a lorebook, and a picture. Every change that
 * a session sends to the model bumps a serial so a running session can
 * tell that its settings are stale and hot swap.
 *
 * The picture (a PNG) does not live in characters.json but in
 * $XDG_DATA_HOME/lanlan/avatars/<id>.png: it is read when first asked for,
 * and written by lanlan_character_save_avatar() after a change.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "lanlan-character.h"

struct _LanlanCharacter
{
  GObject          parent_instance;

  char            *id;
  char            *name;
  char            *persona;
  char            *language;
  char            *voice;
  char            *provider;
  char            *model;
  char            *base_url;
  LanlanInputMode  input_mode;
  gboolean         open_on_start;
  guint64          serial;

  char           **greetings;
  guint            greeting_index;
  LanlanLorebook  *lorebook;

  GBytes          *avatar;
  gboolean         avatar_loaded;
  gboolean         avatar_dirty;
};

G_DEFINE_FINAL_TYPE (LanlanCharacter, lanlan_character, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_PERSONA,
  PROP_LANGUAGE,
  PROP_VOICE,
  PROP_PROVIDER,
  PROP_MODEL,
  PROP_BASE_URL,
  PROP_INPUT_MODE,
  PROP_OPEN_ON_START,
  PROP_SERIAL,
  PROP_GREETINGS,
  PROP_GREETING_INDEX,
  PROP_LOREBOOK,
  PROP_AVATAR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GType
lanlan_input_mode_get_type (void)
{
  static gsize type_id;

  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { LANLAN_INPUT_MODE_AUDIO, "LANLAN_INPUT_MODE_AUDIO", "audio" },
        { LANLAN_INPUT_MODE_TEXT, "LANLAN_INPUT_MODE_TEXT", "text" },
        { 0, NULL, NULL },
      };
      GType type = g_enum_register_static ("LanlanInputMode", values);
      g_once_init_leave (&type_id, type);
    }

  return type_id;
}

static gboolean
set_string (LanlanCharacter  *self,
            char            **field,
            const char       *value,
            guint             prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;

  g_free (*field);
  *field = g_strdup (value ? value : "");
  self->serial++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERIAL]);
  return TRUE;
}

static char **
field_for_prop (LanlanCharacter *self,
                guint            prop)
{
  switch (prop)
    {
    case PROP_ID: return &self->id;
    case PROP_NAME: return &self->name;
    case PROP_PERSONA: return &self->persona;
    case PROP_LANGUAGE: return &self->language;
    case PROP_VOICE: return &self->voice;
    case PROP_PROVIDER: return &self->provider;
    case PROP_MODEL: return &self->model;
    case PROP_BASE_URL: return &self->base_url;
    default: return NULL;
    }
}

static void
lanlan_character_finalize (GObject *object)
{
  LanlanCharacter *self = (LanlanCharacter *)object;

  for (guint p = PROP_ID; p <= PROP_BASE_URL; p++)
    g_free (*field_for_prop (self, p));
  g_strfreev (self->greetings);
  g_clear_object (&self->lorebook);
  g_clear_pointer (&self->avatar, g_bytes_unref);

  G_OBJECT_CLASS (lanlan_character_parent_class)->finalize (object);
}

static void
lanlan_character_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  LanlanCharacter *self = LANLAN_CHARACTER (object);
  char **field = field_for_prop (self, prop_id);

  if (field != NULL)
    {
      g_value_set_string (value, *field);
      return;
    }

  switch (prop_id)
    {
    case PROP_INPUT_MODE:
      g_value_set_enum (value, self->input_mode);
      break;
    case PROP_OPEN_ON_START:
      g_value_set_boolean (value, self->open_on_start);
      break;
    case PROP_SERIAL:
      g_value_set_uint64 (value, self->serial);
      break;
    case PROP_GREETINGS:
      g_value_set_boxed (value, self->greetings);
      break;
    case PROP_GREETING_INDEX:
      g_value_set_uint (value, self->greeting_index);
      break;
    case PROP_LOREBOOK:
      g_value_set_object (value, self->lorebook);
      break;
    case PROP_AVATAR:
      g_value_set_boxed (value, lanlan_character_get_avatar (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_character_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  LanlanCharacter *self = LANLAN_CHARACTER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_free (self->id);
      self->id = g_value_dup_string (value);
      if (self->id == NULL || *self->id == '\0')
        {
          g_free (self->id);
          self->id = g_uuid_string_random ();
        }
      break;
    case PROP_INPUT_MODE:
      lanlan_character_set_input_mode (self, g_value_get_enum (value));
      break;
    case PROP_OPEN_ON_START:
      lanlan_character_set_open_on_start (self, g_value_get_boolean (value));
      break;
    case PROP_GREETINGS:
      lanlan_character_set_greetings (self, g_value_get_boxed (value));
      break;
    case PROP_GREETING_INDEX:
      lanlan_character_set_greeting_index (self, g_value_get_uint (value));
      break;
    case PROP_LOREBOOK:
      lanlan_character_set_lorebook (self, g_value_get_object (value));
      break;
    case PROP_AVATAR:
      lanlan_character_set_avatar (self, g_value_get_boxed (value));
      break;
    default:
      {
        char **field = field_for_prop (self, prop_id);
        if (field != NULL)
          set_string (self, field, g_value_get_string (value), prop_id);
        else
          G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      }
    }
}

static void
lanlan_character_class_init (LanlanCharacterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = lanlan_character_finalize;
  object_class->get_property = lanlan_character_get_property;
  object_class->set_property = lanlan_character_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, "", flags);
  properties[PROP_PERSONA] = g_param_spec_string ("persona", NULL, NULL, "", flags);
  properties[PROP_LANGUAGE] = g_param_spec_string ("language", NULL, NULL, "", flags);
  properties[PROP_VOICE] = g_param_spec_string ("voice", NULL, NULL, "", flags);
  properties[PROP_PROVIDER] = g_param_spec_string ("provider", NULL, NULL, "", flags);
  properties[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, "", flags);
  properties[PROP_BASE_URL] = g_param_spec_string ("base-url", NULL, NULL, "", flags);
  properties[PROP_INPUT_MODE] =
    g_param_spec_enum ("input-mode", NULL, NULL, LANLAN_TYPE_INPUT_MODE,
                       LANLAN_INPUT_MODE_AUDIO, flags);
  properties[PROP_OPEN_ON_START] =
    g_param_spec_boolean ("open-on-start", NULL, NULL, TRUE, flags);
  properties[PROP_SERIAL] =
    g_param_spec_uint64 ("serial", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_GREETINGS] =
    g_param_spec_boxed ("greetings", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_GREETING_INDEX] =
    g_param_spec_uint ("greeting-index", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_LOREBOOK] =
    g_param_spec_object ("lorebook", NULL, NULL, LANLAN_TYPE_LOREBOOK, flags);
  /**
   * LanlanCharacter:avatar:
   *
   * The character's picture as PNG data, or %NULL for none. Read it and
   * change it on the main thread only.
   */
  properties[PROP_AVATAR] =
    g_param_spec_boxed ("avatar", NULL, NULL, G_TYPE_BYTES, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_character_init (LanlanCharacter *self)
{
  self->name = g_strdup ("");
  self->persona = g_strdup ("");
  self->language = g_strdup ("");
  self->voice = g_strdup ("");
  self->provider = g_strdup ("openai");
  self->model = g_strdup ("");
  self->base_url = g_strdup ("");
  self->input_mode = LANLAN_INPUT_MODE_AUDIO;
  self->open_on_start = TRUE;
  self->greetings = g_new0 (char *, 1);
}

LanlanCharacter *
lanlan_character_new (const char *name)
{
  return g_object_new (LANLAN_TYPE_CHARACTER,
                       "id", NULL,
                       "name", name,
                       NULL);
}

LanlanCharacter *
lanlan_character_dup (LanlanCharacter *self)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  LanlanCharacter *copy;

  node = lanlan_character_to_json (self);
  copy = lanlan_character_new_from_json (json_node_get_object (node), NULL);
  if (copy != NULL && self->avatar_loaded)
    {
      copy->avatar = self->avatar ? g_bytes_ref (self->avatar) : NULL;
      copy->avatar_loaded = TRUE;
      copy->avatar_dirty = self->avatar_dirty;
    }
  return copy;
}

static const char *
member_string (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

/**
 * lanlan_character_new_from_json:
 * @object: a JSON object as written by lanlan_character_to_json()
 *
 * Members of the wrong type are an error; unknown members are ignored so
 * a newer config can be read by an older build.
 */
LanlanCharacter *
lanlan_character_new_from_json (JsonObject  *object,
                                GError     **error)
{
  static const char * const string_members[] = {
    "name", "persona", "language", "voice", "provider", "model", "base-url",
  };
  g_autoptr(LanlanCharacter) self = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;
  const char *mode;
  JsonNode *node;

  g_return_val_if_fail (object != NULL, NULL);

  name = member_string (object, "name");
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("A character has no name"));
      return NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (string_members); i++)
    {
      JsonNode *node = json_object_get_member (object, string_members[i]);

      if (node != NULL && !JSON_NODE_HOLDS_NULL (node) &&
          member_string (object, string_members[i]) == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Character “%s”: “%s” must be text"),
                       name, string_members[i]);
          return NULL;
        }
    }

  self = g_object_new (LANLAN_TYPE_CHARACTER, "id", member_string (object, "id"), NULL);

  for (guint i = 0; i < G_N_ELEMENTS (string_members); i++)
    {
      const char *value = member_string (object, string_members[i]);
      if (value != NULL)
        g_object_set (self, string_members[i], value, NULL);
    }

  mode = member_string (object, "input-mode");
  if (g_strcmp0 (mode, "text") == 0)
    self->input_mode = LANLAN_INPUT_MODE_TEXT;
  else if (mode == NULL || g_strcmp0 (mode, "audio") == 0)
    self->input_mode = LANLAN_INPUT_MODE_AUDIO;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Character “%s”: unknown input mode “%s”"), name, mode);
      return NULL;
    }

  if (json_object_has_member (object, "open-on-start"))
    {
      JsonNode *node = json_object_get_member (object, "open-on-start");
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
        self->open_on_start = json_node_get_boolean (node);
    }

  node = json_object_get_member (object, "greetings");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

      for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              array = NULL;
              break;
            }
          g_strv_builder_add (builder, json_node_get_string (item));
        }

      if (array == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Character “%s”: “%s” must be a list of texts"), name, "greetings");
          return NULL;
        }
      g_strfreev (self->greetings);
      self->greetings = g_strv_builder_end (builder);
    }

  node = json_object_get_member (object, "greeting-index");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64 &&
      json_node_get_int (node) >= 0 &&
      json_node_get_int (node) < g_strv_length (self->greetings))
    self->greeting_index = json_node_get_int (node);

  node = json_object_get_member (object, "lorebook");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Character “%s”: the lorebook must be an object"), name);
          return NULL;
        }
      self->lorebook = lanlan_lorebook_new_from_json (json_node_get_object (node), &local_error);
      if (self->lorebook == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Character “%s”: %s"), name, local_error->message);
          return NULL;
        }
    }

  self->serial = 0;
  return g_steal_pointer (&self);
}

JsonNode *
lanlan_character_to_json (LanlanCharacter *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, self->id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, self->name);
  json_builder_set_member_name (builder, "persona");
  json_builder_add_string_value (builder, self->persona);
  json_builder_set_member_name (builder, "language");
  json_builder_add_string_value (builder, self->language);
  json_builder_set_member_name (builder, "voice");
  json_builder_add_string_value (builder, self->voice);
  json_builder_set_member_name (builder, "provider");
  json_builder_add_string_value (builder, self->provider);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, self->model);
  json_builder_set_member_name (builder, "base-url");
  json_builder_add_string_value (builder, self->base_url);
  json_builder_set_member_name (builder, "input-mode");
  json_builder_add_string_value (builder,
                                 self->input_mode == LANLAN_INPUT_MODE_TEXT ? "text" : "audio");
  json_builder_set_member_name (builder, "open-on-start");
  json_builder_add_boolean_value (builder, self->open_on_start);
  if (self->greetings[0] != NULL)
    {
      json_builder_set_member_name (builder, "greetings");
      json_builder_begin_array (builder);
      for (guint i = 0; self->greetings[i] != NULL; i++)
        json_builder_add_string_value (builder, self->greetings[i]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "greeting-index");
      json_builder_add_int_value (builder, self->greeting_index);
    }
  if (self->lorebook != NULL)
    {
      json_builder_set_member_name (builder, "lorebook");
      json_builder_add_value (builder, lanlan_lorebook_to_json (self->lorebook));
    }
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

#define DEFINE_STRING_ACCESSORS(field, PROP)                                 \
  const char *                                                               \
  lanlan_character_get_##field (LanlanCharacter *self)                       \
  {                                                                          \
    g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);                 \
    return self->field;                                                      \
  }

DEFINE_STRING_ACCESSORS (id, PROP_ID)
DEFINE_STRING_ACCESSORS (name, PROP_NAME)
DEFINE_STRING_ACCESSORS (persona, PROP_PERSONA)
DEFINE_STRING_ACCESSORS (language, PROP_LANGUAGE)
DEFINE_STRING_ACCESSORS (voice, PROP_VOICE)
DEFINE_STRING_ACCESSORS (provider, PROP_PROVIDER)
DEFINE_STRING_ACCESSORS (model, PROP_MODEL)
DEFINE_STRING_ACCESSORS (base_url, PROP_BASE_URL)

#undef DEFINE_STRING_ACCESSORS

void
lanlan_character_set_name (LanlanCharacter *self, const char *name)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->name, name, PROP_NAME);
}

void
lanlan_character_set_persona (LanlanCharacter *self, const char *persona)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->persona, persona, PROP_PERSONA);
}

void
lanlan_character_set_language (LanlanCharacter *self, const char *language)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->language, language, PROP_LANGUAGE);
}

void
lanlan_character_set_voice (LanlanCharacter *self, const char *voice)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->voice, voice, PROP_VOICE);
}

void
lanlan_character_set_provider (LanlanCharacter *self, const char *provider)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->provider, provider, PROP_PROVIDER);
}

void
lanlan_character_set_model (LanlanCharacter *self, const char *model)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->model, model, PROP_MODEL);
}

void
lanlan_character_set_base_url (LanlanCharacter *self, const char *base_url)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  set_string (self, &self->base_url, base_url, PROP_BASE_URL);
}

LanlanInputMode
lanlan_character_get_input_mode (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), LANLAN_INPUT_MODE_AUDIO);
  return self->input_mode;
}

void
lanlan_character_set_input_mode (LanlanCharacter *self,
                                 LanlanInputMode  mode)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));

  if (self->input_mode == mode)
    return;

  self->input_mode = mode;
  self->serial++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INPUT_MODE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERIAL]);
}

gboolean
lanlan_character_get_open_on_start (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), FALSE);
  return self->open_on_start;
}

void
lanlan_character_set_open_on_start (LanlanCharacter *self,
                                    gboolean         open)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));

  open = !!open;
  if (self->open_on_start == open)
    return;

  self->open_on_start = open;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPEN_ON_START]);
}

guint64
lanlan_character_get_serial (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), 0);
  return self->serial;
}

const char * const *
lanlan_character_get_greetings (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);
  return (const char * const *) self->greetings;
}

/* Greetings are not sent to the model as settings, so they bump no serial. */
void
lanlan_character_set_greetings (LanlanCharacter    *self,
                                const char * const *greetings)
{
  static const char * const none[] = { NULL };

  g_return_if_fail (LANLAN_IS_CHARACTER (self));

  if (greetings == NULL)
    greetings = none;
  if (g_strv_equal ((const char * const *) self->greetings, greetings))
    return;

  g_strfreev (self->greetings);
  self->greetings = g_strdupv ((char **) greetings);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GREETINGS]);

  if (self->greeting_index >= g_strv_length (self->greetings))
    {
      self->greeting_index = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GREETING_INDEX]);
    }
}

guint
lanlan_character_get_greeting_index (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), 0);
  return self->greeting_index;
}

void
lanlan_character_set_greeting_index (LanlanCharacter *self,
                                     guint            index)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));

  if (index >= g_strv_length (self->greetings))
    index = 0;
  if (self->greeting_index == index)
    return;

  self->greeting_index = index;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GREETING_INDEX]);
}

/**
 * lanlan_character_get_greeting:
 *
 * Returns: (nullable): the message a new conversation with this character
 *   starts with, or %NULL when the character has no greeting.
 */
const char *
lanlan_character_get_greeting (LanlanCharacter *self)
{
  const char *greeting;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  if (self->greetings[0] == NULL)
    return NULL;
  greeting = self->greetings[MIN (self->greeting_index, g_strv_length (self->greetings) - 1)];
  return *greeting != '\0' ? greeting : NULL;
}

LanlanLorebook *
lanlan_character_get_lorebook (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);
  return self->lorebook;
}

void
lanlan_character_set_lorebook (LanlanCharacter *self,
                               LanlanLorebook  *lorebook)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));
  g_return_if_fail (lorebook == NULL || LANLAN_IS_LOREBOOK (lorebook));

  if (!g_set_object (&self->lorebook, lorebook))
    return;

  self->serial++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOREBOOK]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERIAL]);
}

/**
 * lanlan_character_compose_instructions:
 * @recent: (array length=n_recent) (nullable): the latest message texts,
 *   oldest first
 *
 * The system instructions for the next turn: the persona, with the
 * lorebook entries that @recent activates before and after it.
 *
 * Returns: (transfer full): the instructions
 */
char *
lanlan_character_compose_instructions (LanlanCharacter    *self,
                                       const char * const *recent,
                                       gsize               n_recent)
{
  g_autoptr(GArray) matched = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  GString *out;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  if (self->lorebook == NULL)
    return g_strdup (self->persona);

  matched = lanlan_lorebook_match (self->lorebook, recent, recent ? n_recent : 0);
  before = lanlan_lorebook_render (self->lorebook, matched, LANLAN_LOREBOOK_BEFORE_CHAR);
  after = lanlan_lorebook_render (self->lorebook, matched, LANLAN_LOREBOOK_AFTER_CHAR);

  out = g_string_new (before);
  if (out->len > 0 && *self->persona != '\0')
    g_string_append (out, "\n\n");
  g_string_append (out, self->persona);
  if (out->len > 0 && *after != '\0')
    g_string_append (out, "\n\n");
  g_string_append (out, after);
  return g_string_free (out, FALSE);
}

/**
 * lanlan_character_dup_avatar_file:
 *
 * Returns: (transfer full): where this character's picture is kept:
 *   $XDG_DATA_HOME/lanlan/avatars/<id>.png
 */
GFile *
lanlan_character_dup_avatar_file (LanlanCharacter *self)
{
  g_autofree char *basename = NULL;
  g_autofree char *path = NULL;
  gboolean plain = TRUE;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  /* Ids come from a file the user may edit: never let one leave the folder. */
  for (const char *p = self->id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      plain = FALSE;

  if (plain && *self->id != '\0' && strlen (self->id) <= 128)
    basename = g_strconcat (self->id, ".png", NULL);
  else
    {
      g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, self->id, -1);
      basename = g_strconcat (hash, ".png", NULL);
    }

  path = g_build_filename (g_get_user_data_dir (), "lanlan", "avatars", basename, NULL);
  return g_file_new_for_path (path);
}

/**
 * lanlan_character_get_avatar:
 *
 * Returns: (transfer none) (nullable): the character's picture (PNG), read
 *   from its file the first time; %NULL when it has none.
 */
GBytes *
lanlan_character_get_avatar (LanlanCharacter *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), NULL);

  if (!self->avatar_loaded)
    {
      g_autoptr(GFile) file = lanlan_character_dup_avatar_file (self);
      g_autoptr(GError) error = NULL;
      g_autofree char *path = g_file_get_path (file);
      char *contents = NULL;
      gsize len = 0;

      self->avatar_loaded = TRUE;
      if (g_file_get_contents (path, &contents, &len, &error))
        self->avatar = g_bytes_new_take (contents, len);
      else if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Could not read the picture of “%s”: %s", self->name, error->message);
    }

  return self->avatar;
}

/**
 * lanlan_character_set_avatar:
 * @png: (nullable): PNG data, or %NULL to remove the picture
 *
 * Changes the picture in memory; lanlan_character_save_avatar() writes it.
 */
void
lanlan_character_set_avatar (LanlanCharacter *self,
                             GBytes          *png)
{
  g_return_if_fail (LANLAN_IS_CHARACTER (self));

  if (self->avatar_loaded &&
      (self->avatar == png || (self->avatar && png && g_bytes_equal (self->avatar, png))))
    return;

  g_clear_pointer (&self->avatar, g_bytes_unref);
  self->avatar = png ? g_bytes_ref (png) : NULL;
  self->avatar_loaded = TRUE;
  self->avatar_dirty = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AVATAR]);
}

/**
 * lanlan_character_save_avatar:
 *
 * Writes the picture to its file (atomically) if it changed since it was
 * read, or removes the file when the picture was removed.
 */
gboolean
lanlan_character_save_avatar (LanlanCharacter  *self,
                              GError          **error)
{
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  gsize len;
  const char *data;

  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), FALSE);

  if (!self->avatar_dirty)
    return TRUE;

  file = lanlan_character_dup_avatar_file (self);
  path = g_file_get_path (file);

  if (self->avatar == NULL)
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          int saved = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       _("Could not remove the picture of “%s”: %s"),
                       self->name, g_strerror (saved));
          return FALSE;
        }
      self->avatar_dirty = FALSE;
      return TRUE;
    }

  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("Could not save the picture of “%s”: %s"), self->name, g_strerror (saved));
      return FALSE;
    }

  data = g_bytes_get_data (self->avatar, &len);
  if (!g_file_set_contents_full (path, data ? data : "", len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      g_prefix_error (error, _("Could not save the picture of “%s”: "), self->name);
      return FALSE;
    }

  self->avatar_dirty = FALSE;
  return TRUE;
}

/**
 * lanlan_character_delete_avatar:
 *
 * Removes the picture's file: for a character being deleted.
 */
gboolean
lanlan_character_delete_avatar (LanlanCharacter  *self,
                                GError          **error)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (self), FALSE);

  lanlan_character_set_avatar (self, NULL);
  self->avatar_dirty = TRUE;
  return lanlan_character_save_avatar (self, error);
}
