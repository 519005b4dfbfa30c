#include "mx_order.h"

#include <string.h>

#include "route.h"

static size_t name_length(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && name[n - 1] == '.' ? n - 1 : n;
}

static bool same_name(const char *a, const char *b)
{
    size_t la = name_length(a);
    if (la == 0 || la != name_length(b)) {
        return false;
    }
    for (size_t i = 0; i < la; i++) {
        char x = a[i], y = b[i];
        x = x >= 'A' && x <= 'Z' ? (char)(x - 'A' + 'a') : x;
        y = y >= 'A' && y <= 'Z' ? (char)(y - 'A' + 'a') : y;
        if (x != y) {
            return false;
        }
    }
    return true;
}

/* Uniform in [0, n) without modulo bias, so every order of equal preferences is as likely. */
static size_t uniform(mx_order_random random, void *context, size_t n)
{
    uint32_t bound = (uint32_t)n;
    uint32_t threshold = (uint32_t)(0u - bound) % bound;
    uint32_t r;
    do {
        r = random(context);
    } while (r < threshold);
    return r % bound;
}

static void fail(mx_order_result *out, mx_order_status status, const char *code, const char *reason)
{
    out->status = status;
    out->count = 0;
    out->enhanced_status = code;
    out->reason = reason;
}

void mx_order(const mx_record *records, size_t count, const char *const *self_names,
              size_t self_count, size_t max_hosts, mx_order_random random, void *context,
              mx_order_result *out)
{
    memset(out, 0, sizeof(*out));
    if (count > MX_ORDER_RECORDS_MAX) {
        count = MX_ORDER_RECORDS_MAX;
    }
    if (count == 0) {
        fail(out, MX_ORDER_NO_RECORDS, NULL, NULL);
        return;
    }
    size_t roots = 0;
    for (size_t i = 0; i < count; i++) {
        roots += name_length(records[i].exchange) == 0;
    }
    if (roots == count) {
        fail(out, MX_ORDER_NULL_MX, "5.1.10",
             "the recipient's domain accepts no mail (null MX, RFC 7505)");
        return;
    }

    /* Usable records, sorted by preference (insertion sort: stable, n is small). */
    uint16_t order[MX_ORDER_RECORDS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = records[i].exchange;
        size_t len = name_length(name);
        if (len == 0 || route_host_name_problem(name, strlen(name)) != NULL) {
            continue;
        }
        size_t j = n++;
        while (j > 0 && records[order[j - 1]].preference > records[i].preference) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (uint16_t)i;
    }
    if (n == 0) {
        fail(out, MX_ORDER_UNUSABLE, "4.4.4",
             "no MX record of the recipient's domain names a valid host");
        return;
    }

    /* RFC 5321 5.1: our own name ends the list, with everything as or less preferred. */
    size_t kept = n;
    for (size_t k = 0; k < n && kept == n; k++) {
        for (size_t s = 0; s < self_count; s++) {
            if (same_name(records[order[k]].exchange, self_names[s])) {
                uint16_t cut = records[order[k]].preference;
                kept = k;
                while (kept > 0 && records[order[kept - 1]].preference >= cut) {
                    kept--;
                }
                break;
            }
        }
    }
    if (kept == 0) {
        fail(out, MX_ORDER_LOOP, "5.4.6",
             "mail loop: this server is the most preferred MX of the recipient's domain, which "
             "is not one of its local domains");
        return;
    }

    if (random != NULL) {
        for (size_t start = 0; start < kept;) {
            size_t end = start + 1;
            while (end < kept &&
                   records[order[end]].preference == records[order[start]].preference) {
                end++;
            }
            for (size_t i = end - 1; i > start; i--) {
                size_t j = start + uniform(random, context, i - start + 1);
                uint16_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            start = end;
        }
    }
    if (max_hosts == 0 || max_hosts > MX_ORDER_HOSTS_MAX) {
        max_hosts = MX_ORDER_HOSTS_MAX;
    }
    out->status = MX_ORDER_OK;
    out->count = kept < max_hosts ? kept : max_hosts;
    for (size_t i = 0; i < out->count; i++) {
        out->hosts[i] = records[order[i]];
    }
}
