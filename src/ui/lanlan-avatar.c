/* lanlan-avatar.c — a character's face: picture or initials, and whether it speaks
 *
 * Shows the character's picture cropped to a circle, or, without one, its
 * initials on a color picked from its name (an AdwAvatar inside). Around
 * it a ring tells what the character is doing:
 *   - speaking: the ring swells with the output level (smoothed: quick
 *     rise, slow fall, as a VU meter), so the face visibly pulses;
 *   - listening: a steady green ring;
 *   - thinking: an arc turning around the face;
 *   - idle: nothing.
 * The frame clock runs only while something moves (thinking, speaking, or
 * the ring settling), so an idle or listening window costs no CPU. The
 * state is also the accessible description, for screen readers and tests.
 *
 * Decoded pictures are cut to a square (from the upper part of a portrait,
 * where faces are), scaled to at most 256 px and shared by every avatar of
 * the same character.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <adwaita.h>
#include <glib/gi18n.h>

#include "lanlan-avatar.h"

#define PICTURE_MAX 256
#define TEXTURE_KEY "lanlan-avatar-texture"
#define TEXTURE_BYTES_KEY "lanlan-avatar-texture-bytes"

struct _LanlanAvatar
{
  GtkWidget          parent_instance;

  LanlanCharacter   *character;
  AdwAvatar         *face;
  int                size;
  double             level;      /* target, 0..1 */
  double             shown;      /* smoothed */
  LanlanAvatarState  state;
  guint              tick_id;
  gint64             tick_start;
  double             phase;      /* thinking arc, radians */
};

G_DEFINE_FINAL_TYPE (LanlanAvatar, lanlan_avatar, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CHARACTER,
  PROP_SIZE,
  PROP_LEVEL,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GType
lanlan_avatar_state_get_type (void)
{
  static gsize type_id;

  if (g_once_init_enter (&type_id))
    {
      static const GEnumValue values[] = {
        { LANLAN_AVATAR_IDLE, "LANLAN_AVATAR_IDLE", "idle" },
        { LANLAN_AVATAR_LISTENING, "LANLAN_AVATAR_LISTENING", "listening" },
        { LANLAN_AVATAR_THINKING, "LANLAN_AVATAR_THINKING", "thinking" },
        { LANLAN_AVATAR_SPEAKING, "LANLAN_AVATAR_SPEAKING", "speaking" },
        { 0, NULL, NULL },
      };
      GType type = g_enum_register_static ("LanlanAvatarState", values);
      g_once_init_leave (&type_id, type);
    }

  return type_id;
}

static int
ring_pad (LanlanAvatar *self)
{
  return MAX (3, (int) round (self->size * 0.14));
}

static void
size_prepared (GdkPixbufLoader *loader,
               int              width,
               int              height,
               gpointer         user_data)
{
  int side = MIN (width, height);

  /* Decode no larger than needed: the square we keep ends up ≤ PICTURE_MAX. */
  if (side > PICTURE_MAX * 2)
    {
      double scale = (double) PICTURE_MAX * 2 / side;
      gdk_pixbuf_loader_set_size (loader, MAX (1, (int) (width * scale)),
                                  MAX (1, (int) (height * scale)));
    }
}

static GdkTexture *
decode_picture (GBytes  *png,
                GError **error)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autoptr(GdkPixbuf) square = NULL;
  g_autoptr(GdkPixbuf) scaled = NULL;
  GdkPixbuf *full;
  int w, h, side, x, y;

  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared), NULL);
  if (!gdk_pixbuf_loader_write_bytes (loader, png, error) ||
      !gdk_pixbuf_loader_close (loader, error))
    return NULL;

  full = gdk_pixbuf_loader_get_pixbuf (loader);
  if (full == NULL)
    {
      g_set_error_literal (error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE,
                           "no image");
      return NULL;
    }

  w = gdk_pixbuf_get_width (full);
  h = gdk_pixbuf_get_height (full);
  side = MIN (w, h);
  x = (w - side) / 2;
  y = (h - side) / 4;   /* portraits: faces are in the upper part */
  square = gdk_pixbuf_new_subpixbuf (full, x, y, side, side);
  if (side > PICTURE_MAX)
    scaled = gdk_pixbuf_scale_simple (square, PICTURE_MAX, PICTURE_MAX, GDK_INTERP_BILINEAR);
  else
    scaled = g_object_ref (square);

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  return gdk_texture_new_for_pixbuf (scaled);
  G_GNUC_END_IGNORE_DEPRECATIONS
}

/* One decoded texture per character and picture, shared by its avatars. */
static GdkTexture *
character_texture (LanlanCharacter *character)
{
  GBytes *png = lanlan_character_get_avatar (character);
  GdkTexture *texture;
  g_autoptr(GError) error = NULL;

  if (png == NULL)
    return NULL;

  if (g_object_get_data (G_OBJECT (character), TEXTURE_BYTES_KEY) == png)
    return g_object_get_data (G_OBJECT (character), TEXTURE_KEY);

  texture = decode_picture (png, &error);
  if (texture == NULL)
    g_warning ("The picture of “%s” cannot be shown: %s",
               lanlan_character_get_name (character), error->message);

  g_object_set_data_full (G_OBJECT (character), TEXTURE_BYTES_KEY,
                          g_bytes_ref (png), (GDestroyNotify) g_bytes_unref);
  g_object_set_data_full (G_OBJECT (character), TEXTURE_KEY, texture,
                          texture ? g_object_unref : NULL);
  return texture;
}

static const char *
state_description (LanlanAvatarState state)
{
  switch (state)
    {
    case LANLAN_AVATAR_LISTENING: return _("Listening");
    case LANLAN_AVATAR_THINKING: return _("Thinking");
    case LANLAN_AVATAR_SPEAKING: return _("Speaking");
    case LANLAN_AVATAR_IDLE:
    default: return "";
    }
}

static void
update_accessible (LanlanAvatar *self)
{
  const char *name = self->character ? lanlan_character_get_name (self->character) : "";

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  state_description (self->state),
                                  -1);
}

static void
update_face (LanlanAvatar *self)
{
  GdkTexture *texture = self->character ? character_texture (self->character) : NULL;

  adw_avatar_set_text (self->face, self->character ? lanlan_character_get_name (self->character) : "");
  adw_avatar_set_custom_image (self->face, GDK_PAINTABLE (texture));
  adw_avatar_set_size (self->face, self->size);
  update_accessible (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static gboolean
needs_ticks (LanlanAvatar *self)
{
  return self->state == LANLAN_AVATAR_THINKING ||
         (self->state == LANLAN_AVATAR_SPEAKING && self->level > 0.001) ||
         self->shown > 0.001;
}

static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       user_data)
{
  LanlanAvatar *self = LANLAN_AVATAR (widget);
  double target = self->state == LANLAN_AVATAR_SPEAKING ? self->level : 0.0;
  gint64 now = gdk_frame_clock_get_frame_time (clock);

  /* A meter's ballistics: rise within a frame or two, fall over ~300 ms. */
  if (target > self->shown)
    self->shown += (target - self->shown) * 0.6;
  else
    self->shown += (target - self->shown) * 0.15;
  if (self->shown < 0.001)
    self->shown = 0.0;

  if (self->tick_start == 0)
    self->tick_start = now;
  self->phase = fmod ((now - self->tick_start) / (double) G_USEC_PER_SEC * 2 * G_PI * 0.8,
                      2 * G_PI);

  gtk_widget_queue_draw (widget);

  if (!needs_ticks (self))
    {
      self->tick_id = 0;
      self->tick_start = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
ensure_ticking (LanlanAvatar *self)
{
  if (self->tick_id == 0 && needs_ticks (self) && gtk_widget_get_mapped (GTK_WIDGET (self)))
    self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_tick, NULL, NULL);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
lanlan_avatar_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (lanlan_avatar_parent_class)->map (widget);
  ensure_ticking (LANLAN_AVATAR (widget));
}

static void
lanlan_avatar_unmap (GtkWidget *widget)
{
  LanlanAvatar *self = LANLAN_AVATAR (widget);

  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (widget, self->tick_id);
      self->tick_id = 0;
      self->tick_start = 0;
    }
  GTK_WIDGET_CLASS (lanlan_avatar_parent_class)->unmap (widget);
}

static void
lanlan_avatar_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  LanlanAvatar *self = LANLAN_AVATAR (widget);

  *minimum = *natural = self->size + 2 * ring_pad (self);
}

static void
lanlan_avatar_size_allocate (GtkWidget *widget,
                             int        width,
                             int        height,
                             int        baseline)
{
  LanlanAvatar *self = LANLAN_AVATAR (widget);

  gtk_widget_allocate (GTK_WIDGET (self->face), self->size, self->size, -1,
                       gsk_transform_translate (NULL,
                                                &GRAPHENE_POINT_INIT ((width - self->size) / 2.0f,
                                                                      (height - self->size) / 2.0f)));
}

static void
lanlan_avatar_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  LanlanAvatar *self = LANLAN_AVATAR (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  double cx = width / 2.0, cy = height / 2.0;
  double r = self->size / 2.0;
  double pad = ring_pad (self);
  cairo_t *cr = NULL;

  if (self->shown > 0.0 || self->state == LANLAN_AVATAR_LISTENING ||
      self->state == LANLAN_AVATAR_THINKING)
    cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  if (cr != NULL && self->shown > 0.0)
    {
      /* Speaking: a soft halo that grows with the level, and a crisp ring. */
      double level = MIN (1.0, self->shown);
      double outer = r + pad * (0.25 + 0.75 * level);

      cairo_arc (cr, cx, cy, outer, 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.25 + 0.35 * level);   /* accent blue */
      cairo_fill (cr);
      cairo_arc (cr, cx, cy, r + MAX (1.5, pad * 0.25 * (0.5 + level)), 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.9);
      cairo_fill (cr);
    }

  if (cr != NULL && self->state == LANLAN_AVATAR_LISTENING)
    {
      cairo_set_line_width (cr, MAX (2.0, pad * 0.35));
      cairo_arc (cr, cx, cy, r + MAX (2.0, pad * 0.45), 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0.18, 0.76, 0.49, 0.95);   /* green */
      cairo_stroke (cr);
    }

  if (cr != NULL && self->state == LANLAN_AVATAR_THINKING)
    {
      cairo_set_line_width (cr, MAX (2.0, pad * 0.35));
      cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
      cairo_arc (cr, cx, cy, r + MAX (2.0, pad * 0.45), 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0.57, 0.25, 0.67, 0.25);   /* purple track */
      cairo_stroke (cr);
      cairo_arc (cr, cx, cy, r + MAX (2.0, pad * 0.45), self->phase, self->phase + G_PI * 0.6);
      cairo_set_source_rgba (cr, 0.57, 0.25, 0.67, 0.95);
      cairo_stroke (cr);
    }

  g_clear_pointer (&cr, cairo_destroy);

  gtk_widget_snapshot_child (widget, GTK_WIDGET (self->face), snapshot);
}

static void
on_character_changed (LanlanAvatar *self)
{
  update_face (self);
}

static void
lanlan_avatar_dispose (GObject *object)
{
  LanlanAvatar *self = (LanlanAvatar *)object;

  lanlan_avatar_set_character (self, NULL);
  if (self->face != NULL)
    {
      gtk_widget_unparent (GTK_WIDGET (self->face));
      self->face = NULL;
    }

  G_OBJECT_CLASS (lanlan_avatar_parent_class)->dispose (object);
}

static void
lanlan_avatar_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LanlanAvatar *self = LANLAN_AVATAR (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    case PROP_SIZE:
      g_value_set_int (value, self->size);
      break;
    case PROP_LEVEL:
      g_value_set_double (value, self->level);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_avatar_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  LanlanAvatar *self = LANLAN_AVATAR (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      lanlan_avatar_set_character (self, g_value_get_object (value));
      break;
    case PROP_SIZE:
      lanlan_avatar_set_size (self, g_value_get_int (value));
      break;
    case PROP_LEVEL:
      lanlan_avatar_set_level (self, g_value_get_double (value));
      break;
    case PROP_STATE:
      lanlan_avatar_set_state (self, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_avatar_class_init (LanlanAvatarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = lanlan_avatar_dispose;
  object_class->get_property = lanlan_avatar_get_property;
  object_class->set_property = lanlan_avatar_set_property;

  widget_class->measure = lanlan_avatar_measure;
  widget_class->size_allocate = lanlan_avatar_size_allocate;
  widget_class->snapshot = lanlan_avatar_snapshot;
  widget_class->map = lanlan_avatar_map;
  widget_class->unmap = lanlan_avatar_unmap;

  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER, flags);
  properties[PROP_SIZE] =
    g_param_spec_int ("size", NULL, NULL, 8, 512, 32, flags);
  /**
   * LanlanAvatar:level:
   *
   * The output level while speaking, 0 (silence) to 1 (full scale peak).
   */
  properties[PROP_LEVEL] =
    g_param_spec_double ("level", NULL, NULL, 0.0, 1.0, 0.0, flags);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, LANLAN_TYPE_AVATAR_STATE, LANLAN_AVATAR_IDLE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "lanlan-avatar");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
lanlan_avatar_init (LanlanAvatar *self)
{
  self->size = 32;
  self->face = ADW_AVATAR (adw_avatar_new (self->size, NULL, TRUE));
  gtk_widget_set_parent (GTK_WIDGET (self->face), GTK_WIDGET (self));
  update_accessible (self);
}

/**
 * lanlan_avatar_new:
 * @character: (nullable): whose face to show
 * @size: the face's diameter in pixels; the ring adds 14% on each side
 */
GtkWidget *
lanlan_avatar_new (LanlanCharacter *character,
                   int              size)
{
  return g_object_new (LANLAN_TYPE_AVATAR, "size", size, "character", character, NULL);
}

LanlanCharacter *
lanlan_avatar_get_character (LanlanAvatar *self)
{
  g_return_val_if_fail (LANLAN_IS_AVATAR (self), NULL);
  return self->character;
}

void
lanlan_avatar_set_character (LanlanAvatar    *self,
                             LanlanCharacter *character)
{
  g_return_if_fail (LANLAN_IS_AVATAR (self));
  g_return_if_fail (character == NULL || LANLAN_IS_CHARACTER (character));

  if (self->character == character)
    return;

  if (self->character != NULL)
    g_signal_handlers_disconnect_by_func (self->character, on_character_changed, self);
  g_set_object (&self->character, character);
  if (character != NULL)
    {
      g_signal_connect_swapped (character, "notify::name", G_CALLBACK (on_character_changed), self);
      g_signal_connect_swapped (character, "notify::avatar", G_CALLBACK (on_character_changed), self);
    }

  if (self->face != NULL)
    update_face (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHARACTER]);
}

int
lanlan_avatar_get_size (LanlanAvatar *self)
{
  g_return_val_if_fail (LANLAN_IS_AVATAR (self), 0);
  return self->size;
}

void
lanlan_avatar_set_size (LanlanAvatar *self,
                        int           size)
{
  g_return_if_fail (LANLAN_IS_AVATAR (self));

  size = CLAMP (size, 8, 512);
  if (self->size == size)
    return;

  self->size = size;
  adw_avatar_set_size (self->face, size);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
}

double
lanlan_avatar_get_level (LanlanAvatar *self)
{
  g_return_val_if_fail (LANLAN_IS_AVATAR (self), 0.0);
  return self->level;
}

/**
 * lanlan_avatar_set_level:
 * @level: the output level, 0 to 1 (clamped; NaN counts as 0)
 *
 * Cheap to call at every audio period: nothing is drawn until the next frame.
 */
void
lanlan_avatar_set_level (LanlanAvatar *self,
                         double        level)
{
  g_return_if_fail (LANLAN_IS_AVATAR (self));

  if (!(level >= 0.0))
    level = 0.0;
  level = MIN (level, 1.0);
  if (self->level == level)
    return;

  self->level = level;
  ensure_ticking (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEVEL]);
}

LanlanAvatarState
lanlan_avatar_get_state (LanlanAvatar *self)
{
  g_return_val_if_fail (LANLAN_IS_AVATAR (self), LANLAN_AVATAR_IDLE);
  return self->state;
}

void
lanlan_avatar_set_state (LanlanAvatar      *self,
                         LanlanAvatarState  state)
{
  g_return_if_fail (LANLAN_IS_AVATAR (self));

  if (self->state == state)
    return;

  self->state = state;
  update_accessible (self);
  ensure_ticking (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/**
 * lanlan_avatar_get_picture:
 *
 * Returns: (transfer none) (nullable): the decoded picture shown, or %NULL
 *   when the initials are shown
 */
GdkPaintable *
lanlan_avatar_get_picture (LanlanAvatar *self)
{
  g_return_val_if_fail (LANLAN_IS_AVATAR (self), NULL);
  return adw_avatar_get_custom_image (self->face);
}

static char *
initials (const char *name)
{
  g_auto(GStrv) words = g_strsplit_set (name ? name : "", " \t\n", -1);
  GString *out = g_string_new (NULL);
  const char *first = NULL, *last = NULL;

  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      {
        if (first == NULL)
          first = words[i];
        else
          last = words[i];
      }

  if (first != NULL)
    g_string_append_unichar (out, g_unichar_toupper (g_utf8_get_char (first)));
  if (last != NULL)
    g_string_append_unichar (out, g_unichar_toupper (g_utf8_get_char (last)));
  return g_string_free (out, FALSE);
}

/**
 * lanlan_avatar_render_png:
 * @size: the side of the image in pixels
 *
 * The face alone (the picture, or initials on a color picked from the
 * name, as AdwAvatar does), without the ring, as a PNG: for a card export
 * of a character without a picture of its own.
 *
 * Returns: (transfer full): PNG data
 */
GBytes *
lanlan_avatar_render_png (LanlanAvatar *self,
                          int           size)
{
  /* Adwaita's palette (light tones), one picked by the name's hash */
  static const double palette[][3] = {
    { 0.51, 0.71, 0.93 }, { 0.48, 0.85, 0.95 }, { 0.55, 0.90, 0.69 }, { 0.71, 0.91, 0.54 },
    { 0.97, 0.89, 0.35 }, { 1.00, 0.80, 0.38 }, { 1.00, 0.66, 0.35 }, { 0.97, 0.53, 0.45 },
    { 0.91, 0.45, 0.67 }, { 0.80, 0.47, 0.83 }, { 0.62, 0.57, 0.91 }, { 0.89, 0.81, 0.61 },
    { 0.75, 0.57, 0.43 }, { 0.75, 0.75, 0.74 },
  };
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *text = NULL;
  const char *name;
  const double *color;
  cairo_surface_t *surface;
  cairo_t *cr;
  GdkPaintable *picture;

  g_return_val_if_fail (LANLAN_IS_AVATAR (self), NULL);

  size = CLAMP (size, 8, 1024);
  name = self->character ? lanlan_character_get_name (self->character) : "";
  color = palette[g_str_hash (name) % G_N_ELEMENTS (palette)];

  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, size, size);
  cr = cairo_create (surface);
  cairo_arc (cr, size / 2.0, size / 2.0, size / 2.0, 0, 2 * G_PI);
  cairo_clip (cr);

  picture = lanlan_avatar_get_picture (self);
  if (GDK_IS_TEXTURE (picture))
    {
      g_autoptr(GdkPixbuf) pixbuf = NULL;
      double scale = (double) size / gdk_texture_get_width (GDK_TEXTURE (picture));

      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      pixbuf = gdk_pixbuf_get_from_texture (GDK_TEXTURE (picture));
      G_GNUC_END_IGNORE_DEPRECATIONS
      cairo_scale (cr, scale, scale);
      gdk_cairo_set_source_pixbuf (cr, pixbuf, 0, 0);
      cairo_paint (cr);
    }
  else
    {
      PangoLayout *layout = pango_cairo_create_layout (cr);
      PangoFontDescription *font = pango_font_description_from_string ("Cantarell Bold");
      int tw, th;

      cairo_set_source_rgb (cr, color[0], color[1], color[2]);
      cairo_paint (cr);

      text = initials (name);
      pango_font_description_set_absolute_size (font, size * 0.38 * PANGO_SCALE);
      pango_layout_set_font_description (layout, font);
      pango_layout_set_text (layout, text, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      cairo_move_to (cr, (size - tw) / 2.0, (size - th) / 2.0);
      cairo_set_source_rgba (cr, color[0] * 0.35, color[1] * 0.35, color[2] * 0.35, 1.0);
      pango_cairo_show_layout (cr, layout);
      pango_font_description_free (font);
      g_object_unref (layout);
    }

  cairo_destroy (cr);
  cairo_surface_flush (surface);
  {
    g_autoptr(GBytes) pixels = g_bytes_new (cairo_image_surface_get_data (surface),
                                            (gsize) cairo_image_surface_get_stride (surface) * size);

    texture = gdk_memory_texture_new (size, size, GDK_MEMORY_DEFAULT, pixels,
                                      cairo_image_surface_get_stride (surface));
  }
  cairo_surface_destroy (surface);
  return gdk_texture_save_to_png_bytes (texture);
}
