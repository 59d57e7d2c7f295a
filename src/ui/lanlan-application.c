/* lanlan-application.c — the app: one window per character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lanlan-application.h"
#include "lanlan-log.h"

struct _LanlanApplication
{
  AdwApplication        parent_instance;

  LanlanCharacterStore *store;
};

G_DEFINE_FINAL_TYPE (LanlanApplication, lanlan_application, ADW_TYPE_APPLICATION)

GResource *lanlan_get_resource (void);

LanlanCharacterStore *
lanlan_application_get_store (LanlanApplication *self)
{
  g_return_val_if_fail (LANLAN_IS_APPLICATION (self), NULL);
  return self->store;
}

/**
 * lanlan_application_open_character:
 *
 * Presents the window of @character, creating it if it is not open.
 */
LanlanWindow *
lanlan_application_open_character (LanlanApplication *self,
                                   LanlanCharacter   *character)
{
  LanlanWindow *window = NULL;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (LANLAN_IS_WINDOW (l->data) && lanlan_window_get_character (l->data) == character)
      window = l->data;

  if (window == NULL)
    window = lanlan_window_new (GTK_APPLICATION (self), character);

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
lanlan_application_activate (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  const char *load_error;
  guint n, opened = 0;

  if (gtk_application_get_active_window (GTK_APPLICATION (self)) != NULL)
    {
      gtk_window_present (gtk_application_get_active_window (GTK_APPLICATION (self)));
      return;
    }

  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (lanlan_character_get_open_on_start (c) || (i == n - 1 && opened == 0))
        {
          lanlan_application_open_character (self, c);
          opened++;
        }
    }

  load_error = lanlan_character_store_get_load_error (self->store);
  if (load_error != NULL)
    {
      LanlanWindow *window = LANLAN_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (self)));
      lanlan_window_append_message (window, LANLAN_ROLE_SYSTEM, load_error);
    }
}

static void
lanlan_application_startup (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (lanlan_application_parent_class)->startup (app);

  gtk_css_provider_load_from_resource (css, RESOURCE_PREFIX "/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  if (!lanlan_character_store_load (self->store, &error))
    g_warning ("%s", error->message);
}

static void
lanlan_application_shutdown (GApplication *app)
{
  LanlanApplication *self = LANLAN_APPLICATION (app);
  g_autoptr(GError) error = NULL;

  if (!lanlan_character_store_save (self->store, &error))
    g_warning ("Could not save characters: %s", error->message);

  G_APPLICATION_CLASS (lanlan_application_parent_class)->shutdown (app);
}

static void
lanlan_application_dispose (GObject *object)
{
  LanlanApplication *self = (LanlanApplication *)object;

  g_clear_object (&self->store);

  G_OBJECT_CLASS (lanlan_application_parent_class)->dispose (object);
}

static void
lanlan_application_class_init (LanlanApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = lanlan_application_dispose;
  app_class->activate = lanlan_application_activate;
  app_class->startup = lanlan_application_startup;
  app_class->shutdown = lanlan_application_shutdown;

  /* Referencing the resource keeps it linked in from the static library. */
  g_resources_register (lanlan_get_resource ());
}

static void
new_window_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  LanlanApplication *self = user_data;
  g_autoptr(LanlanCharacter) c = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  g_autofree char *name = g_strdup_printf (_("Character %u"), n + 1);

  c = lanlan_character_new (name);
  lanlan_character_store_add (self->store, c);
  lanlan_application_open_character (self, c);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  LanlanApplication *self = user_data;
  static const char *developers[] = { "The Lanlan developers", NULL };
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  adw_show_about_window (window,
                         "application-name", _("Lanlan"),
                         "application-icon", APP_ID,
                         "developer-name", _("The Lanlan developers"),
                         "version", PACKAGE_VERSION,
                         "developers", developers,
                         /* Translators: put your names here, one per line */
                         "translator-credits", _("translator-credits"),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         NULL);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
lanlan_application_init (LanlanApplication *self)
{
  static const GActionEntry app_actions[] = {
    { "new-window", new_window_action },
    { "about", about_action },
    { "quit", quit_action },
  };

  self->store = lanlan_character_store_new_default ();

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.new-window",
                                         (const char *[]) { "<Control>n", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
}

LanlanApplication *
lanlan_application_new (void)
{
  return g_object_new (LANLAN_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/lanlan/Lanlan",
                       NULL);
}
