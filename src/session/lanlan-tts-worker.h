/* lanlan-tts-worker.h — speech for models that only write text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef void (*LanlanTtsEmitFunc) (const gint16 *pcm,
                                   gsize         n_samples,
                                   gpointer      emit_data);

typedef struct _LanlanTtsBackend LanlanTtsBackend;

/**
 * LanlanTtsBackend:
 * @synthesize: speak @text, calling @emit with mono PCM16 chunks at @rate
 *   as they become available; runs on the TTS thread; must return soon
 *   after @cancellable is cancelled
 * @free: frees the backend
 * @rate: output sample rate
 */
struct _LanlanTtsBackend
{
  gboolean (*synthesize) (LanlanTtsBackend   *backend,
                          const char         *text,
                          GCancellable       *cancellable,
                          LanlanTtsEmitFunc   emit,
                          gpointer            emit_data,
                          GError            **error);
  void     (*free)       (LanlanTtsBackend   *backend);
  guint      rate;
};

LanlanTtsBackend *lanlan_tts_backend_new_http (const char *base_url,
                                               const char *api_key,
                                               const char *model,
                                               const char *voice);
LanlanTtsBackend *lanlan_tts_backend_new_tone (guint       ms_per_char,
                                               guint       chunk_ms,
                                               gboolean    realtime);
void              lanlan_tts_backend_free     (LanlanTtsBackend *backend);

typedef enum {
  LANLAN_TTS_RESPONSE_READY,
  LANLAN_TTS_RESPONSE_AUDIO,
  LANLAN_TTS_RESPONSE_TURN_END,
  LANLAN_TTS_RESPONSE_ERROR,
  LANLAN_TTS_RESPONSE_PIECE_END,  /* only with lanlan_tts_worker_set_piece_marks() */
} LanlanTtsResponseType;

typedef struct {
  LanlanTtsResponseType  type;
  guint                  speech_id;
  GBytes                *pcm;    /* AUDIO */
  GError                *error;  /* ERROR */
} LanlanTtsResponse;

void lanlan_tts_response_free (LanlanTtsResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanTtsResponse, lanlan_tts_response_free)

/* Called on the TTS thread whenever a response is queued. */
typedef void (*LanlanTtsNotify) (gpointer user_data);

#define LANLAN_TYPE_TTS_WORKER (lanlan_tts_worker_get_type ())
G_DECLARE_FINAL_TYPE (LanlanTtsWorker, lanlan_tts_worker, LANLAN, TTS_WORKER, GObject)

LanlanTtsWorker   *lanlan_tts_worker_new       (LanlanTtsBackend *backend,
                                                LanlanTtsNotify   notify,
                                                gpointer          notify_data);
guint              lanlan_tts_worker_get_rate  (LanlanTtsWorker  *self);
void               lanlan_tts_worker_speak     (LanlanTtsWorker  *self,
                                                guint             speech_id,
                                                const char       *text);
void               lanlan_tts_worker_end_turn  (LanlanTtsWorker  *self,
                                                guint             speech_id);
void               lanlan_tts_worker_interrupt (LanlanTtsWorker  *self);
void               lanlan_tts_worker_set_piece_marks (LanlanTtsWorker *self,
                                                      gboolean         marks);
LanlanTtsResponse *lanlan_tts_worker_pop       (LanlanTtsWorker  *self,
                                                guint             timeout_ms);

G_END_DECLS
