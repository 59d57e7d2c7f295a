/* test-window-api.c — a character window bound to its conversation
 *
 * Drives a real LanlanConversation (against the loopback fake realtime
 * server, with the key in the harness's keyring) and checks what its
 * window shows: the transcript's rows (recycled, few however long the
 * conversation), the status subtitle, a failed message's Resend, the
 * error banner that goes when its condition is over, the level meter
 * only while the microphone is on, and a conversation that outlives its
 * window. Runs under Xvfb (tests/harness/lanlan-test-env).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-application.h"
#include "lanlan-fake-server.h"
#include "lanlan-message-row.h"
#include "lanlan-realtime-events.h"
#include "lanlan-secrets.h"

static LanlanApplication *app;

static void
collect (GtkWidget *widget,
         gboolean (*pred) (GtkWidget *),
         GPtrArray *out)
{
  if (pred (widget))
    g_ptr_array_add (out, widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    collect (child, pred, out);
}

static gboolean
is_bubble (GtkWidget *w)
{
  return GTK_IS_LABEL (w) && gtk_widget_has_css_class (w, "bubble") && gtk_widget_get_mapped (w);
}

static gboolean
is_row (GtkWidget *w)
{
  return LANLAN_IS_MESSAGE_ROW (w);
}

static gboolean
is_level_bar (GtkWidget *w)
{
  return GTK_IS_LEVEL_BAR (w);
}

static gboolean
is_title (GtkWidget *w)
{
  return ADW_IS_WINDOW_TITLE (w);
}

static gboolean
is_banner_label (GtkWidget *w)
{
  GtkWidget *revealer = gtk_widget_get_ancestor (w, GTK_TYPE_REVEALER);

  return GTK_IS_LABEL (w) && revealer != NULL && gtk_widget_get_visible (revealer) &&
         gtk_revealer_get_reveal_child (GTK_REVEALER (revealer)) &&
         gtk_widget_has_css_class (gtk_widget_get_parent (w), "error-banner");
}

static GPtrArray *
find (LanlanWindow *window,
      gboolean (*pred) (GtkWidget *))
{
  GPtrArray *out = g_ptr_array_new ();

  collect (GTK_WIDGET (window), pred, out);
  return out;
}

/* The texts of the mapped bubbles, "|"-joined. */
static char *
bubble_texts (LanlanWindow *window)
{
  g_autoptr(GPtrArray) b = find (window, is_bubble);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) texts = NULL;

  for (guint i = 0; i < b->len; i++)
    g_strv_builder_add (builder, gtk_label_get_text (g_ptr_array_index (b, i)));
  texts = g_strv_builder_end (builder);
  return g_strjoinv ("|", texts);
}

static const char *
subtitle (LanlanWindow *window)
{
  g_autoptr(GPtrArray) t = find (window, is_title);

  return adw_window_title_get_subtitle (g_ptr_array_index (t, 0));
}

static const char *
banner (LanlanWindow *window)
{
  g_autoptr(GPtrArray) b = find (window, is_banner_label);

  return b->len > 0 ? gtk_label_get_text (g_ptr_array_index (b, 0)) : NULL;
}

static void
iterate (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
}

typedef struct {
  LanlanWindow *window;
  const char   *expected;
} Expect;

static gboolean
bubbles_are (gpointer data)
{
  Expect *e = data;
  g_autofree char *texts = bubble_texts (e->window);

  return g_strcmp0 (texts, e->expected) == 0;
}

static gboolean
subtitle_is (gpointer data)
{
  Expect *e = data;

  return g_strcmp0 (subtitle (e->window), e->expected) == 0;
}

static gboolean
banner_is (gpointer data)
{
  Expect *e = data;

  return g_strcmp0 (banner (e->window), e->expected) == 0;
}

/* The character's reply (the second message) is complete. */
static gboolean
reply_finished (gpointer conversation)
{
  GListModel *model = lanlan_conversation_get_messages (conversation);
  g_autoptr(LanlanMessage) reply = NULL;

  if (g_list_model_get_n_items (model) < 2)
    return FALSE;
  reply = g_list_model_get_item (model, 1);
  return lanlan_message_get_status (reply) == LANLAN_MESSAGE_STATUS_SENT;
}

static gboolean
has_error (gpointer conversation)
{
  return lanlan_conversation_get_error (conversation) != NULL;
}

typedef struct {
  GObject    *object;
  const char *property;
  gboolean    value;
} ExpectBool;

static gboolean
bool_is (gpointer data)
{
  ExpectBool *e = data;
  gboolean value;

  g_object_get (e->object, e->property, &value, NULL);
  return value == e->value;
}

static void
wait_bool (gpointer    object,
           const char *property,
           gboolean    value)
{
  ExpectBool e = { object, property, value };

  g_assert_true (test_wait_until (bool_is, &e, 10000));
}

static LanlanCharacter *
new_character (const char *name,
               FakeServer *server)
{
  LanlanCharacter *c = lanlan_character_new (name);
  g_autofree char *url = fake_server_get_url (server, NULL);

  lanlan_character_set_provider (c, "custom");
  lanlan_character_set_base_url (c, url);
  return c;
}

static LanlanWindow *
show (LanlanConversation *conversation)
{
  LanlanWindow *window = lanlan_window_new (GTK_APPLICATION (app), conversation);

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
test_failed_then_resent (void)
{
  FakeServer *server = fake_server_new ();
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 3,
                        .samples_per_delta = 240, .text_only = TRUE };
  g_autoptr(LanlanCharacter) c = new_character ("Resend", server);
  g_autoptr(LanlanConversation) conversation = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  LanlanWindow *window;
  LanlanMessage *message;
  Expect e;
  g_autoptr(GError) error = NULL;

  fake_server_set_default_script (server, &script);
  lanlan_secrets_clear_sync ("custom", NULL, NULL);
  conversation = lanlan_conversation_new (c, NULL);
  wait_bool (conversation, "has-api-key", FALSE);
  window = show (conversation);

  /* No key: the message stays, marked failed, with its Resend. */
  message = lanlan_conversation_send_text (conversation, "Are you there?");
  g_assert_cmpint (lanlan_message_get_status (message), ==, LANLAN_MESSAGE_STATUS_FAILED);
  e = (Expect) { window, "Are you there?" };
  g_assert_true (test_wait_until (bubbles_are, &e, 5000));
  rows = find (window, is_row);
  g_assert_cmpuint (rows->len, >=, 1);

  /* A key arrives; Resend (the row's action, by message id) sends it. */
  g_assert_true (lanlan_secrets_store_sync ("custom", "sk-window", NULL, &error));
  g_assert_no_error (error);
  lanlan_conversation_recheck_api_key (conversation);
  wait_bool (conversation, "has-api-key", TRUE);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.resend-message", "s",
                              lanlan_message_get_id (message));
  g_assert_cmpint (lanlan_message_get_status (message), ==, LANLAN_MESSAGE_STATUS_PENDING);
  g_assert_true (test_wait_until (reply_finished, conversation, 15000));
  e = (Expect) { window, "Connected" };
  g_assert_true (test_wait_until (subtitle_is, &e, 15000));
  g_assert_cmpint (lanlan_message_get_status (message), ==, LANLAN_MESSAGE_STATUS_SENT);
  /* one message, still: resending does not copy it */
  g_assert_cmpuint (g_list_model_get_n_items (lanlan_conversation_get_messages (conversation)), ==, 2);

  gtk_window_destroy (GTK_WINDOW (window));
  lanlan_conversation_end (conversation);
  fake_server_free (server);
}

static void
test_refused_key_banner (void)
{
  FakeServer *server = fake_server_new ();
  g_autoptr(LanlanCharacter) c = new_character ("Banner", server);
  g_autoptr(LanlanConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;
  LanlanWindow *window;
  LanlanMessage *message;
  Expect e;

  g_assert_true (lanlan_secrets_store_sync ("custom", "sk-wrong", NULL, &error));
  fake_server_set_expected_key (server, "sk-right");
  conversation = lanlan_conversation_new (c, NULL);
  wait_bool (conversation, "has-api-key", TRUE);
  window = show (conversation);
  g_assert_null (banner (window));

  message = lanlan_conversation_send_text (conversation, "Hello?");
  e = (Expect) { window, NULL };
  g_assert_true (test_wait_until (has_error, conversation, 15000));
  g_assert_true (g_error_matches (lanlan_conversation_get_error (conversation),
                                  LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_AUTH));
  g_assert_nonnull (banner (window));
  g_assert_true (g_str_has_prefix (banner (window), "The service refused the API key"));
  g_assert_cmpint (lanlan_message_get_status (message), ==, LANLAN_MESSAGE_STATUS_FAILED);

  /* The right key ends the condition, and the banner goes with it. */
  g_assert_true (lanlan_secrets_store_sync ("custom", "sk-right", NULL, &error));
  lanlan_conversation_recheck_api_key (conversation);
  g_assert_true (test_wait_until (banner_is, &e, 10000));

  gtk_window_destroy (GTK_WINDOW (window));
  lanlan_conversation_end (conversation);
  fake_server_free (server);
}

static void
test_transcript_outlives_window (void)
{
  FakeServer *server = fake_server_new ();
  FakeScript script = { .on_response = FAKE_RESPONSE_STREAM, .n_deltas = 4,
                        .samples_per_delta = 240, .text_only = TRUE };
  g_autoptr(LanlanCharacter) c = new_character ("Outlive", server);
  g_autoptr(LanlanConversation) conversation = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *answer = NULL;
  LanlanWindow *window;
  Expect e;

  fake_server_set_default_script (server, &script);
  g_assert_true (lanlan_secrets_store_sync ("custom", "sk-window", NULL, &error));
  conversation = lanlan_conversation_new (c, NULL);
  wait_bool (conversation, "has-api-key", TRUE);
  window = show (conversation);
  g_assert_cmpstr (subtitle (window), ==, "Not connected");

  lanlan_conversation_send_text (conversation, "Hi");
  g_assert_true (test_wait_until (reply_finished, conversation, 15000));
  e = (Expect) { window, "Connected" };
  g_assert_true (test_wait_until (subtitle_is, &e, 15000));
  g_assert_cmpuint (g_list_model_get_n_items (lanlan_conversation_get_messages (conversation)), ==, 2);
  {
    g_autoptr(LanlanMessage) reply = g_list_model_get_item (lanlan_conversation_get_messages (conversation), 1);

    g_assert_cmpint (lanlan_message_get_role (reply), ==, LANLAN_MESSAGE_ROLE_ASSISTANT);
    answer = g_strdup (lanlan_message_get_text (reply));
  }
  expected = g_strdup_printf ("Hi|%s", answer);
  e = (Expect) { window, expected };
  g_assert_true (test_wait_until (bubbles_are, &e, 5000));

  /* Closing the window ends nothing; a new one shows the same. */
  gtk_window_destroy (GTK_WINDOW (window));
  iterate (50);
  window = show (conversation);
  e = (Expect) { window, expected };
  g_assert_true (test_wait_until (bubbles_are, &e, 5000));

  /* Two windows of one conversation both follow it. */
  {
    LanlanWindow *second = show (conversation);
    g_autofree char *more = g_strdup_printf ("%s|Again", expected);

    lanlan_conversation_end (conversation);
    lanlan_secrets_clear_sync ("custom", NULL, NULL);
    lanlan_conversation_recheck_api_key (conversation);
    wait_bool (conversation, "has-api-key", FALSE);
    lanlan_conversation_send_text (conversation, "Again");
    e = (Expect) { second, more };
    g_assert_true (test_wait_until (bubbles_are, &e, 5000));
    e = (Expect) { window, more };
    g_assert_true (test_wait_until (bubbles_are, &e, 5000));
    gtk_window_destroy (GTK_WINDOW (second));
  }

  gtk_window_destroy (GTK_WINDOW (window));
  fake_server_free (server);
}

static void
test_rows_recycled_and_level_meter (void)
{
  FakeServer *server = fake_server_new ();
  g_autoptr(LanlanCharacter) c = new_character ("Many", server);
  g_autoptr(LanlanConversation) conversation = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  GtkWidget *level_bar = NULL;
  LanlanWindow *window;

  lanlan_secrets_clear_sync ("custom", NULL, NULL);
  conversation = lanlan_conversation_new (c, NULL);
  wait_bool (conversation, "has-api-key", FALSE);
  window = show (conversation);

  /* 2000 failed messages (and as many "not sent" toasts, which stay
   * one toast): the list keeps a bounded set of recycled rows, which
   * does not grow with the conversation. */
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      lanlan_conversation_send_text (conversation, text);
    }
  iterate (300);
  rows = find (window, is_row);
  g_test_message ("%u rows for 2000 messages", rows->len);
  g_assert_cmpuint (rows->len, >, 0);
  /* GTK 4.8 keeps up to 200 list items around the visible ones */
  g_assert_cmpuint (rows->len, <, 260);
  for (guint i = 0; i < 2000; i++)
    lanlan_conversation_send_text (conversation, "more");
  iterate (300);
  {
    g_autoptr(GPtrArray) after = find (window, is_row);

    g_test_message ("%u rows for 4000 messages", after->len);
    g_assert_cmpuint (after->len, <=, rows->len + 8);
  }

  /* The level meter shows only while the microphone is on. */
  {
    g_autoptr(GPtrArray) bars = find (window, is_level_bar);

    g_assert_cmpuint (bars->len, ==, 1);
    level_bar = g_ptr_array_index (bars, 0);
  }
  g_assert_false (gtk_widget_get_visible (level_bar));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-microphone", NULL);
  g_assert_true (lanlan_conversation_get_microphone_active (conversation));
  g_assert_true (gtk_widget_get_visible (level_bar));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-microphone", NULL);
  g_assert_false (lanlan_conversation_get_microphone_active (conversation));
  g_assert_false (gtk_widget_get_visible (level_bar));

  gtk_window_destroy (GTK_WINDOW (window));
  fake_server_free (server);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  app = lanlan_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/window/failed-then-resent", test_failed_then_resent);
  g_test_add_func ("/window/refused-key-banner", test_refused_key_banner);
  g_test_add_func ("/window/transcript-outlives-window", test_transcript_outlives_window);
  g_test_add_func ("/window/rows-recycled-and-level-meter", test_rows_recycled_and_level_meter);

  ret = g_test_run ();
  g_clear_object (&app);
  return ret;
}
