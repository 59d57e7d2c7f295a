/* fuzz-agent-event.c — libFuzzer target: ZeroMQ agent messages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-agent-event.h"
#include "lanlan-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanAgentEvent) event = NULL;

  lanlan_fuzz_init ();

  event = lanlan_agent_event_parse ((const char *) data, size, &error);
  g_assert ((event == NULL) != (error == NULL));
  if (error != NULL)
    g_assert_true (g_utf8_validate (error->message, -1, NULL));

  return 0;
}
