/* fuzz-config.c — libFuzzer target: the characters.json parser
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-character-store.h"
#include "lanlan-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) characters = NULL;

  lanlan_fuzz_init ();

  characters = lanlan_character_store_parse ((const char *) data, size, &error);
  g_assert ((characters == NULL) != (error == NULL));

  if (characters != NULL)
    {
      /* Whatever parsed must serialize and parse back the same. */
      for (guint i = 0; i < characters->len; i++)
        {
          LanlanCharacter *c = g_ptr_array_index (characters, i);
          g_autoptr(JsonNode) node = lanlan_character_to_json (c);
          g_autoptr(LanlanCharacter) again = lanlan_character_new_from_json (json_node_get_object (node), NULL);

          g_assert_nonnull (again);
          g_assert_cmpstr (lanlan_character_get_persona (again), ==, lanlan_character_get_persona (c));
        }
    }
  else
    g_assert_nonnull (error->message);

  return 0;
}
