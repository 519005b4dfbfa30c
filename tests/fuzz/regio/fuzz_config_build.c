/* regio_config_build over fuzzed raw values: any names (real, near-miss, unknown), types, sizes
 * and bytes. Each value's bytes live in a block of exactly their size, so ASan catches any
 * read past a value. Input format, repeated: name selector (1 byte), type (1 byte), flags
 * (1 byte: bit 0 unreadable, bit 1 key missing), size (2 bytes LE, clamped to what is left),
 * bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUES_MAX 32

static const char *const extra_names[] = {"RelayAlowList", "relaydenylist",  "",
                                          "Comment",       "IPENABLEROUTER", "MailRoots"};

static const char *pick_name(uint8_t selector)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    size_t extra = sizeof(extra_names) / sizeof(extra_names[0]);
    size_t i = selector % (count + extra);
    return i < count ? settings[i].name : extra_names[i - count];
}

static size_t touch_list(const regio_list *list)
{
    size_t total = 0;
    for (size_t i = 0; i < list->count; i++) {
        total += strlen(list->lines[i]);
    }
    return total + strlen(list->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    regio_raw_value values[VALUES_MAX];
    uint8_t *blocks[VALUES_MAX];
    size_t count = 0;
    bool key_missing = false;
    size_t pos = 0;
    while (count < VALUES_MAX && size - pos >= 5) {
        const uint8_t *h = data + pos;
        size_t n = (size_t)h[3] | (size_t)h[4] << 8;
        pos += 5;
        if (n > size - pos) {
            n = size - pos;
        }
        blocks[count] = n ? malloc(n) : NULL;
        if (n) {
            memcpy(blocks[count], data + pos, n);
        }
        pos += n;
        values[count] = (regio_raw_value){.name = pick_name(h[0]),
                                          .type = h[1] < 12 ? h[1] : h[1] * 1000u,
                                          .data = blocks[count],
                                          .size = n,
                                          .unreadable = h[2] & 1};
        key_missing |= (h[2] & 2) != 0;
        count++;
    }

    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_host_defaults defaults = {.mail_root = "C:\\ProgramData\\imsrelay",
                                    .host_name = count % 2 ? "host.example" : "bad host"};
    regio_config *config =
            regio_config_build_with_defaults(values, count, key_missing, &defaults, &diags);
    volatile size_t sink = 0;
    if (config) {
        sink += touch_list(&config->relay_deny_list) + touch_list(&config->relay_allow_list) +
                touch_list(&config->relay_local_ip_list) + touch_list(&config->local_domains) +
                touch_list(&config->listen_addresses);
        sink += strlen(config->mail_root) + strlen(config->host_name);
        sink += config->relay_flags.value + config->listen_port.value;
        /* Fail-safe invariants: an unusable RelayFlags is 0, an unusable IPEnableRouter is 1. */
        if (config->relay_flags.state == REGIO_VALUE_UNREADABLE && config->relay_flags.value != 0) {
            abort();
        }
        if (config->ip_enable_router.state == REGIO_VALUE_UNREADABLE &&
            config->ip_enable_router.value != 1) {
            abort();
        }
    }
    for (size_t i = 0; i < diags.count; i++) {
        sink += strlen(diags.items[i].value) + strlen(diags.items[i].text) +
                strlen(diags.items[i].message);
    }
    (void)sink;
    regio_config_free(config);
    regio_diag_list_free(&diags);
    for (size_t i = 0; i < count; i++) {
        free(blocks[i]);
    }
    return 0;
}
