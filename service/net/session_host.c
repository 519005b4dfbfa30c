#include "net/session_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>

#include "engine_limits.h"

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
    const regio_config *config = runtime_snapshot_config(snapshot);
    h->protocol_log = config->protocol_log.value != 0 && services->protocol_log;
    if (h->protocol_log) {
        /* Once a session, not once a line: the age matters only when a day's file opens. */
        protocol_log_set_max_age(services->protocol_log, config->log_max_age_days.value);
    }
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

/* The hash runs on the pool, never here (a worker thread that serves every session): the
 * engine is told to wait, and the transport submits the job once this callback returned. */
static smtp_auth_verdict auth_check(void *ctx, const char *user, const char *password)
{
    session_host *h = ctx;
    const regio_config *config = runtime_snapshot_config(h->snapshot);
    bool windows = h->services->windows_accounts && config->auth_windows_accounts.value == 1;
    if (h->services->limits &&
        !client_limits_auth_attempt(h->services->limits, &h->client, config)) {
        session_host_log_event(h, "AUTH refused: AuthAttemptsPerClientPerMinute reached");
        return SMTP_AUTH_TEMPFAIL;
    }
    if (!h->services->auth_pool) {
        return auth_pool_verify(user, password, windows);
    }
    if (!auth_pool_reserve(h->services->auth_pool)) {
        session_host_log_event(h, "AUTH refused: the password check queue is full");
        return SMTP_AUTH_TEMPFAIL;
    }
    snprintf(h->auth.user, sizeof(h->auth.user), "%s", user);
    snprintf(h->auth.password, sizeof(h->auth.password), "%s", password);
    h->auth.windows_accounts = windows;
    h->auth.state = AUTH_JOB_READY;
    return SMTP_AUTH_PENDING;
}

bool session_host_auth_submit(session_host *h, void (*done)(void *ctx), void *ctx)
{
    if (h->auth.state != AUTH_JOB_READY) {
        return false;
    }
    auth_pool_submit(h->services->auth_pool, &h->auth, done, ctx);
    return true;
}

bool session_host_auth_deliver(session_host *h, smtp_session *engine)
{
    if (h->auth.state != AUTH_JOB_DONE) {
        return false;
    }
    smtp_auth_verdict verdict = h->auth.verdict;
    SecureZeroMemory(&h->auth, sizeof(h->auth));
    smtp_session_auth_result(engine, verdict);
    return true;
}

/* A message's file starts with the envelope and the Received: line: counted as this much
 * before the first byte of data. */
#define TMP_HEADER_BYTES 4096

static bool tmp_reserve(session_host *h, uint64_t n)
{
    if (!h->services->limits) {
        return true;
    }
    if (!client_limits_tmp_reserve(h->services->limits, &h->client, n,
                                   runtime_snapshot_config(h->snapshot))) {
        h->storage_refused = true;
        return false;
    }
    h->tmp_held += n;
    return true;
}

static void tmp_release(session_host *h)
{
    if (h->services->limits && h->tmp_held > 0) {
        client_limits_tmp_release(h->services->limits, &h->client, h->tmp_held);
    }
    h->tmp_held = 0;
}

static bool storage_full(void *ctx)
{
    return ((session_host *)ctx)->storage_refused;
}

static bool data_begin(void *ctx, const smtp_envelope *env)
{
    session_host *h = ctx;
    h->storage_refused = false;
    if (!tmp_reserve(h, TMP_HEADER_BYTES)) {
        session_host_log_event(
                h, "message refused: TmpMaxMegabytes or TmpMaxMegabytesPerClient reached");
        return false;
    }
    spool_recipient *recipients = calloc(env->recipient_count, sizeof(*recipients));
    if (!recipients) {
        tmp_release(h);
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
    if (!h->message) {
        tmp_release(h);
    }
    return h->message != NULL;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    session_host *h = ctx;
    if (!h->message) {
        return false;
    }
    if (!tmp_reserve(h, len)) {
        /* The disk is given back now, not when the client ends its message (if ever). */
        session_host_log_event(
                h, "message refused: TmpMaxMegabytes or TmpMaxMegabytesPerClient reached");
        spool_abort(h->message);
        h->message = NULL;
        tmp_release(h);
        return false;
    }
    return spool_write(h->message, bytes, len);
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    session_host *h = ctx;
    spool_message *m = h->message;
    h->message = NULL;
    if (!m) {
        tmp_release(h);
        return false;
    }
    if (outcome != SMTP_DATA_COMMIT) {
        spool_abort(m);
        tmp_release(h);
        return false;
    }
    unsigned long error = 0;
    bool stored = spool_commit(m, &error);
    tmp_release(h); /* renamed out of Tmp, or removed */
    return stored;
}

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

/* Every line of the session's log goes through here: past ProtocolLogSessionKilobytes only
 * the session's own events ('*': connect, timeout, close) are written, the rest counted. */
static void log_line(session_host *h, char direction, const char *line, size_t len)
{
    const regio_config *config = runtime_snapshot_config(h->snapshot);
    if (direction != '*' && h->log_bytes >= config->protocol_log_session_kilobytes.value * KIB) {
        h->log_dropped_lines++;
        h->log_dropped_bytes += len;
        return;
    }
    protocol_log_set_daily_limit(h->services->protocol_log,
                                 config->protocol_log_daily_megabytes.value * MIB);
    h->log_bytes += protocol_log_line(h->services->protocol_log, h->id, h->client_text, direction,
                                      line, len);
}

static void log_protocol(void *ctx, smtp_log_direction direction, const char *line, size_t len)
{
    session_host *h = ctx;
    if (h->protocol_log) {
        log_line(h, direction == SMTP_LOG_RECEIVED ? '<' : '>', line, len);
    }
}

session_deadline_limits session_host_deadlines(const regio_config *config)
{
    session_deadline_limits l = {
            .idle_ms = config->idle_timeout_seconds.value * 1000ull,
            .command_ms = config->command_timeout_seconds.value * 1000ull,
            .data_min_rate = config->data_min_bytes_per_second.value,
            .session_ms = config->session_timeout_seconds.value * 1000ull,
            .stress_percent = config->stress_connections_percent.value,
            .stress_ms = config->stress_timeout_seconds.value * 1000ull,
    };
    return l;
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
            .auth_without_tls = config->auth_without_tls.value == 1,
            .tls_available = runtime_snapshot_tls(h->snapshot) != NULL,
            .limits = regio_engine_limits(config),
            .relay_check = relay_check,
            .auth_check = auth_check,
            .data_begin = data_begin,
            .data_write = data_write,
            .data_end = data_end,
            .storage_full = storage_full,
            .protocol_log = log_protocol,
    };
    return host;
}

void session_host_log_event(session_host *h, const char *what)
{
    if (h->protocol_log) {
        log_line(h, '*', what, strlen(what));
    }
}

void session_host_finish(session_host *h)
{
    if (h->message) {
        spool_abort(h->message);
        h->message = NULL;
    }
    tmp_release(h);
    if (h->auth.state == AUTH_JOB_READY) {
        auth_pool_unreserve(h->services->auth_pool);
    }
    SecureZeroMemory(&h->auth, sizeof(h->auth));
    if (h->protocol_log && h->log_dropped_lines > 0) {
        char what[200];
        snprintf(what, sizeof(what),
                 "%llu lines (%llu bytes) of this session not logged: "
                 "ProtocolLogSessionKilobytes (%lu KiB) reached",
                 (unsigned long long)h->log_dropped_lines, (unsigned long long)h->log_dropped_bytes,
                 (unsigned long)runtime_snapshot_config(h->snapshot)
                         ->protocol_log_session_kilobytes.value);
        log_line(h, '*', what, strlen(what));
    }
    if (h->snapshot) {
        runtime_snapshot_release(h->snapshot);
        h->snapshot = NULL;
    }
}
