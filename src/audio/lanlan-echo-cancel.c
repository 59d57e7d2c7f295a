/* lanlan-echo-cancel.c — PipeWire's echo canceller, loaded by the app
 *
 * With the `echo-cancel` setting on, the app loads
 * libpipewire-module-echo-cancel (WebRTC AEC) into its own pw_context
 * rather than asking the user to edit PipeWire's config. The module makes
 * two nodes that live as long as this object: a sink,
 * LANLAN_ECHO_CANCEL_SINK, that playback targets (its audio is the echo
 * reference and goes on to the real speakers), and a source,
 * LANLAN_ECHO_CANCEL_SOURCE, that capture targets (the microphone with
 * that reference subtracted). One instance serves the whole app.
 *
 * The module runs on this object's own connection (LanlanPwClient). It
 * does work only while a stream linked to its nodes runs: a paused
 * playback and a stopped microphone let the graph, and the canceller,
 * sleep. If PipeWire goes away the module unloads itself; it is loaded
 * again when the daemon is back, and "available" says which.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>
#include <pipewire/impl-module.h>

#include "lanlan-audio-playback.h"
#include "lanlan-audio-private.h"
#include "lanlan-echo-cancel.h"

#define MODULE_NAME "libpipewire-module-echo-cancel"

struct _LanlanEchoCancel
{
  GObject parent_instance;

  char                  *args;
  LanlanPwClient        *client;
  GError                *load_error;   /* the first load's, for new() */
  gboolean               loaded_once;
  struct pw_impl_module *module;
  struct spa_hook        module_listener;
  /* Loop thread: the module's nodes as the daemon lists them. */
  struct pw_registry    *registry;
  struct spa_hook        registry_listener;
  guint32                sink_id;
  guint32                source_id;
  _Atomic gboolean       ready;
};

G_DEFINE_FINAL_TYPE (LanlanEchoCancel, lanlan_echo_cancel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_READY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char *
find_in_dirs (const char *env,
              const char *fallback,
              const char *file)
{
  const char *dirs = g_getenv (env);
  g_auto(GStrv) parts = g_strsplit (dirs && *dirs ? dirs : fallback, ":", -1);

  for (guint i = 0; parts[i]; i++)
    {
      g_autofree char *path = g_build_filename (parts[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&path);
    }
  return NULL;
}

/**
 * lanlan_echo_cancel_is_available:
 *
 * Returns: whether the echo-cancel module and its WebRTC plugin are
 *   installed (so a settings switch can be made insensitive otherwise).
 */
gboolean
lanlan_echo_cancel_is_available (void)
{
  g_autofree char *module = find_in_dirs ("PIPEWIRE_MODULE_DIR", LANLAN_PW_MODULE_DIR,
                                          MODULE_NAME ".so");
  g_autofree char *plugin = find_in_dirs ("SPA_PLUGIN_DIR", LANLAN_SPA_PLUGIN_DIR,
                                          "aec/libspa-aec-webrtc.so");

  return module != NULL && plugin != NULL;
}

/* Loop thread: the module unloads itself when its core goes. */
static void
on_module_destroy (void *data)
{
  LanlanEchoCancel *self = data;

  spa_hook_remove (&self->module_listener);
  self->module = NULL;
}

static const struct pw_impl_module_events module_events = {
  PW_VERSION_IMPL_MODULE_EVENTS,
  .destroy = on_module_destroy,
};

/* Loop thread. */
static void
update_ready (LanlanEchoCancel *self)
{
  gboolean ready = self->sink_id != SPA_ID_INVALID && self->source_id != SPA_ID_INVALID;

  if (atomic_exchange (&self->ready, ready) != ready)
    lanlan_pw_client_notify (self->client, properties[PROP_READY]);
}

static void
on_global (void                  *data,
           uint32_t               id,
           uint32_t               permissions,
           const char            *type,
           uint32_t               version,
           const struct spa_dict *props)
{
  LanlanEchoCancel *self = data;
  const char *name;

  if (props == NULL || strcmp (type, PW_TYPE_INTERFACE_Node) != 0 ||
      (name = spa_dict_lookup (props, PW_KEY_NODE_NAME)) == NULL)
    return;
  if (strcmp (name, LANLAN_ECHO_CANCEL_SINK) == 0)
    self->sink_id = id;
  else if (strcmp (name, LANLAN_ECHO_CANCEL_SOURCE) == 0)
    self->source_id = id;
  update_ready (self);
}

static void
on_global_remove (void     *data,
                  uint32_t  id)
{
  LanlanEchoCancel *self = data;

  if (id == self->sink_id)
    self->sink_id = SPA_ID_INVALID;
  if (id == self->source_id)
    self->source_id = SPA_ID_INVALID;
  update_ready (self);
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS,
  .global = on_global,
  .global_remove = on_global_remove,
};

/* Loop thread, loop locked: load the module. */
static gboolean
load_module (gpointer         data,
             struct pw_core  *core,
             GError         **error)
{
  LanlanEchoCancel *self = data;
  struct pw_context *context = lanlan_pw_client_get_context (self->client);

  /* Stopped by the last unload_module(); a no-op when it runs. */
  pw_data_loop_start (pw_context_get_data_loop (context));

  /* The module makes its own connection (PipeWire 0.3.65's leaves its
   * listeners on a core it is lent), and unloads itself when that one
   * breaks; @core only tells this object when the daemon is back. */
  self->module = pw_context_load_module (context, MODULE_NAME, self->args, NULL);
  if (self->module == NULL)
    {
      int saved = errno;

      g_set_error (error, LANLAN_AUDIO_ERROR,
                   saved == ENOENT ? LANLAN_AUDIO_ERROR_UNAVAILABLE : LANLAN_AUDIO_ERROR_FAILED,
                   _("Could not load PipeWire’s echo cancellation module: %s"),
                   g_strerror (saved));
      if (!self->loaded_once && self->load_error == NULL)
        self->load_error = g_error_copy (*error);
      return FALSE;
    }
  self->loaded_once = TRUE;
  spa_zero (self->module_listener);
  pw_impl_module_add_listener (self->module, &self->module_listener, &module_events, self);

  /* "ready" once the daemon lists both nodes: a stream made after that
   * finds them as its target (the session manager sees them first). */
  self->sink_id = self->source_id = SPA_ID_INVALID;
  self->registry = pw_core_get_registry (core, PW_VERSION_REGISTRY, 0);
  if (self->registry != NULL)
    {
      spa_zero (self->registry_listener);
      pw_registry_add_listener (self->registry, &self->registry_listener, &registry_events, self);
    }
  return TRUE;
}

/* Loop thread or main thread, loop locked.
 *
 * The module's teardown destroys its four streams one after the other,
 * while the realtime callbacks of those not yet destroyed keep running
 * on the context's data thread; those callbacks use the others (the
 * sink's process() dequeues from the source and playback streams), so
 * a cycle that lands in between touches a freed or NULL stream and the
 * process dies with SIGSEGV (PipeWire 0.3.65, and upstream still tears
 * down this way). Only the module's streams run on this context's data
 * loop, so stop its thread first (it finishes the cycle it is in; its
 * loop then runs what is invoked on it in the caller's thread) and the
 * teardown has nothing to race with. load_module() starts it again. */
static void
unload_module (gpointer data)
{
  LanlanEchoCancel *self = data;

  if (self->registry != NULL)
    {
      spa_hook_remove (&self->registry_listener);
      pw_proxy_destroy ((struct pw_proxy *) self->registry);
      self->registry = NULL;
    }
  self->sink_id = self->source_id = SPA_ID_INVALID;
  update_ready (self);

  if (self->module == NULL)
    return;
  pw_data_loop_stop (pw_context_get_data_loop (lanlan_pw_client_get_context (self->client)));
  pw_impl_module_destroy (self->module);   /* clears self->module */
}

static const LanlanPwClientFuncs client_funcs = {
  .connect = load_module,
  .disconnect = unload_module,
};

static void
lanlan_echo_cancel_dispose (GObject *object)
{
  LanlanEchoCancel *self = LANLAN_ECHO_CANCEL (object);

  /* Not g_clear_pointer(): unload_module() still needs the client. */
  if (self->client != NULL)
    {
      lanlan_pw_client_free (self->client);
      self->client = NULL;
    }

  G_OBJECT_CLASS (lanlan_echo_cancel_parent_class)->dispose (object);
}

static void
lanlan_echo_cancel_finalize (GObject *object)
{
  LanlanEchoCancel *self = LANLAN_ECHO_CANCEL (object);

  g_free (self->args);
  g_clear_error (&self->load_error);

  G_OBJECT_CLASS (lanlan_echo_cancel_parent_class)->finalize (object);
}

static void
lanlan_echo_cancel_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  LanlanEchoCancel *self = LANLAN_ECHO_CANCEL (object);

  switch (prop_id)
    {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, self->client != NULL &&
                                  lanlan_pw_client_get_available (self->client));
      break;
    case PROP_READY:
      g_value_set_boolean (value, lanlan_echo_cancel_get_ready (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_echo_cancel_class_init (LanlanEchoCancelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_echo_cancel_dispose;
  object_class->finalize = lanlan_echo_cancel_finalize;
  object_class->get_property = lanlan_echo_cancel_get_property;

  /**
   * LanlanEchoCancel:available:
   *
   * Whether the module is loaded; %FALSE while PipeWire is away (it is
   * loaded again when the daemon is back).
   */
  properties[PROP_AVAILABLE] =
    g_param_spec_boolean ("available", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanEchoCancel:ready:
   *
   * Whether PipeWire lists both of the canceller's nodes, so streams can
   * be linked to them (notified on the creating thread's main context).
   */
  properties[PROP_READY] =
    g_param_spec_boolean ("ready", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_echo_cancel_init (LanlanEchoCancel *self)
{
  self->sink_id = self->source_id = SPA_ID_INVALID;
  atomic_init (&self->ready, FALSE);
}

/**
 * lanlan_echo_cancel_get_ready:
 *
 * Returns: the #LanlanEchoCancel:ready property
 */
gboolean
lanlan_echo_cancel_get_ready (LanlanEchoCancel *self)
{
  g_return_val_if_fail (LANLAN_IS_ECHO_CANCEL (self), FALSE);
  return atomic_load (&self->ready);
}

/**
 * lanlan_echo_cancel_new:
 * @source_node: (nullable): microphone to clean, %NULL for the default
 * @sink_node: (nullable): speakers the reference goes on to, %NULL for
 *   the default
 *
 * Loads the module; its nodes appear in PipeWire shortly after.
 *
 * Returns: (transfer full) (nullable): the canceller, or %NULL with
 *   @error set (LANLAN_AUDIO_ERROR_UNAVAILABLE if it is not installed).
 *   If PipeWire is not running, the canceller is made, not available,
 *   and loads the module once the daemon is there.
 */
LanlanEchoCancel *
lanlan_echo_cancel_new (const char  *source_node,
                        const char  *sink_node,
                        GError     **error)
{
  g_autoptr(LanlanEchoCancel) self = NULL;
  g_autoptr(GString) args = g_string_new (NULL);
  g_autofree char *message = NULL;

  if (!lanlan_echo_cancel_is_available ())
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_UNAVAILABLE,
                   _("Could not load PipeWire’s echo cancellation module: %s"),
                   g_strerror (ENOENT));
      return NULL;
    }

  self = g_object_new (LANLAN_TYPE_ECHO_CANCEL, NULL);

  /* Node names are quoted; the descriptions are what device lists show. */
  g_string_append_printf (args,
                          "{ library.name = \"aec/libspa-aec-webrtc\" "
                          "  audio.rate = %u audio.channels = 1 audio.position = [ MONO ] "
                          "  capture.props = { node.name = \"lanlan_ec_capture\" node.passive = true %s%s%s } "
                          "  source.props = { node.name = \"" LANLAN_ECHO_CANCEL_SOURCE "\" "
                          "                   node.description = \"%s\" } "
                          "  sink.props = { node.name = \"" LANLAN_ECHO_CANCEL_SINK "\" "
                          "                 node.description = \"%s\" } "
                          "  playback.props = { node.name = \"lanlan_ec_playback\" node.passive = true %s%s%s } "
                          "}",
                          LANLAN_DEVICE_RATE,
                          source_node ? "target.object = \"" : "",
                          source_node ? source_node : "",
                          source_node ? "\"" : "",
                          _("Lanlan echo-cancelled microphone"),
                          _("Lanlan echo cancellation"),
                          sink_node ? "target.object = \"" : "",
                          sink_node ? sink_node : "",
                          sink_node ? "\"" : "");
  self->args = g_string_free (g_steal_pointer (&args), FALSE);

  self->client = lanlan_pw_client_new ("lanlan-echo-cancel", G_OBJECT (self),
                                       properties[PROP_AVAILABLE], NULL,
                                       &client_funcs, self, error);
  if (self->client == NULL || !lanlan_pw_client_start (self->client, error))
    return NULL;

  /* A module that is there but will not load is an error to report now;
   * a daemon that is not there yet is only waited for. */
  if (self->load_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->load_error));
      return NULL;
    }

  return g_steal_pointer (&self);
}

const char *
lanlan_echo_cancel_get_source_name (LanlanEchoCancel *self)
{
  g_return_val_if_fail (LANLAN_IS_ECHO_CANCEL (self), NULL);
  return LANLAN_ECHO_CANCEL_SOURCE;
}

const char *
lanlan_echo_cancel_get_sink_name (LanlanEchoCancel *self)
{
  g_return_val_if_fail (LANLAN_IS_ECHO_CANCEL (self), NULL);
  return LANLAN_ECHO_CANCEL_SINK;
}
