/* fuzz-card.c — libFuzzer target: character cards (JSON and PNG chunks)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-character-card.h"
#include "lanlan-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LanlanCharacter) character = NULL;

  lanlan_fuzz_init ();

  character = lanlan_character_card_parse (data, size, &error);
  g_assert ((character == NULL) != (error == NULL));
  if (character != NULL)
    g_assert_true (g_utf8_validate (lanlan_character_get_name (character), -1, NULL));

  return 0;
}
