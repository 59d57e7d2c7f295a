/* lanlan-message.c — one message of a conversation, with a stable id
 *
 * A message keeps its id (a random UUID made when it is born) for its
 * whole life: in the transcript model, in the database, in what the
 * agent is told. Nothing addresses a message by its position.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-message.h"

struct _LanlanMessage
{
  GObject              parent_instance;

  char                *id;
  LanlanMessageRole    role;
  GString             *text;
  char                *translation;
  char                *heard;
  GBytes              *image;
  gint64               created;
  gint64               ended;
  LanlanMessageStatus  status;
};

G_DEFINE_FINAL_TYPE (LanlanMessage, lanlan_message, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (LanlanMessageRole, lanlan_message_role,
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_ROLE_USER, "user"),
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_ROLE_ASSISTANT, "assistant"),
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_ROLE_SYSTEM, "system"))

G_DEFINE_ENUM_TYPE (LanlanMessageStatus, lanlan_message_status,
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_STATUS_PENDING, "pending"),
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_STATUS_SENT, "sent"),
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_STATUS_FAILED, "failed"),
  G_DEFINE_ENUM_VALUE (LANLAN_MESSAGE_STATUS_INTERRUPTED, "interrupted"))

enum {
  PROP_0,
  PROP_ID,
  PROP_ROLE,
  PROP_TEXT,
  PROP_TRANSLATION,
  PROP_HEARD,
  PROP_IMAGE,
  PROP_CREATED,
  PROP_ENDED,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str() is GLib 2.76; Debian 12 has 2.74. */
static gboolean
set_str (char       **field,
         const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static const char * const role_names[] = { "user", "assistant", "system" };

const char *
lanlan_message_role_to_string (LanlanMessageRole role)
{
  g_return_val_if_fail (role <= LANLAN_MESSAGE_ROLE_SYSTEM, "system");
  return role_names[role];
}

/**
 * lanlan_message_role_from_string:
 *
 * Returns: %TRUE when @name is "user", "assistant" or "system"
 */
gboolean
lanlan_message_role_from_string (const char        *name,
                                 LanlanMessageRole *role)
{
  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (g_strcmp0 (name, role_names[i]) == 0)
      {
        *role = (LanlanMessageRole) i;
        return TRUE;
      }
  return FALSE;
}

static void
lanlan_message_finalize (GObject *object)
{
  LanlanMessage *self = LANLAN_MESSAGE (object);

  g_free (self->id);
  g_string_free (self->text, TRUE);
  g_free (self->translation);
  g_free (self->heard);
  g_clear_pointer (&self->image, g_bytes_unref);

  G_OBJECT_CLASS (lanlan_message_parent_class)->finalize (object);
}

static void
lanlan_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  LanlanMessage *self = LANLAN_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text->str);
      break;
    case PROP_TRANSLATION:
      g_value_set_string (value, self->translation);
      break;
    case PROP_HEARD:
      g_value_set_string (value, self->heard);
      break;
    case PROP_IMAGE:
      g_value_set_boxed (value, self->image);
      break;
    case PROP_CREATED:
      g_value_set_int64 (value, self->created);
      break;
    case PROP_ENDED:
      g_value_set_int64 (value, self->ended);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_message_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  LanlanMessage *self = LANLAN_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      lanlan_message_set_text (self, g_value_get_string (value));
      break;
    case PROP_TRANSLATION:
      lanlan_message_set_translation (self, g_value_get_string (value));
      break;
    case PROP_HEARD:
      lanlan_message_set_heard (self, g_value_get_string (value));
      break;
    case PROP_IMAGE:
      lanlan_message_set_image (self, g_value_get_boxed (value));
      break;
    case PROP_STATUS:
      lanlan_message_set_status (self, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_message_class_init (LanlanMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = lanlan_message_finalize;
  object_class->get_property = lanlan_message_get_property;
  object_class->set_property = lanlan_message_set_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, ro);
  properties[PROP_ROLE] = g_param_spec_enum ("role", NULL, NULL, LANLAN_TYPE_MESSAGE_ROLE,
                                             LANLAN_MESSAGE_ROLE_USER, ro);
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, "", rw);
  properties[PROP_TRANSLATION] = g_param_spec_string ("translation", NULL, NULL, NULL, rw);
  properties[PROP_HEARD] = g_param_spec_string ("heard", NULL, NULL, NULL, rw);
  properties[PROP_IMAGE] = g_param_spec_boxed ("image", NULL, NULL, G_TYPE_BYTES, rw);
  properties[PROP_CREATED] = g_param_spec_int64 ("created", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_ENDED] = g_param_spec_int64 ("ended", NULL, NULL, 0, G_MAXINT64, 0,
                                               ro | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, LANLAN_TYPE_MESSAGE_STATUS,
                                               LANLAN_MESSAGE_STATUS_PENDING, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_message_init (LanlanMessage *self)
{
  self->text = g_string_new (NULL);
}

/**
 * lanlan_message_new:
 *
 * A new message, PENDING, with a fresh id, created now.
 */
LanlanMessage *
lanlan_message_new (LanlanMessageRole  role,
                    const char        *text)
{
  g_autofree char *id = g_uuid_string_random ();

  return lanlan_message_new_full (id, role, text, g_get_real_time (), 0,
                                  LANLAN_MESSAGE_STATUS_PENDING);
}

/**
 * lanlan_message_new_full:
 *
 * A message as it was stored.
 */
LanlanMessage *
lanlan_message_new_full (const char          *id,
                         LanlanMessageRole    role,
                         const char          *text,
                         gint64               created,
                         gint64               ended,
                         LanlanMessageStatus  status)
{
  LanlanMessage *self;

  g_return_val_if_fail (id != NULL && *id != '\0', NULL);
  g_return_val_if_fail (role <= LANLAN_MESSAGE_ROLE_SYSTEM, NULL);

  self = g_object_new (LANLAN_TYPE_MESSAGE, NULL);
  self->id = g_strdup (id);
  self->role = role;
  g_string_assign (self->text, text ? text : "");
  self->created = created;
  self->ended = ended;
  self->status = status;
  return self;
}

const char *
lanlan_message_get_id (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return self->id;
}

LanlanMessageRole
lanlan_message_get_role (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), LANLAN_MESSAGE_ROLE_SYSTEM);
  return self->role;
}

const char *
lanlan_message_get_role_name (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return lanlan_message_role_to_string (self->role);
}

const char *
lanlan_message_get_text (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return self->text->str;
}

void
lanlan_message_set_text (LanlanMessage *self,
                         const char    *text)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (text == NULL)
    text = "";
  if (g_str_equal (self->text->str, text))
    return;
  g_string_assign (self->text, text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

/**
 * lanlan_message_append_text:
 *
 * Adds a streamed delta to the end of the text.
 */
void
lanlan_message_append_text (LanlanMessage *self,
                            const char    *delta)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (delta == NULL || *delta == '\0')
    return;
  g_string_append (self->text, delta);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

const char *
lanlan_message_get_translation (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return self->translation;
}

void
lanlan_message_set_translation (LanlanMessage *self,
                                const char    *translation)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (set_str (&self->translation, translation))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRANSLATION]);
}

const char *
lanlan_message_get_heard (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return self->heard;
}

void
lanlan_message_set_heard (LanlanMessage *self,
                          const char    *heard)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (set_str (&self->heard, heard))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEARD]);
}

/**
 * lanlan_message_get_image:
 *
 * Returns: (nullable) (transfer none): the picture shown with the
 *   message, as a JPEG
 */
GBytes *
lanlan_message_get_image (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), NULL);
  return self->image;
}

void
lanlan_message_set_image (LanlanMessage *self,
                          GBytes        *jpeg)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (self->image == jpeg || (self->image && jpeg && g_bytes_equal (self->image, jpeg)))
    return;
  g_clear_pointer (&self->image, g_bytes_unref);
  self->image = jpeg ? g_bytes_ref (jpeg) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);
}

gint64
lanlan_message_get_created (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), 0);
  return self->created;
}

gint64
lanlan_message_get_ended (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), 0);
  return self->ended;
}

LanlanMessageStatus
lanlan_message_get_status (LanlanMessage *self)
{
  g_return_val_if_fail (LANLAN_IS_MESSAGE (self), LANLAN_MESSAGE_STATUS_PENDING);
  return self->status;
}

/**
 * lanlan_message_set_status:
 *
 * Leaving PENDING stamps "ended" with the current time.
 */
void
lanlan_message_set_status (LanlanMessage       *self,
                           LanlanMessageStatus  status)
{
  g_return_if_fail (LANLAN_IS_MESSAGE (self));

  if (self->status == status)
    return;
  self->status = status;
  if (status != LANLAN_MESSAGE_STATUS_PENDING && self->ended == 0)
    {
      self->ended = g_get_real_time ();
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENDED]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}
