/* lanlan-crash-report.c — a backtrace in the test log when a test crashes
 *
 * Preloaded (LD_PRELOAD) by tests/harness/lanlan-test-env into the test
 * command and what it starts, in builds without sanitizers (ASan and
 * UBSan print their own reports) and not under valgrind. On SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE or SIGABRT it writes to stderr the crashing
 * thread's stack (glibc's backtrace_symbols_fd(): nothing allocated in
 * the handler) and then, if gdb is on PATH, every thread's stack with
 * symbols and line numbers from gdb attached to the dying process; then
 * it dies of the same signal, so the test fails as it would have.
 * LANLAN_TEST_GDB=0 skips gdb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

/* Everything the handler needs, made in advance. */
static char   gdb_path[4096];
static char   timeout_path[4096];
static char   pid_arg[32];
static char  *gdb_argv[20];
static char **gdb_envp;
static int    handling;

static const char *
signal_name (int sig)
{
  switch (sig)
    {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS:  return "SIGBUS";
    case SIGILL:  return "SIGILL";
    case SIGFPE:  return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default:      return "fatal signal";
    }
}

static void
put (const char *s)
{
  ssize_t ignored = write (STDERR_FILENO, s, strlen (s));
  (void) ignored;
}

static void
put_number (long n)
{
  char buf[24];
  int i = sizeof buf;

  buf[--i] = '\0';
  if (n == 0)
    buf[--i] = '0';
  while (n > 0 && i > 0)
    {
      buf[--i] = (char) ('0' + n % 10);
      n /= 10;
    }
  put (buf + i);
}

static void
run_gdb (void)
{
  pid_t child;

  if (gdb_path[0] == '\0')
    return;

  /* Yama may allow only ancestors to attach; gdb here is a child. */
  prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  child = _Fork ();   /* async-signal-safe, unlike fork() */
  if (child == 0)
    {
      dup2 (STDERR_FILENO, STDOUT_FILENO);   /* stdout may be TAP */
      execve (gdb_argv[0], gdb_argv, gdb_envp);
      _exit (127);
    }
  if (child > 0)
    while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
      ;
}

static void
on_fatal (int sig)
{
  void *frames[64];
  int n;

  /* A second thread crashing meanwhile just dies. */
  if (__atomic_fetch_add (&handling, 1, __ATOMIC_SEQ_CST) > 0)
    {
      signal (sig, SIG_DFL);
      raise (sig);
      return;
    }

  put ("\n*** lanlan-crash-report: ");
  put (signal_name (sig));
  put (" in process ");
  put_number ((long) getpid ());
  put (", thread ");
  put_number ((long) syscall (SYS_gettid));
  put ("; its stack:\n");
  n = backtrace (frames, (int) (sizeof frames / sizeof frames[0]));
  backtrace_symbols_fd (frames, n, STDERR_FILENO);
  if (gdb_path[0] != '\0')
    put ("*** every thread, from gdb:\n");
  run_gdb ();
  put ("*** end of lanlan-crash-report\n");

  signal (sig, SIG_DFL);
  raise (sig);
}

static int
find_program (const char *name,
              char       *out,
              size_t      size)
{
  const char *path = getenv ("PATH");

  while (path != NULL && *path != '\0')
    {
      const char *end = strchr (path, ':');
      size_t len = end ? (size_t) (end - path) : strlen (path);

      if (len > 0 && (size_t) snprintf (out, size, "%.*s/%s", (int) len, path, name) < size &&
          access (out, X_OK) == 0)
        return 1;
      path = end ? end + 1 : NULL;
    }
  out[0] = '\0';
  return 0;
}

static void
prepare_gdb (void)
{
  const char *want = getenv ("LANLAN_TEST_GDB");
  size_t n_env = 0, j = 0;
  int i = 0;

  if ((want != NULL && strcmp (want, "0") == 0) ||
      !find_program ("gdb", gdb_path, sizeof gdb_path))
    return;

  /* gdb gets the environment without this library. */
  while (environ[n_env] != NULL)
    n_env++;
  gdb_envp = calloc (n_env + 1, sizeof (char *));
  if (gdb_envp == NULL)
    {
      gdb_path[0] = '\0';
      return;
    }
  for (size_t k = 0; k < n_env; k++)
    if (strncmp (environ[k], "LD_PRELOAD=", 11) != 0)
      gdb_envp[j++] = environ[k];

  snprintf (pid_arg, sizeof pid_arg, "%ld", (long) getpid ());
  if (find_program ("timeout", timeout_path, sizeof timeout_path))
    {
      gdb_argv[i++] = timeout_path;
      gdb_argv[i++] = "120";
    }
  gdb_argv[i++] = gdb_path;
  gdb_argv[i++] = "-batch";
  gdb_argv[i++] = "-nx";
  gdb_argv[i++] = "-q";
  gdb_argv[i++] = "-p";
  gdb_argv[i++] = pid_arg;
  gdb_argv[i++] = "-ex";
  gdb_argv[i++] = "info threads";
  gdb_argv[i++] = "-ex";
  gdb_argv[i++] = "thread apply all bt 40";
  gdb_argv[i] = NULL;
}

__attribute__((constructor)) static void
lanlan_crash_report_init (void)
{
  void *frame;
  struct sigaction sa;

  /* The first backtrace() loads libgcc_s (allocates): not in the handler. */
  backtrace (&frame, 1);
  prepare_gdb ();

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset (&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
    {
      struct sigaction old;

      /* A program that set its own handler (or ignores it) keeps it. */
      if (sigaction (fatal_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        sigaction (fatal_signals[i], &sa, NULL);
    }
}
