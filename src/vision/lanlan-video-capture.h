/* lanlan-video-capture.h — a PipeWire video stream, sampled into JPEG frames
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-frame-encoder.h"

G_BEGIN_DECLS

#define LANLAN_VIDEO_ERROR (lanlan_video_error_quark ())
GQuark lanlan_video_error_quark (void);

typedef enum {
  LANLAN_VIDEO_ERROR_CONNECT,
  LANLAN_VIDEO_ERROR_FORMAT,
  LANLAN_VIDEO_ERROR_ENDED,
} LanlanVideoError;

#define LANLAN_TYPE_VIDEO_CAPTURE (lanlan_video_capture_get_type ())
G_DECLARE_FINAL_TYPE (LanlanVideoCapture, lanlan_video_capture, LANLAN, VIDEO_CAPTURE, GObject)

LanlanVideoCapture *lanlan_video_capture_new          (int                  pipewire_fd,
                                                       guint32              node_id,
                                                       const char          *target,
                                                       GError             **error);
void                lanlan_video_capture_set_interval (LanlanVideoCapture  *self,
                                                       guint                interval_ms);
guint               lanlan_video_capture_get_interval (LanlanVideoCapture  *self);
void                lanlan_video_capture_stop         (LanlanVideoCapture  *self);
gboolean            lanlan_video_capture_get_running  (LanlanVideoCapture  *self);
void                lanlan_video_capture_get_size     (LanlanVideoCapture  *self,
                                                       guint               *width,
                                                       guint               *height);
LanlanFrameEncoder *lanlan_video_capture_get_encoder  (LanlanVideoCapture  *self);

/* Signals, on the thread-default main context of the caller of _new():
 *   "frame"   (GBytes *jpeg, guint width, guint height)
 *   "stopped" (GError *error) — the stream ended (NULL: by stop())
 * Property "running".
 */

G_END_DECLS
