/* fake-chat-server-main.c — the strict OpenAI-compatible chat server of
 * tests/chat (lanlan-fake-chat-server.c) as a program, for the UI tests
 *
 *   fake-chat-server [--ollama] [--model ID]... [--reply TEXT]
 *                    [--delta-interval-ms N]
 *
 * prints its base URL (http://127.0.0.1:PORT/v1) on the first line, then
 * reads one JSON command per line on stdin and answers each with one
 * JSON line on stdout:
 *
 *   {"cmd":"script","index":N,"mode":"stream|stall|drop|stream_error|http_error|json",
 *    "reply":"…","stall_after":N,"delta_interval_ms":N,"first_delay_ms":N,
 *    "http_status":N,"error_message":"…"}          → {"ok":true}
 *       what chat request N (0-based, counted over all chat requests) gets
 *   {"cmd":"requests"}  → {"requests":[{"body":"…","status":N,"aborted":b},…]}
 *
 * It exits when stdin closes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "lanlan-fake-chat-server.h"

static gboolean
parse_mode (const char   *name,
            FakeChatMode *mode)
{
  static const struct { const char *name; FakeChatMode mode; } modes[] = {
    { "stream", FAKE_CHAT_STREAM }, { "stall", FAKE_CHAT_STALL }, { "drop", FAKE_CHAT_DROP },
    { "stream_error", FAKE_CHAT_STREAM_ERROR }, { "http_error", FAKE_CHAT_HTTP_ERROR },
    { "json", FAKE_CHAT_JSON },
  };

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    if (g_strcmp0 (name, modes[i].name) == 0)
      {
        *mode = modes[i].mode;
        return TRUE;
      }
  return FALSE;
}

/* Strings of a script must outlive the server: interned. */
static const char *
member_string (JsonObject *o,
               const char *name,
               const char *fallback)
{
  const char *s = json_object_get_string_member_with_default (o, name, NULL);
  return s != NULL ? g_intern_string (s) : fallback;
}

static char *
answer_requests (FakeChatServer *server)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  guint n = fake_chat_server_get_n_requests (server);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "requests");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = fake_chat_server_dup_request (server, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "body");
      json_builder_add_string_value (b, body ? body : "");
      json_builder_set_member_name (b, "status");
      json_builder_add_int_value (b, fake_chat_server_get_status (server, i));
      json_builder_set_member_name (b, "aborted");
      json_builder_add_boolean_value (b, fake_chat_server_was_aborted (server, i));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static char *
run_command (FakeChatServer       *server,
             const FakeChatScript *defaults,
             const char           *line)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;
  const char *cmd;

  if (!json_parser_load_from_data (parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return g_strdup ("{\"error\":\"not a JSON object\"}");
  o = json_node_get_object (json_parser_get_root (parser));
  cmd = json_object_get_string_member_with_default (o, "cmd", "");

  if (g_str_equal (cmd, "requests"))
    return answer_requests (server);

  if (g_str_equal (cmd, "script"))
    {
      FakeChatScript script = *defaults;

      if (!parse_mode (json_object_get_string_member_with_default (o, "mode", "stream"), &script.mode))
        return g_strdup ("{\"error\":\"unknown mode\"}");
      script.reply = member_string (o, "reply", defaults->reply);
      script.error_message = member_string (o, "error_message", NULL);
      script.stall_after = json_object_get_int_member_with_default (o, "stall_after", 0);
      script.http_status = json_object_get_int_member_with_default (o, "http_status", 0);
      script.delta_interval_ms = json_object_get_int_member_with_default (o, "delta_interval_ms",
                                                                          defaults->delta_interval_ms);
      script.first_delay_ms = json_object_get_int_member_with_default (o, "first_delay_ms", 0);
      fake_chat_server_set_script (server, json_object_get_int_member_with_default (o, "index", 0),
                                   &script);
      return g_strdup ("{\"ok\":true}");
    }

  return g_strdup ("{\"error\":\"unknown command\"}");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- a strict OpenAI-compatible chat server");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) models = NULL;
  g_autofree char *reply = NULL;
  gboolean ollama = FALSE;
  int interval = 60;
  GOptionEntry entries[] = {
    { "ollama", 0, 0, G_OPTION_ARG_NONE, &ollama, "Answer as Ollama does", NULL },
    { "model", 0, 0, G_OPTION_ARG_STRING_ARRAY, &models, "A model the server offers", "ID" },
    { "reply", 0, 0, G_OPTION_ARG_STRING, &reply, "What every answer says", "TEXT" },
    { "delta-interval-ms", 0, 0, G_OPTION_ARG_INT, &interval, "Between words", "N" },
    { NULL }
  };
  FakeChatScript defaults = { 0 };
  FakeChatServer *server;
  g_autofree char *url = NULL;
  char line[65536];

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  server = fake_chat_server_new ();
  for (guint i = 0; models != NULL && models[i] != NULL; i++)
    fake_chat_server_add_model (server, models[i], FALSE);
  defaults.mode = FAKE_CHAT_STREAM;
  defaults.ollama = ollama;
  defaults.reply = reply != NULL ? g_intern_string (reply) : NULL;
  defaults.delta_interval_ms = MAX (interval, 0);
  fake_chat_server_set_default_script (server, &defaults);

  url = fake_chat_server_get_base_url (server);
  printf ("%s\n", url);
  fflush (stdout);

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_autofree char *answer = NULL;

      g_strchomp (line);
      if (*line == '\0')
        continue;
      answer = run_command (server, &defaults, line);
      printf ("%s\n", answer);
      fflush (stdout);
    }

  fake_chat_server_free (server);
  return 0;
}
