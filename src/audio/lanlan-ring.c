/* lanlan-ring.c — lock-free single-producer/single-consumer sample ring
 *
 * Sits between a session thread (or a capture worker) and a PipeWire
 * realtime callback. The realtime side must never lock, allocate or
 * block, so the ring is a fixed buffer allocated once, with two
 * monotonically increasing 64-bit positions published with C11
 * release/acquire atomics: the producer only stores the write position,
 * the consumer only stores the read position. Capacity is rounded up to
 * a power of two so a position maps to a slot with a mask. Elements are
 * fixed-size (int16 or float samples, or interleaved frames).
 *
 * A big ring (a playback's holds 43 s) is its own anonymous mapping:
 * pages cost memory only once written, and lanlan_ring_release() gives
 * them back while the ring is empty and both sides are idle, so a window
 * that has spoken once does not keep megabytes of old speech resident.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "lanlan-ring.h"

/* From this size on the data is mmap()ed rather than malloc()ed. */
#define MAP_MIN_BYTES (64 * 1024)

struct _LanlanRing
{
  /* Each position on its own cache line so the two threads do not
   * bounce one line between cores on every update. */
  _Alignas (64) _Atomic uint64_t write_pos;
  _Alignas (64) _Atomic uint64_t read_pos;
  _Alignas (64) gsize capacity;   /* in elements, a power of two */
  gsize mask;
  gsize elem_size;
  guint8 *data;
  gboolean mapped;
};

/**
 * lanlan_ring_new:
 * @capacity: minimum number of elements the ring holds; rounded up to a
 *   power of two
 * @elem_size: size of one element in bytes (2 for int16, 4 for float)
 *
 * Allocates the whole ring up front; nothing allocates afterwards.
 */
LanlanRing *
lanlan_ring_new (gsize capacity,
                 gsize elem_size)
{
  LanlanRing *ring;
  gsize cap = 1;

  g_return_val_if_fail (capacity > 0, NULL);
  g_return_val_if_fail (elem_size > 0, NULL);
  g_return_val_if_fail (capacity <= G_MAXSIZE / 2 / elem_size, NULL);

  while (cap < capacity)
    cap <<= 1;

  ring = g_aligned_alloc0 (1, sizeof (LanlanRing), 64);
  atomic_init (&ring->write_pos, 0);
  atomic_init (&ring->read_pos, 0);
  ring->capacity = cap;
  ring->mask = cap - 1;
  ring->elem_size = elem_size;
  if (cap * elem_size >= MAP_MIN_BYTES)
    {
      void *data = mmap (NULL, cap * elem_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

      if (data != MAP_FAILED)
        {
          ring->data = data;
          ring->mapped = TRUE;
        }
    }
  if (ring->data == NULL)
    ring->data = g_malloc0 (cap * elem_size);

  return ring;
}

void
lanlan_ring_free (LanlanRing *ring)
{
  if (ring == NULL)
    return;
  if (ring->mapped)
    munmap (ring->data, ring->capacity * ring->elem_size);
  else
    g_free (ring->data);
  g_aligned_free (ring);
}

/**
 * lanlan_ring_release:
 *
 * Returns the memory of a mapped ring's slots to the system (they read
 * as zeros and cost nothing until written again). Only while neither
 * side reads or writes, e.g. with the producer's lock held and the
 * consumer stopped, and the ring empty: its contents are lost.
 */
void
lanlan_ring_release (LanlanRing *ring)
{
  if (ring->mapped)
    madvise (ring->data, ring->capacity * ring->elem_size, MADV_DONTNEED);
}

gsize
lanlan_ring_get_capacity (LanlanRing *ring)
{
  return ring->capacity;
}

gsize
lanlan_ring_get_elem_size (LanlanRing *ring)
{
  return ring->elem_size;
}

gsize
lanlan_ring_read_space (LanlanRing *ring)
{
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_acquire);
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_acquire);

  return (gsize) (w - r);
}

gsize
lanlan_ring_write_space (LanlanRing *ring)
{
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_relaxed);
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_acquire);

  return ring->capacity - (gsize) (w - r);
}

guint64
lanlan_ring_get_write_pos (LanlanRing *ring)
{
  return atomic_load_explicit (&ring->write_pos, memory_order_acquire);
}

guint64
lanlan_ring_get_read_pos (LanlanRing *ring)
{
  return atomic_load_explicit (&ring->read_pos, memory_order_acquire);
}

/* Copies @n elements starting at position @pos into or out of the
 * buffer, in at most two pieces (before and after the wrap). */
static inline void
copy_in (LanlanRing *ring,
         uint64_t    pos,
         const void *src,
         gsize       n)
{
  gsize start = (gsize) pos & ring->mask;
  gsize first = MIN (n, ring->capacity - start);

  memcpy (ring->data + start * ring->elem_size, src, first * ring->elem_size);
  if (n > first)
    memcpy (ring->data, (const guint8 *) src + first * ring->elem_size,
            (n - first) * ring->elem_size);
}

static inline void
copy_out (LanlanRing *ring,
          uint64_t    pos,
          void       *dst,
          gsize       n)
{
  gsize start = (gsize) pos & ring->mask;
  gsize first = MIN (n, ring->capacity - start);

  memcpy (dst, ring->data + start * ring->elem_size, first * ring->elem_size);
  if (n > first)
    memcpy ((guint8 *) dst + first * ring->elem_size, ring->data,
            (n - first) * ring->elem_size);
}

/**
 * lanlan_ring_write:
 *
 * Producer only. Copies as many of @n_elems as fit; returns how many.
 */
gsize
lanlan_ring_write (LanlanRing *ring,
                   const void *data,
                   gsize       n_elems)
{
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_relaxed);
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_acquire);
  gsize space = ring->capacity - (gsize) (w - r);
  gsize n = MIN (n_elems, space);

  if (n == 0)
    return 0;

  copy_in (ring, w, data, n);
  atomic_store_explicit (&ring->write_pos, w + n, memory_order_release);

  return n;
}

/**
 * lanlan_ring_read:
 *
 * Consumer only. Copies up to @n_elems out; returns how many.
 */
gsize
lanlan_ring_read (LanlanRing *ring,
                  void       *data,
                  gsize       n_elems)
{
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_relaxed);
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_acquire);
  gsize avail = (gsize) (w - r);
  gsize n = MIN (n_elems, avail);

  if (n == 0)
    return 0;

  copy_out (ring, r, data, n);
  atomic_store_explicit (&ring->read_pos, r + n, memory_order_release);

  return n;
}

/**
 * lanlan_ring_skip:
 *
 * Consumer only. Drops up to @n_elems without copying; returns how many.
 */
gsize
lanlan_ring_skip (LanlanRing *ring,
                  gsize       n_elems)
{
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_relaxed);
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_acquire);
  gsize n = MIN (n_elems, (gsize) (w - r));

  atomic_store_explicit (&ring->read_pos, r + n, memory_order_release);

  return n;
}

/**
 * lanlan_ring_skip_to:
 * @write_pos: a write position the producer observed earlier
 *
 * Consumer only. Drops everything written before @write_pos (and nothing
 * written after it), so a producer can ask for a flush without touching
 * the read position itself. Returns how many elements were dropped.
 */
gsize
lanlan_ring_skip_to (LanlanRing *ring,
                     guint64     write_pos)
{
  uint64_t r = atomic_load_explicit (&ring->read_pos, memory_order_relaxed);
  uint64_t w = atomic_load_explicit (&ring->write_pos, memory_order_acquire);
  uint64_t target = MIN (write_pos, w);

  if (target <= r)
    return 0;

  atomic_store_explicit (&ring->read_pos, target, memory_order_release);

  return (gsize) (target - r);
}
