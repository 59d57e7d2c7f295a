/* lanlan-video-capture.c — a PipeWire video stream, sampled into JPEG frames
 *
 * A screen or camera shared through a portal arrives as a PipeWire video
 * node on a remote the portal opened for us (a file descriptor), or, for
 * a node of our own session, by its name. The stream's process callback
 * runs on a PipeWire thread: it takes one frame per interval (about one a
 * second for a model; 0 pauses sampling while the stream stays connected)
 * and hands it to the frame encoder, which scales and JPEG-encodes it on
 * its own thread. Every other buffer goes straight back to PipeWire.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdatomic.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/debug/types.h>
#include <spa/param/video/type-info.h>

#include "lanlan-audio-private.h"
#include "lanlan-video-capture.h"

/* What a model is shown: no taller than 1080 lines (N.E.K.O. compresses
 * screenshots to 1080 lines at JPEG quality 75). */
#define MAX_HEIGHT   1080
#define JPEG_QUALITY 75

G_DEFINE_QUARK (lanlan-video-error-quark, lanlan_video_error)

struct _LanlanVideoCapture
{
  GObject parent_instance;

  struct pw_thread_loop *loop;
  struct pw_context     *context;
  struct pw_core        *core;
  struct pw_stream      *stream;
  struct spa_hook        core_listener;
  struct spa_hook        stream_listener;

  LanlanFrameEncoder    *encoder;
  gulong                 frame_handler;
  GMainContext          *owner_ctx;

  /* PipeWire thread; read elsewhere under the thread loop lock. */
  struct spa_video_info_raw format;
  gboolean               have_format;
  LanlanPixelFormat      pixel_format;
  gint64                 next_due;

  _Atomic guint          interval_ms;
  gboolean               running;     /* main thread */
  gboolean               stopped;     /* main thread */
};

G_DEFINE_FINAL_TYPE (LanlanVideoCapture, lanlan_video_capture, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RUNNING,
  N_PROPS
};

enum {
  SIGNAL_FRAME,
  SIGNAL_STOPPED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* --- Ending, told on the main context ------------------------------------ */

typedef struct {
  GWeakRef  self;
  GError   *error;
} Ended;

static void
ended_free (gpointer data)
{
  Ended *e = data;

  g_weak_ref_clear (&e->self);
  g_clear_error (&e->error);
  g_free (e);
}

static void
finish_stopped (LanlanVideoCapture *self,
                const GError       *error)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  if (self->running)
    {
      self->running = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
    }
  g_signal_emit (self, signals[SIGNAL_STOPPED], 0, error);
}

static gboolean
ended_dispatch (gpointer data)
{
  Ended *e = data;
  g_autoptr(LanlanVideoCapture) self = g_weak_ref_get (&e->self);

  if (self != NULL)
    finish_stopped (self, e->error);
  return G_SOURCE_REMOVE;
}

/* PipeWire thread. */
static void
post_ended (LanlanVideoCapture *self,
            GError             *error)
{
  Ended *e = g_new0 (Ended, 1);
  GSource *source = g_idle_source_new ();

  g_weak_ref_init (&e->self, self);
  e->error = error;
  g_source_set_callback (source, ended_dispatch, e, ended_free);
  g_source_set_static_name (source, "[lanlan] video ended");
  g_source_attach (source, self->owner_ctx);
  g_source_unref (source);
}

/* --- PipeWire ------------------------------------------------------------ */

static gboolean
pixel_format_from_spa (enum spa_video_format  format,
                       LanlanPixelFormat     *out)
{
  switch (format)
    {
    case SPA_VIDEO_FORMAT_RGBx: *out = LANLAN_PIXEL_FORMAT_RGBX; return TRUE;
    case SPA_VIDEO_FORMAT_BGRx: *out = LANLAN_PIXEL_FORMAT_BGRX; return TRUE;
    case SPA_VIDEO_FORMAT_RGBA: *out = LANLAN_PIXEL_FORMAT_RGBA; return TRUE;
    case SPA_VIDEO_FORMAT_BGRA: *out = LANLAN_PIXEL_FORMAT_BGRA; return TRUE;
    case SPA_VIDEO_FORMAT_RGB:  *out = LANLAN_PIXEL_FORMAT_RGB;  return TRUE;
    case SPA_VIDEO_FORMAT_BGR:  *out = LANLAN_PIXEL_FORMAT_BGR;  return TRUE;
    default: return FALSE;
    }
}

static void
on_stream_state_changed (void                 *data,
                         enum pw_stream_state  old,
                         enum pw_stream_state  state,
                         const char           *error)
{
  LanlanVideoCapture *self = data;

  if (state == PW_STREAM_STATE_ERROR)
    post_ended (self, g_error_new (LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_ENDED,
                                   _("The video stream failed: %s"), error ? error : _("unknown error")));
  else if (state == PW_STREAM_STATE_UNCONNECTED && old != PW_STREAM_STATE_UNCONNECTED)
    post_ended (self, g_error_new_literal (LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_ENDED,
                                           _("The shared screen or camera stopped")));
}

static void
on_stream_param_changed (void                 *data,
                         uint32_t              id,
                         const struct spa_pod *param)
{
  LanlanVideoCapture *self = data;
  struct spa_video_info_raw info = { 0 };
  uint32_t media_type, media_subtype;
  LanlanPixelFormat pf;

  if (param == NULL || id != SPA_PARAM_Format)
    return;
  if (spa_format_parse (param, &media_type, &media_subtype) < 0 ||
      media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw)
    return;
  if (spa_format_video_raw_parse (param, &info) < 0 || !pixel_format_from_spa (info.format, &pf))
    {
      self->have_format = FALSE;
      return;
    }
  self->format = info;
  self->pixel_format = pf;
  self->have_format = TRUE;
}

static void
on_stream_process (void *data)
{
  LanlanVideoCapture *self = data;
  struct pw_buffer *b = pw_stream_dequeue_buffer (self->stream);
  guint interval = atomic_load (&self->interval_ms);
  gint64 now;

  if (b == NULL)
    return;

  now = g_get_monotonic_time ();
  if (interval > 0 && self->have_format && now >= self->next_due)
    {
      struct spa_buffer *buf = b->buffer;
      struct spa_data *d = &buf->datas[0];

      if (d->data != NULL && d->chunk != NULL && d->chunk->size > 0)
        {
          guint width = self->format.size.width;
          guint height = self->format.size.height;
          guint stride = d->chunk->stride > 0 ? (guint) d->chunk->stride
                                              : width * lanlan_pixel_format_get_bpp (self->pixel_format);

          if ((guint64) stride * height <= d->maxsize - MIN (d->chunk->offset, d->maxsize) &&
              lanlan_frame_encoder_push (self->encoder, self->pixel_format,
                                         (const guint8 *) d->data + d->chunk->offset,
                                         width, height, stride))
            self->next_due = now + (gint64) interval * 1000;
        }
    }
  pw_stream_queue_buffer (self->stream, b);
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_stream_state_changed,
  .param_changed = on_stream_param_changed,
  .process = on_stream_process,
};

static void
on_core_error (void       *data,
               uint32_t    id,
               int         seq,
               int         res,
               const char *message)
{
  LanlanVideoCapture *self = data;

  if (id == PW_ID_CORE)
    post_ended (self, g_error_new (LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_ENDED,
                                   _("The connection to PipeWire was lost: %s"), message));
}

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .error = on_core_error,
};

static void
on_encoded (LanlanFrameEncoder *encoder,
            GBytes             *jpeg,
            guint               width,
            guint               height,
            LanlanVideoCapture *self)
{
  /* A frame sampled just before sampling was paused may finish encoding
   * afterwards (seconds on a busy machine): paused means no more frames,
   * so it is dropped, not delivered late. */
  if (self->running && atomic_load (&self->interval_ms) > 0)
    g_signal_emit (self, signals[SIGNAL_FRAME], 0, jpeg, width, height);
}

/* --- API ----------------------------------------------------------------- */

/**
 * lanlan_video_capture_new:
 * @pipewire_fd: a PipeWire remote from a portal (taken), or -1 for the
 *   session's own PipeWire
 * @node_id: the node to capture, or PW_ID_ANY (with @target, or the
 *   first video source the remote offers)
 * @target: (nullable): a node name, when @node_id is PW_ID_ANY
 *
 * Connects at once; frames are sampled once @interval_ms is set.
 */
LanlanVideoCapture *
lanlan_video_capture_new (int          pipewire_fd,
                          guint32      node_id,
                          const char  *target,
                          GError     **error)
{
  g_autoptr(LanlanVideoCapture) self = NULL;
  struct pw_properties *props;
  uint8_t pod_buffer[1024];
  struct spa_pod_builder builder = SPA_POD_BUILDER_INIT (pod_buffer, sizeof pod_buffer);
  const struct spa_pod *params[1];
  int res;

  lanlan_audio_ensure_pipewire ();

  self = g_object_new (LANLAN_TYPE_VIDEO_CAPTURE, NULL);
  self->owner_ctx = g_main_context_ref_thread_default ();
  self->encoder = lanlan_frame_encoder_new (MAX_HEIGHT, JPEG_QUALITY);
  self->frame_handler = g_signal_connect (self->encoder, "frame", G_CALLBACK (on_encoded), self);

  self->loop = pw_thread_loop_new ("lanlan-video", NULL);
  self->context = pw_context_new (pw_thread_loop_get_loop (self->loop), NULL, 0);
  if (self->loop == NULL || self->context == NULL)
    {
      if (pipewire_fd >= 0)
        close (pipewire_fd);
      g_set_error_literal (error, LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_CONNECT,
                           _("PipeWire could not be started for video"));
      return NULL;
    }
  if (pw_thread_loop_start (self->loop) < 0)
    {
      if (pipewire_fd >= 0)
        close (pipewire_fd);
      g_set_error_literal (error, LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_CONNECT,
                           _("PipeWire could not be started for video"));
      return NULL;
    }

  pw_thread_loop_lock (self->loop);
  if (pipewire_fd >= 0)
    self->core = pw_context_connect_fd (self->context, pipewire_fd, NULL, 0);
  else
    self->core = pw_context_connect (self->context, NULL, 0);
  if (self->core == NULL)
    {
      pw_thread_loop_unlock (self->loop);
      g_set_error (error, LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_CONNECT,
                   _("Could not connect to PipeWire: %s"), g_strerror (errno));
      return NULL;
    }
  pw_core_add_listener (self->core, &self->core_listener, &core_events, self);

  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Video",
                             PW_KEY_MEDIA_CATEGORY, "Capture",
                             PW_KEY_MEDIA_ROLE, "Screen",
                             PW_KEY_APP_NAME, "Lanlan",
                             NULL);
  if (node_id == PW_ID_ANY && target != NULL)
    pw_properties_set (props, PW_KEY_TARGET_OBJECT, target);
  self->stream = pw_stream_new (self->core, "lanlan-video", props);
  pw_stream_add_listener (self->stream, &self->stream_listener, &stream_events, self);

  params[0] = spa_pod_builder_add_object (&builder,
      SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
      SPA_FORMAT_mediaType, SPA_POD_Id (SPA_MEDIA_TYPE_video),
      SPA_FORMAT_mediaSubtype, SPA_POD_Id (SPA_MEDIA_SUBTYPE_raw),
      SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id (7,
          SPA_VIDEO_FORMAT_BGRx,
          SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_RGBx,
          SPA_VIDEO_FORMAT_BGRA, SPA_VIDEO_FORMAT_RGBA,
          SPA_VIDEO_FORMAT_RGB, SPA_VIDEO_FORMAT_BGR),
      SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle (
          &SPA_RECTANGLE (1280, 720), &SPA_RECTANGLE (1, 1), &SPA_RECTANGLE (8192, 8192)),
      SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction (
          &SPA_FRACTION (30, 1), &SPA_FRACTION (0, 1), &SPA_FRACTION (240, 1)));

  res = pw_stream_connect (self->stream, PW_DIRECTION_INPUT, node_id,
                           PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS,
                           params, 1);
  pw_thread_loop_unlock (self->loop);
  if (res < 0)
    {
      g_set_error (error, LANLAN_VIDEO_ERROR, LANLAN_VIDEO_ERROR_CONNECT,
                   _("Could not open the video stream: %s"), g_strerror (-res));
      return NULL;
    }

  self->running = TRUE;
  return g_steal_pointer (&self);
}

/**
 * lanlan_video_capture_set_interval:
 * @interval_ms: take one frame this often; 0 takes none, and no frame
 *   comes after this returns, not even one still encoding (the stream
 *   stays open, so sampling starts again at once)
 */
void
lanlan_video_capture_set_interval (LanlanVideoCapture *self,
                                   guint               interval_ms)
{
  g_return_if_fail (LANLAN_IS_VIDEO_CAPTURE (self));
  atomic_store (&self->interval_ms, interval_ms);
}

guint
lanlan_video_capture_get_interval (LanlanVideoCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_VIDEO_CAPTURE (self), 0);
  return atomic_load (&self->interval_ms);
}

gboolean
lanlan_video_capture_get_running (LanlanVideoCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_VIDEO_CAPTURE (self), FALSE);
  return self->running;
}

/**
 * lanlan_video_capture_get_size:
 *
 * The negotiated frame size, 0×0 before the stream has a format.
 */
void
lanlan_video_capture_get_size (LanlanVideoCapture *self,
                               guint              *width,
                               guint              *height)
{
  g_return_if_fail (LANLAN_IS_VIDEO_CAPTURE (self));

  *width = *height = 0;
  if (self->loop == NULL)
    return;
  pw_thread_loop_lock (self->loop);
  if (self->have_format)
    {
      *width = self->format.size.width;
      *height = self->format.size.height;
    }
  pw_thread_loop_unlock (self->loop);
}

LanlanFrameEncoder *
lanlan_video_capture_get_encoder (LanlanVideoCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_VIDEO_CAPTURE (self), NULL);
  return self->encoder;
}

static void
teardown (LanlanVideoCapture *self)
{
  if (self->loop != NULL)
    pw_thread_loop_stop (self->loop);
  if (self->stream != NULL)
    {
      spa_hook_remove (&self->stream_listener);
      pw_stream_destroy (self->stream);
      self->stream = NULL;
    }
  if (self->core != NULL)
    {
      spa_hook_remove (&self->core_listener);
      pw_core_disconnect (self->core);
      self->core = NULL;
    }
  g_clear_pointer (&self->context, pw_context_destroy);
  g_clear_pointer (&self->loop, pw_thread_loop_destroy);
}

/**
 * lanlan_video_capture_stop:
 *
 * Closes the stream; "stopped" is emitted with no error.
 */
void
lanlan_video_capture_stop (LanlanVideoCapture *self)
{
  g_return_if_fail (LANLAN_IS_VIDEO_CAPTURE (self));

  teardown (self);
  finish_stopped (self, NULL);
}

static void
lanlan_video_capture_dispose (GObject *object)
{
  LanlanVideoCapture *self = LANLAN_VIDEO_CAPTURE (object);

  teardown (self);
  if (self->encoder != NULL)
    g_clear_signal_handler (&self->frame_handler, self->encoder);
  g_clear_object (&self->encoder);
  g_clear_pointer (&self->owner_ctx, g_main_context_unref);

  G_OBJECT_CLASS (lanlan_video_capture_parent_class)->dispose (object);
}

static void
lanlan_video_capture_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  LanlanVideoCapture *self = LANLAN_VIDEO_CAPTURE (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_video_capture_class_init (LanlanVideoCaptureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_video_capture_dispose;
  object_class->get_property = lanlan_video_capture_get_property;

  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_FRAME] =
    g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_BYTES, G_TYPE_UINT, G_TYPE_UINT);
  signals[SIGNAL_STOPPED] =
    g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lanlan_video_capture_init (LanlanVideoCapture *self)
{
}
