/* The compiled lists (boundaries + hashed mask groups) against the plain definition: on
 * many random lists, with nested blocks, duplicates, non-contiguous masks, lines that never
 * match, both families and IPv4-mapped clients, the compiled lookup must name exactly the
 * line the linear scan names, and whole decisions must equal a straightforward reading of
 * the article. Fixed seeds: a failure prints its seed and reproduces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay_fixture.h"
#include "test_rng.h"

#define TRIALS     400
#define MAX_LINES  300
#define QUERIES    400
#define LINE_BYTES 160

static uint32_t below(rng *r, uint32_t n)
{
    return (uint32_t)(next(r) % n);
}

static void random_bytes(rng *r, uint8_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        out[i] = (uint8_t)next(r);
    }
}

/* Addresses crowd into a few small regions so that blocks nest and overlap a lot. */
static relay_addr random_address(rng *r, uint8_t family)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    a.family = family;
    int bytes = family == RELAY_AF_INET4 ? 4 : 16;
    random_bytes(r, a.bytes, bytes);
    if (below(r, 8) != 0) {
        a.bytes[0] = family == RELAY_AF_INET4 ? 10 : 0x20;
        a.bytes[1] = (uint8_t)below(r, 2);
        if (family == RELAY_AF_INET6) {
            memset(a.bytes + 2, 0, 10);
        }
    }
    return a;
}

static relay_addr mask_of(uint8_t family, int prefix)
{
    relay_addr m;
    memset(&m, 0, sizeof(m));
    m.family = family;
    for (int i = 0; i < prefix; i++) {
        m.bytes[i / 8] |= (uint8_t)(0x80 >> (i % 8));
    }
    return m;
}

typedef struct trial_masks {
    relay_addr pool[2][4]; /* a few non-contiguous masks per family, so groups have members */
} trial_masks;

static relay_addr scattered_mask(rng *r, uint8_t family, const trial_masks *tm)
{
    int f = family == RELAY_AF_INET4 ? 0 : 1;
    if (below(r, 4) != 0) {
        return tm->pool[f][below(r, 4)];
    }
    relay_addr m;
    memset(&m, 0, sizeof(m));
    m.family = family;
    random_bytes(r, m.bytes, family == RELAY_AF_INET4 ? 4 : 16);
    return m;
}

static void random_line(rng *r, char *line, const trial_masks *tm, char lines[][LINE_BYTES],
                        size_t done)
{
    uint32_t pick = below(r, 100);
    if (pick < 6 && done > 0) {
        memcpy(line, lines[below(r, (uint32_t)done)], LINE_BYTES); /* a duplicate */
        return;
    }
    if (pick < 8) {
        snprintf(line, LINE_BYTES, "%s", below(r, 2) ? "# comment" : "");
        return;
    }
    uint8_t family = below(r, 5) ? RELAY_AF_INET4 : RELAY_AF_INET6;
    int bits = family == RELAY_AF_INET4 ? 32 : 128;
    bool contiguous = below(r, 3) != 0;
    int prefix = below(r, 4) ? bits - (int)below(r, 17) : (int)below(r, (uint32_t)bits + 1);
    relay_addr mask = contiguous ? mask_of(family, prefix) : scattered_mask(r, family, tm);
    relay_addr net = random_address(r, family);
    if (below(r, 12) != 0) {
        for (int i = 0; i < 16; i++) {
            net.bytes[i] &= mask.bytes[i]; /* mostly valid; sometimes never matches */
        }
    }
    char n[RELAY_ADDR_TEXT_MAX], m[RELAY_ADDR_TEXT_MAX];
    relay_addr_format(&net, n, sizeof(n));
    relay_addr_format(&mask, m, sizeof(m));
    if (family == RELAY_AF_INET4 && below(r, 10) == 0) {
        /* The same rule spelled as an IPv4-mapped IPv6 line. */
        if (contiguous) {
            snprintf(line, LINE_BYTES, "::ffff:%s/%d", n, prefix + 96);
        } else {
            snprintf(line, LINE_BYTES, "::ffff:%s;ffff:ffff:ffff:ffff:ffff:ffff:%s", n, m);
        }
    } else if (contiguous && below(r, 2)) {
        snprintf(line, LINE_BYTES, " %s / %d", n, prefix);
    } else {
        snprintf(line, LINE_BYTES, "%s;%s ", n, m);
    }
}

/* A query near a listed rule (inside it, or a bit flipped) or anywhere. */
static relay_addr random_query(rng *r, const relay_list *list)
{
    size_t count = relay_list_count(list);
    relay_addr a;
    if (count > 0 && below(r, 4) != 0) {
        const relay_rule *rule = &relay_list_entry(list, below(r, (uint32_t)count))->rule;
        a = random_address(r, rule->net.family);
        for (int i = 0; i < 16; i++) {
            a.bytes[i] = (uint8_t)((rule->net.bytes[i] & rule->mask.bytes[i]) |
                                   (a.bytes[i] & ~rule->mask.bytes[i]));
        }
        if (below(r, 4) == 0) {
            int bits = a.family == RELAY_AF_INET4 ? 32 : 128;
            int bit = (int)below(r, (uint32_t)bits);
            a.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
        }
    } else {
        a = random_address(r, below(r, 3) ? RELAY_AF_INET4 : RELAY_AF_INET6);
    }
    if (a.family == RELAY_AF_INET4 && below(r, 6) == 0) {
        relay_addr mapped;
        memset(&mapped, 0, sizeof(mapped));
        mapped.family = RELAY_AF_INET6;
        mapped.bytes[10] = mapped.bytes[11] = 0xff;
        memcpy(mapped.bytes + 12, a.bytes, 4);
        a = mapped;
    }
    return a;
}

/* The article read aloud, on the linear scan. */
static void reference_decide(const relay_policy *p, const relay_addr *client,
                             const relay_addr *local, bool authenticated, bool *allowed,
                             relay_step *step, uint32_t *line)
{
    *line = 0;
    if (relay_policy_fail_closed(p)) {
        *allowed = false;
        *step = RELAY_STEP_FAIL_CLOSED;
        return;
    }
    uint32_t bits = relay_policy_flags(p) & 0xF;
    const relay_list *deny = relay_policy_list(p, RELAY_DENY_LIST);
    const relay_list *allow = relay_policy_list(p, RELAY_ALLOW_LIST);
    const relay_list *locals = relay_policy_list(p, RELAY_LOCAL_IP_LIST);
    size_t i;
    if ((bits & 1) && (i = relay_list_match_linear(deny, client)) != RELAY_NO_MATCH) {
        *allowed = false;
        *step = RELAY_STEP_DENY_LIST;
        *line = relay_list_entry(deny, i)->line;
    } else if ((bits & 2) && (i = relay_list_match_linear(allow, client)) != RELAY_NO_MATCH) {
        *allowed = true;
        *step = RELAY_STEP_ALLOW_LIST;
        *line = relay_list_entry(allow, i)->line;
    } else if ((bits & 4) && relay_policy_local_ip_list_in_effect(p) &&
               (i = relay_list_match_linear(locals, local)) != RELAY_NO_MATCH) {
        *allowed = true;
        *step = RELAY_STEP_LOCAL_IP_LIST;
        *line = relay_list_entry(locals, i)->line;
    } else if ((bits & 8) && authenticated) {
        *allowed = true;
        *step = RELAY_STEP_AUTHENTICATED;
    } else if (bits == 1) {
        *allowed = true;
        *step = RELAY_STEP_ONLY_BIT1;
    } else {
        *allowed = false;
        *step = RELAY_STEP_DEFAULT_DENY;
    }
}

static char lines_text[3][MAX_LINES][LINE_BYTES];

static void compiled_equals_linear(void **state)
{
    (void)state;
    size_t compared = 0, matched = 0;
    for (uint64_t seed = 1; seed <= TRIALS; seed++) {
        rng r = {seed * 7919};
        trial_masks tm;
        for (int f = 0; f < 2; f++) {
            for (int k = 0; k < 4; k++) {
                memset(&tm.pool[f][k], 0, sizeof(relay_addr));
                tm.pool[f][k].family = f == 0 ? RELAY_AF_INET4 : RELAY_AF_INET6;
                random_bytes(&r, tm.pool[f][k].bytes, f == 0 ? 4 : 16);
            }
        }
        const char *ptrs[3][MAX_LINES];
        size_t counts[3];
        for (int l = 0; l < 3; l++) {
            counts[l] = below(&r, seed % 10 == 0 ? MAX_LINES : 40);
            for (size_t i = 0; i < counts[l]; i++) {
                random_line(&r, lines_text[l][i], &tm, lines_text[l], i);
                ptrs[l][i] = lines_text[l][i];
            }
        }
        regio_config cfg = fixture_config(below(&r, 32));
        set_list_lines(&cfg.relay_deny_list, ptrs[0], counts[0]);
        set_list_lines(&cfg.relay_allow_list, ptrs[1], counts[1]);
        set_list_lines(&cfg.relay_local_ip_list, ptrs[2], counts[2]);
        cfg.ip_enable_router.state = REGIO_VALUE_OK;
        cfg.ip_enable_router.value = below(&r, 2);
        regio_diag_list diags;
        regio_diag_list_init(&diags);
        relay_policy *p = relay_policy_build(&cfg, &diags);
        assert_non_null(p);
        for (int l = 0; l < 3; l++) {
            const relay_list *list = relay_policy_list(p, (relay_list_id)l);
            for (int q = 0; q < QUERIES; q++) {
                relay_addr a = random_query(&r, list);
                size_t fast = relay_list_match(list, &a);
                size_t slow = relay_list_match_linear(list, &a);
                if (fast != slow) {
                    char text[RELAY_ADDR_TEXT_MAX];
                    relay_addr_format(&a, text, sizeof(text));
                    fail_msg("seed %lu list %d address %s: compiled %ld, linear %ld",
                             (unsigned long)seed, l, text, (long)fast, (long)slow);
                }
                compared++;
                matched += slow != RELAY_NO_MATCH;
            }
        }
        for (int q = 0; q < QUERIES; q++) {
            relay_addr client = random_query(&r, relay_policy_list(p, RELAY_ALLOW_LIST));
            if (below(&r, 2)) {
                client = random_query(&r, relay_policy_list(p, RELAY_DENY_LIST));
            }
            relay_addr local = random_query(&r, relay_policy_list(p, RELAY_LOCAL_IP_LIST));
            bool auth = below(&r, 2);
            relay_verdict v;
            relay_decide(p, &client, &local, auth, &v);
            bool allowed;
            relay_step step;
            uint32_t line;
            reference_decide(p, &client, &local, auth, &allowed, &step, &line);
            if (v.allowed != allowed || v.step != step || v.line != line) {
                fail_msg("seed %lu query %d: engine %s/%d line %lu, reference %s/%d line %lu",
                         (unsigned long)seed, q, v.allowed ? "allow" : "deny", (int)v.step,
                         (unsigned long)v.line, allowed ? "allow" : "deny", (int)step,
                         (unsigned long)line);
            }
        }
        relay_policy_free(p);
        regio_diag_list_free(&diags);
    }
    /* The generator must really exercise matches, not only misses. */
    assert_true(matched > compared / 4);
    print_message("%lu lookups compared, %lu matched a line\n", (unsigned long)compared,
                  (unsigned long)matched);
}

/* A list big enough for the compact layout of big lists (2^16 buckets, 16-bit keys):
 * addresses spread over the whole IPv4 space. */
static void big_list_equals_linear(void **state)
{
    (void)state;
    enum { LINES = 40000, PROBES = 500 };
    static char text[LINES][RELAY_ADDR_TEXT_MAX + 8];
    static const char *lines[LINES];
    rng r = {424242};
    for (size_t i = 0; i < LINES; i++) {
        int prefix = 16 + (int)below(&r, 17);
        uint32_t net = (uint32_t)next(&r) & ~(uint32_t)0 << (32 - prefix);
        relay_addr a = relay_addr_from_v4_uint(net);
        char n[RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&a, n, sizeof(n));
        snprintf(text[i], sizeof(text[i]), "%s/%d", n, prefix);
        lines[i] = text[i];
    }
    regio_list source = {"RelayDenyList", REGIO_VALUE_OK, lines, LINES};
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    relay_list *list = relay_list_build(&source, &diags);
    assert_non_null(list);
    assert_int_equal(diags.count, 0);
    size_t matched = 0;
    for (int q = 0; q < PROBES; q++) {
        relay_addr a = random_query(&r, list);
        size_t fast = relay_list_match(list, &a), slow = relay_list_match_linear(list, &a);
        if (fast != slow) {
            char t[RELAY_ADDR_TEXT_MAX];
            relay_addr_format(&a, t, sizeof(t));
            fail_msg("address %s: compiled %ld, linear %ld", t, (long)fast, (long)slow);
        }
        matched += slow != RELAY_NO_MATCH;
    }
    assert_true(matched > PROBES / 4);
    relay_list_free(list);
    regio_diag_list_free(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(compiled_equals_linear),
            cmocka_unit_test(big_list_equals_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
