/* lanlan-image-describer.c — words for a picture, for a model without eyes
 *
 * A character whose model cannot take images still gets to "see" what
 * the user shows: a vision model (any OpenAI-compatible chat model with
 * image_url support, chosen in Preferences) describes the picture, and
 * the description goes into the character's context once per turn, as
 * N.E.K.O. does with its VISION_MODEL (a short description, at most
 * about 250 words, of the main content, the key details and what is
 * interesting in it).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-image-describer.h"

#define MAX_TOKENS 500

struct _LanlanImageDescriber
{
  GObject           parent_instance;

  LanlanChatClient *client;
  char             *model;
};

G_DEFINE_FINAL_TYPE (LanlanImageDescriber, lanlan_image_describer, G_TYPE_OBJECT)

static void
lanlan_image_describer_finalize (GObject *object)
{
  LanlanImageDescriber *self = LANLAN_IMAGE_DESCRIBER (object);

  g_clear_object (&self->client);
  g_free (self->model);

  G_OBJECT_CLASS (lanlan_image_describer_parent_class)->finalize (object);
}

static void
lanlan_image_describer_class_init (LanlanImageDescriberClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lanlan_image_describer_finalize;
}

static void
lanlan_image_describer_init (LanlanImageDescriber *self)
{
}

/**
 * lanlan_image_describer_new:
 * @client: the vision model's service
 * @model: the vision model
 */
LanlanImageDescriber *
lanlan_image_describer_new (LanlanChatClient *client,
                            const char       *model)
{
  LanlanImageDescriber *self;

  g_return_val_if_fail (LANLAN_IS_CHAT_CLIENT (client), NULL);
  g_return_val_if_fail (model != NULL && *model != '\0', NULL);

  self = g_object_new (LANLAN_TYPE_IMAGE_DESCRIBER, NULL);
  self->client = g_object_ref (client);
  self->model = g_strdup (model);
  return self;
}

static void
on_described (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(LanlanChatResult) answer = NULL;
  GError *error = NULL;

  answer = lanlan_chat_client_stream_finish (LANLAN_CHAT_CLIENT (source), result, &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_strstrip (answer->text);
  if (*answer->text == '\0')
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("The vision model returned no description"));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&answer->text), g_free);
}

/**
 * lanlan_image_describer_describe_async:
 * @jpeg: the picture
 * @language: (nullable): a BCP 47 tag the description should be in
 *
 * Asks the vision model for a short description of @jpeg.
 */
void
lanlan_image_describer_describe_async (LanlanImageDescriber *self,
                                       GBytes               *jpeg,
                                       const char           *language,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data)
{
  g_autoptr(LanlanChatRequest) request = NULL;
  g_autofree char *system = NULL;
  GTask *task;

  g_return_if_fail (LANLAN_IS_IMAGE_DESCRIBER (self));
  g_return_if_fail (jpeg != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_image_describer_describe_async);

  system = g_strdup_printf ("You describe images for someone who cannot see them. Briefly describe "
                            "the main content, the key details and anything interesting, in at most "
                            "250 words%s%s%s.",
                            language && *language ? ", in the language with the BCP 47 tag “" : "",
                            language && *language ? language : "",
                            language && *language ? "”" : "");
  request = lanlan_chat_request_new (self->model);
  lanlan_chat_request_set_max_tokens (request, MAX_TOKENS);
  lanlan_chat_request_add_message (request, "system", system);
  lanlan_chat_request_add_message (request, "user", "Describe this image.");
  lanlan_chat_request_add_image (request, jpeg);
  lanlan_chat_client_stream_async (self->client, request, cancellable, on_described, task);
}

/**
 * lanlan_image_describer_describe_finish:
 *
 * Returns: (transfer full): the description
 */
char *
lanlan_image_describer_describe_finish (LanlanImageDescriber  *self,
                                        GAsyncResult          *result,
                                        GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * lanlan_image_describer_wrap:
 *
 * The context line a character gets for a description: it knows this is
 * what the user is showing, not something the user said.
 */
char *
lanlan_image_describer_wrap (const char *description)
{
  return g_strdup_printf ("[The user is showing you an image (the live screen, the camera or a "
                          "picture). A vision model describes it as follows; talk about it as if "
                          "you saw it.]\n%s", description);
}
