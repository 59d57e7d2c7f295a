/* vision-test-util.h — a test video node and the stand-in portal
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <signal.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

/* Children die with the test, even when an assertion aborts it, so the
 * harness never waits on a leftover video source or portal. */
static inline void
vision_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static inline GSubprocess *
vision_spawn (GError **error, const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);

  g_subprocess_launcher_set_child_setup (launcher, vision_child_setup, NULL, NULL);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

/* Waits on the default main context for *flag, at most timeout_s. */
static inline gboolean
vision_wait_for (gboolean *flag,
                 guint     timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (2000), TRUE);
  return *flag;
}

static inline void
vision_sleep (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (2000), TRUE);
}

/* A 1080p moving test picture as a PipeWire Video/Source node named
 * @node_name, from GStreamer's videotestsrc through pipewiresink. */
static inline GSubprocess *
vision_start_test_source (const char *node_name,
                          guint       width,
                          guint       height)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *caps = g_strdup_printf ("video/x-raw,format=BGRx,width=%u,height=%u,framerate=15/1",
                                           width, height);
  g_autofree char *props = g_strdup_printf ("stream-properties=props,media.class=Video/Source,node.name=%s",
                                            node_name);
  g_autofree char *client = g_strdup_printf ("client-name=%s", node_name);
  const char *argv[] = { "gst-launch-1.0", "-q", "videotestsrc", "pattern=ball", "is-live=true",
                         "!", caps, "!", "pipewiresink", "mode=provide", client, props, NULL };
  GSubprocess *p = vision_spawn (&error, argv);
  g_assert_no_error (error);
  return p;
}

/* Polls pw-dump until the node exists. */
static inline gboolean
vision_wait_for_node (const char *node_name,
                      guint       timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  g_autofree char *needle = g_strdup_printf ("\"node.name\": \"%s\"", node_name);

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *out = NULL;

      if (g_spawn_command_line_sync ("pw-dump", &out, NULL, NULL, NULL) && out != NULL &&
          strstr (out, needle) != NULL)
        return TRUE;
      g_usleep (100000);
    }
  return FALSE;
}

static inline GdkPixbuf *
vision_decode_jpeg (GBytes *jpeg)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new_with_type ("jpeg", NULL);
  g_autoptr(GError) error = NULL;
  GdkPixbuf *pixbuf;

  g_assert_nonnull (loader);
  g_assert_true (gdk_pixbuf_loader_write_bytes (loader, jpeg, &error));
  g_assert_no_error (error);
  g_assert_true (gdk_pixbuf_loader_close (loader, &error));
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  g_assert_nonnull (pixbuf);
  return g_object_ref (pixbuf);
}
