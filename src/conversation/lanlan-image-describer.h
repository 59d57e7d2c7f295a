/* lanlan-image-describer.h — words for a picture, for a model without eyes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-chat-client.h"

G_BEGIN_DECLS

#define LANLAN_TYPE_IMAGE_DESCRIBER (lanlan_image_describer_get_type ())
G_DECLARE_FINAL_TYPE (LanlanImageDescriber, lanlan_image_describer, LANLAN, IMAGE_DESCRIBER, GObject)

LanlanImageDescriber *lanlan_image_describer_new              (LanlanChatClient      *client,
                                                               const char            *model);
void                  lanlan_image_describer_describe_async   (LanlanImageDescriber  *self,
                                                               GBytes                *jpeg,
                                                               const char            *language,
                                                               GCancellable          *cancellable,
                                                               GAsyncReadyCallback    callback,
                                                               gpointer               user_data);
char                 *lanlan_image_describer_describe_finish  (LanlanImageDescriber  *self,
                                                               GAsyncResult          *result,
                                                               GError               **error);
char                 *lanlan_image_describer_wrap             (const char            *description);

G_END_DECLS
