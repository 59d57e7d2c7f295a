/* lanlan-chat-client.h — streaming OpenAI-compatible chat completions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-chat-preset.h"
#include "lanlan-realtime-events.h"

G_BEGIN_DECLS

/**
 * LanlanChatRequest:
 * One POST /chat/completions: a model and the messages, oldest first.
 * Plain data; build it, hand it to lanlan_chat_client_stream_async().
 */
typedef struct _LanlanChatRequest LanlanChatRequest;

LanlanChatRequest *lanlan_chat_request_new            (const char        *model);
void               lanlan_chat_request_free           (LanlanChatRequest *request);
const char        *lanlan_chat_request_get_model      (LanlanChatRequest *request);
void               lanlan_chat_request_set_model      (LanlanChatRequest *request,
                                                       const char        *model);
void               lanlan_chat_request_add_message    (LanlanChatRequest *request,
                                                       const char        *role,
                                                       const char        *content);
void               lanlan_chat_request_add_image      (LanlanChatRequest *request,
                                                       GBytes            *jpeg);
guint              lanlan_chat_request_get_n_images   (LanlanChatRequest *request);
void               lanlan_chat_request_drop_images    (LanlanChatRequest *request);
void               lanlan_chat_request_set_max_tokens (LanlanChatRequest *request,
                                                       guint              max_tokens);
char              *lanlan_chat_request_to_json        (LanlanChatRequest *request,
                                                       gboolean           stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanChatRequest, lanlan_chat_request_free)

/**
 * LanlanChatResult:
 * @text: the whole answer
 * @finish_reason: "stop", "length"…, or %NULL if the server sent none
 * @prompt_tokens, @completion_tokens: from the usage chunk, or 0
 * @has_usage: the server reported usage
 */
typedef struct {
  char     *text;
  char     *finish_reason;
  guint     prompt_tokens;
  guint     completion_tokens;
  gboolean  has_usage;
} LanlanChatResult;

void lanlan_chat_result_free (LanlanChatResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanChatResult, lanlan_chat_result_free)

#define LANLAN_TYPE_CHAT_CLIENT (lanlan_chat_client_get_type ())
G_DECLARE_FINAL_TYPE (LanlanChatClient, lanlan_chat_client, LANLAN, CHAT_CLIENT, GObject)

LanlanChatClient *lanlan_chat_client_new               (const char          *service_name,
                                                        const char          *base_url,
                                                        const char          *api_key);
LanlanChatClient *lanlan_chat_client_new_for_preset    (const LanlanChatPreset *preset,
                                                        const char          *base_url,
                                                        const char          *api_key,
                                                        GError             **error);
const char       *lanlan_chat_client_get_base_url      (LanlanChatClient    *self);
const char       *lanlan_chat_client_get_service_name  (LanlanChatClient    *self);
void              lanlan_chat_client_set_timeouts      (LanlanChatClient    *self,
                                                        guint                first_data_ms,
                                                        guint                stall_ms);

void              lanlan_chat_client_stream_async      (LanlanChatClient    *self,
                                                        LanlanChatRequest   *request,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
LanlanChatResult *lanlan_chat_client_stream_finish     (LanlanChatClient    *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

void              lanlan_chat_client_list_models_async  (LanlanChatClient    *self,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
GStrv             lanlan_chat_client_list_models_finish (LanlanChatClient    *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);

void              lanlan_chat_client_check_async       (LanlanChatClient    *self,
                                                        const char          *model,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
char             *lanlan_chat_client_check_finish      (LanlanChatClient    *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

void              lanlan_chat_client_transcribe_async  (LanlanChatClient    *self,
                                                        const char          *model,
                                                        const gint16        *pcm,
                                                        gsize                n_samples,
                                                        guint                rate,
                                                        const char          *language,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
char             *lanlan_chat_client_transcribe_finish (LanlanChatClient    *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

GError           *lanlan_chat_error_for_status         (const char          *service_name,
                                                        const char          *url,
                                                        const char          *model,
                                                        guint                status,
                                                        const char          *body,
                                                        gsize                length);

/* Signals, on the thread-default context of the caller of stream_async():
 *   "delta" (const char *text) — each piece of the answer, as it arrives
 * Errors are in LANLAN_REALTIME_ERROR: AUTH (401/403), CONFIG (bad
 * address, unknown model, 400/404), RATE_LIMITED (429), SERVER (5xx, an
 * error in the stream), NETWORK (cannot connect, closed mid-answer),
 * TIMEOUT (no data in time), PROTOCOL (not SSE, oversized or bad JSON).
 */

G_END_DECLS
