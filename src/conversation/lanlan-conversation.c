/* lanlan-conversation.c — one character's conversation, apart from any window
 *
 * A LanlanConversation lives on the main thread, one per character that
 * has been opened, and outlives the windows that show it. It owns what
 * talking needs: the session manager (and through it the realtime
 * connection), the speaker and the microphone, the translator chain and
 * the link to the agent. What was said is a GListModel of LanlanMessage
 * with stable ids, saved in the LanlanStore as messages end: a typed
 * message once the session took it (or FAILED when it could not), a reply
 * when it ends, an interrupted reply with what the user actually heard.
 *
 * The session may stream thousands of transcript deltas a second; they
 * are gathered per message and applied at most once a frame.
 *
 * Settings reach the session one way only: from here (GSettings hot-swap
 * timing, the API key from the keyring, the audio devices).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-agent-link.h"
#include "lanlan-audio-capture.h"
#include "lanlan-audio-playback.h"
#include "lanlan-chat-preset.h"
#include "lanlan-conversation.h"
#include "lanlan-libretranslate-provider.h"
#include "lanlan-llm-translation-provider.h"
#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"
#include "lanlan-secrets.h"
#include "lanlan-summarizer.h"
#include "lanlan-translator.h"

#define LEVEL_INTERVAL_MS   33
#define FLUSH_INTERVAL_MS   16       /* deltas reach the model once a frame */
#define MAX_MESSAGE_BYTES   (1024 * 1024)
#define SWAPPED_SHOWN_MS    3000
#define FAILED_SHOWN_MS     6000
#define BUSY_SHOWN_MS       1500     /* a swap's progress stays readable */

/* A message still being streamed, with the deltas not yet applied. */
typedef struct {
  LanlanMessage *message;
  GString       *pending;
  gsize          length;        /* of the message's text plus pending */
  char          *heard;         /* of an interrupted reply */
  gboolean       interrupted;
} Streaming;

struct _LanlanConversation
{
  GObject               parent_instance;

  LanlanCharacter      *character;
  LanlanStore          *store;
  char                 *id;
  GListStore           *messages;

  /* "role:turn_id" -> Streaming */
  GHashTable           *streaming;
  guint                 flush_source;

  /* the character's greeting, shown at the top of a new conversation
   * and stored with the first message that follows it */
  LanlanMessage        *greeting;

  /* the newest finished reply, which may still be playing when the
   * user cuts in */
  LanlanMessage        *last_reply;
  char                 *last_reply_turn;

  LanlanSessionManager *session;
  LanlanAudioPlayback  *playback;
  LanlanAudioCapture   *capture;
  LanlanEchoCancel     *echo_cancel;
  LanlanAgentBridge    *agent_bridge;
  LanlanAgentLink      *agent_link;
  LanlanVisionLink     *vision;
  LanlanTranslator     *translator;

  /* memory: the ids of what the session was primed with and heard since,
   * oldest first; how many of them the summary covers; what overflowed
   * while a summary was being made */
  LanlanSummarizer     *summarizer;
  GPtrArray            *history_ids;
  guint                 n_summarized;
  GPtrArray            *overflow;
  guint                 overflow_skipped;   /* the oldest turns, dropped from it unread */
  gboolean              summarizing;
  guint                 memory_generation;  /* bumped by push_history() */
  guint                 memory_retry;       /* source: a refused summary tried again */
  guint                 memory_retry_delay; /* seconds, doubled per refusal */
  GSettings            *settings;
  GCancellable         *cancellable;
  gboolean              session_started;

  LanlanSessionState    state;
  LanlanSwapStatus      swap_status;
  char                 *swap_detail;
  guint                 swap_hide_source;
  gint64                swap_busy_since;
  LanlanSwapStatus      swap_next;
  char                 *swap_next_detail;
  GError               *error;
  gboolean              has_api_key;
  gboolean              microphone_active;
  double                input_level;
  guint                 level_source;
  guint                 retarget_source;
  double                output_level;
  guint                 output_level_source;
};

G_DEFINE_FINAL_TYPE (LanlanConversation, lanlan_conversation, G_TYPE_OBJECT)
G_DEFINE_QUARK (lanlan-conversation-error-quark, lanlan_conversation_error)

enum {
  PROP_0,
  PROP_CHARACTER,
  PROP_STORE,
  PROP_ID,
  PROP_MESSAGES,
  PROP_STATE,
  PROP_SWAP_STATUS,
  PROP_SWAP_DETAIL,
  PROP_ERROR,
  PROP_HAS_API_KEY,
  PROP_INPUT_LEVEL,
  PROP_OUTPUT_LEVEL,
  PROP_MICROPHONE_ACTIVE,
  PROP_ECHO_CANCEL,
  N_PROPS
};

enum {
  TOAST,
  AGENT_NOTIFICATION,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

GType
lanlan_swap_status_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      static const GEnumValue values[] = {
        { LANLAN_SWAP_STATUS_NONE, "LANLAN_SWAP_STATUS_NONE", "none" },
        { LANLAN_SWAP_STATUS_PREPARING, "LANLAN_SWAP_STATUS_PREPARING", "preparing" },
        { LANLAN_SWAP_STATUS_READY, "LANLAN_SWAP_STATUS_READY", "ready" },
        { LANLAN_SWAP_STATUS_SWAPPED, "LANLAN_SWAP_STATUS_SWAPPED", "swapped" },
        { LANLAN_SWAP_STATUS_FAILED, "LANLAN_SWAP_STATUS_FAILED", "failed" },
        { 0, NULL, NULL },
      };
      g_once_init_leave (&type, g_enum_register_static ("LanlanSwapStatus", values));
    }
  return type;
}

static void ensure_session_started (LanlanConversation *self);
static void reopen_microphone (LanlanConversation *self);
static void set_id (LanlanConversation *self, const char *id);
static void update_level_source (LanlanConversation *self);

static void
streaming_free (gpointer data)
{
  Streaming *s = data;

  g_clear_object (&s->message);
  g_free (s->heard);
  if (s->pending != NULL)
    g_string_free (s->pending, TRUE);
  g_free (s);
}

static void
toast (LanlanConversation *self,
       const char         *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

/* Shared frames are sampled while the user may be speaking (the
 * microphone is on) or the character is answering. */
static void
update_vision_live (LanlanConversation *self,
                    LanlanSessionState  state)
{
  if (self->vision != NULL)
    lanlan_vision_link_set_live (self->vision,
                                 self->microphone_active || state == LANLAN_SESSION_STATE_RESPONDING);
}

static void
on_vision_error (LanlanConversation *self,
                 GError             *error)
{
  toast (self, error->message);
}

/* --- Errors ---------------------------------------------------------------- */

static void
set_error (LanlanConversation *self,
           const GError       *error)
{
  if (error == NULL && self->error == NULL)
    return;
  if (error != NULL && self->error != NULL &&
      g_error_matches (self->error, error->domain, error->code) &&
      g_strcmp0 (self->error->message, error->message) == 0)
    return;

  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

static gboolean
error_is (LanlanConversation *self,
          GQuark              domain,
          int                 code)
{
  return self->error != NULL && g_error_matches (self->error, domain, code);
}

static gboolean
error_is_network (LanlanConversation *self)
{
  return error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK) ||
         error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT);
}

/* --- Store ----------------------------------------------------------------- */

/* A new conversation gets its id with its first message, before that
 * message is finished, so that the agent link, told the id, counts it
 * as new. */
static void
ensure_id (LanlanConversation *self)
{
  g_autofree char *id = NULL;

  if (self->store == NULL || self->id != NULL)
    return;
  id = lanlan_store_create_conversation (self->store, lanlan_character_get_id (self->character));
  set_id (self, id);
}

static void
save (LanlanConversation *self,
      LanlanMessage      *message)
{
  LanlanMessageStatus status = lanlan_message_get_status (message);

  /* What the session's history holds from now on, for the summary's
   * bookmark: finished turns, once each. */
  if ((status == LANLAN_MESSAGE_STATUS_SENT || status == LANLAN_MESSAGE_STATUS_INTERRUPTED) &&
      lanlan_message_get_role (message) != LANLAN_MESSAGE_ROLE_SYSTEM &&
      (self->history_ids->len == 0 ||
       g_strcmp0 (g_ptr_array_index (self->history_ids, self->history_ids->len - 1),
                  lanlan_message_get_id (message)) != 0))
    g_ptr_array_add (self->history_ids, g_strdup (lanlan_message_get_id (message)));

  if (self->store == NULL)
    return;

  ensure_id (self);
  if (self->greeting != NULL && self->greeting != message)
    {
      g_autoptr(LanlanMessage) greeting = g_steal_pointer (&self->greeting);

      lanlan_store_save_message (self->store, self->id, greeting);
    }
  lanlan_store_save_message (self->store, self->id, message);
}

/* The store found its file damaged after opening (the check runs after
 * the first frame) and started a fresh one, which knows nothing of this
 * conversation: what it shows is carried over, under a new id, so that
 * nothing said is lost and what is said next has a home. */
static void push_history (LanlanConversation *self);

static void
on_store_damaged (LanlanConversation *self,
                  GError             *error)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));

  if (self->id == NULL)
    return;
  set_id (self, NULL);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanMessage) m = g_list_model_get_item (G_LIST_MODEL (self->messages), i);

      /* Pending ones are saved when they end. */
      if (lanlan_message_get_status (m) == LANLAN_MESSAGE_STATUS_PENDING)
        continue;
      ensure_id (self);
      lanlan_store_save_message (self->store, self->id, m);
      if (m == self->greeting)
        g_clear_object (&self->greeting);
    }
  /* The summary stayed in the old file: made again from here. */
  push_history (self);
}

/* A new conversation opens with the character's greeting, if it has one:
 * shown, not spoken, kept once the user answers. */
static void
add_greeting (LanlanConversation *self)
{
  const char *greeting = lanlan_character_get_greeting (self->character);

  g_clear_object (&self->greeting);
  if (greeting == NULL || *greeting == '\0' ||
      g_list_model_get_n_items (G_LIST_MODEL (self->messages)) > 0)
    return;

  self->greeting = lanlan_message_new (LANLAN_MESSAGE_ROLE_ASSISTANT, greeting);
  lanlan_message_set_status (self->greeting, LANLAN_MESSAGE_STATUS_SENT);
  g_list_store_append (self->messages, self->greeting);
}

/* --- Translation ------------------------------------------------------------ */

/**
 * lanlan_conversation_dup_user_language:
 *
 * Returns: the user's language: GSettings user-language, or else the
 *   desktop locale's (normalized, e.g. "en", "zh-hans")
 */
char *
lanlan_conversation_dup_user_language (LanlanConversation *self)
{
  g_autofree char *setting = NULL;
  const char * const *names;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);

  setting = g_settings_get_string (self->settings, "user-language");
  if (setting != NULL && *setting != '\0')
    return lanlan_translator_normalize_language (setting);

  names = g_get_language_names ();
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *tag = g_strdup (names[i]);

      tag[strcspn (tag, ".@")] = '\0';
      if (*tag == '\0' || g_str_equal (tag, "C") || g_str_equal (tag, "POSIX"))
        continue;
      g_strdelimit (tag, "_", '-');
      return lanlan_translator_normalize_language (tag);
    }

  return g_strdup ("en");
}

/* Builds the provider chain; @api_key is the character's provider key. */
static void
rebuild_translator (LanlanConversation *self,
                    const char         *api_key)
{
  g_autofree char *url = NULL;
  g_autofree char *chat_url = NULL;
  g_autofree char *chat_model = NULL;

  if (self->translator == NULL)
    self->translator = lanlan_translator_new ();
  lanlan_translator_clear_providers (self->translator);
  lanlan_translator_clear_cache (self->translator);

  url = g_settings_get_string (self->settings, "translate-url");
  g_strstrip (url);
  if (*url != '\0')
    {
      g_autoptr(LanlanLibretranslateProvider) libre = lanlan_libretranslate_provider_new (url, NULL);

      lanlan_translator_add_provider (self->translator, LANLAN_TRANSLATION_PROVIDER (libre));
    }

  lanlan_provider_get_chat_endpoint (self->character, &chat_url, &chat_model, NULL);
  if (chat_url != NULL && api_key != NULL && *api_key != '\0')
    {
      g_autoptr(LanlanLlmTranslationProvider) llm =
        lanlan_llm_translation_provider_new (chat_url, api_key, chat_model);

      lanlan_translator_add_provider (self->translator, LANLAN_TRANSLATION_PROVIDER (llm));
    }
}

typedef struct {
  LanlanConversation *self;
  LanlanMessage      *message;
} TranslateData;

static void
on_translated (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  TranslateData *data = user_data;
  g_autoptr(LanlanConversation) self = data->self;
  g_autoptr(LanlanMessage) message = data->message;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_free (data);
  text = lanlan_translator_translate_finish (LANLAN_TRANSLATOR (source), result, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (text == NULL)
    {
      /* Quietly: the original stays as it is. */
      g_message ("Translation failed: %s", error->message);
      return;
    }

  lanlan_message_set_translation (message, g_strstrip (text));
  if (lanlan_message_get_status (message) != LANLAN_MESSAGE_STATUS_PENDING)
    save (self, message);
}

/* Translates a finished reply of the character when the languages differ. */
static void
translate_message (LanlanConversation *self,
                   LanlanMessage      *message)
{
  const char *from = lanlan_character_get_language (self->character);
  g_autofree char *to = NULL;
  TranslateData *data;

  if (from == NULL || *from == '\0' || self->translator == NULL ||
      lanlan_translator_get_n_providers (self->translator) == 0 ||
      lanlan_message_get_text (message)[0] == '\0')
    return;

  to = lanlan_conversation_dup_user_language (self);
  if (lanlan_translator_same_language (from, to))
    return;

  data = g_new0 (TranslateData, 1);
  data->self = g_object_ref (self);
  data->message = g_object_ref (message);
  lanlan_translator_translate_async (self->translator, lanlan_message_get_text (message), from, to,
                                     self->cancellable, on_translated, data);
}

/* --- Transcript ------------------------------------------------------------ */

static void
append_message (LanlanConversation *self,
                LanlanMessage      *message)
{
  if (self->greeting != NULL)
    save (self, self->greeting);   /* answered: it belongs to the conversation now */
  g_clear_object (&self->greeting);
  ensure_id (self);
  g_list_store_append (self->messages, message);
}

static void
append_pending (Streaming  *s,
                const char *delta)
{
  gsize add;

  /* A reply is not endless: past the cap, further deltas are dropped. */
  if (s->length >= MAX_MESSAGE_BYTES)
    return;
  add = MIN (strlen (delta), MAX_MESSAGE_BYTES - s->length);
  g_string_append_len (s->pending, delta, add);
  s->length += add;
}

static void
flush_one (Streaming *s)
{
  if (s->pending->len == 0)
    return;
  /* Cut at a whole character: the cap may have split one. */
  if (!g_utf8_validate (s->pending->str, s->pending->len, NULL))
    {
      const char *end;

      g_utf8_validate (s->pending->str, s->pending->len, &end);
      s->length -= s->pending->len - (end - s->pending->str);
      g_string_truncate (s->pending, end - s->pending->str);
    }
  lanlan_message_append_text (s->message, s->pending->str);
  g_string_truncate (s->pending, 0);
}

static void
flush_cb (gpointer user_data)
{
  LanlanConversation *self = user_data;
  GHashTableIter iter;
  Streaming *s;

  self->flush_source = 0;
  g_hash_table_iter_init (&iter, self->streaming);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s))
    flush_one (s);
}

static char *
turn_key (const char *role,
          const char *turn_id)
{
  return g_strdup_printf ("%s:%s", role, turn_id ? turn_id : "");
}

static LanlanMessageRole
role_from_name (const char *role)
{
  LanlanMessageRole r;

  if (!lanlan_message_role_from_string (role, &r))
    r = LANLAN_MESSAGE_ROLE_SYSTEM;
  return r;
}

static void
on_session_delta (LanlanConversation *self,
                  const char         *role,
                  const char         *turn_id,
                  const char         *delta)
{
  g_autofree char *key = NULL;
  Streaming *s;

  if (delta == NULL || *delta == '\0')
    return;

  key = turn_key (role, turn_id);
  s = g_hash_table_lookup (self->streaming, key);
  if (s == NULL)
    {
      s = g_new0 (Streaming, 1);
      s->message = lanlan_message_new (role_from_name (role), "");
      s->pending = g_string_new (NULL);
      g_hash_table_insert (self->streaming, g_steal_pointer (&key), s);
      append_pending (s, delta);
      flush_one (s);
      append_message (self, s->message);
    }
  else
    {
      append_pending (s, delta);
      /* At most once a frame: the bubble shows what was added. */
      if (self->flush_source == 0)
        self->flush_source = g_timeout_add_once (FLUSH_INTERVAL_MS, flush_cb, self);
    }
}

/* A typed message went out, or could not. */
static void
on_text_sent (LanlanConversation *self,
              const char         *message_id)
{
  LanlanMessage *message = lanlan_conversation_lookup_message (self, message_id);

  if (message == NULL || lanlan_message_get_status (message) != LANLAN_MESSAGE_STATUS_PENDING)
    return;
  lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_SENT);
  save (self, message);
}

static void
on_text_failed (LanlanConversation *self,
                const char         *message_id,
                GError             *error)
{
  LanlanMessage *message = lanlan_conversation_lookup_message (self, message_id);

  if (message == NULL || lanlan_message_get_status (message) != LANLAN_MESSAGE_STATUS_PENDING)
    return;
  g_debug ("Not sent: %s", error ? error->message : "");
  lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_FAILED);
  save (self, message);
}

/* The user cut a reply short: while it streamed (its partial
 * transcript-done follows) or while its end still played. */
static void
on_interrupted (LanlanConversation *self,
                const char         *turn_id,
                const char         *heard_text,
                guint64             played_samples,
                guint64             received_samples)
{
  g_autofree char *key = turn_key ("assistant", turn_id);
  Streaming *s = g_hash_table_lookup (self->streaming, key);

  if (s != NULL)
    {
      s->interrupted = TRUE;
      g_free (s->heard);
      s->heard = g_strdup (heard_text ? heard_text : "");
      return;
    }

  if (self->last_reply != NULL && g_strcmp0 (self->last_reply_turn, turn_id) == 0)
    {
      lanlan_message_set_heard (self->last_reply, heard_text ? heard_text : "");
      lanlan_message_set_status (self->last_reply, LANLAN_MESSAGE_STATUS_INTERRUPTED);
      save (self, self->last_reply);
    }
}

static void
on_session_done (LanlanConversation *self,
                 const char         *role,
                 const char         *turn_id,
                 const char         *text)
{
  g_autofree char *key = turn_key (role, turn_id);
  Streaming *s = g_hash_table_lookup (self->streaming, key);
  g_autoptr(LanlanMessage) message = NULL;
  LanlanMessageRole r = role_from_name (role);

  if (s == NULL)
    {
      if (text == NULL || *text == '\0')
        return;
      message = lanlan_message_new (r, text);
      lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_SENT);
      append_message (self, message);
    }
  else
    {
      gboolean interrupted = s->interrupted;
      g_autofree char *heard = g_steal_pointer (&s->heard);

      message = g_object_ref (s->message);
      flush_one (s);
      g_hash_table_remove (self->streaming, key);
      if (text != NULL && *text != '\0')
        lanlan_message_set_text (message, text);
      if (interrupted)
        {
          lanlan_message_set_heard (message, heard);
          lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_INTERRUPTED);
        }
      else
        lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_SENT);
    }

  save (self, message);
  if (r == LANLAN_MESSAGE_ROLE_ASSISTANT)
    {
      g_set_object (&self->last_reply, message);
      g_free (self->last_reply_turn);
      self->last_reply_turn = g_strdup (turn_id);
      translate_message (self, message);
    }
}

static void
on_session_state (LanlanConversation *self,
                  LanlanSessionState  state)
{
  switch (state)
    {
    case LANLAN_SESSION_STATE_CONNECTED:
    case LANLAN_SESSION_STATE_RESPONDING:
      /* Back again: the "could not reach" error is over; so is a server
       * error that broke an answer off, once an answer comes again. */
      if (error_is_network (self) ||
          (state == LANLAN_SESSION_STATE_RESPONDING &&
           (error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_SERVER) ||
            error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_RATE_LIMITED))))
        set_error (self, NULL);
      break;
    case LANLAN_SESSION_STATE_IDLE:
    case LANLAN_SESSION_STATE_ENDED:
      self->session_started = FALSE;
      break;
    case LANLAN_SESSION_STATE_CONNECTING:
    case LANLAN_SESSION_STATE_RECONNECTING:
    default:
      break;
    }
  update_vision_live (self, state);

  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
}

static void
hide_swap_cb (gpointer user_data)
{
  LanlanConversation *self = user_data;

  self->swap_hide_source = 0;
  self->swap_status = LANLAN_SWAP_STATUS_NONE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SWAP_STATUS]);
}

static void
set_swap_status (LanlanConversation *self,
                 LanlanSwapStatus    status,
                 const char         *detail,
                 guint               hide_after_ms)
{
  g_clear_handle_id (&self->swap_hide_source, g_source_remove);
  g_clear_pointer (&self->swap_next_detail, g_free);
  if (status == LANLAN_SWAP_STATUS_PREPARING || status == LANLAN_SWAP_STATUS_READY)
    {
      if (self->swap_busy_since == 0)
        self->swap_busy_since = g_get_monotonic_time ();
    }
  else
    self->swap_busy_since = 0;
  if (g_strcmp0 (self->swap_detail, detail) != 0)
    {
      g_free (self->swap_detail);
      self->swap_detail = g_strdup (detail);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SWAP_DETAIL]);
    }
  if (self->swap_status != status)
    {
      self->swap_status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SWAP_STATUS]);
    }
  if (hide_after_ms > 0)
    self->swap_hide_source = g_timeout_add_once (hide_after_ms, hide_swap_cb, self);
}

static void
show_swap_outcome_cb (gpointer user_data)
{
  LanlanConversation *self = user_data;
  LanlanSwapStatus status = self->swap_next;
  g_autofree char *detail = g_steal_pointer (&self->swap_next_detail);

  self->swap_hide_source = 0;
  set_swap_status (self, status, detail,
                   status == LANLAN_SWAP_STATUS_SWAPPED ? SWAPPED_SHOWN_MS : FAILED_SHOWN_MS);
}

/* A swap may take a few milliseconds: its progress is shown for a
 * moment all the same, then the outcome. */
static void
set_swap_outcome (LanlanConversation *self,
                  LanlanSwapStatus    status,
                  const char         *detail)
{
  gint64 shown_ms = self->swap_busy_since == 0 ? BUSY_SHOWN_MS
                    : (g_get_monotonic_time () - self->swap_busy_since) / 1000;

  if (shown_ms >= BUSY_SHOWN_MS)
    {
      set_swap_status (self, status, detail,
                       status == LANLAN_SWAP_STATUS_SWAPPED ? SWAPPED_SHOWN_MS : FAILED_SHOWN_MS);
      return;
    }

  g_clear_handle_id (&self->swap_hide_source, g_source_remove);
  self->swap_next = status;
  g_free (self->swap_next_detail);
  self->swap_next_detail = g_strdup (detail);
  self->swap_hide_source = g_timeout_add_once (BUSY_SHOWN_MS - shown_ms, show_swap_outcome_cb, self);
}

static void
on_session_hot_swap (LanlanConversation *self,
                     LanlanHotSwapStage  stage,
                     const char         *detail)
{
  g_debug ("%s: hot swap stage %d (%s)", lanlan_character_get_name (self->character), stage,
           detail ? detail : "");
  switch (stage)
    {
    case LANLAN_HOT_SWAP_PREPARING:
      set_swap_status (self, LANLAN_SWAP_STATUS_PREPARING, NULL, 0);
      break;
    case LANLAN_HOT_SWAP_READY:
      set_swap_status (self, LANLAN_SWAP_STATUS_READY, NULL, 0);
      break;
    case LANLAN_HOT_SWAP_SWAPPED:
      set_swap_outcome (self, LANLAN_SWAP_STATUS_SWAPPED, NULL);
      /* A new provider may take another input rate: the microphone must
       * be resampled for the session now running. */
      if (self->capture != NULL &&
          lanlan_audio_capture_get_out_rate (self->capture) != lanlan_session_manager_get_input_rate (self->session))
        reopen_microphone (self);
      break;
    case LANLAN_HOT_SWAP_FAILED:
    default:
      {
        g_autofree char *msg = g_strdup_printf (_("Could not apply the changes: %s"),
                                                detail ? detail : _("unknown error"));
        set_swap_outcome (self, LANLAN_SWAP_STATUS_FAILED, detail);
        toast (self, msg);
      }
      break;
    }
}

static void
on_session_error (LanlanConversation *self,
                  GError             *error)
{
  if (error == NULL)
    return;
  set_error (self, error);
}

/* --- Audio ------------------------------------------------------------------ */

/* Where to play and record: through the app's echo canceller when it
 * runs, else the chosen device (an empty name is the system default). */
static const char *
audio_target (LanlanConversation *self,
              const char         *device,
              gboolean            is_source)
{
  if (self->echo_cancel != NULL)
    return is_source ? lanlan_echo_cancel_get_source_name (self->echo_cancel)
                     : lanlan_echo_cancel_get_sink_name (self->echo_cancel);

  return device != NULL && *device != '\0' ? device : NULL;
}

static void
on_capture (const gint16 *pcm,
            gsize         n_samples,
            gpointer      user_data)
{
  /* Capture worker thread: the session call is thread-safe and copies. */
  lanlan_session_manager_stream_audio (user_data, pcm, n_samples);
}

/* An RMS level, -60 dBFS … 0 dBFS onto 0 … 1. */
static double
meter_level (double rms)
{
  float dbfs = lanlan_audio_level_to_dbfs ((float) rms);

  return CLAMP ((dbfs + 60.0) / 60.0, 0.0, 1.0);
}

static void
set_output_level (LanlanConversation *self,
                  double              level)
{
  if (level == self->output_level)
    return;
  self->output_level = level;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTPUT_LEVEL]);
}

static gboolean
output_level_tick (gpointer user_data)
{
  LanlanConversation *self = user_data;

  set_output_level (self, meter_level (lanlan_audio_playback_get_level (self->playback)));
  return G_SOURCE_CONTINUE;
}

/* The speaker started or stopped: poll its level only while it plays
 * (it pauses itself a second after the last sample). */
static void
on_playback_running (LanlanConversation *self)
{
  if (self->playback != NULL && lanlan_audio_playback_get_running (self->playback))
    {
      if (self->output_level_source == 0)
        self->output_level_source = g_timeout_add (LEVEL_INTERVAL_MS, output_level_tick, self);
    }
  else
    {
      g_clear_handle_id (&self->output_level_source, g_source_remove);
      set_output_level (self, 0);
    }
}

/* Where the speaker plays: into the echo canceller while there is one,
 * else the chosen output device. Moved while it plays, nothing lost. */
static void
retarget_speaker (LanlanConversation *self)
{
  g_autofree char *output = NULL;

  if (self->playback == NULL)
    return;
  output = g_settings_get_string (self->settings, "output-device");
  lanlan_audio_playback_set_target (self->playback, audio_target (self, output, FALSE));
}

static void
on_output_device_changed (LanlanConversation *self)
{
  /* With the canceller on, its sink stays the target: the application
   * makes a canceller for the new device and hands it over
   * (lanlan_conversation_set_echo_cancel() moves the speaker then). */
  if (self->echo_cancel == NULL)
    retarget_speaker (self);
}

static gboolean
level_tick (gpointer user_data)
{
  LanlanConversation *self = user_data;
  double level = 0;

  if (self->capture != NULL)
    level = meter_level (lanlan_audio_capture_get_level (self->capture, NULL));

  if (level != self->input_level)
    {
      self->input_level = level;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INPUT_LEVEL]);
    }
  return G_SOURCE_CONTINUE;
}

/* The sound server went away or came back: say so while the speaker or
 * the microphone is out; the error ends once both work again (they
 * reconnect by themselves). */
static void
on_audio_available (LanlanConversation *self)
{
  g_autofree char *reason = NULL;
  g_autoptr(GError) error = NULL;

  if (self->playback != NULL && !lanlan_audio_playback_get_available (self->playback))
    reason = lanlan_audio_playback_dup_error (self->playback);
  else if (self->capture != NULL && !lanlan_audio_capture_get_available (self->capture))
    reason = lanlan_audio_capture_dup_error (self->capture);
  else
    {
      /* Sound is back: so is the reason a microphone was turned off. */
      if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_AUDIO) ||
          (!self->microphone_active &&
           error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE)))
        set_error (self, NULL);
      return;
    }

  error = g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_AUDIO,
                       _("No sound: %s. Voice comes back by itself when the sound server does."),
                       reason ? reason : _("unknown error"));
  set_error (self, error);
}

static void
update_level_source (LanlanConversation *self)
{
  gboolean capturing = self->microphone_active && self->capture != NULL &&
                       lanlan_audio_capture_is_running (self->capture);

  if (capturing && self->level_source == 0)
    self->level_source = g_timeout_add (LEVEL_INTERVAL_MS, level_tick, self);
  else if (!capturing)
    {
      g_clear_handle_id (&self->level_source, g_source_remove);
      if (self->input_level != 0)
        {
          self->input_level = 0;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INPUT_LEVEL]);
        }
    }
}

static void ensure_session (LanlanConversation *self);
static void on_audio_available (LanlanConversation *self);
static void push_history (LanlanConversation *self);
static void on_history_overflow (LanlanConversation *self, GPtrArray *messages);

/* The sound server went away under a microphone that was on: nothing
 * records, so it is off (the toggle shows it) and the error says why; the
 * user turns it on again. */
static void
on_capture_available (LanlanConversation *self)
{
  g_autofree char *reason = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->microphone_active || self->capture == NULL ||
      !lanlan_audio_capture_is_running (self->capture) ||
      lanlan_audio_capture_get_available (self->capture))
    return;

  reason = lanlan_audio_capture_dup_error (self->capture);
  lanlan_audio_capture_stop (self->capture);
  self->microphone_active = FALSE;
  update_vision_live (self, self->state);
  update_level_source (self);
  error = g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE,
                       _("The microphone stopped: %s"), reason ? reason : _("unknown error"));
  set_error (self, error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ACTIVE]);
}

/* Returns FALSE when the microphone could not be opened (the error
 * says why): it is not on, then. */
static gboolean
start_microphone (LanlanConversation *self)
{
  g_autoptr(GError) error = NULL;

  if (!self->has_api_key)
    {
      toast (self, _("Add an API key to talk with this character"));
      return TRUE;
    }

  ensure_session_started (self);

  if (self->capture == NULL)
    {
      g_autofree char *input = g_settings_get_string (self->settings, "input-device");

      self->capture = lanlan_audio_capture_new (audio_target (self, input, TRUE),
                                                lanlan_session_manager_get_input_rate (self->session),
                                                on_capture, g_object_ref (self->session),
                                                g_object_unref);
      g_signal_connect_object (self->capture, "notify::available",
                               G_CALLBACK (on_capture_available), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->capture, "notify::available",
                               G_CALLBACK (on_audio_available), self, G_CONNECT_SWAPPED);
    }

  if (!lanlan_audio_capture_start (self->capture, &error))
    {
      g_autoptr(GError) mic_error =
        g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE,
                     _("The microphone could not be opened: %s"), error->message);

      set_error (self, mic_error);
      return FALSE;
    }
  /* Started, but with no sound server to record from (it keeps trying):
   * nothing records, so the microphone is not on. */
  if (!lanlan_audio_capture_get_available (self->capture))
    {
      g_autofree char *reason = lanlan_audio_capture_dup_error (self->capture);
      g_autoptr(GError) mic_error = NULL;

      lanlan_audio_capture_stop (self->capture);
      mic_error = g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE,
                               _("The microphone could not be opened: %s"),
                               reason ? reason : _("unknown error"));
      set_error (self, mic_error);
      return FALSE;
    }
  if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE))
    set_error (self, NULL);
  return TRUE;
}

static void
stop_microphone (LanlanConversation *self)
{
  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MICROPHONE))
    set_error (self, NULL);
}

/* Drops the capture stream, so the next start opens it anew (new device,
 * new rate); a running one is opened again at once. */
static void
reopen_microphone (LanlanConversation *self)
{
  gboolean running = self->capture != NULL && lanlan_audio_capture_is_running (self->capture);

  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  g_clear_object (&self->capture);
  if (running && self->microphone_active && !start_microphone (self))
    {
      self->microphone_active = FALSE;
      update_vision_live (self, self->state);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ACTIVE]);
    }
  update_level_source (self);
}

gboolean
lanlan_conversation_get_microphone_active (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), FALSE);
  return self->microphone_active;
}

void
lanlan_conversation_set_microphone_active (LanlanConversation *self,
                                           gboolean            active)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  active = !!active;
  if (self->microphone_active == active)
    return;
  self->microphone_active = active;
  /* A microphone that could not be opened is off (the error says why),
   * and "microphone-active" says so to whoever turned it on. */
  if (active)
    self->microphone_active = start_microphone (self);
  else
    stop_microphone (self);
  update_vision_live (self, self->state);
  update_level_source (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ACTIVE]);
}

double
lanlan_conversation_get_input_level (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), 0);
  return self->input_level;
}

/* The canceller's nodes are there (or there is no canceller any more):
 * speaker and microphone go through it. */
static void
move_to_echo_cancel (LanlanConversation *self)
{
  g_clear_handle_id (&self->retarget_source, g_source_remove);
  retarget_speaker (self);
  if (self->capture != NULL)
    reopen_microphone (self);
}

static gboolean
retarget_later_cb (gpointer user_data)
{
  LanlanConversation *self = user_data;

  self->retarget_source = 0;
  move_to_echo_cancel (self);
  return G_SOURCE_REMOVE;
}

static void
on_echo_cancel_ready (LanlanConversation *self)
{
  if (self->echo_cancel != NULL && !lanlan_echo_cancel_get_ready (self->echo_cancel))
    return;   /* gone, with PipeWire: they come back together */
  if (self->echo_cancel == NULL && self->playback != NULL)
    {
      /* The canceller is going: its nodes leave the graph a moment
       * after it is dropped. A stream linked anew before the session
       * manager has seen them go can be left unlinked (WirePlumber
       * 0.4 waits for a link to the vanished sink to activate), so the
       * speaker and microphone move once the removal has settled. */
      g_clear_handle_id (&self->retarget_source, g_source_remove);
      self->retarget_source = g_timeout_add (300, retarget_later_cb, self);
      return;
    }
  move_to_echo_cancel (self);
}

/**
 * lanlan_conversation_set_echo_cancel:
 * @echo_cancel: (nullable): the app's echo canceller
 *
 * Plays and records through @echo_cancel from now on (with %NULL,
 * straight to and from the chosen devices): the speaker moves at once,
 * also in the middle of an answer, without losing what is queued, and
 * the microphone is opened again.
 */
void
lanlan_conversation_set_echo_cancel (LanlanConversation *self,
                                     LanlanEchoCancel   *echo_cancel)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  if (self->echo_cancel == echo_cancel)
    return;
  if (self->echo_cancel != NULL)
    g_signal_handlers_disconnect_by_func (self->echo_cancel, on_echo_cancel_ready, self);
  /* The old canceller (its module unloads with the last reference)
   * goes first, so its sink, named as the new one's, is gone when the
   * speaker links anew. */
  g_set_object (&self->echo_cancel, echo_cancel);
  if (echo_cancel != NULL)
    g_signal_connect_object (echo_cancel, "notify::ready",
                             G_CALLBACK (on_echo_cancel_ready), self, G_CONNECT_SWAPPED);
  /* A new canceller's nodes take a moment to appear: a stream made
   * before would be linked elsewhere (and stay there), so the speaker
   * and the microphone move once they are listed. */
  if (echo_cancel == NULL || lanlan_echo_cancel_get_ready (echo_cancel))
    on_echo_cancel_ready (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ECHO_CANCEL]);
}

/**
 * lanlan_conversation_get_output_level:
 *
 * Returns: the #LanlanConversation:output-level property
 */
double
lanlan_conversation_get_output_level (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), 0);
  return self->output_level;
}

/* --- Memory ----------------------------------------------------------------- */

/* Hands the session what new sessions are primed with: the stored
 * summary of older turns and the finished messages after it. */
static void
push_history (LanlanConversation *self)
{
  g_autoptr(GPtrArray) history = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *upto = NULL;
  guint n, from = 0;

  if (self->session == NULL)
    return;

  /* A summary still being made counts what the old state held. */
  self->memory_generation++;
  g_clear_handle_id (&self->memory_retry, g_source_remove);
  self->memory_retry_delay = 0;
  g_ptr_array_set_size (self->history_ids, 0);
  g_ptr_array_set_size (self->overflow, 0);
  self->overflow_skipped = 0;
  self->n_summarized = 0;
  if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MEMORY))
    set_error (self, NULL);
  if (self->store != NULL && self->id != NULL)
    summary = lanlan_store_dup_summary (self->store, self->id, &upto);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  if (upto != NULL)
    for (guint i = n; i > 0; i--)
      {
        g_autoptr(LanlanMessage) m = g_list_model_get_item (G_LIST_MODEL (self->messages), i - 1);

        if (g_strcmp0 (lanlan_message_get_id (m), upto) == 0)
          {
            from = i;
            break;
          }
      }

  history = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  for (guint i = from; i < n; i++)
    {
      g_autoptr(LanlanMessage) m = g_list_model_get_item (G_LIST_MODEL (self->messages), i);
      LanlanMessageStatus status = lanlan_message_get_status (m);
      const char *text = lanlan_message_get_text (m);

      /* What the model said and the user heard; not what never went. */
      if (status == LANLAN_MESSAGE_STATUS_INTERRUPTED)
        text = lanlan_message_get_heard (m);
      else if (status != LANLAN_MESSAGE_STATUS_SENT)
        continue;
      if (text == NULL || *text == '\0')
        continue;
      g_ptr_array_add (history, lanlan_chat_message_new (lanlan_message_get_role_name (m), text));
      g_ptr_array_add (self->history_ids, g_strdup (lanlan_message_get_id (m)));
    }

  lanlan_session_manager_set_history (self->session, history, summary);
}

static void summarize_next (LanlanConversation *self);

/* A refused summary is tried again on its own after 5 s, then 10, 20…
 * up to 5 minutes (N.E.K.O retries 1, 2, 4 s, then gives the memo up),
 * and at once with the next overflow. */
#define MEMORY_RETRY_FIRST_S 5
#define MEMORY_RETRY_MAX_S   300

static gboolean
memory_retry_cb (gpointer data)
{
  LanlanConversation *self = data;

  self->memory_retry = 0;
  summarize_next (self);
  return G_SOURCE_REMOVE;
}

/* What waits for a summary is kept while the service refuses, up to what
 * the summarizer reads anyway (it keeps the newest 48 KiB); older ones
 * are counted as covered, so the summary's bookmark still moves past
 * them. They stay in the store and on screen. */
#define OVERFLOW_MAX_MESSAGES 400
#define OVERFLOW_MAX_BYTES    (64 * 1024)

/* The user's and the character's messages among @messages[from, from +
 * n): what history_ids counts. The session's history also holds
 * "system" entries (context in text mode) that the transcript does not. */
static guint
count_turns (GPtrArray *messages,
             guint      from,
             guint      n)
{
  guint turns = 0;

  for (guint i = from; i < from + n && i < messages->len; i++)
    if (g_strcmp0 (((LanlanChatMessage *) g_ptr_array_index (messages, i))->role, "system") != 0)
      turns++;
  return turns;
}

static void
bound_overflow (LanlanConversation *self)
{
  gsize bytes = 0;
  guint keep = 0;

  for (guint i = self->overflow->len; i > 0; i--)
    {
      LanlanChatMessage *m = g_ptr_array_index (self->overflow, i - 1);

      bytes += m->content != NULL ? strlen (m->content) : 0;
      if (keep > 0 && (keep >= OVERFLOW_MAX_MESSAGES || bytes > OVERFLOW_MAX_BYTES))
        break;
      keep++;
    }
  if (keep < self->overflow->len)
    {
      guint drop = self->overflow->len - keep;

      self->overflow_skipped += count_turns (self->overflow, 0, drop);
      g_ptr_array_remove_range (self->overflow, 0, drop);
    }
}

typedef struct {
  LanlanConversation *self;
  char               *conversation_id;
  guint               generation;
  GPtrArray          *batch;       /* LanlanChatMessage, oldest first */
  guint               n_skipped;   /* older ones, dropped unread */
} SummaryData;

static void
summary_data_free (SummaryData *data)
{
  g_clear_object (&data->self);
  g_free (data->conversation_id);
  g_clear_pointer (&data->batch, g_ptr_array_unref);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SummaryData, summary_data_free)

static void
on_summarized (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(SummaryData) data = user_data;
  LanlanConversation *self = data->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = lanlan_summarizer_summarize_finish (LANLAN_SUMMARIZER (source), result, &error);

  self->summarizing = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  /* Another conversation is shown now, or the same one was primed
   * afresh (which hands out what is left to summarize again): this
   * summary's count is of no use. */
  if (data->generation != self->memory_generation || g_strcmp0 (data->conversation_id, self->id) != 0)
    {
      summarize_next (self);
      return;
    }

  if (summary == NULL)
    {
      g_autoptr(GError) memory = NULL;
      GPtrArray *waiting = self->overflow;

      /* Nothing is lost: the turns stay in the store and on screen, new
       * sessions are primed with the newest of them, and this batch goes
       * again, first, with what overflows next. */
      self->overflow = g_steal_pointer (&data->batch);
      g_ptr_array_extend_and_steal (self->overflow, waiting);
      self->overflow_skipped += data->n_skipped;
      bound_overflow (self);

      g_message ("%s: older turns could not be summarized: %s",
                 lanlan_character_get_name (self->character), error->message);
      memory = g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MEMORY,
                            _("Older messages could not be summarized for %s’s memory: %s. "
                              "They are kept and will be summarized later."),
                            lanlan_character_get_name (self->character), error->message);
      if (self->memory_retry == 0)
        {
          self->memory_retry_delay = self->memory_retry_delay == 0 ? MEMORY_RETRY_FIRST_S
                                     : MIN (self->memory_retry_delay * 2, MEMORY_RETRY_MAX_S);
          self->memory_retry = g_timeout_add_seconds (self->memory_retry_delay, memory_retry_cb, self);
          g_source_set_name_by_id (self->memory_retry, "[lanlan] summary retry");
        }
      /* A session's own error (no network, a refused key) says more and
       * has its way out: it is not covered up. */
      if (self->error == NULL || error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MEMORY))
        set_error (self, memory);
      return;
    }
  else
    {
      const char *upto = NULL;

      self->n_summarized += data->n_skipped + count_turns (data->batch, 0, data->batch->len);
      if (self->n_summarized > 0 && self->n_summarized <= self->history_ids->len)
        upto = g_ptr_array_index (self->history_ids, self->n_summarized - 1);
      if (self->store != NULL && self->id != NULL)
        lanlan_store_set_summary (self->store, self->id, summary, upto);
      if (self->session != NULL)
        lanlan_session_manager_set_summary (self->session, summary);
      g_clear_handle_id (&self->memory_retry, g_source_remove);
      self->memory_retry_delay = 0;
      if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_MEMORY))
        set_error (self, NULL);
    }

  summarize_next (self);
}

/* Folds what overflowed into the summary, one summary at a time, made by
 * the character's own model. */
static void
summarize_next (LanlanConversation *self)
{
  g_autofree char *previous = NULL;
  SummaryData *data;

  if (self->summarizing || self->overflow->len == 0 || self->store == NULL || self->id == NULL)
    return;

  data = g_new0 (SummaryData, 1);
  data->self = g_object_ref (self);
  data->conversation_id = g_strdup (self->id);
  data->generation = self->memory_generation;
  data->batch = g_steal_pointer (&self->overflow);
  data->n_skipped = self->overflow_skipped;
  self->overflow = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  self->overflow_skipped = 0;
  previous = lanlan_store_dup_summary (self->store, self->id, NULL);
  if (self->summarizer == NULL)
    self->summarizer = lanlan_summarizer_new (self->character);

  self->summarizing = TRUE;
  lanlan_summarizer_summarize_async (self->summarizer, previous, data->batch, self->cancellable,
                                     on_summarized, data);
}

/* Older turns fell out of the priming budget. They stay in the store and
 * on screen; the session is primed with a summary of them instead. */
static void
on_history_overflow (LanlanConversation *self,
                     GPtrArray          *messages)
{
  for (guint i = 0; messages != NULL && i < messages->len; i++)
    g_ptr_array_add (self->overflow, lanlan_chat_message_copy (g_ptr_array_index (messages, i)));
  bound_overflow (self);
  summarize_next (self);
}

/* --- Session ---------------------------------------------------------------- */

static void
push_hot_swap_settings (LanlanConversation *self)
{
  if (self->session == NULL)
    return;
  lanlan_session_manager_set_hot_swap_turns (self->session,
                                             g_settings_get_uint (self->settings, "hot-swap-turns"));
  lanlan_session_manager_set_hot_swap_seconds (self->session,
                                               g_settings_get_uint (self->settings, "hot-swap-seconds"));
}

static void
on_agent_notification (LanlanAgentLink    *link,
                       const char         *text,
                       gboolean            is_error,
                       LanlanConversation *self)
{
  g_signal_emit (self, signals[AGENT_NOTIFICATION], 0, text, is_error);
}

/* The agent's words for the character, said as they are: the
 * character's own message, shown and stored, not spoken. */
static void
on_agent_direct_reply (LanlanAgentLink    *link,
                       const char         *text,
                       LanlanConversation *self)
{
  g_autoptr(LanlanMessage) message = lanlan_message_new (LANLAN_MESSAGE_ROLE_ASSISTANT, text);

  lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_SENT);
  append_message (self, message);
  save (self, message);
}

static void
update_agent_link (LanlanConversation *self)
{
  if (self->agent_link != NULL)
    g_signal_handlers_disconnect_by_data (self->agent_link, self);
  g_clear_object (&self->agent_link);

  if (self->agent_bridge != NULL)
    {
      ensure_session (self);
      self->agent_link = lanlan_agent_link_new (self->agent_bridge, self->session,
                                                G_LIST_MODEL (self->messages));
      lanlan_agent_link_set_conversation_id (self->agent_link, self->id);
      g_signal_connect (self->agent_link, "notification", G_CALLBACK (on_agent_notification), self);
      g_signal_connect (self->agent_link, "direct-reply", G_CALLBACK (on_agent_direct_reply), self);
    }
}

/* The session and its speaker, made with the conversation (through the
 * echo canceller given at construction, when there is one). */
static void
ensure_session (LanlanConversation *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  if (self->session != NULL)
    return;

  output = g_settings_get_string (self->settings, "output-device");
  self->playback = lanlan_audio_playback_new (audio_target (self, output, FALSE), 2, &error);
  if (self->playback == NULL)
    g_message ("No speaker for %s: %s", lanlan_character_get_name (self->character), error->message);
  else
    {
      g_signal_connect_object (self->playback, "notify::available",
                               G_CALLBACK (on_audio_available), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->playback, "notify::running",
                               G_CALLBACK (on_playback_running), self, G_CONNECT_SWAPPED);
    }

  self->session = lanlan_session_manager_new (self->character,
                                              self->playback ? LANLAN_AUDIO_SINK (self->playback) : NULL);
  g_signal_connect_object (self->session, "state-changed",
                           G_CALLBACK (on_session_state), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "transcript-delta",
                           G_CALLBACK (on_session_delta), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "transcript-done",
                           G_CALLBACK (on_session_done), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "text-sent",
                           G_CALLBACK (on_text_sent), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "text-failed",
                           G_CALLBACK (on_text_failed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "interrupted",
                           G_CALLBACK (on_interrupted), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "history-overflow",
                           G_CALLBACK (on_history_overflow), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "hot-swap",
                           G_CALLBACK (on_session_hot_swap), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "error",
                           G_CALLBACK (on_session_error), self, G_CONNECT_SWAPPED);
  push_hot_swap_settings (self);
  push_history (self);
  on_audio_available (self);

  self->vision = lanlan_vision_link_new (self->session);
  g_signal_connect_object (self->vision, "error",
                           G_CALLBACK (on_vision_error), self, G_CONNECT_SWAPPED);
}

static void
ensure_session_started (LanlanConversation *self)
{
  ensure_session (self);
  if (self->session_started)
    return;

  self->session_started = TRUE;
  lanlan_session_manager_start_session (self->session);
}

/**
 * lanlan_conversation_set_agent_bridge:
 * @bridge: (nullable): the agent bridge, or %NULL when it is off
 *
 * Registers the character with @bridge (and leaves the previous one).
 */
void
lanlan_conversation_set_agent_bridge (LanlanConversation *self,
                                      LanlanAgentBridge  *bridge)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));
  g_return_if_fail (bridge == NULL || LANLAN_IS_AGENT_BRIDGE (bridge));

  g_set_object (&self->agent_bridge, bridge);
  update_agent_link (self);
}

static void
send_message (LanlanConversation *self,
              LanlanMessage      *message)
{
  if (!self->has_api_key)
    {
      lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_FAILED);
      save (self, message);
      toast (self, _("Not sent: add an API key to talk with this character"));
      return;
    }

  ensure_session_started (self);
  lanlan_session_manager_send_text (self->session, lanlan_message_get_id (message),
                                    lanlan_message_get_text (message));
}

/**
 * lanlan_conversation_send_text:
 *
 * Adds what the user typed to the transcript (PENDING) and sends it; it
 * becomes SENT once the session took it, FAILED when it could not go.
 *
 * Returns: (transfer none): the user's message
 */
LanlanMessage *
lanlan_conversation_send_text (LanlanConversation *self,
                               const char         *text)
{
  g_autoptr(LanlanMessage) message = NULL;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  message = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, text);
  append_message (self, message);
  send_message (self, message);
  return message;
}

/**
 * lanlan_conversation_send_image:
 * @jpeg: the picture (see lanlan_vision_link_image_to_jpeg())
 * @text: (nullable): what the user typed with it
 *
 * Adds the user's message with its picture to the transcript, shows the
 * picture to the character (in its provider's shape, or described for a
 * model without eyes) and sends the text, if any.
 *
 * Returns: (transfer none): the user's message
 */
LanlanMessage *
lanlan_conversation_send_image (LanlanConversation *self,
                                GBytes             *jpeg,
                                const char         *text)
{
  g_autoptr(LanlanMessage) message = NULL;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (jpeg != NULL, NULL);

  message = lanlan_message_new (LANLAN_MESSAGE_ROLE_USER, text ? text : "");
  lanlan_message_set_image (message, jpeg);
  append_message (self, message);
  if (!self->has_api_key)
    {
      send_message (self, message);   /* marks it failed, and says why */
      return message;
    }
  ensure_session_started (self);
  lanlan_vision_link_show_image (self->vision, jpeg);
  if (text != NULL && *text != '\0')
    send_message (self, message);
  else
    {
      lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_SENT);
      save (self, message);
    }
  return message;
}

/**
 * lanlan_conversation_get_vision:
 *
 * What the user shows the character: screen and camera sharing.
 *
 * Returns: (transfer none): the conversation's vision link
 */
LanlanVisionLink *
lanlan_conversation_get_vision (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);

  ensure_session (self);
  return self->vision;
}

/**
 * lanlan_conversation_resend:
 *
 * Sends a FAILED user message again, in its place.
 */
void
lanlan_conversation_resend (LanlanConversation *self,
                            LanlanMessage      *message)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));
  g_return_if_fail (LANLAN_IS_MESSAGE (message));

  if (lanlan_message_get_role (message) != LANLAN_MESSAGE_ROLE_USER ||
      lanlan_message_get_status (message) != LANLAN_MESSAGE_STATUS_FAILED)
    return;

  lanlan_message_set_status (message, LANLAN_MESSAGE_STATUS_PENDING);
  send_message (self, message);
}

void
lanlan_conversation_reconnect (LanlanConversation *self)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  ensure_session (self);
  set_error (self, NULL);
  lanlan_session_manager_end_session (self->session);
  self->session_started = FALSE;
  ensure_session_started (self);
}

/**
 * lanlan_conversation_end:
 *
 * Ends the session and closes the microphone; what is stored stays, and
 * the next message starts a new session.
 */
void
lanlan_conversation_end (LanlanConversation *self)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  lanlan_conversation_set_microphone_active (self, FALSE);
  if (self->session != NULL)
    lanlan_session_manager_end_session (self->session);
  self->session_started = FALSE;
}

/* --- API key ---------------------------------------------------------------- */

/* A typing-only character on a local server (Ollama, llama.cpp, LM
 * Studio, any loopback address) talks without a key. */
static gboolean
character_needs_key (LanlanCharacter *c)
{
  const LanlanChatPreset *preset;
  g_autofree char *url = NULL;

  if (lanlan_character_get_input_mode (c) != LANLAN_INPUT_MODE_TEXT)
    return TRUE;
  preset = lanlan_chat_preset_for_provider (lanlan_character_get_provider (c));
  if (preset == NULL)
    return TRUE;
  url = lanlan_chat_preset_resolve_url (preset, lanlan_character_get_base_url (c), NULL);
  return url == NULL || lanlan_chat_preset_needs_key (preset, url);
}

static void
on_key_lookup (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(LanlanConversation) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, &error);
  gboolean has_key = (key != NULL && *key != '\0') || !character_needs_key (self->character);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (key != NULL)
        memset (key, 0, strlen (key));
      return;
    }

  rebuild_translator (self, key);
  if (key != NULL)
    memset (key, 0, strlen (key));

  if (error != NULL)
    {
      g_autoptr(GError) keyring =
        g_error_new (LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_NO_KEY,
                     _("The keyring could not be read: %s"), error->message);
      set_error (self, keyring);
    }
  else if (error_is (self, LANLAN_CONVERSATION_ERROR, LANLAN_CONVERSATION_ERROR_NO_KEY))
    set_error (self, NULL);

  if (has_key)
    {
      /* A new key ends a refused one's error. */
      if (error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH))
        set_error (self, NULL);
      if (self->session != NULL)
        lanlan_session_manager_set_api_key (self->session, NULL);  /* look it up again */
    }

  self->has_api_key = has_key;
  /* Always: the first answer matters even when it says what was assumed. */
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_API_KEY]);
}

/**
 * lanlan_conversation_recheck_api_key:
 *
 * Looks the key of the character's provider up again in the keyring.
 */
void
lanlan_conversation_recheck_api_key (LanlanConversation *self)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  lanlan_secrets_lookup_async (lanlan_character_get_provider (self->character),
                               self->cancellable, on_key_lookup, g_object_ref (self));
}

gboolean
lanlan_conversation_get_has_api_key (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), FALSE);
  return self->has_api_key;
}

/* --- History ---------------------------------------------------------------- */

static void
clear_transcript (LanlanConversation *self)
{
  g_clear_handle_id (&self->flush_source, g_source_remove);
  g_hash_table_remove_all (self->streaming);
  g_clear_object (&self->last_reply);
  g_clear_pointer (&self->last_reply_turn, g_free);
  g_clear_object (&self->greeting);
  g_clear_object (&self->greeting);
  g_list_store_remove_all (self->messages);
}

static void
set_id (LanlanConversation *self,
        const char         *id)
{
  g_free (self->id);
  self->id = g_strdup (id);
  if (self->agent_link != NULL)
    lanlan_agent_link_set_conversation_id (self->agent_link, id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
}

/**
 * lanlan_conversation_start_new:
 *
 * Ends the running session and starts an empty conversation; the one
 * before stays in the store.
 */
void
lanlan_conversation_start_new (LanlanConversation *self)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));

  if (self->session != NULL)
    lanlan_session_manager_end_session (self->session);
  self->session_started = FALSE;
  clear_transcript (self);
  set_id (self, NULL);
  add_greeting (self);
  push_history (self);
}

/**
 * lanlan_conversation_open:
 * @conversation_id: a conversation of this character in the store
 *
 * Shows a stored conversation, which goes on from there.
 */
gboolean
lanlan_conversation_open (LanlanConversation  *self,
                          const char          *conversation_id,
                          GError             **error)
{
  g_autoptr(GPtrArray) loaded = NULL;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (conversation_id != NULL, FALSE);

  if (self->store == NULL)
    {
      g_set_error (error, LANLAN_STORE_ERROR, LANLAN_STORE_ERROR_NOT_FOUND,
                   _("No conversation store is open"));
      return FALSE;
    }
  if (g_strcmp0 (self->id, conversation_id) == 0)
    return TRUE;

  loaded = lanlan_store_load_messages (self->store, conversation_id, error);
  if (loaded == NULL)
    return FALSE;

  if (self->session != NULL)
    lanlan_session_manager_end_session (self->session);
  self->session_started = FALSE;
  clear_transcript (self);
  g_list_store_splice (self->messages, 0, 0, loaded->pdata, loaded->len);
  set_id (self, conversation_id);
  push_history (self);
  return TRUE;
}

/* --- GObject ------------------------------------------------------------------ */

static void
on_character_changed (LanlanConversation *self)
{
  /* An edited character may fix what the service refused. */
  if (error_is (self, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG))
    set_error (self, NULL);
}

static void
lanlan_conversation_constructed (GObject *object)
{
  LanlanConversation *self = (LanlanConversation *)object;

  G_OBJECT_CLASS (lanlan_conversation_parent_class)->constructed (object);

  g_assert (self->character != NULL);

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_object (self->settings, "changed::input-device",
                           G_CALLBACK (reopen_microphone), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::output-device",
                           G_CALLBACK (on_output_device_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::hot-swap-turns",
                           G_CALLBACK (push_hot_swap_settings), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::hot-swap-seconds",
                           G_CALLBACK (push_hot_swap_settings), self, G_CONNECT_SWAPPED);
  /* The translator is rebuilt once the key is looked up again. */
  g_signal_connect_object (self->settings, "changed::translate-url",
                           G_CALLBACK (lanlan_conversation_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::user-language",
                           G_CALLBACK (lanlan_conversation_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::base-url",
                           G_CALLBACK (lanlan_conversation_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::provider",
                           G_CALLBACK (lanlan_conversation_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::input-mode",
                           G_CALLBACK (lanlan_conversation_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::serial",
                           G_CALLBACK (on_character_changed), self, G_CONNECT_SWAPPED);

  /* Opening a character shows its latest conversation. */
  if (self->store != NULL)
    {
      g_signal_connect_object (self->store, "damaged",
                               G_CALLBACK (on_store_damaged), self, G_CONNECT_SWAPPED);
      g_autofree char *latest =
        lanlan_store_dup_latest_conversation (self->store, lanlan_character_get_id (self->character));
      g_autoptr(GError) error = NULL;

      if (latest != NULL && !lanlan_conversation_open (self, latest, &error))
        g_warning ("Could not load the conversation of %s: %s",
                   lanlan_character_get_name (self->character), error->message);
    }

  add_greeting (self);
  ensure_session (self);
  lanlan_conversation_recheck_api_key (self);
}

static void
lanlan_conversation_dispose (GObject *object)
{
  LanlanConversation *self = (LanlanConversation *)object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->flush_source, g_source_remove);
  g_clear_handle_id (&self->level_source, g_source_remove);
  g_clear_handle_id (&self->retarget_source, g_source_remove);
  g_clear_handle_id (&self->output_level_source, g_source_remove);
  g_clear_handle_id (&self->swap_hide_source, g_source_remove);
  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  g_clear_object (&self->capture);
  if (self->agent_link != NULL)
    g_signal_handlers_disconnect_by_data (self->agent_link, self);
  g_clear_object (&self->agent_link);
  g_clear_object (&self->agent_bridge);
  g_clear_object (&self->vision);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      lanlan_session_manager_end_session (self->session);
    }
  g_clear_object (&self->session);
  g_clear_object (&self->playback);
  g_clear_object (&self->echo_cancel);
  g_clear_object (&self->translator);
  g_clear_object (&self->summarizer);
  g_clear_handle_id (&self->memory_retry, g_source_remove);
  g_clear_object (&self->settings);
  if (self->streaming != NULL)
    g_hash_table_remove_all (self->streaming);
  g_clear_object (&self->last_reply);
  g_clear_pointer (&self->last_reply_turn, g_free);

  G_OBJECT_CLASS (lanlan_conversation_parent_class)->dispose (object);
}

static void
lanlan_conversation_finalize (GObject *object)
{
  LanlanConversation *self = (LanlanConversation *)object;

  g_clear_pointer (&self->streaming, g_hash_table_unref);
  g_clear_pointer (&self->history_ids, g_ptr_array_unref);
  g_clear_pointer (&self->overflow, g_ptr_array_unref);
  g_clear_object (&self->messages);
  g_clear_object (&self->character);
  g_clear_object (&self->store);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->swap_detail, g_free);
  g_clear_pointer (&self->swap_next_detail, g_free);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (lanlan_conversation_parent_class)->finalize (object);
}

static void
lanlan_conversation_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  LanlanConversation *self = LANLAN_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_MESSAGES:
      g_value_set_object (value, self->messages);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_SWAP_STATUS:
      g_value_set_enum (value, self->swap_status);
      break;
    case PROP_SWAP_DETAIL:
      g_value_set_string (value, self->swap_detail);
      break;
    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;
    case PROP_HAS_API_KEY:
      g_value_set_boolean (value, self->has_api_key);
      break;
    case PROP_INPUT_LEVEL:
      g_value_set_double (value, self->input_level);
      break;
    case PROP_OUTPUT_LEVEL:
      g_value_set_double (value, self->output_level);
      break;
    case PROP_MICROPHONE_ACTIVE:
      g_value_set_boolean (value, self->microphone_active);
      break;
    case PROP_ECHO_CANCEL:
      g_value_set_object (value, self->echo_cancel);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_conversation_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  LanlanConversation *self = LANLAN_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      self->character = g_value_dup_object (value);
      break;
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    case PROP_MICROPHONE_ACTIVE:
      lanlan_conversation_set_microphone_active (self, g_value_get_boolean (value));
      break;
    case PROP_ECHO_CANCEL:
      lanlan_conversation_set_echo_cancel (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_conversation_class_init (LanlanConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = lanlan_conversation_constructed;
  object_class->dispose = lanlan_conversation_dispose;
  object_class->finalize = lanlan_conversation_finalize;
  object_class->get_property = lanlan_conversation_get_property;
  object_class->set_property = lanlan_conversation_set_property;

  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, LANLAN_TYPE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MESSAGES] =
    g_param_spec_object ("messages", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, LANLAN_TYPE_SESSION_STATE, LANLAN_SESSION_STATE_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SWAP_STATUS] =
    g_param_spec_enum ("swap-status", NULL, NULL, LANLAN_TYPE_SWAP_STATUS, LANLAN_SWAP_STATUS_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SWAP_DETAIL] =
    g_param_spec_string ("swap-detail", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HAS_API_KEY] =
    g_param_spec_boolean ("has-api-key", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_INPUT_LEVEL] =
    g_param_spec_double ("input-level", NULL, NULL, 0, 1, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * LanlanConversation:output-level:
   *
   * How loud the character's voice plays now, 0 to 1 (-60 dBFS to full
   * scale, as "input-level"); for the avatar. Measured only while the
   * speaker plays, so an idle conversation never notifies it.
   */
  properties[PROP_OUTPUT_LEVEL] =
    g_param_spec_double ("output-level", NULL, NULL, 0, 1, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE_ACTIVE] =
    g_param_spec_boolean ("microphone-active", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ECHO_CANCEL] =
    g_param_spec_object ("echo-cancel", NULL, NULL, LANLAN_TYPE_ECHO_CANCEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[TOAST] =
    g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[AGENT_NOTIFICATION] =
    g_signal_new ("agent-notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
lanlan_conversation_init (LanlanConversation *self)
{
  self->messages = g_list_store_new (LANLAN_TYPE_MESSAGE);
  self->history_ids = g_ptr_array_new_with_free_func (g_free);
  self->overflow = g_ptr_array_new_with_free_func ((GDestroyNotify) lanlan_chat_message_free);
  self->streaming = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, streaming_free);
  self->cancellable = g_cancellable_new ();
  self->has_api_key = TRUE;
  self->state = LANLAN_SESSION_STATE_IDLE;
}

/**
 * lanlan_conversation_new:
 * @store: (nullable): where messages are kept; %NULL keeps them in memory
 *
 * Returns: (transfer full): @character's conversation, showing its
 *   latest stored one
 */
LanlanConversation *
lanlan_conversation_new (LanlanCharacter *character,
                         LanlanStore     *store)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);
  g_return_val_if_fail (store == NULL || LANLAN_IS_STORE (store), NULL);

  return g_object_new (LANLAN_TYPE_CONVERSATION,
                       "character", character,
                       "store", store,
                       NULL);
}

LanlanCharacter *
lanlan_conversation_get_character (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return self->character;
}

LanlanStore *
lanlan_conversation_get_store (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return self->store;
}

/**
 * lanlan_conversation_get_id:
 *
 * Returns: (nullable): the store's id of the conversation shown, %NULL
 *   until its first message is saved
 */
const char *
lanlan_conversation_get_id (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return self->id;
}

GListModel *
lanlan_conversation_get_messages (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return G_LIST_MODEL (self->messages);
}

/**
 * lanlan_conversation_lookup_message:
 *
 * Returns: (nullable) (transfer none): the message with @message_id
 */
LanlanMessage *
lanlan_conversation_lookup_message (LanlanConversation *self,
                                    const char         *message_id)
{
  guint n;

  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  for (guint i = n; i > 0; i--)
    {
      LanlanMessage *m = g_list_model_get_item (G_LIST_MODEL (self->messages), i - 1);

      g_object_unref (m);   /* the store keeps it */
      if (g_strcmp0 (lanlan_message_get_id (m), message_id) == 0)
        return m;
    }
  return NULL;
}

LanlanSessionState
lanlan_conversation_get_state (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), LANLAN_SESSION_STATE_IDLE);
  return self->state;
}

LanlanSwapStatus
lanlan_conversation_get_swap_status (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), LANLAN_SWAP_STATUS_NONE);
  return self->swap_status;
}

const char *
lanlan_conversation_get_swap_detail (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return self->swap_detail;
}

/**
 * lanlan_conversation_get_error:
 *
 * Returns: (nullable): what stops the conversation now (a refused key,
 *   an unreachable service, a broken character, a closed microphone);
 *   %NULL once that is over or dismissed
 */
const GError *
lanlan_conversation_get_error (LanlanConversation *self)
{
  g_return_val_if_fail (LANLAN_IS_CONVERSATION (self), NULL);
  return self->error;
}

void
lanlan_conversation_dismiss_error (LanlanConversation *self)
{
  g_return_if_fail (LANLAN_IS_CONVERSATION (self));
  set_error (self, NULL);
}
