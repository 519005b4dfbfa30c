/* Building the plain regio_config the engine reads, the way regio would fill it. */
#ifndef IMSRELAY_TESTS_RELAY_FIXTURE_H
#define IMSRELAY_TESTS_RELAY_FIXTURE_H

#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "relay_policy.h"

#define LINES(...) ((const char *const[]){__VA_ARGS__})
#define COUNT(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* set_list(&cfg.relay_deny_list, "a", "b") */
#define set_list(list, ...) set_list_lines((list), LINES(__VA_ARGS__), COUNT(__VA_ARGS__))

static inline regio_config fixture_config(uint32_t relay_flags)
{
    regio_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.relay_flags.name = "RelayFlags";
    cfg.relay_flags.state = REGIO_VALUE_OK;
    cfg.relay_flags.value = relay_flags;
    cfg.relay_deny_list.name = "RelayDenyList";
    cfg.relay_allow_list.name = "RelayAllowList";
    cfg.relay_local_ip_list.name = "RelayLocalIPList";
    cfg.ip_enable_router.name = "IPEnableRouter";
    return cfg;
}

static inline void set_list_lines(regio_list *list, const char *const *lines, size_t count)
{
    list->state = REGIO_VALUE_OK;
    list->lines = lines;
    list->count = count;
}

static inline relay_addr addr(const char *text)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    if (!relay_addr_parse(text, &a)) {
        a.family = RELAY_AF_NONE;
    }
    return a;
}

#endif
