/* lanlan-realtime-client.h — one WebSocket connection to a realtime model
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"

G_BEGIN_DECLS

/**
 * LanlanRealtimeConfig:
 * What goes into session.update. Strings may be %NULL or empty.
 */
typedef struct {
  const char *model;
  const char *instructions;
  const char *voice;
  const char *language;
  gboolean    text_only;     /* ask for text output only */
  gboolean    server_vad;    /* let the server detect turns */
} LanlanRealtimeConfig;

#define LANLAN_TYPE_REALTIME_CLIENT (lanlan_realtime_client_get_type ())
G_DECLARE_FINAL_TYPE (LanlanRealtimeClient, lanlan_realtime_client, LANLAN, REALTIME_CLIENT, GObject)

LanlanRealtimeClient *lanlan_realtime_client_new            (const LanlanProvider        *provider,
                                                             const char                  *url,
                                                             const char                  *api_key);
void                  lanlan_realtime_client_set_timeouts   (LanlanRealtimeClient        *self,
                                                             guint                        connect_ms,
                                                             guint                        response_ms);
void                  lanlan_realtime_client_connect_async  (LanlanRealtimeClient        *self,
                                                             const LanlanRealtimeConfig  *config,
                                                             GCancellable                *cancellable,
                                                             GAsyncReadyCallback          callback,
                                                             gpointer                     user_data);
gboolean              lanlan_realtime_client_connect_finish (LanlanRealtimeClient        *self,
                                                             GAsyncResult                *result,
                                                             GError                     **error);
void                  lanlan_realtime_client_close          (LanlanRealtimeClient        *self);
gboolean              lanlan_realtime_client_is_open        (LanlanRealtimeClient        *self);
const LanlanProvider *lanlan_realtime_client_get_provider   (LanlanRealtimeClient        *self);

char                 *lanlan_realtime_build_session_update  (const LanlanProvider        *provider,
                                                             const LanlanRealtimeConfig  *config);

gboolean lanlan_realtime_client_send_raw            (LanlanRealtimeClient *self,
                                                     const char           *json);
gboolean lanlan_realtime_client_send_session_update (LanlanRealtimeClient *self,
                                                     const LanlanRealtimeConfig *config);
gboolean lanlan_realtime_client_append_audio        (LanlanRealtimeClient *self,
                                                     const gint16         *pcm,
                                                     gsize                 n_samples);
gboolean lanlan_realtime_client_clear_audio         (LanlanRealtimeClient *self);
gboolean lanlan_realtime_client_commit_audio        (LanlanRealtimeClient *self);
gboolean lanlan_realtime_client_append_image        (LanlanRealtimeClient *self,
                                                     GBytes               *jpeg);
gboolean lanlan_realtime_client_create_item         (LanlanRealtimeClient *self,
                                                     const char           *role,
                                                     const char           *text);
gboolean lanlan_realtime_client_create_response     (LanlanRealtimeClient *self);
gboolean lanlan_realtime_client_cancel_response     (LanlanRealtimeClient *self);
gboolean lanlan_realtime_client_truncate            (LanlanRealtimeClient *self,
                                                     const char           *item_id,
                                                     guint                 content_index,
                                                     guint                 audio_end_ms);

gsize    lanlan_realtime_client_take_unsent_audio    (LanlanRealtimeClient *self,
                                                     GArray               *into);

guint    lanlan_realtime_client_get_n_bad_events     (LanlanRealtimeClient *self);
guint    lanlan_realtime_client_get_n_unknown_events (LanlanRealtimeClient *self);
guint64  lanlan_realtime_client_get_samples_sent     (LanlanRealtimeClient *self);

/* Signals:
 *   "event"          (const LanlanRealtimeEvent *event)  — every parsed event
 *   "protocol-error" (GError *error)                     — a malformed frame, dropped
 *   "closed"         (GError *error)                     — once; NULL after close()
 */

G_END_DECLS
