/* lanlan-audio-devices.c — live list of PipeWire sinks and sources
 *
 * A GListModel of LanlanAudioDevice for the preferences combo rows. A
 * pw_thread_loop watches the PipeWire registry for Audio/Sink and
 * Audio/Source nodes; every node that comes or goes is posted to the
 * GMainContext the model was created in, so items-changed is only ever
 * emitted there (the UI thread). Posted events hold a small shared
 * "link" rather than the model itself, so an event that arrives after
 * the model is gone is simply dropped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>

#include "lanlan-audio-devices.h"
#include "lanlan-audio-playback.h"
#include "lanlan-audio-private.h"

typedef struct {
  gatomicrefcount     ref_count;
  LanlanAudioDevices *owner;   /* main context only; NULL once disposed */
} Link;

struct _LanlanAudioDevices
{
  GObject parent_instance;

  LanlanAudioDevicesFilter filter;
  GPtrArray               *items;
  GMainContext            *context;
  Link                    *link;

  struct pw_thread_loop *loop;
  struct pw_context     *pw_context;
  struct pw_core        *core;
  struct pw_registry    *registry;
  struct spa_hook        registry_listener;
};

static void lanlan_audio_devices_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanAudioDevices, lanlan_audio_devices, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      lanlan_audio_devices_model_init))

static Link *
link_ref (Link *link)
{
  g_atomic_ref_count_inc (&link->ref_count);
  return link;
}

static void
link_unref (Link *link)
{
  if (g_atomic_ref_count_dec (&link->ref_count))
    g_free (link);
}

typedef struct {
  Link              *link;
  gboolean           added;
  guint32            id;
  LanlanAudioDevice *device;   /* when added */
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;

  link_unref (ev->link);
  g_clear_object (&ev->device);
  g_free (ev);
}

/* Main context. */
static gboolean
apply_event (gpointer data)
{
  Event *ev = data;
  LanlanAudioDevices *self = ev->link->owner;

  if (self == NULL)
    return G_SOURCE_REMOVE;

  if (ev->added)
    {
      g_ptr_array_add (self->items, g_object_ref (ev->device));
      g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - 1, 0, 1);
    }
  else
    {
      for (guint i = 0; i < self->items->len; i++)
        {
          LanlanAudioDevice *dev = g_ptr_array_index (self->items, i);

          if (lanlan_audio_device_get_id (dev) == ev->id)
            {
              g_ptr_array_remove_index (self->items, i);
              g_list_model_items_changed (G_LIST_MODEL (self), i, 1, 0);
              break;
            }
        }
    }

  return G_SOURCE_REMOVE;
}

/* Loop thread. Always through a source: g_main_context_invoke() would
 * run apply_event() right here, on the loop thread, whenever the main
 * context is the global default and its thread is not iterating it at
 * that moment (it acquires the free context), racing the main thread
 * over the items. */
static void
post_event (LanlanAudioDevices *self,
            Event              *ev)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  ev->link = link_ref (self->link);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_name (source, "[lanlan] audio device");
  g_source_set_callback (source, apply_event, ev, event_free);
  g_source_attach (source, self->context);
}

/* Loop thread. */
static void
on_global (void                  *data,
           uint32_t               id,
           uint32_t               permissions,
           const char            *type,
           uint32_t               version,
           const struct spa_dict *props)
{
  LanlanAudioDevices *self = data;
  const char *media_class, *name, *description;
  gboolean is_source;
  Event *ev;

  if (props == NULL || strcmp (type, PW_TYPE_INTERFACE_Node) != 0)
    return;

  media_class = spa_dict_lookup (props, PW_KEY_MEDIA_CLASS);
  if (media_class == NULL)
    return;
  if (g_str_equal (media_class, "Audio/Sink"))
    is_source = FALSE;
  else if (g_str_equal (media_class, "Audio/Source") ||
           g_str_equal (media_class, "Audio/Source/Virtual"))
    is_source = TRUE;
  else
    return;

  if (!(self->filter & (is_source ? LANLAN_AUDIO_DEVICES_SOURCES : LANLAN_AUDIO_DEVICES_SINKS)))
    return;

  name = spa_dict_lookup (props, PW_KEY_NODE_NAME);
  if (name == NULL)
    return;
  description = spa_dict_lookup (props, PW_KEY_NODE_DESCRIPTION);
  if (description == NULL)
    description = spa_dict_lookup (props, PW_KEY_NODE_NICK);
  if (description == NULL)
    description = name;

  ev = g_new0 (Event, 1);
  ev->added = TRUE;
  ev->id = id;
  ev->device = lanlan_audio_device_new (id, name, description, is_source);
  post_event (self, ev);
}

static void
on_global_remove (void     *data,
                  uint32_t  id)
{
  LanlanAudioDevices *self = data;
  Event *ev = g_new0 (Event, 1);

  /* Ids that were never listed are ignored on the main context. */
  ev->added = FALSE;
  ev->id = id;
  post_event (self, ev);
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS,
  .global = on_global,
  .global_remove = on_global_remove,
};

/* --- GListModel ------------------------------------------------------ */

static GType
lanlan_audio_devices_get_item_type (GListModel *model)
{
  return LANLAN_TYPE_AUDIO_DEVICE;
}

static guint
lanlan_audio_devices_get_n_items (GListModel *model)
{
  return LANLAN_AUDIO_DEVICES (model)->items->len;
}

static gpointer
lanlan_audio_devices_get_item (GListModel *model,
                               guint       position)
{
  LanlanAudioDevices *self = LANLAN_AUDIO_DEVICES (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
lanlan_audio_devices_model_init (GListModelInterface *iface)
{
  iface->get_item_type = lanlan_audio_devices_get_item_type;
  iface->get_n_items = lanlan_audio_devices_get_n_items;
  iface->get_item = lanlan_audio_devices_get_item;
}

/* --- GObject -------------------------------------------------------- */

static void
lanlan_audio_devices_dispose (GObject *object)
{
  LanlanAudioDevices *self = LANLAN_AUDIO_DEVICES (object);

  if (self->loop)
    {
      pw_thread_loop_lock (self->loop);
      if (self->registry)
        {
          spa_hook_remove (&self->registry_listener);
          pw_proxy_destroy ((struct pw_proxy *) self->registry);
          self->registry = NULL;
        }
      if (self->core)
        pw_core_disconnect (self->core);
      self->core = NULL;
      pw_thread_loop_unlock (self->loop);
      pw_thread_loop_stop (self->loop);
      g_clear_pointer (&self->pw_context, pw_context_destroy);
      g_clear_pointer (&self->loop, pw_thread_loop_destroy);
    }

  if (self->link)
    {
      self->link->owner = NULL;
      g_clear_pointer (&self->link, link_unref);
    }

  G_OBJECT_CLASS (lanlan_audio_devices_parent_class)->dispose (object);
}

static void
lanlan_audio_devices_finalize (GObject *object)
{
  LanlanAudioDevices *self = LANLAN_AUDIO_DEVICES (object);

  g_ptr_array_unref (self->items);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (lanlan_audio_devices_parent_class)->finalize (object);
}

static void
lanlan_audio_devices_class_init (LanlanAudioDevicesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_audio_devices_dispose;
  object_class->finalize = lanlan_audio_devices_finalize;
}

static void
lanlan_audio_devices_init (LanlanAudioDevices *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->context = g_main_context_ref_thread_default ();
  self->link = g_new0 (Link, 1);
  g_atomic_ref_count_init (&self->link->ref_count);
  self->link->owner = self;
}

/**
 * lanlan_audio_devices_new:
 * @filter: which nodes to list
 *
 * Starts watching PipeWire. Items arrive (and later come and go) through
 * the thread-default main context of the caller.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error
 *   set if PipeWire is not reachable.
 */
LanlanAudioDevices *
lanlan_audio_devices_new (LanlanAudioDevicesFilter   filter,
                          GError                   **error)
{
  g_autoptr(LanlanAudioDevices) self = NULL;

  lanlan_audio_ensure_pipewire ();

  self = g_object_new (LANLAN_TYPE_AUDIO_DEVICES, NULL);
  self->filter = filter;

  self->loop = pw_thread_loop_new ("lanlan-devices", NULL);
  if (self->loop == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop"));
      return NULL;
    }
  self->pw_context = pw_context_new (pw_thread_loop_get_loop (self->loop), NULL, 0);
  if (self->pw_context == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not create a PipeWire context"));
      return NULL;
    }

  pw_thread_loop_lock (self->loop);
  self->core = pw_context_connect (self->pw_context, NULL, 0);
  if (self->core == NULL)
    {
      int saved = errno;

      pw_thread_loop_unlock (self->loop);
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not connect to PipeWire: %s"), g_strerror (saved));
      return NULL;
    }
  self->registry = pw_core_get_registry (self->core, PW_VERSION_REGISTRY, 0);
  pw_registry_add_listener (self->registry, &self->registry_listener, &registry_events, self);
  if (pw_thread_loop_start (self->loop) < 0)
    {
      pw_thread_loop_unlock (self->loop);
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop thread"));
      return NULL;
    }
  pw_thread_loop_unlock (self->loop);

  return g_steal_pointer (&self);
}

/**
 * lanlan_audio_devices_find:
 * @name: a node.name
 * @position: (out) (optional): where it is in the model
 *
 * Returns: whether a device named @name is listed.
 */
gboolean
lanlan_audio_devices_find (LanlanAudioDevices *self,
                           const char         *name,
                           guint              *position)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_DEVICES (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < self->items->len; i++)
    if (g_strcmp0 (lanlan_audio_device_get_name (g_ptr_array_index (self->items, i)), name) == 0)
      {
        if (position)
          *position = i;
        return TRUE;
      }
  return FALSE;
}
