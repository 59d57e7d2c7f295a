/* lanlan-ring.h — lock-free single-producer/single-consumer sample ring
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LanlanRing LanlanRing;

LanlanRing *lanlan_ring_new          (gsize        capacity,
                                      gsize        elem_size);
void        lanlan_ring_free         (LanlanRing  *ring);
void        lanlan_ring_release      (LanlanRing  *ring);

gsize       lanlan_ring_get_capacity (LanlanRing  *ring);
gsize       lanlan_ring_get_elem_size (LanlanRing *ring);

/* Producer side. */
gsize       lanlan_ring_write        (LanlanRing  *ring,
                                      const void  *data,
                                      gsize        n_elems);
gsize       lanlan_ring_write_space  (LanlanRing  *ring);
guint64     lanlan_ring_get_write_pos (LanlanRing *ring);

/* Consumer side. */
gsize       lanlan_ring_read         (LanlanRing  *ring,
                                      void        *data,
                                      gsize        n_elems);
gsize       lanlan_ring_skip         (LanlanRing  *ring,
                                      gsize        n_elems);
gsize       lanlan_ring_skip_to      (LanlanRing  *ring,
                                      guint64      write_pos);
guint64     lanlan_ring_get_read_pos (LanlanRing  *ring);

/* Either side (a snapshot; may be stale by the time it is used). */
gsize       lanlan_ring_read_space   (LanlanRing  *ring);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LanlanRing, lanlan_ring_free)

G_END_DECLS
