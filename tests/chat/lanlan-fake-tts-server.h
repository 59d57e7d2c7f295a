/* lanlan-fake-tts-server.h — a Qwen-TTS Realtime server on 127.0.0.1
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FakeTtsServer FakeTtsServer;

FakeTtsServer *fake_tts_server_new             (const char    *key);
void           fake_tts_server_free            (FakeTtsServer *server);
char          *fake_tts_server_get_url         (FakeTtsServer *server);
guint          fake_tts_server_get_n_connections (FakeTtsServer *server);
GPtrArray     *fake_tts_server_dup_events      (FakeTtsServer *server);
void           fake_tts_server_set_chunk_interval (FakeTtsServer *server,
                                                  guint          ms);

G_END_DECLS
