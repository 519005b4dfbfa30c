/* The configuration in the registry now, and the relay rules compiled from it: what the
 * service puts in force at start and at each reload, and what `check` and `explain` read. */
#ifndef IMSRELAY_LIVE_CONFIG_H
#define IMSRELAY_LIVE_CONFIG_H

#include <stdbool.h>

#include "config.h"
#include "diag.h"
#include "relay_policy.h"

typedef struct live_config {
    regio_config *config;
    relay_policy *policy;
    regio_diag_list diags; /* from reading and from compiling */
} live_config;

/* Reads HKLM\...\MSExchangeIMC\Parameters (and IPEnableRouter) and compiles the rules.
 * Every problem becomes a diagnostic; false only when out of memory (then *out is empty). */
bool live_config_read(live_config *out);
void live_config_free(live_config *lc);

#endif
