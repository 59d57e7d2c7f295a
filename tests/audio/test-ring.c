/* test-ring.c — the lock-free SPSC ring
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-ring.h"

static void
test_ring_basic (void)
{
  g_autoptr(LanlanRing) ring = lanlan_ring_new (100, sizeof (gint16));
  gint16 in[200], out[200];

  g_assert_cmpuint (lanlan_ring_get_capacity (ring), ==, 128);
  g_assert_cmpuint (lanlan_ring_read_space (ring), ==, 0);
  g_assert_cmpuint (lanlan_ring_write_space (ring), ==, 128);
  g_assert_cmpuint (lanlan_ring_read (ring, out, 10), ==, 0);

  for (int i = 0; i < 200; i++)
    in[i] = (gint16) (i * 7 - 300);

  /* Over capacity: only what fits is taken, nothing is overwritten. */
  g_assert_cmpuint (lanlan_ring_write (ring, in, 200), ==, 128);
  g_assert_cmpuint (lanlan_ring_write (ring, in, 1), ==, 0);
  g_assert_cmpuint (lanlan_ring_read_space (ring), ==, 128);
  g_assert_cmpuint (lanlan_ring_read (ring, out, 200), ==, 128);
  g_assert_cmpmem (in, 128 * sizeof (gint16), out, 128 * sizeof (gint16));
  g_assert_cmpuint (lanlan_ring_read_space (ring), ==, 0);
}

static void
test_ring_wraparound (void)
{
  g_autoptr(LanlanRing) ring = lanlan_ring_new (16, sizeof (float));
  float in[16], out[16];
  float next_in = 0, next_out = 0;

  /* Odd chunk sizes walk the positions across the wrap many times. */
  for (int round = 0; round < 1000; round++)
    {
      gsize w = 1 + round % 13, r = 1 + (round * 5) % 11, n;

      for (gsize i = 0; i < w; i++)
        in[i] = next_in + i;
      n = lanlan_ring_write (ring, in, w);
      next_in += n;

      n = lanlan_ring_read (ring, out, r);
      for (gsize i = 0; i < n; i++)
        g_assert_cmpfloat (out[i], ==, next_out + i);
      next_out += n;
      g_assert_cmpuint (lanlan_ring_read_space (ring), ==, (gsize) (next_in - next_out));
    }
  g_assert_cmpfloat (next_out, >, 5000);
}

static void
test_ring_skip (void)
{
  g_autoptr(LanlanRing) ring = lanlan_ring_new (64, sizeof (gint16));
  gint16 in[40], out[40];
  guint64 mark;

  for (int i = 0; i < 40; i++)
    in[i] = i;

  lanlan_ring_write (ring, in, 30);
  g_assert_cmpuint (lanlan_ring_skip (ring, 5), ==, 5);
  g_assert_cmpuint (lanlan_ring_read (ring, out, 1), ==, 1);
  g_assert_cmpint (out[0], ==, 5);

  /* skip_to drops exactly what was written before the mark. */
  mark = lanlan_ring_get_write_pos (ring);
  lanlan_ring_write (ring, in + 30, 10);
  g_assert_cmpuint (lanlan_ring_skip_to (ring, mark), ==, 24);
  g_assert_cmpuint (lanlan_ring_read (ring, out, 40), ==, 10);
  g_assert_cmpint (out[0], ==, 30);
  g_assert_cmpint (out[9], ==, 39);

  /* A stale mark is harmless. */
  g_assert_cmpuint (lanlan_ring_skip_to (ring, mark), ==, 0);
  g_assert_cmpuint (lanlan_ring_skip_to (ring, mark + 1000), ==, 0);
  g_assert_cmpuint (lanlan_ring_get_read_pos (ring), ==, 40);
}

#define SEQ_LEN (20u * 1000 * 1000)

typedef struct {
  LanlanRing *ring;
  guint64     sum;
} ThreadData;

static guint64
mix (guint32 i)
{
  return (guint64) i * 2654435761u ^ (i >> 3);
}

static gpointer
producer (gpointer data)
{
  ThreadData *td = data;
  guint32 buf[333];
  guint32 next = 0;

  while (next < SEQ_LEN)
    {
      gsize want = MIN (G_N_ELEMENTS (buf) - next % 97, SEQ_LEN - next);
      gsize n;

      for (gsize i = 0; i < want; i++)
        buf[i] = next + i;
      n = lanlan_ring_write (td->ring, buf, want);
      for (gsize i = 0; i < n; i++)
        td->sum += mix (buf[i]);
      next += n;
      if (n == 0)
        g_thread_yield ();
    }
  return NULL;
}

static gpointer
consumer (gpointer data)
{
  ThreadData *td = data;
  guint32 buf[257];
  guint32 expect = 0;

  while (expect < SEQ_LEN)
    {
      gsize n = lanlan_ring_read (td->ring, buf, G_N_ELEMENTS (buf) - expect % 31);

      for (gsize i = 0; i < n; i++)
        {
          if (G_UNLIKELY (buf[i] != expect + i))
            g_error ("out of order: got %u, expected %u", buf[i], (guint) (expect + i));
          td->sum += mix (buf[i]);
        }
      expect += n;
      if (n == 0)
        g_thread_yield ();
    }
  return NULL;
}

static void
test_ring_threads (void)
{
  g_autoptr(LanlanRing) ring = lanlan_ring_new (1024, sizeof (guint32));
  ThreadData p = { ring, 0 }, c = { ring, 0 };
  GThread *pt, *ct;
  guint64 expect = 0;

  ct = g_thread_new ("consumer", consumer, &c);
  pt = g_thread_new ("producer", producer, &p);
  g_thread_join (pt);
  g_thread_join (ct);

  for (guint32 i = 0; i < SEQ_LEN; i++)
    expect += mix (i);

  g_assert_cmpuint (p.sum, ==, expect);
  g_assert_cmpuint (c.sum, ==, expect);
  g_assert_cmpuint (lanlan_ring_read_space (ring), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/audio/ring/basic", test_ring_basic);
  g_test_add_func ("/audio/ring/wraparound", test_ring_wraparound);
  g_test_add_func ("/audio/ring/skip", test_ring_skip);
  g_test_add_func ("/audio/ring/threads", test_ring_threads);

  return g_test_run ();
}
