/* fuzz-driver.c — runs a fuzz target without libFuzzer
 *
 * Every build (gcc included) links each fuzz target with this driver and
 * runs it as a test: first over every file in the target's corpus folder
 * (seeds, and every crasher a fuzzing run found, kept as a regression
 * test), then over a fixed number of deterministic random mutations of
 * those files (byte flips, truncations, insertions, splices). Under the
 * ASan/UBSan build this is a small fuzz run of its own.
 *
 *   fuzz-NAME [--mutations N] [--seed S] DIR|FILE...
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lanlan-fuzz.h"

static void
add_path (GPtrArray  *inputs,
          const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (dir && (name = g_dir_read_name (dir)))
        g_ptr_array_add (names, g_build_filename (path, name, NULL));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      for (guint i = 0; i < names->len; i++)
        add_path (inputs, g_ptr_array_index (names, i));
      return;
    }

  {
    char *contents = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents (path, &contents, &len, &error))
      g_error ("%s", error->message);
    g_ptr_array_add (inputs, g_bytes_new_take (contents, len));
  }
}

static void
run_one (const guint8 *data,
         gsize         len)
{
  /* A private copy, exactly len bytes, so ASan sees any overread. */
  guint8 *copy = g_malloc (len ? len : 1);

  memcpy (copy, data, len);
  LLVMFuzzerTestOneInput (copy, len);
  g_free (copy);
}

static GByteArray *
mutate (GRand     *rand,
        GPtrArray *inputs,
        GBytes    *base)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (base, &len);
  GByteArray *out = g_byte_array_sized_new (len + 16);
  guint n_ops = g_rand_int_range (rand, 1, 6);

  g_byte_array_append (out, data, len);
  for (guint op = 0; op < n_ops; op++)
    {
      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0: /* flip a byte */
          if (out->len)
            out->data[g_rand_int_range (rand, 0, out->len)] ^= 1 << g_rand_int_range (rand, 0, 8);
          break;
        case 1: /* set an interesting byte */
          if (out->len)
            {
              static const guint8 interesting[] = { 0, 0xff, '"', '{', '[', '\\', 0x80, 0xc3, ':', ',' };
              out->data[g_rand_int_range (rand, 0, out->len)] = interesting[g_rand_int_range (rand, 0, G_N_ELEMENTS (interesting))];
            }
          break;
        case 2: /* truncate */
          if (out->len)
            g_byte_array_set_size (out, g_rand_int_range (rand, 0, out->len));
          break;
        case 3: /* delete a range */
          if (out->len > 1)
            {
              guint at = g_rand_int_range (rand, 0, out->len - 1);
              guint n = g_rand_int_range (rand, 1, MIN (out->len - at, 64) + 1);
              g_byte_array_remove_range (out, at, n);
            }
          break;
        case 4: /* duplicate a range */
          if (out->len > 1)
            {
              guint at = g_rand_int_range (rand, 0, out->len - 1);
              guint n = g_rand_int_range (rand, 1, MIN (out->len - at, 64) + 1);
              guint to = g_rand_int_range (rand, 0, out->len);
              guint old_len = out->len;
              g_autofree guint8 *chunk = g_memdup2 (out->data + at, n);

              g_byte_array_set_size (out, old_len + n);
              memmove (out->data + to + n, out->data + to, old_len - to);
              memcpy (out->data + to, chunk, n);
            }
          break;
        default: /* splice another input */
          {
            gsize other_len;
            GBytes *other = g_ptr_array_index (inputs, g_rand_int_range (rand, 0, inputs->len));
            const guint8 *other_data = g_bytes_get_data (other, &other_len);
            if (other_len && out->len)
              {
                guint from = g_rand_int_range (rand, 0, other_len);
                guint n = MIN (other_len - from, 128);
                g_byte_array_set_size (out, g_rand_int_range (rand, 0, out->len));
                g_byte_array_append (out, other_data + from, n);
              }
          }
        }
    }

  return out;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GRand) rand = NULL;
  guint mutations = 2000;
  guint32 seed = 1;
  guint i;

  for (i = 1; i < (guint) argc; i++)
    {
      if (g_str_equal (argv[i], "--mutations") && i + 1 < (guint) argc)
        mutations = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--seed") && i + 1 < (guint) argc)
        seed = atoi (argv[++i]);
      else
        add_path (inputs, argv[i]);
    }

  /* Memcheck runs ~50x slower: a tenth of the mutations still covers it. */
  if (g_getenv ("LANLAN_UNDER_VALGRIND") != NULL)
    mutations /= 10;

  if (inputs->len == 0)
    {
      g_printerr ("no inputs\n");
      return 2;
    }

  for (i = 0; i < inputs->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (inputs, i), &len);
      run_one (data, len);
    }
  g_print ("%u corpus inputs: no crash\n", inputs->len);

  rand = g_rand_new_with_seed (seed);
  for (i = 0; i < mutations; i++)
    {
      g_autoptr(GByteArray) m = mutate (rand, inputs, g_ptr_array_index (inputs, i % inputs->len));
      run_one (m->data, m->len);
    }
  g_print ("%u mutations (seed %u): no crash\n", mutations, seed);

  return 0;
}
