/* lanlan-audio-device.c — one PipeWire sink or source, for device pickers
 *
 * Immutable: node.name is what playback/capture target, the description
 * is what a preferences combo row shows. Items of LanlanAudioDevices.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-audio-device.h"

struct _LanlanAudioDevice
{
  GObject  parent_instance;

  guint32  id;
  char    *name;
  char    *description;
  gboolean is_source;
};

G_DEFINE_FINAL_TYPE (LanlanAudioDevice, lanlan_audio_device, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_IS_SOURCE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
lanlan_audio_device_finalize (GObject *object)
{
  LanlanAudioDevice *self = LANLAN_AUDIO_DEVICE (object);

  g_free (self->name);
  g_free (self->description);

  G_OBJECT_CLASS (lanlan_audio_device_parent_class)->finalize (object);
}

static void
lanlan_audio_device_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  LanlanAudioDevice *self = LANLAN_AUDIO_DEVICE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_IS_SOURCE:
      g_value_set_boolean (value, self->is_source);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_audio_device_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  LanlanAudioDevice *self = LANLAN_AUDIO_DEVICE (object);

  switch (prop_id)
    {
    case PROP_ID:
      self->id = g_value_get_uint (value);
      break;
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_DESCRIPTION:
      self->description = g_value_dup_string (value);
      break;
    case PROP_IS_SOURCE:
      self->is_source = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_audio_device_class_init (LanlanAudioDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = lanlan_audio_device_finalize;
  object_class->get_property = lanlan_audio_device_get_property;
  object_class->set_property = lanlan_audio_device_set_property;

  properties[PROP_ID] = g_param_spec_uint ("id", NULL, NULL, 0, G_MAXUINT32, 0, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_DESCRIPTION] = g_param_spec_string ("description", NULL, NULL, NULL, flags);
  properties[PROP_IS_SOURCE] = g_param_spec_boolean ("is-source", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_audio_device_init (LanlanAudioDevice *self)
{
}

LanlanAudioDevice *
lanlan_audio_device_new (guint32     id,
                         const char *name,
                         const char *description,
                         gboolean    is_source)
{
  return g_object_new (LANLAN_TYPE_AUDIO_DEVICE,
                       "id", id,
                       "name", name,
                       "description", description,
                       "is-source", is_source,
                       NULL);
}

guint32
lanlan_audio_device_get_id (LanlanAudioDevice *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_DEVICE (self), 0);
  return self->id;
}

const char *
lanlan_audio_device_get_name (LanlanAudioDevice *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_DEVICE (self), NULL);
  return self->name;
}

const char *
lanlan_audio_device_get_description (LanlanAudioDevice *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_DEVICE (self), NULL);
  return self->description;
}

gboolean
lanlan_audio_device_get_is_source (LanlanAudioDevice *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_DEVICE (self), FALSE);
  return self->is_source;
}
