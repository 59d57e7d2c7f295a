/* lanlan-counting-sink.h — an audio sink that plays instantly and counts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lanlan-audio-sink.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_COUNTING_SINK (lanlan_counting_sink_get_type ())
G_DECLARE_FINAL_TYPE (LanlanCountingSink, lanlan_counting_sink, LANLAN, COUNTING_SINK, GObject)

LanlanCountingSink *lanlan_counting_sink_new       (void);
guint64             lanlan_counting_sink_get_total (LanlanCountingSink *self);

G_END_DECLS
