/* lanlan-audio-private.h — helpers shared by the PipeWire objects in src/audio
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <pipewire/pipewire.h>

G_BEGIN_DECLS

/* The rate the app's streams run at; PipeWire converts if the graph differs. */
#define LANLAN_DEVICE_RATE 48000

void lanlan_audio_ensure_pipewire (void);

/* LanlanPwClient: one object's connection to the PipeWire daemon.
 *
 * A pw_thread_loop with its pw_context, and a pw_core connected to the
 * daemon when it can be. When the daemon goes away (the core reports
 * EPIPE) or the owner reports its stream failed, the owner's stream is
 * dropped, the object becomes unavailable with a message for the user,
 * and the loop thread tries again with a growing delay (100 ms doubling
 * to 5 s; a timer, never a busy loop) until a core and the owner's stream
 * are up again. Availability changes are announced on the GMainContext
 * the client was made in, as notify:: on the owner's "available" and
 * "error" properties.
 */
typedef struct _LanlanPwClient LanlanPwClient;

typedef struct {
  /* Loop thread, loop locked: make and connect the owner's stream on
   * @core. FALSE with @error when it cannot. */
  gboolean (*connect)    (gpointer data, struct pw_core *core, GError **error);
  /* Loop thread, loop locked: destroy the owner's stream, if any. */
  void     (*disconnect) (gpointer data);
} LanlanPwClientFuncs;

LanlanPwClient        *lanlan_pw_client_new           (const char                *thread_name,
                                                       GObject                   *owner,
                                                       GParamSpec                *available_pspec,
                                                       GParamSpec                *error_pspec,
                                                       const LanlanPwClientFuncs *funcs,
                                                       gpointer                   data,
                                                       GError                   **error);
gboolean               lanlan_pw_client_start         (LanlanPwClient            *client,
                                                       GError                   **error);
void                   lanlan_pw_client_free          (LanlanPwClient            *client);
struct pw_thread_loop *lanlan_pw_client_get_thread_loop (LanlanPwClient          *client);
struct pw_loop        *lanlan_pw_client_get_loop      (LanlanPwClient            *client);
struct pw_context     *lanlan_pw_client_get_context   (LanlanPwClient            *client);
void                   lanlan_pw_client_lost          (LanlanPwClient            *client,
                                                       const char                *message);
void                   lanlan_pw_client_ready         (LanlanPwClient            *client);
void                   lanlan_pw_client_notify        (LanlanPwClient            *client,
                                                       GParamSpec                *pspec);
gboolean               lanlan_pw_client_get_available (LanlanPwClient            *client);
char                  *lanlan_pw_client_dup_error     (LanlanPwClient            *client);

G_END_DECLS
