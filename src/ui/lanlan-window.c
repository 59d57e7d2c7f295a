/* lanlan-window.c — one character's conversation window
 *
 * A header bar with the microphone toggle, its level meter, the session
 * status as subtitle and a hot-swap indicator; banners for errors and for
 * onboarding (no API key yet); the transcript of bubbles, where a
 * character's reply grows delta by delta; and the text composer. All of it
 * is touched only from the main thread.
 *
 * When the user's language (GSettings user-language, else the desktop's)
 * is not the character's, each finished message of the character is
 * translated (the translate-url service first, then the character's own
 * model through chat completions) and shown small under the original.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-audio-capture.h"
#include "lanlan-audio-playback.h"
#include "lanlan-libretranslate-provider.h"
#include "lanlan-llm-translation-provider.h"
#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"
#include "lanlan-secrets.h"
#include "lanlan-session-manager.h"
#include "lanlan-translator.h"
#include "lanlan-agent-link.h"
#include "lanlan-window.h"

#define LEVEL_INTERVAL_MS 33

struct _LanlanWindow
{
  AdwApplicationWindow  parent_instance;

  LanlanCharacter      *character;

  AdwToastOverlay      *toast_overlay;
  AdwWindowTitle       *window_title;
  GtkToggleButton      *mic_button;
  GtkScrolledWindow    *scroller;
  GtkBox               *transcript_box;
  GtkEntry             *entry;
  GtkLevelBar          *level_bar;
  GtkBox               *swap_box;
  GtkSpinner           *swap_spinner;
  GtkLabel             *swap_label;
  GtkRevealer          *error_revealer;
  GtkLabel             *error_label;
  GtkButton            *error_button;
  GtkRevealer          *onboarding_revealer;
  GtkLabel             *onboarding_label;
  /* the error banner shows a lost connection, to hide once back */
  gboolean              connection_error_shown;
  gboolean              audio_error_shown;

  /* "role:turn_id" -> GtkLabel of a bubble still being streamed */
  GHashTable           *streaming;

  LanlanLevelFunc       level_func;
  gpointer              level_data;
  GDestroyNotify        level_destroy;
  guint                 level_source;

  guint                 swap_hide_source;
  guint                 scroll_source;
  GCancellable         *cancellable;
  gboolean              has_api_key;

  LanlanSessionManager *session;
  LanlanAudioPlayback  *playback;
  LanlanAudioCapture   *capture;
  gboolean              session_started;

  GSettings            *settings;
  LanlanAgentLink      *agent_link;

  LanlanTranslator     *translator;
};

G_DEFINE_FINAL_TYPE (LanlanWindow, lanlan_window, ADW_TYPE_APPLICATION_WINDOW)

static void reopen_microphone (LanlanWindow *self);
static void on_agent_notification (LanlanAgentLink *link,
                                   const char      *text,
                                   gboolean         is_error,
                                   LanlanWindow    *self);

enum {
  PROP_0,
  PROP_CHARACTER,
  PROP_MICROPHONE_ACTIVE,
  PROP_HAS_API_KEY,
  N_PROPS
};

enum {
  SEND_TEXT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void ensure_session_started (LanlanWindow *self);

static void
update_title (LanlanWindow *self)
{
  const char *name = lanlan_character_get_name (self->character);

  adw_window_title_set_title (self->window_title, name);
  gtk_window_set_title (GTK_WINDOW (self), name);
}

static void
scroll_to_end (gpointer user_data)
{
  LanlanWindow *self = user_data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);

  self->scroll_source = 0;
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
}

static void
queue_scroll_to_end (LanlanWindow *self)
{
  if (self->scroll_source == 0)
    self->scroll_source = g_idle_add_once (scroll_to_end, self);
}

/* A bubble is a GtkBox drawn as the bubble ("bubble-box"), holding the
 * message label (the widget callers get, with the "bubble" class) and,
 * once a translation arrives, a smaller dim label under it. */
static GtkWidget *
make_bubble (LanlanWindow *self,
             LanlanRole    role,
             const char   *text)
{
  static const char * const role_classes[] = { "user", "character", "system" };
  GtkWidget *box;
  GtkWidget *label;
  const char *speaker;

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_add_css_class (box, "bubble-box");
  gtk_widget_add_css_class (box, role_classes[role]);
  gtk_widget_set_halign (box,
                         role == LANLAN_ROLE_USER ? GTK_ALIGN_END :
                         role == LANLAN_ROLE_CHARACTER ? GTK_ALIGN_START : GTK_ALIGN_CENTER);
  gtk_widget_set_margin_start (box, role == LANLAN_ROLE_USER ? 48 : 0);
  gtk_widget_set_margin_end (box, role == LANLAN_ROLE_CHARACTER ? 48 : 0);

  label = gtk_label_new (text);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "bubble");
  gtk_widget_add_css_class (label, role_classes[role]);

  /* Who said it, for screen readers (and the UI tests). */
  speaker = role == LANLAN_ROLE_USER ? _("You") :
            role == LANLAN_ROLE_CHARACTER ? lanlan_character_get_name (self->character) :
            _("Notice");
  gtk_accessible_update_property (GTK_ACCESSIBLE (label),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, speaker, -1);

  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (self->transcript_box, box);
  queue_scroll_to_end (self);
  return label;
}

GtkWidget *
lanlan_window_append_message (LanlanWindow *self,
                              LanlanRole    role,
                              const char   *text)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  g_return_val_if_fail (role <= LANLAN_ROLE_SYSTEM, NULL);

  return make_bubble (self, role, text);
}

/* --- Translation ------------------------------------------------------------ */

/**
 * lanlan_window_dup_user_language:
 *
 * Returns: the user's language: GSettings user-language, or else the
 *   desktop locale's (normalized, e.g. "en", "zh-hans")
 */
char *
lanlan_window_dup_user_language (LanlanWindow *self)
{
  g_autofree char *setting = NULL;
  const char * const *names;

  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);

  if (self->settings != NULL)
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

/* Where the character's provider answers chat completions, and with which
 * model: the services have a known endpoint; a custom server is asked at
 * its realtime address, made http(s) and without the /realtime part. */
static void
chat_endpoint (LanlanCharacter  *character,
               char            **base_url,
               char            **model)
{
  static const struct { const char *id, *url, *model; } known[] = {
    { "openai", "https://api.openai.com/v1", "gpt-4o-mini" },
    { "qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus" },
    { "glm", "https://open.bigmodel.cn/api/paas/v4", "glm-4-flash" },
    { "stepfun", "https://api.stepfun.com/v1", "step-1-8k" },
  };
  const char *provider = lanlan_character_get_provider (character);
  const char *url = lanlan_character_get_base_url (character);
  const char *char_model = lanlan_character_get_model (character);
  g_autofree char *http = NULL;
  char *end;

  *base_url = NULL;
  *model = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_ascii_strcasecmp (provider, known[i].id) == 0 && (url == NULL || *url == '\0'))
      {
        *base_url = g_strdup (known[i].url);
        *model = g_strdup (known[i].model);
        return;
      }

  if (url == NULL || *url == '\0')
    return;

  if (g_str_has_prefix (url, "wss://"))
    http = g_strconcat ("https://", url + 6, NULL);
  else if (g_str_has_prefix (url, "ws://"))
    http = g_strconcat ("http://", url + 5, NULL);
  else
    http = g_strdup (url);
  http[strcspn (http, "?#")] = '\0';
  end = http + strlen (http);
  while (end > http && end[-1] == '/')
    *--end = '\0';
  if (g_str_has_suffix (http, "/realtime"))
    http[strlen (http) - strlen ("/realtime")] = '\0';

  *base_url = g_steal_pointer (&http);
  *model = g_strdup (char_model != NULL && *char_model != '\0' &&
                     !strstr (char_model, "realtime") ? char_model : "gpt-4o-mini");
}

/* Builds the provider chain; @api_key is the character's provider key. */
static void
rebuild_translator (LanlanWindow *self,
                    const char   *api_key)
{
  g_autofree char *url = NULL;
  g_autofree char *chat_url = NULL;
  g_autofree char *chat_model = NULL;

  if (self->translator == NULL)
    self->translator = lanlan_translator_new ();
  lanlan_translator_clear_providers (self->translator);
  lanlan_translator_clear_cache (self->translator);

  url = self->settings ? g_settings_get_string (self->settings, "translate-url") : g_strdup ("");
  g_strstrip (url);
  if (*url != '\0')
    {
      g_autoptr(LanlanLibretranslateProvider) libre = lanlan_libretranslate_provider_new (url, NULL);

      lanlan_translator_add_provider (self->translator, LANLAN_TRANSLATION_PROVIDER (libre));
    }

  chat_endpoint (self->character, &chat_url, &chat_model);
  if (chat_url != NULL && api_key != NULL && *api_key != '\0')
    {
      g_autoptr(LanlanLlmTranslationProvider) llm =
        lanlan_llm_translation_provider_new (chat_url, api_key, chat_model);

      lanlan_translator_add_provider (self->translator, LANLAN_TRANSLATION_PROVIDER (llm));
    }
}

typedef struct {
  LanlanWindow *self;
  GtkLabel     *label;
} TranslateData;

static void
on_translated (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  TranslateData *data = user_data;
  g_autoptr(LanlanWindow) self = data->self;
  g_autoptr(GtkLabel) label = data->label;
  g_autoptr(GError) error = NULL;
  g_autofree char *provider = NULL;
  g_autofree char *text = NULL;
  GtkWidget *box = gtk_widget_get_parent (GTK_WIDGET (label));
  GtkWidget *translation;

  g_free (data);
  text = lanlan_translator_translate_finish (LANLAN_TRANSLATOR (source), result, &provider, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || box == NULL)
    return;

  if (text == NULL)
    {
      g_autofree char *tip = g_strdup_printf (_("Not translated: %s"), error->message);

      /* Quietly: the original stays as it is. The tooltip goes on the
       * bubble, not the label, whose accessible description (who spoke)
       * a tooltip would replace. */
      g_message ("Translation failed: %s", error->message);
      gtk_widget_set_tooltip_text (box, tip);
      return;
    }

  translation = gtk_label_new (g_strstrip (text));
  gtk_label_set_wrap (GTK_LABEL (translation), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (translation), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (translation), TRUE);
  gtk_label_set_xalign (GTK_LABEL (translation), 0);
  gtk_widget_add_css_class (translation, "translation");
  gtk_widget_set_tooltip_text (translation, _("Translation"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (translation),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _("Translation"), -1);
  gtk_box_append (GTK_BOX (box), translation);
  queue_scroll_to_end (self);
}

/* Translates a finished bubble of the character when the languages differ. */
static void
translate_bubble (LanlanWindow *self,
                  GtkLabel     *label)
{
  const char *from = lanlan_character_get_language (self->character);
  g_autofree char *to = NULL;
  TranslateData *data;

  if (from == NULL || *from == '\0' || self->translator == NULL ||
      lanlan_translator_get_n_providers (self->translator) == 0)
    return;

  to = lanlan_window_dup_user_language (self);
  if (lanlan_translator_same_language (from, to))
    return;

  data = g_new0 (TranslateData, 1);
  data->self = g_object_ref (self);
  data->label = g_object_ref (label);
  lanlan_translator_translate_async (self->translator, gtk_label_get_text (label), from, to,
                                     self->cancellable, on_translated, data);
}

static char *
turn_key (LanlanRole  role,
          const char *turn_id)
{
  return g_strdup_printf ("%d:%s", role, turn_id ? turn_id : "");
}

/**
 * lanlan_window_transcript_delta:
 * @turn_id: identifies the bubble; deltas with the same role and turn
 *   grow the same bubble
 *
 * Appends @delta to the bubble of (@role, @turn_id), creating it first.
 */
void
lanlan_window_transcript_delta (LanlanWindow *self,
                                LanlanRole    role,
                                const char   *turn_id,
                                const char   *delta)
{
  g_autofree char *key = NULL;
  GtkLabel *label;

  g_return_if_fail (LANLAN_IS_WINDOW (self));
  g_return_if_fail (role <= LANLAN_ROLE_SYSTEM);

  if (delta == NULL || *delta == '\0')
    return;

  key = turn_key (role, turn_id);
  label = g_hash_table_lookup (self->streaming, key);
  if (label == NULL)
    {
      label = GTK_LABEL (make_bubble (self, role, delta));
      gtk_widget_add_css_class (GTK_WIDGET (label), "streaming");
      g_hash_table_insert (self->streaming, g_steal_pointer (&key), label);
    }
  else
    {
      g_autofree char *text = g_strconcat (gtk_label_get_text (label), delta, NULL);
      gtk_label_set_text (label, text);
      queue_scroll_to_end (self);
    }
}

/**
 * lanlan_window_transcript_done:
 * @text: (nullable): the final text, which replaces the streamed one
 *
 * Finalizes the bubble of (@role, @turn_id); creates it when no delta came.
 */
void
lanlan_window_transcript_done (LanlanWindow *self,
                               LanlanRole    role,
                               const char   *turn_id,
                               const char   *text)
{
  g_autofree char *key = NULL;
  GtkLabel *label;

  g_return_if_fail (LANLAN_IS_WINDOW (self));
  g_return_if_fail (role <= LANLAN_ROLE_SYSTEM);

  key = turn_key (role, turn_id);
  label = g_hash_table_lookup (self->streaming, key);
  if (label == NULL)
    {
      if (text != NULL && *text != '\0')
        {
          label = GTK_LABEL (make_bubble (self, role, text));
          if (role == LANLAN_ROLE_CHARACTER)
            translate_bubble (self, label);
        }
      return;
    }

  if (text != NULL && *text != '\0')
    gtk_label_set_text (label, text);
  gtk_widget_remove_css_class (GTK_WIDGET (label), "streaming");
  g_hash_table_remove (self->streaming, key);
  if (role == LANLAN_ROLE_CHARACTER)
    translate_bubble (self, label);
}

void
lanlan_window_set_status (LanlanWindow *self,
                          const char   *status)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));
  adw_window_title_set_subtitle (self->window_title, status ? status : "");
}

const char *
lanlan_window_get_status (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  return adw_window_title_get_subtitle (self->window_title);
}

static void
hide_swap_cb (gpointer user_data)
{
  LanlanWindow *self = user_data;

  self->swap_hide_source = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->swap_box), FALSE);
}

/**
 * lanlan_window_set_swap_status:
 * @text: (nullable): what the hot swap is doing; %NULL hides the indicator
 * @busy: show a spinner
 * @hide_after_ms: when not 0, hide the indicator after this delay
 *
 * The small indicator in the header bar that follows a settings hot swap.
 */
void
lanlan_window_set_swap_status (LanlanWindow *self,
                               const char   *text,
                               gboolean      busy,
                               guint         hide_after_ms)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  g_clear_handle_id (&self->swap_hide_source, g_source_remove);
  gtk_label_set_text (self->swap_label, text ? text : "");
  gtk_spinner_set_spinning (self->swap_spinner, busy);
  gtk_widget_set_visible (GTK_WIDGET (self->swap_spinner), busy);
  gtk_widget_set_visible (GTK_WIDGET (self->swap_box), text != NULL);

  if (text != NULL && hide_after_ms > 0)
    self->swap_hide_source = g_timeout_add_once (hide_after_ms, hide_swap_cb, self);
}

static void
on_banner_child_revealed (GtkRevealer *revealer)
{
  /* Hidden banners leave the accessibility tree, not just the screen. */
  if (!gtk_revealer_get_reveal_child (revealer) && !gtk_revealer_get_child_revealed (revealer))
    gtk_widget_set_visible (GTK_WIDGET (revealer), FALSE);
}

static void
set_banner_revealed (GtkRevealer *revealer,
                     gboolean     revealed)
{
  if (revealed)
    gtk_widget_set_visible (GTK_WIDGET (revealer), TRUE);
  gtk_revealer_set_reveal_child (revealer, revealed);
  if (!revealed && !gtk_widget_get_mapped (GTK_WIDGET (revealer)))
    gtk_widget_set_visible (GTK_WIDGET (revealer), FALSE);
}

/**
 * lanlan_window_show_error:
 * @message: (nullable): user-facing text; %NULL hides the banner
 * @button_label: (nullable): a button in the banner
 * @action_name: (nullable): the action that button activates
 *
 * Shows a dismissable banner above the transcript: a damaged config, a
 * refused key, a network failure.
 */
void
lanlan_window_show_error (LanlanWindow *self,
                          const char   *message,
                          const char   *button_label,
                          const char   *action_name)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  self->connection_error_shown = FALSE;
  self->audio_error_shown = FALSE;
  if (message == NULL)
    {
      set_banner_revealed (self->error_revealer, FALSE);
      return;
    }

  gtk_label_set_text (self->error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_button), button_label != NULL);
  if (button_label != NULL)
    {
      gtk_button_set_label (self->error_button, button_label);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->error_button), action_name);
    }
  set_banner_revealed (self->error_revealer, TRUE);
}

const char *
lanlan_window_get_error (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);

  if (!gtk_revealer_get_reveal_child (self->error_revealer))
    return NULL;
  return gtk_label_get_text (self->error_label);
}

static void
dismiss_error_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  lanlan_window_show_error (LANLAN_WINDOW (widget), NULL, NULL, NULL);
}

static gboolean
level_tick (gpointer user_data)
{
  LanlanWindow *self = user_data;
  double level = 0;

  if (self->level_func != NULL)
    level = self->level_func (self->level_data);

  gtk_level_bar_set_value (self->level_bar, CLAMP (level, 0.0, 1.0));
  return G_SOURCE_CONTINUE;
}

static void
update_level_meter (LanlanWindow *self)
{
  gboolean active = gtk_toggle_button_get_active (self->mic_button) && self->level_func != NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->level_bar), active);
  if (active && self->level_source == 0)
    self->level_source = g_timeout_add (LEVEL_INTERVAL_MS, level_tick, self);
  else if (!active)
    {
      g_clear_handle_id (&self->level_source, g_source_remove);
      gtk_level_bar_set_value (self->level_bar, 0);
    }
}

/**
 * lanlan_window_set_level_func:
 * @func: (nullable): returns the microphone level, 0…1; called on the
 *   main thread about 30 times a second while the microphone is on
 *
 * Feeds the level meter next to the microphone toggle.
 */
void
lanlan_window_set_level_func (LanlanWindow    *self,
                              LanlanLevelFunc  func,
                              gpointer         user_data,
                              GDestroyNotify   destroy)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  if (self->level_destroy != NULL)
    self->level_destroy (self->level_data);

  self->level_func = func;
  self->level_data = user_data;
  self->level_destroy = destroy;
  update_level_meter (self);
}

gboolean
lanlan_window_get_has_api_key (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), FALSE);
  return self->has_api_key;
}

static void
on_key_lookup (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(LanlanWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, &error);
  const LanlanProvider *provider;
  const char *provider_id;
  gboolean has_key = key != NULL && *key != '\0';

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->character == NULL)
    {
      if (key != NULL)
        memset (key, 0, strlen (key));
      return;
    }

  rebuild_translator (self, key);
  if (key != NULL)
    memset (key, 0, strlen (key));

  provider_id = lanlan_character_get_provider (self->character);
  provider = lanlan_provider_lookup (provider_id);

  if (error != NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("The keyring could not be read: %s"), error->message);
      gtk_label_set_text (self->onboarding_label, msg);
    }
  else
    {
      g_autofree char *msg =
        g_strdup_printf (_("No API key is set for %s. Add one to start talking with %s."),
                         provider ? _(provider->display_name) : provider_id,
                         lanlan_character_get_name (self->character));
      gtk_label_set_text (self->onboarding_label, msg);
    }

  set_banner_revealed (self->onboarding_revealer, !has_key);
  if (self->session != NULL && has_key && !self->has_api_key)
    lanlan_session_manager_set_api_key (self->session, NULL);  /* look it up again */
  if (self->has_api_key != has_key)
    {
      self->has_api_key = has_key;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_API_KEY]);
    }
}

/**
 * lanlan_window_recheck_api_key:
 *
 * Looks the key of the character's provider up again in the keyring, and
 * shows or hides the onboarding banner.
 */
void
lanlan_window_recheck_api_key (LanlanWindow *self)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));

  lanlan_secrets_lookup_async (lanlan_character_get_provider (self->character),
                               self->cancellable, on_key_lookup, g_object_ref (self));
}

void
lanlan_window_show_toast (LanlanWindow *self,
                          const char   *message)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

/* Where to play and record: through the app's echo canceller when it
 * runs, else the chosen device (an empty name is the system default).
 * Asked of the app singleton, as a window is built before it knows its
 * application. */
static const char *
audio_target (const char *device,
              gboolean    is_source)
{
  GApplication *app = g_application_get_default ();
  LanlanEchoCancel *ec = LANLAN_IS_APPLICATION (app)
                         ? lanlan_application_get_echo_cancel (LANLAN_APPLICATION (app)) : NULL;

  if (ec != NULL)
    return is_source ? lanlan_echo_cancel_get_source_name (ec) : lanlan_echo_cancel_get_sink_name (ec);

  return device != NULL && *device != '\0' ? device : NULL;
}

/* --- Session wiring -------------------------------------------------------- */

static LanlanRole
role_from_string (const char *role)
{
  if (g_strcmp0 (role, "user") == 0)
    return LANLAN_ROLE_USER;
  if (g_strcmp0 (role, "assistant") == 0)
    return LANLAN_ROLE_CHARACTER;
  return LANLAN_ROLE_SYSTEM;
}

static void
on_session_state (LanlanWindow *self)
{
  const char *status;

  switch (lanlan_session_manager_get_state (self->session))
    {
    case LANLAN_SESSION_STATE_CONNECTING: status = _("Connecting…"); break;
    case LANLAN_SESSION_STATE_CONNECTED:
    case LANLAN_SESSION_STATE_RESPONDING:
      status = lanlan_session_manager_get_state (self->session) == LANLAN_SESSION_STATE_CONNECTED ?
               _("Connected") : _("Speaking…");
      /* Back again: the "could not reach" banner is out of date. */
      if (self->connection_error_shown)
        lanlan_window_show_error (self, NULL, NULL, NULL);
      break;
    case LANLAN_SESSION_STATE_RECONNECTING: status = _("Reconnecting…"); break;
    case LANLAN_SESSION_STATE_ERROR: status = _("Connection failed"); break;
    case LANLAN_SESSION_STATE_IDLE:
    case LANLAN_SESSION_STATE_ENDED:
    default:
      status = _("Not connected");
      self->session_started = FALSE;
      break;
    }

  lanlan_window_set_status (self, status);
}

static void
on_session_delta (LanlanWindow *self,
                  const char   *role,
                  const char   *turn_id,
                  const char   *delta)
{
  lanlan_window_transcript_delta (self, role_from_string (role), turn_id, delta);
}

static void
on_session_done (LanlanWindow *self,
                 const char   *role,
                 const char   *turn_id,
                 const char   *text)
{
  lanlan_window_transcript_done (self, role_from_string (role), turn_id, text);
}

static void
on_session_hot_swap (LanlanWindow       *self,
                     LanlanHotSwapStage  stage,
                     const char         *detail)
{
  switch (stage)
    {
    case LANLAN_HOT_SWAP_PREPARING:
      lanlan_window_set_swap_status (self, _("Applying changes…"), TRUE, 0);
      break;
    case LANLAN_HOT_SWAP_READY:
      lanlan_window_set_swap_status (self, _("Switching at the end of this turn…"), TRUE, 0);
      break;
    case LANLAN_HOT_SWAP_SWAPPED:
      lanlan_window_set_swap_status (self, _("Changes applied"), FALSE, 3000);
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
        lanlan_window_set_swap_status (self, _("Changes not applied"), FALSE, 6000);
        lanlan_window_show_toast (self, msg);
      }
      break;
    }
}

static void
on_session_error (LanlanWindow *self,
                  GError       *error)
{
  if (error == NULL)
    return;

  /* The session's messages are whole sentences already ("The service
   * refused the API key (HTTP 401)", "Could not connect to the service:
   * …"); the banner adds the way out. */
  if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH))
    lanlan_window_show_error (self, error->message, _("Change Key…"), "app.api-keys");
  else if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_NETWORK) ||
           g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_TIMEOUT))
    {
      lanlan_window_show_error (self, error->message, _("Retry"), "win.reconnect");
      self->connection_error_shown = TRUE;
    }
  else if (g_error_matches (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG))
    lanlan_window_show_error (self, error->message, _("Edit Character…"), "win.edit-character");
  else
    lanlan_window_show_error (self, error->message, NULL, NULL);
}

static void
ensure_session_started (LanlanWindow *self)
{
  if (self->session == NULL || self->session_started)
    return;

  self->session_started = TRUE;
  lanlan_session_manager_start_session (self->session);
}

static void
reconnect_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  if (self->session == NULL)
    return;

  lanlan_window_show_error (self, NULL, NULL, NULL);
  lanlan_session_manager_end_session (self->session);
  self->session_started = FALSE;
  ensure_session_started (self);
}

static void
edit_character_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  gtk_widget_activate_action (widget, "app.edit-character", "s",
                              lanlan_character_get_id (self->character));
}

/* PipeWire went away or came back: say so while the speaker or the
 * microphone is out, and take the banner down once both work again
 * (they reconnect by themselves). */
static void
on_audio_available (LanlanWindow *self)
{
  g_autofree char *reason = NULL;

  if (self->playback != NULL && !lanlan_audio_playback_get_available (self->playback))
    reason = lanlan_audio_playback_dup_error (self->playback);
  else if (self->capture != NULL && !lanlan_audio_capture_get_available (self->capture))
    reason = lanlan_audio_capture_dup_error (self->capture);
  else
    {
      if (self->audio_error_shown)
        lanlan_window_show_error (self, NULL, NULL, NULL);
      return;
    }

  {
    g_autofree char *msg = g_strdup_printf (_("No sound: %s. Voice comes back by itself when the sound server does."),
                                            reason ? reason : _("unknown error"));

    lanlan_window_show_error (self, msg, NULL, NULL);
    self->audio_error_shown = TRUE;
  }
}

static void
on_capture (const gint16 *pcm,
            gsize         n_samples,
            gpointer      user_data)
{
  /* Capture worker thread: the session call is thread-safe and copies. */
  lanlan_session_manager_stream_audio (user_data, pcm, n_samples);
}

static double
capture_level (gpointer user_data)
{
  LanlanWindow *self = user_data;
  float dbfs;

  if (self->capture == NULL)
    return 0;

  /* -60 dBFS … 0 dBFS onto the meter. */
  dbfs = lanlan_audio_level_to_dbfs (lanlan_audio_capture_get_level (self->capture, NULL));
  return CLAMP ((dbfs + 60.0) / 60.0, 0.0, 1.0);
}

static void
start_microphone (LanlanWindow *self)
{
  g_autoptr(GError) error = NULL;

  if (self->session == NULL)
    return;

  if (!self->has_api_key)
    {
      lanlan_window_show_toast (self, _("Add an API key to talk with this character"));
      return;
    }

  ensure_session_started (self);

  if (self->capture == NULL)
    {
      g_autofree char *input = g_settings_get_string (self->settings, "input-device");

      self->capture = lanlan_audio_capture_new (audio_target (input, TRUE),
                                              lanlan_session_manager_get_input_rate (self->session),
                                                on_capture, g_object_ref (self->session),
                                                g_object_unref);
      g_signal_connect_object (self->capture, "notify::available",
                               G_CALLBACK (on_audio_available), self, G_CONNECT_SWAPPED);
    }

  if (!lanlan_audio_capture_start (self->capture, &error))
    {
      g_autofree char *msg = g_strdup_printf (_("The microphone could not be opened: %s"),
                                              error->message);
      lanlan_window_show_error (self, msg, NULL, NULL);
      self->audio_error_shown = TRUE;
      return;
    }

  lanlan_window_set_level_func (self, capture_level, self, NULL);
}

static void
stop_microphone (LanlanWindow *self)
{
  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  lanlan_window_set_level_func (self, NULL, NULL, NULL);
}

/* Drops the capture stream, so the next start opens it anew (new device,
 * new rate); a running one is opened again at once. */
static void
reopen_microphone (LanlanWindow *self)
{
  gboolean running = self->capture != NULL && lanlan_audio_capture_is_running (self->capture);

  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  g_clear_object (&self->capture);
  if (running && gtk_toggle_button_get_active (self->mic_button))
    start_microphone (self);
}

static void
on_input_device_changed (LanlanWindow *self)
{
  reopen_microphone (self);
}

static void
on_hot_swap_setting_changed (LanlanWindow *self)
{
  lanlan_session_manager_set_hot_swap_turns (self->session,
                                             g_settings_get_uint (self->settings, "hot-swap-turns"));
  lanlan_session_manager_set_hot_swap_seconds (self->session,
                                               g_settings_get_uint (self->settings, "hot-swap-seconds"));
}

static void
setup_session (LanlanWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  self->settings = g_settings_new (APP_ID);
  output = g_settings_get_string (self->settings, "output-device");
  self->playback = lanlan_audio_playback_new (audio_target (output, FALSE), 2, &error);
  if (self->playback == NULL)
    g_message ("No speaker for %s: %s", lanlan_character_get_name (self->character), error->message);
  else
    g_signal_connect_object (self->playback, "notify::available",
                             G_CALLBACK (on_audio_available), self, G_CONNECT_SWAPPED);

  self->session = lanlan_session_manager_new (self->character,
                                              self->playback ? LANLAN_AUDIO_SINK (self->playback) : NULL);
  g_signal_connect_object (self->session, "notify::state",
                           G_CALLBACK (on_session_state), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "transcript-delta",
                           G_CALLBACK (on_session_delta), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "transcript-done",
                           G_CALLBACK (on_session_done), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "hot-swap",
                           G_CALLBACK (on_session_hot_swap), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "error",
                           G_CALLBACK (on_session_error), self, G_CONNECT_SWAPPED);
  lanlan_session_manager_set_hot_swap_turns (self->session,
                                             g_settings_get_uint (self->settings, "hot-swap-turns"));
  lanlan_session_manager_set_hot_swap_seconds (self->session,
                                               g_settings_get_uint (self->settings, "hot-swap-seconds"));

  g_signal_connect_object (self->settings, "changed::input-device",
                           G_CALLBACK (on_input_device_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::hot-swap-turns",
                           G_CALLBACK (on_hot_swap_setting_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::hot-swap-seconds",
                           G_CALLBACK (on_hot_swap_setting_changed), self, G_CONNECT_SWAPPED);
  /* The translator is rebuilt once the key is looked up again. */
  g_signal_connect_object (self->settings, "changed::translate-url",
                           G_CALLBACK (lanlan_window_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::user-language",
                           G_CALLBACK (lanlan_window_recheck_api_key), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::base-url",
                           G_CALLBACK (lanlan_window_recheck_api_key), self, G_CONNECT_SWAPPED);}

/**
 * lanlan_window_set_agent_bridge:
 * @bridge: (nullable): the agent bridge, or %NULL when it is off
 *
 * Registers the character with @bridge (and leaves the previous one).
 */
void
lanlan_window_set_agent_bridge (LanlanWindow      *self,
                                LanlanAgentBridge *bridge)
{
  g_return_if_fail (LANLAN_IS_WINDOW (self));
  g_return_if_fail (bridge == NULL || LANLAN_IS_AGENT_BRIDGE (bridge));

  if (self->agent_link != NULL)
    g_signal_handlers_disconnect_by_data (self->agent_link, self);
  g_clear_object (&self->agent_link);

  if (bridge != NULL && self->session != NULL)
    {
      self->agent_link = lanlan_agent_link_new (bridge, self->session);
      g_signal_connect (self->agent_link, "notification", G_CALLBACK (on_agent_notification), self);
    }
}

/* --- Agent ----------------------------------------------------------------- */

/* What the agent wants the user to see: a toast in this window, and a
 * desktop notification too when the window is not the one in front. */
static void
on_agent_notification (LanlanAgentLink *link,
                       const char      *text,
                       gboolean         is_error,
                       LanlanWindow    *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

  lanlan_window_show_toast (self, text);

  if (app != NULL && !gtk_window_is_active (GTK_WINDOW (self)))
    {
      g_autoptr(GNotification) notification = g_notification_new (lanlan_character_get_name (self->character));
      g_autofree char *id = g_strdup_printf ("agent-%s", lanlan_character_get_id (self->character));

      g_notification_set_body (notification, text);
      if (is_error)
        g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
      g_notification_set_default_action_and_target (notification, "app.open-character", "s",
                                                    lanlan_character_get_id (self->character));
      g_application_send_notification (app, id, notification);
    }
}

static void
on_entry_activate (LanlanWindow *self)
{
  g_autofree char *text = NULL;
  gboolean handled = FALSE;

  text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->entry))));
  if (*text == '\0')
    return;

  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  g_signal_emit (self, signals[SEND_TEXT], 0, text, &handled);
  if (handled)
    {
      lanlan_window_append_message (self, LANLAN_ROLE_USER, text);
      return;
    }

  if (self->session != NULL && self->has_api_key)
    {
      /* The session echoes the text back as a finished user turn. */
      ensure_session_started (self);
      lanlan_session_manager_stream_text (self->session, text);
      return;
    }

  lanlan_window_append_message (self, LANLAN_ROLE_USER, text);
  if (self->session != NULL && !self->has_api_key)
    lanlan_window_show_toast (self, _("Not sent: add an API key to talk with this character"));
}

static void
toggle_microphone_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  LanlanWindow *self = LANLAN_WINDOW (widget);

  gtk_toggle_button_set_active (self->mic_button,
                                !gtk_toggle_button_get_active (self->mic_button));
}

static void
on_mic_toggled (LanlanWindow *self)
{
  gboolean active = gtk_toggle_button_get_active (self->mic_button);

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->mic_button),
                               active ? _("Mute Microphone") : _("Unmute Microphone"));
  if (active)
    start_microphone (self);
  else
    stop_microphone (self);
  update_level_meter (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ACTIVE]);
}

gboolean
lanlan_window_get_microphone_active (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), FALSE);
  return gtk_toggle_button_get_active (self->mic_button);
}

static void
lanlan_window_constructed (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;

  G_OBJECT_CLASS (lanlan_window_parent_class)->constructed (object);

  g_signal_connect_object (self->character, "notify::name",
                           G_CALLBACK (update_title), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->character, "notify::provider",
                           G_CALLBACK (lanlan_window_recheck_api_key), self, G_CONNECT_SWAPPED);
  update_title (self);
  setup_session (self);
  lanlan_window_recheck_api_key (self);
}

static void
lanlan_window_dispose (GObject *object)
{
  LanlanWindow *self = (LanlanWindow *)object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->capture != NULL)
    lanlan_audio_capture_stop (self->capture);
  g_clear_object (&self->capture);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      lanlan_session_manager_end_session (self->session);
    }
  g_clear_object (&self->session);
  g_clear_object (&self->playback);
  if (self->agent_link != NULL)
    g_signal_handlers_disconnect_by_data (self->agent_link, self);
  g_clear_object (&self->agent_link);
  g_clear_object (&self->settings);
  g_clear_object (&self->translator);
  g_clear_handle_id (&self->level_source, g_source_remove);
  g_clear_handle_id (&self->swap_hide_source, g_source_remove);
  g_clear_handle_id (&self->scroll_source, g_source_remove);
  if (self->level_destroy != NULL)
    self->level_destroy (self->level_data);
  self->level_func = NULL;
  self->level_destroy = NULL;
  g_clear_pointer (&self->streaming, g_hash_table_unref);

  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_WINDOW);
  g_clear_object (&self->character);

  G_OBJECT_CLASS (lanlan_window_parent_class)->dispose (object);
}

static void
lanlan_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LanlanWindow *self = LANLAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    case PROP_MICROPHONE_ACTIVE:
      g_value_set_boolean (value, lanlan_window_get_microphone_active (self));
      break;
    case PROP_HAS_API_KEY:
      g_value_set_boolean (value, self->has_api_key);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  LanlanWindow *self = LANLAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CHARACTER:
      self->character = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_window_class_init (LanlanWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = lanlan_window_constructed;
  object_class->dispose = lanlan_window_dispose;
  object_class->get_property = lanlan_window_get_property;
  object_class->set_property = lanlan_window_set_property;

  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE_ACTIVE] =
    g_param_spec_boolean ("microphone-active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_HAS_API_KEY] =
    g_param_spec_boolean ("has-api-key", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LanlanWindow::send-text:
   * @text: what the user typed
   *
   * Emitted when the user sends a message. Returns %TRUE when handled.
   */
  signals[SEND_TEXT] =
    g_signal_new ("send-text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/lanlan-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, mic_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, scroller);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, transcript_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, entry);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, level_bar);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_box);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_spinner);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, swap_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, error_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, onboarding_revealer);
  gtk_widget_class_bind_template_child (widget_class, LanlanWindow, onboarding_label);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_mic_toggled);

  gtk_widget_class_install_action (widget_class, "win.toggle-microphone", NULL,
                                   toggle_microphone_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-error", NULL,
                                   dismiss_error_action);
  gtk_widget_class_install_action (widget_class, "win.reconnect", NULL, reconnect_action);
  gtk_widget_class_install_action (widget_class, "win.edit-character", NULL,
                                   edit_character_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.toggle-microphone", NULL);
}

static void
lanlan_window_init (LanlanWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect (self->error_revealer, "notify::child-revealed",
                    G_CALLBACK (on_banner_child_revealed), NULL);
  g_signal_connect (self->onboarding_revealer, "notify::child-revealed",
                    G_CALLBACK (on_banner_child_revealed), NULL);

  self->streaming = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
}

LanlanWindow *
lanlan_window_new (GtkApplication  *application,
                   LanlanCharacter *character)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (LANLAN_IS_CHARACTER (character), NULL);

  return g_object_new (LANLAN_TYPE_WINDOW,
                       "application", application,
                       "character", character,
                       NULL);
}

LanlanCharacter *
lanlan_window_get_character (LanlanWindow *self)
{
  g_return_val_if_fail (LANLAN_IS_WINDOW (self), NULL);
  return self->character;
}
