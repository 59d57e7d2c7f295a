/* test-image-describer.c — a vision model describes what a character
 * without eyes is shown
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "lanlan-fake-chat-server.h"
#include "lanlan-image-describer.h"

static GBytes *
small_jpeg (void)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  char *buffer = NULL;
  gsize size = 0;

  gdk_pixbuf_fill (pixbuf, 0xdd2211ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "jpeg", NULL, "quality", "75", NULL));
  return g_bytes_new_take (buffer, size);
}

typedef struct {
  gboolean  done;
  char     *text;
  GError   *error;
} Result;

static void
on_described (GObject      *source,
              GAsyncResult *res,
              gpointer      data)
{
  Result *r = data;

  r->text = lanlan_image_describer_describe_finish (LANLAN_IMAGE_DESCRIBER (source), res, &r->error);
  r->done = TRUE;
}

static void
describe (FakeChatServer *server,
          const char     *model,
          Result         *r)
{
  g_autofree char *url = fake_chat_server_get_base_url (server);
  g_autoptr(LanlanChatClient) client = lanlan_chat_client_new ("Vision", url, "sk-vision");
  g_autoptr(LanlanImageDescriber) describer = lanlan_image_describer_new (client, model);
  g_autoptr(GBytes) jpeg = small_jpeg ();
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  lanlan_image_describer_describe_async (describer, jpeg, "ja", NULL, on_described, r);
  while (!r->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (r->done);
}

static void
test_describes_with_vision_model (void)
{
  FakeChatServer *server = fake_chat_server_new ();
  FakeChatScript script = { .mode = FAKE_CHAT_STREAM, .reply = "A red card on a desk." };
  g_autofree char *request = NULL;
  g_autofree char *wrapped = NULL;
  Result r = { 0 };

  fake_chat_server_add_model (server, "eyes-1", TRUE);
  fake_chat_server_set_expected_key (server, "sk-vision");
  fake_chat_server_set_default_script (server, &script);

  describe (server, "eyes-1", &r);
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.text, ==, "A red card on a desk.");

  request = fake_chat_server_dup_request (server, 0);
  g_assert_nonnull (strstr (request, "\"image_url\""));
  g_assert_nonnull (strstr (request, "data:image/jpeg;base64,"));
  g_assert_nonnull (strstr (request, "\"model\":\"eyes-1\""));
  g_assert_nonnull (strstr (request, "“ja”"));

  wrapped = lanlan_image_describer_wrap (r.text);
  g_assert_true (g_str_has_suffix (wrapped, "\nA red card on a desk."));
  g_free (r.text);
  fake_chat_server_free (server);
}

/* A model without vision: the server refuses the picture, as a real
 * one does, and the error says so. */
static void
test_model_without_vision_refused (void)
{
  FakeChatServer *server = fake_chat_server_new ();
  FakeChatScript script = { .mode = FAKE_CHAT_STREAM, .reply = "never" };
  Result r = { 0 };

  fake_chat_server_add_model (server, "blind-1", FALSE);
  fake_chat_server_set_default_script (server, &script);
  describe (server, "blind-1", &r);
  g_assert_null (r.text);
  g_assert_nonnull (r.error);
  g_test_message ("refused: %s", r.error->message);
  g_assert_cmpuint (fake_chat_server_get_status (server, 0), >=, 400);
  g_clear_error (&r.error);
  fake_chat_server_free (server);
}

static void
test_empty_answer_is_an_error (void)
{
  FakeChatServer *server = fake_chat_server_new ();
  FakeChatScript script = { .mode = FAKE_CHAT_STREAM, .reply = "   " };
  Result r = { 0 };

  fake_chat_server_add_model (server, "eyes-1", TRUE);
  fake_chat_server_set_default_script (server, &script);
  describe (server, "eyes-1", &r);
  g_assert_null (r.text);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&r.error);
  fake_chat_server_free (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vision/describer/describes", test_describes_with_vision_model);
  g_test_add_func ("/vision/describer/no-vision-refused", test_model_without_vision_refused);
  g_test_add_func ("/vision/describer/empty-answer", test_empty_answer_is_an_error);
  return g_test_run ();
}
