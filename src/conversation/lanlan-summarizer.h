/* lanlan-summarizer.h — folds what fell out of a session's memory into a summary
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lanlan-character.h"

G_BEGIN_DECLS

#define LANLAN_SUMMARIZER_ERROR (lanlan_summarizer_error_quark ())
GQuark lanlan_summarizer_error_quark (void);

typedef enum {
  LANLAN_SUMMARIZER_ERROR_CONFIG,        /* no chat endpoint, no key */
  LANLAN_SUMMARIZER_ERROR_AUTH,          /* HTTP 401/403 */
  LANLAN_SUMMARIZER_ERROR_HTTP,          /* any other failure status */
  LANLAN_SUMMARIZER_ERROR_BAD_RESPONSE,  /* not a chat completion */
  LANLAN_SUMMARIZER_ERROR_TOO_LARGE,     /* the answer is over the limit */
} LanlanSummarizerError;

#define LANLAN_TYPE_SUMMARIZER (lanlan_summarizer_get_type ())
G_DECLARE_FINAL_TYPE (LanlanSummarizer, lanlan_summarizer, LANLAN, SUMMARIZER, GObject)

LanlanSummarizer *lanlan_summarizer_new              (LanlanCharacter   *character);
void              lanlan_summarizer_summarize_async  (LanlanSummarizer  *self,
                                                      const char        *previous_summary,
                                                      GPtrArray         *messages,
                                                      GCancellable      *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer           user_data);
char             *lanlan_summarizer_summarize_finish (LanlanSummarizer  *self,
                                                      GAsyncResult      *result,
                                                      GError           **error);

G_END_DECLS
