/* A whole policy from fuzzed input: 4 bytes of RelayFlags, 1 byte choosing value states and
 * IP forwarding, then lines separated by '\n' whose first byte picks the list. Building
 * never fails on bad input, the compiled lookup agrees with the linear one for every listed
 * net and a few fuzzed addresses, and decisions and descriptions are always well formed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 2048

static void check_list(const relay_list *list, const relay_addr *extra, size_t extras)
{
    for (size_t i = 0; i < relay_list_count(list) + extras; i++) {
        relay_addr a = i < relay_list_count(list) ? relay_list_entry(list, i)->rule.net
                                                  : extra[i - relay_list_count(list)];
        size_t fast = relay_list_match(list, &a);
        if (fast != relay_list_match_linear(list, &a)) {
            abort();
        }
        if (fast != RELAY_NO_MATCH && fast > i && i < relay_list_count(list) &&
            !relay_list_entry(list, i)->rule.never_matches) {
            abort(); /* a valid entry matches its own net, so the answer is at most i */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5 || size > 1 << 16) {
        return 0;
    }
    char *text = malloc(size - 4);
    const char **lines[3];
    size_t counts[3] = {0, 0, 0};
    for (int l = 0; l < 3; l++) {
        lines[l] = malloc(MAX_LINES * sizeof(char *));
    }
    if (!text || !lines[0] || !lines[1] || !lines[2]) {
        abort();
    }
    uint32_t flags = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                     (uint32_t)data[3] << 24;
    uint8_t states = data[4];
    memcpy(text, data + 5, size - 5);
    text[size - 5] = '\0';
    for (char *p = text; *p;) {
        char *end = strchr(p, '\n');
        if (end) {
            *end = '\0';
        }
        int l = (unsigned char)p[0] % 3;
        if (counts[l] < MAX_LINES) {
            lines[l][counts[l]++] = p + 1;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }

    regio_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.relay_flags.name = "RelayFlags";
    cfg.relay_flags.state = (regio_value_state)(states & 3);
    cfg.relay_flags.value = flags;
    regio_list *lists[3] = {&cfg.relay_deny_list, &cfg.relay_allow_list, &cfg.relay_local_ip_list};
    const char *names[3] = {"RelayDenyList", "RelayAllowList", "RelayLocalIPList"};
    for (int l = 0; l < 3; l++) {
        lists[l]->name = names[l];
        lists[l]->state = (states >> (2 + l)) & 1 ? REGIO_VALUE_UNREADABLE : REGIO_VALUE_OK;
        lists[l]->lines = lines[l];
        lists[l]->count = counts[l];
    }
    cfg.ip_enable_router.state = REGIO_VALUE_OK;
    cfg.ip_enable_router.value = (states >> 5) & 1;

    regio_diag_list diags;
    regio_diag_list_init(&diags);
    relay_policy *policy = relay_policy_build(&cfg, &diags);
    if (!policy) {
        abort();
    }
    /* Addresses from the input bytes, both families, and IPv4-mapped. */
    relay_addr extra[3];
    memset(extra, 0, sizeof(extra));
    extra[0].family = RELAY_AF_INET4;
    extra[1].family = RELAY_AF_INET6;
    extra[2].family = RELAY_AF_INET6;
    for (size_t i = 0; i < 16 && i < size; i++) {
        extra[1].bytes[i] = data[size - 1 - i];
        if (i < 4) {
            extra[0].bytes[i] = data[size - 1 - i];
        }
    }
    extra[2].bytes[10] = extra[2].bytes[11] = 0xff;
    memcpy(extra[2].bytes + 12, extra[0].bytes, 4);
    for (int l = 0; l < 3; l++) {
        check_list(relay_policy_list(policy, (relay_list_id)l), extra, 3);
    }
    char sentence[1024];
    for (int i = 0; i < 3; i++) {
        relay_verdict v;
        relay_decide(policy, &extra[i], &extra[(i + 1) % 3], i == 1, &v);
        size_t n = relay_verdict_describe(&v, sentence, sizeof(sentence));
        if (n == 0 || n >= sizeof(sentence) || strlen(sentence) != n) {
            abort();
        }
        if (relay_policy_fail_closed(policy) && v.allowed) {
            abort(); /* bad configuration never opens the relay */
        }
    }
    size_t n = relay_policy_describe(policy, sentence, sizeof(sentence));
    if (n == 0 || strlen(sentence) != n) {
        abort();
    }
    relay_policy_free(policy);
    regio_diag_list_free(&diags);
    for (int l = 0; l < 3; l++) {
        free(lines[l]);
    }
    free(text);
    return 0;
}
