/* lanlan-agent-bridge.c — ZeroMQ link to the local agent
 *
 * Speaks the N.E.K.O. agent event bus so an existing agent server can
 * drive Lanlan characters: we bind PUB (session events), PULL (results
 * from the agent) and PUSH (analyze requests), all on loopback or on an
 * ipc:// socket in $XDG_RUNTIME_DIR, and exchange one JSON object per
 * single-frame message.
 *
 * Everything runs on the main context, with no thread and no polling:
 * the PULL socket's ZMQ_FD is watched with a GSource. That fd is edge
 * triggered, so each wakeup reads with ZMQ_DONTWAIT until EAGAIN, and
 * re-reads ZMQ_EVENTS at the end (which re-arms the edge). A flood is
 * read in bounded batches; the rest is picked up from a low priority
 * idle so input and redraws go first.
 *
 * The peer is another process: every message is parsed defensively
 * (lanlan_agent_event_parse), and refused ones are counted and logged,
 * never fatal. Analyze requests carry an event_id that the agent must
 * acknowledge; without an ack the request is sent once more, then the
 * caller is told it failed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <glib-unix.h>
#include <zmq.h>
#include <glib/gi18n.h>

#include "lanlan-agent-bridge.h"
#include "lanlan-character.h"

#define DEFAULT_ACK_TIMEOUT_MS 1000
#define DEFAULT_MAX_BATCH      64
#define ANALYZE_ATTEMPTS       2
#define LOGGED_REFUSALS        20

/* Socket bounds. Inbound messages on PULL may be up to twice the parser's
 * limit so an oversized one is seen, counted and logged; beyond that
 * ZeroMQ drops the connection. On PUB (subscriptions) and PUSH nothing
 * but tiny control frames is legitimate inbound. */
#define PULL_MAXMSGSIZE        (2 * (int64_t) LANLAN_AGENT_MAX_MESSAGE_SIZE)
#define PULL_RCVHWM            32
#define PUB_SNDHWM             1000
#define PUB_RCVHWM             64
#define PUSH_SNDHWM            64
#define CONTROL_MAXMSGSIZE     ((int64_t) 1024)
#define CONTROL_RCVHWM         8

/* Results held for a character that is not open. */
#define MAX_HELD               64
#define MAX_HELD_BYTES         (1024 * 1024)

typedef struct {
  char             *name;
  LanlanAgentEvent *event;
  gsize             size;
} Held;

static void
held_free (gpointer data)
{
  Held *held = data;

  g_free (held->name);
  lanlan_agent_event_unref (held->event);
  g_free (held);
}

typedef struct {
  guint                 id;
  char                 *lanlan_name;  /* character callbacks */
  char                 *task_id;      /* task watchers */
  LanlanAgentEventFunc  func;
  gpointer              user_data;
  GDestroyNotify        destroy;
  gboolean              removed;
} Registration;

struct _LanlanAgentBridge
{
  GObject       parent_instance;

  GMainContext *context;
  void         *zmq_ctx;
  void         *pub;
  void         *pull;
  void         *push;
  char         *endpoints[3];

  GSource      *pull_source;
  GSource      *pub_source;
  GSource      *pub_idle;
  GSource      *drain_idle;
  GSource      *held_idle;
  GListModel   *characters;
  GPtrArray    *held;            /* Held, oldest first */
  gsize         held_bytes;
  guint         max_batch;
  guint         ack_timeout_ms;

  GPtrArray    *registrations;   /* Registration, refcounted */
  guint         next_id;
  GHashTable   *pending;         /* event_id -> GTask */

  guint64       n_received;
  guint64       n_dispatched;
  guint64       n_malformed;
  guint64       n_unknown;
  guint64       n_unrouted;
  guint64       n_stray_acks;
  guint64       n_ignored;
  guint64       n_oversized;
  guint64       n_held;
  guint64       n_held_dropped;
  guint64       n_publish_dropped;
  guint64       n_analyze_dropped;
  guint64       n_subscriptions;
  guint64       n_subscribers_cut;
  GHashTable   *subscribers;     /* fd -> subscription frames */
};

G_DEFINE_FINAL_TYPE (LanlanAgentBridge, lanlan_agent_bridge, G_TYPE_OBJECT)

enum {
  SIGNAL_EVENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void schedule_drain (LanlanAgentBridge *self);

/* --- registrations ------------------------------------------------------ */

static void
registration_clear (gpointer data)
{
  Registration *reg = data;

  if (reg->destroy)
    reg->destroy (reg->user_data);
  g_free (reg->lanlan_name);
  g_free (reg->task_id);
}

static void
registration_unref (gpointer data)
{
  g_rc_box_release_full (data, registration_clear);
}

static gpointer
registration_ref (gconstpointer data,
                  gpointer      user_data)
{
  return g_rc_box_acquire ((gpointer) data);
}

static guint
add_registration (LanlanAgentBridge    *self,
                  const char           *lanlan_name,
                  const char           *task_id,
                  LanlanAgentEventFunc  func,
                  gpointer              user_data,
                  GDestroyNotify        destroy)
{
  Registration *reg = g_rc_box_new0 (Registration);

  reg->id = ++self->next_id;
  reg->lanlan_name = g_strdup (lanlan_name);
  reg->task_id = g_strdup (task_id);
  reg->func = func;
  reg->user_data = user_data;
  reg->destroy = destroy;
  g_ptr_array_add (self->registrations, reg);
  return reg->id;
}

/* --- endpoints ---------------------------------------------------------- */

static gboolean
tcp_host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *bare = NULL;
  gsize len = strlen (host);

  if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
    bare = g_strndup (host + 1, len - 2);
  else
    bare = g_strdup (host);

  address = g_inet_address_new_from_string (bare);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

static gboolean
port_is_valid (const char *port)
{
  guint64 value;

  if (g_str_equal (port, "*"))
    return TRUE;
  return g_ascii_string_to_unsigned (port, 10, 0, 65535, &value, NULL);
}

/**
 * lanlan_agent_endpoint_is_allowed:
 * @endpoint: a ZeroMQ endpoint
 * @error: why it is refused
 *
 * Only loopback TCP (127.0.0.0/8 or [::1], numeric) and ipc:// sockets
 * inside $XDG_RUNTIME_DIR are allowed: the bus has no authentication, so
 * it must never be reachable from another machine or another user.
 */
gboolean
lanlan_agent_endpoint_is_allowed (const char  *endpoint,
                                  GError     **error)
{
  g_return_val_if_fail (endpoint != NULL, FALSE);

  if (strchr (endpoint, ';') == NULL && g_str_has_prefix (endpoint, "tcp://"))
    {
      const char *rest = endpoint + strlen ("tcp://");
      const char *colon = strrchr (rest, ':');
      g_autofree char *host = NULL;

      if (colon != NULL && port_is_valid (colon + 1))
        {
          host = g_strndup (rest, colon - rest);
          if (tcp_host_is_loopback (host))
            return TRUE;
        }

      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT,
                   _("Agent endpoint “%s” is refused: only numeric loopback addresses such as tcp://127.0.0.1:PORT are allowed"),
                   endpoint);
      return FALSE;
    }

  if (g_str_has_prefix (endpoint, "ipc://"))
    {
      const char *path = endpoint + strlen ("ipc://");
      const char *runtime = g_get_user_runtime_dir ();
      g_autofree char *canonical = NULL;
      g_autofree char *runtime_canonical = NULL;

      if (g_path_is_absolute (path) && runtime != NULL && g_path_is_absolute (runtime))
        {
          canonical = g_canonicalize_filename (path, NULL);
          runtime_canonical = g_canonicalize_filename (runtime, NULL);
          if (g_str_has_prefix (canonical, runtime_canonical) &&
              canonical[strlen (runtime_canonical)] == G_DIR_SEPARATOR &&
              strstr (path, "/../") == NULL)
            return TRUE;
        }

      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT,
                   _("Agent endpoint “%s” is refused: ipc:// sockets must be inside %s"),
                   endpoint, runtime ? runtime : "$XDG_RUNTIME_DIR");
      return FALSE;
    }

  g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT,
               _("Agent endpoint “%s” is refused: use tcp://127.0.0.1:PORT or ipc:// in $XDG_RUNTIME_DIR"),
               endpoint);
  return FALSE;
}

static void *
open_socket (LanlanAgentBridge  *self,
             int                 type,
             const char         *endpoint,
             char              **bound_out,
             GError            **error)
{
  void *sock = zmq_socket (self->zmq_ctx, type);
  int linger = 0;
  char last[1024];
  size_t last_len = sizeof last;

  if (sock == NULL)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   "Could not create a ZeroMQ socket: %s", zmq_strerror (errno));
      return NULL;
    }

  /* Closing must never block the UI; delivery is confirmed by acks. */
  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);

  /* Every socket is bounded: what a peer may send us (ZMQ_MAXMSGSIZE,
   * ZMQ_RCVHWM) and what may wait for a slow peer (ZMQ_SNDHWM). */
  {
    int64_t max_size = type == ZMQ_PULL ? PULL_MAXMSGSIZE : CONTROL_MAXMSGSIZE;
    int rcvhwm = type == ZMQ_PULL ? PULL_RCVHWM : type == ZMQ_XPUB ? PUB_RCVHWM : CONTROL_RCVHWM;
    int sndhwm = type == ZMQ_XPUB ? PUB_SNDHWM : type == ZMQ_PUSH ? PUSH_SNDHWM : 1;
    int one = 1;

    zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);

    if (type == ZMQ_XPUB)
      {
        /* Subscriptions are handed to us instead of growing a trie inside
         * libzmq: each subscriber gets everything ("" is the only
         * subscription ever made), and a full subscriber makes the send
         * fail (counted) rather than vanish. */
        zmq_setsockopt (sock, ZMQ_XPUB_MANUAL, &one, sizeof one);
        zmq_setsockopt (sock, ZMQ_XPUB_NODROP, &one, sizeof one);
      }
  }

  if (zmq_bind (sock, endpoint) != 0)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   _("Could not listen on agent endpoint “%s”: %s"),
                   endpoint, zmq_strerror (errno));
      zmq_close (sock);
      return NULL;
    }

  if (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, last, &last_len) == 0 && last_len > 0)
    *bound_out = g_strndup (last, last_len);
  else
    *bound_out = g_strdup (endpoint);

  return sock;
}

/* --- receiving ---------------------------------------------------------- */

static void
log_refused (LanlanAgentBridge *self,
             const GError      *error)
{
  guint64 refused = self->n_malformed + self->n_unknown;

  if (refused <= LOGGED_REFUSALS || refused % 1000 == 0)
    g_message ("Agent bridge: ignored a message from the agent (%" G_GUINT64_FORMAT
               " so far): %s", refused, error->message);
}

static void
complete_analyze (LanlanAgentBridge *self,
                  const char        *event_id,
                  GError            *error);

static void
log_unrouted (LanlanAgentBridge *self,
              LanlanAgentEvent  *event,
              const char        *why)
{
  self->n_unrouted++;
  if (self->n_unrouted <= LOGGED_REFUSALS || self->n_unrouted % 1000 == 0)
    g_message ("Agent bridge: dropped %s for “%s” (%" G_GUINT64_FORMAT " so far): %s",
               event->event_type, event->lanlan_name ? event->lanlan_name : "(no name)",
               self->n_unrouted, why);
}

static gboolean
name_is_open (LanlanAgentBridge *self,
              const char        *name)
{
  for (guint i = 0; name != NULL && i < self->registrations->len; i++)
    {
      Registration *reg = g_ptr_array_index (self->registrations, i);

      if (reg->lanlan_name != NULL && g_str_equal (reg->lanlan_name, name))
        return TRUE;
    }
  return FALSE;
}

/* The only open character, or NULL when none or several are. */
static const char *
only_open_name (LanlanAgentBridge *self)
{
  const char *only = NULL;

  for (guint i = 0; i < self->registrations->len; i++)
    {
      Registration *reg = g_ptr_array_index (self->registrations, i);

      if (reg->lanlan_name == NULL)
        continue;
      if (only != NULL && !g_str_equal (only, reg->lanlan_name))
        return NULL;
      only = reg->lanlan_name;
    }
  return only;
}

static gboolean
name_is_character (LanlanAgentBridge *self,
                   const char        *name)
{
  guint n = self->characters ? g_list_model_get_n_items (self->characters) : 0;

  for (guint i = 0; name != NULL && i < n; i++)
    {
      g_autoptr(LanlanCharacter) c = g_list_model_get_item (self->characters, i);

      if (g_strcmp0 (lanlan_character_get_name (c), name) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
hold_event (LanlanAgentBridge *self,
            LanlanAgentEvent  *event,
            gsize              size)
{
  Held *held = g_new0 (Held, 1);

  held->name = g_strdup (event->lanlan_name);
  held->event = lanlan_agent_event_ref (event);
  held->size = size;
  g_ptr_array_add (self->held, held);
  self->held_bytes += size;
  self->n_held++;

  while (self->held->len > 1 &&
         (self->held->len > MAX_HELD || self->held_bytes > MAX_HELD_BYTES))
    {
      Held *oldest = g_ptr_array_index (self->held, 0);

      self->held_bytes -= oldest->size;
      g_ptr_array_remove_index (self->held, 0);
      if (self->n_held_dropped++ == 0)
        g_message ("Agent bridge: too many results wait for characters that are not open; "
                   "the oldest are dropped (counted from now on)");
    }
}

/* Calls the callbacks registered for @name (every character when NULL,
 * none when "") and, if @watchers, the task watchers. Returns whether
 * anyone took it. */
static gboolean
deliver (LanlanAgentBridge *self,
         LanlanAgentEvent  *event,
         const char        *name,
         gboolean           watchers)
{
  g_autoptr(GPtrArray) snapshot = NULL;
  gboolean watchers_only = name != NULL && *name == '\0';
  gboolean delivered = FALSE;
  GQuark detail = 0;

  /* Callbacks may register or unregister while we call them. */
  snapshot = g_ptr_array_copy (self->registrations, registration_ref, NULL);
  g_ptr_array_set_free_func (snapshot, registration_unref);

  for (guint i = 0; i < snapshot->len; i++)
    {
      Registration *reg = g_ptr_array_index (snapshot, i);
      gboolean match;

      if (reg->removed)
        continue;

      if (reg->task_id != NULL)
        match = watchers && event->task_id != NULL && g_str_equal (reg->task_id, event->task_id);
      else if (watchers_only)
        match = FALSE;
      else
        match = name == NULL || g_str_equal (reg->lanlan_name, name);

      if (!match)
        continue;

      delivered = TRUE;
      reg->func (self, event, reg->user_data);

      /* A task watcher is done once its task has a result. */
      if (reg->task_id != NULL && !reg->removed &&
          event->kind == LANLAN_AGENT_EVENT_TASK_RESULT)
        lanlan_agent_bridge_unregister (self, reg->id);
    }

  /* Never create quarks from peer input: an unknown name has no handler. */
  if (name != NULL)
    detail = g_quark_try_string (name);

  if (!watchers_only &&
      g_signal_has_handler_pending (self, signals[SIGNAL_EVENT], detail, FALSE))
    {
      delivered = TRUE;
      g_signal_emit (self, signals[SIGNAL_EVENT], detail, event);
    }

  return delivered;
}

/* Routing follows N.E.K.O.'s main server (_handle_agent_event):
 *  - agent_status_update: to its character when open, else to every one;
 *  - agent_notification: only to its character when open; without a name
 *    (or for a character that is not open) it is dropped;
 *  - task_result, proactive_message, task_update: to their character when
 *    open; for a character that exists but is not open, results are held
 *    (bounded) and delivered when it opens; with no name or an unknown one
 *    they go to the only open character, and are dropped (logged) when
 *    several are open. */
static void
dispatch_event (LanlanAgentBridge *self,
                LanlanAgentEvent  *event,
                gsize              size)
{
  const char *name = event->lanlan_name;
  const char *target = NULL;

  if (event->kind == LANLAN_AGENT_EVENT_ANALYZE_ACK)
    {
      if (g_hash_table_contains (self->pending, event->event_id))
        complete_analyze (self, event->event_id, NULL);
      else
        self->n_stray_acks++;
      return;
    }

  switch (event->kind)
    {
    case LANLAN_AGENT_EVENT_STATUS_UPDATE:
      target = name_is_open (self, name) ? name : NULL;
      break;

    case LANLAN_AGENT_EVENT_NOTIFICATION:
      if (name == NULL)
        {
          log_unrouted (self, event, "a notification must name its character");
          return;
        }
      if (!name_is_open (self, name))
        {
          log_unrouted (self, event, "that character is not open");
          return;
        }
      target = name;
      break;

    case LANLAN_AGENT_EVENT_TASK_RESULT:
    case LANLAN_AGENT_EVENT_PROACTIVE_MESSAGE:
    case LANLAN_AGENT_EVENT_TASK_UPDATE:
    default:
      if (name_is_open (self, name))
        target = name;
      else if (name_is_character (self, name))
        {
          if (event->kind != LANLAN_AGENT_EVENT_TASK_UPDATE)
            {
              g_debug ("Agent bridge: holding %s for “%s” until it opens", event->event_type, name);
              hold_event (self, event, size);
            }
          /* A task watcher may still want it. */
          if (deliver (self, event, "", TRUE))
            self->n_dispatched++;
          return;
        }
      else if ((target = only_open_name (self)) != NULL)
        g_debug ("Agent bridge: %s for “%s” goes to the only open character, “%s”",
                 event->event_type, name ? name : "(no name)", target);
      else
        {
          log_unrouted (self, event,
                        self->registrations->len > 0 ? "no such character, and several are open"
                                                     : "no character is open");
          deliver (self, event, "", TRUE);
          return;
        }
      break;
    }

  if (deliver (self, event, target, TRUE))
    self->n_dispatched++;
  else
    {
      self->n_unrouted++;
      g_debug ("Agent bridge: no window for %s event to “%s”",
               event->event_type, target ? target : "(all)");
    }
}

static gboolean
held_idle_cb (gpointer user_data)
{
  LanlanAgentBridge *self = user_data;
  g_autoptr(GPtrArray) ready = g_ptr_array_new_with_free_func (held_free);

  g_clear_pointer (&self->held_idle, g_source_unref);

  for (guint i = 0; i < self->held->len;)
    {
      Held *held = g_ptr_array_index (self->held, i);

      if (name_is_open (self, held->name))
        {
          self->held_bytes -= held->size;
          g_ptr_array_add (ready, g_ptr_array_steal_index (self->held, i));
        }
      else
        i++;
    }

  g_object_ref (self);
  for (guint i = 0; i < ready->len; i++)
    {
      Held *held = g_ptr_array_index (ready, i);

      /* Task watchers had it when it came. */
      if (deliver (self, held->event, held->name, FALSE))
        self->n_dispatched++;
    }
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static void
handle_message (LanlanAgentBridge *self,
                const char        *data,
                gsize              len)
{
  g_autoptr(LanlanAgentEvent) event = NULL;
  g_autoptr(GError) error = NULL;

  self->n_received++;

  if (len > LANLAN_AGENT_MAX_MESSAGE_SIZE)
    {
      if (self->n_oversized++ == 0)
        g_message ("Agent bridge: ignored a message of %" G_GSIZE_FORMAT " bytes from the agent, "
                   "over the %d byte limit (further ones are counted, not logged)",
                   len, LANLAN_AGENT_MAX_MESSAGE_SIZE);
      return;
    }

  event = lanlan_agent_event_parse (data, len, &error);
  if (event == NULL)
    {
      if (g_error_matches (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_UNKNOWN_TYPE))
        self->n_unknown++;
      else
        self->n_malformed++;
      log_refused (self, error);
      return;
    }

  if (event->kind == LANLAN_AGENT_EVENT_OTHER)
    {
      /* Known, meant for N.E.K.O.'s web UI: nothing to do here. */
      self->n_ignored++;
      g_debug ("Agent bridge: ignored %s", event->event_type);
      return;
    }

  dispatch_event (self, event, len);
}

static gboolean
pull_has_input (LanlanAgentBridge *self)
{
  int events = 0;
  size_t size = sizeof events;

  /* Reading ZMQ_EVENTS also processes pending commands and re-arms the
   * edge-triggered ZMQ_FD. */
  if (self->pull == NULL ||
      zmq_getsockopt (self->pull, ZMQ_EVENTS, &events, &size) != 0)
    return FALSE;

  return (events & ZMQ_POLLIN) != 0;
}

/* Reads up to max_batch messages. Returns TRUE if more are waiting. */
static gboolean
drain_pull (LanlanAgentBridge *self)
{
  guint n;

  for (n = 0; self->pull != NULL && n < self->max_batch; n++)
    {
      zmq_msg_t msg;
      gboolean multipart;

      zmq_msg_init (&msg);
      if (zmq_msg_recv (&msg, self->pull, ZMQ_DONTWAIT) < 0)
        {
          int err = errno;

          zmq_msg_close (&msg);
          if (err == EINTR)
            continue;
          if (err != EAGAIN)
            g_message ("Agent bridge: receive failed: %s", zmq_strerror (err));
          return FALSE;
        }

      multipart = zmq_msg_more (&msg);
      if (!multipart)
        handle_message (self, zmq_msg_data (&msg), zmq_msg_size (&msg));
      zmq_msg_close (&msg);

      if (multipart)
        {
          g_autoptr(GError) error = NULL;

          /* The bus uses single-frame messages: drop the whole message. */
          do
            {
              zmq_msg_init (&msg);
              if (zmq_msg_recv (&msg, self->pull, ZMQ_DONTWAIT) < 0)
                {
                  zmq_msg_close (&msg);
                  break;
                }
              multipart = zmq_msg_more (&msg);
              zmq_msg_close (&msg);
            }
          while (multipart);

          self->n_received++;
          self->n_malformed++;
          error = g_error_new_literal (LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_MALFORMED,
                                       "Multi-part message");
          log_refused (self, error);
        }
    }

  return pull_has_input (self);
}

static gboolean
drain_idle_cb (gpointer user_data)
{
  LanlanAgentBridge *self = user_data;
  gboolean more;

  g_object_ref (self);
  more = drain_pull (self);
  if (!more)
    g_clear_pointer (&self->drain_idle, g_source_unref);
  g_object_unref (self);

  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
schedule_drain (LanlanAgentBridge *self)
{
  if (self->drain_idle != NULL)
    return;

  self->drain_idle = g_idle_source_new ();
  g_source_set_priority (self->drain_idle, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (self->drain_idle, drain_idle_cb, self, NULL);
  g_source_set_static_name (self->drain_idle, "[lanlan] agent drain");
  g_source_attach (self->drain_idle, self->context);
}

static gboolean
pull_ready_cb (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  LanlanAgentBridge *self = user_data;

  g_object_ref (self);
  if (drain_pull (self))
    schedule_drain (self);
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

/* --- subscriptions ------------------------------------------------------ */

/* The PUB socket is an XPUB in manual mode: each (un)subscription frame
 * comes to us. A subscriber is subscribed to everything once, whatever
 * it asks for (SUB sockets filter on their side too). libzmq still keeps
 * each manual subscription until its peer leaves, so a peer that sends
 * more than MAX_SUBSCRIPTIONS_PER_PEER frames is cut off (its connection
 * shut down; libzmq then frees what it kept). N.E.K.O.'s agent sends one. */
#define MAX_SUBSCRIPTIONS_PER_PEER 64

static void
count_subscription (LanlanAgentBridge *self,
                    int                fd)
{
  guint count;

  if (fd < 0)
    return;

  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->subscribers, GINT_TO_POINTER (fd))) + 1;
  if (count <= MAX_SUBSCRIPTIONS_PER_PEER)
    {
      g_hash_table_insert (self->subscribers, GINT_TO_POINTER (fd), GUINT_TO_POINTER (count));
      return;
    }

  /* The fd belongs to libzmq's I/O thread: shut it down, never close it. */
  g_hash_table_remove (self->subscribers, GINT_TO_POINTER (fd));
  shutdown (fd, SHUT_RDWR);
  if (self->n_subscribers_cut++ == 0)
    g_message ("Agent bridge: a subscriber sent more than %d subscriptions; it was disconnected "
               "(further ones are counted, not logged)", MAX_SUBSCRIPTIONS_PER_PEER);
}

static gboolean
drain_subscriptions (LanlanAgentBridge *self)
{
  int events = 0;
  size_t size = sizeof events;

  for (guint n = 0; self->pub != NULL && n < 4 * self->max_batch; n++)
    {
      zmq_msg_t msg;
      const guint8 *data;

      zmq_msg_init (&msg);
      if (zmq_msg_recv (&msg, self->pub, ZMQ_DONTWAIT) < 0)
        {
          zmq_msg_close (&msg);
          if (errno == EINTR)
            continue;
          break;
        }

      data = zmq_msg_data (&msg);
      if (zmq_msg_size (&msg) >= 1 && data[0] == 1)
        {
          self->n_subscriptions++;
          /* Applies to the subscriber the frame came from. */
          zmq_setsockopt (self->pub, ZMQ_SUBSCRIBE, "", 0);
          count_subscription (self, zmq_msg_get (&msg, ZMQ_SRCFD));
        }
      zmq_msg_close (&msg);
    }

  if (self->pub == NULL || zmq_getsockopt (self->pub, ZMQ_EVENTS, &events, &size) != 0)
    return FALSE;
  return (events & ZMQ_POLLIN) != 0;
}

static gboolean
pub_idle_cb (gpointer user_data)
{
  LanlanAgentBridge *self = user_data;

  if (drain_subscriptions (self))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->pub_idle, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Reads a bounded batch of subscriptions; the rest from an idle. */
static void
schedule_subscriptions (LanlanAgentBridge *self)
{
  if (drain_subscriptions (self) && self->pub_idle == NULL)
    {
      self->pub_idle = g_idle_source_new ();
      g_source_set_priority (self->pub_idle, G_PRIORITY_DEFAULT_IDLE);
      g_source_set_callback (self->pub_idle, pub_idle_cb, self, NULL);
      g_source_set_static_name (self->pub_idle, "[lanlan] agent subscriptions");
      g_source_attach (self->pub_idle, self->context);
    }
}

static gboolean
pub_ready_cb (int          fd,
              GIOCondition condition,
              gpointer     user_data)
{
  schedule_subscriptions (user_data);
  return G_SOURCE_CONTINUE;
}

/* --- analyze requests --------------------------------------------------- */

typedef struct {
  char    *event_id;
  char    *lanlan_name;
  GBytes  *payload;
  guint    attempts;
  guint    sent;
  GSource *timeout;
  GSource *cancel;
} AnalyzeData;

static void
analyze_data_free (gpointer data)
{
  AnalyzeData *ad = data;

  if (ad->timeout)
    {
      g_source_destroy (ad->timeout);
      g_source_unref (ad->timeout);
    }
  if (ad->cancel)
    {
      g_source_destroy (ad->cancel);
      g_source_unref (ad->cancel);
    }
  g_free (ad->event_id);
  g_free (ad->lanlan_name);
  g_bytes_unref (ad->payload);
  g_free (ad);
}

static void
complete_analyze (LanlanAgentBridge *self,
                  const char        *event_id,
                  GError            *error)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;
  AnalyzeData *ad;

  if (!g_hash_table_steal_extended (self->pending, event_id,
                                    (gpointer *) &key, (gpointer *) &task))
    {
      g_clear_error (&error);
      return;
    }

  ad = g_task_get_task_data (task);
  if (ad->timeout)
    {
      g_source_destroy (ad->timeout);
      g_clear_pointer (&ad->timeout, g_source_unref);
    }
  if (ad->cancel)
    {
      g_source_destroy (ad->cancel);
      g_clear_pointer (&ad->cancel, g_source_unref);
    }

  if (error != NULL)
    {
      g_message ("Agent bridge: analyze request %s for “%s” failed: %s",
                 ad->event_id, ad->lanlan_name, error->message);
      g_task_return_error (task, error);
    }
  else
    {
      g_debug ("Agent bridge: analyze request %s acknowledged after %u attempt(s)",
               ad->event_id, ad->attempts);
      g_task_return_pointer (task, g_strdup (ad->event_id), g_free);
    }
}

static gboolean analyze_timeout_cb (gpointer user_data);

static void
analyze_send (LanlanAgentBridge *self,
              GTask             *task)
{
  AnalyzeData *ad = g_task_get_task_data (task);
  gsize len;
  const char *data = g_bytes_get_data (ad->payload, &len);

  ad->attempts++;
  if (self->push != NULL && zmq_send (self->push, data, len, ZMQ_DONTWAIT) >= 0)
    ad->sent++;
  else
    {
      if (self->push != NULL && errno == EAGAIN)
        self->n_analyze_dropped++;
      g_debug ("Agent bridge: analyze request %s not sent (attempt %u): %s",
             ad->event_id, ad->attempts, zmq_strerror (errno));
    }

  /* Wait for the ack even when nothing was sent: an agent may connect. */
  ad->timeout = g_timeout_source_new (self->ack_timeout_ms);
  g_source_set_callback (ad->timeout, analyze_timeout_cb, task, NULL);
  g_source_set_static_name (ad->timeout, "[lanlan] agent ack timeout");
  g_source_attach (ad->timeout, self->context);
}

static gboolean
analyze_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  LanlanAgentBridge *self = g_task_get_source_object (task);
  AnalyzeData *ad = g_task_get_task_data (task);

  g_clear_pointer (&ad->timeout, g_source_unref);

  if (ad->attempts < ANALYZE_ATTEMPTS)
    {
      g_message ("Agent bridge: no ack for analyze request %s within %u ms, sending it again",
                 ad->event_id, self->ack_timeout_ms);
      analyze_send (self, task);
    }
  else if (ad->sent == 0)
    complete_analyze (self, ad->event_id,
                      g_error_new (LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_NO_AGENT,
                                   _("No agent is connected to receive the analyze request")));
  else
    complete_analyze (self, ad->event_id,
                      g_error_new (LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_NO_AGENT,
                                   _("The agent did not acknowledge the analyze request after %u attempts"),
                                   ad->attempts));

  return G_SOURCE_REMOVE;
}

static gboolean
analyze_cancelled_cb (GCancellable *cancellable,
                      gpointer      user_data)
{
  GTask *task = user_data;
  LanlanAgentBridge *self = g_task_get_source_object (task);
  AnalyzeData *ad = g_task_get_task_data (task);

  g_clear_pointer (&ad->cancel, g_source_unref);
  complete_analyze (self, ad->event_id,
                    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "Analyze request cancelled"));
  return G_SOURCE_REMOVE;
}

/**
 * lanlan_agent_bridge_analyze_async:
 * @self: the bridge
 * @lanlan_name: the character
 * @trigger: "turn_end" or "session_end"
 * @conversation_id: (nullable): the conversation the messages are from
 * @messages: (element-type LanlanChatMessage): the conversation to analyze
 * @cancellable: (nullable): to give up waiting
 * @callback: called once the agent acknowledged, or failed to
 * @user_data: for @callback
 *
 * Sends an analyze_request on the PUSH socket and waits for the agent's
 * analyze_ack with the same event_id. Without an ack within the ack
 * timeout the request is sent once more (same event_id), then it fails
 * with %LANLAN_AGENT_ERROR_NO_AGENT.
 */
void
lanlan_agent_bridge_analyze_async (LanlanAgentBridge   *self,
                                   const char          *lanlan_name,
                                   const char          *trigger,
                                   const char          *conversation_id,
                                   GPtrArray           *messages,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  AnalyzeData *ad;
  char *text;
  gsize len;

  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));
  g_return_if_fail (lanlan_name != NULL);
  g_return_if_fail (trigger != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lanlan_agent_bridge_analyze_async);

  if (g_task_return_error_if_cancelled (task))
    return;

  ad = g_new0 (AnalyzeData, 1);
  ad->event_id = g_uuid_string_random ();
  ad->lanlan_name = g_strdup (lanlan_name);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event_type");
  json_builder_add_string_value (builder, "analyze_request");
  json_builder_set_member_name (builder, "event_id");
  json_builder_add_string_value (builder, ad->event_id);
  json_builder_set_member_name (builder, "trigger");
  json_builder_add_string_value (builder, trigger);
  json_builder_set_member_name (builder, "lanlan_name");
  json_builder_add_string_value (builder, lanlan_name);
  if (conversation_id != NULL)
    {
      json_builder_set_member_name (builder, "conversation_id");
      json_builder_add_string_value (builder, conversation_id);
    }
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  for (guint i = 0; messages != NULL && i < messages->len; i++)
    {
      const LanlanChatMessage *m = g_ptr_array_index (messages, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, m->role);
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, m->content);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  len = strlen (text);
  ad->payload = g_bytes_new_take (text, len);

  g_task_set_task_data (task, ad, analyze_data_free);
  g_hash_table_insert (self->pending, g_strdup (ad->event_id), g_object_ref (task));

  if (cancellable != NULL)
    {
      ad->cancel = g_cancellable_source_new (cancellable);
      g_source_set_callback (ad->cancel, G_SOURCE_FUNC (analyze_cancelled_cb), task, NULL);
      g_source_attach (ad->cancel, self->context);
    }

  analyze_send (self, task);
}

/**
 * lanlan_agent_bridge_analyze_finish:
 *
 * Returns: (transfer full): the event_id the agent acknowledged, or %NULL
 */
char *
lanlan_agent_bridge_analyze_finish (LanlanAgentBridge  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- session events ----------------------------------------------------- */

/**
 * lanlan_agent_bridge_publish:
 * @self: the bridge
 * @lanlan_name: the character
 * @event_type: e.g. "session_start", "turn_end", "session_end", "user_text"
 * @payload: (nullable): more members to send
 * @error: why it was not sent
 *
 * Publishes {"event_type", "lanlan_name", "timestamp", ...payload} on the
 * PUB socket. Best effort, like PUB itself: never blocks.
 */
gboolean
lanlan_agent_bridge_publish (LanlanAgentBridge  *self,
                             const char         *lanlan_name,
                             const char         *event_type,
                             JsonObject         *payload,
                             GError            **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;
  gboolean sent;
  int send_errno;

  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), FALSE);
  g_return_val_if_fail (lanlan_name != NULL, FALSE);
  g_return_val_if_fail (event_type != NULL, FALSE);

  json_object_set_string_member (object, "event_type", event_type);
  json_object_set_string_member (object, "lanlan_name", lanlan_name);
  json_object_set_double_member (object, "timestamp", g_get_real_time () / (double) G_USEC_PER_SEC);

  if (payload != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *node;

      json_object_iter_init (&iter, payload);
      while (json_object_iter_next (&iter, &name, &node))
        if (!g_str_equal (name, "event_type") && !g_str_equal (name, "lanlan_name"))
          json_object_set_member (object, name, json_node_copy (node));
    }

  json_node_set_object (root, object);
  text = json_to_string (root, FALSE);

  /* Sending processes the socket's commands and so consumes the edge of
   * its ZMQ_FD: take the subscriptions that came in first and after. */
  schedule_subscriptions (self);
  sent = self->pub != NULL && zmq_send (self->pub, text, strlen (text), ZMQ_DONTWAIT) >= 0;
  send_errno = errno;
  schedule_subscriptions (self);

  if (!sent)
    {
      errno = send_errno;
      if (self->pub != NULL && errno == EAGAIN && self->n_publish_dropped++ == 0)
        g_message ("Agent bridge: a subscriber does not keep up; session events are dropped "
                   "while it is full (counted from now on)");
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   "Could not publish %s for “%s”: %s", event_type, lanlan_name,
                   self->pub ? zmq_strerror (errno) : "bridge closed");
      return FALSE;
    }

  return TRUE;
}

/* --- object ------------------------------------------------------------- */

static void
close_sockets (LanlanAgentBridge *self)
{
  if (self->pull_source)
    {
      g_source_destroy (self->pull_source);
      g_clear_pointer (&self->pull_source, g_source_unref);
    }
  if (self->drain_idle)
    {
      g_source_destroy (self->drain_idle);
      g_clear_pointer (&self->drain_idle, g_source_unref);
    }
  if (self->pub_source)
    {
      g_source_destroy (self->pub_source);
      g_clear_pointer (&self->pub_source, g_source_unref);
    }
  if (self->pub_idle)
    {
      g_source_destroy (self->pub_idle);
      g_clear_pointer (&self->pub_idle, g_source_unref);
    }
  if (self->held_idle)
    {
      g_source_destroy (self->held_idle);
      g_clear_pointer (&self->held_idle, g_source_unref);
    }
  g_clear_pointer (&self->pub, zmq_close);
  g_clear_pointer (&self->pull, zmq_close);
  g_clear_pointer (&self->push, zmq_close);
  g_clear_pointer (&self->zmq_ctx, zmq_ctx_term);
}

static void
lanlan_agent_bridge_dispose (GObject *object)
{
  LanlanAgentBridge *self = LANLAN_AGENT_BRIDGE (object);

  close_sockets (self);
  /* Pending tasks hold a reference, so none are left here. */
  g_ptr_array_set_size (self->registrations, 0);
  g_ptr_array_set_size (self->held, 0);
  self->held_bytes = 0;
  g_clear_object (&self->characters);

  G_OBJECT_CLASS (lanlan_agent_bridge_parent_class)->dispose (object);
}

static void
lanlan_agent_bridge_finalize (GObject *object)
{
  LanlanAgentBridge *self = LANLAN_AGENT_BRIDGE (object);

  g_ptr_array_unref (self->registrations);
  g_ptr_array_unref (self->held);
  g_hash_table_unref (self->subscribers);
  g_hash_table_unref (self->pending);
  for (guint i = 0; i < G_N_ELEMENTS (self->endpoints); i++)
    g_free (self->endpoints[i]);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (lanlan_agent_bridge_parent_class)->finalize (object);
}

static void
lanlan_agent_bridge_class_init (LanlanAgentBridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lanlan_agent_bridge_dispose;
  object_class->finalize = lanlan_agent_bridge_finalize;

  /**
   * LanlanAgentBridge::event:
   * @event: the event
   *
   * Emitted for every event from the agent except acks, with the
   * character name as detail ("event::Mio"); events for every character
   * are emitted without detail.
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  LANLAN_TYPE_AGENT_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
lanlan_agent_bridge_init (LanlanAgentBridge *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->max_batch = DEFAULT_MAX_BATCH;
  self->ack_timeout_ms = DEFAULT_ACK_TIMEOUT_MS;
  self->registrations = g_ptr_array_new_with_free_func (registration_unref);
  self->held = g_ptr_array_new_with_free_func (held_free);
  self->subscribers = g_hash_table_new (NULL, NULL);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/**
 * lanlan_agent_bridge_new:
 * @pub_endpoint: where session events are published
 * @pull_endpoint: where agent results are received
 * @push_endpoint: where analyze requests are sent
 * @error: why the bridge could not start
 *
 * Binds the three sockets on the thread-default main context. Port 0 or
 * "*" picks a free port; see lanlan_agent_bridge_dup_endpoint().
 *
 * Returns: (transfer full): the bridge, or %NULL
 */
LanlanAgentBridge *
lanlan_agent_bridge_new (const char  *pub_endpoint,
                         const char  *pull_endpoint,
                         const char  *push_endpoint,
                         GError     **error)
{
  g_autoptr(LanlanAgentBridge) self = NULL;
  int fd;
  size_t fd_size = sizeof fd;

  g_return_val_if_fail (pub_endpoint && pull_endpoint && push_endpoint, NULL);

  if (!lanlan_agent_endpoint_is_allowed (pub_endpoint, error) ||
      !lanlan_agent_endpoint_is_allowed (pull_endpoint, error) ||
      !lanlan_agent_endpoint_is_allowed (push_endpoint, error))
    return NULL;

  self = g_object_new (LANLAN_TYPE_AGENT_BRIDGE, NULL);

  self->zmq_ctx = zmq_ctx_new ();
  if (self->zmq_ctx == NULL)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   "Could not start ZeroMQ: %s", zmq_strerror (errno));
      return NULL;
    }

  self->pub = open_socket (self, ZMQ_XPUB, pub_endpoint,
                           &self->endpoints[LANLAN_AGENT_SOCKET_PUB], error);
  if (self->pub == NULL)
    return NULL;
  self->pull = open_socket (self, ZMQ_PULL, pull_endpoint,
                            &self->endpoints[LANLAN_AGENT_SOCKET_PULL], error);
  if (self->pull == NULL)
    return NULL;
  self->push = open_socket (self, ZMQ_PUSH, push_endpoint,
                            &self->endpoints[LANLAN_AGENT_SOCKET_PUSH], error);
  if (self->push == NULL)
    return NULL;

  if (zmq_getsockopt (self->pull, ZMQ_FD, &fd, &fd_size) != 0)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   "Could not watch the agent socket: %s", zmq_strerror (errno));
      return NULL;
    }

  self->pull_source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (self->pull_source, G_SOURCE_FUNC (pull_ready_cb), self, NULL);
  g_source_set_static_name (self->pull_source, "[lanlan] agent socket");
  g_source_attach (self->pull_source, self->context);

  if (zmq_getsockopt (self->pub, ZMQ_FD, &fd, &fd_size) != 0)
    {
      g_set_error (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ZMQ,
                   "Could not watch the agent socket: %s", zmq_strerror (errno));
      return NULL;
    }
  self->pub_source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (self->pub_source, G_SOURCE_FUNC (pub_ready_cb), self, NULL);
  g_source_set_static_name (self->pub_source, "[lanlan] agent subscriptions");
  g_source_attach (self->pub_source, self->context);

  /* Anything already queued will not raise a new edge. */
  if (pull_has_input (self))
    schedule_drain (self);

  return g_steal_pointer (&self);
}

/**
 * lanlan_agent_bridge_new_for_ports:
 *
 * Like lanlan_agent_bridge_new() on tcp://127.0.0.1 with the given ports
 * (the agent-pub-port, agent-pull-port and agent-push-port settings).
 */
LanlanAgentBridge *
lanlan_agent_bridge_new_for_ports (guint    pub_port,
                                   guint    pull_port,
                                   guint    push_port,
                                   GError **error)
{
  g_autofree char *pub = NULL;
  g_autofree char *pull = NULL;
  g_autofree char *push = NULL;

  if (pub_port > 65535 || pull_port > 65535 || push_port > 65535)
    {
      g_set_error_literal (error, LANLAN_AGENT_ERROR, LANLAN_AGENT_ERROR_ENDPOINT,
                           "Agent port out of range");
      return NULL;
    }

  pub = g_strdup_printf ("tcp://127.0.0.1:%u", pub_port);
  pull = g_strdup_printf ("tcp://127.0.0.1:%u", pull_port);
  push = g_strdup_printf ("tcp://127.0.0.1:%u", push_port);
  return lanlan_agent_bridge_new (pub, pull, push, error);
}

/**
 * lanlan_agent_bridge_dup_endpoint:
 *
 * Returns: (transfer full): the endpoint @socket is bound to, with the
 * actual port when a free one was picked
 */
char *
lanlan_agent_bridge_dup_endpoint (LanlanAgentBridge *self,
                                  LanlanAgentSocket  socket)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), NULL);
  g_return_val_if_fail (socket <= LANLAN_AGENT_SOCKET_PUSH, NULL);
  return g_strdup (self->endpoints[socket]);
}

/**
 * lanlan_agent_bridge_register_character:
 * @self: the bridge
 * @lanlan_name: the character
 * @callback: called with each event for @lanlan_name, and with events
 *   addressed to every character
 * @user_data: for @callback
 * @destroy: (nullable): frees @user_data once unregistered
 *
 * Returns: an id for lanlan_agent_bridge_unregister()
 */
guint
lanlan_agent_bridge_register_character (LanlanAgentBridge    *self,
                                        const char           *lanlan_name,
                                        LanlanAgentEventFunc  callback,
                                        gpointer              user_data,
                                        GDestroyNotify        destroy)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  g_return_val_if_fail (lanlan_name != NULL, 0);
  g_return_val_if_fail (callback != NULL, 0);

  /* Results that waited for this character go out once the caller is
   * done setting up. */
  if (self->held_idle == NULL)
    {
      for (guint i = 0; i < self->held->len; i++)
        {
          Held *held = g_ptr_array_index (self->held, i);

          if (g_str_equal (held->name, lanlan_name))
            {
              self->held_idle = g_idle_source_new ();
              g_source_set_priority (self->held_idle, G_PRIORITY_DEFAULT);
              g_source_set_callback (self->held_idle, held_idle_cb, self, NULL);
              g_source_set_static_name (self->held_idle, "[lanlan] agent held results");
              g_source_attach (self->held_idle, self->context);
              break;
            }
        }
    }

  return add_registration (self, lanlan_name, NULL, callback, user_data, destroy);
}

/**
 * lanlan_agent_bridge_watch_task:
 *
 * Like lanlan_agent_bridge_register_character() but for the events that
 * carry @task_id. Unregistered by itself after the task_result.
 */
guint
lanlan_agent_bridge_watch_task (LanlanAgentBridge    *self,
                                const char           *task_id,
                                LanlanAgentEventFunc  callback,
                                gpointer              user_data,
                                GDestroyNotify        destroy)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  g_return_val_if_fail (task_id != NULL, 0);
  g_return_val_if_fail (callback != NULL, 0);

  return add_registration (self, NULL, task_id, callback, user_data, destroy);
}

void
lanlan_agent_bridge_unregister (LanlanAgentBridge *self,
                                guint              registration_id)
{
  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));

  for (guint i = 0; i < self->registrations->len; i++)
    {
      Registration *reg = g_ptr_array_index (self->registrations, i);

      if (reg->id == registration_id)
        {
          reg->removed = TRUE;
          g_ptr_array_remove_index (self->registrations, i);
          return;
        }
    }

  g_warning ("Agent bridge: no registration %u", registration_id);
}

void
lanlan_agent_bridge_set_ack_timeout (LanlanAgentBridge *self,
                                     guint              timeout_ms)
{
  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));
  self->ack_timeout_ms = MAX (timeout_ms, 1);
}

guint
lanlan_agent_bridge_get_ack_timeout (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->ack_timeout_ms;
}

/**
 * lanlan_agent_bridge_set_max_batch:
 *
 * How many messages are handled per main loop iteration at most.
 */
void
lanlan_agent_bridge_set_max_batch (LanlanAgentBridge *self,
                                   guint              max_batch)
{
  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));
  self->max_batch = MAX (max_batch, 1);
}

guint64
lanlan_agent_bridge_get_n_received (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_received;
}

guint64
lanlan_agent_bridge_get_n_dispatched (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_dispatched;
}

guint64
lanlan_agent_bridge_get_n_malformed (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_malformed;
}

guint64
lanlan_agent_bridge_get_n_unknown (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_unknown;
}

guint64
lanlan_agent_bridge_get_n_unrouted (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_unrouted;
}

guint64
lanlan_agent_bridge_get_n_stray_acks (LanlanAgentBridge *self)
{
  g_return_val_if_fail (LANLAN_IS_AGENT_BRIDGE (self), 0);
  return self->n_stray_acks;
}

/**
 * lanlan_agent_bridge_set_characters:
 * @characters: (nullable): a #GListModel of #LanlanCharacter: every
 *   character the user has, open or not
 *
 * Results for a character of @characters that is not open are kept
 * (bounded) and delivered when it registers; results for a name that is
 * not a character go to the only open one.
 */
void
lanlan_agent_bridge_set_characters (LanlanAgentBridge *self,
                                    GListModel        *characters)
{
  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));
  g_return_if_fail (characters == NULL || G_IS_LIST_MODEL (characters));

  g_set_object (&self->characters, characters);
}

/**
 * lanlan_agent_bridge_get_stats:
 *
 * Counters since the bridge opened.
 */
void
lanlan_agent_bridge_get_stats (LanlanAgentBridge      *self,
                               LanlanAgentBridgeStats *stats)
{
  g_return_if_fail (LANLAN_IS_AGENT_BRIDGE (self));
  g_return_if_fail (stats != NULL);

  stats->n_received = self->n_received;
  stats->n_dispatched = self->n_dispatched;
  stats->n_malformed = self->n_malformed;
  stats->n_unknown = self->n_unknown;
  stats->n_unrouted = self->n_unrouted;
  stats->n_stray_acks = self->n_stray_acks;
  stats->n_ignored = self->n_ignored;
  stats->n_oversized = self->n_oversized;
  stats->n_held = self->n_held;
  stats->n_held_dropped = self->n_held_dropped;
  stats->n_publish_dropped = self->n_publish_dropped;
  stats->n_analyze_dropped = self->n_analyze_dropped;
  stats->n_subscriptions = self->n_subscriptions;
  stats->n_subscribers_cut = self->n_subscribers_cut;
}
