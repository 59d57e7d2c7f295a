/* lanlan-fake-sink.c — an audio sink for tests that plays in simulated time
 *
 * Counts everything written and "plays" it at 24 kHz from the first write
 * after a reset or flush, so get_played() and get_queued() move the way a
 * real device's would, without any device. Records the first sample of
 * each write and when it happened, for order checks and latency figures.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-fake-sink.h"

struct _FakeSink
{
  GObject  parent_instance;

  GMutex   lock;
  guint64  written;        /* ever */
  guint64  segment;        /* written since reset/flush */
  guint64  played_before;  /* played in this counting period before segment */
  gint64   segment_start;  /* when the segment started playing; 0: idle */
  guint    n_flushes;
  guint64  last_played;
  GArray  *first_values;
  GArray  *write_times;
  GThread *main_thread;
  gboolean main_thread_used;
};

static void fake_sink_iface_init (LanlanAudioSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeSink, fake_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (LANLAN_TYPE_AUDIO_SINK, fake_sink_iface_init))

/* Samples of the current segment played so far (lock held). */
static guint64
segment_played (FakeSink *self)
{
  guint64 elapsed;

  if (self->segment_start == 0)
    return 0;
  elapsed = (guint64) (g_get_monotonic_time () - self->segment_start) * LANLAN_MODEL_RATE / G_USEC_PER_SEC;
  return MIN (elapsed, self->segment);
}

static gsize
sink_write (LanlanAudioSink *sink,
            const gint16    *pcm,
            gsize            n_samples)
{
  FakeSink *self = FAKE_SINK (sink);
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&self->lock);
  if (self->main_thread != NULL && g_thread_self () == self->main_thread)
    self->main_thread_used = TRUE;
  if (self->segment_start != 0 && segment_played (self) >= self->segment)
    {
      /* Ran dry: a new segment starts now. */
      self->played_before += self->segment;
      self->segment = 0;
      self->segment_start = 0;
    }
  if (self->segment_start == 0)
    self->segment_start = now;
  self->segment += n_samples;
  self->written += n_samples;
  if (n_samples > 0)
    {
      g_array_append_val (self->first_values, pcm[0]);
      g_array_append_val (self->write_times, now);
    }
  g_mutex_unlock (&self->lock);
  return n_samples;
}

static void
sink_flush (LanlanAudioSink *sink)
{
  FakeSink *self = FAKE_SINK (sink);

  g_mutex_lock (&self->lock);
  self->played_before += segment_played (self);
  self->segment = 0;
  self->segment_start = 0;
  self->n_flushes++;
  g_mutex_unlock (&self->lock);
}

static guint64
sink_get_played (LanlanAudioSink *sink)
{
  FakeSink *self = FAKE_SINK (sink);
  guint64 played;

  g_mutex_lock (&self->lock);
  played = self->played_before + segment_played (self);
  self->last_played = played;
  g_mutex_unlock (&self->lock);
  return played;
}

static void
sink_reset_played (LanlanAudioSink *sink)
{
  FakeSink *self = FAKE_SINK (sink);

  g_mutex_lock (&self->lock);
  /* Whatever is still queued keeps playing but no longer counts. */
  {
    guint64 p = segment_played (self);
    self->segment -= p;
    self->segment_start = self->segment > 0 ? g_get_monotonic_time () : 0;
  }
  self->played_before = 0;
  g_mutex_unlock (&self->lock);
}

static gsize
sink_get_queued (LanlanAudioSink *sink)
{
  FakeSink *self = FAKE_SINK (sink);
  gsize queued;

  g_mutex_lock (&self->lock);
  queued = self->segment - segment_played (self);
  g_mutex_unlock (&self->lock);
  return queued;
}

static void
fake_sink_iface_init (LanlanAudioSinkInterface *iface)
{
  iface->write = sink_write;
  iface->flush = sink_flush;
  iface->get_played = sink_get_played;
  iface->reset_played = sink_reset_played;
  iface->get_queued = sink_get_queued;
}

static void
fake_sink_finalize (GObject *object)
{
  FakeSink *self = FAKE_SINK (object);

  g_array_unref (self->first_values);
  g_array_unref (self->write_times);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (fake_sink_parent_class)->finalize (object);
}

static void
fake_sink_class_init (FakeSinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fake_sink_finalize;
}

static void
fake_sink_init (FakeSink *self)
{
  g_mutex_init (&self->lock);
  self->first_values = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->write_times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

FakeSink *
fake_sink_new (void)
{
  return g_object_new (FAKE_TYPE_SINK, NULL);
}

#define GETTER(type, name, expr)          \
  type                                    \
  fake_sink_get_##name (FakeSink *self)   \
  {                                       \
    type v;                               \
    g_mutex_lock (&self->lock);           \
    v = expr;                             \
    g_mutex_unlock (&self->lock);         \
    return v;                             \
  }

GETTER (guint64, written, self->written)
GETTER (guint, n_flushes, self->n_flushes)
GETTER (guint64, last_played, self->last_played)

static GArray *
dup_array (FakeSink *self,
           GArray   *array,
           guint     size)
{
  GArray *copy = g_array_new (FALSE, FALSE, size);

  g_mutex_lock (&self->lock);
  g_array_append_vals (copy, array->data, array->len);
  g_mutex_unlock (&self->lock);
  return copy;
}

GArray *
fake_sink_dup_first_values (FakeSink *self)
{
  return dup_array (self, self->first_values, sizeof (gint16));
}

GArray *
fake_sink_dup_write_times (FakeSink *self)
{
  return dup_array (self, self->write_times, sizeof (gint64));
}

void
fake_sink_set_main_thread (FakeSink *self,
                           GThread  *thread)
{
  self->main_thread = thread;
}

gboolean
fake_sink_is_main_thread_free (FakeSink *self)
{
  gboolean used;

  g_mutex_lock (&self->lock);
  used = self->main_thread_used;
  g_mutex_unlock (&self->lock);
  return !used;
}
