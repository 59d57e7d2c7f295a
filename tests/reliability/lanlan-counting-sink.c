/* lanlan-counting-sink.c — an audio sink that plays instantly and counts
 *
 * Stands in for the PipeWire playback where a test is about sessions,
 * not devices: every sample written counts as played at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-counting-sink.h"

struct _LanlanCountingSink
{
  GObject parent_instance;
  guint64 total;   /* atomic */
  guint64 played;  /* atomic */
};

static void sink_iface_init (LanlanAudioSinkInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LanlanCountingSink, lanlan_counting_sink, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (LANLAN_TYPE_AUDIO_SINK, sink_iface_init))

static gsize
sink_write (LanlanAudioSink *sink,
            const gint16    *pcm,
            gsize            n_samples)
{
  LanlanCountingSink *self = LANLAN_COUNTING_SINK (sink);

  __atomic_add_fetch (&self->total, n_samples, __ATOMIC_SEQ_CST);
  __atomic_add_fetch (&self->played, n_samples, __ATOMIC_SEQ_CST);
  return n_samples;
}

static void
sink_flush (LanlanAudioSink *sink)
{
}

static guint64
sink_get_played (LanlanAudioSink *sink)
{
  return __atomic_load_n (&LANLAN_COUNTING_SINK (sink)->played, __ATOMIC_SEQ_CST);
}

static void
sink_reset_played (LanlanAudioSink *sink)
{
  __atomic_store_n (&LANLAN_COUNTING_SINK (sink)->played, 0, __ATOMIC_SEQ_CST);
}

static gsize
sink_get_queued (LanlanAudioSink *sink)
{
  return 0;
}

static void
sink_iface_init (LanlanAudioSinkInterface *iface)
{
  iface->write = sink_write;
  iface->flush = sink_flush;
  iface->get_played = sink_get_played;
  iface->reset_played = sink_reset_played;
  iface->get_queued = sink_get_queued;
}

static void
lanlan_counting_sink_class_init (LanlanCountingSinkClass *klass)
{
}

static void
lanlan_counting_sink_init (LanlanCountingSink *self)
{
}

LanlanCountingSink *
lanlan_counting_sink_new (void)
{
  return g_object_new (LANLAN_TYPE_COUNTING_SINK, NULL);
}

guint64
lanlan_counting_sink_get_total (LanlanCountingSink *self)
{
  return __atomic_load_n (&self->total, __ATOMIC_SEQ_CST);
}
