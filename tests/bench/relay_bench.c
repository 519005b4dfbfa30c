/* Relay decisions per second against list size: the compiled engine and the linear
 * definition in the same run, on the same queries, with the same answers (checked).
 *
 *   relay_bench            lists of 10, 1,000, 100,000 and 1,000,000 lines
 *   relay_bench --tiny     10 and 1,000 lines, few queries: proves the program works
 *
 * The list under test is RelayDenyList (RelayFlags 3, RelayAllowList 10.0.0.0/8): every
 * decision looks the client up in the big list, then in the small one. Lines are mostly
 * IPv4 blocks /16../32, some IPv6 /32../128, and 1% IPv4 lines with one of four
 * non-contiguous masks; half the queries fall inside a listed block. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 199309L
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

#include "relay_policy.h"
#include "test_rng.h"

/* CPU time of this thread, not wall time: the build machine is shared, and a benchmark
 * should measure the work done, not the neighbours. */
static double now_seconds(void)
{
#if defined(_WIN32)
    FILETIME created, exited, kernel, user;
    GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user);
    ULARGE_INTEGER k, u;
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    return (double)(k.QuadPart + u.QuadPart) * 1e-7;
#else
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
}

#define LINE_BYTES 96

static const uint32_t scattered_masks[4] = {0xff0000ffu, 0xffff00ffu, 0xff00ff00u, 0xf0f0f0f0u};

/* Line i of a generated list, written into out. */
static void make_line(rng *r, char *out)
{
    uint64_t pick = next(r) % 100;
    if (pick < 79) {
        int prefix = 16 + (int)(next(r) % 17);
        uint32_t mask = prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
        relay_addr net = relay_addr_from_v4_uint((uint32_t)next(r) & mask);
        char text[RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&net, text, sizeof(text));
        snprintf(out, LINE_BYTES, "%s/%d", text, prefix);
    } else if (pick < 99) {
        relay_addr net;
        memset(&net, 0, sizeof(net));
        net.family = RELAY_AF_INET6;
        net.bytes[0] = 0x20;
        net.bytes[1] = 0x01;
        int prefix = 32 + (int)(next(r) % 97);
        for (int i = 2; i < 16; i++) {
            net.bytes[i] = (uint8_t)next(r);
        }
        for (int bit = prefix; bit < 128; bit++) {
            net.bytes[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
        }
        char text[RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&net, text, sizeof(text));
        snprintf(out, LINE_BYTES, "%s/%d", text, prefix);
    } else {
        uint32_t mask = scattered_masks[next(r) % 4];
        relay_addr net = relay_addr_from_v4_uint((uint32_t)next(r) & mask);
        relay_addr m = relay_addr_from_v4_uint(mask);
        char n[RELAY_ADDR_TEXT_MAX], t[RELAY_ADDR_TEXT_MAX];
        relay_addr_format(&net, n, sizeof(n));
        relay_addr_format(&m, t, sizeof(t));
        snprintf(out, LINE_BYTES, "%s;%s", n, t);
    }
}

/* The article read aloud on the linear scan: the baseline. */
static bool reference_decide(const relay_policy *p, const relay_addr *client, uint32_t *line)
{
    const relay_list *deny = relay_policy_list(p, RELAY_DENY_LIST);
    const relay_list *allow = relay_policy_list(p, RELAY_ALLOW_LIST);
    size_t i;
    *line = 0;
    if ((i = relay_list_match_linear(deny, client)) != RELAY_NO_MATCH) {
        *line = relay_list_entry(deny, i)->line;
        return false;
    }
    if ((i = relay_list_match_linear(allow, client)) != RELAY_NO_MATCH) {
        *line = relay_list_entry(allow, i)->line;
        return true;
    }
    return false;
}

static volatile uint64_t sink;

static int run_size(size_t lines, size_t queries, double min_seconds, size_t reference_budget)
{
    rng r = {lines * 2654435761u + 17};
    char *arena = malloc(lines * LINE_BYTES);
    const char **text = malloc(lines * sizeof(*text));
    relay_addr *query = malloc(queries * sizeof(*query));
    if (!arena || !text || !query) {
        fprintf(stderr, "relay_bench: out of memory for %lu lines\n", (unsigned long)lines);
        return 1;
    }
    for (size_t i = 0; i < lines; i++) {
        text[i] = arena + i * LINE_BYTES;
        make_line(&r, arena + i * LINE_BYTES);
    }
    static const char *const allow_lines[] = {"10.0.0.0/8"};
    regio_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.relay_flags = (regio_dword){"RelayFlags", REGIO_VALUE_OK, 3};
    cfg.relay_deny_list = (regio_list){"RelayDenyList", REGIO_VALUE_OK, text, lines};
    cfg.relay_allow_list = (regio_list){"RelayAllowList", REGIO_VALUE_OK, allow_lines, 1};

    regio_diag_list diags;
    regio_diag_list_init(&diags);
    double t0 = now_seconds();
    relay_policy *policy = relay_policy_build(&cfg, &diags);
    double compile = now_seconds() - t0;
    if (!policy) {
        fprintf(stderr, "relay_bench: out of memory compiling %lu lines\n", (unsigned long)lines);
        return 1;
    }
    if (regio_diag_count(&diags, REGIO_SEV_ERROR) > 0) {
        fprintf(stderr, "relay_bench: generated list has errors: %s\n", diags.items[0].message);
        return 1;
    }

    const relay_list *deny = relay_policy_list(policy, RELAY_DENY_LIST);
    for (size_t q = 0; q < queries; q++) {
        if (next(&r) % 2) {
            const relay_rule *rule =
                    &relay_list_entry(deny, next(&r) % relay_list_count(deny))->rule;
            relay_addr a = rule->net;
            for (int i = 0; i < 16; i++) {
                a.bytes[i] = (uint8_t)(rule->net.bytes[i] | (next(&r) & ~rule->mask.bytes[i]));
            }
            query[q] = a;
        } else {
            query[q] = relay_addr_from_v4_uint((uint32_t)next(&r));
        }
    }

    /* The engine: whole passes over the queries until min_seconds have gone by. */
    uint64_t decisions = 0, acc = 0;
    t0 = now_seconds();
    double engine_elapsed;
    do {
        for (size_t q = 0; q < queries; q++) {
            relay_verdict v;
            relay_decide(policy, &query[q], NULL, false, &v);
            acc += v.allowed + v.line;
        }
        decisions += queries;
        engine_elapsed = now_seconds() - t0;
    } while (engine_elapsed < min_seconds);

    /* The reference on a sample small enough to finish, checking every answer. */
    size_t sample = reference_budget / (lines + 1);
    sample = sample < 20 ? 20 : sample > queries ? queries : sample;
    t0 = now_seconds();
    for (size_t q = 0; q < sample; q++) {
        uint32_t line;
        acc += reference_decide(policy, &query[q], &line) + line;
    }
    double reference_elapsed = now_seconds() - t0;
    for (size_t q = 0; q < sample; q++) {
        relay_verdict v;
        uint32_t line;
        relay_decide(policy, &query[q], NULL, false, &v);
        bool allowed = reference_decide(policy, &query[q], &line);
        if (v.allowed != allowed || v.line != line) {
            char a[RELAY_ADDR_TEXT_MAX];
            relay_addr_format(&query[q], a, sizeof(a));
            fprintf(stderr, "relay_bench: %s: engine line %lu, reference line %lu\n", a,
                    (unsigned long)v.line, (unsigned long)line);
            return 1;
        }
    }
    sink = acc;

    double engine_ns = engine_elapsed * 1e9 / (double)decisions;
    double reference_ns = reference_elapsed * 1e9 / (double)sample;
    char ratio[32] = "n/a"; /* a clock too coarse for a tiny run measures nothing */
    if (engine_ns > 0 && reference_ns > 0) {
        snprintf(ratio, sizeof(ratio), "%.0fx", reference_ns / engine_ns);
    }
    printf("%10lu %12.1f %14.1f %17.1f %9lu %11s\n", (unsigned long)lines, compile * 1e3, engine_ns,
           reference_ns, (unsigned long)sample, ratio);
    fflush(stdout);

    relay_policy_free(policy);
    regio_diag_list_free(&diags);
    free(query);
    free(text);
    free(arena);
    return 0;
}

int main(int argc, char **argv)
{
    bool tiny = argc > 1 && strcmp(argv[1], "--tiny") == 0;
    if (argc > 1 && !tiny) {
        fprintf(stderr, "usage: relay_bench [--tiny]\n");
        return 2;
    }
    static const size_t full[] = {10, 1000, 100000, 1000000};
    static const size_t small[] = {10, 1000};
    const size_t *sizes = tiny ? small : full;
    size_t count = tiny ? 2 : 4;

    printf("relay decision engine: RelayFlags 3, RelayDenyList of N lines, RelayAllowList 1 "
           "line; CPU time of one thread\n");
    printf("%10s %12s %14s %17s %9s %11s\n", "lines", "compile ms", "engine ns/dec",
           "reference ns/dec", "ref. n", "ref/engine");
    for (size_t i = 0; i < count; i++) {
        int rc = tiny ? run_size(sizes[i], 200, 0.0, 20000)
                      : run_size(sizes[i], 1 << 16, 0.5, 200000000);
        if (rc) {
            return rc;
        }
    }
    return 0;
}
