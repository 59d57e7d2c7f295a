/* lanlan-screen-share.h — the user's screen or camera, through a portal
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libportal/portal.h>

#include "lanlan-video-capture.h"

G_BEGIN_DECLS

typedef enum {
  LANLAN_SHARE_SOURCE_SCREEN,
  LANLAN_SHARE_SOURCE_CAMERA,
} LanlanShareSource;

GType lanlan_share_source_get_type (void) G_GNUC_CONST;
#define LANLAN_TYPE_SHARE_SOURCE (lanlan_share_source_get_type ())

#define LANLAN_TYPE_SCREEN_SHARE (lanlan_screen_share_get_type ())
G_DECLARE_FINAL_TYPE (LanlanScreenShare, lanlan_screen_share, LANLAN, SCREEN_SHARE, GObject)

void                lanlan_screen_share_new_async   (LanlanShareSource     source,
                                                     XdpParent            *parent,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
LanlanScreenShare  *lanlan_screen_share_new_finish  (GAsyncResult         *result,
                                                     GError              **error);
LanlanShareSource   lanlan_screen_share_get_source  (LanlanScreenShare    *self);
LanlanVideoCapture *lanlan_screen_share_get_capture (LanlanScreenShare    *self);
void                lanlan_screen_share_stop        (LanlanScreenShare    *self);

/* Signals: "frame" (GBytes *jpeg, guint width, guint height) and
 * "stopped" (GError *error), forwarded from the capture; the portal
 * session is closed when sharing stops. */

G_END_DECLS
