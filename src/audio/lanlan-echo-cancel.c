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
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>

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

  struct pw_thread_loop *loop;
  struct pw_context     *context;
  struct pw_impl_module *module;
};

G_DEFINE_FINAL_TYPE (LanlanEchoCancel, lanlan_echo_cancel, G_TYPE_OBJECT)

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

static void
lanlan_echo_cancel_dispose (GObject *object)
{
  LanlanEchoCancel *self = LANLAN_ECHO_CANCEL (object);

  if (self->loop)
    {
      pw_thread_loop_lock (self->loop);
      if (self->module)
        pw_impl_module_destroy (self->module);
      self->module = NULL;
      pw_thread_loop_unlock (self->loop);
      pw_thread_loop_stop (self->loop);
      g_clear_pointer (&self->context, pw_context_destroy);
      g_clear_pointer (&self->loop, pw_thread_loop_destroy);
    }

  G_OBJECT_CLASS (lanlan_echo_cancel_parent_class)->dispose (object);
}

static void
lanlan_echo_cancel_class_init (LanlanEchoCancelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lanlan_echo_cancel_dispose;
}

static void
lanlan_echo_cancel_init (LanlanEchoCancel *self)
{
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
 */
LanlanEchoCancel *
lanlan_echo_cancel_new (const char  *source_node,
                        const char  *sink_node,
                        GError     **error)
{
  g_autoptr(LanlanEchoCancel) self = NULL;
  g_autoptr(GString) args = g_string_new (NULL);

  lanlan_audio_ensure_pipewire ();

  self = g_object_new (LANLAN_TYPE_ECHO_CANCEL, NULL);

  self->loop = pw_thread_loop_new ("lanlan-echo-cancel", NULL);
  if (self->loop == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop"));
      return NULL;
    }
  self->context = pw_context_new (pw_thread_loop_get_loop (self->loop), NULL, 0);
  if (self->context == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not create a PipeWire context"));
      return NULL;
    }

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

  pw_thread_loop_lock (self->loop);
  if (pw_thread_loop_start (self->loop) < 0)
    {
      pw_thread_loop_unlock (self->loop);
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop thread"));
      return NULL;
    }
  self->module = pw_context_load_module (self->context, MODULE_NAME, args->str, NULL);
  if (self->module == NULL)
    {
      int saved = errno;

      pw_thread_loop_unlock (self->loop);
      g_set_error (error, LANLAN_AUDIO_ERROR,
                   saved == ENOENT ? LANLAN_AUDIO_ERROR_UNAVAILABLE : LANLAN_AUDIO_ERROR_FAILED,
                   _("Could not load PipeWire’s echo cancellation module: %s"),
                   g_strerror (saved));
      return NULL;
    }
  pw_thread_loop_unlock (self->loop);

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
