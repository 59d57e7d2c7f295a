/* Weak stand-ins for the store's API until branch `store` is merged:
 * the real lanlan-store.c overrides every one of them. Delete then.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-store.h"

#define WEAK __attribute__((weak))

WEAK GType lanlan_store_get_type (void) { return G_TYPE_OBJECT; }
WEAK GQuark lanlan_store_error_quark (void) { return g_quark_from_static_string ("lanlan-store-error-quark"); }
WEAK void lanlan_store_conversation_free (LanlanStoreConversation *c) { }
WEAK void lanlan_store_hit_free (LanlanStoreHit *h) { }
WEAK LanlanStore *lanlan_store_new (const char *path, GError **error)
{
  g_set_error (error, lanlan_store_error_quark (), LANLAN_STORE_ERROR_IO, "No store yet");
  return NULL;
}
WEAK const char *lanlan_store_get_path (LanlanStore *self) { return NULL; }
WEAK const char *lanlan_store_get_kept_aside (LanlanStore *self) { return NULL; }
WEAK char *lanlan_store_dup_default_path (void) { return NULL; }
WEAK char *lanlan_store_create_conversation (LanlanStore *self, const char *c) { return g_uuid_string_random (); }
WEAK char *lanlan_store_dup_latest_conversation (LanlanStore *self, const char *c) { return NULL; }
WEAK GPtrArray *lanlan_store_list_conversations (LanlanStore *self, const char *c, GError **error) { return g_ptr_array_new (); }
WEAK void lanlan_store_delete_conversation (LanlanStore *self, const char *id) { }
WEAK void lanlan_store_delete_character (LanlanStore *self, const char *id) { }
WEAK void lanlan_store_save_message (LanlanStore *self, const char *cid, LanlanMessage *m) { }
WEAK void lanlan_store_delete_message (LanlanStore *self, const char *id) { }
WEAK GPtrArray *lanlan_store_load_messages (LanlanStore *self, const char *cid, GError **error) { return g_ptr_array_new (); }
WEAK void lanlan_store_set_summary (LanlanStore *self, const char *cid, const char *s, const char *u) { }
WEAK char *lanlan_store_dup_summary (LanlanStore *self, const char *cid, char **u) { return NULL; }
WEAK GPtrArray *lanlan_store_search (LanlanStore *self, const char *q, const char *c, guint limit, GError **error) { return g_ptr_array_new (); }
WEAK char *lanlan_store_export (LanlanStore *self, const char *cid, LanlanStoreExportFormat f, GError **error) { return g_strdup (""); }
WEAK gboolean lanlan_store_flush (LanlanStore *self, GError **error) { return TRUE; }
