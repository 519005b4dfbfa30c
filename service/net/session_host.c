#include "net/session_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_limits.h"
#include "store/user_store.h"
#include "store/windows_accounts.h"

relay_addr session_host_addr(const struct sockaddr_storage *address)
{
    relay_addr a;
    memset(&a, 0, sizeof(a));
    if (address->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)address;
        a = relay_addr_from_v4_uint(ntohl(in->sin_addr.s_addr));
    } else if (address->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
        a.family = RELAY_AF_INET6;
        memcpy(a.bytes, &in6->sin6_addr, 16);
        a = relay_addr_normalized(&a);
    }
    return a;
}

void session_host_init(session_host *h, const session_services *services, uint64_t id,
                       const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
                       runtime_snapshot *snapshot)
{
    memset(h, 0, sizeof(*h));
    h->services = services;
    h->id = id;
    h->peer = *peer;
    h->client = session_host_addr(peer);
    h->local = session_host_addr(local);
    relay_addr_format(&h->client, h->client_text, sizeof(h->client_text));
    relay_addr_format(&h->local, h->local_text, sizeof(h->local_text));
    h->snapshot = snapshot;
    h->protocol_log =
            runtime_snapshot_config(snapshot)->protocol_log.value != 0 && services->protocol_log;
}

static smtp_relay_verdict relay_check(void *ctx, const smtp_relay_query *query)
{
    session_host *h = ctx;
    /* The rules in force now, not when the session began: a reload applies at once. */
    runtime_snapshot *snap = runtime_acquire(h->services->rt);
    relay_verdict verdict;
    relay_decide(runtime_snapshot_policy(snap), &h->client, &h->local, query->auth_account != NULL,
                 &verdict);
    if (!verdict.allowed) {
        denial_report report = {
                .peer = &h->peer,
                .client = h->client_text,
                .helo = query->helo_name,
                .auth_account = query->auth_account,
                .recipient = query->recipient,
                .local = h->local_text,
        };
        denial_events_report(h->services->denials, runtime_snapshot_config(snap), &report,
                             &verdict);
    }
    runtime_snapshot_release(snap);
    return verdict.allowed ? SMTP_RELAY_ALLOW : SMTP_RELAY_DENY;
}

static smtp_auth_verdict auth_check(void *ctx, const char *user, const char *password)
{
    session_host *h = ctx;
    if (user_store_verify(USER_STORE_KEY, user, password)) {
        return SMTP_AUTH_OK;
    }
    if (h->services->windows_accounts &&
        runtime_snapshot_config(h->snapshot)->auth_windows_accounts.value == 1 &&
        windows_accounts_verify(user, password)) {
        return SMTP_AUTH_OK;
    }
    return SMTP_AUTH_FAIL;
}

static bool data_begin(void *ctx, const smtp_envelope *env)
{
    session_host *h = ctx;
    spool_recipient *recipients = calloc(env->recipient_count, sizeof(*recipients));
    if (!recipients) {
        return false;
    }
    for (size_t i = 0; i < env->recipient_count; i++) {
        recipients[i].address = env->recipients[i].mailbox;
        recipients[i].local = env->recipients[i].local;
    }
    spool_envelope se = {
            .server_host = runtime_snapshot_config(h->snapshot)->host_name,
            .helo = env->helo_name,
            .client_ip = h->client_text,
            .client_host = NULL,
            .auth_account = env->auth_account,
            .esmtp = env->esmtp,
            .mail_from = env->mail_from,
            .recipients = recipients,
            .recipient_count = env->recipient_count,
    };
    unsigned long error = 0;
    h->message = spool_begin(h->services->spool, &se, &error);
    free(recipients);
    return h->message != NULL;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    session_host *h = ctx;
    return h->message && spool_write(h->message, bytes, len);
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    session_host *h = ctx;
    spool_message *m = h->message;
    h->message = NULL;
    if (!m) {
        return false;
    }
    if (outcome != SMTP_DATA_COMMIT) {
        spool_abort(m);
        return false;
    }
    unsigned long error = 0;
    return spool_commit(m, &error);
}

static void log_protocol(void *ctx, smtp_log_direction direction, const char *line, size_t len)
{
    session_host *h = ctx;
    if (h->protocol_log) {
        protocol_log_line(h->services->protocol_log, h->id, h->client_text,
                          direction == SMTP_LOG_RECEIVED ? '<' : '>', line, len);
    }
}

smtp_host session_host_smtp(session_host *h)
{
    const regio_config *config = runtime_snapshot_config(h->snapshot);
    smtp_host host = {
            .ctx = h,
            .host_name = config->host_name,
            .client_address = h->client_text,
            .local_domains = config->local_domains.lines,
            .local_domain_count = config->local_domains.count,
            .auth_available = true,
            .limits = regio_engine_limits(config),
            .relay_check = relay_check,
            .auth_check = auth_check,
            .data_begin = data_begin,
            .data_write = data_write,
            .data_end = data_end,
            .protocol_log = log_protocol,
    };
    return host;
}

void session_host_log_event(session_host *h, const char *what)
{
    if (h->protocol_log) {
        protocol_log_line(h->services->protocol_log, h->id, h->client_text, '*', what,
                          strlen(what));
    }
}

void session_host_finish(session_host *h)
{
    if (h->message) {
        spool_abort(h->message);
        h->message = NULL;
    }
    if (h->snapshot) {
        runtime_snapshot_release(h->snapshot);
        h->snapshot = NULL;
    }
}
