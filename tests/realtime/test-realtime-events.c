/* test-realtime-events.c — the server event parser
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-provider.h"
#include "lanlan-realtime-client.h"
#include "lanlan-realtime-events.h"

static void
parse_ok (const char          *json,
          LanlanRealtimeEvent *event)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (lanlan_realtime_parse_event (json, strlen (json), event, &error));
  g_assert_no_error (error);
}

static void
test_names_both_dialects (void)
{
  static const struct { const char *name; LanlanRealtimeEventType type; } cases[] = {
    { "response.audio_transcript.delta", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA },
    { "response.output_audio_transcript.delta", LANLAN_REALTIME_EVENT_AUDIO_TRANSCRIPT_DELTA },
    { "response.text.delta", LANLAN_REALTIME_EVENT_TEXT_DELTA },
    { "response.output_text.delta", LANLAN_REALTIME_EVENT_TEXT_DELTA },
    { "response.audio.done", LANLAN_REALTIME_EVENT_AUDIO_DONE },
    { "response.output_audio.done", LANLAN_REALTIME_EVENT_AUDIO_DONE },
    { "response.text.done", LANLAN_REALTIME_EVENT_TEXT_DONE },
    { "response.output_text.done", LANLAN_REALTIME_EVENT_TEXT_DONE },
    { "input_audio_buffer.speech_started", LANLAN_REALTIME_EVENT_SPEECH_STARTED },
    { "input_audio_buffer.speech_stopped", LANLAN_REALTIME_EVENT_SPEECH_STOPPED },
    { "conversation.item.created", LANLAN_REALTIME_EVENT_ITEM_CREATED },
    { "conversation.item.added", LANLAN_REALTIME_EVENT_ITEM_CREATED },
    { "session.created", LANLAN_REALTIME_EVENT_SESSION_CREATED },
    { "session.updated", LANLAN_REALTIME_EVENT_SESSION_UPDATED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = NULL;
      LanlanRealtimeEvent event;

      if (g_str_has_prefix (cases[i].name, "conversation.item.c") ||
          g_str_has_prefix (cases[i].name, "conversation.item.a"))
        json = g_strdup_printf ("{\"type\":\"%s\",\"item\":{\"id\":\"x\",\"role\":\"user\"}}",
                                cases[i].name);
      else
        json = g_strdup_printf ("{\"type\":\"%s\",\"delta\":\"hi\",\"item_id\":\"it\","
                                "\"content_index\":0,\"transcript\":\"t\",\"text\":\"t\"}",
                                cases[i].name);
      parse_ok (json, &event);
      g_assert_cmpint (event.type, ==, cases[i].type);
      g_assert_cmpstr (event.type_name, ==, cases[i].name);
      lanlan_realtime_event_clear (&event);
    }
}

static void
test_audio_delta (void)
{
  const gint16 pcm[] = { 1, -2, 300, -32768, 32767 };
  g_autofree char *b64 = g_base64_encode ((const guchar *) pcm, sizeof pcm);
  g_autofree char *ga = g_strdup_printf ("{\"type\":\"response.output_audio.delta\","
                                         "\"response_id\":\"r1\",\"item_id\":\"i1\","
                                         "\"content_index\":0,\"delta\":\"%s\"}", b64);
  g_autofree char *beta = g_strdup_printf ("{\"type\":\"response.audio.delta\","
                                           "\"response_id\":\"r1\",\"item_id\":\"i1\","
                                           "\"delta\":\"%s\"}", b64);
  const char *texts[] = { ga, beta };

  for (guint i = 0; i < 2; i++)
    {
      LanlanRealtimeEvent event;
      gsize size;
      const gint16 *out;

      parse_ok (texts[i], &event);
      g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_AUDIO_DELTA);
      g_assert_cmpstr (event.response_id, ==, "r1");
      g_assert_cmpstr (event.item_id, ==, "i1");
      out = g_bytes_get_data (event.audio, &size);
      g_assert_cmpmem (out, size, pcm, sizeof pcm);
      lanlan_realtime_event_clear (&event);
    }
}

static void
test_response_and_error (void)
{
  LanlanRealtimeEvent event;
  g_autoptr(GError) error = NULL;

  parse_ok ("{\"type\":\"response.done\",\"response\":{\"id\":\"r9\",\"status\":\"cancelled\"}}", &event);
  g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_RESPONSE_DONE);
  g_assert_cmpstr (event.response_id, ==, "r9");
  g_assert_cmpstr (event.status, ==, "cancelled");
  lanlan_realtime_event_clear (&event);

  parse_ok ("{\"type\":\"response.output_item.added\",\"response_id\":\"r9\","
            "\"item\":{\"id\":\"item_7\",\"role\":\"assistant\"}}", &event);
  g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_OUTPUT_ITEM_ADDED);
  g_assert_cmpstr (event.item_id, ==, "item_7");
  g_assert_cmpstr (event.role, ==, "assistant");
  lanlan_realtime_event_clear (&event);

  parse_ok ("{\"type\":\"conversation.item.input_audio_transcription.completed\","
            "\"item_id\":\"u1\",\"transcript\":\"hello there\"}", &event);
  g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_INPUT_TRANSCRIPTION_COMPLETED);
  g_assert_cmpstr (event.text, ==, "hello there");
  lanlan_realtime_event_clear (&event);

  parse_ok ("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
            "\"code\":\"invalid_api_key\",\"message\":\"Incorrect API key\"}}", &event);
  g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_ERROR);
  error = lanlan_realtime_event_to_error (&event);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "Incorrect API key"));
  lanlan_realtime_event_clear (&event);
  g_clear_error (&error);

  parse_ok ("{\"type\":\"error\",\"error\":{\"type\":\"server_error\",\"message\":\"boom\"}}", &event);
  error = lanlan_realtime_event_to_error (&event);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER);
  lanlan_realtime_event_clear (&event);
}

static void
test_malformed (void)
{
  const char *bad[] = {
    "",
    "{",
    "not json at all",
    "[1,2,3]",
    "\"just a string\"",
    "{\"no_type\":1}",
    "{\"type\":42}",
    "{\"type\":\"response.audio.delta\",\"delta\":\"***not base64***\"}",
    "{\"type\":\"response.audio.delta\",\"delta\":\"AAA=\"}",       /* 2 bytes ok? no: odd check below */
    "{\"type\":\"response.audio.delta\"}",
    "{\"type\":\"response.output_item.added\"}",
    "{\"type\":\"response.text.delta\",\"delta\":{\"x\":1}}",
    "{\"type\":\"response.done\",\"response\":{\"id\":5}}",
    "{\"type\":\"response.audio_transcript.delta\",\"content_index\":\"zero\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      LanlanRealtimeEvent event;
      gboolean ok;

      /* "AAA=" decodes to 2 bytes: one sample, valid; use 3 bytes instead. */
      if (strstr (bad[i], "AAA=") != NULL)
        {
          ok = lanlan_realtime_parse_event ("{\"type\":\"response.audio.delta\",\"delta\":\"AAAA\"}",
                                            strlen ("{\"type\":\"response.audio.delta\",\"delta\":\"AAAA\"}"),
                                            &event, &error);
        }
      else
        ok = lanlan_realtime_parse_event (bad[i], strlen (bad[i]), &event, &error);
      g_assert_false (ok);
      g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
      g_assert_nonnull (error->message);
      g_assert_null (event.type_name);
      g_assert_null (event.audio);
    }

  /* Nesting deep enough to overflow json-glib's recursion. */
  {
    GString *deep = g_string_new ("{\"type\":\"error\",\"error\":");
    g_autoptr(GError) error = NULL;
    LanlanRealtimeEvent event;

    for (guint i = 0; i < 200000; i++)
      g_string_append_c (deep, '[');
    g_assert_false (lanlan_realtime_parse_event (deep->str, deep->len, &event, &error));
    g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
    g_string_free (deep, TRUE);
  }

  /* Not nul-terminated, and embedded nul bytes. */
  {
    const char buf[] = "{\"type\":\"session.created\"}XXXX";
    const char nul[] = "{\"type\":\"sess\0ion.created\"}";
    LanlanRealtimeEvent event;
    g_autoptr(GError) error = NULL;

    g_assert_true (lanlan_realtime_parse_event (buf, strlen ("{\"type\":\"session.created\"}"),
                                                &event, NULL));
    g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_SESSION_CREATED);
    lanlan_realtime_event_clear (&event);
    g_assert_false (lanlan_realtime_parse_event (nul, sizeof nul - 1, &event, &error));
    g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
  }
}

static void
test_unknown (void)
{
  LanlanRealtimeEvent event;

  parse_ok ("{\"type\":\"response.something_new\",\"x\":[1]}", &event);
  g_assert_cmpint (event.type, ==, LANLAN_REALTIME_EVENT_UNKNOWN);
  g_assert_cmpstr (event.type_name, ==, "response.something_new");
  lanlan_realtime_event_clear (&event);
}

static void
test_close_codes (void)
{
  struct { gushort code; int expected; } cases[] = {
    { 1001, LANLAN_REALTIME_ERROR_EXPIRED },
    { 1000, LANLAN_REALTIME_ERROR_CLOSED },
    { 1006, LANLAN_REALTIME_ERROR_NETWORK },
    { 1008, LANLAN_REALTIME_ERROR_AUTH },
    { 1011, LANLAN_REALTIME_ERROR_SERVER },
    { 1002, LANLAN_REALTIME_ERROR_PROTOCOL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = lanlan_realtime_error_for_close (cases[i].code, NULL);
      g_assert_error (error, LANLAN_REALTIME_ERROR, cases[i].expected);
    }
}

static void
test_providers (void)
{
  const LanlanProvider *p;
  g_autofree char *url = NULL;
  g_autoptr(GError) error = NULL;
  guint n;

  lanlan_provider_list (&n);
  g_assert_cmpuint (n, >=, 5);

  p = lanlan_provider_lookup ("openai");
  g_assert_nonnull (p);
  g_assert_cmpint (p->dialect, ==, LANLAN_REALTIME_DIALECT_GA);
  g_assert_cmpuint (p->input_rate, ==, 24000);
  url = lanlan_provider_build_url (p, NULL, NULL, &error);
  g_assert_cmpstr (url, ==, "wss://api.openai.com/v1/realtime?model=gpt-realtime");
  g_clear_pointer (&url, g_free);

  p = lanlan_provider_lookup ("qwen");
  g_assert_cmpint (p->dialect, ==, LANLAN_REALTIME_DIALECT_BETA);
  g_assert_cmpuint (p->input_rate, ==, 16000);
  g_assert_true (p->supports_images);
  url = lanlan_provider_build_url (p, NULL, "qwen-omni-turbo-realtime", &error);
  g_assert_cmpstr (url, ==, "wss://dashscope.aliyuncs.com/api-ws/v1/realtime?model=qwen-omni-turbo-realtime");
  g_clear_pointer (&url, g_free);

  p = lanlan_provider_lookup ("glm");
  url = lanlan_provider_build_url (p, NULL, NULL, &error);
  g_assert_cmpstr (url, ==, "wss://open.bigmodel.cn/api/paas/v4/realtime");
  g_clear_pointer (&url, g_free);

  p = lanlan_provider_lookup ("stepfun");
  url = lanlan_provider_build_url (p, NULL, "step-1o-audio", &error);
  g_assert_cmpstr (url, ==, "wss://api.stepfun.com/v1/realtime?model=step-1o-audio");
  g_clear_pointer (&url, g_free);

  p = lanlan_provider_lookup ("custom");
  g_assert_null (lanlan_provider_build_url (p, NULL, NULL, &error));
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_null (lanlan_provider_build_url (p, "http://127.0.0.1:1/x", NULL, &error));
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_clear_error (&error);
  url = lanlan_provider_build_url (p, "ws://127.0.0.1:9/v1/realtime?model=m", NULL, &error);
  g_assert_cmpstr (url, ==, "ws://127.0.0.1:9/v1/realtime?model=m");

  g_assert_null (lanlan_provider_lookup ("no-such-service"));
  g_assert_true (lanlan_provider_lookup ("custom-text")->text_only);
}

static void
test_session_shapes (void)
{
  LanlanRealtimeConfig config = {
    .instructions = "Be kind.", .voice = "Cherry", .server_vad = TRUE,
  };
  g_autofree char *ga = lanlan_realtime_build_session_update (lanlan_provider_lookup ("openai"), &config);
  g_autofree char *beta = lanlan_realtime_build_session_update (lanlan_provider_lookup ("qwen"), &config);

  g_assert_nonnull (strstr (ga, "\"type\":\"realtime\""));
  g_assert_nonnull (strstr (ga, "\"output_modalities\":[\"audio\"]"));
  g_assert_nonnull (strstr (ga, "\"input\":{\"format\":{\"type\":\"audio/pcm\",\"rate\":24000}"));
  g_assert_nonnull (strstr (ga, "\"voice\":\"Cherry\""));
  g_assert_null (strstr (ga, "input_audio_format"));

  g_assert_nonnull (strstr (beta, "\"modalities\":[\"text\",\"audio\"]"));
  g_assert_nonnull (strstr (beta, "\"input_audio_format\":\"pcm16\""));
  g_assert_nonnull (strstr (beta, "\"output_audio_format\":\"pcm24\""));
  g_assert_nonnull (strstr (beta, "\"instructions\":\"Be kind.\""));
  g_assert_null (strstr (beta, "\"type\":\"realtime\""));
}

/* Random mutations of valid events: the parser must either succeed with a
 * consistent event or fail with a PROTOCOL error, and never crash. A
 * poor man's fuzzer, deterministic for a given --seed. */
static void
test_mutations (void)
{
  const char *seeds[] = {
    "{\"type\":\"response.output_audio.delta\",\"response_id\":\"r\",\"item_id\":\"i\","
    "\"content_index\":0,\"delta\":\"AAABAAIAAwA=\"}",
    "{\"type\":\"response.done\",\"response\":{\"id\":\"r\",\"status\":\"completed\"}}",
    "{\"type\":\"error\",\"error\":{\"type\":\"x\",\"code\":\"y\",\"message\":\"z\"}}",
    "{\"type\":\"response.output_item.added\",\"item\":{\"id\":\"i\",\"role\":\"assistant\"}}",
    "{\"type\":\"conversation.item.input_audio_transcription.completed\",\"transcript\":\"héllo\"}",
  };
  const char alphabet[] = "{}[]\":,0123456789abcdefxyz.-+eE \\\x01\xc3\xa9\xff";
  guint ok = 0, failed = 0;

  for (guint iter = 0; iter < 20000; iter++)
    {
      const char *seed = seeds[g_test_rand_int_range (0, G_N_ELEMENTS (seeds))];
      GString *buf = g_string_new (seed);
      guint n_mut = g_test_rand_int_range (1, 6);
      g_autoptr(GError) error = NULL;
      LanlanRealtimeEvent event;

      for (guint m = 0; m < n_mut; m++)
        {
          guint pos = g_test_rand_int_range (0, buf->len + 1);
          char c = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];

          switch (g_test_rand_int_range (0, 3))
            {
            case 0:
              g_string_insert_c (buf, pos, c);
              break;
            case 1:
              if (pos < buf->len)
                g_string_erase (buf, pos, 1);
              break;
            default:
              if (pos < buf->len)
                buf->str[pos] = c;
              break;
            }
        }

      if (lanlan_realtime_parse_event (buf->str, buf->len, &event, &error))
        {
          g_assert_no_error (error);
          g_assert_nonnull (event.type_name);
          if (event.type == LANLAN_REALTIME_EVENT_AUDIO_DELTA)
            g_assert_cmpuint (g_bytes_get_size (event.audio) % 2, ==, 0);
          lanlan_realtime_event_clear (&event);
          ok++;
        }
      else
        {
          g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_PROTOCOL);
          g_assert_null (event.type_name);
          failed++;
        }
      g_string_free (buf, TRUE);
    }
  g_test_message ("%u parsed, %u rejected", ok, failed);
  g_assert_cmpuint (ok, >, 0);
  g_assert_cmpuint (failed, >, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/realtime/events/names", test_names_both_dialects);
  g_test_add_func ("/realtime/events/audio-delta", test_audio_delta);
  g_test_add_func ("/realtime/events/response-and-error", test_response_and_error);
  g_test_add_func ("/realtime/events/malformed", test_malformed);
  g_test_add_func ("/realtime/events/unknown", test_unknown);
  g_test_add_func ("/realtime/events/close-codes", test_close_codes);
  g_test_add_func ("/realtime/events/mutations", test_mutations);
  g_test_add_func ("/realtime/providers", test_providers);
  g_test_add_func ("/realtime/session-shapes", test_session_shapes);

  return g_test_run ();
}
