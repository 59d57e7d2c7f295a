/* lanlan-audio-private.c — helpers shared by the PipeWire objects in src/audio
 *
 * pw_init() must run once per process before any PipeWire call; every
 * object here goes through lanlan_audio_ensure_pipewire() first.
 *
 * LanlanPwClient keeps one object's connection to the daemon, and makes
 * it again when the daemon comes back (see the header).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>

#include <glib/gi18n.h>
#include <pipewire/pipewire.h>

#include "lanlan-audio-playback.h"
#include "lanlan-audio-private.h"

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS   5000

void
lanlan_audio_ensure_pipewire (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      pw_init (NULL, NULL);
      g_once_init_leave (&initialized, 1);
    }
}

/* What the main context's notify needs; outlives the client while a
 * notification is queued. */
typedef struct {
  gatomicrefcount  ref_count;
  GRecMutex        lock;
  GObject         *owner;      /* NULL once the client is freed */
  GParamSpec      *available_pspec;
  GParamSpec      *error_pspec;
} Link;

static Link *
link_ref (Link *link)
{
  g_atomic_ref_count_inc (&link->ref_count);
  return link;
}

static void
link_unref (gpointer data)
{
  Link *link = data;

  if (g_atomic_ref_count_dec (&link->ref_count))
    {
      g_rec_mutex_clear (&link->lock);
      g_free (link);
    }
}

struct _LanlanPwClient
{
  struct pw_thread_loop *tloop;
  struct pw_context     *context;
  struct pw_core        *core;
  struct spa_hook        core_listener;
  struct spa_source     *retry_timer;
  gboolean               retry_armed;
  guint                  retry_ms;
  gboolean               has_stream;

  const LanlanPwClientFuncs *funcs;
  gpointer                   data;

  GMainContext *main_context;
  Link         *link;

  GMutex    state_lock;
  gboolean  available;
  char     *error;
};

static gboolean
notify_cb (gpointer data)
{
  Link *link = data;

  g_rec_mutex_lock (&link->lock);
  if (link->owner != NULL)
    {
      g_object_freeze_notify (link->owner);
      g_object_notify_by_pspec (link->owner, link->available_pspec);
      if (link->error_pspec)
        g_object_notify_by_pspec (link->owner, link->error_pspec);
      g_object_thaw_notify (link->owner);
    }
  g_rec_mutex_unlock (&link->lock);

  return G_SOURCE_REMOVE;
}

static void
set_state (LanlanPwClient *c,
           gboolean        available,
           const char     *message)
{
  gboolean changed;

  g_mutex_lock (&c->state_lock);
  changed = c->available != available || g_strcmp0 (c->error, message) != 0;
  c->available = available;
  g_free (c->error);
  c->error = g_strdup (message);
  g_mutex_unlock (&c->state_lock);

  if (changed)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_name (source, "[lanlan] audio availability");
      g_source_set_callback (source, notify_cb, link_ref (c->link), link_unref);
      g_source_attach (source, c->main_context);
    }
}

static void
arm_retry (LanlanPwClient *c)
{
  struct timespec ts = {
    .tv_sec = c->retry_ms / 1000,
    .tv_nsec = (long) (c->retry_ms % 1000) * SPA_NSEC_PER_MSEC,
  };

  if (c->retry_armed)
    return;
  c->retry_armed = TRUE;
  pw_loop_update_timer (pw_thread_loop_get_loop (c->tloop), c->retry_timer, &ts, NULL, false);
}

static void
on_core_error (void       *data,
               uint32_t    id,
               int         seq,
               int         res,
               const char *message)
{
  LanlanPwClient *c = data;

  if (id == PW_ID_CORE && res == -EPIPE)
    lanlan_pw_client_lost (c, _("The connection to PipeWire was lost"));
}

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .error = on_core_error,
};

/* Loop locked. */
static void
drop_locked (LanlanPwClient *c)
{
  if (c->has_stream)
    c->funcs->disconnect (c->data);
  c->has_stream = FALSE;
  if (c->core != NULL)
    {
      spa_hook_remove (&c->core_listener);
      pw_core_disconnect (c->core);
      c->core = NULL;
    }
}

/* Loop locked. */
static gboolean
connect_locked (LanlanPwClient  *c,
                char           **message)
{
  g_autoptr(GError) error = NULL;

  c->core = pw_context_connect (c->context, NULL, 0);
  if (c->core == NULL)
    {
      int saved = errno;

      /* No socket, or nobody behind it. */
      if (saved == EHOSTDOWN || saved == ENOENT || saved == ECONNREFUSED)
        *message = g_strdup (_("The sound server (PipeWire) is not running"));
      else
        *message = g_strdup_printf (_("Could not connect to PipeWire: %s"), g_strerror (saved));
      return FALSE;
    }
  spa_zero (c->core_listener);
  pw_core_add_listener (c->core, &c->core_listener, &core_events, c);

  if (!c->funcs->connect (c->data, c->core, &error))
    {
      *message = g_strdup (error->message);
      drop_locked (c);
      return FALSE;
    }
  c->has_stream = TRUE;
  return TRUE;
}

static void
on_retry (void     *data,
          uint64_t  expirations)
{
  LanlanPwClient *c = data;
  g_autofree char *message = NULL;

  c->retry_armed = FALSE;
  drop_locked (c);
  if (connect_locked (c, &message))
    {
      set_state (c, TRUE, NULL);
      return;
    }

  set_state (c, FALSE, message);
  c->retry_ms = MIN (c->retry_ms * 2, RETRY_MAX_MS);
  arm_retry (c);
}

/**
 * lanlan_pw_client_new:
 * @thread_name: name of the loop thread
 * @owner: the object whose properties announce availability
 * @available_pspec: its boolean "available" property
 * @error_pspec: (nullable): its string "error" property
 * @funcs: makes and drops the owner's stream
 *
 * Makes the loop and the context, without connecting yet: lock the loop
 * to add sources to it, then call lanlan_pw_client_start().
 *
 * Returns: (nullable): the client, or %NULL with @error set when the
 *   loop or the context cannot be made.
 */
LanlanPwClient *
lanlan_pw_client_new (const char                *thread_name,
                      GObject                   *owner,
                      GParamSpec                *available_pspec,
                      GParamSpec                *error_pspec,
                      const LanlanPwClientFuncs *funcs,
                      gpointer                   data,
                      GError                   **error)
{
  LanlanPwClient *c;

  lanlan_audio_ensure_pipewire ();

  c = g_new0 (LanlanPwClient, 1);
  c->funcs = funcs;
  c->data = data;
  c->retry_ms = RETRY_FIRST_MS;
  c->main_context = g_main_context_ref_thread_default ();
  g_mutex_init (&c->state_lock);
  c->link = g_new0 (Link, 1);
  g_atomic_ref_count_init (&c->link->ref_count);
  g_rec_mutex_init (&c->link->lock);
  c->link->owner = owner;
  c->link->available_pspec = available_pspec;
  c->link->error_pspec = error_pspec;

  c->tloop = pw_thread_loop_new (thread_name, NULL);
  if (c->tloop == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop: %s"), g_strerror (errno));
      lanlan_pw_client_free (c);
      return NULL;
    }
  c->context = pw_context_new (pw_thread_loop_get_loop (c->tloop), NULL, 0);
  if (c->context == NULL)
    {
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not create a PipeWire context"));
      lanlan_pw_client_free (c);
      return NULL;
    }
  c->retry_timer = pw_loop_add_timer (pw_thread_loop_get_loop (c->tloop), on_retry, c);

  return c;
}

/**
 * lanlan_pw_client_start:
 *
 * Connects (or, if the daemon is not there, becomes unavailable and
 * keeps trying) and starts the loop thread.
 *
 * Returns: %FALSE with @error when the loop thread cannot start.
 */
gboolean
lanlan_pw_client_start (LanlanPwClient  *c,
                        GError         **error)
{
  g_autofree char *message = NULL;
  gboolean ok;

  pw_thread_loop_lock (c->tloop);
  ok = connect_locked (c, &message);
  set_state (c, ok, message);
  if (!ok)
    arm_retry (c);
  if (pw_thread_loop_start (c->tloop) < 0)
    {
      pw_thread_loop_unlock (c->tloop);
      g_set_error (error, LANLAN_AUDIO_ERROR, LANLAN_AUDIO_ERROR_NO_PIPEWIRE,
                   _("Could not start the PipeWire loop thread"));
      return FALSE;
    }
  pw_thread_loop_unlock (c->tloop);
  return TRUE;
}

/**
 * lanlan_pw_client_free:
 *
 * Drops the stream (the owner's disconnect() runs once more), the core
 * and the loop thread. No notification reaches the owner after this.
 */
void
lanlan_pw_client_free (LanlanPwClient *c)
{
  if (c == NULL)
    return;

  g_rec_mutex_lock (&c->link->lock);
  c->link->owner = NULL;
  g_rec_mutex_unlock (&c->link->lock);

  if (c->tloop != NULL)
    {
      pw_thread_loop_lock (c->tloop);
      drop_locked (c);
      if (c->retry_timer != NULL)
        pw_loop_destroy_source (pw_thread_loop_get_loop (c->tloop), c->retry_timer);
      pw_thread_loop_unlock (c->tloop);
      pw_thread_loop_stop (c->tloop);
      g_clear_pointer (&c->context, pw_context_destroy);
      pw_thread_loop_destroy (c->tloop);
    }

  link_unref (c->link);
  g_main_context_unref (c->main_context);
  g_mutex_clear (&c->state_lock);
  g_free (c->error);
  g_free (c);
}

struct pw_thread_loop *
lanlan_pw_client_get_thread_loop (LanlanPwClient *c)
{
  return c->tloop;
}

struct pw_context *
lanlan_pw_client_get_context (LanlanPwClient *c)
{
  return c->context;
}

struct pw_loop *
lanlan_pw_client_get_loop (LanlanPwClient *c)
{
  return pw_thread_loop_get_loop (c->tloop);
}

/**
 * lanlan_pw_client_lost:
 * @message: what the user is told
 *
 * Loop thread: the daemon or the owner's stream failed. Becomes
 * unavailable and schedules a new connection.
 */
void
lanlan_pw_client_lost (LanlanPwClient *c,
                       const char     *message)
{
  set_state (c, FALSE, message);
  arm_retry (c);
}

typedef struct {
  Link       *link;
  GParamSpec *pspec;
} Notify;

static gboolean
notify_one_cb (gpointer data)
{
  Notify *n = data;

  g_rec_mutex_lock (&n->link->lock);
  if (n->link->owner != NULL)
    g_object_notify_by_pspec (n->link->owner, n->pspec);
  g_rec_mutex_unlock (&n->link->lock);

  return G_SOURCE_REMOVE;
}

static void
notify_free (gpointer data)
{
  Notify *n = data;

  link_unref (n->link);
  g_free (n);
}

/**
 * lanlan_pw_client_notify:
 * @pspec: a property of the owner
 *
 * Any thread but the realtime one: notifies @pspec on the owner, on the
 * main context the client was made in (not once the client is freed).
 */
void
lanlan_pw_client_notify (LanlanPwClient *c,
                         GParamSpec     *pspec)
{
  g_autoptr(GSource) source = g_idle_source_new ();
  Notify *n = g_new (Notify, 1);

  n->link = link_ref (c->link);
  n->pspec = pspec;
  g_source_set_name (source, "[lanlan] audio notify");
  g_source_set_callback (source, notify_one_cb, n, notify_free);
  g_source_attach (source, c->main_context);
}

/**
 * lanlan_pw_client_ready:
 *
 * Loop thread: the owner's stream reached the graph; the next failure
 * is retried quickly again.
 */
void
lanlan_pw_client_ready (LanlanPwClient *c)
{
  c->retry_ms = RETRY_FIRST_MS;
}

gboolean
lanlan_pw_client_get_available (LanlanPwClient *c)
{
  gboolean available;

  g_mutex_lock (&c->state_lock);
  available = c->available;
  g_mutex_unlock (&c->state_lock);
  return available;
}

char *
lanlan_pw_client_dup_error (LanlanPwClient *c)
{
  char *error;

  g_mutex_lock (&c->state_lock);
  error = g_strdup (c->error);
  g_mutex_unlock (&c->state_lock);
  return error;
}
