/* Placeholder so the conversation library is never empty; replaced by
 * lanlan-conversation.c and lanlan-store.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

void lanlan_conversation_stub (void);

void
lanlan_conversation_stub (void)
{
}
