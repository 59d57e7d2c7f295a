/* test-character-card.c — importing Tavern character cards (JSON and PNG)
 *
 * The PNG cards are built here byte by byte, with CRCs computed by a
 * bit-at-a-time CRC-32 independent of the table-driven one in the parser.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "lanlan-character-card.h"

static const char *v2_json =
  "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{"
  "\"name\":\"Mio\",\"description\":\"{{char}} is a cat girl who lives in Kyoto.\","
  "\"personality\":\"cheerful, curious\",\"scenario\":\"{{user}} meets {{char}} at a café.\","
  "\"first_mes\":\"Nya! Hello!\",\"mes_example\":\"\",\"system_prompt\":\"Stay in character. {{original}}\","
  "\"creator_notes\":\"\",\"tags\":[\"cat\"],\"extensions\":{}}}";

static const char *v3_json =
  "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{"
  "\"name\":\"  Aiko  \",\"description\":\"A librarian.\",\"personality\":null,"
  "\"scenario\":\"\",\"first_mes\":\"Shh.\",\"group_only_greetings\":[],\"assets\":[]}}";

static guint32
slow_crc (const guint8 *buf,
          gsize         len)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= buf[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
  return crc ^ 0xffffffffu;
}

static void
put_be32 (GByteArray *out,
          guint32     v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (out, b, 4);
}

static void
add_chunk (GByteArray   *out,
           const char   *type,
           const guint8 *body,
           gsize         len)
{
  g_autoptr(GByteArray) crc_input = g_byte_array_new ();

  put_be32 (out, len);
  g_byte_array_append (crc_input, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (crc_input, body, len);
  g_byte_array_append (out, crc_input->data, crc_input->len);
  put_be32 (out, slow_crc (crc_input->data, crc_input->len));
}

static void
add_text_chunk (GByteArray *out,
                const char *keyword,
                const char *text)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();

  g_byte_array_append (body, (const guint8 *) keyword, strlen (keyword) + 1);
  g_byte_array_append (body, (const guint8 *) text, strlen (text));
  add_chunk (out, "tEXt", body->data, body->len);
}

/* A 1×1 grey PNG with the given text chunks (keyword, text, keyword, text, …, NULL). */
static GByteArray *
make_png (const char *first_keyword,
          ...)
{
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  static const guint8 ihdr[13] = { 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0 };
  /* zlib stream of one scanline: filter byte 0, pixel 0x80 */
  static const guint8 idat[] = { 0x78, 0x9c, 0x63, 0x68, 0x00, 0x00, 0x00, 0x82, 0x00, 0x81 };
  GByteArray *out = g_byte_array_new ();
  const char *keyword = first_keyword;
  va_list args;

  g_byte_array_append (out, sig, sizeof sig);
  add_chunk (out, "IHDR", ihdr, sizeof ihdr);

  va_start (args, first_keyword);
  while (keyword != NULL)
    {
      const char *text = va_arg (args, const char *);
      add_text_chunk (out, keyword, text);
      keyword = va_arg (args, const char *);
    }
  va_end (args);

  add_chunk (out, "IDAT", idat, sizeof idat);
  add_chunk (out, "IEND", NULL, 0);
  return out;
}

static LanlanCharacter *
parse_str (const char  *s,
           GError     **error)
{
  return lanlan_character_card_parse ((const guint8 *) s, strlen (s), error);
}

static void
test_card_v2_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = parse_str (v2_json, &error);
  const char *persona;

  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Mio");

  persona = lanlan_character_get_persona (c);
  g_assert_true (g_str_has_prefix (persona, "Stay in character."));
  g_assert_nonnull (strstr (persona, "Mio is a cat girl who lives in Kyoto."));
  g_assert_nonnull (strstr (persona, "Personality: cheerful, curious"));
  g_assert_nonnull (strstr (persona, "Scenario: the user meets Mio at a café."));
  /* The greeting is the first message of a conversation, not persona. */
  g_assert_null (strstr (persona, "Nya! Hello!"));
  g_assert_cmpstr (lanlan_character_get_greeting (c), ==, "Nya! Hello!");
  g_assert_null (lanlan_character_get_lorebook (c));
  g_assert_null (lanlan_character_get_avatar (c));
  g_assert_false (lanlan_character_get_open_on_start (c));
  g_assert_null (strstr (persona, "{{"));
  /* system prompt, then description, then personality, then scenario */
  g_assert_true (strstr (persona, "Stay") < strstr (persona, "Kyoto"));
  g_assert_true (strstr (persona, "Kyoto") < strstr (persona, "Personality"));
  g_assert_true (strstr (persona, "Personality") < strstr (persona, "Scenario"));
}

static void
test_card_v3_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = parse_str (v3_json, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Aiko");
  g_assert_cmpstr (lanlan_character_get_persona (c), ==, "A librarian.");
  g_assert_cmpstr (lanlan_character_get_greeting (c), ==, "Shh.");
}

static void
test_card_v1_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c =
    parse_str ("\xef\xbb\xbf  {\"name\":\"Old\",\"description\":\"From 2023.\"}", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Old");
  g_assert_cmpstr (lanlan_character_get_persona (c), ==, "From 2023.");
}

static void
test_card_png_v2 (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) v2_json, strlen (v2_json));
  g_autoptr(GByteArray) png = make_png ("Software", "test", "chara", b64, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_card_parse (png->data, png->len, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Mio");
}

static void
test_card_png_v3_preferred (void)
{
  g_autofree char *b2 = g_base64_encode ((const guint8 *) v2_json, strlen (v2_json));
  g_autofree char *b3 = g_base64_encode ((const guint8 *) v3_json, strlen (v3_json));
  g_autoptr(GByteArray) png = make_png ("chara", b2, "ccv3", b3, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_card_parse (png->data, png->len, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Aiko");
}

static void
expect_error (const guint8 *data,
              gsize         len,
              int           code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_card_parse (data, len, &error);

  g_assert_null (c);
  g_assert_error (error, LANLAN_CHARACTER_CARD_ERROR, code);
  g_assert_nonnull (error->message);
  g_assert_cmpuint (strlen (error->message), >, 10);
}

static void
test_card_png_bad_crc (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) v2_json, strlen (v2_json));
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);

  /* Flip one bit inside the tEXt body (after signature + IHDR chunk + 8). */
  png->data[8 + 25 + 8 + 10] ^= 0x01;
  expect_error (png->data, png->len, LANLAN_CHARACTER_CARD_ERROR_BAD_PNG);
}

static void
test_card_png_truncated (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) v2_json, strlen (v2_json));
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);

  /* Every prefix is refused, with no crash and no character. */
  for (gsize n = 8; n < png->len; n += 7)
    expect_error (png->data, n, LANLAN_CHARACTER_CARD_ERROR_BAD_PNG);
}

static void
test_card_png_huge_length (void)
{
  g_autoptr(GByteArray) png = make_png (NULL);

  /* The IHDR length field claims 0xfffffff0 bytes. */
  png->data[8] = 0xff; png->data[9] = 0xff; png->data[10] = 0xff; png->data[11] = 0xf0;
  expect_error (png->data, png->len, LANLAN_CHARACTER_CARD_ERROR_BAD_PNG);
}

static void
test_card_png_no_card (void)
{
  g_autoptr(GByteArray) png = make_png ("Comment", "just a picture", NULL);

  expect_error (png->data, png->len, LANLAN_CHARACTER_CARD_ERROR_NO_CARD);
}

static void
test_card_png_bad_base64 (void)
{
  g_autoptr(GByteArray) png = make_png ("chara", "not*base64!", NULL);

  expect_error (png->data, png->len, LANLAN_CHARACTER_CARD_ERROR_BAD_ENCODING);
}

static void
test_card_png_bad_json (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) "{\"spec\":", 8);
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);

  expect_error (png->data, png->len, LANLAN_CHARACTER_CARD_ERROR_BAD_JSON);
}

static void
test_card_bad_json (void)
{
  static const struct {
    const char *json;
    int code;
  } cases[] = {
    { "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"X\"", LANLAN_CHARACTER_CARD_ERROR_BAD_JSON },
    { "[1,2,3]", LANLAN_CHARACTER_CARD_ERROR_UNKNOWN_FORMAT },
    { "{\"spec\":\"chara_card_v9\",\"data\":{\"name\":\"X\"}}", LANLAN_CHARACTER_CARD_ERROR_UNSUPPORTED_SPEC },
    { "{\"spec\":\"chara_card_v2\"}", LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD },
    { "{\"spec\":\"chara_card_v2\",\"data\":[]}", LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD },
    { "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"  \"}}", LANLAN_CHARACTER_CARD_ERROR_MISSING_FIELD },
    { "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"X\",\"description\":42}}", LANLAN_CHARACTER_CARD_ERROR_BAD_JSON },
    { "{\"spec\":7}", LANLAN_CHARACTER_CARD_ERROR_BAD_JSON },
    { "{\"hello\":\"world\"}", LANLAN_CHARACTER_CARD_ERROR_UNSUPPORTED_SPEC },
    { "{\"name\":\"\xff\xfe\"}", LANLAN_CHARACTER_CARD_ERROR_BAD_JSON },
    { "", LANLAN_CHARACTER_CARD_ERROR_UNKNOWN_FORMAT },
    { "GIF89a", LANLAN_CHARACTER_CARD_ERROR_UNKNOWN_FORMAT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      expect_error ((const guint8 *) cases[i].json, strlen (cases[i].json), cases[i].code);
    }
}

/* Random corruption of a valid PNG card never crashes and never half-imports:
 * the result is either the whole card or an error. */
static void
test_card_png_fuzz (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) v2_json, strlen (v2_json));
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);

  for (guint round = 0; round < 2000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (png->data, png->len);
      g_autoptr(GError) error = NULL;
      g_autoptr(LanlanCharacter) c = NULL;
      guint flips = g_rand_int_range (rand, 1, 4);

      for (guint f = 0; f < flips; f++)
        copy[g_rand_int_range (rand, 0, png->len)] ^= 1 << g_rand_int_range (rand, 0, 8);

      c = lanlan_character_card_parse (copy, png->len, &error);
      if (c != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (lanlan_character_get_name (c), ==, "Mio");
        }
      else
        g_assert_nonnull (error);
    }
}

static void
test_card_load_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lanlan-card-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "broken card.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) missing = g_file_new_build_filename (dir, "missing.png", NULL);
  g_autoptr(LanlanCharacter) c = NULL;

  g_assert_no_error (error);
  g_file_set_contents (path, "{\"spec\":\"chara_card_v2\"", -1, &error);
  g_assert_no_error (error);

  c = lanlan_character_card_load (file, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, LANLAN_CHARACTER_CARD_ERROR, LANLAN_CHARACTER_CARD_ERROR_BAD_JSON);
  g_assert_nonnull (strstr (error->message, "broken card.json"));
  g_clear_error (&error);

  c = lanlan_character_card_load (missing, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_file_set_contents (path, v2_json, -1, &error);
  g_assert_no_error (error);
  c = lanlan_character_card_load (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lanlan_character_get_name (c), ==, "Mio");

  g_unlink (path);
  g_rmdir (dir);
}

static gsize
count (const guint8 *data,
       gsize         len,
       const char   *needle)
{
  gsize n = 0, nlen = strlen (needle);

  for (gsize i = 0; i + nlen <= len; i++)
    if (memcmp (data + i, needle, nlen) == 0)
      n++;
  return n;
}

static const char *rich_json =
  "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{"
  "\"name\":\"Mio\",\"description\":\"{{char}} runs a café.\",\"personality\":\"\",\"scenario\":\"\","
  "\"first_mes\":\"*{{char}} waves at {{user}}* Welcome!\","
  "\"alternate_greetings\":[\"Back again, {{user}}?\",\"  \",\"いらっしゃいませ！\"],"
  "\"mes_example\":\"<START>\\n{{user}}: Hi\\n{{char}}: Nya.\","
  "\"character_book\":{\"name\":\"Café\",\"scan_depth\":3,\"token_budget\":200,\"entries\":["
  " {\"keys\":[\"menu\"],\"content\":\"The menu has matcha and taiyaki.\",\"enabled\":true,"
  "  \"insertion_order\":1,\"extensions\":{},\"use_regex\":false},"
  " {\"keys\":[\"owner\"],\"content\":\"The owner is Mio's aunt.\",\"enabled\":true,"
  "  \"insertion_order\":2,\"position\":\"after_char\",\"extensions\":{},\"use_regex\":false}]},"
  "\"tags\":[],\"extensions\":{},\"group_only_greetings\":[],\"assets\":[]}}";

static void
test_card_greetings_and_lorebook (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = parse_str (rich_json, &error);
  const char * const *greetings;
  LanlanLorebook *book;
  g_autofree char *plain = NULL;
  g_autofree char *lore = NULL;
  const char *recent[] = { "What is on the menu?" };

  g_assert_no_error (error);
  greetings = lanlan_character_get_greetings (c);
  g_assert_cmpuint (g_strv_length ((char **) greetings), ==, 3);
  g_assert_cmpstr (greetings[0], ==, "*Mio waves at you* Welcome!");
  g_assert_cmpstr (greetings[1], ==, "Back again, you?");
  g_assert_cmpstr (greetings[2], ==, "いらっしゃいませ！");
  g_assert_cmpstr (lanlan_character_get_greeting (c), ==, greetings[0]);
  lanlan_character_set_greeting_index (c, 2);
  g_assert_cmpstr (lanlan_character_get_greeting (c), ==, "いらっしゃいませ！");

  g_assert_nonnull (strstr (lanlan_character_get_persona (c), "Examples of how you talk: <START>\nthe user: Hi\nMio: Nya."));

  book = lanlan_character_get_lorebook (c);
  g_assert_nonnull (book);
  g_assert_cmpuint (lanlan_lorebook_get_n_entries (book), ==, 2);

  plain = lanlan_character_compose_instructions (c, NULL, 0);
  g_assert_cmpstr (plain, ==, lanlan_character_get_persona (c));
  lore = lanlan_character_compose_instructions (c, recent, 1);
  g_assert_true (g_str_has_prefix (lore, "The menu has matcha and taiyaki.\n\n"));
  g_assert_true (g_str_has_suffix (lore, lanlan_character_get_persona (c)));
}

static void
test_card_png_keeps_picture (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) rich_json, strlen (rich_json));
  g_autoptr(GByteArray) png = make_png ("Software", "test", "chara", b64, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_card_parse (png->data, png->len, &error);
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new_with_type ("png", NULL);
  GBytes *avatar;
  gsize len;
  const guint8 *data;

  g_assert_no_error (error);
  avatar = lanlan_character_get_avatar (c);
  g_assert_nonnull (avatar);
  data = g_bytes_get_data (avatar, &len);
  /* The picture without the card: the other text chunk stays. */
  g_assert_cmpuint (len, <, png->len - strlen (b64));
  g_assert_cmpuint (count (data, len, "chara"), ==, 0);
  g_assert_cmpuint (count (data, len, "Software"), ==, 1);

  /* ... and it is still an image a PNG decoder reads. */
  gdk_pixbuf_loader_write (loader, data, len, &error);
  g_assert_no_error (error);
  gdk_pixbuf_loader_close (loader, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (gdk_pixbuf_loader_get_pixbuf (loader)), ==, 1);
}

static void
assert_same_character (LanlanCharacter *a,
                       LanlanCharacter *b)
{
  g_assert_cmpstr (lanlan_character_get_name (a), ==, lanlan_character_get_name (b));
  g_assert_cmpstr (lanlan_character_get_persona (a), ==, lanlan_character_get_persona (b));
  g_assert_true (g_strv_equal (lanlan_character_get_greetings (a), lanlan_character_get_greetings (b)));
  g_assert_cmpstr (lanlan_character_get_voice (a), ==, lanlan_character_get_voice (b));
  g_assert_cmpstr (lanlan_character_get_language (a), ==, lanlan_character_get_language (b));
  g_assert_cmpstr (lanlan_character_get_model (a), ==, lanlan_character_get_model (b));
  g_assert_true ((lanlan_character_get_lorebook (a) == NULL) == (lanlan_character_get_lorebook (b) == NULL));
  if (lanlan_character_get_lorebook (a) == NULL)
    return;
  g_assert_cmpuint (lanlan_lorebook_get_n_entries (lanlan_character_get_lorebook (a)), ==,
                    lanlan_lorebook_get_n_entries (lanlan_character_get_lorebook (b)));
  for (guint i = 0; i < lanlan_lorebook_get_n_entries (lanlan_character_get_lorebook (a)); i++)
    g_assert_cmpstr (lanlan_lorebook_get_entry_content (lanlan_character_get_lorebook (a), i), ==,
                     lanlan_lorebook_get_entry_content (lanlan_character_get_lorebook (b), i));
}

static void
test_card_export_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = parse_str (rich_json, &error);
  g_autoptr(GBytes) json = NULL;
  g_autoptr(LanlanCharacter) back = NULL;
  gsize len;
  const char *data;

  g_assert_no_error (error);
  lanlan_character_set_voice (c, "marin");
  lanlan_character_set_language (c, "ja");
  lanlan_character_set_model (c, "gpt-realtime");

  json = lanlan_character_card_export_json (c);
  data = g_bytes_get_data (json, &len);
  g_assert_nonnull (g_strstr_len (data, len, "\"chara_card_v3\""));
  g_assert_nonnull (g_strstr_len (data, len, "\"alternate_greetings\""));
  g_assert_nonnull (g_strstr_len (data, len, "\"character_book\""));

  back = lanlan_character_card_parse ((const guint8 *) data, len, &error);
  g_assert_no_error (error);
  assert_same_character (c, back);
  g_assert_null (lanlan_character_get_avatar (back));

  /* A character without a picture and no fallback has no PNG card. */
  g_assert_null (lanlan_character_card_export_png (c, NULL, &error));
  g_assert_error (error, LANLAN_CHARACTER_CARD_ERROR, LANLAN_CHARACTER_CARD_ERROR_NO_CARD);
}

static void
test_card_export_png (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) rich_json, strlen (rich_json));
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);
  g_autoptr(GByteArray) plain = make_png (NULL);
  g_autoptr(GBytes) fallback = g_bytes_new (plain->data, plain->len);
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) c = lanlan_character_card_parse (png->data, png->len, &error);
  g_autoptr(LanlanCharacter) back = NULL;
  g_autoptr(LanlanCharacter) bare = NULL;
  g_autoptr(LanlanCharacter) bare_back = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) bare_out = NULL;
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new_with_type ("png", NULL);
  const guint8 *data;
  gsize len;

  g_assert_no_error (error);
  lanlan_character_set_voice (c, "cherry");

  /* Export twice over: the old card chunks are replaced, never piled up. */
  out = lanlan_character_card_export_png (c, fallback, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (out, &len);
  g_assert_cmpuint (count (data, len, "tEXtccv3"), ==, 1);
  g_assert_cmpuint (count (data, len, "tEXtchara"), ==, 1);

  back = lanlan_character_card_parse (data, len, &error);
  g_assert_no_error (error);
  assert_same_character (c, back);
  g_assert_true (g_bytes_equal (lanlan_character_get_avatar (c), lanlan_character_get_avatar (back)));

  gdk_pixbuf_loader_write (loader, data, len, &error);
  g_assert_no_error (error);
  gdk_pixbuf_loader_close (loader, &error);
  g_assert_no_error (error);

  /* No picture of its own: the fallback (the UI's generated avatar) is used. */
  bare = parse_str (v2_json, &error);
  g_assert_no_error (error);
  bare_out = lanlan_character_card_export_png (bare, fallback, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (bare_out, &len);
  bare_back = lanlan_character_card_parse (data, len, &error);
  g_assert_no_error (error);
  assert_same_character (bare, bare_back);

  /* A fallback that is not a PNG is refused. */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("GIF89a....", 10);
    g_autoptr(GBytes) none = lanlan_character_card_export_png (bare, junk, &error);

    g_assert_null (none);
    g_assert_error (error, LANLAN_CHARACTER_CARD_ERROR, LANLAN_CHARACTER_CARD_ERROR_BAD_PNG);
  }
}

static void
test_card_import (void)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) rich_json, strlen (rich_json));
  g_autoptr(GByteArray) png = make_png ("chara", b64, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lanlan-import-XXXXXX", &error);
  g_autoptr(GFile) card = g_file_new_build_filename (dir, "mio.png", NULL);
  g_autoptr(GFile) bad = g_file_new_build_filename (dir, "bad.json", NULL);
  g_autoptr(GFile) store_file = g_file_new_build_filename (dir, "characters.json", NULL);
  g_autoptr(LanlanCharacterStore) store = lanlan_character_store_new (store_file);
  g_autoptr(LanlanCharacter) c = NULL;
  g_autoptr(LanlanCharacter) none = NULL;
  g_autoptr(GFile) avatar_file = NULL;
  g_autoptr(GBytes) saved = NULL;
  g_autoptr(LanlanCharacter) reread = NULL;

  g_assert_no_error (error);
  g_file_replace_contents (card, (const char *) png->data, png->len, NULL, FALSE, 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_file_replace_contents (bad, "{", 1, NULL, FALSE, 0, NULL, NULL, &error);
  g_assert_no_error (error);

  none = lanlan_character_card_import (store, bad, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, LANLAN_CHARACTER_CARD_ERROR, LANLAN_CHARACTER_CARD_ERROR_BAD_JSON);
  g_clear_error (&error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 0);

  c = lanlan_character_card_import (store, card, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lanlan_character_store_lookup (store, lanlan_character_get_id (c)) == c);

  /* The picture is in $XDG_DATA_HOME/lanlan/avatars/<id>.png ... */
  avatar_file = lanlan_character_dup_avatar_file (c);
  {
    g_autofree char *base = g_strconcat (lanlan_character_get_id (c), ".png", NULL);
    g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "lanlan", "avatars", base, NULL);

    g_assert_cmpstr (g_file_peek_path (avatar_file), ==, expected);
  }
  saved = g_file_load_bytes (avatar_file, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (saved, lanlan_character_get_avatar (c)));

  /* ... not in characters.json, which keeps greetings and lorebook. */
  {
    g_autoptr(JsonNode) node = lanlan_character_to_json (c);
    g_autofree char *text = json_to_string (node, FALSE);

    g_assert_null (strstr (text, "avatar"));
    g_assert_null (strstr (text, "iVBOR"));
    reread = lanlan_character_new_from_json (json_node_get_object (node), &error);
    g_assert_no_error (error);
  }
  assert_same_character (c, reread);
  g_assert_true (g_bytes_equal (lanlan_character_get_avatar (reread), saved));

  g_assert_true (lanlan_character_delete_avatar (c, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (avatar_file, NULL));

  g_file_delete (card, NULL, NULL);
  g_file_delete (bad, NULL, NULL);
  g_file_delete (store_file, NULL, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *data_home = g_dir_make_tmp ("lanlan-data-XXXXXX", NULL);

  /* Before anything asks GLib for the user data folder. */
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/card/json/v2", test_card_v2_json);
  g_test_add_func ("/card/json/v3", test_card_v3_json);
  g_test_add_func ("/card/json/v1", test_card_v1_json);
  g_test_add_func ("/card/json/bad", test_card_bad_json);
  g_test_add_func ("/card/png/v2", test_card_png_v2);
  g_test_add_func ("/card/png/v3-preferred", test_card_png_v3_preferred);
  g_test_add_func ("/card/png/bad-crc", test_card_png_bad_crc);
  g_test_add_func ("/card/png/truncated", test_card_png_truncated);
  g_test_add_func ("/card/png/huge-length", test_card_png_huge_length);
  g_test_add_func ("/card/png/no-card", test_card_png_no_card);
  g_test_add_func ("/card/png/bad-base64", test_card_png_bad_base64);
  g_test_add_func ("/card/png/bad-json", test_card_png_bad_json);
  g_test_add_func ("/card/png/fuzz", test_card_png_fuzz);
  g_test_add_func ("/card/load-file", test_card_load_file);
  g_test_add_func ("/card/greetings-and-lorebook", test_card_greetings_and_lorebook);
  g_test_add_func ("/card/png/keeps-picture", test_card_png_keeps_picture);
  g_test_add_func ("/card/export/json", test_card_export_json);
  g_test_add_func ("/card/export/png", test_card_export_png);
  g_test_add_func ("/card/import", test_card_import);

  return g_test_run ();
}
