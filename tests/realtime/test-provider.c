/* test-provider.c — where each service's REST API is, and with which chat model
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lanlan-provider.h"
#include "lanlan-realtime-events.h"

static void
assert_http_url (const char *provider_id,
                 const char *base_url,
                 const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url =
    lanlan_provider_build_http_url (provider_id ? lanlan_provider_lookup (provider_id) : NULL,
                                    base_url, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (url, ==, expected);
}

static void
assert_http_url_fails (const char *provider_id,
                       const char *base_url)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url =
    lanlan_provider_build_http_url (provider_id ? lanlan_provider_lookup (provider_id) : NULL,
                                    base_url, &error);

  g_assert_null (url);
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
}

static void
test_http_url_services (void)
{
  assert_http_url ("openai", NULL, "https://api.openai.com/v1");
  assert_http_url ("openai", "", "https://api.openai.com/v1");
  assert_http_url ("qwen", NULL, "https://dashscope.aliyuncs.com/compatible-mode/v1");
  assert_http_url ("glm", NULL, "https://open.bigmodel.cn/api/paas/v4");
  assert_http_url ("stepfun", NULL, "https://api.stepfun.com/v1");
  /* The default provider (empty id) is OpenAI. */
  assert_http_url ("", NULL, "https://api.openai.com/v1");
  /* A base-url overrides a service's own endpoint. */
  assert_http_url ("openai", "wss://proxy.example/v1/realtime", "https://proxy.example/v1");
}

static void
test_http_url_derived (void)
{
  assert_http_url ("custom", "ws://127.0.0.1:9/v1/realtime", "http://127.0.0.1:9/v1");
  assert_http_url ("custom", "wss://host.example/v1/realtime?model=m&x=1", "https://host.example/v1");
  assert_http_url ("custom", "WSS://host.example/v1/realtime/", "https://host.example/v1");
  assert_http_url ("custom", "ws://host/v1/realtime#frag", "http://host/v1");
  assert_http_url ("custom-text", "ws://host:8080/api", "http://host:8080/api");
  /* Only a final /realtime goes. */
  assert_http_url ("custom", "ws://host/realtime/v1", "http://host/realtime/v1");
  /* Already an HTTP base: kept, tidied. */
  assert_http_url ("custom", "https://host/v1/", "https://host/v1");
  assert_http_url ("custom", "http://host/v1?x=y", "http://host/v1");
  /* A service not in the table still gets its address derived. */
  assert_http_url (NULL, "ws://host/v1/realtime", "http://host/v1");
}

static void
test_http_url_errors (void)
{
  assert_http_url_fails ("custom", NULL);
  assert_http_url_fails ("custom-beta", "");
  assert_http_url_fails (NULL, NULL);
  assert_http_url_fails ("custom", "ftp://host/v1");
  assert_http_url_fails ("custom", "not a url");
}

static void
test_chat_model (void)
{
  const LanlanProvider *openai = lanlan_provider_lookup ("openai");
  const LanlanProvider *qwen = lanlan_provider_lookup ("qwen");
  const LanlanProvider *custom = lanlan_provider_lookup ("custom");
  const LanlanProvider *text = lanlan_provider_lookup ("custom-text");

  /* At a service's own endpoint, its chat model: the character's model is
   * a realtime one. */
  g_assert_cmpstr (lanlan_provider_get_chat_model (openai, NULL, "gpt-realtime"), ==, "gpt-4o-mini");
  g_assert_cmpstr (lanlan_provider_get_chat_model (qwen, "", "qwen3-omni-flash-realtime"), ==, "qwen-plus");
  g_assert_cmpstr (lanlan_provider_get_chat_model (lanlan_provider_lookup ("glm"), NULL, NULL), ==, "glm-4-flash");
  g_assert_cmpstr (lanlan_provider_get_chat_model (lanlan_provider_lookup ("stepfun"), NULL, "step-audio-2"), ==, "step-1-8k");
  /* Elsewhere the character's model, unless it is a realtime one. */
  g_assert_cmpstr (lanlan_provider_get_chat_model (custom, "ws://h/v1", "llama3"), ==, "llama3");
  g_assert_cmpstr (lanlan_provider_get_chat_model (text, "ws://h/v1", "qwen2.5:7b"), ==, "qwen2.5:7b");
  g_assert_cmpstr (lanlan_provider_get_chat_model (custom, "ws://h/v1", "gpt-realtime"), ==, "gpt-4o-mini");
  g_assert_cmpstr (lanlan_provider_get_chat_model (custom, "ws://h/v1", ""), ==, "gpt-4o-mini");
  g_assert_cmpstr (lanlan_provider_get_chat_model (NULL, "ws://h/v1", NULL), ==, "gpt-4o-mini");
  g_assert_cmpstr (lanlan_provider_get_chat_model (qwen, "wss://proxy/v1/realtime", "qwen3-omni-flash-realtime"),
                   ==, "qwen-plus");
  g_assert_cmpstr (lanlan_provider_get_chat_model (openai, "wss://proxy/v1/realtime", "gpt-4.1"), ==, "gpt-4.1");
}

static void
test_chat_endpoint_for_character (void)
{
  g_autoptr(LanlanCharacter) character = lanlan_character_new ("Lanlan");
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *model = NULL;

  lanlan_character_set_provider (character, "qwen");
  lanlan_character_set_model (character, "qwen3-omni-flash-realtime");
  g_assert_true (lanlan_provider_get_chat_endpoint (character, &url, &model, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (url, ==, "https://dashscope.aliyuncs.com/compatible-mode/v1");
  g_assert_cmpstr (model, ==, "qwen-plus");
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&model, g_free);

  lanlan_character_set_provider (character, "custom-text");
  lanlan_character_set_base_url (character, "ws://127.0.0.1:8080/v1/realtime?model=x");
  lanlan_character_set_model (character, "mistral-small");
  g_assert_true (lanlan_provider_get_chat_endpoint (character, &url, NULL, &error));
  g_assert_cmpstr (url, ==, "http://127.0.0.1:8080/v1");
  g_clear_pointer (&url, g_free);
  g_assert_true (lanlan_provider_get_chat_endpoint (character, &url, &model, &error));
  g_assert_cmpstr (model, ==, "mistral-small");
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&model, g_free);

  lanlan_character_set_provider (character, "custom");
  lanlan_character_set_base_url (character, "");
  g_assert_false (lanlan_provider_get_chat_endpoint (character, &url, &model, &error));
  g_assert_error (error, LANLAN_REALTIME_ERROR, LANLAN_REALTIME_ERROR_CONFIG);
  g_assert_null (url);
  g_assert_null (model);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/provider/http-url/services", test_http_url_services);
  g_test_add_func ("/provider/http-url/derived", test_http_url_derived);
  g_test_add_func ("/provider/http-url/errors", test_http_url_errors);
  g_test_add_func ("/provider/chat-model", test_chat_model);
  g_test_add_func ("/provider/chat-endpoint", test_chat_endpoint_for_character);
  return g_test_run ();
}
