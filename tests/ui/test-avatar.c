/* test-avatar.c — LanlanAvatar: picture or initials, level and state, drawn
 *
 * Runs under Xvfb (tests/harness/lanlan-test-env): the avatar is put in a
 * real window and its rendering is read back pixel by pixel.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <adwaita.h>

#include "lanlan-avatar.h"

/* A PNG of @w×@h: red on the upper half, blue on the lower half. */
static GBytes *
two_color_png (int w,
               int h)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, w, h);
  g_autoptr(GError) error = NULL;
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  char *buffer = NULL;
  gsize len = 0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 *p = pixels + y * stride + x * 3;
        p[0] = y < h / 2 ? 255 : 0;
        p[1] = 0;
        p[2] = y < h / 2 ? 0 : 255;
      }

  gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &len, "png", &error, NULL);
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, len);
}

typedef struct {
  guint8 *data;
  int     width, height;
  gsize   stride;
} Pixels;

static void
pixels_free (Pixels *p)
{
  g_free (p->data);
  g_free (p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pixels, pixels_free)

static Pixels *
download (GdkTexture *texture)
{
  Pixels *p = g_new0 (Pixels, 1);

  p->width = gdk_texture_get_width (texture);
  p->height = gdk_texture_get_height (texture);
  p->stride = p->width * 4;
  p->data = g_malloc (p->stride * p->height);
  gdk_texture_download (texture, p->data, p->stride);
  return p;
}

/* Cairo ARGB32, premultiplied, native endian: B G R A on little endian. */
static void
pixel (Pixels *p,
       int     x,
       int     y,
       guint8  rgba[4])
{
  guint32 v;

  memcpy (&v, p->data + y * p->stride + x * 4, 4);
  rgba[0] = (v >> 16) & 0xff;
  rgba[1] = (v >> 8) & 0xff;
  rgba[2] = v & 0xff;
  rgba[3] = v >> 24;
}

static GdkTexture *
render (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int w = gtk_widget_get_width (widget);
  int h = gtk_widget_get_height (widget);

  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

static void
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

/* The ring area: outside the face, inside the widget. */
static void
ring_pixel (GtkWidget *avatar,
            double     radius,
            guint8     rgba[4])
{
  g_autoptr(GdkTexture) texture = render (avatar);
  g_autoptr(Pixels) p = download (texture);
  int cx = p->width / 2;

  pixel (p, cx, (int) round (p->height / 2.0 - radius), rgba);
}

static GtkWindow *
show_in_window (GtkWidget *child)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  gtk_window_set_child (window, child);
  gtk_window_present (window);
  while (!(gtk_widget_get_mapped (child) && gtk_widget_get_width (child) > 0) &&
         g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (gtk_widget_get_mapped (child));
  iterate_for (100);
  return window;
}

static void
test_avatar_initials_and_picture (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Mio Tanaka");
  g_autoptr(GBytes) png = two_color_png (300, 600);
  GtkWidget *avatar = g_object_ref_sink (lanlan_avatar_new (c, 64));
  GdkPaintable *picture;
  g_autoptr(GdkTexture) big = NULL;

  /* No picture: initials. */
  g_assert_null (lanlan_avatar_get_picture (LANLAN_AVATAR (avatar)));

  /* The character gets a picture: the avatar follows. Portrait art is cut
   * to a square from its upper part and scaled to at most 256 px. */
  lanlan_character_set_avatar (c, png);
  picture = lanlan_avatar_get_picture (LANLAN_AVATAR (avatar));
  g_assert_nonnull (picture);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (picture), ==, 256);
  g_assert_cmpint (gdk_paintable_get_intrinsic_height (picture), ==, 256);
  {
    g_autoptr(Pixels) p = download (GDK_TEXTURE (picture));
    guint8 top[4], bottom[4];

    pixel (p, 128, 10, top);
    pixel (p, 128, 250, bottom);
    /* crop from y = 75 to 375 of 600: red above the middle (300), blue below */
    g_assert_cmpuint (top[0], >, 200);
    g_assert_cmpuint (bottom[2], >, 200);
  }

  /* A second avatar of the same character shares the decoded picture. */
  {
    GtkWidget *other = g_object_ref_sink (lanlan_avatar_new (c, 24));
    g_assert_true (lanlan_avatar_get_picture (LANLAN_AVATAR (other)) == picture);
    g_object_unref (other);
  }

  /* A broken picture falls back to initials, with a warning. */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("\x89PNG\r\n\x1a\nbroken", 14);

    GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);

    /* (structured logging: g_test_expect_message() cannot catch it) */
    lanlan_character_set_avatar (c, junk);
    g_log_set_always_fatal (fatal);
    g_assert_null (lanlan_avatar_get_picture (LANLAN_AVATAR (avatar)));
  }

  lanlan_character_set_avatar (c, NULL);
  g_assert_null (lanlan_avatar_get_picture (LANLAN_AVATAR (avatar)));
  g_object_unref (avatar);
}

static void
test_avatar_properties (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Aiko");
  GtkWidget *avatar = g_object_ref_sink (lanlan_avatar_new (c, 48));
  LanlanAvatar *a = LANLAN_AVATAR (avatar);
  int min, nat;

  gtk_widget_measure (avatar, GTK_ORIENTATION_HORIZONTAL, -1, &min, &nat, NULL, NULL);
  g_assert_cmpint (min, ==, 48 + 2 * 7);

  lanlan_avatar_set_level (a, 2.5);
  g_assert_cmpfloat (lanlan_avatar_get_level (a), ==, 1.0);
  lanlan_avatar_set_level (a, NAN);
  g_assert_cmpfloat (lanlan_avatar_get_level (a), ==, 0.0);
  lanlan_avatar_set_level (a, -1);
  g_assert_cmpfloat (lanlan_avatar_get_level (a), ==, 0.0);

  g_object_set (avatar, "state", LANLAN_AVATAR_THINKING, NULL);
  g_assert_cmpint (lanlan_avatar_get_state (a), ==, LANLAN_AVATAR_THINKING);
  g_assert_true (lanlan_avatar_get_character (a) == c);
  g_object_unref (avatar);
}

static void
test_avatar_pulses (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Mio");
  GtkWidget *avatar = lanlan_avatar_new (c, 100);
  LanlanAvatar *a = LANLAN_AVATAR (avatar);
  GtkWindow *window = show_in_window (avatar);
  double r = 50, pad = 14;
  guint8 idle[4], loud[4], quiet[4], listening[4], after[4];

  /* Idle: nothing around the face. */
  ring_pixel (avatar, r + pad * 0.6, idle);
  g_assert_cmpuint (idle[3], ==, 0);

  /* Speaking at full level: a blue halo reaches out there. */
  lanlan_avatar_set_state (a, LANLAN_AVATAR_SPEAKING);
  lanlan_avatar_set_level (a, 1.0);
  iterate_for (300);
  ring_pixel (avatar, r + pad * 0.6, loud);
  g_assert_cmpuint (loud[3], >, 60);
  g_assert_cmpuint (loud[2], >, loud[0]);

  /* Quiet speech: the halo shrinks back inside that radius. */
  lanlan_avatar_set_level (a, 0.05);
  iterate_for (1000);
  ring_pixel (avatar, r + pad * 0.6, quiet);
  g_assert_cmpuint (quiet[3], <, loud[3]);

  /* Listening: a green ring, no halo. */
  lanlan_avatar_set_state (a, LANLAN_AVATAR_LISTENING);
  iterate_for (1000);
  ring_pixel (avatar, r + pad * 0.45, listening);
  g_assert_cmpuint (listening[3], >, 100);
  g_assert_cmpuint (listening[1], >, listening[0]);
  g_assert_cmpuint (listening[1], >, listening[2]);

  /* Back to idle: clean again. */
  lanlan_avatar_set_state (a, LANLAN_AVATAR_IDLE);
  iterate_for (300);
  ring_pixel (avatar, r + pad * 0.6, after);
  g_assert_cmpuint (after[3], ==, 0);

  gtk_window_destroy (window);
}

static void
test_avatar_render_png (void)
{
  g_autoptr(LanlanCharacter) c = lanlan_character_new ("Rin");
  GtkWidget *avatar = g_object_ref_sink (lanlan_avatar_new (c, 32));
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  /* No window needed: a card can be exported from anywhere. */
  png = lanlan_avatar_render_png (LANLAN_AVATAR (avatar), 256);
  g_assert_nonnull (png);
  texture = gdk_texture_new_from_bytes (png, &error);

  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, 256);
  g_assert_cmpint (lanlan_avatar_get_size (LANLAN_AVATAR (avatar)), ==, 32);
  {
    /* Initials on a color: the middle is opaque, the corner is not. */
    g_autoptr(Pixels) p = download (texture);
    guint8 mid[4], corner[4];

    pixel (p, 128, 128, mid);
    pixel (p, 2, 2, corner);
    g_assert_cmpuint (mid[3], ==, 255);
    g_assert_cmpuint (corner[3], ==, 0);
  }
  g_object_unref (avatar);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/avatar/initials-and-picture", test_avatar_initials_and_picture);
  g_test_add_func ("/avatar/properties", test_avatar_properties);
  g_test_add_func ("/avatar/pulses", test_avatar_pulses);
  g_test_add_func ("/avatar/render-png", test_avatar_render_png);

  return g_test_run ();
}
