/* lanlan-fake-sink.h — an audio sink for tests that plays in simulated time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-audio-sink.h"

G_BEGIN_DECLS

#define FAKE_TYPE_SINK (fake_sink_get_type ())
G_DECLARE_FINAL_TYPE (FakeSink, fake_sink, FAKE, SINK, GObject)

FakeSink *fake_sink_new                (void);
guint64   fake_sink_get_written        (FakeSink *self);   /* all samples ever accepted */
guint     fake_sink_get_n_flushes      (FakeSink *self);
guint64   fake_sink_get_last_played    (FakeSink *self);   /* last get_played() answer */
GArray   *fake_sink_dup_first_values   (FakeSink *self);   /* gint16: first sample of each write */
GArray   *fake_sink_dup_write_times    (FakeSink *self);   /* gint64: monotonic time of each write */
gboolean  fake_sink_is_main_thread_free (FakeSink *self);  /* never written from @main */
void      fake_sink_set_main_thread    (FakeSink *self,
                                        GThread  *thread);

G_END_DECLS
