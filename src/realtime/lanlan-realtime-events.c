/* lanlan-realtime-events.c — server events of the realtime protocol, parsed
 *
 * One pure function turns a WebSocket text frame into a flat struct. It
 * knows both the GA names (response.output_audio.delta …) and the beta
 * names (response.audio.delta …) so the rest of the program never cares
 * which dialect a server speaks. It takes a byte buffer and never trusts
 * it: it is the entry point a fuzzer drives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "lanlan-json.h"
#include "lanlan-realtime-events.h"

G_DEFINE_QUARK (lanlan-realtime-error-quark, lanlan_realtime_error)

static const struct {
  const char              *name;
  LanlanRealtimeEventType  type;
} event_names[] = {
  { "session.created", LANLAN_REALTIME_EVENT_SESSION_CREATED },
  { "session.updated", LANLAN_REALTIME_EVENT_SESSION_UPDATED },
  { "response.created", LANLAN_REALTIME_EVENT_RESPONSE_CREATED },
  { "response.output_item.added", LANLAN_REALTIME_EVENT_OUTPUT_ITEM_ADDED },
  { "response.audio.delta", LANLAN_REALTIME_EVENT_AUDIO_DELTA },
  { "response.output_audio.delta", LANLAN_REALTIME_EVENT_AUDIO_DELTA },
  { "response.audio.done", LANLAN_REALTIME_EVENT_AUDIO_DONE },
  { "response.output_audio.done", LANLAN_REALTIME_EVENT_AUDIO_DONE },
  { "response.audio_transcript.delta", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA },
  { "response.output_audio_transcript.delta", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA },
  { "response.audio_transcript.done", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DONE },
  { "response.output_audio_transcript.done", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DONE },
  { "response.text.delta", LANLAN_REALTIME_EVENT_TEXT_DELTA },
  { "response.output_text.delta", LANLAN_REALTIME_EVENT_TEXT_DELTA },
  { "response.text.done", LANLAN_REALTIME_EVENT_TEXT_DONE },
  { "response.output_text.done", LANLAN_REALTIME_EVENT_TEXT_DONE },
  { "input_audio_buffer.speech_started", LANLAN_REALTIME_EVENT_SPEECH_STARTED },
  { "input_audio_buffer.speech_stopped", LANLAN_REALTIME_EVENT_SPEECH_STOPPED },
  { "input_audio_buffer.committed", LANLAN_REALTIME_EVENT_INPUT_AUDIO_COMMITTED },
  { "conversation.item.input_audio_transcription.delta", LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_DELTA },
  { "conversation.item.input_audio_transcription.completed", LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_COMPLETED },
  { "conversation.item.created", LANLAN_REALTIME_EVENT_ITEM_CREATED },
  { "conversation.item.added", LANLAN_REALTIME_EVENT_ITEM_CREATED },
  { "conversation.item.truncated", LANLAN_REALTIME_EVENT_ITEM_TRUNCATED },
  { "response.done", LANLAN_REALTIME_EVENT_RESPONSE_DONE },
  { "error", LANLAN_REALTIME_EVENT_ERROR },
  /* Known events that carry nothing we act on. */
  { "conversation.item.done", LANLAN_REALTIME_EVENT_IGNORED },
  { "conversation.item.retrieved", LANLAN_REALTIME_EVENT_IGNORED },
  { "conversation.item.deleted", LANLAN_REALTIME_EVENT_IGNORED },
  { "conversation.created", LANLAN_REALTIME_EVENT_IGNORED },
  { "conversation.item.input_audio_transcription.failed", LANLAN_REALTIME_EVENT_IGNORED },
  { "conversation.item.input_audio_transcription.segment", LANLAN_REALTIME_EVENT_IGNORED },
  { "input_audio_buffer.cleared", LANLAN_REALTIME_EVENT_IGNORED },
  { "input_audio_buffer.timeout_triggered", LANLAN_REALTIME_EVENT_IGNORED },
  { "response.output_item.done", LANLAN_REALTIME_EVENT_IGNORED },
  { "response.content_part.added", LANLAN_REALTIME_EVENT_IGNORED },
  { "response.content_part.done", LANLAN_REALTIME_EVENT_IGNORED },
  { "response.function_call_arguments.delta", LANLAN_REALTIME_EVENT_IGNORED },
  { "response.function_call_arguments.done", LANLAN_REALTIME_EVENT_IGNORED },
  { "rate_limits.updated", LANLAN_REALTIME_EVENT_IGNORED },
  { "transcription_session.updated", LANLAN_REALTIME_EVENT_IGNORED },
  { "heartbeat", LANLAN_REALTIME_EVENT_IGNORED },
};

static GHashTable *
get_name_table (void)
{
  static gsize table;

  if (g_once_init_enter (&table))
    {
      GHashTable *t = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < G_N_ELEMENTS (event_names); i++)
        g_hash_table_insert (t, (gpointer) event_names[i].name,
                             GINT_TO_POINTER (event_names[i].type));
      g_once_init_leave (&table, (gsize) t);
    }

  return (GHashTable *) table;
}

void
lanlan_realtime_event_clear (LanlanRealtimeEvent *event)
{
  g_return_if_fail (event != NULL);

  g_free (event->type_name);
  g_free (event->event_id);
  g_free (event->response_id);
  g_free (event->item_id);
  g_free (event->role);
  g_free (event->text);
  g_clear_pointer (&event->audio, g_bytes_unref);
  g_free (event->status);
  g_free (event->error_type);
  g_free (event->error_code);
  g_free (event->error_message);
  g_free (event->error_event_id);
  memset (event, 0, sizeof *event);
  event->content_index = -1;
}

/* A member that must be a string if present. Returns FALSE on a wrong type. */
static gboolean
get_string (JsonObject  *object,
            const char  *member,
            char       **out)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, member)) == NULL ||
      JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static JsonObject *
get_object (JsonObject *object,
            const char *member)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, member)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

static gboolean
is_base64 (const char *s)
{
  gsize len = 0;

  for (const char *p = s; *p; p++, len++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=' &&
        *p != '\n' && *p != '\r')
      return FALSE;
  return TRUE;
}

static gboolean
fail (GError     **error,
      const char  *what)
{
  g_set_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
               /* Translators: %s says what was wrong with a message */
               _("The service sent a message that could not be read: %s"), what);
  return FALSE;
}

/**
 * lanlan_realtime_parse_event:
 * @data: a text frame, not necessarily nul-terminated
 * @len: its length in bytes
 * @out: (out caller-allocates): filled on success; cleared on failure
 *
 * Unknown but well-formed events parse to %LANLAN_REALTIME_EVENT_UNKNOWN
 * with @type_name set. Malformed ones fail with
 * %LANLAN_REALTIME_ERROR_PROTOCOL.
 */
gboolean
lanlan_realtime_parse_event (const char           *data,
                             gsize                 len,
                             LanlanRealtimeEvent  *out,
                             GError              **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonObject *sub;
  gpointer value;
  gboolean ok = TRUE;

  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  out->content_index = -1;

  if (data == NULL || len == 0)
    return fail (error, _("empty message"));
  if (len > 64 * 1024 * 1024)
    return fail (error, _("message too large"));
  if (memchr (data, '\0', len) != NULL || !g_utf8_validate_len (data, len, NULL))
    return fail (error, _("not UTF-8 text"));

  /* Bounded nesting, and an error message that is always UTF-8. */
  parser = lanlan_json_parse (data, len, &local_error);
  if (parser == NULL)
    return fail (error, local_error->message);

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, _("not a JSON object"));
  object = json_node_get_object (root);

  if (!get_string (object, "type", &out->type_name) || out->type_name == NULL)
    {
      lanlan_realtime_event_clear (out);
      return fail (error, _("no event type"));
    }

  if (g_hash_table_lookup_extended (get_name_table (), out->type_name, NULL, &value))
    out->type = GPOINTER_TO_INT (value);
  else
    out->type = LANLAN_REALTIME_EVENT_UNKNOWN;

  ok &= get_string (object, "event_id", &out->event_id);
  ok &= get_string (object, "response_id", &out->response_id);
  ok &= get_string (object, "item_id", &out->item_id);

  if (json_object_has_member (object, "content_index"))
    {
      JsonNode *node = json_object_get_member (object, "content_index");
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        out->content_index = (gint) CLAMP (json_node_get_int (node), -1, G_MAXINT);
      else
        ok = FALSE;
    }

  switch (out->type)
    {
    case LANLAN_REALTIME_EVENT_AUDIO_DELTA:
      {
        g_autofree char *b64 = NULL;
        gsize n_bytes = 0;
        guchar *pcm;

        if (!get_string (object, "delta", &b64) || b64 == NULL || !is_base64 (b64))
          {
            lanlan_realtime_event_clear (out);
            return fail (error, _("audio is not base64"));
          }
        pcm = g_base64_decode (b64, &n_bytes);
        if (n_bytes % 2 != 0)
          {
            g_free (pcm);
            lanlan_realtime_event_clear (out);
            return fail (error, _("audio is not 16-bit samples"));
          }
        out->audio = g_bytes_new_take (pcm, n_bytes);
      }
      break;

    case LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA:
    case LANLAN_REALTIME_EVENT_TEXT_DELTA:
    case LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_DELTA:
      ok &= get_string (object, "delta", &out->text);
      if (out->text == NULL)
        out->text = g_strdup ("");
      break;

    case LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DONE:
    case LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_COMPLETED:
      ok &= get_string (object, "transcript", &out->text);
      break;

    case LANLAN_REALTIME_EVENT_TEXT_DONE:
      ok &= get_string (object, "text", &out->text);
      break;

    case LANLAN_REALTIME_EVENT_RESPONSE_CREATED:
    case LANLAN_REALTIME_EVENT_RESPONSE_DONE:
      sub = get_object (object, "response");
      if (sub != NULL)
        {
          ok &= get_string (sub, "id", &out->response_id);
          ok &= get_string (sub, "status", &out->status);
        }
      break;

    case LANLAN_REALTIME_EVENT_OUTPUT_ITEM_ADDED:
    case LANLAN_REALTIME_EVENT_ITEM_CREATED:
      sub = get_object (object, "item");
      if (sub == NULL)
        {
          lanlan_realtime_event_clear (out);
          return fail (error, _("an item event without an item"));
        }
      ok &= get_string (sub, "id", &out->item_id);
      ok &= get_string (sub, "role", &out->role);
      break;

    case LANLAN_REALTIME_EVENT_ERROR:
      sub = get_object (object, "error");
      if (sub != NULL)
        {
          ok &= get_string (sub, "type", &out->error_type);
          ok &= get_string (sub, "code", &out->error_code);
          ok &= get_string (sub, "message", &out->error_message);
          ok &= get_string (sub, "event_id", &out->error_event_id);
        }
      else
        ok &= get_string (object, "message", &out->error_message);
      break;

    default:
      break;
    }

  if (!ok)
    {
      lanlan_realtime_event_clear (out);
      return fail (error, _("a field has the wrong type"));
    }

  return TRUE;
}

static gboolean
contains (const char *haystack,
          const char *needle)
{
  return haystack != NULL && strstr (haystack, needle) != NULL;
}

/**
 * lanlan_realtime_event_to_error:
 *
 * Returns: (transfer full): a user-facing error for an `error` event
 */
GError *
lanlan_realtime_event_to_error (const LanlanRealtimeEvent *event)
{
  const char *detail;

  g_return_val_if_fail (event != NULL, NULL);

  detail = event->error_message ? event->error_message :
           event->error_code ? event->error_code : _("no details");

  if (contains (event->error_code, "api_key") || contains (event->error_type, "auth") ||
      contains (event->error_code, "unauthorized") || contains (event->error_code, "401"))
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                        _("The service refused the API key: %s"), detail);
  if (contains (event->error_code, "rate_limit") || contains (event->error_code, "quota") ||
      contains (event->error_type, "rate_limit"))
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED,
                        _("The service is rate limiting this account: %s"), detail);
  if (contains (event->error_code, "expired"))
    return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_EXPIRED,
                        _("The conversation session expired: %s"), detail);

  return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER,
                      _("The service reported an error: %s"), detail);
}

/**
 * lanlan_realtime_error_for_close:
 * @code: WebSocket close code (0 or 1006: connection lost)
 *
 * Returns: (transfer full): a user-facing error for a closed connection
 */
GError *
lanlan_realtime_error_for_close (gushort     code,
                                 const char *reason)
{
  const char *why = (reason != NULL && *reason != '\0') ? reason : NULL;

  switch (code)
    {
    case 1000:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CLOSED,
                          _("The service ended the conversation%s%s"),
                          why ? ": " : "", why ? why : "");
    case 1001:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_EXPIRED,
                          _("The conversation session expired%s%s"),
                          why ? ": " : "", why ? why : "");
    case 1008:
    case 4001:
    case 4003:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH,
                          _("The service refused the API key%s%s"),
                          why ? ": " : "", why ? why : "");
    case 1002:
    case 1003:
    case 1007:
    case 1009:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL,
                          _("The service closed the connection after a protocol error (code %u)"),
                          code);
    case 1011:
    case 1013:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER,
                          _("The service had an internal error (code %u)"), code);
    default:
      return g_error_new (LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK,
                          _("The connection to the service was lost (code %u)"), code);
    }
}
