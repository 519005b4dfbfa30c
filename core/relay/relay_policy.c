#include "relay_policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name_or(const char *name, const char *fallback)
{
    return name && name[0] ? name : fallback;
}

static bool readable(regio_value_state state)
{
    return state == REGIO_VALUE_OK || state == REGIO_VALUE_COERCED;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
close_relay(relay_policy *p, const char *fmt, ...)
{
    if (p->fail_closed) {
        return; /* the first reason stands; every reason has its own diagnostic */
    }
    p->fail_closed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fail_reason, sizeof(p->fail_reason), fmt, ap);
    va_end(ap);
}

/* Not an error, but surely not what the administrator meant. */
static void note_empty_list(const relay_list *list, const char *bit, regio_diag_list *diags)
{
    if (relay_list_count(list) == 0 && relay_list_state(list) != REGIO_VALUE_UNREADABLE) {
        regio_diag_add(diags, REGIO_SEV_WARNING, relay_list_name(list), 0, NULL,
                       "%s of RelayFlags is set but %s has no rules: it matches no client", bit,
                       relay_list_name(list));
    }
}

relay_policy *relay_policy_build(const regio_config *cfg, regio_diag_list *diags)
{
    relay_policy *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    const regio_list *sources[3] = {&cfg->relay_deny_list, &cfg->relay_allow_list,
                                    &cfg->relay_local_ip_list};
    const char *defaults[3] = {"RelayDenyList", "RelayAllowList", "RelayLocalIPList"};
    for (int i = 0; i < 3; i++) {
        regio_list named = *sources[i];
        named.name = name_or(named.name, defaults[i]);
        p->lists[i] = relay_list_build(&named, diags);
        if (!p->lists[i]) {
            relay_policy_free(p);
            return NULL;
        }
    }
    const relay_list *deny = p->lists[RELAY_DENY_LIST];
    const relay_list *allow = p->lists[RELAY_ALLOW_LIST];
    const relay_list *local = p->lists[RELAY_LOCAL_IP_LIST];
    const char *flags_name = name_or(cfg->relay_flags.name, "RelayFlags");

    switch (cfg->relay_flags.state) {
    case REGIO_VALUE_ABSENT:
        p->flags_absent = true;
        break;
    case REGIO_VALUE_UNREADABLE:
        regio_diag_add(diags, REGIO_SEV_ERROR, flags_name, 0, NULL,
                       "RelayFlags cannot be read as a REG_DWORD: every relay is denied until it "
                       "is fixed");
        close_relay(p, "RelayFlags cannot be read as a REG_DWORD");
        break;
    case REGIO_VALUE_OK:
    case REGIO_VALUE_COERCED:
        p->flags = cfg->relay_flags.value;
        break;
    }
    uint32_t bits = p->flags & RELAY_KNOWN_BITS;

    if (p->flags & ~(uint32_t)RELAY_KNOWN_BITS) {
        regio_diag_add(diags, REGIO_SEV_WARNING, flags_name, 0, NULL,
                       "RelayFlags is 0x%lx: bits 0x%lx have no meaning and are ignored (only "
                       "1, 2, 4 and 8 do)",
                       (unsigned long)p->flags, (unsigned long)(p->flags & ~RELAY_KNOWN_BITS));
    }
    if (bits == 0 && !p->fail_closed) {
        if (p->flags_absent) {
            regio_diag_add_code(
                    diags, REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, flags_name, 0, NULL,
                    "RelayFlags is absent: every relay is denied (set it, e.g. to 2 with "
                    "RelayAllowList, to allow relaying)");
        } else if (p->flags == 0) {
            regio_diag_add_code(diags, REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, flags_name, 0,
                                NULL,
                                "RelayFlags is 0: every relay is denied (set it, e.g. to 2 with "
                                "RelayAllowList, to allow relaying)");
        } else {
            regio_diag_add_code(
                    diags, REGIO_DIAG_RELAY_DISABLED, REGIO_SEV_WARNING, flags_name, 0, NULL,
                    "RelayFlags is 0x%lx, which sets none of bits 1, 2, 4, 8: every relay "
                    "is denied",
                    (unsigned long)p->flags);
        }
    }

    if (bits & RELAY_BIT1_DENY_LIST) {
        if (relay_list_state(deny) == REGIO_VALUE_UNREADABLE) {
            regio_diag_add(diags, REGIO_SEV_ERROR, relay_list_name(deny), 0, NULL,
                           "%s cannot be read while bit 1 of RelayFlags is set: every relay is "
                           "denied until it is fixed",
                           relay_list_name(deny));
            close_relay(p, "%s cannot be read and bit 1 of RelayFlags is set",
                        relay_list_name(deny));
        } else if (relay_list_invalid_lines(deny) > 0) {
            size_t n = relay_list_invalid_lines(deny);
            regio_diag_add(diags, REGIO_SEV_ERROR, relay_list_name(deny), 0, NULL,
                           "%s has %lu invalid line%s while bit 1 of RelayFlags is set: every "
                           "relay is denied until %s fixed",
                           relay_list_name(deny), (unsigned long)n, n == 1 ? "" : "s",
                           n == 1 ? "it is" : "they are");
            close_relay(p, "%s has %lu invalid line%s and bit 1 of RelayFlags is set",
                        relay_list_name(deny), (unsigned long)n, n == 1 ? "" : "s");
        } else {
            note_empty_list(deny, "bit 1", diags);
        }
    }
    if (bits & RELAY_BIT2_ALLOW_LIST) {
        if (relay_list_state(allow) == REGIO_VALUE_UNREADABLE) {
            regio_diag_add(diags, REGIO_SEV_ERROR, relay_list_name(allow), 0, NULL,
                           "%s cannot be read: it allows no client until it is fixed",
                           relay_list_name(allow));
        } else {
            note_empty_list(allow, "bit 2", diags);
        }
    }
    if (bits & RELAY_BIT3_LOCAL_IP_LIST) {
        /* Forwarding that cannot be read counts as on: that only narrows who may relay. */
        const regio_dword *router = &cfg->ip_enable_router;
        p->ip_forwarding = router->state == REGIO_VALUE_UNREADABLE ||
                           (readable(router->state) && router->value == 1);
        if (router->state == REGIO_VALUE_UNREADABLE) {
            regio_diag_add_code(diags, REGIO_DIAG_LOCAL_IP_IGNORED, REGIO_SEV_WARNING,
                                name_or(router->name, "IPEnableRouter"), 0, NULL,
                                "IPEnableRouter cannot be read: IP forwarding is assumed on, so "
                                "RelayLocalIPList is not in effect");
        } else if (p->ip_forwarding) {
            regio_diag_add_code(
                    diags, REGIO_DIAG_LOCAL_IP_IGNORED, REGIO_SEV_WARNING, flags_name, 0, NULL,
                    "bit 3 of RelayFlags is set but IP forwarding is on (IPEnableRouter "
                    "is 1): RelayLocalIPList is not in effect");
        }
        p->local_ip_list_in_effect = !p->ip_forwarding;
        if (relay_list_state(local) == REGIO_VALUE_UNREADABLE) {
            regio_diag_add(diags, REGIO_SEV_ERROR, relay_list_name(local), 0, NULL,
                           "%s cannot be read: it allows no client until it is fixed",
                           relay_list_name(local));
        } else if (p->local_ip_list_in_effect) {
            note_empty_list(local, "bit 3", diags);
        }
    }
    return p;
}

void relay_policy_free(relay_policy *policy)
{
    if (!policy) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        relay_list_free(policy->lists[i]);
    }
    free(policy);
}

static void decided_by(relay_verdict *out, bool allowed, relay_step step)
{
    out->allowed = allowed;
    out->step = step;
}

/* A list step: true (and the verdict names the line) when the list matches address. */
static bool list_decides(const relay_list *list, const relay_addr *address, bool allowed,
                         relay_step step, relay_verdict *out)
{
    if (!relay_list_lookup(list, address, &out->line, &out->text)) {
        return false;
    }
    out->value = relay_list_name(list);
    decided_by(out, allowed, step);
    return true;
}

void relay_decide(const relay_policy *policy, const relay_addr *client, const relay_addr *local,
                  bool authenticated, relay_verdict *out)
{
    memset(out, 0, sizeof(*out));
    out->client = relay_addr_normalized(client);
    if (local) {
        out->local = relay_addr_normalized(local);
    }
    out->authenticated = authenticated;
    out->flags = policy->flags;
    out->flags_absent = policy->flags_absent;
    out->local_ip_list_in_effect = policy->local_ip_list_in_effect;

    if (policy->fail_closed) {
        out->fail_reason = policy->fail_reason;
        decided_by(out, false, RELAY_STEP_FAIL_CLOSED);
        return;
    }
    uint32_t bits = policy->flags & RELAY_KNOWN_BITS;
    if ((bits & RELAY_BIT1_DENY_LIST) && list_decides(policy->lists[RELAY_DENY_LIST], &out->client,
                                                      false, RELAY_STEP_DENY_LIST, out)) {
        return;
    }
    if ((bits & RELAY_BIT2_ALLOW_LIST) &&
        list_decides(policy->lists[RELAY_ALLOW_LIST], &out->client, true, RELAY_STEP_ALLOW_LIST,
                     out)) {
        return;
    }
    if ((bits & RELAY_BIT3_LOCAL_IP_LIST) && policy->local_ip_list_in_effect && local &&
        list_decides(policy->lists[RELAY_LOCAL_IP_LIST], &out->local, true,
                     RELAY_STEP_LOCAL_IP_LIST, out)) {
        return;
    }
    if ((bits & RELAY_BIT4_AUTHENTICATED) && authenticated) {
        decided_by(out, true, RELAY_STEP_AUTHENTICATED);
        return;
    }
    if (bits == RELAY_BIT1_DENY_LIST) {
        decided_by(out, true, RELAY_STEP_ONLY_BIT1);
        return;
    }
    decided_by(out, false, RELAY_STEP_DEFAULT_DENY);
}

uint32_t relay_policy_flags(const relay_policy *policy)
{
    return policy->flags;
}

bool relay_policy_fail_closed(const relay_policy *policy)
{
    return policy->fail_closed;
}

const char *relay_policy_fail_reason(const relay_policy *policy)
{
    return policy->fail_closed ? policy->fail_reason : NULL;
}

bool relay_policy_local_ip_list_in_effect(const relay_policy *policy)
{
    return policy->local_ip_list_in_effect;
}

bool relay_policy_relay_disabled(const relay_policy *policy)
{
    return !policy->fail_closed && (policy->flags & RELAY_KNOWN_BITS) == 0;
}

bool relay_policy_local_ip_ignored(const relay_policy *policy)
{
    return (policy->flags & RELAY_BIT3_LOCAL_IP_LIST) && !policy->local_ip_list_in_effect;
}

bool relay_policy_diag_covered(const relay_policy *policy, const regio_diag *d)
{
    if (d->severity != REGIO_SEV_WARNING) {
        return false;
    }
    switch (d->code) {
    case REGIO_DIAG_RELAY_DISABLED:
        return relay_policy_relay_disabled(policy);
    case REGIO_DIAG_LOCAL_IP_IGNORED:
        return relay_policy_local_ip_ignored(policy);
    default:
        return false;
    }
}

const relay_list *relay_policy_list(const relay_policy *policy, relay_list_id id)
{
    return (unsigned)id < 3 ? policy->lists[id] : NULL;
}
