/* The configuration in force, and its live reload.
 *
 * A snapshot is the immutable result of one reading of the registry: the typed
 * configuration and what was compiled from it. Whoever decides something (the SMTP sessions
 * take one per RCPT) takes the current snapshot with runtime_acquire() and gives it back
 * with runtime_snapshot_release(); a reload swaps the current pointer atomically, so a decision
 * in progress finishes with the snapshot it holds, every later one gets the new rules, and
 * the old snapshot is freed when its last holder releases it. */
#ifndef IMSRELAY_RUNTIME_H
#define IMSRELAY_RUNTIME_H

#include <windows.h>
#include <stdbool.h>

#include "config.h"
#include "relay_policy.h"
#include "host/svc_status.h"

struct tls_credentials;

typedef struct runtime runtime;
typedef struct runtime_snapshot runtime_snapshot;

typedef enum runtime_reload_result {
    RUNTIME_RELOADED,  /* the new configuration is in force */
    RUNTIME_UNCHANGED, /* the registry says what it said before: nothing to do */
    RUNTIME_REFUSED,   /* the new configuration has errors: the old one stays in force */
    RUNTIME_FAILED,    /* out of memory: the old one stays in force */
} runtime_reload_result;

runtime *runtime_create(void);
void runtime_destroy(runtime *rt); /* after every snapshot has been released */

/* The first reading, at start. There is no old configuration to keep, so a configuration
 * with errors is put in force as built: every bad value takes its fail-safe (fail-closed)
 * form. Reports the diagnostics and standing warnings as events, and starts watching the
 * registry. SVC_EXIT_OK or the reason the service cannot start. */
enum svc_exit runtime_start(runtime *rt);

/* Reads the registry again. trigger: words for the events ("registry change", ...).
 * force: reload and report even when nothing changed (an explicit PARAMCHANGE). */
runtime_reload_result runtime_reload(runtime *rt, const char *trigger, bool force);

/* Signaled when the Parameters key (or IPEnableRouter) changes; runtime_reload() re-arms
 * it. Let changes settle a moment before reloading: `reg add` of three values is three
 * notifications. */
HANDLE runtime_change_event(runtime *rt);

/* The snapshot in force, held until released. Never NULL after runtime_start succeeded. */
runtime_snapshot *runtime_acquire(runtime *rt);
void runtime_snapshot_release(runtime_snapshot *snapshot);

const regio_config *runtime_snapshot_config(const runtime_snapshot *snapshot);
const relay_policy *runtime_snapshot_policy(const runtime_snapshot *snapshot);

/* The listener's certificate for STARTTLS, loaded with the snapshot (TlsCertificate, or the
 * certificate of SmtpHostName), shared by every session that holds the snapshot; NULL when
 * none is usable, and then runtime_snapshot_tls_why() says why (STARTTLS is not offered). */
struct tls_credentials *runtime_snapshot_tls(const runtime_snapshot *snapshot);
const char *runtime_snapshot_tls_why(const runtime_snapshot *snapshot);

/* The effective relay rules in words (relay_policy_describe), UTF-8, for events. */
const char *runtime_snapshot_description(const runtime_snapshot *snapshot);

#endif
