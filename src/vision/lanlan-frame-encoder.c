/* lanlan-frame-encoder.c — camera and screen frames, scaled and JPEG-encoded
 *
 * Frames come from a PipeWire video thread at the source's rate; the
 * model wants about one picture a second. push() copies the frame into
 * the one waiting slot (a newer frame replaces a waiting one) and wakes
 * the encoder thread, which converts to RGB, scales down to the maximum
 * height and JPEG-encodes with gdk-pixbuf, then posts the result to the
 * creator's main context. So memory holds at most two frames whatever
 * the source does, and neither the capture thread nor the UI ever waits
 * on an encoder.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "lanlan-frame-encoder.h"

/* Nothing bigger than 8K is a frame we want to copy. */
#define MAX_SIDE 8192

typedef struct {
  guint8            *data;
  gsize              capacity;
  LanlanPixelFormat  format;
  guint              width;
  guint              height;
  guint              stride;
  gint64             pushed_at;
} Frame;

typedef struct _Shared Shared;

struct _Shared
{
  gatomicrefcount  ref;
  GWeakRef         owner;
  GMainContext    *owner_ctx;
  guint            max_height;
  guint            quality;

  GMutex           lock;
  GCond            cond;
  Frame            waiting;      /* under lock */
  gboolean         has_waiting;  /* under lock */
  gboolean         quit;         /* under lock */
  LanlanFrameEncoderStats stats; /* under lock */
};

struct _LanlanFrameEncoder
{
  GObject   parent_instance;

  Shared   *shared;
  GThread  *thread;
};

G_DEFINE_FINAL_TYPE (LanlanFrameEncoder, lanlan_frame_encoder, G_TYPE_OBJECT)

enum {
  SIGNAL_FRAME,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

guint
lanlan_pixel_format_get_bpp (LanlanPixelFormat format)
{
  return format == LANLAN_PIXEL_FORMAT_RGB || format == LANLAN_PIXEL_FORMAT_BGR ? 3 : 4;
}

static Shared *
shared_ref (Shared *s)
{
  g_atomic_ref_count_inc (&s->ref);
  return s;
}

static void
shared_unref (Shared *s)
{
  if (!g_atomic_ref_count_dec (&s->ref))
    return;
  g_weak_ref_clear (&s->owner);
  g_main_context_unref (s->owner_ctx);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s->waiting.data);
  g_free (s);
}

typedef struct {
  Shared *shared;
  GBytes *jpeg;
  guint   width;
  guint   height;
  gint64  pushed_at;
} Result;

static void
result_free (gpointer data)
{
  Result *r = data;

  shared_unref (r->shared);
  g_bytes_unref (r->jpeg);
  g_free (r);
}

static gboolean
result_dispatch (gpointer data)
{
  Result *r = data;
  g_autoptr(LanlanFrameEncoder) self = g_weak_ref_get (&r->shared->owner);

  g_mutex_lock (&r->shared->lock);
  r->shared->stats.last_latency_us = g_get_monotonic_time () - r->pushed_at;
  g_mutex_unlock (&r->shared->lock);
  if (self != NULL)
    g_signal_emit (self, signals[SIGNAL_FRAME], 0, r->jpeg, r->width, r->height);
  return G_SOURCE_REMOVE;
}

/* Packs any of the formats into tight RGB rows, as gdk-pixbuf wants. */
static GdkPixbuf *
frame_to_pixbuf (const Frame *f)
{
  guint bpp = lanlan_pixel_format_get_bpp (f->format);
  gboolean bgr = f->format == LANLAN_PIXEL_FORMAT_BGRX || f->format == LANLAN_PIXEL_FORMAT_BGRA ||
                 f->format == LANLAN_PIXEL_FORMAT_BGR;
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, f->width, f->height);
  guint8 *out;
  int out_stride;

  if (pixbuf == NULL)
    return NULL;
  out = gdk_pixbuf_get_pixels (pixbuf);
  out_stride = gdk_pixbuf_get_rowstride (pixbuf);
  for (guint y = 0; y < f->height; y++)
    {
      const guint8 *src = f->data + (gsize) y * f->stride;
      guint8 *dst = out + (gsize) y * out_stride;

      for (guint x = 0; x < f->width; x++, src += bpp, dst += 3)
        {
          dst[0] = bgr ? src[2] : src[0];
          dst[1] = src[1];
          dst[2] = bgr ? src[0] : src[2];
        }
    }
  return pixbuf;
}

static GBytes *
encode (Shared  *s,
        Frame   *f,
        guint   *out_width,
        guint   *out_height)
{
  g_autoptr(GdkPixbuf) full = frame_to_pixbuf (f);
  g_autoptr(GdkPixbuf) scaled = NULL;
  g_autofree char *quality = g_strdup_printf ("%u", s->quality);
  g_autoptr(GError) error = NULL;
  char *buffer = NULL;
  gsize size = 0;

  if (full == NULL)
    return NULL;
  if (f->height > s->max_height)
    {
      guint w = MAX (1, (guint) ((guint64) f->width * s->max_height / f->height));

      scaled = gdk_pixbuf_scale_simple (full, w, s->max_height, GDK_INTERP_BILINEAR);
    }
  else
    scaled = g_object_ref (full);
  if (scaled == NULL)
    return NULL;

  if (!gdk_pixbuf_save_to_buffer (scaled, &buffer, &size, "jpeg", &error, "quality", quality, NULL))
    {
      g_debug ("JPEG encoding failed: %s", error->message);
      return NULL;
    }
  *out_width = gdk_pixbuf_get_width (scaled);
  *out_height = gdk_pixbuf_get_height (scaled);
  return g_bytes_new_take (buffer, size);
}

static gpointer
encoder_thread (gpointer data)
{
  Shared *s = data;
  Frame work = { 0 };

  for (;;)
    {
      GBytes *jpeg;
      guint w = 0, h = 0;
      gint64 start;

      g_mutex_lock (&s->lock);
      while (!s->has_waiting && !s->quit)
        g_cond_wait (&s->cond, &s->lock);
      if (s->quit)
        {
          g_mutex_unlock (&s->lock);
          break;
        }
      /* Swap buffers: the capture side fills the old work buffer next. */
      {
        Frame tmp = work;
        work = s->waiting;
        s->waiting = tmp;
        s->has_waiting = FALSE;
      }
      g_mutex_unlock (&s->lock);

      start = g_get_monotonic_time ();
      jpeg = encode (s, &work, &w, &h);

      g_mutex_lock (&s->lock);
      if (jpeg != NULL)
        {
          s->stats.encoded++;
          s->stats.last_encode_us = g_get_monotonic_time () - start;
          s->stats.last_size = g_bytes_get_size (jpeg);
        }
      else
        s->stats.failed++;
      g_mutex_unlock (&s->lock);

      if (jpeg != NULL)
        {
          Result *r = g_new0 (Result, 1);
          GSource *source = g_idle_source_new ();

          r->shared = shared_ref (s);
          r->jpeg = jpeg;
          r->width = w;
          r->height = h;
          r->pushed_at = work.pushed_at;
          g_source_set_callback (source, result_dispatch, r, result_free);
          g_source_set_static_name (source, "[lanlan] encoded frame");
          g_source_attach (source, s->owner_ctx);
          g_source_unref (source);
        }
    }

  g_free (work.data);
  shared_unref (s);
  return NULL;
}

/**
 * lanlan_frame_encoder_push:
 * @stride: bytes from one row to the next in @data
 *
 * Any thread. Copies the frame into the waiting slot, replacing a frame
 * that has not been encoded yet, and returns at once.
 *
 * Returns: %FALSE when the frame is not one this encoder takes (a side
 *   of 0 or over 8192, a stride shorter than a row)
 */
gboolean
lanlan_frame_encoder_push (LanlanFrameEncoder *self,
                           LanlanPixelFormat   format,
                           const guint8       *data,
                           guint               width,
                           guint               height,
                           guint               stride)
{
  Shared *s;
  gsize needed;

  g_return_val_if_fail (LANLAN_IS_FRAME_ENCODER (self), FALSE);
  g_return_val_if_fail (format <= LANLAN_PIXEL_FORMAT_BGR, FALSE);

  if (data == NULL || width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE ||
      stride < width * lanlan_pixel_format_get_bpp (format))
    return FALSE;

  s = self->shared;
  needed = (gsize) stride * height;

  g_mutex_lock (&s->lock);
  s->stats.pushed++;
  if (s->has_waiting)
    s->stats.replaced++;
  if (s->waiting.capacity < needed)
    {
      g_free (s->waiting.data);
      s->waiting.data = g_malloc (needed);
      s->waiting.capacity = needed;
    }
  memcpy (s->waiting.data, data, needed);
  s->waiting.format = format;
  s->waiting.width = width;
  s->waiting.height = height;
  s->waiting.stride = stride;
  s->waiting.pushed_at = g_get_monotonic_time ();
  s->has_waiting = TRUE;
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  return TRUE;
}

void
lanlan_frame_encoder_get_stats (LanlanFrameEncoder      *self,
                                LanlanFrameEncoderStats *stats)
{
  g_return_if_fail (LANLAN_IS_FRAME_ENCODER (self));

  g_mutex_lock (&self->shared->lock);
  *stats = self->shared->stats;
  g_mutex_unlock (&self->shared->lock);
}

static void
lanlan_frame_encoder_dispose (GObject *object)
{
  LanlanFrameEncoder *self = LANLAN_FRAME_ENCODER (object);

  if (self->thread != NULL)
    {
      g_mutex_lock (&self->shared->lock);
      self->shared->quit = TRUE;
      g_cond_signal (&self->shared->cond);
      g_mutex_unlock (&self->shared->lock);
      g_thread_join (g_steal_pointer (&self->thread));
    }
  g_clear_pointer (&self->shared, shared_unref);

  G_OBJECT_CLASS (lanlan_frame_encoder_parent_class)->dispose (object);
}

static void
lanlan_frame_encoder_class_init (LanlanFrameEncoderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_frame_encoder_dispose;

  signals[SIGNAL_FRAME] =
    g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_BYTES, G_TYPE_UINT, G_TYPE_UINT);
}

static void
lanlan_frame_encoder_init (LanlanFrameEncoder *self)
{
}

/**
 * lanlan_frame_encoder_new:
 * @max_height: frames taller than this are scaled down (aspect kept)
 * @quality: JPEG quality, 1…100
 */
LanlanFrameEncoder *
lanlan_frame_encoder_new (guint max_height,
                          guint quality)
{
  LanlanFrameEncoder *self;
  Shared *s;

  g_return_val_if_fail (max_height > 0, NULL);
  g_return_val_if_fail (quality >= 1 && quality <= 100, NULL);

  self = g_object_new (LANLAN_TYPE_FRAME_ENCODER, NULL);
  s = g_new0 (Shared, 1);
  g_atomic_ref_count_init (&s->ref);
  g_weak_ref_init (&s->owner, self);
  s->owner_ctx = g_main_context_ref_thread_default ();
  s->max_height = max_height;
  s->quality = quality;
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  self->shared = s;
  self->thread = g_thread_new ("lanlan-frames", encoder_thread, shared_ref (s));
  return self;
}
