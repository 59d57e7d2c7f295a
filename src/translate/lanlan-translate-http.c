/* lanlan-translate-http.c — JSON over HTTP for translation providers
 *
 * Every provider needs the same thing: POST a JSON body, get a JSON
 * answer back, within a deadline of its own, and stop at once when the
 * caller cancels. libsoup's session timeout only catches idle sockets,
 * so the deadline is a timeout source that cancels a child cancellable;
 * the error then says "timed out" rather than "cancelled".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-json.h"
#include "lanlan-translate-http.h"
#include "lanlan-translation-provider.h"

typedef struct {
  SoupMessage  *message;
  GCancellable *child;
  GCancellable *parent;
  gulong        parent_handler;
  GSource      *timeout;
  guint         timeout_ms;
  gboolean      timed_out;
  char         *url;
} Request;

static void
request_free (gpointer data)
{
  Request *req = data;

  if (req->timeout)
    {
      g_source_destroy (req->timeout);
      g_source_unref (req->timeout);
    }
  if (req->parent_handler)
    g_cancellable_disconnect (req->parent, req->parent_handler);
  g_clear_object (&req->parent);
  g_clear_object (&req->child);
  g_clear_object (&req->message);
  g_free (req->url);
  g_free (req);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Request *req = user_data;

  req->timed_out = TRUE;
  g_clear_pointer (&req->timeout, g_source_unref);
  g_cancellable_cancel (req->child);
  return G_SOURCE_REMOVE;
}

static void
parent_cancelled_cb (GCancellable *parent,
                     GCancellable *child)
{
  g_cancellable_cancel (child);
}

char *
lanlan_translate_join_url (const char *base,
                           const char *path)
{
  gsize len = strlen (base);

  while (len > 0 && base[len - 1] == '/')
    len--;
  return g_strdup_printf ("%.*s/%s", (int) len, base, path[0] == '/' ? path + 1 : path);
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *req = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  guint status;
  gsize len;
  const char *data;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (req->timeout)
    {
      g_source_destroy (req->timeout);
      g_clear_pointer (&req->timeout, g_source_unref);
    }

  if (bytes == NULL)
    {
      if (req->parent != NULL && g_cancellable_is_cancelled (req->parent))
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "Translation cancelled");
      else if (req->timed_out)
        g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_TIMED_OUT,
                                 "%s did not answer within %u ms", req->url, req->timeout_ms);
      else
        {
          g_prefix_error (&error, "Could not reach %s: ", req->url);
          g_task_return_error (task, g_steal_pointer (&error));
        }
      return;
    }

  data = g_bytes_get_data (bytes, &len);
  status = soup_message_get_status (req->message);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_HTTP,
                               "%s answered HTTP %u %s", req->url, status,
                               soup_message_get_reason_phrase (req->message)
                                 ? soup_message_get_reason_phrase (req->message) : "");
      return;
    }

  if (len == 0 || !g_utf8_validate_len (data, len, NULL) ||
      (parser = lanlan_json_parse (data, len, &error)) == NULL ||
      json_parser_get_root (parser) == NULL)
    {
      g_task_return_new_error (task, LANLAN_TRANSLATE_ERROR, LANLAN_TRANSLATE_ERROR_BAD_RESPONSE,
                               "%s answered with invalid JSON%s%s", req->url,
                               error ? ": " : "", error ? error->message : "");
      return;
    }

  g_task_return_pointer (task, json_node_ref (json_parser_get_root (parser)),
                         (GDestroyNotify) json_node_unref);
}

void
lanlan_translate_http_post_json_async (SoupSession         *session,
                                       const char          *url,
                                       const char          *bearer_token,
                                       JsonNode            *body,
                                       guint                timeout_ms,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GBytes) payload = NULL;
  Request *req;
  char *text;

  g_task_set_source_tag (task, lanlan_translate_http_post_json_async);

  req = g_new0 (Request, 1);
  req->url = g_strdup (url);
  req->timeout_ms = timeout_ms;
  req->child = g_cancellable_new ();
  g_task_set_task_data (task, req, request_free);

  req->message = soup_message_new (SOUP_METHOD_POST, url);
  if (req->message == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Invalid translation service URL “%s”", url);
      return;
    }

  text = json_to_string (body, FALSE);
  payload = g_bytes_new_take (text, strlen (text));
  soup_message_set_request_body_from_bytes (req->message, "application/json", payload);
  soup_message_headers_replace (soup_message_get_request_headers (req->message),
                                "Accept", "application/json");
  if (bearer_token != NULL && *bearer_token != '\0')
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", bearer_token);
      soup_message_headers_replace (soup_message_get_request_headers (req->message),
                                    "Authorization", auth);
    }

  if (cancellable != NULL)
    {
      req->parent = g_object_ref (cancellable);
      req->parent_handler = g_cancellable_connect (cancellable, G_CALLBACK (parent_cancelled_cb),
                                                   g_object_ref (req->child), g_object_unref);
    }

  if (timeout_ms > 0)
    {
      req->timeout = g_timeout_source_new (timeout_ms);
      g_source_set_callback (req->timeout, timeout_cb, req, NULL);
      g_source_set_static_name (req->timeout, "[lanlan] translate timeout");
      g_source_attach (req->timeout, g_main_context_get_thread_default ());
    }

  soup_session_send_and_read_async (session, req->message, G_PRIORITY_DEFAULT,
                                    req->child, read_cb, g_object_ref (task));
}

JsonNode *
lanlan_translate_http_post_json_finish (GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
