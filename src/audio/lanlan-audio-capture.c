/* lanlan-audio-capture.c — the microphone, resampled for a model
 *
 * A pw_stream records mono 48 kHz PCM16 from a chosen source (or the
 * default one, or a sink's monitor). Its realtime process callback only
 * copies into a lock-free SPSC ring and pokes an eventfd; a worker thread
 * drains the ring, measures the input level, resamples to the model's
 * rate (16 or 24 kHz, chosen at creation; libsoxr HQ, streaming) and hands
 * the result to a callback from that worker thread. The level (RMS and
 * peak, 0..1) is published as atomics so the UI reads it without locks.
 * When muted, audio is read and dropped so nothing stale is sent on
 * unmute.
 *
 * start/stop/set_muted are meant for one controlling thread (the UI or a
 * session thread); get_level and the counters may be read from any.
 *
 * While running, the capture keeps its connection to PipeWire through
 * LanlanPwClient: if the daemon goes away, "available" goes FALSE with an
 * "error" for the user, and the stream comes back by itself when the
 * daemon does (the worker thread and the resampler carry on meanwhile).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>
#include <spa/param/audio/format-utils.h>

#include "lanlan-audio-capture.h"
#include "lanlan-audio-playback.h"
#include "lanlan-audio-private.h"
#include "lanlan-resampler.h"
#include "lanlan-ring.h"

#define RING_CAPACITY (1u << 17)   /* 2.7 s at 48 kHz */
#define READ_BLOCK    480          /* 10 ms: one level-meter update */

struct _LanlanAudioCapture
{
  GObject parent_instance;

  char              *source;
  guint              out_rate;
  gboolean           capture_sink;
  LanlanCaptureFunc  func;
  gpointer           user_data;
  GDestroyNotify     notify;

  LanlanPwClient        *client;
  struct pw_thread_loop *loop;
  struct pw_stream      *stream;
  struct spa_hook        stream_listener;
  enum pw_stream_state   state;
  char                  *stream_error;

  LanlanRing      *ring;
  int              wake_fd;
  GThread         *worker;
  LanlanResampler *resampler;   /* worker thread only while running */

  _Atomic bool     stopping;
  _Atomic bool     muted;
  _Atomic uint32_t level_rms;   /* float bits */
  _Atomic uint32_t level_peak;  /* float bits */
  _Atomic uint64_t overruns;
  _Atomic uint64_t captured;    /* 48 kHz samples read by the worker */
};

G_DEFINE_FINAL_TYPE (LanlanAudioCapture, lanlan_audio_capture, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static inline void
store_float (_Atomic uint32_t *dst,
             float             value)
{
  uint32_t bits;

  memcpy (&bits, &value, sizeof bits);
  atomic_store_explicit (dst, bits, memory_order_relaxed);
}

static inline float
load_float (_Atomic uint32_t *src)
{
  uint32_t bits = atomic_load_explicit (src, memory_order_relaxed);
  float value;

  memcpy (&value, &bits, sizeof value);
  return value;
}

/* --- realtime side ------------------------------------------------------ */

static void
on_process (void *data)
{
  LanlanAudioCapture *self = data;
  struct pw_buffer *b;
  struct spa_data *d;
  uint32_t offset, size, n, written;
  uint64_t one = 1;

  b = pw_stream_dequeue_buffer (self->stream);
  if (b == NULL)
    return;

  d = &b->buffer->datas[0];
  if (d->data != NULL && d->chunk != NULL)
    {
      offset = SPA_MIN (d->chunk->offset, d->maxsize);
      size = SPA_MIN (d->chunk->size, d->maxsize - offset);
      n = size / sizeof (gint16);
      written = lanlan_ring_write (self->ring, SPA_PTROFF (d->data, offset, void), n);
      if (written < n)
        atomic_fetch_add_explicit (&self->overruns, 1, memory_order_relaxed);
      if (write (self->wake_fd, &one, sizeof one) < 0)
        {
          /* EAGAIN: the counter is saturated, the worker wakes anyway. */
        }
    }

  pw_stream_queue_buffer (self->stream, b);
}

/* --- loop thread ------------------------------------------------------- */

static void
on_state_changed (void                 *data,
                  enum pw_stream_state  old,
                  enum pw_stream_state  state,
                  const char           *error)
{
  LanlanAudioCapture *self = data;

  self->state = state;
  if (state == PW_STREAM_STATE_ERROR)
    {
      g_autofree char *msg = NULL;

      g_free (self->stream_error);
      self->stream_error = g_strdup (error ? error : "unknown error");
      msg = g_strdup_printf (_("The microphone stream failed: %s"), self->stream_error);
      lanlan_pw_client_lost (self->client, msg);
    }
  else if (state == PW_STREAM_STATE_PAUSED || state == PW_STREAM_STATE_STREAMING)
    lanlan_pw_client_ready (self->client);
  pw_thread_loop_signal (self->loop, FALSE);
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state_changed,
  .process = on_process,
};

/* --- worker thread ------------------------------------------------------ */

static void
measure_level (LanlanAudioCapture *self,
               const gint16       *pcm,
               gsize               n)
{
  double sum = 0.0;
  int peak = 0;

  for (gsize i = 0; i < n; i++)
    {
      int v = pcm[i];
      int a = v < 0 ? -v : v;

      sum += (double) v * v;
      if (a > peak)
        peak = a;
    }

  store_float (&self->level_rms, n ? (float) (sqrt (sum / n) / 32768.0) : 0.0f);
  store_float (&self->level_peak, MIN (1.0f, peak / 32768.0f));
}

static gpointer
worker_main (gpointer data)
{
  LanlanAudioCapture *self = data;
  gint16 in[READ_BLOCK];
  gsize out_len = lanlan_resampler_get_max_output (self->resampler, READ_BLOCK);
  g_autofree gint16 *out = g_new (gint16, out_len);
  gboolean last = FALSE;

  while (!last)
    {
      struct pollfd pfd = { .fd = self->wake_fd, .events = POLLIN };
      uint64_t count;
      gsize n;

      last = atomic_load_explicit (&self->stopping, memory_order_acquire);
      if (!last && poll (&pfd, 1, 100) > 0)
        {
          if (read (self->wake_fd, &count, sizeof count) < 0)
            {
              /* EAGAIN: nothing pending after all. */
            }
        }

      while ((n = lanlan_ring_read (self->ring, in, READ_BLOCK)) > 0)
        {
          gsize done = 0;

          atomic_fetch_add_explicit (&self->captured, n, memory_order_relaxed);

          if (atomic_load_explicit (&self->muted, memory_order_relaxed))
            {
              store_float (&self->level_rms, 0.0f);
              store_float (&self->level_peak, 0.0f);
              continue;
            }

          measure_level (self, in, n);

          while (done < n)
            {
              gsize used = 0;
              gsize produced = lanlan_resampler_process (self->resampler, in + done, n - done,
                                                         &used, out, out_len);

              if (produced > 0 && self->func)
                self->func (out, produced, self->user_data);
              done += used;
              if (used == 0)
                break;
            }
        }
    }

  /* Stopping: hand over the resampler's tail so the last words arrive. */
  if (!atomic_load_explicit (&self->muted, memory_order_relaxed))
    {
      gsize produced;

      while ((produced = lanlan_resampler_drain (self->resampler, out, out_len)) > 0)
        if (self->func)
          self->func (out, produced, self->user_data);
    }
  lanlan_resampler_reset (self->resampler);

  return NULL;
}

static void teardown (LanlanAudioCapture *self,
                      gboolean            notify);

/* --- public ----------------------------------------------------------- */

static void
lanlan_audio_capture_finalize (GObject *object)
{
  LanlanAudioCapture *self = LANLAN_AUDIO_CAPTURE (object);

  teardown (self, FALSE);

  if (self->notify)
    self->notify (self->user_data);
  g_clear_pointer (&self->resampler, lanlan_resampler_free);
  g_free (self->source);
  g_free (self->stream_error);

  G_OBJECT_CLASS (lanlan_audio_capture_parent_class)->finalize (object);
}

static void
lanlan_audio_capture_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  LanlanAudioCapture *self = LANLAN_AUDIO_CAPTURE (object);

  switch (prop_id)
    {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, lanlan_audio_capture_get_available (self));
      break;
    case PROP_ERROR:
      g_value_take_string (value, lanlan_audio_capture_dup_error (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_audio_capture_class_init (LanlanAudioCaptureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lanlan_audio_capture_finalize;
  object_class->get_property = lanlan_audio_capture_get_property;

  /**
   * LanlanAudioCapture:available:
   *
   * %FALSE while the capture runs but PipeWire is gone or its stream
   * failed; it connects again by itself. %TRUE otherwise (stopped
   * included). Notified on the main context of the thread that started
   * the capture.
   */
  properties[PROP_AVAILABLE] =
    g_param_spec_boolean ("available", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanAudioCapture:error:
   *
   * Why the microphone is not available, a sentence for the user; %NULL
   * while it is.
   */
  properties[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_audio_capture_init (LanlanAudioCapture *self)
{
  self->wake_fd = -1;
  atomic_init (&self->stopping, false);
  atomic_init (&self->muted, false);
  atomic_init (&self->level_rms, 0);
  atomic_init (&self->level_peak, 0);
  atomic_init (&self->overruns, 0);
  atomic_init (&self->captured, 0);
}

/**
 * lanlan_audio_capture_new:
 * @source_node: (nullable): node.name of the source to record (or of a
 *   sink, see lanlan_audio_capture_set_capture_sink()); %NULL for the
 *   default source
 * @out_rate: the rate @func receives, e.g. 16000 or 24000
 * @func: called from the worker thread with each resampled block
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the capture is finalized
 *
 * Creates a stopped capture; see lanlan_audio_capture_start().
 */
LanlanAudioCapture *
lanlan_audio_capture_new (const char        *source_node,
                          guint              out_rate,
                          LanlanCaptureFunc  func,
                          gpointer           user_data,
                          GDestroyNotify     notify)
{
  LanlanAudioCapture *self = g_object_new (LANLAN_TYPE_AUDIO_CAPTURE, NULL);

  self->source = g_strdup (source_node);
  self->out_rate = out_rate;
  self->func = func;
  self->user_data = user_data;
  self->notify = notify;

  return self;
}

/**
 * lanlan_audio_capture_set_capture_sink:
 *
 * Record the monitor of the target sink instead of a source (used to
 * check what was played). Takes effect on the next start().
 */
void
lanlan_audio_capture_set_capture_sink (LanlanAudioCapture *self,
                                       gboolean            capture_sink)
{
  g_return_if_fail (LANLAN_IS_AUDIO_CAPTURE (self));
  self->capture_sink = !!capture_sink;
}

static void
teardown (LanlanAudioCapture *self,
          gboolean            notify)
{
  gboolean was_unavailable = FALSE;

  if (self->client)
    {
      was_unavailable = !lanlan_pw_client_get_available (self->client);
      g_clear_pointer (&self->client, lanlan_pw_client_free);
      self->loop = NULL;
    }
  if (self->worker)
    {
      uint64_t one = 1;

      atomic_store_explicit (&self->stopping, true, memory_order_release);
      /* Wake the worker now rather than at its next poll timeout. */
      if (write (self->wake_fd, &one, sizeof one) < 0)
        {
          /* Saturated counter: it is awake already. */
        }
      g_thread_join (g_steal_pointer (&self->worker));
    }
  if (self->wake_fd >= 0)
    {
      close (self->wake_fd);
      self->wake_fd = -1;
    }
  g_clear_pointer (&self->ring, lanlan_ring_free);
  store_float (&self->level_rms, 0.0f);
  store_float (&self->level_peak, 0.0f);

  /* Stopped is not "unavailable": a banner about it can go. */
  if (was_unavailable && notify)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AVAILABLE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
    }
}

/* Loop thread, loop locked. */
static gboolean
connect_stream (gpointer         data,
                struct pw_core  *core,
                GError         **error)
{
  LanlanAudioCapture *self = data;
  struct pw_properties *props;
  guint8 buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof (buffer));
  const struct spa_pod *params[1];
  int res;

  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Audio",
                             PW_KEY_MEDIA_CATEGORY, "Capture",
                             PW_KEY_MEDIA_ROLE, "Communication",
                             PW_KEY_APP_NAME, "Lanlan",
                             PW_KEY_NODE_NAME, "lanlan-capture",
                             PW_KEY_NODE_DESCRIPTION, "Lanlan microphone",
                             NULL);
  pw_properties_setf (props, PW_KEY_NODE_LATENCY, "%u/%u", LANLAN_DEVICE_RATE / 100,
                      LANLAN_DEVICE_RATE);
  if (self->source != NULL && *self->source != '\0')
    pw_properties_set (props, PW_KEY_TARGET_OBJECT, self->source);
  if (self->capture_sink)
    pw_properties_set (props, PW_KEY_STREAM_CAPTURE_SINK, "true");

  self->state = PW_STREAM_STATE_UNCONNECTED;
  self->stream = pw_stream_new (core, "lanlan-capture", props);
  if (self->stream == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_STREAM,
                   _("Could not open the microphone stream: %s"), g_strerror (errno));
      return FALSE;
    }
  spa_zero (self->stream_listener);
  pw_stream_add_listener (self->stream, &self->stream_listener, &stream_events, self);

  params[0] = spa_format_audio_raw_build (&b, SPA_PARAM_EnumFormat,
                                          &SPA_AUDIO_INFO_RAW_INIT (
                                            .format = SPA_AUDIO_FORMAT_S16,
                                            .rate = LANLAN_DEVICE_RATE,
                                            .channels = 1,
                                            .position = { SPA_AUDIO_CHANNEL_MONO }));

  res = pw_stream_connect (self->stream, PW_DIRECTION_INPUT, PW_ID_ANY,
                           PW_STREAM_FLAG_AUTOCONNECT |
                           PW_STREAM_FLAG_MAP_BUFFERS |
                           PW_STREAM_FLAG_RT_PROCESS,
                           params, 1);
  if (res < 0)
    {
      spa_hook_remove (&self->stream_listener);
      /* Destroy first: it waits for the realtime thread, which reads
       * self->stream until then. */
      pw_stream_destroy (self->stream);
      self->stream = NULL;
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_STREAM,
                   _("Could not open the microphone stream: %s"), g_strerror (-res));
      return FALSE;
    }
  return TRUE;
}

/* Loop thread, loop locked. */
static void
disconnect_stream (gpointer data)
{
  LanlanAudioCapture *self = data;

  if (self->stream != NULL)
    {
      spa_hook_remove (&self->stream_listener);
      /* Destroy first: it waits for the realtime thread, which reads
       * self->stream until then. */
      pw_stream_destroy (self->stream);
      self->stream = NULL;
    }
  self->state = PW_STREAM_STATE_UNCONNECTED;
}

static const LanlanPwClientFuncs client_funcs = {
  .connect = connect_stream,
  .disconnect = disconnect_stream,
};

/**
 * lanlan_audio_capture_start:
 *
 * Opens the stream and starts the worker thread. Does nothing if
 * already running. Without PipeWire the capture runs anyway, not
 * #LanlanAudioCapture:available, and records once the daemon is back.
 *
 * Returns: %FALSE with @error set if the rate is unsupported or the
 *   loop thread cannot start.
 */
gboolean
lanlan_audio_capture_start (LanlanAudioCapture  *self,
                            GError             **error)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->client != NULL)
    return TRUE;

  if (self->resampler == NULL)
    {
      self->resampler = lanlan_resampler_new (LANLAN_DEVICE_RATE, self->out_rate, error);
      if (self->resampler == NULL)
        return FALSE;
    }
  lanlan_resampler_reset (self->resampler);

  self->ring = lanlan_ring_new (RING_CAPACITY, sizeof (gint16));
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd < 0)
    {
      int saved = errno;

      teardown (self, TRUE);
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_FAILED,
                   "eventfd: %s", g_strerror (saved));
      return FALSE;
    }
  atomic_store (&self->stopping, false);

  self->client = lanlan_pw_client_new ("lanlan-capture", G_OBJECT (self),
                                       properties[PROP_AVAILABLE], properties[PROP_ERROR],
                                       &client_funcs, self, error);
  if (self->client == NULL)
    {
      teardown (self, TRUE);
      return FALSE;
    }
  self->loop = lanlan_pw_client_get_thread_loop (self->client);

  self->worker = g_thread_new ("lanlan-capture-worker", worker_main, self);

  if (!lanlan_pw_client_start (self->client, error))
    {
      teardown (self, TRUE);
      return FALSE;
    }

  {
    gint64 deadline = g_get_monotonic_time () + 3 * G_TIME_SPAN_SECOND;

    pw_thread_loop_lock (self->loop);
    while (self->stream != NULL &&
           (self->state == PW_STREAM_STATE_UNCONNECTED ||
            self->state == PW_STREAM_STATE_CONNECTING) &&
           g_get_monotonic_time () < deadline)
      pw_thread_loop_timed_wait (self->loop, 1);
    pw_thread_loop_unlock (self->loop);
  }

  return TRUE;
}

/**
 * lanlan_audio_capture_stop:
 *
 * Closes the stream; audio already captured (and the resampler's tail)
 * is still delivered before this returns.
 */
void
lanlan_audio_capture_stop (LanlanAudioCapture *self)
{
  g_return_if_fail (LANLAN_IS_AUDIO_CAPTURE (self));
  teardown (self, TRUE);
}

gboolean
lanlan_audio_capture_is_running (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), FALSE);
  return self->client != NULL;
}

/**
 * lanlan_audio_capture_get_available:
 *
 * Returns: the #LanlanAudioCapture:available property
 */
gboolean
lanlan_audio_capture_get_available (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), FALSE);
  return self->client == NULL || lanlan_pw_client_get_available (self->client);
}

/**
 * lanlan_audio_capture_dup_error:
 *
 * Returns: (transfer full) (nullable): the #LanlanAudioCapture:error property
 */
char *
lanlan_audio_capture_dup_error (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), NULL);
  return self->client != NULL ? lanlan_pw_client_dup_error (self->client) : NULL;
}

void
lanlan_audio_capture_set_muted (LanlanAudioCapture *self,
                                gboolean            muted)
{
  g_return_if_fail (LANLAN_IS_AUDIO_CAPTURE (self));
  atomic_store_explicit (&self->muted, !!muted, memory_order_relaxed);
}

gboolean
lanlan_audio_capture_get_muted (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), FALSE);
  return atomic_load_explicit (&self->muted, memory_order_relaxed);
}

/**
 * lanlan_audio_capture_get_level:
 * @peak: (out) (optional): peak of the last 10 ms block, 0..1
 *
 * Lock-free; safe from any thread (e.g. a UI tick callback).
 *
 * Returns: RMS of the last 10 ms block, 0..1 (0 when muted or stopped)
 */
float
lanlan_audio_capture_get_level (LanlanAudioCapture *self,
                                float              *peak)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), 0.0f);

  if (peak)
    *peak = load_float (&self->level_peak);
  return load_float (&self->level_rms);
}

/**
 * lanlan_audio_capture_get_overruns:
 *
 * Returns: realtime cycles that found the ring full and lost audio
 *   (the worker fell more than 2.7 s behind).
 */
guint64
lanlan_audio_capture_get_overruns (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), 0);
  return atomic_load_explicit (&self->overruns, memory_order_relaxed);
}

/**
 * lanlan_audio_capture_get_captured:
 *
 * Returns: 48 kHz samples taken from the device so far (muted included)
 */
guint64
lanlan_audio_capture_get_captured (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), 0);
  return atomic_load_explicit (&self->captured, memory_order_relaxed);
}

const char *
lanlan_audio_capture_get_source (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), NULL);
  return self->source;
}

guint
lanlan_audio_capture_get_out_rate (LanlanAudioCapture *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_CAPTURE (self), 0);
  return self->out_rate;
}

/**
 * lanlan_audio_level_to_dbfs:
 *
 * Returns: @level (0..1) in dBFS, floored at -100.
 */
float
lanlan_audio_level_to_dbfs (float level)
{
  if (level <= 1e-5f)
    return -100.0f;
  return 20.0f * log10f (level);
}
