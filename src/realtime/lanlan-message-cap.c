/* lanlan-message-cap.c — a size cap on whole incoming WebSocket messages
 *
 * libsoup caps each frame (max-incoming-payload-size) but, before 3.8,
 * assembles a fragmented message without any limit: a server sending
 * endless 64 KiB continuation frames grows our memory without bound.
 * libsoup 3.8 added max-total-message-size for exactly this; where it
 * exists we set it. Older libsoup calls out on every frame only to the
 * connection's WebSocket extensions, so there this local extension counts
 * the bytes of the message being assembled and fails the frame that goes
 * past the cap, with SOUP_WEBSOCKET_CLOSE_TOO_BIG: libsoup then closes
 * with 1009 and nothing more is appended.
 *
 * The extension changes nothing on the wire: it is never offered in the
 * handshake (the message disables it), and it is added to the extensions
 * the server accepted in our own copy of the 101 response, which is what
 * libsoup instantiates the connection's extensions from.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"


#include "lanlan-message-cap.h"

#define CAP_NAME "x-lanlan-message-cap"

struct _LanlanMessageCap
{
  SoupWebsocketExtension parent_instance;
  guint64                total;   /* bytes of the message being assembled */
};

G_DEFINE_FINAL_TYPE (LanlanMessageCap, lanlan_message_cap, SOUP_TYPE_WEBSOCKET_EXTENSION)

static GBytes *
process_incoming_message (SoupWebsocketExtension  *extension,
                          guint8                  *header,
                          GBytes                  *payload,
                          GError                 **error)
{
  LanlanMessageCap *self = LANLAN_MESSAGE_CAP (extension);
  guint8 opcode = header[0] & 0x0f;

  if (opcode & 0x08)          /* control frames are not part of a message */
    return payload;
  if (opcode != 0x00)         /* a new message starts */
    self->total = 0;
  self->total += g_bytes_get_size (payload);
  if (self->total > LANLAN_REALTIME_MAX_MESSAGE)
    {
      g_set_error (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
                   "A message of more than %u bytes", (guint) LANLAN_REALTIME_MAX_MESSAGE);
      g_bytes_unref (payload);
      return NULL;
    }
  if (header[0] & 0x80)       /* FIN */
    self->total = 0;
  return payload;
}

static void
lanlan_message_cap_class_init (LanlanMessageCapClass *klass)
{
  SoupWebsocketExtensionClass *extension_class = SOUP_WEBSOCKET_EXTENSION_CLASS (klass);

  extension_class->name = CAP_NAME;
  extension_class->process_incoming_message = process_incoming_message;
}

static void
lanlan_message_cap_init (LanlanMessageCap *self)
{
}

static gboolean
has_total_cap (void)
{
  static gsize has;

  if (g_once_init_enter (&has))
    {
      GObjectClass *klass = g_type_class_ref (SOUP_TYPE_WEBSOCKET_CONNECTION);
      gboolean found = g_object_class_find_property (klass, "max-total-message-size") != NULL;

      g_type_class_unref (klass);
      g_once_init_leave (&has, found ? 2 : 1);
    }
  return has == 2;
}

static void
on_got_informational (SoupMessage *msg,
                      gpointer     user_data)
{
  SoupMessageHeaders *response = soup_message_get_response_headers (msg);
  SoupMessageHeaders *request = soup_message_get_request_headers (msg);

  if (soup_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    return;
  /* libsoup checks the server's extensions against the ones offered, when
   * any were: count ours as offered too. */
  if (soup_message_headers_get_list (request, "Sec-WebSocket-Extensions") != NULL)
    soup_message_headers_append (request, "Sec-WebSocket-Extensions", CAP_NAME);
  soup_message_headers_append (response, "Sec-WebSocket-Extensions", CAP_NAME);
}

/**
 * lanlan_message_cap_prepare:
 *
 * Call before soup_session_websocket_connect_async() with @msg.
 */
void
lanlan_message_cap_prepare (SoupSession *session,
                            SoupMessage *msg)
{
  if (has_total_cap ())
    return;
  if (soup_session_get_feature (session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER) == NULL)
    {
      soup_session_add_feature_by_type (session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
      /* The manager brings deflate, which we never offered before. */
      soup_message_disable_feature (msg, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
    }
  soup_session_add_feature_by_type (session, LANLAN_TYPE_MESSAGE_CAP);
  soup_message_disable_feature (msg, LANLAN_TYPE_MESSAGE_CAP);
  g_signal_connect (msg, "got-informational", G_CALLBACK (on_got_informational), NULL);
}

/**
 * lanlan_message_cap_apply:
 *
 * Call on the connected @ws: sets libsoup's own cap where it has one.
 */
void
lanlan_message_cap_apply (SoupWebsocketConnection *ws)
{
  soup_websocket_connection_set_max_incoming_payload_size (ws, LANLAN_REALTIME_MAX_MESSAGE);
  if (has_total_cap ())
    g_object_set (ws, "max-total-message-size", (guint64) LANLAN_REALTIME_MAX_MESSAGE, NULL);
}
