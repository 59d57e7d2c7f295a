/* lanlan-fake-chat-server.h — an OpenAI-compatible HTTP server on 127.0.0.1
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  FAKE_CHAT_STREAM,        /* stream the answer, a usage chunk if asked, [DONE] */
  FAKE_CHAT_STALL,         /* stream @stall_after deltas, then nothing */
  FAKE_CHAT_DROP,          /* stream @stall_after deltas, then close the connection */
  FAKE_CHAT_STREAM_ERROR,  /* stream @stall_after deltas, then an error event */
  FAKE_CHAT_HTTP_ERROR,    /* answer @http_status with an error body */
  FAKE_CHAT_JSON,          /* ignore "stream" and answer one JSON completion */
  FAKE_CHAT_RAW,           /* answer 200 text/event-stream with @raw as the body */
} FakeChatMode;

typedef struct {
  FakeChatMode  mode;
  gboolean      ollama;            /* Ollama's error bodies and fingerprint */
  const char   *reply;             /* split into words; NULL: "w0 w1 …" */
  guint         n_deltas;          /* words when @reply is NULL */
  guint         delta_interval_ms;
  guint         first_delay_ms;    /* before the first byte of the body */
  guint         stall_after;
  guint         http_status;
  const char   *error_message;
  const char   *raw;
} FakeChatScript;

typedef struct _FakeChatServer FakeChatServer;

FakeChatServer *fake_chat_server_new             (void);
void            fake_chat_server_free            (FakeChatServer       *server);
char           *fake_chat_server_get_base_url    (FakeChatServer       *server);
void            fake_chat_server_set_script      (FakeChatServer       *server,
                                                  guint                 index,
                                                  const FakeChatScript *script);
void            fake_chat_server_set_default_script (FakeChatServer    *server,
                                                  const FakeChatScript *script);
void            fake_chat_server_add_model       (FakeChatServer       *server,
                                                  const char           *id,
                                                  gboolean              vision);
void            fake_chat_server_set_expected_key (FakeChatServer      *server,
                                                  const char           *key);
void            fake_chat_server_set_transcript  (FakeChatServer       *server,
                                                  const char           *text);
guint           fake_chat_server_get_n_requests  (FakeChatServer       *server);
char           *fake_chat_server_dup_request     (FakeChatServer       *server,
                                                  guint                 index);
guint           fake_chat_server_get_status      (FakeChatServer       *server,
                                                  guint                 index);
gboolean        fake_chat_server_was_aborted     (FakeChatServer       *server,
                                                  guint                 index);
gint64          fake_chat_server_get_first_delta_time (FakeChatServer  *server,
                                                  guint                 index);
GArray         *fake_chat_server_dup_delta_times (FakeChatServer  *server,
                                                  guint                 index);
guint           fake_chat_server_get_n_transcriptions (FakeChatServer  *server);
GArray         *fake_chat_server_dup_transcription_audio (FakeChatServer *server,
                                                  guint                 index,
                                                  guint                *rate);
char           *fake_chat_server_dup_transcription_field (FakeChatServer *server,
                                                  guint                 index,
                                                  const char           *name);
guint           fake_chat_server_get_n_speech    (FakeChatServer       *server);
char           *fake_chat_server_dup_speech_input (FakeChatServer      *server,
                                                  guint                 index);

G_END_DECLS
