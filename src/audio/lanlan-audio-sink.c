/* lanlan-audio-sink.c — where a session's speech goes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-audio-sink.h"

G_DEFINE_INTERFACE (LanlanAudioSink, lanlan_audio_sink, G_TYPE_OBJECT)

static void
lanlan_audio_sink_default_init (LanlanAudioSinkInterface *iface)
{
}

gsize
lanlan_audio_sink_write (LanlanAudioSink *self,
                         const gint16    *pcm,
                         gsize            n_samples)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_SINK (self), 0);
  return LANLAN_AUDIO_SINK_GET_IFACE (self)->write (self, pcm, n_samples);
}

void
lanlan_audio_sink_flush (LanlanAudioSink *self)
{
  g_return_if_fail (LANLAN_IS_AUDIO_SINK (self));
  LANLAN_AUDIO_SINK_GET_IFACE (self)->flush (self);
}

guint64
lanlan_audio_sink_get_played (LanlanAudioSink *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_SINK (self), 0);
  return LANLAN_AUDIO_SINK_GET_IFACE (self)->get_played (self);
}

void
lanlan_audio_sink_reset_played (LanlanAudioSink *self)
{
  g_return_if_fail (LANLAN_IS_AUDIO_SINK (self));
  LANLAN_AUDIO_SINK_GET_IFACE (self)->reset_played (self);
}

gsize
lanlan_audio_sink_get_queued (LanlanAudioSink *self)
{
  g_return_val_if_fail (LANLAN_IS_AUDIO_SINK (self), 0);
  return LANLAN_AUDIO_SINK_GET_IFACE (self)->get_queued (self);
}
