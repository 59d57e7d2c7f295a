/* lanlan-echo-cancel.h — PipeWire's echo canceller, loaded by the app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define LANLAN_ECHO_CANCEL_SOURCE "lanlan_ec_source"
#define LANLAN_ECHO_CANCEL_SINK   "lanlan_ec_sink"

#define LANLAN_TYPE_ECHO_CANCEL (lanlan_echo_cancel_get_type ())
G_DECLARE_FINAL_TYPE (LanlanEchoCancel, lanlan_echo_cancel, LANLAN, ECHO_CANCEL, GObject)

gboolean          lanlan_echo_cancel_is_available   (void);
LanlanEchoCancel *lanlan_echo_cancel_new            (const char       *source_node,
                                                     const char       *sink_node,
                                                     GError          **error);
const char       *lanlan_echo_cancel_get_source_name (LanlanEchoCancel *self);
const char       *lanlan_echo_cancel_get_sink_name   (LanlanEchoCancel *self);
gboolean          lanlan_echo_cancel_get_ready       (LanlanEchoCancel *self);

G_END_DECLS
