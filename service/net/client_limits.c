#include "net/client_limits.h"

#include <windows.h>

#include <stdlib.h>

#include "byte_budget.h"
#include "rate_table.h"

/* Enough for every client of MaxConnections' default at once; a table that is full forgets
 * the oldest rates (rate_table) and refuses new Tmp holders (byte_budget, a 452). */
#define RATE_SLOTS   4096
#define BUDGET_SLOTS 4096
#define MIB          (1024ull * 1024ull)

struct client_limits {
    SRWLOCK lock;
    rate_table *connections;
    rate_table *auth_attempts;
    byte_budget *tmp;
};

client_limits *client_limits_create(void)
{
    client_limits *l = calloc(1, sizeof(*l));
    if (!l) {
        return NULL;
    }
    InitializeSRWLock(&l->lock);
    l->connections = rate_table_create(RATE_SLOTS);
    l->auth_attempts = rate_table_create(RATE_SLOTS);
    l->tmp = byte_budget_create(BUDGET_SLOTS);
    if (!l->connections || !l->auth_attempts || !l->tmp) {
        client_limits_destroy(l);
        return NULL;
    }
    return l;
}

void client_limits_destroy(client_limits *l)
{
    if (!l) {
        return;
    }
    rate_table_destroy(l->connections);
    rate_table_destroy(l->auth_attempts);
    byte_budget_destroy(l->tmp);
    free(l);
}

static bool rate(client_limits *l, rate_table *t, const relay_addr *client, uint32_t per_minute)
{
    AcquireSRWLockExclusive(&l->lock);
    bool ok = rate_table_allow(t, client, sizeof(*client), GetTickCount64(), per_minute);
    ReleaseSRWLockExclusive(&l->lock);
    return ok;
}

bool client_limits_connection(client_limits *l, const relay_addr *client,
                              const regio_config *config)
{
    return rate(l, l->connections, client, config->connections_per_client_per_minute.value);
}

bool client_limits_auth_attempt(client_limits *l, const relay_addr *client,
                                const regio_config *config)
{
    return rate(l, l->auth_attempts, client, config->auth_attempts_per_client_per_minute.value);
}

bool client_limits_tmp_reserve(client_limits *l, const relay_addr *client, uint64_t n,
                               const regio_config *config)
{
    AcquireSRWLockExclusive(&l->lock);
    bool ok = byte_budget_reserve(l->tmp, client, sizeof(*client), n,
                                  config->tmp_max_megabytes.value * MIB,
                                  config->tmp_max_megabytes_per_client.value * MIB);
    ReleaseSRWLockExclusive(&l->lock);
    return ok;
}

void client_limits_tmp_release(client_limits *l, const relay_addr *client, uint64_t n)
{
    AcquireSRWLockExclusive(&l->lock);
    byte_budget_release(l->tmp, client, sizeof(*client), n);
    ReleaseSRWLockExclusive(&l->lock);
}

uint64_t client_limits_tmp_total(client_limits *l)
{
    AcquireSRWLockShared(&l->lock);
    uint64_t n = byte_budget_total(l->tmp);
    ReleaseSRWLockShared(&l->lock);
    return n;
}
