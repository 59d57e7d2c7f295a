/* lanlan-audio-playback.c — a character's voice out through PipeWire
 *
 * A LanlanAudioSink backed by a pw_stream on its own pw_thread_loop at
 * 48 kHz (mono or stereo). The session thread calls write() with 24 kHz
 * PCM16; it is resampled (libsoxr, HQ, streaming) and pushed into a
 * lock-free SPSC ring. The realtime process callback only pops from the
 * ring: it never locks, logs or allocates. When the ring runs dry it
 * plays silence and, unless the stream had cleanly ended, counts an
 * underrun.
 *
 * Barge-in: flush() records the ring's write position and publishes it
 * as an atomic request; the next process cycle moves the read position
 * there, so queued speech stops within one quantum and audio written
 * after the flush still plays.
 *
 * soxr holds back a filter's worth of input until it sees more, so a
 * timer on the (non-realtime) loop thread pushes that tail out once
 * write() has gone quiet and the ring is nearly empty. The producer side
 * (resampler, overflow buffer, ring writes) is guarded by a mutex that
 * only write(), flush() and that timer take, never the realtime thread.
 *
 * Idle costs nothing: the stream is connected inactive (linked, but not
 * scheduled by the graph) and the timer is off. The first write() wakes
 * the loop thread through an event, which activates the stream and arms
 * the timer; what was written waits in the ring, so nothing is lost. Once
 * the queue has been empty for IDLE_PAUSE_US the loop thread pauses the
 * stream again and disarms the timer. A paused stream also lets the
 * graph, and an echo canceller in it, stop.
 *
 * set_target() moves the playback to another sink while it plays: the
 * loop thread replaces the stream with one linked to the new target and
 * leaves the ring alone, so queued speech goes on there. The stream
 * runs only while linked (node.want-driver off): between the two links
 * speech waits in the ring instead of being played to no one.
 *
 * The realtime thread also publishes the mean square of each cycle it
 * plays (one atomic store); get_level() turns it into an RMS level for
 * the avatar, and "running" (notified on the main context) says when
 * there is a level worth polling.
 *
 * If PipeWire goes away, the object becomes unavailable ("available" and
 * "error" notify on the creating thread's main context), drops what was
 * queued and what is written meanwhile (stale speech is not played
 * later), and connects again by itself when the daemon is back
 * (LanlanPwClient).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>
#include <spa/param/audio/format-utils.h>

#include "lanlan-audio-playback.h"
#include "lanlan-audio-private.h"
#include "lanlan-resampler.h"
#include "lanlan-ring.h"

/* About 43 s at 48 kHz: a whole reply streamed faster than realtime. */
#define RING_CAPACITY   (1u << 21)
/* Kept free in the ring so resampler output never overshoots it. */
#define RING_MARGIN     4096
#define WRITE_CHUNK     2048
/* Push the resampler tail out after this much quiet... */
#define TAIL_IDLE_US    (30 * G_TIME_SPAN_MILLISECOND)
/* ...once fewer than this many device samples are left to play. */
#define TAIL_LOW_FILL   (LANLAN_DEVICE_RATE / 20)
#define TIMER_PERIOD_NS (10 * SPA_NSEC_PER_MSEC)
/* Pause the stream after the queue has been empty this long. */
#define IDLE_PAUSE_US   (1000 * G_TIME_SPAN_MILLISECOND)
#define NO_FLUSH        UINT64_MAX

enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_ERROR,
  PROP_RUNNING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

struct _LanlanAudioPlayback
{
  GObject parent_instance;

  char   *target;
  guint   channels;

  LanlanPwClient        *client;
  struct pw_thread_loop *loop;
  struct pw_stream      *stream;
  struct spa_hook        stream_listener;
  struct spa_source     *tail_timer;
  struct spa_source     *wake_event;
  struct spa_source     *relink_event;
  enum pw_stream_state   state;
  char                  *stream_error;
  /* Loop thread. */
  bool                   active;       /* stream set active, timer armed */
  gint64                 quiet_since;  /* queue first seen empty, or 0 */
  guint64                activations;

  _Atomic bool     want_active;  /* write() asked for the stream to run */
  _Atomic bool     connected;    /* a stream is up; else write() drops */
  _Atomic bool     running;      /* mirrors "active", for other threads */

  LanlanRing *ring;            /* mono int16 at LANLAN_DEVICE_RATE */

  /* Producer side, guarded by producer_lock. */
  GMutex           producer_lock;
  LanlanResampler *resampler;
  gint16          *scratch;
  gsize            scratch_len;
  gint16          *overflow;   /* resampler output that did not fit */
  gsize            overflow_len;
  gsize            overflow_cap;
  gint64           last_write_us;

  /* Shared with the realtime thread. */
  _Atomic uint64_t flush_target;
  _Atomic uint64_t clean_end;  /* ring position where a stream ended cleanly */
  _Atomic uint64_t played;     /* device samples from the ring */
  _Atomic uint64_t played_base;
  _Atomic uint64_t underruns;
  _Atomic uint32_t quantum;
  _Atomic uint32_t mean_square; /* of the last cycle played, in int16² */

  /* Realtime thread only. */
  bool rt_active;
};

static void lanlan_audio_playback_sink_init (LanlanAudioSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanAudioPlayback, lanlan_audio_playback, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (LANLAN_TYPE_AUDIO_SINK,
                                                      lanlan_audio_playback_sink_init))

G_DEFINE_QUARK (lanlan-audio-error-quark, lanlan_audio_error)

/* --- realtime side ------------------------------------------------------ */

static void
on_process (void *data)
{
  LanlanAudioPlayback *self = data;
  struct pw_buffer *b;
  struct spa_data *d;
  uint64_t flush, clean_end;
  gint16 *dst;
  uint32_t n_frames, stride, got = 0;
  uint64_t sum = 0;

  b = pw_stream_dequeue_buffer (self->stream);
  if (b == NULL)
    return;

  d = &b->buffer->datas[0];
  dst = d->data;
  if (dst == NULL)
    {
      pw_stream_queue_buffer (self->stream, b);
      return;
    }

  stride = sizeof (gint16) * self->channels;
  n_frames = d->maxsize / stride;
  if (b->requested > 0)
    n_frames = SPA_MIN (n_frames, (uint32_t) b->requested);

  flush = atomic_exchange_explicit (&self->flush_target, NO_FLUSH, memory_order_acq_rel);
  if (flush != NO_FLUSH)
    {
      lanlan_ring_skip_to (self->ring, flush);
      self->rt_active = false;
    }

  if (self->channels == 1)
    {
      got = lanlan_ring_read (self->ring, dst, n_frames);
      for (uint32_t i = 0; i < got; i++)
        sum += (int32_t) dst[i] * dst[i];
    }
  else
    {
      gint16 tmp[256];

      while (got < n_frames)
        {
          uint32_t want = SPA_MIN (n_frames - got, (uint32_t) G_N_ELEMENTS (tmp));
          uint32_t n = lanlan_ring_read (self->ring, tmp, want);

          for (uint32_t i = 0; i < n; i++)
            {
              sum += (int32_t) tmp[i] * tmp[i];
              for (uint32_t c = 0; c < self->channels; c++)
                dst[(got + i) * self->channels + c] = tmp[i];
            }
          got += n;
          if (n < want)
            break;
        }
    }

  if (got < n_frames)
    {
      memset (dst + (gsize) got * self->channels, 0, (gsize) (n_frames - got) * stride);

      clean_end = atomic_load_explicit (&self->clean_end, memory_order_acquire);
      if ((got > 0 || self->rt_active) &&
          lanlan_ring_get_read_pos (self->ring) != clean_end)
        atomic_fetch_add_explicit (&self->underruns, 1, memory_order_relaxed);
    }
  self->rt_active = (got == n_frames);

  atomic_fetch_add_explicit (&self->played, got, memory_order_release);
  atomic_store_explicit (&self->quantum, n_frames, memory_order_relaxed);
  /* The silence that filled the cycle counts: it is what was heard. */
  atomic_store_explicit (&self->mean_square, n_frames ? (uint32_t) (sum / n_frames) : 0,
                         memory_order_relaxed);

  d->chunk->offset = 0;
  d->chunk->stride = stride;
  d->chunk->size = n_frames * stride;
  pw_stream_queue_buffer (self->stream, b);
}

/* --- loop thread (not realtime) ----------------------------------------- */

static void
set_timer (LanlanAudioPlayback *self,
           gboolean             on)
{
  struct timespec ts = { .tv_sec = 0, .tv_nsec = on ? TIMER_PERIOD_NS : 0 };

  pw_loop_update_timer (pw_thread_loop_get_loop (self->loop), self->tail_timer,
                        on ? &ts : NULL, on ? &ts : NULL, false);
}

/* Loop thread: "running" for other threads, notified on the main context. */
static void
set_running (LanlanAudioPlayback *self,
             bool                 running)
{
  /* No client: being disposed (g_clear_pointer() cleared it first). */
  if (atomic_exchange_explicit (&self->running, running, memory_order_acq_rel) != running &&
      self->client != NULL)
    lanlan_pw_client_notify (self->client, properties[PROP_RUNNING]);
}

/* Loop thread: run the stream (and the tail timer) or pause both. */
static void
set_active (LanlanAudioPlayback *self,
            bool                 active)
{
  if (self->active == active)
    return;
  self->active = active;
  self->quiet_since = 0;
  if (active)
    self->activations++;
  else
    atomic_store_explicit (&self->mean_square, 0, memory_order_relaxed);
  if (self->stream != NULL)
    pw_stream_set_active (self->stream, active);
  set_timer (self, active);
  set_running (self, active);
}

static void
on_state_changed (void                 *data,
                  enum pw_stream_state  old,
                  enum pw_stream_state  state,
                  const char           *error)
{
  LanlanAudioPlayback *self = data;

  self->state = state;
  if (state == PW_STREAM_STATE_ERROR)
    {
      g_autofree char *msg = NULL;

      g_free (self->stream_error);
      self->stream_error = g_strdup (error ? error : "unknown error");
      msg = g_strdup_printf (_("The playback stream failed: %s"), self->stream_error);
      atomic_store_explicit (&self->connected, false, memory_order_release);
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

/* Producer side: call with producer_lock held. */
static void
push_overflow (LanlanAudioPlayback *self)
{
  gsize n;

  if (self->overflow_len == 0)
    return;

  n = lanlan_ring_write (self->ring, self->overflow, self->overflow_len);
  memmove (self->overflow, self->overflow + n, (self->overflow_len - n) * sizeof (gint16));
  self->overflow_len -= n;
}

static void
push_samples (LanlanAudioPlayback *self,
              const gint16        *pcm,
              gsize                n)
{
  gsize written = 0;

  if (self->overflow_len == 0)
    written = lanlan_ring_write (self->ring, pcm, n);

  if (written < n)
    {
      gsize rest = n - written;

      if (self->overflow_len + rest > self->overflow_cap)
        {
          self->overflow_cap = MAX (self->overflow_cap * 2, self->overflow_len + rest);
          self->overflow = g_renew (gint16, self->overflow, self->overflow_cap);
        }
      memcpy (self->overflow + self->overflow_len, pcm + written, rest * sizeof (gint16));
      self->overflow_len += rest;
    }
}

static void
drain_tail_locked (LanlanAudioPlayback *self)
{
  gsize n;

  while ((n = lanlan_resampler_drain (self->resampler, self->scratch, self->scratch_len)) > 0)
    push_samples (self, self->scratch, n);
  lanlan_resampler_reset (self->resampler);
}

static gboolean
queue_empty_locked (LanlanAudioPlayback *self)
{
  return lanlan_ring_read_space (self->ring) == 0 &&
         self->overflow_len == 0 &&
         !lanlan_resampler_is_pending (self->resampler) &&
         atomic_load_explicit (&self->flush_target, memory_order_acquire) == NO_FLUSH;
}

/* Loop thread, every 10 ms while the stream runs. */
static void
on_tail_timer (void     *data,
               uint64_t  expirations)
{
  LanlanAudioPlayback *self = data;
  gint64 now = g_get_monotonic_time ();

  if (!g_mutex_trylock (&self->producer_lock))
    return;

  push_overflow (self);
  if (lanlan_resampler_is_pending (self->resampler) &&
      now - self->last_write_us >= TAIL_IDLE_US &&
      lanlan_ring_read_space (self->ring) + self->overflow_len < TAIL_LOW_FILL)
    {
      drain_tail_locked (self);
      push_overflow (self);
      if (self->overflow_len == 0)
        atomic_store_explicit (&self->clean_end, lanlan_ring_get_write_pos (self->ring),
                               memory_order_release);
    }

  /* Nothing left to play for a while: pause. A write() after this sees
   * want_active cleared (both happen under producer_lock) and wakes us. */
  if (!queue_empty_locked (self))
    self->quiet_since = 0;
  else if (self->quiet_since == 0)
    self->quiet_since = now;
  else if (now - self->quiet_since >= IDLE_PAUSE_US)
    {
      atomic_store_explicit (&self->want_active, false, memory_order_release);
      set_active (self, false);
      /* Empty, the producer locked out, the realtime side reading
       * nothing: the old speech's pages can go. */
      lanlan_ring_release (self->ring);
    }

  g_mutex_unlock (&self->producer_lock);
}

/* Loop thread: write() wants the stream running. */
static void
on_wake (void     *data,
         uint64_t  count)
{
  LanlanAudioPlayback *self = data;

  if (atomic_load_explicit (&self->want_active, memory_order_acquire))
    set_active (self, true);
}

/* --- LanlanAudioSink ------------------------------------------------------ */

static gsize
lanlan_audio_playback_write (LanlanAudioSink *sink,
                             const gint16    *pcm,
                             gsize            n_samples)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (sink);
  gsize space, accept, done = 0;

  g_return_val_if_fail (pcm != NULL || n_samples == 0, 0);

  if (n_samples == 0)
    return 0;

  /* No PipeWire: speech is dropped rather than played stale later. */
  if (!atomic_load_explicit (&self->connected, memory_order_acquire))
    return n_samples;

  g_mutex_lock (&self->producer_lock);

  push_overflow (self);
  if (self->overflow_len > 0)
    {
      g_mutex_unlock (&self->producer_lock);
      return 0;
    }

  space = lanlan_ring_write_space (self->ring);
  space = space > RING_MARGIN ? space - RING_MARGIN : 0;
  accept = MIN (n_samples, space * LANLAN_MODEL_RATE / LANLAN_DEVICE_RATE);

  while (done < accept)
    {
      gsize chunk = MIN (accept - done, (gsize) WRITE_CHUNK);
      gsize used = 0, out;

      out = lanlan_resampler_process (self->resampler, pcm + done, chunk, &used,
                                      self->scratch, self->scratch_len);
      push_samples (self, self->scratch, out);
      done += used;
      if (used == 0)
        break;
    }
  self->last_write_us = g_get_monotonic_time ();

  /* Paused: wake the loop thread to run the stream. The samples wait in
   * the ring meanwhile, so the first syllable is not lost. */
  if (done > 0 && !atomic_exchange_explicit (&self->want_active, true, memory_order_acq_rel))
    pw_loop_signal_event (pw_thread_loop_get_loop (self->loop), self->wake_event);

  g_mutex_unlock (&self->producer_lock);

  return done;
}

static void
lanlan_audio_playback_flush (LanlanAudioSink *sink)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (sink);
  uint64_t pos;

  g_mutex_lock (&self->producer_lock);
  lanlan_resampler_reset (self->resampler);
  self->overflow_len = 0;
  pos = lanlan_ring_get_write_pos (self->ring);
  atomic_store_explicit (&self->clean_end, pos, memory_order_release);
  atomic_store_explicit (&self->flush_target, pos, memory_order_release);
  g_mutex_unlock (&self->producer_lock);
}

static guint64
lanlan_audio_playback_get_played (LanlanAudioSink *sink)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (sink);
  uint64_t played = atomic_load_explicit (&self->played, memory_order_acquire);
  uint64_t base = atomic_load_explicit (&self->played_base, memory_order_acquire);

  return (played - base) * LANLAN_MODEL_RATE / LANLAN_DEVICE_RATE;
}

static void
lanlan_audio_playback_reset_played (LanlanAudioSink *sink)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (sink);

  atomic_store_explicit (&self->played_base,
                         atomic_load_explicit (&self->played, memory_order_acquire),
                         memory_order_release);
}

static gsize
queued_device_samples (LanlanAudioPlayback *self)
{
  uint64_t flush;
  gsize n;

  g_mutex_lock (&self->producer_lock);
  flush = atomic_load_explicit (&self->flush_target, memory_order_acquire);
  if (flush != NO_FLUSH)
    /* A flush the realtime thread has not handled yet already counts. */
    n = (gsize) (lanlan_ring_get_write_pos (self->ring) - flush);
  else
    n = lanlan_ring_read_space (self->ring);
  n += self->overflow_len;
  if (lanlan_resampler_is_pending (self->resampler))
    n += (gsize) lanlan_resampler_get_delay (self->resampler);
  g_mutex_unlock (&self->producer_lock);

  return n;
}

static gsize
lanlan_audio_playback_get_queued (LanlanAudioSink *sink)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (sink);

  return queued_device_samples (self) * LANLAN_MODEL_RATE / LANLAN_DEVICE_RATE;
}

static void
lanlan_audio_playback_sink_init (LanlanAudioSinkInterface *iface)
{
  iface->write = lanlan_audio_playback_write;
  iface->flush = lanlan_audio_playback_flush;
  iface->get_played = lanlan_audio_playback_get_played;
  iface->reset_played = lanlan_audio_playback_reset_played;
  iface->get_queued = lanlan_audio_playback_get_queued;
}

/* --- connection (loop thread, loop locked) ------------------------------- */

static struct pw_properties *
stream_props (LanlanAudioPlayback *self)
{
  struct pw_properties *props;

  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Audio",
                             PW_KEY_MEDIA_CATEGORY, "Playback",
                             PW_KEY_MEDIA_ROLE, "Communication",
                             PW_KEY_APP_NAME, "Lanlan",
                             PW_KEY_NODE_NAME, "lanlan-playback",
                             PW_KEY_NODE_DESCRIPTION, "Lanlan voice",
                             NULL);
  /* 10 ms quanta keep barge-in snappy without waking the graph too often. */
  pw_properties_setf (props, PW_KEY_NODE_LATENCY, "%u/%u", LANLAN_DEVICE_RATE / 100,
                      LANLAN_DEVICE_RATE);
  if (self->target != NULL && *self->target != '\0')
    pw_properties_set (props, PW_KEY_TARGET_OBJECT, self->target);
  /* Run only when linked to a sink: a stream that is not linked yet (it
   * has just been moved by set_target(), or the sink went away and the
   * session manager has not moved it) keeps its speech queued instead of
   * playing it to no one under a driver of its own. */
  pw_properties_set (props, PW_KEY_NODE_WANT_DRIVER, "false");
  return props;
}

/* Loop locked: makes self->stream on @core and links it, running if
 * @active (else linked but not scheduled). */
static gboolean
open_stream (LanlanAudioPlayback  *self,
             struct pw_core       *core,
             bool                  active,
             GError              **error)
{
  guint8 buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof (buffer));
  const struct spa_pod *params[1];
  struct spa_audio_info_raw info;
  int res;

  self->state = PW_STREAM_STATE_UNCONNECTED;
  self->stream = pw_stream_new (core, "lanlan-playback", stream_props (self));
  if (self->stream == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_STREAM,
                   _("Could not open the playback stream: %s"), g_strerror (errno));
      return FALSE;
    }
  spa_zero (self->stream_listener);
  pw_stream_add_listener (self->stream, &self->stream_listener, &stream_events, self);

  info = (struct spa_audio_info_raw) {
    .format = SPA_AUDIO_FORMAT_S16,
    .rate = LANLAN_DEVICE_RATE,
    .channels = self->channels,
  };
  if (self->channels == 1)
    info.position[0] = SPA_AUDIO_CHANNEL_MONO;
  else
    {
      info.position[0] = SPA_AUDIO_CHANNEL_FL;
      info.position[1] = SPA_AUDIO_CHANNEL_FR;
    }
  params[0] = spa_format_audio_raw_build (&b, SPA_PARAM_EnumFormat, &info);

  self->rt_active = false;   /* the realtime thread does not run yet */
  res = pw_stream_connect (self->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
                           PW_STREAM_FLAG_AUTOCONNECT |
                           PW_STREAM_FLAG_MAP_BUFFERS |
                           PW_STREAM_FLAG_RT_PROCESS |
                           (active ? 0 : PW_STREAM_FLAG_INACTIVE),
                           params, 1);
  if (res < 0)
    {
      spa_hook_remove (&self->stream_listener);
      /* Destroy first: it waits for the realtime thread, which reads
       * self->stream until then. */
      pw_stream_destroy (self->stream);
      self->stream = NULL;
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_STREAM,
                   _("Could not open the playback stream: %s"), g_strerror (-res));
      return FALSE;
    }
  return TRUE;
}

static gboolean
connect_stream (gpointer         data,
                struct pw_core  *core,
                GError         **error)
{
  LanlanAudioPlayback *self = data;

  /* Linked but inactive until there is something to play. */
  self->active = false;
  set_running (self, false);
  atomic_store_explicit (&self->want_active, false, memory_order_release);
  set_timer (self, FALSE);
  if (!open_stream (self, core, false, error))
    return FALSE;

  atomic_store_explicit (&self->connected, true, memory_order_release);
  return TRUE;
}

/* Loop thread, signalled by set_target(): the same stream state on a
 * new stream linked to the new target. The ring, the resampler and what
 * write() queues meanwhile stay as they are: speech goes on where it
 * was, on the new device, after the time it takes to link. */
static void
on_relink (void     *data,
           uint64_t  count)
{
  LanlanAudioPlayback *self = data;
  g_autoptr(GError) error = NULL;
  struct pw_core *core;

  /* Not connected: the next connection takes the new target. */
  if (self->stream == NULL)
    return;

  core = pw_stream_get_core (self->stream);
  spa_hook_remove (&self->stream_listener);
  /* Waits for the realtime thread, which reads self->stream until then. */
  pw_stream_destroy (self->stream);
  self->stream = NULL;
  if (!open_stream (self, core, self->active, &error))
    {
      atomic_store_explicit (&self->connected, false, memory_order_release);
      lanlan_pw_client_lost (self->client, error->message);
    }
}

static void
disconnect_stream (gpointer data)
{
  LanlanAudioPlayback *self = data;

  atomic_store_explicit (&self->connected, false, memory_order_release);
  if (self->stream != NULL)
    {
      spa_hook_remove (&self->stream_listener);
      /* Destroy first: it waits for the realtime thread, which reads
       * self->stream until then. */
      pw_stream_destroy (self->stream);
      self->stream = NULL;
    }
  self->state = PW_STREAM_STATE_UNCONNECTED;
  self->active = false;
  set_running (self, false);
  if (self->tail_timer != NULL)
    set_timer (self, FALSE);
  /* What was queued is stale by the time a new stream plays. */
  lanlan_audio_sink_flush (LANLAN_AUDIO_SINK (self));
}

static const LanlanPwClientFuncs client_funcs = {
  .connect = connect_stream,
  .disconnect = disconnect_stream,
};

/* --- GObject ------------------------------------------------------------- */

static void
lanlan_audio_playback_dispose (GObject *object)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (object);

  if (self->client != NULL)
    {
      pw_thread_loop_lock (self->loop);
      if (self->tail_timer)
        pw_loop_destroy_source (pw_thread_loop_get_loop (self->loop), self->tail_timer);
      self->tail_timer = NULL;
      if (self->wake_event)
        pw_loop_destroy_source (pw_thread_loop_get_loop (self->loop), self->wake_event);
      self->wake_event = NULL;
      if (self->relink_event)
        pw_loop_destroy_source (pw_thread_loop_get_loop (self->loop), self->relink_event);
      self->relink_event = NULL;
      pw_thread_loop_unlock (self->loop);
      g_clear_pointer (&self->client, lanlan_pw_client_free);
      self->loop = NULL;
    }

  G_OBJECT_CLASS (lanlan_audio_playback_parent_class)->dispose (object);
}

static void
lanlan_audio_playback_finalize (GObject *object)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (object);

  g_clear_pointer (&self->ring, lanlan_ring_free);
  g_clear_pointer (&self->resampler, lanlan_resampler_free);
  g_free (self->scratch);
  g_free (self->overflow);
  g_free (self->target);
  g_free (self->stream_error);
  g_mutex_clear (&self->producer_lock);

  G_OBJECT_CLASS (lanlan_audio_playback_parent_class)->finalize (object);
}

static void
lanlan_audio_playback_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  LanlanAudioPlayback *self = LANLAN_AUDIO_PLAYBACK (object);

  switch (prop_id)
    {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, lanlan_audio_playback_get_available (self));
      break;
    case PROP_ERROR:
      g_value_take_string (value, lanlan_audio_playback_dup_error (self));
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, lanlan_audio_playback_get_running (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_audio_playback_class_init (LanlanAudioPlaybackClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_audio_playback_dispose;
  object_class->finalize = lanlan_audio_playback_finalize;
  object_class->get_property = lanlan_audio_playback_get_property;

  /**
   * LanlanAudioPlayback:available:
   *
   * Whether the stream is connected to PipeWire. It goes %FALSE when
   * the daemon goes away or the stream fails, and %TRUE again once the
   * playback has connected again by itself. Notified on the main
   * context of the thread that made the playback.
   */
  properties[PROP_AVAILABLE] =
    g_param_spec_boolean ("available", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanAudioPlayback:error:
   *
   * Why the playback is not available, a sentence for the user; %NULL
   * while it is.
   */
  properties[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanAudioPlayback:running:
   *
   * Whether the stream runs (something is being played, or was less
   * than a second ago); %FALSE while it idles paused. Notified on the
   * main context of the thread that made the playback.
   */
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lanlan_audio_playback_init (LanlanAudioPlayback *self)
{
  g_mutex_init (&self->producer_lock);
  atomic_init (&self->flush_target, NO_FLUSH);
  atomic_init (&self->clean_end, 0);
  atomic_init (&self->played, 0);
  atomic_init (&self->played_base, 0);
  atomic_init (&self->underruns, 0);
  atomic_init (&self->quantum, 0);
  atomic_init (&self->mean_square, 0);
  atomic_init (&self->running, false);
  atomic_init (&self->want_active, false);
  atomic_init (&self->connected, false);
}

/* Waits (loop locked) until the stream leaves CONNECTING or @timeout_ms. */
static void
wait_for_stream (LanlanAudioPlayback *self,
                 guint                timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (self->stream != NULL &&
         (self->state == PW_STREAM_STATE_CONNECTING ||
          self->state == PW_STREAM_STATE_UNCONNECTED))
    {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0)
        break;
      pw_thread_loop_timed_wait (self->loop, MAX (1, left / G_TIME_SPAN_SECOND + 1));
      if (g_get_monotonic_time () >= deadline)
        break;
    }
}

/**
 * lanlan_audio_playback_new:
 * @target_node: (nullable): node.name of the sink to play to, %NULL for
 *   the default sink
 * @channels: 1 or 2 output channels (mono speech is copied to both)
 *
 * Connects a playback stream at 48 kHz, paused until the first write(),
 * and starts its loop thread. If PipeWire is not running, the playback
 * is made anyway, not #LanlanAudioPlayback:available, and connects once
 * the daemon is there.
 *
 * Returns: (transfer full) (nullable): the sink, or %NULL with @error
 *   set when the loop thread or the resampler cannot be made.
 */
LanlanAudioPlayback *
lanlan_audio_playback_new (const char  *target_node,
                           guint        channels,
                           GError     **error)
{
  g_autoptr(LanlanAudioPlayback) self = NULL;

  g_return_val_if_fail (channels == 1 || channels == 2, NULL);

  self = g_object_new (LANLAN_TYPE_AUDIO_PLAYBACK, NULL);
  self->target = g_strdup (target_node);
  self->channels = channels;
  self->ring = lanlan_ring_new (RING_CAPACITY, sizeof (gint16));
  self->resampler = lanlan_resampler_new (LANLAN_MODEL_RATE, LANLAN_DEVICE_RATE, error);
  if (self->resampler == NULL)
    return NULL;
  self->scratch_len = lanlan_resampler_get_max_output (self->resampler, WRITE_CHUNK);
  self->scratch = g_new (gint16, self->scratch_len);
  self->overflow_cap = 8192;
  self->overflow = g_new (gint16, self->overflow_cap);

  self->client = lanlan_pw_client_new ("lanlan-playback", G_OBJECT (self),
                                       properties[PROP_AVAILABLE], properties[PROP_ERROR],
                                       &client_funcs, self, error);
  if (self->client == NULL)
    return NULL;
  self->loop = lanlan_pw_client_get_thread_loop (self->client);

  pw_thread_loop_lock (self->loop);
  self->tail_timer = pw_loop_add_timer (pw_thread_loop_get_loop (self->loop),
                                        on_tail_timer, self);
  self->wake_event = pw_loop_add_event (pw_thread_loop_get_loop (self->loop), on_wake, self);
  self->relink_event = pw_loop_add_event (pw_thread_loop_get_loop (self->loop), on_relink, self);
  pw_thread_loop_unlock (self->loop);

  if (!lanlan_pw_client_start (self->client, error))
    return NULL;

  pw_thread_loop_lock (self->loop);
  wait_for_stream (self, 3000);
  pw_thread_loop_unlock (self->loop);

  return g_steal_pointer (&self);
}

/**
 * lanlan_audio_playback_get_available:
 *
 * Returns: the #LanlanAudioPlayback:available property
 */
gboolean
lanlan_audio_playback_get_available (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), FALSE);
  return self->client != NULL && lanlan_pw_client_get_available (self->client);
}

/**
 * lanlan_audio_playback_dup_error:
 *
 * Returns: (transfer full) (nullable): the #LanlanAudioPlayback:error property
 */
char *
lanlan_audio_playback_dup_error (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), NULL);
  return self->client != NULL ? lanlan_pw_client_dup_error (self->client) : NULL;
}

/**
 * lanlan_audio_playback_get_running:
 *
 * Returns: whether the stream is active (something is being played, or
 *   was less than a second ago); %FALSE while it idles paused.
 */
gboolean
lanlan_audio_playback_get_running (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), FALSE);
  return atomic_load_explicit (&self->running, memory_order_acquire);
}

/**
 * lanlan_audio_playback_get_level:
 *
 * Any thread; cheap (an atomic read), for meters and animation.
 *
 * Returns: the RMS of the last cycle the device played, 0 (silence) to 1
 *   (full scale); 0 while the stream idles paused.
 */
double
lanlan_audio_playback_get_level (LanlanAudioPlayback *self)
{
  uint32_t ms;

  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), 0);

  if (!atomic_load_explicit (&self->running, memory_order_acquire))
    return 0;
  ms = atomic_load_explicit (&self->mean_square, memory_order_relaxed);
  return MIN (1.0, sqrt ((double) ms) / 32768.0);
}

/**
 * lanlan_audio_playback_get_target:
 *
 * Returns: (nullable): the node.name of the sink it plays to, %NULL for
 *   the default sink
 */
const char *
lanlan_audio_playback_get_target (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), NULL);
  return self->target;
}

/**
 * lanlan_audio_playback_set_target:
 * @target_node: (nullable): node.name of the sink to play to, %NULL (or
 *   "") for the default sink
 *
 * Moves the playback to another sink, while it plays: the stream is
 * linked anew to @target_node on the loop thread, and what is queued,
 * and what is written meanwhile, plays there without a flush (the only
 * gap is the time the link takes). Setting the same name again links
 * anew too, to a node that replaced the old one of that name.
 */
void
lanlan_audio_playback_set_target (LanlanAudioPlayback *self,
                                  const char          *target_node)
{
  g_return_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self));

  if (target_node != NULL && *target_node == '\0')
    target_node = NULL;

  pw_thread_loop_lock (self->loop);
  g_free (self->target);
  self->target = g_strdup (target_node);   /* what stream_props() reads */
  pw_thread_loop_unlock (self->loop);

  /* Not waited for: the caller does not block on the relink. */
  pw_loop_signal_event (pw_thread_loop_get_loop (self->loop), self->relink_event);
}

guint
lanlan_audio_playback_get_channels (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), 0);
  return self->channels;
}

/**
 * lanlan_audio_playback_get_underruns:
 *
 * Returns: how many device cycles found the ring short mid-stream and
 *   played (partly) silence. A stream that ends cleanly (its resampler
 *   tail pushed out after write() went quiet, or a flush) does not count.
 */
guint64
lanlan_audio_playback_get_underruns (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), 0);
  return atomic_load_explicit (&self->underruns, memory_order_relaxed);
}

/**
 * lanlan_audio_playback_get_quantum:
 *
 * Returns: device samples asked for in the last cycle (0 before the
 *   first cycle).
 */
guint
lanlan_audio_playback_get_quantum (LanlanAudioPlayback *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), 0);
  return atomic_load_explicit (&self->quantum, memory_order_relaxed);
}

/**
 * lanlan_audio_playback_get_latency_us:
 *
 * Returns: the latency the app adds before a newly written sample
 *   reaches the graph: what is queued (ring, overflow, resampler) plus
 *   one quantum.
 */
gint64
lanlan_audio_playback_get_latency_us (LanlanAudioPlayback *self)
{
  gsize samples;

  g_return_val_if_fail (LANLAN_IS_AUDIO_PLAYBACK (self), 0);

  samples = queued_device_samples (self) + lanlan_audio_playback_get_quantum (self);
  return (gint64) samples * G_USEC_PER_SEC / LANLAN_DEVICE_RATE;
}
