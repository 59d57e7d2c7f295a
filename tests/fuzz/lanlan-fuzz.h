/* lanlan-fuzz.h — shared by the fuzz targets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Parsers must answer bad input with a GError, never with a critical
 * warning: make those abort so the fuzzer reports them. */
static inline void
lanlan_fuzz_init (void)
{
  static gboolean done;

  if (!done)
    {
      g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
      g_log_set_writer_func (g_log_writer_default, NULL, NULL);
      done = TRUE;
    }
}
