/* Decisions and policies in words: the sentences administrators read in events, in
 * `imsrelay check` and in `imsrelay explain`. */
#include "relay_policy_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* Appends to a bounded buffer and counts what the whole text needs, like snprintf. */
typedef struct text {
    char *buf;
    size_t size;
    size_t len;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(text *t, const char *fmt, ...)
{
    char *at = t->len < t->size ? t->buf + t->len : NULL;
    size_t room = t->len < t->size ? t->size - t->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0) {
        t->len += (size_t)n;
    }
}

static size_t finish(text *t)
{
    if (t->size > 0 && t->len == 0) {
        t->buf[0] = '\0';
    }
    return t->len;
}

const char *relay_step_name(relay_step step)
{
    switch (step) {
    case RELAY_STEP_FAIL_CLOSED:
        return "fail closed";
    case RELAY_STEP_DENY_LIST:
        return "deny list";
    case RELAY_STEP_ALLOW_LIST:
        return "allow list";
    case RELAY_STEP_LOCAL_IP_LIST:
        return "local-IP list";
    case RELAY_STEP_AUTHENTICATED:
        return "authenticated";
    case RELAY_STEP_ONLY_BIT1:
        return "only bit 1";
    case RELAY_STEP_DEFAULT_DENY:
        return "default deny";
    }
    return "unknown";
}

/* Why RelayFlags denies everything, when it does. */
static void put_no_bits(text *t, uint32_t flags, bool absent)
{
    if (absent) {
        put(t, "RelayFlags is absent, so every relay is denied");
    } else if (flags == 0) {
        put(t, "RelayFlags is 0, so every relay is denied");
    } else {
        put(t,
            "RelayFlags is 0x%lx, which sets none of bits 1, 2, 4, 8, so every relay is "
            "denied",
            (unsigned long)flags);
    }
}

size_t relay_verdict_describe(const relay_verdict *v, char *buf, size_t size)
{
    text t = {buf, size, 0};
    char client[RELAY_ADDR_TEXT_MAX], local[RELAY_ADDR_TEXT_MAX];
    relay_addr_format(&v->client, client, sizeof(client));
    if (v->local.family != RELAY_AF_NONE) {
        relay_addr_format(&v->local, local, sizeof(local));
    } else {
        snprintf(local, sizeof(local), "an unknown address");
    }
    uint32_t bits = v->flags & RELAY_KNOWN_BITS;
    put(&t, "%s: ", v->allowed ? "allowed" : "denied");
    switch (v->step) {
    case RELAY_STEP_FAIL_CLOSED:
        put(&t, "every relay is denied until the configuration is fixed: %s",
            v->fail_reason ? v->fail_reason : "the configuration is invalid");
        break;
    case RELAY_STEP_DENY_LIST:
        put(&t, "%s line %lu (%s) matches %s and bit 1 of RelayFlags is set", v->value,
            (unsigned long)v->line, v->text, client);
        break;
    case RELAY_STEP_ALLOW_LIST:
        put(&t, "%s line %lu (%s) matches %s and bit 2 of RelayFlags is set", v->value,
            (unsigned long)v->line, v->text, client);
        break;
    case RELAY_STEP_LOCAL_IP_LIST:
        put(&t,
            "%s connected to %s, which %s line %lu (%s) matches, and bit 3 of RelayFlags is "
            "set with IP forwarding off",
            client, local, v->value, (unsigned long)v->line, v->text);
        break;
    case RELAY_STEP_AUTHENTICATED:
        put(&t, "%s authenticated and bit 4 of RelayFlags is set", client);
        break;
    case RELAY_STEP_ONLY_BIT1:
        put(&t,
            "RelayDenyList does not match %s and RelayFlags is 1 (only bit 1), which lets every "
            "client not denied relay",
            client);
        break;
    case RELAY_STEP_DEFAULT_DENY:
        if (bits == 0) {
            put_no_bits(&t, v->flags, v->flags_absent);
            break;
        }
        put(&t, "no rule allows %s to relay (RelayFlags %lu:", client, (unsigned long)v->flags);
        const char *sep = " ";
        if (bits & RELAY_BIT1_DENY_LIST) {
            put(&t, "%sRelayDenyList does not match", sep);
            sep = ", ";
        }
        if (bits & RELAY_BIT2_ALLOW_LIST) {
            put(&t, "%sRelayAllowList does not match", sep);
            sep = ", ";
        }
        if (bits & RELAY_BIT3_LOCAL_IP_LIST) {
            if (!v->local_ip_list_in_effect) {
                put(&t, "%sRelayLocalIPList is not in effect because IP forwarding is on", sep);
            } else {
                put(&t, "%sRelayLocalIPList does not match the local address %s", sep, local);
            }
            sep = ", ";
        }
        if (bits & RELAY_BIT4_AUTHENTICATED) {
            put(&t, "%sthe session has not authenticated", sep);
        }
        put(&t, ")");
        break;
    }
    return finish(&t);
}

size_t relay_policy_describe(const relay_policy *p, char *buf, size_t size)
{
    text t = {buf, size, 0};
    uint32_t bits = p->flags & RELAY_KNOWN_BITS;
    uint32_t unknown = p->flags & ~(uint32_t)RELAY_KNOWN_BITS;
    if (p->fail_closed) {
        put(&t, "fail closed: every relay is denied (%s)", p->fail_reason);
        return finish(&t);
    }
    if (bits == 0) {
        put(&t, "none: every relay is denied (RelayFlags is %s)",
            p->flags_absent ? "absent"
            : unknown       ? "without bits 1, 2, 4, 8"
                            : "0");
    } else {
        const char *sep = "";
        if (bits & RELAY_BIT1_DENY_LIST) {
            put(&t, "%sdeny list", sep);
            sep = ", ";
        }
        if (bits & RELAY_BIT2_ALLOW_LIST) {
            put(&t, "%sallow list", sep);
            sep = ", ";
        }
        if ((bits & RELAY_BIT3_LOCAL_IP_LIST) && p->local_ip_list_in_effect) {
            put(&t, "%slocal-IP list", sep);
            sep = ", ";
        }
        if (bits & RELAY_BIT4_AUTHENTICATED) {
            put(&t, "%sauthenticated clients", sep);
            sep = ", ";
        }
        if (sep[0] == '\0') {
            put(&t, "none: every relay is denied");
        }
        if (bits == RELAY_BIT1_DENY_LIST) {
            put(&t, "; every client not denied may relay");
        }
        if ((bits & RELAY_BIT3_LOCAL_IP_LIST) && !p->local_ip_list_in_effect) {
            put(&t, "; local-IP list ignored: IP forwarding is on");
        }
    }
    if (unknown) {
        put(&t, "; bits 0x%lx ignored", (unsigned long)unknown);
    }
    return finish(&t);
}
