/* lanlan-character-editor.c — the form that adds or edits one character
 *
 * Shown as a subpage of the preferences window. Nothing is changed until
 * Save: then all fields are applied to the character at once (with
 * notifications frozen, so a running session sees one change and hot-swaps
 * once), or, for a new character, it is added to the store and its window
 * opens. Back with unsaved changes asks before discarding them; Delete
 * asks for confirmation first.
 *
 * The picture (any image the pixbuf loaders read, kept as a PNG of at most
 * 1024 px) is previewed in the LanlanAvatar at the top and written to its
 * own file on Save. A card's greetings are offered as a choice; a
 * character with one or none has a plain field for it. Export writes a V3
 * card, as a PNG (the picture, or the generated initials) or as JSON.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-avatar.h"
#include "lanlan-character-card.h"
#include "lanlan-character-editor.h"
#include "lanlan-languages.h"
#include "lanlan-chat-client.h"
#include "lanlan-chat-preset.h"
#include "lanlan-provider.h"
#include "lanlan-secrets.h"

struct _LanlanCharacterEditor
{
  GtkBox                parent_instance;

  LanlanCharacterStore *store;
  LanlanCharacter      *character;   /* NULL: a new character */

  AdwWindowTitle       *window_title;
  AdwEntryRow          *name_row;
  GtkTextView          *persona_view;
  AdwComboRow          *provider_row;
  AdwEntryRow          *base_url_row;
  AdwEntryRow          *model_row;
  AdwEntryRow          *voice_row;
  GtkMenuButton        *voice_menu_button;
  AdwComboRow          *language_row;
  AdwComboRow          *input_mode_row;
  GtkSwitch            *open_on_start_switch;
  AdwPreferencesGroup  *actions_group;
  LanlanAvatar         *avatar;
  GtkWidget            *remove_picture_button;
  AdwEntryRow          *greeting_row;
  AdwComboRow          *greeting_choice_row;
  AdwActionRow         *lorebook_row;

  GPtrArray            *language_tags;   /* parallel to language_row's model */
  LanlanCharacter      *preview;         /* name and picture for the avatar */
  GBytes               *picture;         /* the picture in the form */
  gboolean              picture_changed;
  char                 *loaded_state;    /* the form as loaded, to spot changes */
  GtkFileChooserNative *chooser;

  /* Typing only: the provider row lists chat services (LanlanChatPreset) */
  gboolean              chat_mode;
  gboolean              loading;       /* load_fields(): no defaults applied */
  GtkWidget            *check_button;
  GtkMenuButton        *model_menu_button;
  GCancellable         *check_cancellable;
};

G_DEFINE_FINAL_TYPE (LanlanCharacterEditor, lanlan_character_editor, GTK_TYPE_BOX)

enum {
  PROP_0,
  PROP_STORE,
  PROP_CHARACTER,
  N_PROPS
};

enum {
  DONE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];


static const LanlanProvider *
selected_provider (LanlanCharacterEditor *self)
{
  guint n = 0;
  const LanlanProvider **list = lanlan_provider_list (&n);
  guint i = adw_combo_row_get_selected (self->provider_row);

  return i < n ? list[i] : lanlan_provider_get_default ();
}

static const LanlanChatPreset *
selected_preset (LanlanCharacterEditor *self)
{
  guint n = 0;
  const LanlanChatPreset **list = lanlan_chat_preset_list (&n);
  guint i = adw_combo_row_get_selected (self->provider_row);

  return i < n ? list[i] : lanlan_chat_preset_get_default ();
}

/* Voice and text: realtime providers; typing only: chat services. */
static void
set_chat_mode (LanlanCharacterEditor *self,
               gboolean               chat)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  guint n = 0;

  self->chat_mode = chat;
  if (chat)
    {
      const LanlanChatPreset **list = lanlan_chat_preset_list (&n);
      for (guint i = 0; i < n; i++)
        gtk_string_list_append (names, _(list[i]->display_name));
    }
  else
    {
      const LanlanProvider **list = lanlan_provider_list (&n);
      for (guint i = 0; i < n; i++)
        gtk_string_list_append (names, _(list[i]->display_name));
    }
  adw_combo_row_set_model (self->provider_row, G_LIST_MODEL (names));
  gtk_widget_set_visible (self->check_button, chat);
  gtk_widget_set_visible (GTK_WIDGET (self->model_menu_button), FALSE);
}

static void
select_provider_id (LanlanCharacterEditor *self,
                    const char            *id)
{
  guint n = 0;

  if (self->chat_mode)
    {
      const LanlanChatPreset **list = lanlan_chat_preset_list (&n);
      const LanlanChatPreset *preset = lanlan_chat_preset_for_provider (id);

      if (preset == NULL)
        preset = lanlan_chat_preset_get_default ();
      for (guint i = 0; i < n; i++)
        if (list[i] == preset)
          adw_combo_row_set_selected (self->provider_row, i);
    }
  else
    {
      const LanlanProvider **list = lanlan_provider_list (&n);
      const LanlanProvider *provider = lanlan_provider_lookup (id);

      if (provider == NULL)
        provider = lanlan_provider_get_default ();
      for (guint i = 0; i < n; i++)
        if (list[i] == provider)
          adw_combo_row_set_selected (self->provider_row, i);
    }
}

/* A chat service was picked: its address and default model, so nothing
 * of the previous service (an Ollama port, a model LM Studio does not
 * have) stays behind. An address the user typed for "OpenAI-compatible",
 * which has none of its own, stays. */
static void
apply_preset_defaults (LanlanCharacterEditor *self)
{
  const LanlanChatPreset *preset = selected_preset (self);
  const char *url = gtk_editable_get_text (GTK_EDITABLE (self->base_url_row));
  gboolean url_is_a_default = *url == '\0';
  guint n = 0;
  const LanlanChatPreset **list = lanlan_chat_preset_list (&n);

  for (guint i = 0; i < n; i++)
    if (list[i]->base_url != NULL && g_str_equal (list[i]->base_url, url))
      url_is_a_default = TRUE;
  if (preset->base_url != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->base_url_row), preset->base_url);
  else if (url_is_a_default)
    gtk_editable_set_text (GTK_EDITABLE (self->base_url_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->model_row), preset->default_model);
}

static void
on_input_mode_changed (LanlanCharacterEditor *self)
{
  gboolean chat = adw_combo_row_get_selected (self->input_mode_row) == 1;
  const char *id;

  if (chat == self->chat_mode)
    return;

  /* The same service in the other list, if it has one (OpenAI, Qwen, GLM). */
  id = self->chat_mode ? selected_preset (self)->id : selected_provider (self)->id;
  /* The list changes under the row: no service's defaults until the
   * right one is selected (a custom server's address must not give way
   * to the first preset's on the way). */
  self->loading = TRUE;
  set_chat_mode (self, chat);
  select_provider_id (self, id);
  self->loading = FALSE;
  if (chat)
    {
      apply_preset_defaults (self);
      gtk_editable_set_text (GTK_EDITABLE (self->voice_row), "");
    }
  else
    gtk_editable_set_text (GTK_EDITABLE (self->model_row), selected_provider (self)->default_model);
}

static void
rebuild_voice_menu (LanlanCharacterEditor *self)
{
  const LanlanProvider *provider = selected_provider (self);
  g_autoptr(GMenu) menu = g_menu_new ();
  gboolean any = FALSE;

  for (guint i = 0; provider->voices != NULL && provider->voices[i] != NULL; i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (provider->voices[i], NULL);
      g_menu_item_set_action_and_target_value (item, "editor.voice",
                                               g_variant_new_string (provider->voices[i]));
      g_menu_append_item (menu, item);
      any = TRUE;
    }

  gtk_menu_button_set_menu_model (self->voice_menu_button, G_MENU_MODEL (menu));
  gtk_widget_set_visible (GTK_WIDGET (self->voice_menu_button), any);
}

static void
on_provider_selected (LanlanCharacterEditor *self)
{
  const LanlanProvider *provider;

  g_cancellable_cancel (self->check_cancellable);
  gtk_widget_set_visible (GTK_WIDGET (self->model_menu_button), FALSE);

  if (self->chat_mode)
    {
      /* Local servers and "OpenAI-compatible" may live at another address. */
      gtk_widget_set_visible (GTK_WIDGET (self->base_url_row), TRUE);
      gtk_widget_set_visible (GTK_WIDGET (self->voice_menu_button), FALSE);
      if (!self->loading)
        apply_preset_defaults (self);
      return;
    }

  provider = selected_provider (self);
  gtk_widget_set_visible (GTK_WIDGET (self->base_url_row), provider->url == NULL);
  rebuild_voice_menu (self);

  /* A voice of another provider would be refused: offer this one's default. */
  if (provider->voices != NULL && provider->voices[0] != NULL)
    {
      const char *voice = gtk_editable_get_text (GTK_EDITABLE (self->voice_row));
      gboolean known = FALSE;

      for (guint i = 0; provider->voices[i] != NULL; i++)
        if (g_ascii_strcasecmp (provider->voices[i], voice) == 0)
          known = TRUE;
      if (!known)
        gtk_editable_set_text (GTK_EDITABLE (self->voice_row),
                               lanlan_provider_get_default_voice (provider));
    }
}

static void
voice_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);

  gtk_editable_set_text (GTK_EDITABLE (self->voice_row), g_variant_get_string (parameter, NULL));
}

static void
select_language (LanlanCharacterEditor *self,
                 const char            *tag)
{
  GtkStringList *model = GTK_STRING_LIST (adw_combo_row_get_model (self->language_row));

  for (guint i = 0; i < self->language_tags->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (self->language_tags, i), tag) == 0)
      {
        adw_combo_row_set_selected (self->language_row, i);
        return;
      }

  /* A tag not in the list (from a config or a card): keep it selectable. */
  g_ptr_array_add (self->language_tags, g_strdup (tag));
  gtk_string_list_append (model, tag);
  adw_combo_row_set_selected (self->language_row, self->language_tags->len - 1);
}

static char *
first_line (const char *text,
            guint       max_chars)
{
  g_autofree char *line = g_strndup (text, strcspn (text, "\r\n"));
  g_autofree char *stripped = g_strstrip (g_strdup (line));

  if (g_utf8_strlen (stripped, -1) <= max_chars)
    return g_steal_pointer (&stripped);
  return g_strconcat (g_utf8_substring (stripped, 0, max_chars), "…", NULL);
}

static void
load_greetings (LanlanCharacterEditor *self,
                LanlanCharacter       *c)
{
  const char * const *greetings = lanlan_character_get_greetings (c);
  guint n = g_strv_length ((char **) greetings);
  LanlanLorebook *book = lanlan_character_get_lorebook (c);

  gtk_widget_set_visible (GTK_WIDGET (self->greeting_row), n <= 1);
  gtk_widget_set_visible (GTK_WIDGET (self->greeting_choice_row), n > 1);
  gtk_editable_set_text (GTK_EDITABLE (self->greeting_row), n == 1 ? greetings[0] : "");

  if (n > 1)
    {
      g_autoptr(GtkStringList) model = gtk_string_list_new (NULL);

      for (guint i = 0; i < n; i++)
        {
          g_autofree char *line = first_line (greetings[i], 60);
          gtk_string_list_append (model, line);
        }
      adw_combo_row_set_model (self->greeting_choice_row, G_LIST_MODEL (model));
      adw_combo_row_set_selected (self->greeting_choice_row, lanlan_character_get_greeting_index (c));
    }

  gtk_widget_set_visible (GTK_WIDGET (self->lorebook_row), book != NULL);
  if (book != NULL)
    {
      guint entries = lanlan_lorebook_get_n_entries (book);
      g_autofree char *subtitle =
        g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                      "%u entry, added to the conversation when its words come up",
                                      "%u entries, added to the conversation when their words come up",
                                      entries), entries);
      adw_action_row_set_subtitle (self->lorebook_row, subtitle);
    }
}

/* Everything the form holds, as one string: unsaved changes make it differ. */
static char *
form_state (LanlanCharacterEditor *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->persona_view);
  g_autofree char *persona = NULL;
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  persona = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);

  return g_strdup_printf ("%s\x1f%s\x1f%u\x1f%s\x1f%s\x1f%s\x1f%u\x1f%u\x1f%d\x1f%s\x1f%u\x1f%d",
                          gtk_editable_get_text (GTK_EDITABLE (self->name_row)),
                          persona,
                          adw_combo_row_get_selected (self->provider_row),
                          gtk_editable_get_text (GTK_EDITABLE (self->base_url_row)),
                          gtk_editable_get_text (GTK_EDITABLE (self->model_row)),
                          gtk_editable_get_text (GTK_EDITABLE (self->voice_row)),
                          adw_combo_row_get_selected (self->language_row),
                          adw_combo_row_get_selected (self->input_mode_row),
                          gtk_switch_get_active (self->open_on_start_switch),
                          gtk_editable_get_text (GTK_EDITABLE (self->greeting_row)),
                          adw_combo_row_get_selected (self->greeting_choice_row),
                          self->picture_changed);
}

/* Whether the form differs from what was loaded or last saved. */
static gboolean
lanlan_character_editor_has_changes (LanlanCharacterEditor *self)
{
  g_autofree char *now = NULL;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_EDITOR (self), FALSE);

  now = form_state (self);
  return g_strcmp0 (now, self->loaded_state) != 0;
}

static void
load_fields (LanlanCharacterEditor *self)
{
  LanlanCharacter *c = self->character;
  g_autoptr(LanlanCharacter) defaults = NULL;
  const LanlanProvider *provider;
  guint n = 0;
  const LanlanProvider **list = lanlan_provider_list (&n);

  if (c == NULL)
    {
      defaults = lanlan_character_new ("");
      c = defaults;
    }
  self->loading = TRUE;

  adw_window_title_set_title (self->window_title,
                              self->character ? _("Edit Character") : _("New Character"));
  adw_window_title_set_subtitle (self->window_title,
                                 self->character ? lanlan_character_get_name (c) : NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->actions_group), self->character != NULL);

  gtk_editable_set_text (GTK_EDITABLE (self->name_row), lanlan_character_get_name (c));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->persona_view),
                            lanlan_character_get_persona (c), -1);
  gtk_editable_set_text (GTK_EDITABLE (self->voice_row), lanlan_character_get_voice (c));

  provider = lanlan_provider_lookup (lanlan_character_get_provider (c));
  if (provider == NULL)
    provider = lanlan_provider_get_default ();
  set_chat_mode (self, lanlan_character_get_input_mode (c) == LANLAN_INPUT_MODE_TEXT);
  select_provider_id (self, lanlan_character_get_provider (c));
  (void) list; (void) n;

  /* A chat service's own address is shown, so the user sees where it goes. */
  if (self->chat_mode && *lanlan_character_get_base_url (c) == '\0' && selected_preset (self)->base_url)
    gtk_editable_set_text (GTK_EDITABLE (self->base_url_row), selected_preset (self)->base_url);
  else
    gtk_editable_set_text (GTK_EDITABLE (self->base_url_row), lanlan_character_get_base_url (c));
  gtk_editable_set_text (GTK_EDITABLE (self->model_row),
                         *lanlan_character_get_model (c) ? lanlan_character_get_model (c)
                         : self->chat_mode ? selected_preset (self)->default_model
                         : provider->default_model);
  if (self->chat_mode)
    gtk_editable_set_text (GTK_EDITABLE (self->voice_row), lanlan_character_get_voice (c));
  else if (*lanlan_character_get_voice (c) == '\0' && lanlan_provider_get_default_voice (provider))
    gtk_editable_set_text (GTK_EDITABLE (self->voice_row),
                           lanlan_provider_get_default_voice (provider));
  else
    gtk_editable_set_text (GTK_EDITABLE (self->voice_row), lanlan_character_get_voice (c));

  select_language (self, lanlan_character_get_language (c));
  adw_combo_row_set_selected (self->input_mode_row,
                              lanlan_character_get_input_mode (c) == LANLAN_INPUT_MODE_TEXT ? 1 : 0);
  gtk_switch_set_active (self->open_on_start_switch, lanlan_character_get_open_on_start (c));

  on_provider_selected (self);
  /* on_provider_selected() may replace an unknown voice; keep the saved one. */
  if (*lanlan_character_get_voice (c) != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->voice_row), lanlan_character_get_voice (c));

  /* New characters do not all open at start; the user can ask for it. */
  if (self->character == NULL)
    gtk_switch_set_active (self->open_on_start_switch, FALSE);

  load_greetings (self, c);

  g_clear_pointer (&self->picture, g_bytes_unref);
  if (self->character != NULL && lanlan_character_get_avatar (self->character) != NULL)
    self->picture = g_bytes_ref (lanlan_character_get_avatar (self->character));
  self->picture_changed = FALSE;
  lanlan_character_set_name (self->preview, lanlan_character_get_name (c));
  lanlan_character_set_avatar (self->preview, self->picture);
  gtk_widget_set_visible (self->remove_picture_button, self->picture != NULL);

  g_free (self->loaded_state);
  self->loaded_state = form_state (self);
  self->loading = FALSE;
}

static char *
stripped_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

/**
 * lanlan_character_editor_save:
 *
 * Checks the fields and applies them. For a new character, adds it to the
 * store. On error nothing is changed.
 */
gboolean
lanlan_character_editor_save (LanlanCharacterEditor  *self,
                              GError                **error)
{
  const LanlanProvider *provider = selected_provider (self);
  g_autofree char *name = stripped_text (self->name_row);
  g_autofree char *base_url = stripped_text (self->base_url_row);
  g_autofree char *model = stripped_text (self->model_row);
  g_autofree char *voice = stripped_text (self->voice_row);
  g_autofree char *persona = NULL;
  g_autoptr(LanlanCharacter) created = NULL;
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->persona_view);
  GtkTextIter start, end;
  LanlanCharacter *c;
  guint lang = adw_combo_row_get_selected (self->language_row);

  g_return_val_if_fail (LANLAN_IS_CHARACTER_EDITOR (self), FALSE);

  if (*name == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The character needs a name"));
      return FALSE;
    }

  if (self->chat_mode)
    {
      g_autoptr(GError) url_error = NULL;
      g_autofree char *url = lanlan_chat_preset_resolve_url (selected_preset (self), base_url, &url_error);

      if (url == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The server address is not usable: %s"), url_error->message);
          return FALSE;
        }
    }
  else if (provider->url == NULL)
    {
      g_autoptr(GError) url_error = NULL;
      g_autofree char *url = lanlan_provider_build_url (provider, base_url, model, &url_error);

      if (url == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The base URL is not usable: %s"), url_error->message);
          return FALSE;
        }
    }

  /* A built-in service hides the address field, but a character may still
   * carry an override of its endpoint (another region, a proxy): it stays
   * as long as the service does. */
  if (!self->chat_mode && provider->url != NULL)
    {
      g_free (base_url);
      base_url = g_strdup (self->character != NULL &&
                           g_strcmp0 (lanlan_character_get_provider (self->character),
                                      provider->id) == 0
                           ? lanlan_character_get_base_url (self->character) : "");
    }

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  persona = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);

  if (self->character == NULL)
    created = c = lanlan_character_new (name);
  else
    c = self->character;

  g_object_freeze_notify (G_OBJECT (c));
  lanlan_character_set_name (c, name);
  lanlan_character_set_persona (c, persona);
  lanlan_character_set_provider (c, self->chat_mode ? selected_preset (self)->id : provider->id);
  lanlan_character_set_base_url (c, base_url);
  lanlan_character_set_model (c, model);
  lanlan_character_set_voice (c, voice);
  if (lang < self->language_tags->len)
    lanlan_character_set_language (c, g_ptr_array_index (self->language_tags, lang));
  lanlan_character_set_input_mode (c, adw_combo_row_get_selected (self->input_mode_row) == 1
                                      ? LANLAN_INPUT_MODE_TEXT : LANLAN_INPUT_MODE_AUDIO);
  lanlan_character_set_open_on_start (c, gtk_switch_get_active (self->open_on_start_switch));
  if (gtk_widget_get_visible (GTK_WIDGET (self->greeting_row)))
    {
      g_autofree char *greeting = stripped_text (self->greeting_row);
      const char *one[] = { greeting, NULL };

      lanlan_character_set_greetings (c, *greeting != '\0' ? one : NULL);
    }
  else
    lanlan_character_set_greeting_index (c, adw_combo_row_get_selected (self->greeting_choice_row));
  g_object_thaw_notify (G_OBJECT (c));

  if (self->picture_changed)
    lanlan_character_set_avatar (c, self->picture);
  /* Also writes a picture that came with a card and was not written yet. */
  if (!lanlan_character_save_avatar (c, error))
    return FALSE;
  self->picture_changed = FALSE;

  if (created != NULL)
    {
      lanlan_character_store_add (self->store, created);
      self->character = g_object_ref (created);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHARACTER]);
    }

  g_free (self->loaded_state);
  self->loaded_state = form_state (self);
  return TRUE;
}

static LanlanApplication *
get_app (LanlanCharacterEditor *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app = root ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;

  if (app == NULL)
    app = GTK_APPLICATION (g_application_get_default ());
  return LANLAN_IS_APPLICATION (app) ? LANLAN_APPLICATION (app) : NULL;
}

/* A short message is a toast; a long one (a toast would cut it) is a
 * dialog with the whole text, in any language. */
static void
show_error (LanlanCharacterEditor *self,
            const char            *heading,
            const char            *message)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog;

  if (ADW_IS_PREFERENCES_WINDOW (root) && g_utf8_strlen (message, -1) <= 40)
    {
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (root), adw_toast_new (message));
      return;
    }
  if (!GTK_IS_WINDOW (root))
    {
      g_warning ("%s: %s", heading, message);
      return;
    }

  dialog = adw_message_dialog_new (GTK_WINDOW (root), heading, message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  g_autoptr(GError) error = NULL;
  gboolean was_new = self->character == NULL;
  LanlanApplication *app;

  if (!lanlan_character_editor_save (self, &error))
    {
      show_error (self, _("Could Not Save"), error->message);
      return;
    }

  app = get_app (self);
  if (was_new && app != NULL)
    lanlan_application_open_character (app, self->character);

  g_signal_emit (self, signals[DONE], 0);
}

static void
on_discard_response (AdwMessageDialog      *dialog,
                     const char            *response,
                     LanlanCharacterEditor *self)
{
  if (g_strcmp0 (response, "discard") == 0)
    g_signal_emit (self, signals[DONE], 0);
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog;

  if (!lanlan_character_editor_has_changes (self) || !GTK_IS_WINDOW (root))
    {
      g_signal_emit (widget, signals[DONE], 0);
      return;
    }

  dialog = adw_message_dialog_new (GTK_WINDOW (root), _("Discard Changes?"),
                                   _("The changes to this character have not been saved."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Editing"),
                                    "discard", _("_Discard"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "discard",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_discard_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* --- Picture and export ------------------------------------------------------ */

#define PICTURE_MAX_SIDE 1024

static void
set_picture (LanlanCharacterEditor *self,
             GBytes                *png)
{
  g_clear_pointer (&self->picture, g_bytes_unref);
  self->picture = png ? g_bytes_ref (png) : NULL;
  self->picture_changed = TRUE;
  lanlan_character_set_avatar (self->preview, png);
  gtk_widget_set_visible (self->remove_picture_button, png != NULL);
}

/* Any image the pixbuf loaders read, at most 1024 px, as PNG. */
static GBytes *
load_picture (GFile   *file,
              GError **error)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GInputStream) stream = NULL;
  char *buffer = NULL;
  gsize len = 0;

  stream = G_INPUT_STREAM (g_file_read (file, NULL, error));
  if (stream == NULL)
    return NULL;
  pixbuf = gdk_pixbuf_new_from_stream_at_scale (stream, PICTURE_MAX_SIDE, PICTURE_MAX_SIDE,
                                                TRUE, NULL, error);
  if (pixbuf == NULL)
    return NULL;
  if (!gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &len, "png", error, NULL))
    return NULL;
  return g_bytes_new_take (buffer, len);
}

static void
on_picture_chosen (GtkNativeDialog       *chooser,
                   int                    response,
                   LanlanCharacterEditor *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) png = file ? load_picture (file, &error) : NULL;

      if (png != NULL)
        set_picture (self, png);
      else if (error != NULL)
        show_error (self, _("Could Not Use the Picture"), error->message);
    }

  g_clear_object (&self->chooser);
}

static void
choose_picture_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();

  if (self->chooser != NULL)
    return;

  gtk_file_filter_set_name (images, _("Images"));
  gtk_file_filter_add_pixbuf_formats (images);
  self->chooser = gtk_file_chooser_native_new (_("Choose a Picture"),
                                               GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_OPEN, NULL, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), images);
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_picture_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
remove_picture_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  set_picture (LANLAN_CHARACTER_EDITOR (widget), NULL);
}

/* Writes the saved character as a V3 card, @format "png" or "json". A
 * character without a picture of its own gets its initials as the PNG's. */
static gboolean
lanlan_character_editor_export (LanlanCharacterEditor  *self,
                                GFile                  *file,
                                const char             *format,
                                GError                **error)
{
  g_autoptr(GBytes) data = NULL;

  g_return_val_if_fail (LANLAN_IS_CHARACTER_EDITOR (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  if (self->character == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Save the character before exporting it"));
      return FALSE;
    }

  if (g_strcmp0 (format, "json") == 0)
    data = lanlan_character_card_export_json (self->character);
  else
    {
      g_autoptr(LanlanAvatar) face = g_object_ref_sink (LANLAN_AVATAR (lanlan_avatar_new (self->character, 64)));
      g_autoptr(GBytes) fallback = NULL;

      if (lanlan_character_get_avatar (self->character) == NULL)
        fallback = lanlan_avatar_render_png (face, 512);
      data = lanlan_character_card_export_png (self->character, fallback, error);
      if (data == NULL)
        return FALSE;
    }

  return g_file_replace_contents (file, g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                                  NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, NULL, error);
}

static void
on_export_chosen (GtkNativeDialog       *chooser,
                  int                    response,
                  LanlanCharacterEditor *self)
{
  const char *format = g_object_get_data (G_OBJECT (chooser), "format");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GError) error = NULL;

      if (file != NULL && !lanlan_character_editor_export (self, file, format, &error))
        show_error (self, _("Could Not Export the Card"), error->message);
      else if (file != NULL)
        {
          GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
          g_autofree char *name = g_file_get_basename (file);
          g_autofree char *message = g_strdup_printf (_("Saved “%s”"), name);

          if (ADW_IS_PREFERENCES_WINDOW (root))
            adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (root), adw_toast_new (message));
        }
    }

  g_clear_object (&self->chooser);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  const char *format = g_variant_get_string (parameter, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *suggested = NULL;

  if (self->chooser != NULL || self->character == NULL)
    return;

  /* Export what the user sees: save pending changes first. */
  if (lanlan_character_editor_has_changes (self) && !lanlan_character_editor_save (self, &error))
    {
      show_error (self, _("Could Not Save"), error->message);
      return;
    }

  suggested = g_strdup_printf ("%s.%s", lanlan_character_get_name (self->character),
                               g_str_equal (format, "json") ? "json" : "png");
  self->chooser = gtk_file_chooser_native_new (_("Export Character Card"),
                                               GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_SAVE, NULL, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), suggested);
  g_object_set_data (G_OBJECT (self->chooser), "format",
                     (gpointer) (g_str_equal (format, "json") ? "json" : "png"));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_export_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* --- Typing only: Check and the model list ------------------------------------ */

static void
model_chosen_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);

  gtk_editable_set_text (GTK_EDITABLE (self->model_row), g_variant_get_string (parameter, NULL));
}

static void
on_models_listed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(LanlanCharacterEditor) self = user_data;
  g_auto(GStrv) models = lanlan_chat_client_list_models_finish (LANLAN_CHAT_CLIENT (source), result, NULL);
  g_autoptr(GMenu) menu = g_menu_new ();

  if (models == NULL || models[0] == NULL || self->model_menu_button == NULL)
    return;

  for (guint i = 0; models[i] != NULL && i < 200; i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (models[i], NULL);
      g_menu_item_set_action_and_target_value (item, "editor.model", g_variant_new_string (models[i]));
      g_menu_append_item (menu, item);
    }
  gtk_menu_button_set_menu_model (self->model_menu_button, G_MENU_MODEL (menu));
  gtk_widget_set_visible (GTK_WIDGET (self->model_menu_button), TRUE);
}

static void
on_checked (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(LanlanCharacterEditor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = lanlan_chat_client_check_finish (LANLAN_CHAT_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->check_button == NULL)
    return;

  gtk_widget_set_sensitive (self->check_button, TRUE);
  if (message != NULL)
    {
      show_error (self, _("The Service Answers"), message);
      lanlan_chat_client_list_models_async (LANLAN_CHAT_CLIENT (source), self->check_cancellable,
                                            on_models_listed, g_object_ref (self));
    }
  else
    show_error (self, _("The Service Does Not Answer"), error->message);
}

static void
on_check_key (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LanlanCharacterEditor) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = lanlan_secrets_lookup_finish (result, NULL);
  g_autofree char *base_url = NULL;
  g_autofree char *model = NULL;
  g_autoptr(LanlanChatClient) client = NULL;

  if (self->check_button == NULL || g_cancellable_is_cancelled (self->check_cancellable))
    return;

  base_url = stripped_text (self->base_url_row);
  model = stripped_text (self->model_row);
  client = lanlan_chat_client_new_for_preset (selected_preset (self), base_url, key, &error);
  if (client == NULL)
    {
      gtk_widget_set_sensitive (self->check_button, TRUE);
      show_error (self, _("The Service Does Not Answer"), error->message);
      return;
    }
  lanlan_chat_client_check_async (client, *model ? model : NULL, self->check_cancellable,
                                  on_checked, g_object_ref (self));
}

static void
check_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);

  if (!self->chat_mode)
    return;

  g_cancellable_cancel (self->check_cancellable);
  g_clear_object (&self->check_cancellable);
  self->check_cancellable = g_cancellable_new ();
  gtk_widget_set_sensitive (self->check_button, FALSE);
  lanlan_secrets_lookup_async (selected_preset (self)->key_id, self->check_cancellable,
                               on_check_key, g_object_ref (self));
}

static void
on_name_changed (LanlanCharacterEditor *self)
{
  g_autofree char *name = stripped_text (self->name_row);

  lanlan_character_set_name (self->preview, name);
}

static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  LanlanApplication *app = get_app (self);

  if (app != NULL && self->character != NULL)
    lanlan_application_open_character (app, self->character);
}

static void
on_delete_response (AdwMessageDialog      *dialog,
                    const char            *response,
                    LanlanCharacterEditor *self)
{
  g_autoptr(LanlanCharacter) c = NULL;
  g_autoptr(GError) error = NULL;
  LanlanApplication *app;

  if (g_strcmp0 (response, "delete") != 0 || self->character == NULL)
    return;

  c = g_object_ref (self->character);
  app = get_app (self);
  if (app != NULL)
    lanlan_application_close_character (app, c);
  lanlan_character_store_remove (self->store, c);
  if (!lanlan_character_delete_avatar (c, &error))
    g_warning ("%s", error->message);
  g_signal_emit (self, signals[DONE], 0);
}

static void
delete_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autofree char *heading = NULL;
  GtkWidget *dialog;

  if (self->character == NULL)
    return;

  heading = g_strdup_printf (_("Delete “%s”?"), lanlan_character_get_name (self->character));
  dialog = adw_message_dialog_new (GTK_WINDOW (root), heading,
                                   _("The character’s settings will be removed and its window closed. "
                                     "This cannot be undone."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "delete", _("_Delete"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_delete_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
lanlan_character_editor_constructed (GObject *object)
{
  LanlanCharacterEditor *self = (LanlanCharacterEditor *)object;
  g_autoptr(GtkStringList) providers = gtk_string_list_new (NULL);
  g_autoptr(GtkStringList) langs = gtk_string_list_new (NULL);
  guint n = 0;
  const LanlanProvider **list = lanlan_provider_list (&n);
  const LanlanLanguage *language_list;
  guint n_languages;

  G_OBJECT_CLASS (lanlan_character_editor_parent_class)->constructed (object);

  for (guint i = 0; i < n; i++)
    gtk_string_list_append (providers, _(list[i]->display_name));
  adw_combo_row_set_model (self->provider_row, G_LIST_MODEL (providers));

  gtk_string_list_append (langs, _("Automatic"));
  g_ptr_array_add (self->language_tags, g_strdup (""));
  language_list = lanlan_languages_get (&n_languages);
  for (guint i = 0; i < n_languages; i++)
    {
      g_autofree char *label = lanlan_language_dup_label (&language_list[i]);

      gtk_string_list_append (langs, label);
      g_ptr_array_add (self->language_tags, g_strdup (language_list[i].tag));
    }
  adw_combo_row_set_model (self->language_row, G_LIST_MODEL (langs));

  load_fields (self);
  g_signal_connect_object (self->provider_row, "notify::selected",
                           G_CALLBACK (on_provider_selected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->name_row, "changed",
                           G_CALLBACK (on_name_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->input_mode_row, "notify::selected",
                           G_CALLBACK (on_input_mode_changed), self, G_CONNECT_SWAPPED);
}

static void
lanlan_character_editor_dispose (GObject *object)
{
  LanlanCharacterEditor *self = (LanlanCharacterEditor *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), LANLAN_TYPE_CHARACTER_EDITOR);
  g_clear_object (&self->character);
  g_clear_object (&self->store);
  g_clear_pointer (&self->language_tags, g_ptr_array_unref);
  g_cancellable_cancel (self->check_cancellable);
  g_clear_object (&self->check_cancellable);
  g_clear_object (&self->preview);
  g_clear_pointer (&self->picture, g_bytes_unref);
  g_clear_pointer (&self->loaded_state, g_free);
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }

  G_OBJECT_CLASS (lanlan_character_editor_parent_class)->dispose (object);
}

static void
lanlan_character_editor_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_CHARACTER:
      g_value_set_object (value, self->character);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_character_editor_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  LanlanCharacterEditor *self = LANLAN_CHARACTER_EDITOR (object);

  switch (prop_id)
    {
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    case PROP_CHARACTER:
      self->character = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lanlan_character_editor_class_init (LanlanCharacterEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = lanlan_character_editor_constructed;
  object_class->dispose = lanlan_character_editor_dispose;
  object_class->get_property = lanlan_character_editor_get_property;
  object_class->set_property = lanlan_character_editor_set_property;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, LANLAN_TYPE_CHARACTER_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CHARACTER] =
    g_param_spec_object ("character", NULL, NULL, LANLAN_TYPE_CHARACTER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LanlanCharacterEditor::done:
   *
   * The user saved, deleted or went back; the editor should be closed.
   */
  signals[DONE] = g_signal_new ("done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  g_type_ensure (LANLAN_TYPE_AVATAR);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_PREFIX "/lanlan-character-editor.ui");
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, window_title);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, name_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, persona_view);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, provider_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, base_url_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, model_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, voice_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, voice_menu_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, language_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, input_mode_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, open_on_start_switch);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, actions_group);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, avatar);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, remove_picture_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, greeting_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, greeting_choice_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, lorebook_row);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, check_button);
  gtk_widget_class_bind_template_child (widget_class, LanlanCharacterEditor, model_menu_button);

  gtk_widget_class_install_action (widget_class, "editor.save", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "editor.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "editor.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "editor.delete", NULL, delete_action);
  gtk_widget_class_install_action (widget_class, "editor.voice", "s", voice_action);
  gtk_widget_class_install_action (widget_class, "editor.choose-picture", NULL, choose_picture_action);
  gtk_widget_class_install_action (widget_class, "editor.remove-picture", NULL, remove_picture_action);
  gtk_widget_class_install_action (widget_class, "editor.export", "s", export_action);
  gtk_widget_class_install_action (widget_class, "editor.check", NULL, check_action);
  gtk_widget_class_install_action (widget_class, "editor.model", "s", model_chosen_action);
}

static void
lanlan_character_editor_init (LanlanCharacterEditor *self)
{
  self->language_tags = g_ptr_array_new_with_free_func (g_free);
  self->preview = lanlan_character_new ("");
  gtk_widget_init_template (GTK_WIDGET (self));
  lanlan_avatar_set_character (self->avatar, self->preview);
}

/**
 * lanlan_character_editor_new:
 * @character: (nullable): the character to edit; %NULL adds a new one
 */
GtkWidget *
lanlan_character_editor_new (LanlanCharacterStore *store,
                             LanlanCharacter      *character)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_STORE (store), NULL);
  g_return_val_if_fail (character == NULL || LANLAN_IS_CHARACTER (character), NULL);

  return g_object_new (LANLAN_TYPE_CHARACTER_EDITOR,
                       "store", store,
                       "character", character,
                       NULL);
}

LanlanCharacter *
lanlan_character_editor_get_character (LanlanCharacterEditor *self)
{
  g_return_val_if_fail (LANLAN_IS_CHARACTER_EDITOR (self), NULL);
  return self->character;
}
