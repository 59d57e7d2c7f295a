/* lanlan-vad.c — voice activity detection for the microphone
 *
 * Text mode has no server that detects turns, so the microphone does it
 * here: 20 ms frames, their level against a noise floor that follows the
 * room (fast down, slowly up), speech when a frame stands well above the
 * floor and an absolute minimum. An utterance starts after 100 ms of
 * speech, so a click or a cough does not interrupt the character, and
 * ends after 700 ms of silence. It keeps the audio of the utterance with
 * 300 ms before its start, for the transcription, and cuts it at 30 s.
 * Memory is bounded by that.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lanlan-vad.h"

#define FRAME_MS        20
#define START_MS        100
#define END_MS          700
#define PREROLL_MS      300
#define MAX_SPEECH_S    30
#define ABOVE_FLOOR_DB  12.0
#define MIN_SPEECH_DB   (-50.0)
#define FLOOR_START_DB  (-60.0)

struct _LanlanVad
{
  guint    rate;
  guint    frame;        /* samples per frame */
  GArray  *partial;      /* an incomplete frame */
  GArray  *preroll;      /* the last PREROLL_MS, while silent */
  GArray  *utterance;
  gboolean speaking;
  guint    loud_frames;  /* in a row */
  guint    quiet_frames; /* in a row, while speaking */
  double   floor_db;
  GArray  *finished;     /* the last ended utterance, until taken */
};

LanlanVad *
lanlan_vad_new (guint rate)
{
  LanlanVad *self = g_new0 (LanlanVad, 1);

  self->rate = MAX (rate, 8000);
  self->frame = self->rate * FRAME_MS / 1000;
  self->partial = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->preroll = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->utterance = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->floor_db = FLOOR_START_DB;
  return self;
}

void
lanlan_vad_free (LanlanVad *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->partial);
  g_array_unref (self->preroll);
  g_array_unref (self->utterance);
  if (self->finished != NULL)
    g_array_unref (self->finished);
  g_free (self);
}

void
lanlan_vad_reset (LanlanVad *self)
{
  g_array_set_size (self->partial, 0);
  g_array_set_size (self->preroll, 0);
  g_array_set_size (self->utterance, 0);
  g_clear_pointer (&self->finished, g_array_unref);
  self->speaking = FALSE;
  self->loud_frames = self->quiet_frames = 0;
}

double
lanlan_vad_get_noise_db (LanlanVad *self)
{
  return self->floor_db;
}

static double
frame_db (const gint16 *pcm,
          guint         n)
{
  double sum = 0;

  for (guint i = 0; i < n; i++)
    sum += (double) pcm[i] * pcm[i];
  return 10.0 * log10 (sum / n / (32768.0 * 32768.0) + 1e-12);
}

static void
end_utterance (LanlanVad *self)
{
  if (self->finished != NULL)
    g_array_unref (self->finished);
  self->finished = self->utterance;
  self->utterance = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->speaking = FALSE;
  self->loud_frames = self->quiet_frames = 0;
}

/* One frame; returns what changed. */
static LanlanVadState
frame (LanlanVad    *self,
       const gint16 *pcm)
{
  double db = frame_db (pcm, self->frame);
  gboolean loud = db > MAX (self->floor_db + ABOVE_FLOOR_DB, MIN_SPEECH_DB);
  LanlanVadState state = self->speaking ? LANLAN_VAD_SPEAKING : LANLAN_VAD_SILENCE;

  /* The floor falls at once and rises about 3 dB a second, never
   * while someone speaks. */
  if (db < self->floor_db)
    self->floor_db = db;
  else if (!loud)
    self->floor_db += 3.0 * FRAME_MS / 1000.0;

  if (!self->speaking)
    {
      guint keep = self->rate * PREROLL_MS / 1000;

      g_array_append_vals (self->preroll, pcm, self->frame);
      if (self->preroll->len > keep)
        g_array_remove_range (self->preroll, 0, self->preroll->len - keep);
      self->loud_frames = loud ? self->loud_frames + 1 : 0;
      if (self->loud_frames * FRAME_MS >= START_MS)
        {
          self->speaking = TRUE;
          self->quiet_frames = 0;
          g_array_append_vals (self->utterance, self->preroll->data, self->preroll->len);
          g_array_set_size (self->preroll, 0);
          return LANLAN_VAD_STARTED;
        }
      return state;
    }

  g_array_append_vals (self->utterance, pcm, self->frame);
  self->quiet_frames = loud ? 0 : self->quiet_frames + 1;
  if (self->quiet_frames * FRAME_MS >= END_MS ||
      self->utterance->len >= self->rate * MAX_SPEECH_S)
    {
      end_utterance (self);
      return LANLAN_VAD_ENDED;
    }
  return state;
}

/**
 * lanlan_vad_process:
 * @pcm: mono PCM16 at the rate given to lanlan_vad_new()
 *
 * Returns: %LANLAN_VAD_STARTED or %LANLAN_VAD_ENDED if that happened in
 *   this block (an end wins over a start), else whether speech goes on.
 *   After %LANLAN_VAD_ENDED, lanlan_vad_take_utterance() has its audio.
 */
LanlanVadState
lanlan_vad_process (LanlanVad    *self,
                    const gint16 *pcm,
                    gsize         n_samples)
{
  LanlanVadState result = self->speaking ? LANLAN_VAD_SPEAKING : LANLAN_VAD_SILENCE;
  gboolean started = FALSE;
  gboolean ended = FALSE;

  while (n_samples > 0)
    {
      guint take = MIN (n_samples, self->frame - self->partial->len);
      LanlanVadState s;

      g_array_append_vals (self->partial, pcm, take);
      pcm += take;
      n_samples -= take;
      if (self->partial->len < self->frame)
        break;
      s = frame (self, (const gint16 *) self->partial->data);
      g_array_set_size (self->partial, 0);
      started |= s == LANLAN_VAD_STARTED;
      ended |= s == LANLAN_VAD_ENDED;
    }
  if (ended)
    return LANLAN_VAD_ENDED;
  if (started)
    return LANLAN_VAD_STARTED;
  if (result == LANLAN_VAD_SILENCE && self->speaking)
    return LANLAN_VAD_SPEAKING;
  return self->speaking ? LANLAN_VAD_SPEAKING : LANLAN_VAD_SILENCE;
}

/**
 * lanlan_vad_take_utterance:
 *
 * Returns: (transfer full) (nullable): the last ended utterance (gint16)
 */
GArray *
lanlan_vad_take_utterance (LanlanVad *self)
{
  return g_steal_pointer (&self->finished);
}
