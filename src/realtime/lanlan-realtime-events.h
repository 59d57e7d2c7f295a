/* lanlan-realtime-events.h — server events of the realtime protocol, parsed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LANLAN_REALTIME_ERROR (lanlan_realtime_error_quark ())
GQuark lanlan_realtime_error_quark (void);

typedef enum {
  LANLAN_REALTIME_ERROR_AUTH,         /* key refused */
  LANLAN_REALTIME_ERROR_NETWORK,      /* cannot reach / connection dropped */
  LANLAN_REALTIME_ERROR_TIMEOUT,      /* no answer in time */
  LANLAN_REALTIME_ERROR_PROTOCOL,     /* the server sent something we cannot read */
  LANLAN_REALTIME_ERROR_SERVER,       /* the server reported an error */
  LANLAN_REALTIME_ERROR_EXPIRED,      /* the session reached its time limit */
  LANLAN_REALTIME_ERROR_RATE_LIMITED, /* quota or rate limit */
  LANLAN_REALTIME_ERROR_CONFIG,       /* bad settings (address, model…) */
  LANLAN_REALTIME_ERROR_CLOSED,       /* closed normally by the server */
} LanlanRealtimeError;

typedef enum {
  LANLAN_REALTIME_EVENT_UNKNOWN,
  LANLAN_REALTIME_EVENT_SESSION_CREATED,
  LANLAN_REALTIME_EVENT_SESSION_UPDATED,
  LANLAN_REALTIME_EVENT_RESPONSE_CREATED,
  LANLAN_REALTIME_EVENT_OUTPUT_ITEM_ADDED,
  LANLAN_REALTIME_EVENT_AUDIO_DELTA,
  LANLAN_REALTIME_EVENT_AUDIO_DONE,
  LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA,
  LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DONE,
  LANLAN_REALTIME_EVENT_TEXT_DELTA,
  LANLAN_REALTIME_EVENT_TEXT_DONE,
  LANLAN_REALTIME_EVENT_SPEECH_STARTED,
  LANLAN_REALTIME_EVENT_SPEECH_STOPPED,
  LANLAN_REALTIME_EVENT_INPUT_AUDIO_COMMITTED,
  LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_DELTA,
  LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_COMPLETED,
  LANLAN_REALTIME_EVENT_ITEM_CREATED,   /* conversation.item.created / .added */
  LANLAN_REALTIME_EVENT_ITEM_TRUNCATED,
  LANLAN_REALTIME_EVENT_RESPONSE_DONE,
  LANLAN_REALTIME_EVENT_ERROR,
  LANLAN_REALTIME_EVENT_IGNORED,        /* known, nothing for us in it */
} LanlanRealtimeEventType;

/**
 * LanlanRealtimeEvent:
 * @type: what it is
 * @type_name: the `type` member as sent
 * @response_id, @item_id: ids when the event carries them
 * @role: role of an added item
 * @content_index: `content_index` when present
 * @text: delta, transcript or text, depending on @type
 * @audio: decoded little-endian PCM16 of an audio delta
 * @status: `response.status` of response.done
 * @error_type, @error_code, @error_message: of an `error` event
 * @error_event_id: `error.event_id`, the client event the error answers
 * @request_type: (not owned): the type of that client event when the
 *   client still knows it, filled in by LanlanRealtimeClient
 *
 * Plain data; clear with lanlan_realtime_event_clear().
 */
typedef struct {
  LanlanRealtimeEventType  type;
  char                    *type_name;
  char                    *event_id;
  char                    *response_id;
  char                    *item_id;
  char                    *role;
  gint                     content_index;
  char                    *text;
  GBytes                  *audio;
  char                    *status;
  char                    *error_type;
  char                    *error_code;
  char                    *error_message;
  char                    *error_event_id;
  const char              *request_type;
} LanlanRealtimeEvent;

gboolean  lanlan_realtime_parse_event     (const char           *data,
                                           gsize                 len,
                                           LanlanRealtimeEvent  *out,
                                           GError              **error);
void      lanlan_realtime_event_clear     (LanlanRealtimeEvent  *event);
GError   *lanlan_realtime_event_to_error  (const LanlanRealtimeEvent *event);
GError   *lanlan_realtime_error_for_close (gushort               code,
                                           const char           *reason);

G_END_DECLS
