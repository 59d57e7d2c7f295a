/* lanlan-vision-link.h — what the user shows a character, to its session
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libportal/portal.h>

#include "lanlan-screen-share.h"
#include "lanlan-session-manager.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_VISION_SHARING_NONE,
  LANLAN_VISION_SHARING_SCREEN,
  LANLAN_VISION_SHARING_CAMERA,
} LanlanVisionSharing;

GType lanlan_vision_sharing_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_VISION_SHARING (lanlan_vision_sharing_get_type ())

#define LANLAN_TYPE_VISION_LINK (lanlan_vision_link_get_type ())
G_DECLARE_FINAL_TYPE (LanlanVisionLink, lanlan_vision_link, LANLAN, VISION_LINK, GObject)

LanlanVisionLink    *lanlan_vision_link_new            (LanlanSessionManager *session);
void                 lanlan_vision_link_share_async    (LanlanVisionLink     *self,
                                                        LanlanShareSource     source,
                                                        XdpParent            *parent,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean             lanlan_vision_link_share_finish   (LanlanVisionLink     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);
void                 lanlan_vision_link_stop_sharing   (LanlanVisionLink     *self);
void                 lanlan_vision_link_api_key_changed (LanlanVisionLink    *self,
                                                        const char           *provider);
LanlanVisionSharing  lanlan_vision_link_get_sharing    (LanlanVisionLink     *self);
void                 lanlan_vision_link_set_live       (LanlanVisionLink     *self,
                                                        gboolean              live);
gboolean             lanlan_vision_link_get_live       (LanlanVisionLink     *self);
void                 lanlan_vision_link_show_image     (LanlanVisionLink     *self,
                                                        GBytes               *jpeg);
guint                lanlan_vision_link_get_frames_sent (LanlanVisionLink    *self);
GBytes              *lanlan_vision_link_image_to_jpeg  (GBytes               *image,
                                                        GError              **error);

/* Properties: "sharing" (LanlanVisionSharing), "live" (rw: a voice turn
 * or the microphone is live, so shared frames are sampled), "frames-sent".
 * Signals: "error" (GError *) — sharing stopped or a picture could not
 * be used; for the user. */

G_END_DECLS
