/* lanlan-speech-chunker.c — streamed text cut into speakable pieces
 *
 * A text model's answer arrives a few characters at a time; speech
 * should start with its first sentence, not after its last. The chunker
 * holds the text and gives back each piece as soon as it is complete:
 * at a sentence end (". " "! " "? ", or 。！？… and a line break, which
 * need no space after them), with closing quotes kept on the sentence.
 * The first piece of an answer may end at a comma once it is long
 * enough, so the voice starts sooner; a piece that never ends is cut at
 * a comma or space. "Mr." or "3.14" do not end a sentence. Markdown
 * marks that would be read out (*, `, #) are dropped, and a piece with
 * nothing to say (only punctuation or symbols) is skipped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lanlan-speech-chunker.h"

#define FIRST_MIN_CHARS 24   /* the first piece may end at a comma after this */
#define MAX_CHARS       160  /* longer pieces are cut at a comma or space */

struct _LanlanSpeechChunker
{
  GString *buffer;
  guint    n_chunks;   /* given out since the last reset */
};

LanlanSpeechChunker *
lanlan_speech_chunker_new (void)
{
  LanlanSpeechChunker *self = g_new0 (LanlanSpeechChunker, 1);

  self->buffer = g_string_new (NULL);
  return self;
}

void
lanlan_speech_chunker_free (LanlanSpeechChunker *self)
{
  if (self == NULL)
    return;
  g_string_free (self->buffer, TRUE);
  g_free (self);
}

/* A new answer. */
void
lanlan_speech_chunker_reset (LanlanSpeechChunker *self)
{
  g_string_truncate (self->buffer, 0);
  self->n_chunks = 0;
}

static gboolean
is_closer (gunichar c)
{
  return c == '"' || c == '\'' || c == ')' || c == '*' || c == '_' || c == '`' || c == '~' || c == ']' || c == 0x201D || c == 0x2019 ||
         c == 0x300D || c == 0x300F || c == 0xFF09 || c == 0x3011 || c == 0x00BB;
}

/* Ends a sentence by itself, space or not. */
static gboolean
is_wide_end (gunichar c)
{
  return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0x2026 || c == '\n' ||
         c == 0xFF0E || c == 0xFF61;
}

static gboolean
is_soft (gunichar c)
{
  return c == ',' || c == ';' || c == ':' || c == 0x3001 || c == 0xFF0C ||
         c == 0xFF1B || c == 0xFF1A || c == 0x2014;
}

/* Is the '.' at @dot the end of an abbreviation or a number? */
static gboolean
is_abbreviation (const char *start,
                 const char *dot)
{
  static const char * const words[] = {
    "mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "prof", "no", "jr", "sr", NULL
  };
  const char *w = dot;
  gsize len;

  while (w > start && !g_ascii_isspace (w[-1]) && w[-1] != '(' && w[-1] != '"')
    w--;
  len = dot - w;
  if (len == 1 && g_ascii_isalpha (w[0]))
    return TRUE;   /* an initial: "J. R. R." */
  for (guint i = 0; words[i]; i++)
    if (strlen (words[i]) == len && g_ascii_strncasecmp (w, words[i], len) == 0)
      return TRUE;
  return FALSE;
}

/* Returns the byte length of the first complete piece, or 0. */
static gsize
find_cut (LanlanSpeechChunker *self,
          gboolean             final)
{
  const char *s = self->buffer->str;
  const char *end = s + self->buffer->len;
  const char *last_soft = NULL;
  const char *last_space = NULL;
  glong n = 0;

  for (const char *p = s; p < end; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      const char *after = g_utf8_next_char (p);
      gboolean cut = FALSE;

      if (is_wide_end (c))
        cut = TRUE;
      else if (c == '.' || c == '!' || c == '?')
        {
          const char *q = after;

          /* "?!", "...": the run ends together. */
          while (q < end && (*q == '.' || *q == '!' || *q == '?'))
            q++;
          while (q < end && is_closer (g_utf8_get_char (q)))
            q = g_utf8_next_char (q);
          if (q >= end)
            {
              if (!final)
                return 0;   /* the next delta says whether it ended */
              return end - s;
            }
          if (g_unichar_isspace (g_utf8_get_char (q)) &&
              !(c == '.' && after == q && is_abbreviation (s, p)))
            return q - s;
          p = q - 1;   /* skip the run; the loop steps to q */
          continue;
        }
      if (cut)
        {
          const char *q = after;
          while (q < end && is_closer (g_utf8_get_char (q)))
            q = g_utf8_next_char (q);
          return q - s;
        }
      if (is_soft (c))
        {
          last_soft = after;
          if (self->n_chunks == 0 && n + 1 >= FIRST_MIN_CHARS)
            return after - s;
        }
      else if (g_unichar_isspace (c))
        last_space = p;
      if (n + 1 >= MAX_CHARS)
        {
          if (last_soft != NULL)
            return last_soft - s;
          if (last_space != NULL)
            return last_space - s;
          return after - s;
        }
    }
  return 0;
}

/* What a voice should read of @piece, or NULL if nothing. */
static char *
clean (const char *piece,
       gsize       len)
{
  GString *out = g_string_sized_new (len);
  gboolean speakable = FALSE;

  for (const char *p = piece; p < piece + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '*' || c == '`' || c == '#' || c == '_' || c == '~')
        continue;
      if (g_unichar_isalnum (c))
        speakable = TRUE;
      if (g_unichar_isspace (c))
        {
          if (out->len > 0 && out->str[out->len - 1] != ' ')
            g_string_append_c (out, ' ');
          continue;
        }
      g_string_append_unichar (out, c);
    }
  g_strstrip (out->str);
  out->len = strlen (out->str);
  if (!speakable)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/**
 * lanlan_speech_chunker_feed:
 * @delta: the next piece of the answer (valid UTF-8)
 *
 * Returns: (transfer full) (element-type utf8): the pieces completed by
 *   @delta, in order; often none
 */
GPtrArray *
lanlan_speech_chunker_feed (LanlanSpeechChunker *self,
                            const char          *delta)
{
  GPtrArray *pieces = g_ptr_array_new_with_free_func (g_free);
  gsize cut;

  g_string_append (self->buffer, delta);
  while ((cut = find_cut (self, FALSE)) > 0)
    {
      char *piece = clean (self->buffer->str, cut);

      g_string_erase (self->buffer, 0, cut);
      if (piece != NULL)
        {
          g_ptr_array_add (pieces, piece);
          self->n_chunks++;
        }
    }
  return pieces;
}

/**
 * lanlan_speech_chunker_finish:
 *
 * The answer is complete; the chunker is reset.
 *
 * Returns: (transfer full) (nullable): what was left, if speakable
 */
char *
lanlan_speech_chunker_finish (LanlanSpeechChunker *self)
{
  char *rest = clean (self->buffer->str, self->buffer->len);

  lanlan_speech_chunker_reset (self);
  return rest;
}
