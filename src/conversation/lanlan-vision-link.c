/* lanlan-vision-link.c — what the user shows a character, to its session
 *
 * One per conversation. It holds the screen or camera share, samples it
 * while the conversation is live (the user speaking or a turn going on:
 * N.E.K.O. sends frames only then) at one frame every 1.5 s (N.E.K.O.'s
 * NATIVE_IMAGE_MIN_INTERVAL), and gives every picture — shared frames
 * and attached images alike — to the session, which sends it in its
 * provider's own shape (Qwen input_image_buffer.append once audio is in
 * the buffer, GLM append_video_frame, OpenAI an input_image item, chat
 * models an image_url part).
 *
 * For a model without eyes (a realtime provider without images, or a
 * chat preset without vision) the vision model from Preferences
 * describes the picture instead, once per turn, and the description goes
 * into the character's context; nothing is sent to a provider that
 * cannot take it. In text mode the session decides: a chat model that
 * may or may not see (a "try" preset: Ollama, llama.cpp…) gets the
 * picture first; when its server refuses it, or the preset has no
 * vision, the session holds the question (LanlanSessionManager::
 * image-refused), the picture is described, and the question goes with
 * the words; a model that refused once gets words from then on.
 *
 * The vision model's client is built once, its key looked up in the
 * keyring off the main thread, and kept until the vision settings or
 * that key change (lanlan_vision_link_api_key_changed()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "lanlan-chat-client.h"
#include "lanlan-chat-preset.h"
#include "lanlan-image-describer.h"
#include "lanlan-provider.h"
#include "lanlan-secrets.h"
#include "lanlan-vision-link.h"

#define LIVE_INTERVAL_MS 1500
#define MAX_IMAGE_SIDE   1920
#define MAX_IMAGE_BYTES  (20 * 1024 * 1024)

struct _LanlanVisionLink
{
  GObject               parent_instance;

  LanlanSessionManager *session;
  gulong                turn_handler;
  LanlanScreenShare    *share;
  GCancellable         *cancellable;
  gboolean              live;
  guint                 frames_sent;

  /* The vision model, for a character without eyes. */
  gboolean              described_this_turn;
  gboolean              describing;
  gboolean              release_session;  /* a refused picture's question waits for the words */
  gulong                refused_handler;
  /* Built once, with a key looked up off the main thread; kept until its
   * settings or its key change. */
  GSettings            *settings;
  LanlanImageDescriber *describer;
  GCancellable         *key_lookup;
  GBytes               *waiting;          /* the picture to describe once the key is here */
};

G_DEFINE_FINAL_TYPE (LanlanVisionLink, lanlan_vision_link, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (LanlanVisionSharing, lanlan_vision_sharing,
  G_DEFINE_ENUM_VALUE (LANLAN_VISION_SHARING_NONE, "none"),
  G_DEFINE_ENUM_VALUE (LANLAN_VISION_SHARING_SCREEN, "screen"),
  G_DEFINE_ENUM_VALUE (LANLAN_VISION_SHARING_CAMERA, "camera"))

enum {
  PROP_0,
  PROP_SHARING,
  PROP_LIVE,
  PROP_FRAMES_SENT,
  N_PROPS
};

enum {
  SIGNAL_ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* Whether the character's model takes pictures itself. */
static gboolean
model_has_eyes (LanlanVisionLink *self)
{
  LanlanCharacter *c = lanlan_session_manager_get_character (self->session);

  /* Text mode: the session knows (from the preset, or from a server
   * that refused a picture) and asks for words (image-refused) when its
   * model cannot take a picture, holding the question for them. */
  if (lanlan_character_get_input_mode (c) == LANLAN_INPUT_MODE_TEXT)
    return TRUE;
  else
    {
      const LanlanProvider *p = lanlan_provider_lookup (lanlan_character_get_provider (c));
      return p != NULL && p->supports_images;
    }
}

static void
emit_error (LanlanVisionLink *self,
            const GError     *error)
{
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

/* --- The vision model ------------------------------------------------------ */

static GError *
no_vision_model (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                              _("This character’s model cannot see pictures. Choose a vision model in "
                                "Preferences to describe them to it."));
}

static void describe_now (LanlanVisionLink *self, GBytes *jpeg);

/* The vision model's settings or key changed: the next picture builds
 * anew; one waiting for the old key waits for the new one. */
static void
forget_describer (LanlanVisionLink *self)
{
  g_autoptr(GBytes) waiting = g_steal_pointer (&self->waiting);

  g_clear_object (&self->describer);
  if (self->key_lookup != NULL)
    {
      g_cancellable_cancel (self->key_lookup);
      g_clear_object (&self->key_lookup);
    }
  if (waiting != NULL)
    describe_now (self, waiting);
}

/* The vision model's service: %NULL when none is chosen. */
static const LanlanChatPreset *
vision_preset (LanlanVisionLink *self)
{
  g_autofree char *model = NULL;
  g_autofree char *preset_id = NULL;

  if (self->settings == NULL)
    return NULL;
  model = g_settings_get_string (self->settings, "vision-model");
  g_strstrip (model);
  if (*model == '\0')
    return NULL;
  preset_id = g_settings_get_string (self->settings, "vision-service");
  return lanlan_chat_preset_lookup (preset_id);
}

static gboolean
build_describer (LanlanVisionLink        *self,
                 const LanlanChatPreset  *preset,
                 const char              *key,
                 GError                 **error)
{
  g_autofree char *base_url = g_settings_get_string (self->settings, "vision-base-url");
  g_autofree char *model = g_settings_get_string (self->settings, "vision-model");
  g_autoptr(LanlanChatClient) client = lanlan_chat_client_new_for_preset (preset, base_url, key, error);

  if (client == NULL)
    return FALSE;
  self->describer = lanlan_image_describer_new (client, g_strstrip (model));
  return TRUE;
}

/* The end of a description, in words or not. */
static void
described (LanlanVisionLink *self,
           const char       *text,
           const GError     *error)
{
  gboolean release = self->release_session;

  if (self->session == NULL)
    return;   /* disposed */
  self->describing = FALSE;
  self->release_session = FALSE;
  if (text != NULL)
    {
      g_autofree char *context = lanlan_image_describer_wrap (text);

      lanlan_session_manager_describe_seen (self->session, context);
      self->frames_sent++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAMES_SENT]);
      return;
    }
  /* A question waiting for these words goes on without them, and the
   * character knows a picture was shown that it could not see. */
  if (release)
    lanlan_session_manager_describe_seen (self->session,
                                          "[The user showed you an image, but it could not be "
                                          "described to you. Say so if it matters.]");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      emit_error (self, error);   /* no vision model: said once a turn */
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autoptr(GError) e = g_error_new (error->domain, error->code,
                                         _("The picture could not be described: %s"), error->message);
      self->described_this_turn = FALSE;
      emit_error (self, e);
    }
}

static void
on_described (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LanlanVisionLink) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = lanlan_image_describer_describe_finish (LANLAN_IMAGE_DESCRIBER (source),
                                                                  result, &error);

  described (self, text, error);
}

static void
on_key_looked_up (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(LanlanVisionLink) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, &error);
  g_autoptr(GBytes) jpeg = NULL;
  const LanlanChatPreset *preset;

  /* Cancelled: disposed, or the settings changed and a new lookup runs. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    goto out;
  g_clear_object (&self->key_lookup);
  g_clear_error (&error);
  jpeg = g_steal_pointer (&self->waiting);
  if (jpeg == NULL)
    goto out;
  /* No key (none stored, or no keyring) is not an error here: the
   * server says whether it needs one. */
  preset = vision_preset (self);
  if (preset == NULL)
    error = no_vision_model ();
  else if (build_describer (self, preset, key, &error))
    describe_now (self, jpeg);
  if (error != NULL)
    described (self, NULL, error);

out:
  if (key != NULL)
    memset (key, 0, strlen (key));
}

/* Describes @jpeg with the vision model from Preferences: the describer
 * is built once, its key looked up in the keyring off the main thread. */
static void
describe_now (LanlanVisionLink *self,
              GBytes           *jpeg)
{
  g_autoptr(GError) error = NULL;
  const LanlanChatPreset *preset;
  LanlanCharacter *c = lanlan_session_manager_get_character (self->session);

  if (self->describer != NULL)
    {
      lanlan_image_describer_describe_async (self->describer, jpeg, lanlan_character_get_language (c),
                                             self->cancellable, on_described, g_object_ref (self));
      return;
    }
  preset = vision_preset (self);
  if (preset == NULL)
    {
      error = no_vision_model ();
      described (self, NULL, error);
      return;
    }
  if (!preset->local)
    {
      /* The key first; the latest picture waits for it. */
      g_clear_pointer (&self->waiting, g_bytes_unref);
      self->waiting = g_bytes_ref (jpeg);
      if (self->key_lookup == NULL)
        {
          self->key_lookup = g_cancellable_new ();
          lanlan_secrets_lookup_async (preset->key_id, self->key_lookup, on_key_looked_up,
                                       g_object_ref (self));
        }
      return;
    }
  if (!build_describer (self, preset, NULL, &error))
    {
      described (self, NULL, error);
      return;
    }
  describe_now (self, jpeg);
}

static void
describe (LanlanVisionLink *self,
          GBytes           *jpeg)
{
  if (self->described_this_turn || self->describing)
    return;
  self->described_this_turn = TRUE;
  self->describing = TRUE;
  describe_now (self, jpeg);
}

/* Text mode: the chat model does not take this picture (a preset
 * without vision, or a server that refused one); the question waits for
 * its description. */
static void
on_image_refused (LanlanSessionManager *session,
                  GBytes               *jpeg,
                  LanlanVisionLink     *self)
{
  if (self->describing)
    {
      /* Words are on their way already: they let the question go. */
      self->release_session = TRUE;
      return;
    }
  self->described_this_turn = TRUE;
  self->describing = TRUE;
  self->release_session = TRUE;
  describe_now (self, jpeg);
}

/* --- Pictures ------------------------------------------------------------------ */

/**
 * lanlan_vision_link_show_image:
 * @jpeg: a picture the user shows (attached, pasted, dropped, or a frame)
 *
 * Sends it the way the character's model takes pictures.
 */
void
lanlan_vision_link_show_image (LanlanVisionLink *self,
                               GBytes           *jpeg)
{
  g_return_if_fail (LANLAN_IS_VISION_LINK (self));
  g_return_if_fail (jpeg != NULL);

  if (!model_has_eyes (self))
    {
      describe (self, jpeg);
      return;
    }
  lanlan_session_manager_send_image (self->session, jpeg);
  self->frames_sent++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAMES_SENT]);
}

/**
 * lanlan_vision_link_image_to_jpeg:
 * @image: any picture gdk-pixbuf reads (PNG, JPEG, WebP…)
 *
 * What a model is given: a JPEG no larger than 1920 pixels a side.
 *
 * Returns: (transfer full): the JPEG, or %NULL with @error set
 */
GBytes *
lanlan_vision_link_image_to_jpeg (GBytes  *image,
                                  GError **error)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autoptr(GdkPixbuf) scaled = NULL;
  GdkPixbuf *pixbuf;
  char *buffer = NULL;
  gsize size = 0;
  int w, h;

  if (g_bytes_get_size (image) > MAX_IMAGE_BYTES)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The picture is too large (over 20 MB)"));
      return NULL;
    }
  if (!gdk_pixbuf_loader_write_bytes (loader, image, error) ||
      !gdk_pixbuf_loader_close (loader, error))
    return NULL;
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Not a picture"));
      return NULL;
    }
  w = gdk_pixbuf_get_width (pixbuf);
  h = gdk_pixbuf_get_height (pixbuf);
  if (w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE)
    {
      double k = (double) MAX_IMAGE_SIDE / MAX (w, h);
      scaled = gdk_pixbuf_scale_simple (pixbuf, MAX (1, (int) (w * k)), MAX (1, (int) (h * k)),
                                        GDK_INTERP_BILINEAR);
    }
  else
    scaled = g_object_ref (pixbuf);
  if (gdk_pixbuf_get_has_alpha (scaled))
    {
      /* JPEG has no alpha: flatten onto white. */
      GdkPixbuf *flat = gdk_pixbuf_composite_color_simple (scaled, gdk_pixbuf_get_width (scaled),
                                                          gdk_pixbuf_get_height (scaled),
                                                          GDK_INTERP_NEAREST, 255, 8,
                                                          0xffffffff, 0xffffffff);
      GdkPixbuf *rgb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                       gdk_pixbuf_get_width (flat), gdk_pixbuf_get_height (flat));
      for (int y = 0; y < gdk_pixbuf_get_height (flat); y++)
        {
          const guint8 *src = gdk_pixbuf_get_pixels (flat) + y * gdk_pixbuf_get_rowstride (flat);
          guint8 *dst = gdk_pixbuf_get_pixels (rgb) + y * gdk_pixbuf_get_rowstride (rgb);
          for (int x = 0; x < gdk_pixbuf_get_width (flat); x++)
            memcpy (dst + 3 * x, src + 4 * x, 3);
        }
      g_object_unref (flat);
      g_object_unref (scaled);
      scaled = rgb;
    }
  if (!gdk_pixbuf_save_to_buffer (scaled, &buffer, &size, "jpeg", error, "quality", "85", NULL))
    return NULL;
  return g_bytes_new_take (buffer, size);
}

/* --- Sharing --------------------------------------------------------------- */

static void
update_interval (LanlanVisionLink *self)
{
  if (self->share != NULL && lanlan_screen_share_get_capture (self->share) != NULL)
    lanlan_video_capture_set_interval (lanlan_screen_share_get_capture (self->share),
                                       self->live ? LIVE_INTERVAL_MS : 0);
}

static void
on_frame (LanlanScreenShare *share,
          GBytes            *jpeg,
          guint              width,
          guint              height,
          LanlanVisionLink  *self)
{
  if (self->live)
    lanlan_vision_link_show_image (self, jpeg);
}

static void
drop_share (LanlanVisionLink *self)
{
  if (self->share == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->share, self);
  lanlan_screen_share_stop (self->share);
  g_clear_object (&self->share);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHARING]);
}

static void
on_share_stopped (LanlanScreenShare *share,
                  GError            *error,
                  LanlanVisionLink  *self)
{
  g_autoptr(GError) e = error ? g_error_copy (error) : NULL;

  drop_share (self);
  if (e != NULL)
    emit_error (self, e);
}

static void
on_shared (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LanlanVisionLink *self = g_task_get_source_object (task);
  GError *error = NULL;
  LanlanScreenShare *share = lanlan_screen_share_new_finish (result, &error);

  if (share == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  drop_share (self);
  self->share = share;
  g_signal_connect (share, "frame", G_CALLBACK (on_frame), self);
  g_signal_connect (share, "stopped", G_CALLBACK (on_share_stopped), self);
  update_interval (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHARING]);
  g_task_return_boolean (task, TRUE);
}

/**
 * lanlan_vision_link_share_async:
 * @parent: (nullable) (transfer full): the window the portal's dialog
 *   belongs to
 *
 * Asks the desktop to share a screen or window, or the camera; replaces
 * what was shared before.
 */
void
lanlan_vision_link_share_async (LanlanVisionLink    *self,
                                LanlanShareSource    source,
                                XdpParent           *parent,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (LANLAN_IS_VISION_LINK (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_vision_link_share_async);
  lanlan_screen_share_new_async (source, parent, cancellable, on_shared, task);
}

gboolean
lanlan_vision_link_share_finish (LanlanVisionLink  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lanlan_vision_link_stop_sharing (LanlanVisionLink *self)
{
  g_return_if_fail (LANLAN_IS_VISION_LINK (self));
  drop_share (self);
}

LanlanVisionSharing
lanlan_vision_link_get_sharing (LanlanVisionLink *self)
{
  g_return_val_if_fail (LANLAN_IS_VISION_LINK (self), LANLAN_VISION_SHARING_NONE);

  if (self->share == NULL)
    return LANLAN_VISION_SHARING_NONE;
  return lanlan_screen_share_get_source (self->share) == LANLAN_SHARE_SOURCE_CAMERA
         ? LANLAN_VISION_SHARING_CAMERA : LANLAN_VISION_SHARING_SCREEN;
}

/**
 * lanlan_vision_link_set_live:
 * @live: the user is speaking or a turn is going on
 *
 * Shared frames are sampled only while live.
 */
void
lanlan_vision_link_set_live (LanlanVisionLink *self,
                             gboolean          live)
{
  g_return_if_fail (LANLAN_IS_VISION_LINK (self));

  live = !!live;
  if (self->live == live)
    return;
  self->live = live;
  update_interval (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIVE]);
}

gboolean
lanlan_vision_link_get_live (LanlanVisionLink *self)
{
  g_return_val_if_fail (LANLAN_IS_VISION_LINK (self), FALSE);
  return self->live;
}

guint
lanlan_vision_link_get_frames_sent (LanlanVisionLink *self)
{
  g_return_val_if_fail (LANLAN_IS_VISION_LINK (self), 0);
  return self->frames_sent;
}

static void
on_settings_changed (GSettings        *settings,
                     const char       *key,
                     LanlanVisionLink *self)
{
  if (g_str_has_prefix (key, "vision-"))
    forget_describer (self);
}

/**
 * lanlan_vision_link_api_key_changed:
 * @provider: the keyring entry (a provider or chat preset's key id) whose
 *   key was stored or removed
 *
 * The vision model's key is looked up once and kept; this makes the next
 * picture look it up again when it is @provider's.
 */
void
lanlan_vision_link_api_key_changed (LanlanVisionLink *self,
                                    const char       *provider)
{
  const LanlanChatPreset *preset;

  g_return_if_fail (LANLAN_IS_VISION_LINK (self));
  g_return_if_fail (provider != NULL);

  preset = vision_preset (self);
  if (preset != NULL && !preset->local && g_strcmp0 (preset->key_id, provider) == 0)
    forget_describer (self);
}

static void
on_turn_ended (LanlanVisionLink *self)
{
  if (!self->describing)
    self->described_this_turn = FALSE;
}

/* --- GObject ----------------------------------------------------------------- */

static void
lanlan_vision_link_dispose (GObject *object)
{
  LanlanVisionLink *self = LANLAN_VISION_LINK (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->waiting, g_bytes_unref);
  forget_describer (self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  drop_share (self);
  if (self->session != NULL)
    {
      g_clear_signal_handler (&self->turn_handler, self->session);
      g_clear_signal_handler (&self->refused_handler, self->session);
    }
  g_clear_object (&self->session);

  G_OBJECT_CLASS (lanlan_vision_link_parent_class)->dispose (object);
}

static void
lanlan_vision_link_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  LanlanVisionLink *self = LANLAN_VISION_LINK (object);

  switch (prop_id)
    {
    case PROP_SHARING:
      g_value_set_enum (value, lanlan_vision_link_get_sharing (self));
      break;
    case PROP_LIVE:
      g_value_set_boolean (value, self->live);
      break;
    case PROP_FRAMES_SENT:
      g_value_set_uint (value, self->frames_sent);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_vision_link_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  LanlanVisionLink *self = LANLAN_VISION_LINK (object);

  switch (prop_id)
    {
    case PROP_LIVE:
      lanlan_vision_link_set_live (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_vision_link_class_init (LanlanVisionLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_vision_link_dispose;
  object_class->get_property = lanlan_vision_link_get_property;
  object_class->set_property = lanlan_vision_link_set_property;

  properties[PROP_SHARING] =
    g_param_spec_enum ("sharing", NULL, NULL, LANLAN_TYPE_VISION_SHARING, LANLAN_VISION_SHARING_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LIVE] =
    g_param_spec_boolean ("live", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FRAMES_SENT] =
    g_param_spec_uint ("frames-sent", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lanlan_vision_link_init (LanlanVisionLink *self)
{
  self->cancellable = g_cancellable_new ();
}

/**
 * lanlan_vision_link_new:
 * @session: the character's session
 */
LanlanVisionLink *
lanlan_vision_link_new (LanlanSessionManager *session)
{
  LanlanVisionLink *self;

  g_return_val_if_fail (LANLAN_IS_SESSION_MANAGER (session), NULL);

  self = g_object_new (LANLAN_TYPE_VISION_LINK, NULL);
  self->session = g_object_ref (session);
  self->turn_handler = g_signal_connect_swapped (session, "turn-ended",
                                                 G_CALLBACK (on_turn_ended), self);
  self->refused_handler = g_signal_connect (session, "image-refused",
                                            G_CALLBACK (on_image_refused), self);
  {
    GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
    g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;

    if (schema != NULL && g_settings_schema_has_key (schema, "vision-model"))
      {
        self->settings = g_settings_new (APP_ID);
        g_signal_connect (self->settings, "changed", G_CALLBACK (on_settings_changed), self);
      }
  }
  return self;
}
