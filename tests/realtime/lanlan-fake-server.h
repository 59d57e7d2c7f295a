/* lanlan-fake-server.h — a scripted realtime server on 127.0.0.1 for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  FAKE_RESPONSE_STREAM,   /* stream a spoken answer */
  FAKE_RESPONSE_STALL,    /* never answer response.create */
  FAKE_RESPONSE_ERROR,    /* answer response.create with an `error` event */
  FAKE_RESPONSE_DROP,     /* drop the TCP connection half-way through */
  FAKE_RESPONSE_EXPIRE,   /* finish the answer, then an expiry `error` and close 1001 */
} FakeResponseMode;

/* Which service the fake plays: the client events it accepts, its session
 * fields, its error shape. Anything else is answered with an `error`, and
 * counted (fake_server_count_errors()), so that a test fails on a mistake. */
typedef enum {
  FAKE_PROVIDER_GENERIC,   /* OpenAI GA, or the OpenAI beta protocol with .beta */
  FAKE_PROVIDER_OPENAI,
  FAKE_PROVIDER_QWEN,
  FAKE_PROVIDER_GLM,
  FAKE_PROVIDER_STEPFUN,
} FakeProvider;

typedef struct {
  FakeProvider     provider;
  gboolean         beta;               /* beta event names, else GA (set for the beta services) */
  gboolean         reject_session;     /* answer session.update with an error */
  gboolean         garbage_first;      /* malformed JSON + an unknown event first */
  gboolean         respond_on_commit;  /* commit → speech_stopped + a response */
  gboolean         text_only;          /* answer with text deltas, no audio */
  FakeResponseMode on_response;
  guint            n_deltas;           /* audio deltas per answer */
  guint            samples_per_delta;
  guint            delta_interval_ms;  /* 0: as fast as possible */
  guint            tone_amplitude;     /* > 0: the audio is a 440 Hz sine of this
                                        * peak; 0: each delta's samples are its
                                        * index + 1 (order markers, near silence) */
  gboolean         answer_at_once;     /* send the whole answer, up to response.done,
                                        * while handling response.create: nothing the
                                        * client sends meanwhile is read before the end */
  guint            session_delay_ms;   /* wait before session.updated */
  guint            drop_at_update;     /* drop the connection at the Nth session.update */
  gint             close_after_update; /* 10 ms after session.updated: > 0 close
                                        * with that code (1006: no close frame, a
                                        * plain TCP close), -1 a TCP reset */
} FakeScript;

typedef struct _FakeServer FakeServer;

FakeServer *fake_server_new               (void);
void        fake_server_free              (FakeServer       *server);
char       *fake_server_get_url           (FakeServer       *server,
                                           const char       *path);
void        fake_server_set_script        (FakeServer       *server,
                                           guint             index,
                                           const FakeScript *script);
void        fake_server_set_default_script (FakeServer      *server,
                                           const FakeScript *script);
void        fake_server_set_recording     (FakeServer       *server,
                                           gboolean          recording);
void        fake_server_set_expected_key  (FakeServer       *server,
                                           const char       *key);
guint       fake_server_get_n_connections (FakeServer       *server);
guint       fake_server_count_type        (FakeServer       *server,
                                           guint             index,
                                           const char       *type);
GPtrArray  *fake_server_dup_received      (FakeServer       *server,
                                           guint             index);
GPtrArray  *fake_server_dup_items         (FakeServer       *server,
                                           guint             index);
GArray     *fake_server_dup_samples       (FakeServer       *server,
                                           guint             index);
GArray     *fake_server_dup_delta_times   (FakeServer       *server,
                                           guint             index);
gint        fake_server_get_truncate_ms   (FakeServer       *server,
                                           guint             index);
char       *fake_server_dup_auth          (FakeServer       *server,
                                           guint             index);
gboolean    fake_server_is_closed         (FakeServer       *server,
                                           guint             index);
void        fake_server_send              (FakeServer       *server,
                                           guint             index,
                                           const char       *json);
void        fake_server_close             (FakeServer       *server,
                                           guint             index,
                                           gushort           code);
void        fake_server_drop              (FakeServer       *server,
                                           guint             index);
/* Server VAD heard speech: speech_started, and the services that do so
 * cancel their own answer in flight. */
void        fake_server_speech_started    (FakeServer       *server,
                                           guint             index);
/* Sends one text message of @total bytes as fragments of @fragment bytes. */
void        fake_server_send_fragmented   (FakeServer       *server,
                                           guint             index,
                                           guint64           total,
                                           gsize             fragment);
guint       fake_server_count_errors      (FakeServer       *server,
                                           guint             index);
char       *fake_server_dup_errors        (FakeServer       *server,
                                           guint             index);
char       *fake_server_dup_instructions  (FakeServer       *server,
                                           guint             index);
guint       fake_server_get_max_append    (FakeServer       *server,
                                           guint             index);
guint       fake_server_get_min_append    (FakeServer       *server,
                                           guint             index);

/* /v1/chat/completions beside the realtime endpoint (the rolling summary):
 * strict, see lanlan-fake-server.c. 200 answers @content; any other
 * status an OpenAI-shaped error. Accepted requests are kept as their
 * messages, "role:content\n" each; refused ones are counted. */
void        fake_server_set_chat_reply    (FakeServer       *server,
                                           guint             status,
                                           const char       *content);
GPtrArray  *fake_server_dup_chat_requests (FakeServer       *server);
guint       fake_server_get_n_chat_rejected (FakeServer     *server);

/* @ms, longer under memcheck. */
guint       test_scale_ms                 (guint             ms);

/* Iterates the thread-default main context until @cond is true; the
 * timeout is scaled by test_scale_ms(). */
gboolean    test_wait_until               (gboolean        (*cond) (gpointer),
                                           gpointer          data,
                                           guint             timeout_ms);

G_END_DECLS
