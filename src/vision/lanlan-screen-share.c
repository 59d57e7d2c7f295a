/* lanlan-screen-share.c — the user's screen or camera, through a portal
 *
 * The ScreenCast portal lets the user pick a monitor or a window and
 * hands back a PipeWire remote with the chosen stream's node; the Camera
 * portal asks for access and hands back a remote that shows only
 * cameras. Either way the frames then come through a LanlanVideoCapture.
 * Nothing is captured before the user has chosen, and closing the share
 * closes the portal session, so the desktop's "sharing" indicator goes
 * away with ours.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>

#include "lanlan-screen-share.h"

struct _LanlanScreenShare
{
  GObject             parent_instance;

  LanlanShareSource   source;
  XdpPortal          *portal;
  XdpSession         *session;
  LanlanVideoCapture *capture;
  gboolean            stopped;
};

G_DEFINE_FINAL_TYPE (LanlanScreenShare, lanlan_screen_share, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (LanlanShareSource, lanlan_share_source,
  G_DEFINE_ENUM_VALUE (LANLAN_SHARE_SOURCE_SCREEN, "screen"),
  G_DEFINE_ENUM_VALUE (LANLAN_SHARE_SOURCE_CAMERA, "camera"))

enum {
  SIGNAL_FRAME,
  SIGNAL_STOPPED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
on_capture_frame (LanlanVideoCapture *capture,
                  GBytes             *jpeg,
                  guint               width,
                  guint               height,
                  LanlanScreenShare  *self)
{
  g_signal_emit (self, signals[SIGNAL_FRAME], 0, jpeg, width, height);
}

static void
close_session (LanlanScreenShare *self)
{
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      xdp_session_close (self->session);
      g_clear_object (&self->session);
    }
}

static void
on_capture_stopped (LanlanVideoCapture *capture,
                    GError             *error,
                    LanlanScreenShare  *self)
{
  close_session (self);
  if (!self->stopped)
    {
      self->stopped = TRUE;
      g_signal_emit (self, signals[SIGNAL_STOPPED], 0, error);
    }
}

static void
on_session_closed (XdpSession        *session,
                   LanlanScreenShare *self)
{
  /* The user stopped sharing from the desktop's own indicator. */
  if (self->capture != NULL)
    lanlan_video_capture_stop (self->capture);
}

static gboolean
attach_capture (LanlanScreenShare  *self,
                int                 fd,
                guint32             node_id,
                GError            **error)
{
  if (fd < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("The desktop did not hand over the video stream"));
      return FALSE;
    }
  self->capture = lanlan_video_capture_new (fd, node_id, NULL, error);
  if (self->capture == NULL)
    return FALSE;
  g_signal_connect (self->capture, "frame", G_CALLBACK (on_capture_frame), self);
  g_signal_connect (self->capture, "stopped", G_CALLBACK (on_capture_stopped), self);
  return TRUE;
}

static GError *
portal_error (GError     *error,
              const char *what)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return error;
  {
    GError *e = g_error_new (error->domain, error->code, "%s: %s", what, error->message);
    g_error_free (error);
    return e;
  }
}

/* --- Screen -------------------------------------------------------------- */

static void
on_screencast_started (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanScreenShare *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr(GVariant) streams = NULL;
  GVariantIter iter;
  guint32 node_id = PW_ID_ANY;
  GVariant *props = NULL;

  if (!xdp_session_start_finish (XDP_SESSION (source), result, &error))
    {
      close_session (self);
      g_task_return_error (task, portal_error (error, _("Screen sharing was not started")));
      return;
    }
  streams = xdp_session_get_streams (self->session);
  if (streams != NULL)
    {
      g_variant_iter_init (&iter, streams);
      if (g_variant_iter_next (&iter, "(u@a{sv})", &node_id, &props))
        g_variant_unref (props);
    }
  if (node_id == PW_ID_ANY)
    {
      close_session (self);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                               _("No screen or window was chosen"));
      return;
    }
  if (!attach_capture (self, xdp_session_open_pipewire_remote (self->session), node_id, &error))
    {
      close_session (self);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

static void
on_screencast_created (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanScreenShare *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->session = xdp_portal_create_screencast_session_finish (XDP_PORTAL (source), result, &error);
  if (self->session == NULL)
    {
      g_task_return_error (task, portal_error (error, _("Screen sharing is not available")));
      return;
    }
  g_signal_connect (self->session, "closed", G_CALLBACK (on_session_closed), self);
  xdp_session_start (self->session, g_task_get_task_data (task), g_task_get_cancellable (task),
                     on_screencast_started, g_object_ref (task));
}

/* --- Camera -------------------------------------------------------------- */

static void
on_camera_access (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanScreenShare *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!xdp_portal_access_camera_finish (XDP_PORTAL (source), result, &error))
    {
      g_task_return_error (task, portal_error (error, _("The camera was not made available")));
      return;
    }
  /* The camera remote shows only cameras: take the first. */
  if (!attach_capture (self, xdp_portal_open_pipewire_remote_for_camera (self->portal), PW_ID_ANY, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

/**
 * lanlan_screen_share_new_async:
 * @parent: (nullable): the window the portal dialog belongs to
 *
 * Asks the desktop to share a screen or window (the user picks one), or
 * the camera. Finishes once frames can flow; set the capture's interval
 * to start sampling.
 */
void
lanlan_screen_share_new_async (LanlanShareSource    source,
                               XdpParent           *parent,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(LanlanScreenShare) self = g_object_new (LANLAN_TYPE_SCREEN_SHARE, NULL);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  self->source = source;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_screen_share_new_async);
  if (parent != NULL)
    g_task_set_task_data (task, parent, (GDestroyNotify) xdp_parent_free);

#ifdef HAVE_XDP_PORTAL_INITABLE_NEW
  self->portal = xdp_portal_initable_new (&error);
#else
  {
    /* libportal 0.6's xdp_portal_new() crashes without a session bus. */
    g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
    self->portal = bus != NULL ? xdp_portal_new () : NULL;
  }
#endif
  if (self->portal == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               _("The desktop portal is not available: %s"), error->message);
      return;
    }

  if (source == LANLAN_SHARE_SOURCE_CAMERA)
    xdp_portal_access_camera (self->portal, parent, XDP_CAMERA_FLAG_NONE, cancellable,
                              on_camera_access, g_steal_pointer (&task));
  else
    xdp_portal_create_screencast_session (self->portal,
                                          XDP_OUTPUT_MONITOR | XDP_OUTPUT_WINDOW,
                                          XDP_SCREENCAST_FLAG_NONE,
                                          XDP_CURSOR_MODE_EMBEDDED,
                                          XDP_PERSIST_MODE_NONE, NULL,
                                          cancellable, on_screencast_created, g_steal_pointer (&task));
}

LanlanScreenShare *
lanlan_screen_share_new_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == lanlan_screen_share_new_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

LanlanShareSource
lanlan_screen_share_get_source (LanlanScreenShare *self)
{
  g_return_val_if_fail (LANLAN_IS_SCREEN_SHARE (self), LANLAN_SHARE_SOURCE_SCREEN);
  return self->source;
}

LanlanVideoCapture *
lanlan_screen_share_get_capture (LanlanScreenShare *self)
{
  g_return_val_if_fail (LANLAN_IS_SCREEN_SHARE (self), NULL);
  return self->capture;
}

/**
 * lanlan_screen_share_stop:
 *
 * Stops sharing and closes the portal session; "stopped" is emitted
 * with no error.
 */
void
lanlan_screen_share_stop (LanlanScreenShare *self)
{
  g_return_if_fail (LANLAN_IS_SCREEN_SHARE (self));

  if (self->capture != NULL)
    lanlan_video_capture_stop (self->capture);
  else
    on_capture_stopped (NULL, NULL, self);
}

static void
lanlan_screen_share_dispose (GObject *object)
{
  LanlanScreenShare *self = LANLAN_SCREEN_SHARE (object);

  if (self->capture != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->capture, self);
      lanlan_video_capture_stop (self->capture);
      g_clear_object (&self->capture);
    }
  close_session (self);
  g_clear_object (&self->portal);

  G_OBJECT_CLASS (lanlan_screen_share_parent_class)->dispose (object);
}

static void
lanlan_screen_share_class_init (LanlanScreenShareClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_screen_share_dispose;

  signals[SIGNAL_FRAME] =
    g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_BYTES, G_TYPE_UINT, G_TYPE_UINT);
  signals[SIGNAL_STOPPED] =
    g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lanlan_screen_share_init (LanlanScreenShare *self)
{
}
