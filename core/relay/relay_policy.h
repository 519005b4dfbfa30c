/* The relay policy: the article's decision logic (docs/design.md "Decision logic") applied to
 * compiled lists, with the fail-closed rules of docs/design.md "Bad configuration never opens the
 * relay".
 *
 *   cfg = regio_config_build(...);                    registry -> configuration
 *   policy = relay_policy_build(cfg, &diags);       configuration -> compiled rules
 *   relay_decide(policy, &client, &local, auth, &v) rules -> decision, for each RCPT that
 *                                                   is not local
 *   relay_verdict_describe(&v, buf, sizeof(buf))    the decision as one sentence
 *
 * A policy is immutable once built and may be read from any number of threads at once. It
 * does not refer to cfg after relay_policy_build returns. */
#ifndef IMSRELAY_RELAY_RELAY_POLICY_H
#define IMSRELAY_RELAY_RELAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "relay_addr.h"
#include "relay_list.h"

/* RelayFlags bits, named as the article numbers them. */
enum {
    RELAY_BIT1_DENY_LIST = 1,
    RELAY_BIT2_ALLOW_LIST = 2,
    RELAY_BIT3_LOCAL_IP_LIST = 4,
    RELAY_BIT4_AUTHENTICATED = 8,
    RELAY_KNOWN_BITS = 0xF,
};

typedef enum relay_list_id {
    RELAY_DENY_LIST,
    RELAY_ALLOW_LIST,
    RELAY_LOCAL_IP_LIST,
} relay_list_id;

/* The step of the decision logic that decided. */
typedef enum relay_step {
    RELAY_STEP_FAIL_CLOSED,   /* bad configuration: every relay denied until fixed */
    RELAY_STEP_DENY_LIST,     /* 1. bit 1 and the client matches RelayDenyList: deny */
    RELAY_STEP_ALLOW_LIST,    /* 2. bit 2 and the client matches RelayAllowList: allow */
    RELAY_STEP_LOCAL_IP_LIST, /* 3. bit 3, no IP forwarding, local address listed: allow */
    RELAY_STEP_AUTHENTICATED, /* 4. bit 4 and the session authenticated: allow */
    RELAY_STEP_ONLY_BIT1,     /* 5. the four low bits are exactly 1: allow */
    RELAY_STEP_DEFAULT_DENY,  /* 6. nothing allowed it: deny */
} relay_step;

typedef struct relay_verdict {
    bool allowed;
    relay_step step;
    /* For the list steps: the line that decided (the lowest-numbered matching line).
     * value and text point into the policy; NULL and 0 for the other steps. */
    const char *value;
    uint32_t line;
    const char *text;
    /* What was decided about, normalized (IPv4-mapped addresses as IPv4); local.family is
     * RELAY_AF_NONE when the local address was not given. */
    relay_addr client;
    relay_addr local;
    bool authenticated;
    /* The policy's RelayFlags and, for RELAY_STEP_FAIL_CLOSED, why (points into the
     * policy). */
    uint32_t flags;
    bool flags_absent;
    bool local_ip_list_in_effect;
    const char *fail_reason;
} relay_verdict;

typedef struct relay_policy relay_policy;

/* Compiles cfg->relay_flags, relay_deny_list, relay_allow_list, relay_local_ip_list and
 * ip_enable_router. Every problem becomes a diagnostic and a fail-safe policy; returns NULL
 * only when out of memory. */
relay_policy *relay_policy_build(const regio_config *cfg, regio_diag_list *diags);
void relay_policy_free(relay_policy *policy);

/* Decides whether client may relay. local: the address the client connected to, or NULL
 * when unknown (then RelayLocalIPList cannot allow). The verdict points into the policy:
 * it is valid as long as the policy is. Touches no shared mutable state. */
void relay_decide(const relay_policy *policy, const relay_addr *client, const relay_addr *local,
                  bool authenticated, relay_verdict *out);

/* One sentence for logs, events and `imsrelay explain`, e.g. "denied: RelayDenyList line 3
 * (192.168.17.0;255.255.255.0) matches 192.168.17.9 and bit 1 of RelayFlags is set".
 * Always NUL-terminates when size > 0; returns the full length (like snprintf). */
size_t relay_verdict_describe(const relay_verdict *verdict, char *buf, size_t size);

/* The effective rules in words, for `imsrelay check` and the service-started event, e.g.
 * "deny list, allow list; local-IP list ignored: IP forwarding is on", "deny list; every
 * client not denied may relay" or "none: every relay is denied (RelayFlags is absent)". */
size_t relay_policy_describe(const relay_policy *policy, char *buf, size_t size);

const char *relay_step_name(relay_step step); /* "deny list", "fail closed", ... */

uint32_t relay_policy_flags(const relay_policy *policy); /* RelayFlags as read (0: absent) */
bool relay_policy_fail_closed(const relay_policy *policy);
const char *relay_policy_fail_reason(const relay_policy *policy); /* NULL unless fail closed */
bool relay_policy_local_ip_list_in_effect(const relay_policy *policy);
const relay_list *relay_policy_list(const relay_policy *policy, relay_list_id id);

/* Conditions the service reports with an event of their own, repeated at every start and
 * reload: no relay rule is in effect (and the policy is not failing closed, which has its
 * own event), and bit 3 of RelayFlags is set while RelayLocalIPList is not in effect. */
bool relay_policy_relay_disabled(const relay_policy *policy);
bool relay_policy_local_ip_ignored(const relay_policy *policy);

/* A diagnostic that one of those events already says, so it is not repeated as a generic
 * configuration warning. Decided by the diagnostic's code and severity, never its words. */
bool relay_policy_diag_covered(const relay_policy *policy, const regio_diag *diag);

#endif
