/* lanlan-frame-encoder.h — camera and screen frames, scaled and JPEG-encoded
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * LanlanPixelFormat:
 * Byte order in memory of the raw frames the encoder takes.
 */
typedef enum {
  LANLAN_PIXEL_FORMAT_RGBX,
  LANLAN_PIXEL_FORMAT_BGRX,
  LANLAN_PIXEL_FORMAT_RGBA,
  LANLAN_PIXEL_FORMAT_BGRA,
  LANLAN_PIXEL_FORMAT_RGB,
  LANLAN_PIXEL_FORMAT_BGR,
} LanlanPixelFormat;

typedef struct {
  guint64 pushed;          /* frames offered */
  guint64 replaced;        /* dropped: a newer frame came before encoding */
  guint64 encoded;
  guint64 failed;
  gint64  last_encode_us;  /* convert + scale + JPEG of the last frame */
  gsize   last_size;       /* bytes of the last JPEG */
  gint64  last_latency_us; /* push() to "frame" on the main context */
} LanlanFrameEncoderStats;

#define LANLAN_TYPE_FRAME_ENCODER (lanlan_frame_encoder_get_type ())
G_DECLARE_FINAL_TYPE (LanlanFrameEncoder, lanlan_frame_encoder, LANLAN, FRAME_ENCODER, GObject)

LanlanFrameEncoder *lanlan_frame_encoder_new        (guint               max_height,
                                                     guint               quality);
gboolean            lanlan_frame_encoder_push       (LanlanFrameEncoder *self,
                                                     LanlanPixelFormat   format,
                                                     const guint8       *data,
                                                     guint               width,
                                                     guint               height,
                                                     guint               stride);
void                lanlan_frame_encoder_get_stats  (LanlanFrameEncoder *self,
                                                     LanlanFrameEncoderStats *stats);

guint               lanlan_pixel_format_get_bpp     (LanlanPixelFormat   format);

/* Signals, on the thread-default main context of the caller of _new():
 *   "frame" (GBytes *jpeg, guint width, guint height)
 */

G_END_DECLS
