/* lanlan-audio-sink.h — where a session's speech goes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The rate models speak at; sinks resample to the device rate themselves. */
#define LANLAN_MODEL_RATE 24000

#define LANLAN_TYPE_AUDIO_SINK (lanlan_audio_sink_get_type ())
G_DECLARE_INTERFACE (LanlanAudioSink, lanlan_audio_sink, LANLAN, AUDIO_SINK, GObject)

/**
 * LanlanAudioSinkInterface:
 * @write: queue mono PCM16 at %LANLAN_MODEL_RATE; returns how many samples
 *   were accepted (less than @n_samples only when the queue is full).
 *   Called from a session thread; must not block.
 * @flush: drop everything queued but not yet played (barge-in). Takes
 *   effect within one device quantum.
 * @get_played: samples (at %LANLAN_MODEL_RATE) that actually reached the
 *   device since the last lanlan_audio_sink_reset_played().
 * @reset_played: start counting played samples from zero (a new response).
 * @get_queued: samples (at %LANLAN_MODEL_RATE) queued and not yet played.
 *
 * A sink is driven by one session thread at a time; all methods are
 * thread-safe with respect to the device's realtime thread.
 */
struct _LanlanAudioSinkInterface
{
  GTypeInterface parent_iface;

  gsize   (*write)        (LanlanAudioSink *self,
                           const gint16    *pcm,
                           gsize            n_samples);
  void    (*flush)        (LanlanAudioSink *self);
  guint64 (*get_played)   (LanlanAudioSink *self);
  void    (*reset_played) (LanlanAudioSink *self);
  gsize   (*get_queued)   (LanlanAudioSink *self);
};

gsize   lanlan_audio_sink_write        (LanlanAudioSink *self,
                                        const gint16    *pcm,
                                        gsize            n_samples);
void    lanlan_audio_sink_flush        (LanlanAudioSink *self);
guint64 lanlan_audio_sink_get_played   (LanlanAudioSink *self);
void    lanlan_audio_sink_reset_played (LanlanAudioSink *self);
gsize   lanlan_audio_sink_get_queued   (LanlanAudioSink *self);

G_END_DECLS
