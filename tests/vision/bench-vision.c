/* bench-vision.c — what sharing a 1080p screen costs
 *
 * A 1080p test picture (videotestsrc -> pipewiresink, 15 fps) is captured
 * the way a shared screen is: first connected but not sampled (the
 * baseline: what the open stream alone costs), then sampled at one frame
 * a second as a model is fed, then as fast as the encoder goes. Prints,
 * for each: process CPU per second, CPU per encoded frame, encode time,
 * push → main-context latency (p50/p99) and JPEG size.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/resource.h>
#include <pipewire/pipewire.h>

#include "lanlan-video-capture.h"
#include "vision-test-util.h"

typedef struct {
  LanlanVideoCapture *capture;
  GArray             *latency_us;
  GArray             *encode_us;
  gsize               bytes;
} Run;

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
on_frame (LanlanVideoCapture *capture,
          GBytes             *jpeg,
          guint               width,
          guint               height,
          Run                *run)
{
  LanlanFrameEncoderStats stats;
  gint64 v;

  lanlan_frame_encoder_get_stats (lanlan_video_capture_get_encoder (capture), &stats);
  v = stats.last_latency_us;
  g_array_append_val (run->latency_us, v);
  v = stats.last_encode_us;
  g_array_append_val (run->encode_us, v);
  run->bytes += g_bytes_get_size (jpeg);
}

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static double
percentile_ms (GArray *a, double p)
{
  if (a->len == 0)
    return 0;
  g_array_sort (a, cmp_i64);
  return g_array_index (a, gint64, MIN (a->len - 1, (guint) (p * a->len))) / 1000.0;
}

static double
measure (Run *run, guint interval_ms, guint seconds, const char *label, double baseline_cpu_per_s)
{
  double cpu0, cpu1, per_s;
  guint n;

  g_array_set_size (run->latency_us, 0);
  g_array_set_size (run->encode_us, 0);
  run->bytes = 0;
  lanlan_video_capture_set_interval (run->capture, interval_ms);
  vision_sleep (300);
  g_array_set_size (run->latency_us, 0);
  g_array_set_size (run->encode_us, 0);
  run->bytes = 0;
  cpu0 = cpu_seconds ();
  vision_sleep (seconds * 1000);
  cpu1 = cpu_seconds ();
  n = run->latency_us->len;
  per_s = (cpu1 - cpu0) / seconds;
  if (n == 0)
    g_print ("%-28s cpu %.3f s/s, no frames\n", label, per_s);
  else
    g_print ("%-28s cpu %.3f s/s  frames %3u  cpu/frame %.1f ms (%.1f ms above idle stream)  "
             "encode p50 %.1f ms  capture->main p50 %.1f p99 %.1f ms  jpeg %.0f KiB\n",
             label, per_s, n, 1000 * (cpu1 - cpu0) / n,
             1000 * (per_s - baseline_cpu_per_s) * seconds / n,
             percentile_ms (run->encode_us, 0.5),
             percentile_ms (run->latency_us, 0.5), percentile_ms (run->latency_us, 0.99),
             run->bytes / 1024.0 / n);
  return per_s;
}

int
main (int argc, char **argv)
{
  g_autoptr(GSubprocess) source = vision_start_test_source ("lanlan_bench_video", 1920, 1080);
  g_autoptr(GError) error = NULL;
  guint seconds = 4;
  const char *env = g_getenv ("LANLAN_BENCH_SECONDS");
  Run run = { 0 };
  double idle;

  if (env != NULL && atoi (env) > 0)
    seconds = atoi (env);
  if (!vision_wait_for_node ("lanlan_bench_video", 20))
    g_error ("the test video node did not appear");

  run.capture = lanlan_video_capture_new (-1, PW_ID_ANY, "lanlan_bench_video", &error);
  g_assert_no_error (error);
  run.latency_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  run.encode_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_signal_connect (run.capture, "frame", G_CALLBACK (on_frame), &run);
  vision_sleep (1000);

  g_print ("1080p BGRx source at 15 fps, %u s per line\n", seconds);
  idle = measure (&run, 0, seconds, "stream open, not sampling", 0);
  measure (&run, 1000, seconds, "1 frame/s (a model's rate)", idle);
  measure (&run, 1, seconds, "as fast as it encodes", idle);

  lanlan_video_capture_stop (run.capture);
  g_clear_object (&run.capture);
  g_array_unref (run.latency_us);
  g_array_unref (run.encode_us);
  g_subprocess_force_exit (source);
  return 0;
}
