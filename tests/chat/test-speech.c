/* test-speech.c — text mode's voice: sentence pieces and espeak-ng
 *
 * The chunker is fed the way a model streams (a few characters at a
 * time); the espeak-ng backend runs on the real TTS worker, and once
 * through the real PipeWire playback into the harness's null sink,
 * recorded back from its monitor.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-audio-playback.h"
#include "lanlan-speech-chunker.h"
#include "lanlan-tts-espeak.h"
#include "lanlan-tts-qwen.h"
#include "lanlan-fake-tts-server.h"
#include "lanlan-vad.h"
#include "audio-test-util.h"
#include "audio-test-recorder.h"

#define SINK "lanlan_test_sink"

/* Feeds @text @step bytes at a time (whole characters) and joins the
 * pieces with '|'; '#' marks where the answer was still unfinished
 * when a piece came out. */
static char *
chunk (const char *text,
       guint       step)
{
  g_autoptr(LanlanSpeechChunker) chunker = lanlan_speech_chunker_new ();
  GString *out = g_string_new (NULL);
  const char *p = text;
  g_autofree char *rest = NULL;

  while (*p)
    {
      const char *q = p;
      g_autofree char *delta = NULL;
      g_autoptr(GPtrArray) pieces = NULL;

      for (guint i = 0; i < step && *q; i++)
        q = g_utf8_next_char (q);
      delta = g_strndup (p, q - p);
      p = q;
      pieces = lanlan_speech_chunker_feed (chunker, delta);
      for (guint i = 0; i < pieces->len; i++)
        g_string_append_printf (out, "%s%s%s", out->len ? "|" : "",
                                (char *) g_ptr_array_index (pieces, i), *p ? "#" : "");
    }
  rest = lanlan_speech_chunker_finish (chunker);
  if (rest != NULL)
    g_string_append_printf (out, "%s%s", out->len ? "|" : "", rest);
  return g_string_free (out, FALSE);
}

static void
test_chunker (void)
{
  struct { const char *in; const char *out; } cases[] = {
    { "Hello there. How are you? I'm fine!",
      "Hello there.#|How are you?#|I'm fine!" },
    { "こんにちは。元気ですか？はい！",
      "こんにちは。#|元気ですか？#|はい！" },
    { "你好，我是兰兰。今天天气很好。",
      "你好，我是兰兰。#|今天天气很好。" },
    { "Mr. Smith paid 3.14 dollars. Then he left.",
      "Mr. Smith paid 3.14 dollars.#|Then he left." },
    { "\"Really?!\" she said. Yes...",
      "\"Really?!\"#|she said.#|Yes..." },
    { "**Sure!** Here is `code` and # a heading.",
      "Sure!#|Here is code and a heading." },
    { "... !!! Okay.", "Okay." },
    { "Well, you know, when I first started thinking about it, I was not sure at all.",
      "Well, you know, when I first started thinking about it,#|I was not sure at all." },
    { "Line one\nLine two", "Line one#|Line two" },
    { "…", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint step = 1; step <= 7; step += 3)
      {
        g_autofree char *got = chunk (cases[i].in, step);
        g_autofree char *want = g_strdup (cases[i].out);

        /* Bigger steps may finish a piece in the same delta as the end. */
        if (step > 1)
          {
            g_autofree char *a = g_strdelimit (g_strdup (got), "#", ' ');
            g_autofree char *b = g_strdelimit (g_strdup (want), "#", ' ');
            g_assert_cmpstr (a, ==, b);
          }
        else
          g_assert_cmpstr (got, ==, want);
      }
}

static void
test_chunker_bounded (void)
{
  g_autoptr(LanlanSpeechChunker) chunker = lanlan_speech_chunker_new ();
  g_autoptr(GPtrArray) first = NULL;
  guint pieces = 0;

  /* A run-on answer with no punctuation is still cut into pieces. */
  first = lanlan_speech_chunker_feed (chunker, "word ");
  g_assert_cmpuint (first->len, ==, 0);
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GPtrArray) more = lanlan_speech_chunker_feed (chunker, "word ");
      for (guint k = 0; k < more->len; k++)
        g_assert_cmpuint (g_utf8_strlen (g_ptr_array_index (more, k), -1), <=, 160);
      pieces += more->len;
    }
  g_assert_cmpuint (pieces, >=, 5);
}

typedef struct {
  GArray  *pcm;
  guint    errors;
  gint64   first_audio;
} Collected;

static void
collect (LanlanTtsWorker *worker,
         guint            speech_id,
         Collected       *c)
{
  for (;;)
    {
      g_autoptr(LanlanTtsResponse) r = lanlan_tts_worker_pop (worker, 10000);

      g_assert_nonnull (r);
      if (r->type == LANLAN_TTS_RESPONSE_READY)
        continue;
      g_assert_cmpuint (r->speech_id, ==, speech_id);
      if (r->type == LANLAN_TTS_RESPONSE_TURN_END)
        return;
      if (r->type == LANLAN_TTS_RESPONSE_ERROR)
        {
          c->errors++;
          continue;
        }
      if (c->first_audio == 0)
        c->first_audio = g_get_monotonic_time ();
      g_array_append_vals (c->pcm, g_bytes_get_data (r->pcm, NULL), g_bytes_get_size (r->pcm) / 2);
    }
}

static void
speak_and_check (const char *language,
                 const char *voice,
                 const char *text)
{
  g_autoptr(LanlanTtsWorker) worker =
    lanlan_tts_worker_new (lanlan_tts_backend_new_espeak (language, voice), NULL, NULL);
  Collected c = { g_array_new (FALSE, FALSE, sizeof (gint16)) };
  double seconds, rms;

  g_assert_cmpuint (lanlan_tts_worker_get_rate (worker), ==, LANLAN_MODEL_RATE);
  lanlan_tts_worker_speak (worker, 1, text);
  lanlan_tts_worker_end_turn (worker, 1);
  collect (worker, 1, &c);
  g_assert_cmpuint (c.errors, ==, 0);
  seconds = c.pcm->len / (double) LANLAN_MODEL_RATE;
  rms = audio_test_rms ((gint16 *) c.pcm->data, c.pcm->len);
  g_test_message ("%s/%s: %.2f s, rms %.3f", language, voice ? voice : "-", seconds, rms);
  /* Speech: a plausible length for the text, and not silence. */
  g_assert_cmpfloat (seconds, >, 0.4);
  g_assert_cmpfloat (seconds, <, 10.0);
  g_assert_cmpfloat (rms, >, 0.01);
  g_array_unref (c.pcm);
}

static void
test_espeak_languages (void)
{
  g_autofree char *zh = lanlan_tts_espeak_voice_for_language ("zh-CN");
  g_autofree char *en = lanlan_tts_espeak_voice_for_language ("en_US");
  g_autofree char *none = lanlan_tts_espeak_voice_for_language (NULL);

  g_assert_cmpstr (zh, ==, "cmn");
  g_assert_cmpstr (en, ==, "en-us");
  g_assert_cmpstr (none, ==, "en");

  speak_and_check ("en-US", NULL, "Hello, I am Lanlan. Nice to meet you.");
  speak_and_check ("ja", NULL, "こんにちは、元気ですか。");
  speak_and_check ("zh-CN", NULL, "你好，我是兰兰。");
  /* Another service's voice name and an unknown language: still speaks. */
  speak_and_check ("xx-YY", "alloy", "Still speaking.");
}

static void
test_espeak_interrupt (void)
{
  g_autoptr(LanlanTtsWorker) worker =
    lanlan_tts_worker_new (lanlan_tts_backend_new_espeak ("en", NULL), NULL, NULL);
  GString *text = g_string_new (NULL);
  Collected c = { g_array_new (FALSE, FALSE, sizeof (gint16)) };
  g_autoptr(LanlanTtsResponse) first = NULL;

  for (guint i = 0; i < 200; i++)
    g_string_append (text, "This is a very long sentence that goes on and on. ");
  lanlan_tts_worker_speak (worker, 1, text->str);
  lanlan_tts_worker_end_turn (worker, 1);
  do
    {
      g_clear_pointer (&first, lanlan_tts_response_free);
      first = lanlan_tts_worker_pop (worker, 10000);
      g_assert_nonnull (first);
    }
  while (first->type == LANLAN_TTS_RESPONSE_READY);
  g_assert_cmpint (first->type, ==, LANLAN_TTS_RESPONSE_AUDIO);

  lanlan_tts_worker_interrupt (worker);
  lanlan_tts_worker_speak (worker, 2, "Next.");
  lanlan_tts_worker_end_turn (worker, 2);
  /* Nothing more of speech 1; speech 2 comes through. */
  collect (worker, 2, &c);
  g_assert_cmpuint (c.pcm->len, >, LANLAN_MODEL_RATE / 10);
  g_array_unref (c.pcm);
  g_string_free (text, TRUE);
}

/* espeak-ng through the real playback, recorded at the null sink. */
static void
test_espeak_at_sink (void)
{
  g_autoptr(LanlanTtsWorker) worker =
    lanlan_tts_worker_new (lanlan_tts_backend_new_espeak ("en", NULL), NULL, NULL);
  g_autoptr(LanlanAudioPlayback) pb = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) recorded = NULL;
  Collected c = { g_array_new (FALSE, FALSE, sizeof (gint16)) };
  AudioTestRecorder *rec;
  LanlanAudioSink *sink;
  gsize start = 0, end = 0;
  double heard;

  rec = audio_test_recorder_start (SINK, TRUE, 48000);
  pb = lanlan_audio_playback_new (NULL, 2, &error);
  g_assert_no_error (error);
  audio_test_wait_for (lanlan_audio_playback_get_quantum (pb) > 0, 3000);
  sink = LANLAN_AUDIO_SINK (pb);

  lanlan_tts_worker_speak (worker, 1, "Hello from the built-in voice.");
  lanlan_tts_worker_end_turn (worker, 1);
  collect (worker, 1, &c);
  lanlan_audio_sink_reset_played (sink);
  g_assert_cmpuint (lanlan_audio_sink_write (sink, (gint16 *) c.pcm->data, c.pcm->len), ==, c.pcm->len);
  audio_test_wait_for (lanlan_audio_sink_get_played (sink) >= c.pcm->len &&
                       lanlan_audio_sink_get_queued (sink) == 0, 10000);
  g_assert_cmpuint (lanlan_audio_sink_get_played (sink), ==, c.pcm->len);
  g_usleep (200 * 1000);
  recorded = audio_test_recorder_finish (rec);

  g_assert_true (audio_test_find_signal ((gint16 *) recorded->data, recorded->len, 500, &start, &end));
  heard = (end - start) / 48000.0;
  g_test_message ("synthesized %.2f s, heard %.2f s at the sink",
                  c.pcm->len / (double) LANLAN_MODEL_RATE, heard);
  /* Speech has pauses; the span from first to last sound matches. */
  g_assert_cmpfloat (heard, >, 0.6 * c.pcm->len / (double) LANLAN_MODEL_RATE);
  g_assert_cmpfloat (heard, <, 1.2 * c.pcm->len / (double) LANLAN_MODEL_RATE + 0.1);
  g_assert_cmpfloat (audio_test_rms ((gint16 *) recorded->data + start, end - start), >, 0.01);
  g_array_unref (c.pcm);
}

/* Quiet room noise, then something voice-like, in 20 ms blocks. */
static void
fill (gint16 *pcm, gsize n, gsize offset, gboolean voice, guint32 *seed)
{
  for (gsize i = 0; i < n; i++)
    {
      double t = (offset + i) / 16000.0;
      double noise = ((*seed = *seed * 1664525u + 1013904223u) >> 16) / 65536.0 - 0.5;

      pcm[i] = (gint16) (noise * 60 + (voice ? 5000 * sin (2 * G_PI * 210 * t) *
                                               (0.6 + 0.4 * sin (2 * G_PI * 4 * t)) : 0));
    }
}

static void
test_vad (void)
{
  g_autoptr(LanlanVad) vad = lanlan_vad_new (16000);
  gint16 block[320];
  guint32 seed = 1;
  gsize offset = 0;
  gint started_at = -1, ended_at = -1;
  g_autoptr(GArray) utterance = NULL;

  /* 1 s quiet, 1.2 s voice, a 40 ms click-free gap is not an end,
   * 1.5 s quiet. */
  for (guint b = 0; b < 50 + 60 + 75; b++)
    {
      gboolean voice = b >= 50 && b < 110;
      LanlanVadState state;

      fill (block, G_N_ELEMENTS (block), offset, voice, &seed);
      offset += G_N_ELEMENTS (block);
      state = lanlan_vad_process (vad, block, G_N_ELEMENTS (block));
      if (state == LANLAN_VAD_STARTED)
        {
          g_assert_cmpint (started_at, ==, -1);
          started_at = b;
        }
      else if (state == LANLAN_VAD_ENDED)
        {
          g_assert_cmpint (ended_at, ==, -1);
          ended_at = b;
        }
    }
  /* Starts after 100 ms of voice, ends after 700 ms of quiet. */
  g_assert_cmpint (started_at, ==, 50 + 4);
  g_assert_cmpint (ended_at, ==, 110 + 34);
  utterance = lanlan_vad_take_utterance (vad);
  g_assert_nonnull (utterance);
  /* 300 ms before the start, the voice and the 700 ms after it. */
  g_assert_cmpuint (utterance->len, ==, 16000 * 3 / 10 + 320 * (ended_at - started_at));
  g_assert_null (lanlan_vad_take_utterance (vad));
  g_assert_cmpfloat (lanlan_vad_get_noise_db (vad), <, -50.0);

  /* A click (40 ms) is not speech. */
  {
    g_autoptr(LanlanVad) quiet = lanlan_vad_new (16000);
    for (guint b = 0; b < 100; b++)
      {
        fill (block, G_N_ELEMENTS (block), offset, b == 50 || b == 51, &seed);
        offset += G_N_ELEMENTS (block);
        g_assert_cmpint (lanlan_vad_process (quiet, block, G_N_ELEMENTS (block)), ==, LANLAN_VAD_SILENCE);
      }
  }
}

static void
test_qwen (void)
{
  FakeTtsServer *server = fake_tts_server_new ("sk-dash");
  g_autofree char *url = fake_tts_server_get_url (server);
  g_autoptr(GPtrArray) events = NULL;
  Collected c = { g_array_new (FALSE, FALSE, sizeof (gint16)) };

  {
    g_autoptr(LanlanTtsWorker) worker =
      lanlan_tts_worker_new (lanlan_tts_backend_new_qwen (url, "sk-dash", NULL, "Ethan"), NULL, NULL);

    /* Two pieces of one answer, one connection. */
    lanlan_tts_worker_speak (worker, 1, "Hello.");
    lanlan_tts_worker_speak (worker, 1, "How are you?");
    lanlan_tts_worker_end_turn (worker, 1);
    collect (worker, 1, &c);
    g_assert_cmpuint (c.errors, ==, 0);
    g_assert_cmpuint (c.pcm->len, ==, (6 + 12) * 480);
    g_assert_cmpfloat (audio_test_frequency_median ((gint16 *) c.pcm->data, 0, c.pcm->len, 24000), >, 430);
    g_assert_cmpfloat (audio_test_frequency_median ((gint16 *) c.pcm->data, 0, c.pcm->len, 24000), <, 450);
    g_assert_cmpuint (fake_tts_server_get_n_connections (server), ==, 1);

    events = fake_tts_server_dup_events (server);
    g_assert_cmpuint (events->len, ==, 5);
    g_assert_nonnull (strstr (g_ptr_array_index (events, 0), "\"type\":\"session.update\""));
    g_assert_nonnull (strstr (g_ptr_array_index (events, 0), "\"voice\":\"Ethan\""));
    g_assert_nonnull (strstr (g_ptr_array_index (events, 0), "\"mode\":\"commit\""));
    g_assert_nonnull (strstr (g_ptr_array_index (events, 1), "\"text\":\"Hello.\""));
    g_assert_nonnull (strstr (g_ptr_array_index (events, 2), "input_text_buffer.commit"));
  }

  /* Interrupted mid-piece: stops at once, the next piece comes through
   * on a fresh connection with nothing of the old one. */
  fake_tts_server_set_chunk_interval (server, 100);
  {
    g_autoptr(LanlanTtsWorker) worker =
      lanlan_tts_worker_new (lanlan_tts_backend_new_qwen (url, "sk-dash", NULL, NULL), NULL, NULL);
    g_autoptr(LanlanTtsResponse) first = NULL;
    gint64 start;

    lanlan_tts_worker_speak (worker, 1, "A long piece of text that takes seconds to say.");
    do
      {
        g_clear_pointer (&first, lanlan_tts_response_free);
        first = lanlan_tts_worker_pop (worker, 10000);
        g_assert_nonnull (first);
      }
    while (first->type == LANLAN_TTS_RESPONSE_READY);
    g_assert_cmpint (first->type, ==, LANLAN_TTS_RESPONSE_AUDIO);
    start = g_get_monotonic_time ();
    lanlan_tts_worker_interrupt (worker);
    lanlan_tts_worker_speak (worker, 2, "Hi.");
    lanlan_tts_worker_end_turn (worker, 2);
    g_array_set_size (c.pcm, 0);
    collect (worker, 2, &c);
    g_assert_cmpuint (c.pcm->len, ==, 3 * 480);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  }

  /* A wrong key: refused at the handshake (HTTP 401, as DashScope does),
   * a clear error, no audio, and no knocking again for the next piece. */
  {
    g_autoptr(LanlanTtsWorker) worker =
      lanlan_tts_worker_new (lanlan_tts_backend_new_qwen (url, "sk-wrong", NULL, NULL), NULL, NULL);
    guint before = fake_tts_server_get_n_connections (server);
    guint n_errors = 0;

    lanlan_tts_worker_speak (worker, 1, "Hello.");
    lanlan_tts_worker_speak (worker, 1, "How are you?");
    lanlan_tts_worker_end_turn (worker, 1);
    for (;;)
      {
        g_autoptr(LanlanTtsResponse) r = lanlan_tts_worker_pop (worker, 30000);

        g_assert_nonnull (r);
        g_assert_cmpint (r->type, !=, LANLAN_TTS_RESPONSE_AUDIO);
        if (r->type == LANLAN_TTS_RESPONSE_TURN_END)
          break;
        if (r->type != LANLAN_TTS_RESPONSE_ERROR)
          continue;
        n_errors++;
        g_assert_error (r->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_nonnull (strstr (r->error->message, "refused the key"));
        g_assert_null (strstr (r->error->message, "sk-wrong"));
      }
    g_assert_cmpuint (n_errors, ==, 2);   /* each piece says why it is silent... */
    /* ...but only the first asked the service. */
    g_assert_cmpuint (fake_tts_server_get_n_connections (server) - before, ==, 1);
  }

  g_array_unref (c.pcm);
  fake_tts_server_free (server);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/speech/chunker", test_chunker);
  g_test_add_func ("/speech/chunker-bounded", test_chunker_bounded);
  g_test_add_func ("/speech/vad", test_vad);
  g_test_add_func ("/speech/espeak-languages", test_espeak_languages);
  g_test_add_func ("/speech/espeak-interrupt", test_espeak_interrupt);
  g_test_add_func ("/speech/espeak-at-sink", test_espeak_at_sink);
  g_test_add_func ("/speech/qwen-realtime", test_qwen);

  return g_test_run ();
}
