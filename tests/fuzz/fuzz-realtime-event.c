/* fuzz-realtime-event.c — libFuzzer target: realtime server events
 *
 * Everything a realtime server sends goes through this parser.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-fuzz.h"
#include "lanlan-realtime-events.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  LanlanRealtimeEvent event = { 0 };
  gboolean ok;

  lanlan_fuzz_init ();

  ok = lanlan_realtime_parse_event ((const char *) data, size, &event, &error);
  g_assert (ok == (error == NULL));
  if (ok)
    {
      g_assert_nonnull (event.type_name);
      if (event.type == LANLAN_REALTIME_EVENT_ERROR)
        {
          g_autoptr(GError) as_error = lanlan_realtime_event_to_error (&event);
          g_assert_nonnull (as_error);
          g_assert_true (g_utf8_validate (as_error->message, -1, NULL));
        }
    }
  else
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
  lanlan_realtime_event_clear (&event);

  return 0;
}
