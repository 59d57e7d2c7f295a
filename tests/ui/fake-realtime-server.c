/* fake-realtime-server.c — the scripted realtime server as a program, for UI tests
 *
 * Starts a FakeServer (tests/realtime) on 127.0.0.1 and a small TCP relay
 * in front of it, prints the relay's WebSocket URL on stdout (one line)
 * and runs until SIGTERM or SIGINT. The relay can listen on a fixed port
 * (--port), so a test can kill the server and start a new one at the same
 * URL to check that the app reconnects. With --log-dir, the events each
 * connection received are written to LOG_DIR/conn-N.jsonl, one per line,
 * a few times a second.
 *
 *   fake-realtime-server [--port N] [--expected-key KEY]
 *                        [--delta-interval-ms N] [--n-deltas N] [--log-dir DIR]
 *                        [--session-delay-ms N]
 *
 * --session-delay-ms delays session.updated on every connection but the
 * first, so that a hot swap or a reconnection takes a visible moment.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>

#include "lanlan-fake-server.h"

typedef struct {
  FakeServer   *server;
  guint         target_port;
  char         *log_dir;
} Relay;

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
on_spliced (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GIOStream) other = user_data;

  g_io_stream_splice_finish (result, NULL);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GSocketConnection) incoming = user_data;
  g_autoptr(GSocketConnection) outgoing = NULL;
  g_autoptr(GError) error = NULL;

  outgoing = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (outgoing == NULL)
    {
      g_printerr ("fake-realtime-server: relay: %s\n", error->message);
      return;
    }

  g_io_stream_splice_async (G_IO_STREAM (incoming), G_IO_STREAM (outgoing),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, NULL, on_spliced, g_object_ref (outgoing));
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  Relay *relay = user_data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autofree char *host = g_strdup_printf ("127.0.0.1:%u", relay->target_port);

  g_socket_client_connect_to_host_async (client, host, 0, NULL, on_connected,
                                         g_object_ref (connection));
  return TRUE;
}

static gboolean
write_logs (gpointer user_data)
{
  Relay *relay = user_data;
  guint n = fake_server_get_n_connections (relay->server);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GPtrArray) received = fake_server_dup_received (relay->server, i);
      g_autoptr(GString) out = g_string_new (NULL);
      g_autofree char *name = g_strdup_printf ("conn-%u.jsonl", i);
      g_autofree char *path = g_build_filename (relay->log_dir, name, NULL);

      for (guint j = 0; received != NULL && j < received->len; j++)
        {
          g_string_append (out, g_ptr_array_index (received, j));
          g_string_append_c (out, '\n');
        }
      g_file_set_contents (path, out->str, out->len, NULL);

      /* What the client did that the service would have refused. */
      {
        g_autofree char *errors = fake_server_dup_errors (relay->server, i);
        g_autofree char *ename = g_strdup_printf ("errors-%u.txt", i);
        g_autofree char *epath = g_build_filename (relay->log_dir, ename, NULL);

        g_file_set_contents (epath, errors, -1, NULL);
      }
    }

  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  g_autofree char *inner_url = NULL;
  g_autofree char *expected_key = NULL;
  g_autofree char *log_dir = NULL;
  g_autofree char *provider = NULL;
  g_autofree char *chat_reply = NULL;
  g_autoptr(GUri) uri = NULL;
  int chat_status = 200, tone_amplitude = 0;
  int port = 0, delta_interval_ms = 40, n_deltas = 10, session_delay_ms = 0;
  FakeScript script = { 0 };
  Relay relay = { 0 };
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "Port to listen on (0: any)", "N" },
    { "expected-key", 0, 0, G_OPTION_ARG_STRING, &expected_key, "Refuse other API keys", "KEY" },
    { "delta-interval-ms", 0, 0, G_OPTION_ARG_INT, &delta_interval_ms, "Pause between deltas", "MS" },
    { "n-deltas", 0, 0, G_OPTION_ARG_INT, &n_deltas, "Deltas per answer", "N" },
    { "session-delay-ms", 0, 0, G_OPTION_ARG_INT, &session_delay_ms, "Delay session.updated after the first connection", "MS" },
    { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir, "Write received events (conn-N.jsonl) and provoked errors (errors-N.txt) here", "DIR" },
    { "provider", 0, 0, G_OPTION_ARG_STRING, &provider, "Play openai, qwen, glm or stepfun (default: OpenAI GA)", "ID" },
    { "tone-amplitude", 0, 0, G_OPTION_ARG_INT, &tone_amplitude, "Answer with a 440 Hz sine of this amplitude (0: marker samples)", "N" },
    { "chat-reply", 0, 0, G_OPTION_ARG_STRING, &chat_reply, "What /v1/chat/completions answers", "TEXT" },
    { "chat-status", 0, 0, G_OPTION_ARG_INT, &chat_status, "HTTP status of /v1/chat/completions (not 200: an OpenAI-shaped error)", "N" },
    { NULL }
  };

  context = g_option_context_new ("— a scripted OpenAI Realtime server on 127.0.0.1");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  relay.server = fake_server_new ();
  if (g_strcmp0 (provider, "openai") == 0)
    script.provider = FAKE_PROVIDER_OPENAI;
  else if (g_strcmp0 (provider, "qwen") == 0)
    script.provider = FAKE_PROVIDER_QWEN;
  else if (g_strcmp0 (provider, "glm") == 0)
    script.provider = FAKE_PROVIDER_GLM;
  else if (g_strcmp0 (provider, "stepfun") == 0)
    script.provider = FAKE_PROVIDER_STEPFUN;
  else if (provider != NULL)
    {
      g_printerr ("fake-realtime-server: unknown provider “%s”\n", provider);
      return 2;
    }
  script.beta = script.provider != FAKE_PROVIDER_GENERIC && script.provider != FAKE_PROVIDER_OPENAI;
  script.n_deltas = MAX (n_deltas, 1);
  script.samples_per_delta = 480;
  script.delta_interval_ms = MAX (delta_interval_ms, 0);
  script.tone_amplitude = (guint) CLAMP (tone_amplitude, 0, 32767);
  /* A tone plays without gaps: each delta carries its interval's audio. */
  if (script.tone_amplitude > 0)
    script.samples_per_delta = MAX (script.samples_per_delta, script.delta_interval_ms * 24);
  fake_server_set_script (relay.server, 0, &script);
  script.session_delay_ms = MAX (session_delay_ms, 0);
  fake_server_set_default_script (relay.server, &script);
  if (expected_key != NULL)
    fake_server_set_expected_key (relay.server, expected_key);
  if (chat_reply != NULL || chat_status != 200)
    fake_server_set_chat_reply (relay.server, (guint) chat_status,
                                chat_reply != NULL ? chat_reply : "");

  inner_url = fake_server_get_url (relay.server, NULL);
  uri = g_uri_parse (inner_url, G_URI_FLAGS_NONE, &error);
  g_assert_no_error (error);
  relay.target_port = g_uri_get_port (uri);
  relay.log_dir = log_dir;

  loop = g_main_loop_new (NULL, FALSE);
  service = g_socket_service_new ();
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, (guint16) port);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &error))
    {
      g_printerr ("fake-realtime-server: cannot listen on 127.0.0.1:%d: %s\n", port, error->message);
      fake_server_free (relay.server);
      return 1;
    }
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), &relay);
  g_socket_service_start (service);

  if (log_dir != NULL)
    g_timeout_add (200, write_logs, &relay);

  g_print ("ws://127.0.0.1:%u/v1/realtime\n",
           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  fflush (stdout);

  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);

  if (log_dir != NULL)
    write_logs (&relay);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  fake_server_free (relay.server);
  return 0;
}
