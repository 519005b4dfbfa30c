#include "delivery/queue_manager.h"

#include <winsock2.h>
#include <windows.h>
#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"
#include "delivery/delivery_log.h"
#include "delivery/dns_route.h"
#include "delivery/outbound.h"
#include "delivery/queue_entry.h"
#include "store/queue_path.h"
#include "dsn.h"
#include "events/eventlog.h"
#include "queue_outcome.h"
#include "retry_schedule.h"
#include "route.h"
#include "smtp_address.h"
#include "store/smarthost_password.h"
#include "store/spool.h"
#include "tls_policy.h"

#define KEY_MAX             (ROUTE_NAME_MAX + 1)
#define SMART_HOST_KEY      "[smart host]"
#define NO_DOMAIN_KEY       "[no domain]" /* recipients failed at once, 5.1.3 */
#define DEST_SLOTS_MAX      4096
#define REPLY_MAX           QUEUE_STATE_REPLY_MAX
#define CHUNK_RECIPIENTS    100u /* per SMTP transaction: RFC 5321's minimum a server takes */
#define DSN_RETURN_FULL     (256u * 1024u)
#define UNREACHABLE_PER_MIN 1u
#define ABORT_GRACE_MS      2000u
#define INTAKE_MAX          100000u /* ids waiting to be loaded; beyond, a full scan */
/* dispatch() walks every queued message: a burst of new mail is dispatched together rather
 * than once per message, which with tens of thousands queued would cost O(n) per message. */
#define DISPATCH_MIN_MS 50u

typedef struct qm_message {
    queue_entry entry;
    size_t slot; /* its index in queue_manager.messages */
    bool busy;   /* a delivery thread holds it */
    bool seen;   /* found by the scan in progress */
} qm_message;

typedef struct dest_slot {
    char key[KEY_MAX];
    unsigned active; /* delivery threads for it */
    unsigned due;    /* scratch: messages with due recipients for it */
    ULONGLONG event_tick;
    unsigned suppressed;
    bool event_written;
} dest_slot;

struct queue_manager {
    runtime *rt;
    char mail_root[1024];
    wchar_t mail_root_w[1024];
    wchar_t queue_dir[1100];
    spool *dsn_spool;
    delivery_log *log;
    CRITICAL_SECTION lock;
    qm_message **messages;
    size_t count, capacity;
    /* Ids -> messages (open addressing, linear probing), so a scan of a queue of many
     * thousands costs one lookup per file, not one pass over the table. */
    qm_message **index;
    size_t index_capacity, index_used; /* used: live entries and tombstones */
    dest_slot *dests;
    size_t dest_count;
    unsigned active;
    HANDLE scheduler;
    HANDLE stop;      /* manual-reset */
    HANDLE abort;     /* manual-reset: cut connections */
    HANDLE wake;      /* auto-reset: a thread ended, or look again */
    HANDLE idle;      /* manual-reset: no delivery thread runs */
    HANDLE retry;     /* named, auto-reset: `imsrelay queue retry` */
    HANDLE retry_all; /* named, auto-reset: `imsrelay queue retry --all` */
    HANDLE changes;   /* a file directly in Queue\ changed, or INVALID_HANDLE_VALUE */
    /* Set with stop: read once per file by a scan, which must end soon after a stop (a
     * wait on the stop event per file would be a wineserver request per file). */
    volatile LONG stopping;
    char routing[1200]; /* for the started event, written once the queue is loaded */

    spool *intake_spool; /* the sessions' spool, whose hook tells of new messages */
    /* Ids the spools committed into Queue and the scheduler has not loaded yet: new mail is
     * picked up by name, not by reading the folder again (which costs a pass over every
     * queued file, so intake of n messages would cost n^2). */
    CRITICAL_SECTION intake_lock;
    char (*intake)[QUEUE_ENTRY_ID_MAX];
    size_t intake_count, intake_capacity;
    bool intake_overflow; /* ids were lost: the scheduler reads the whole queue */
};

/* What one attempt needs from the configuration in force when it starts. */
typedef struct qm_settings {
    route_smarthost smart_host;
    bool hold; /* SmartHost is set but unusable: keep everything queued */
    dns_route_config dns;
    retry_schedule schedule;
    uint32_t delay_warning;
    uint32_t max_total, max_per_dest;
    char host_name[ROUTE_NAME_MAX + 1];
    tls_policy_mode smart_host_tls, mx_tls;
    char account[SMTP_CLIENT_CREDENTIAL_MAX + 1]; /* SmartHostAccount; "" none */
} qm_settings;

static void settings_read(const regio_config *c, qm_settings *s)
{
    memset(s, 0, sizeof(*s));
    char error[ROUTE_ERROR_MAX];
    if (c->smart_host_state == REGIO_VALUE_UNREADABLE ||
        (c->smart_host && *c->smart_host &&
         !route_smarthost_parse(c->smart_host, &s->smart_host, error, sizeof(error)))) {
        s->hold = true;
        s->smart_host.count = 0;
    }
    s->smart_host_tls = tls_policy_for_smart_host(c->smart_host_tls.value);
    s->mx_tls = tls_policy_for_mx(c->mx_tls.value);
    snprintf(s->account, sizeof(s->account), "%s",
             c->smart_host_account ? c->smart_host_account : "");
    tls_policy_smart_host_ports(s->smart_host_tls, &s->smart_host);
    s->dns.smart_host = &s->smart_host;
    dns_route_servers_from_lines(&s->dns, c->dns_servers.lines, c->dns_servers.count);
    s->dns.delivery_port = (uint16_t)c->delivery_port.value;
    snprintf(s->host_name, sizeof(s->host_name), "%s",
             c->host_name && *c->host_name ? c->host_name : "localhost");
    s->dns.self_name = s->host_name;
    if (!duration_list_parse(c->retry_intervals, &s->schedule.intervals, NULL, 0)) {
        duration_list_parse("15m,30m,1h,4h", &s->schedule.intervals, NULL, 0);
    }
    if (!duration_parse(c->message_expiration, &s->schedule.expiration, NULL, 0)) {
        s->schedule.expiration = 2u * 24u * 3600u;
    }
    if (!duration_parse(c->delay_notification, &s->delay_warning, NULL, 0)) {
        s->delay_warning = 0;
    }
    s->max_total = c->max_outbound_connections.value;
    s->max_per_dest = c->max_connections_per_destination.value;
}

static void settings_now(queue_manager *qm, qm_settings *s)
{
    runtime_snapshot *snap = runtime_acquire(qm->rt);
    settings_read(runtime_snapshot_config(snap), s);
    delivery_log_set_max_age(qm->log, runtime_snapshot_config(snap)->log_max_age_days.value);
    runtime_snapshot_release(snap);
}

/* ---- recipients: due, destination ---- */

static bool recipient_due(const queue_state_recipient *r, const queue_state *st,
                          const retry_schedule *schedule, uint64_t now)
{
    return queue_outcome_due(st, (size_t)(r - st->recipients), schedule, now);
}

/* The destination key of a recipient: the smart host list, or its domain. false: no usable
 * domain (the reason is in why). */
static bool recipient_key(const qm_settings *s, const char *address, char *key, char *why,
                          size_t why_size)
{
    if (s->smart_host.count > 0) {
        snprintf(key, KEY_MAX, "%s", SMART_HOST_KEY);
        return true;
    }
    route_domain d;
    if (!route_recipient_domain(address, &d, why, why_size)) {
        return false;
    }
    snprintf(key, KEY_MAX, "%s", d.name);
    return true;
}

static bool all_final(const queue_state *st)
{
    return queue_outcome_all_final(st);
}

/* ---- destinations ---- */

static dest_slot *dest_find(queue_manager *qm, const char *key, bool add)
{
    for (size_t i = 0; i < qm->dest_count; i++) {
        if (!strcmp(qm->dests[i].key, key)) {
            return &qm->dests[i];
        }
    }
    if (!add) {
        return NULL;
    }
    if (qm->dest_count == DEST_SLOTS_MAX) {
        /* Forget idle destinations, keeping the ones whose event window is still open. */
        size_t kept = 0;
        ULONGLONG now = GetTickCount64();
        for (size_t i = 0; i < qm->dest_count; i++) {
            dest_slot *d = &qm->dests[i];
            if (d->active > 0 || (d->event_written && now - d->event_tick < 60000)) {
                qm->dests[kept++] = *d;
            }
        }
        qm->dest_count = kept;
        if (kept == DEST_SLOTS_MAX) {
            return NULL;
        }
    }
    dest_slot *d = &qm->dests[qm->dest_count++];
    memset(d, 0, sizeof(*d));
    snprintf(d->key, sizeof(d->key), "%s", key);
    return d;
}

/* MSG_DESTINATION_UNREACHABLE, at most once a minute per destination; what is not
 * written is counted into the next one. */
static void report_unreachable(queue_manager *qm, const char *key, const char *host,
                               const char *reason)
{
    EnterCriticalSection(&qm->lock);
    dest_slot *d = dest_find(qm, key, true);
    ULONGLONG now = GetTickCount64();
    bool write = !d || !d->event_written || now - d->event_tick >= 60000;
    unsigned suppressed = 0;
    if (d && write) {
        suppressed = d->suppressed;
        d->suppressed = 0;
        d->event_tick = now;
        d->event_written = true;
    } else if (d) {
        d->suppressed++;
    }
    LeaveCriticalSection(&qm->lock);
    if (write) {
        char count[16];
        snprintf(count, sizeof(count), "%u", suppressed);
        eventlog_write(MSG_DESTINATION_UNREACHABLE, key, host && *host ? host : "-", reason, count,
                       NULL);
    }
}

/* ---- recording outcomes ---- */

/* "550 5.1.1 text" (the server's words, with the enhanced code it gave or the one derived
 * from the reply code), or "4.4.1 text" for a local reason. */
static void format_reply(const smtp_client_result *r, char *out, size_t size)
{
    char status[SMTP_STATUS_TEXT_MAX];
    smtp_status_format(r->status, status);
    if (r->code) {
        if (r->status_from_server) {
            snprintf(out, size, "%u %s", r->code, r->text);
        } else {
            snprintf(out, size, "%u %s %s", r->code, status, r->text);
        }
    } else {
        snprintf(out, size, "%s %s", status[0] ? status : "4.0.0", r->text);
    }
    for (char *p = out; *p; p++) {
        if (*p == '\n') {
            *p = ' '; /* a multi-line reply on one line, for the journal, log and events */
        }
    }
}

/* The enhanced status at the start of a recorded reply ("550 5.1.1 ..." or "4.4.7 ..."). */
static void reply_status(const char *reply, char *out, size_t size, bool failed)
{
    const char *p = reply;
    if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        p[3] == ' ') {
        p += 4;
    }
    smtp_status st;
    size_t len = strcspn(p, " ");
    if (size >= SMTP_STATUS_TEXT_MAX && smtp_status_parse(p, len, &st)) {
        smtp_status_format(st, out);
        return;
    }
    if (reply[0] == '5' || reply[0] == '4') {
        snprintf(out, size, "%c.0.0", failed ? '5' : reply[0]);
        return;
    }
    snprintf(out, size, "%s", failed ? "5.0.0" : "4.0.0");
}

static void append_outcome(qm_message *m, const size_t *indexes, size_t count,
                           const queue_state_outcome *o)
{
    char *buf = malloc(QUEUE_STATE_RECORD_MAX);
    if (!buf) {
        return;
    }
    size_t n = queue_state_encode_outcome(buf, QUEUE_STATE_RECORD_MAX, indexes, count, o);
    if (n == 0 || !queue_entry_append(&m->entry, buf, n)) {
        char text[200];
        snprintf(text, sizeof(text), "the delivery journal of %s cannot be written", m->entry.id);
        eventlog_write(MSG_SERVICE_FAILED, text, "0", NULL);
    }
    free(buf);
}

/* One recipient's outcome: the journal (by the caller, grouped), the delivery log, and the
 * event for a permanent failure. */
static void log_outcome(queue_manager *qm, qm_message *m, size_t i, const char *outcome,
                        const char *host, const char *reply, const char *tls)
{
    delivery_log_line(qm->log, m->entry.id, m->entry.envelope.recipients[i], host, outcome, reply,
                      tls);
    if (!strcmp(outcome, "failed")) {
        const char *sender = m->entry.envelope.sender;
        eventlog_write(MSG_DELIVERY_FAILED, m->entry.id, *sender ? sender : "<>",
                       m->entry.envelope.recipients[i], host && *host ? host : "-", reply, NULL);
    }
}

/* Records the same result for recipients[indexes], as queue_outcome decides it: a 2xx or
 * 5xx for all of them in one record (the 250 reaches the journal in a single append), a
 * temporary failure per recipient (attempts and first-queued times may differ), failed
 * with 4.4.7 once expired. Recipients already final are left as they are. tls describes the
 * connection (NULL: none was made). */
static void record_result_tls(queue_manager *qm, qm_message *m, const qm_settings *s,
                              const size_t *indexes, size_t count, smtp_client_outcome outcome,
                              const char *host, const char *reply, const char *tls)
{
    uint64_t now = queue_entry_now();
    const queue_state *st = &m->entry.state;
    queue_outcome_decision *d = malloc(sizeof(*d));
    size_t *group = malloc((count ? count : 1) * sizeof(*group));
    if (!d || !group) {
        free(d);
        free(group);
        return; /* nothing recorded: the recipients are tried again, never lost */
    }
    if (outcome == SMTP_OUTCOME_DELIVERED || outcome == SMTP_OUTCOME_FAILED) {
        size_t n = 0;
        for (size_t k = 0; k < count; k++) {
            if (queue_outcome_decide(st, indexes[k], outcome, reply, &s->schedule, now, d)) {
                group[n++] = indexes[k];
            }
        }
        if (n > 0) {
            queue_state_outcome o = {.status = d->status,
                                     .time = now,
                                     .remote_host = host,
                                     .reply = d->reply,
                                     .tls = tls};
            append_outcome(m, group, n, &o);
            for (size_t k = 0; k < n; k++) {
                log_outcome(qm, m, group[k],
                            outcome == SMTP_OUTCOME_DELIVERED ? "delivered" : "failed", host,
                            d->reply, tls);
            }
        }
        free(d);
        free(group);
        return;
    }
    size_t expired = 0;
    for (size_t k = 0; k < count; k++) {
        size_t i = indexes[k];
        if (!queue_outcome_decide(st, i, outcome, reply, &s->schedule, now, d)) {
            continue;
        }
        queue_state_outcome o = {.status = d->status,
                                 .time = now,
                                 .next_attempt = d->next_attempt,
                                 .remote_host = host,
                                 .reply = d->reply,
                                 .tls = tls};
        append_outcome(m, &i, 1, &o);
        log_outcome(qm, m, i, d->expired ? "failed" : "deferred", host, d->reply, tls);
        expired += d->expired;
    }
    if (expired > 0) {
        char age[32], n[16];
        duration_format(s->schedule.expiration, age, sizeof(age));
        snprintf(n, sizeof(n), "%zu", expired);
        const char *sender = m->entry.envelope.sender;
        eventlog_write(MSG_MESSAGE_EXPIRED, m->entry.id, *sender ? sender : "<>", age, n, reply,
                       NULL);
    }
    free(d);
    free(group);
}

/* An outcome decided without a connection (DNS, a local reason): no TLS to name. */
static void record_result(queue_manager *qm, qm_message *m, const qm_settings *s,
                          const size_t *indexes, size_t count, smtp_client_outcome outcome,
                          const char *host, const char *reply)
{
    record_result_tls(qm, m, s, indexes, count, outcome, host, reply, NULL);
}

/* ---- DSNs and the end of a message ---- */

static bool sender_is_local(queue_manager *qm, const char *sender)
{
    char path[SMTP_PATH_MAX + 3];
    snprintf(path, sizeof(path), "<%s>", sender);
    smtp_path parsed;
    size_t used = 0;
    if (smtp_path_parse(path, strlen(path), SMTP_PATH_ALLOW_POSTMASTER, &parsed, &used) !=
        SMTP_PATH_OK) {
        return false;
    }
    runtime_snapshot *snap = runtime_acquire(qm->rt);
    const regio_config *c = runtime_snapshot_config(snap);
    bool local = smtp_recipient_classify(&parsed, c->local_domains.lines, c->local_domains.count) ==
                 SMTP_RCPT_LOCAL;
    runtime_snapshot_release(snap);
    return local;
}

static uint32_t boundary_random(void *context)
{
    uint64_t *s = context;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 2685821657736338717ULL) >> 32);
}

/* Reads up to `cap` bytes of the message (after the envelope). */
static char *read_original(const qm_message *m, size_t cap, size_t *size)
{
    *size = 0;
    wchar_t path[QUEUE_ENTRY_PATH_MAX];
    queue_entry_path(&m->entry, L".eml", path);
    HANDLE h =
            CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                        NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        return NULL;
    }
    size_t want = m->entry.size < cap ? (size_t)m->entry.size : cap;
    char *buf = malloc(want + 1);
    LARGE_INTEGER at;
    at.QuadPart = (LONGLONG)m->entry.envelope.message_offset;
    DWORD got = 0;
    if (!buf || !SetFilePointerEx(h, at, NULL, FILE_BEGIN) ||
        !ReadFile(h, buf, (DWORD)want, &got, NULL)) {
        free(buf);
        CloseHandle(h);
        return NULL;
    }
    CloseHandle(h);
    buf[got] = '\0';
    *size = got;
    return buf;
}

/* Sends one DSN about recipients[indexes] to the sender: into Drop when the sender is local,
 * else into Queue. true when it is in the spool (or none is due). */
static bool send_dsn(queue_manager *qm, qm_message *m, const qm_settings *s, dsn_action action,
                     const size_t *indexes, size_t count)
{
    if (count == 0 || !*m->entry.envelope.sender) {
        return true;
    }
    if (count > DSN_RECIPIENTS_MAX) {
        count = DSN_RECIPIENTS_MAX;
    }
    bool whole = m->entry.size <= DSN_RETURN_FULL;
    size_t original_size = 0;
    char *original = read_original(m, whole ? DSN_RETURN_FULL : DSN_HEADERS_MAX, &original_size);
    dsn_recipient *rs = calloc(count, sizeof(*rs));
    char(*statuses)[SMTP_STATUS_TEXT_MAX] = calloc(count, sizeof(*statuses));
    char(*dates)[DSN_DATE_MAX] = calloc(count, sizeof(*dates));
    size_t out_size = original_size + DSN_HEADERS_MAX + count * 2048 + 16384;
    char *out = malloc(out_size);
    bool ok = false;
    if (original && rs && statuses && dates && out) {
        for (size_t k = 0; k < count; k++) {
            const queue_state_recipient *r = &m->entry.state.recipients[indexes[k]];
            reply_status(r->last_reply, statuses[k], SMTP_STATUS_TEXT_MAX,
                         action == DSN_ACTION_FAILED);
            if (r->last_attempt) {
                dsn_format_date(r->last_attempt, dates[k], DSN_DATE_MAX);
            }
            rs[k] = (dsn_recipient){.address = m->entry.envelope.recipients[indexes[k]],
                                    .action = action,
                                    .status = statuses[k],
                                    .remote_mta = r->remote_host,
                                    .diagnostic = r->last_reply,
                                    .last_attempt_date = r->last_attempt ? dates[k] : NULL};
        }
        char date[DSN_DATE_MAX], arrival[DSN_DATE_MAX], message_id[QUEUE_ENTRY_ID_MAX + 300];
        dsn_format_date(queue_entry_now(), date, sizeof(date));
        dsn_format_date(m->entry.arrival, arrival, sizeof(arrival));
        snprintf(message_id, sizeof(message_id), "%s.%s@%s", m->entry.id,
                 action == DSN_ACTION_FAILED ? "failed" : "delayed", s->host_name);
        uint64_t seed = GetTickCount64() ^ (uintptr_t)m;
        dsn_report report = {.reporting_host = s->host_name,
                             .original_sender = m->entry.envelope.sender,
                             .date = date,
                             .message_id = message_id,
                             .arrival_date = arrival,
                             .recipients = rs,
                             .recipient_count = count,
                             .original = original,
                             .original_size = original_size,
                             .return_full_max = whole ? DSN_RETURN_FULL : 0,
                             .random = boundary_random,
                             .random_context = &seed};
        size_t n = dsn_build(&report, out, out_size);
        if (n > 0) {
            spool_recipient to = {.address = m->entry.envelope.sender,
                                  .local = sender_is_local(qm, m->entry.envelope.sender)};
            spool_envelope env = {.server_host = s->host_name,
                                  .helo = s->host_name,
                                  .client_ip = "127.0.0.1",
                                  .esmtp = true,
                                  .mail_from = "",
                                  .recipients = &to,
                                  .recipient_count = 1};
            unsigned long error = 0;
            spool_message *dm = spool_begin(qm->dsn_spool, &env, &error);
            if (dm) {
                char dsn_id[64];
                snprintf(dsn_id, sizeof(dsn_id), "%s", spool_message_id(dm));
                if (spool_write(dm, out, n)) {
                    ok = spool_commit(dm, &error);
                } else {
                    spool_abort(dm);
                }
                if (ok) {
                    char recipients[16];
                    snprintf(recipients, sizeof(recipients), "%zu", count);
                    eventlog_write(MSG_DSN_SENT, action == DSN_ACTION_FAILED ? "failure" : "delay",
                                   m->entry.id, m->entry.envelope.sender, dsn_id, recipients, NULL);
                }
            }
        }
    }
    free(original);
    free(rs);
    free(statuses);
    free(dates);
    free(out);
    if (ok) {
        char *record = malloc(QUEUE_STATE_RECORD_MAX);
        size_t n = record ? queue_state_encode_dsn_sent(
                                    record, QUEUE_STATE_RECORD_MAX, indexes, count,
                                    action == DSN_ACTION_FAILED ? QUEUE_STATE_DSN_FAILED
                                                                : QUEUE_STATE_DSN_DELAYED,
                                    queue_entry_now())
                          : 0;
        if (n > 0) {
            queue_entry_append(&m->entry, record, n);
        }
        free(record);
    }
    return ok;
}

/* Failure DSNs due, then delay DSNs due. */
static void send_due_dsns(queue_manager *qm, qm_message *m, const qm_settings *s)
{
    const queue_state *st = &m->entry.state;
    size_t *indexes = malloc(st->recipient_count * sizeof(*indexes));
    if (!indexes) {
        return;
    }
    uint64_t now = queue_entry_now();
    static const dsn_action actions[2] = {DSN_ACTION_FAILED, DSN_ACTION_DELAYED};
    for (int a = 0; a < 2; a++) {
        size_t n = queue_outcome_dsn_recipients(st, m->entry.envelope.sender, actions[a], now,
                                                s->delay_warning, indexes);
        for (size_t from = 0; from < n; from += DSN_RECIPIENTS_MAX) {
            size_t c = n - from < DSN_RECIPIENTS_MAX ? n - from : DSN_RECIPIENTS_MAX;
            send_dsn(qm, m, s, actions[a], indexes + from, c);
        }
    }
    free(indexes);
}

/* A message whose recipients are all final: DSN, then out of the queue. A DSN (null sender)
 * that failed goes to Badmail instead, with the reason. Called with m busy. true: m is
 * gone from disk. */
static bool finish_message(queue_manager *qm, qm_message *m, const qm_settings *s)
{
    const queue_state *st = &m->entry.state;
    if (!*m->entry.envelope.sender) {
        for (size_t i = 0; i < st->recipient_count; i++) {
            if (st->recipients[i].status == QUEUE_STATE_FAILED) {
                char reason[QUEUE_ENTRY_REASON_MAX + REPLY_MAX];
                snprintf(reason, sizeof(reason),
                         "a message with the null sender (a DSN) could not be delivered to %s: %s",
                         m->entry.envelope.recipients[i], st->recipients[i].last_reply);
                wchar_t name[QUEUE_ENTRY_ID_MAX + 8];
                _snwprintf(name, QUEUE_ENTRY_ID_MAX + 8, L"%hs.eml", m->entry.id);
                name[QUEUE_ENTRY_ID_MAX + 7] = 0;
                wchar_t folder[QUEUE_ENTRY_PATH_MAX];
                if (queue_path_parent(folder, QUEUE_ENTRY_PATH_MAX, m->entry.base_path) &&
                    queue_entry_to_badmail(qm->mail_root_w, folder, name, reason)) {
                    char where[1100];
                    snprintf(where, sizeof(where), "%s\\Badmail", qm->mail_root);
                    eventlog_write(MSG_BADMAIL, m->entry.id, where, reason, NULL);
                    return true;
                }
                return false;
            }
        }
    }
    send_due_dsns(qm, m, s);
    if (!queue_outcome_finished(st, m->entry.envelope.sender)) {
        return false; /* a DSN is not in the spool yet: keep the message, try later */
    }
    return queue_entry_remove(&m->entry);
}

/* ---- the message table ---- */

static void message_free(qm_message *m)
{
    queue_entry_free(&m->entry);
    free(m);
}

/* ---- the id index ---- */

#define INDEX_TOMBSTONE ((qm_message *)(uintptr_t)1)

static size_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return (size_t)h;
}

static void index_put(queue_manager *qm, qm_message *m)
{
    size_t mask = qm->index_capacity - 1;
    size_t h = id_hash(m->entry.id) & mask;
    while (qm->index[h] && qm->index[h] != INDEX_TOMBSTONE) {
        h = (h + 1) & mask;
    }
    if (!qm->index[h]) {
        qm->index_used++;
    }
    qm->index[h] = m;
}

/* Rebuilds the index for the messages in the table, at most a quarter full. */
static bool index_rebuild(queue_manager *qm)
{
    size_t capacity = 1024;
    while (capacity < 4 * (qm->count + 1)) {
        capacity *= 2;
    }
    qm_message **slots = calloc(capacity, sizeof(*slots));
    if (!slots) {
        return false;
    }
    free(qm->index);
    qm->index = slots;
    qm->index_capacity = capacity;
    qm->index_used = 0;
    for (size_t i = 0; i < qm->count; i++) {
        index_put(qm, qm->messages[i]);
    }
    return true;
}

static qm_message *find_message(queue_manager *qm, const char *id)
{
    if (qm->index_capacity == 0) {
        return NULL;
    }
    size_t mask = qm->index_capacity - 1;
    for (size_t h = id_hash(id) & mask, n = 0; n < qm->index_capacity; h = (h + 1) & mask, n++) {
        qm_message *m = qm->index[h];
        if (!m) {
            return NULL;
        }
        if (m != INDEX_TOMBSTONE && !strcmp(m->entry.id, id)) {
            return m;
        }
    }
    return NULL;
}

static void index_remove(queue_manager *qm, qm_message *m)
{
    if (qm->index_capacity == 0) {
        return;
    }
    size_t mask = qm->index_capacity - 1;
    for (size_t h = id_hash(m->entry.id) & mask, n = 0; n < qm->index_capacity;
         h = (h + 1) & mask, n++) {
        if (!qm->index[h]) {
            return;
        }
        if (qm->index[h] == m) {
            qm->index[h] = INDEX_TOMBSTONE;
            return;
        }
    }
}

static bool add_message(queue_manager *qm, qm_message *m)
{
    if (qm->count == qm->capacity) {
        size_t capacity = qm->capacity ? qm->capacity * 2 : 256;
        qm_message **bigger = realloc(qm->messages, capacity * sizeof(*bigger));
        if (!bigger) {
            return false;
        }
        qm->messages = bigger;
        qm->capacity = capacity;
    }
    m->slot = qm->count;
    qm->messages[qm->count++] = m;
    if ((qm->index_used + 1) * 2 > qm->index_capacity) {
        if (!index_rebuild(qm)) {
            qm->count--;
            return false;
        }
    } else {
        index_put(qm, m);
    }
    return true;
}

/* Takes the message out of the table and the index; called with the lock held. */
static void remove_message(queue_manager *qm, qm_message *m)
{
    index_remove(qm, m);
    size_t i = m->slot;
    qm->messages[i] = qm->messages[--qm->count];
    qm->messages[i]->slot = i;
}

static void message_drop(queue_manager *qm, qm_message *m)
{
    EnterCriticalSection(&qm->lock);
    remove_message(qm, m);
    LeaveCriticalSection(&qm->lock);
    message_free(m);
}

/* Ends a delivery thread's hold on m: the end of the message when it is complete. */
static void message_release(queue_manager *qm, qm_message *m, const qm_settings *s)
{
    if (all_final(&m->entry.state) && finish_message(qm, m, s)) {
        message_drop(qm, m);
        return;
    }
    EnterCriticalSection(&qm->lock);
    m->busy = false;
    LeaveCriticalSection(&qm->lock);
}

/* ---- delivery threads ---- */

typedef struct job {
    qm_message *message;
    size_t *indexes;
    size_t count;
} job;

/* Takes a message with recipients due for `key`. */
static bool take_job(queue_manager *qm, const qm_settings *s, const char *key, job *out)
{
    if (WaitForSingleObject(qm->stop, 0) == WAIT_OBJECT_0) {
        return false;
    }
    uint64_t now = queue_entry_now();
    bool found = false;
    EnterCriticalSection(&qm->lock);
    for (size_t n = 0; n < qm->count && !found; n++) {
        qm_message *m = qm->messages[n];
        if (m->busy) {
            continue;
        }
        const queue_state *st = &m->entry.state;
        size_t count = 0;
        size_t *indexes = NULL;
        for (size_t i = 0; i < st->recipient_count; i++) {
            char k[KEY_MAX], why[ROUTE_ERROR_MAX];
            if (!recipient_due(&st->recipients[i], st, &s->schedule, now)) {
                continue;
            }
            if (!recipient_key(s, m->entry.envelope.recipients[i], k, why, sizeof(why))) {
                snprintf(k, sizeof(k), "%s", NO_DOMAIN_KEY);
            }
            if (strcmp(k, key)) {
                continue;
            }
            if (!indexes) {
                indexes = malloc(st->recipient_count * sizeof(*indexes));
                if (!indexes) {
                    break;
                }
            }
            indexes[count++] = i;
        }
        if (count > 0) {
            m->busy = true;
            *out = (job){.message = m, .indexes = indexes, .count = count};
            found = true;
        } else {
            free(indexes);
        }
    }
    LeaveCriticalSection(&qm->lock);
    return found;
}

typedef struct body_reader {
    HANDLE file;
} body_reader;

static smtp_body_read read_body(void *ctx, uint8_t *buf, size_t cap, size_t *len)
{
    body_reader *b = ctx;
    DWORD got = 0;
    DWORD want = cap > (1u << 20) ? (1u << 20) : (DWORD)cap;
    if (!ReadFile(b->file, buf, want, &got, NULL)) {
        *len = 0;
        return SMTP_BODY_ERROR;
    }
    *len = got;
    return got == 0 ? SMTP_BODY_END : SMTP_BODY_MORE;
}

typedef struct worker {
    queue_manager *qm;
    char key[KEY_MAX];
} worker;

/* Delivers job over *conn (opened here when NULL). false: this destination cannot be
 * reached now; the thread ends. */
static bool deliver(queue_manager *qm, const worker *w, const qm_settings *s, job *j,
                    outbound **conn)
{
    qm_message *m = j->message;
    const queue_file_envelope *env = &m->entry.envelope;
    if (!*conn) {
        route_domain domain;
        char why[ROUTE_ERROR_MAX];
        memset(&domain, 0, sizeof(domain));
        if (s->smart_host.count == 0 &&
            !route_recipient_domain(env->recipients[j->indexes[0]], &domain, why, sizeof(why))) {
            char reply[REPLY_MAX];
            snprintf(reply, sizeof(reply), "5.1.3 %s", why);
            record_result(qm, m, s, j->indexes, j->count, SMTP_OUTCOME_FAILED, "", reply);
            return true;
        }
        dns_route_result *route = malloc(sizeof(*route));
        if (!route) {
            return false;
        }
        dns_route_resolve(&s->dns, &domain, route);
        if (route->status != DNS_ROUTE_OK) {
            char reply[REPLY_MAX];
            snprintf(reply, sizeof(reply), "%s %s", route->enhanced, route->reason);
            bool permanent = route->status == DNS_ROUTE_PERMANENT;
            free(route);
            record_result(qm, m, s, j->indexes, j->count,
                          permanent ? SMTP_OUTCOME_FAILED : SMTP_OUTCOME_DEFERRED, "", reply);
            if (!permanent) {
                report_unreachable(qm, w->key, "-", reply);
            }
            return permanent;
        }
        bool smart = s->smart_host.count > 0;
        outbound_config oc = {.helo_name = s->host_name,
                              .abort = qm->abort,
                              .tls = smart ? s->smart_host_tls : s->mx_tls};
        /* The password is decrypted for this connection only, and wiped once it is up. */
        char password[SMTP_CLIENT_CREDENTIAL_MAX + 1];
        if (smart && s->account[0]) {
            oc.auth_user = s->account;
            if (smarthost_password_get(SMARTHOST_PASSWORD_KEY, password, sizeof(password)) ==
                ERROR_SUCCESS) {
                oc.auth_password = password;
            }
        }
        smtp_client_result failure;
        outbound_tls_info failure_tls;
        char host[ROUTE_NAME_MAX + DNS_ROUTE_ADDRESS_TEXT + 8];
        *conn = outbound_open(&oc, route, &failure, host, sizeof(host), &failure_tls);
        SecureZeroMemory(password, sizeof(password));
        free(route);
        if (!*conn) {
            if (WaitForSingleObject(qm->abort, 0) == WAIT_OBJECT_0) {
                return false; /* our own stop: nothing to record */
            }
            char reply[REPLY_MAX];
            format_reply(&failure, reply, sizeof(reply));
            smtp_client_outcome outcome = failure.outcome == SMTP_OUTCOME_FAILED
                                                  ? SMTP_OUTCOME_FAILED
                                                  : SMTP_OUTCOME_DEFERRED;
            char tls[QUEUE_STATE_TLS_MAX];
            tls_policy_describe(failure_tls.used, failure_tls.protocol, failure_tls.cipher,
                                failure_tls.verified, tls, sizeof(tls));
            record_result_tls(qm, m, s, j->indexes, j->count, outcome, host, reply,
                              host[0] ? tls : NULL);
            report_unreachable(qm, w->key, host, reply);
            return outcome == SMTP_OUTCOME_FAILED;
        }
    }
    const dns_route_target *t = outbound_target(*conn);
    char host[ROUTE_NAME_MAX + DNS_ROUTE_ADDRESS_TEXT + 8];
    snprintf(host, sizeof(host), "%s [%s]", t->host, t->address_text);
    const outbound_tls_info *ti = outbound_tls(*conn);
    char tls[QUEUE_STATE_TLS_MAX];
    tls_policy_describe(ti->used, ti->protocol, ti->cipher, ti->verified, tls, sizeof(tls));
    for (size_t from = 0; from < j->count; from += CHUNK_RECIPIENTS) {
        size_t count = j->count - from < CHUNK_RECIPIENTS ? j->count - from : CHUNK_RECIPIENTS;
        const size_t *chunk = j->indexes + from;
        const char *recipients[CHUNK_RECIPIENTS];
        for (size_t k = 0; k < count; k++) {
            recipients[k] = env->recipients[chunk[k]];
        }
        wchar_t path[QUEUE_ENTRY_PATH_MAX];
        queue_entry_path(&m->entry, L".eml", path);
        body_reader body = {
                .file = CreateFileW(path, GENERIC_READ,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                                    OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, NULL)};
        LARGE_INTEGER at;
        at.QuadPart = (LONGLONG)env->message_offset;
        if (body.file == INVALID_HANDLE_VALUE ||
            !SetFilePointerEx(body.file, at, NULL, FILE_BEGIN)) {
            if (body.file != INVALID_HANDLE_VALUE) {
                CloseHandle(body.file);
            }
            /* Deleted meanwhile (queue delete: the next scan forgets it), or unreadable. */
            record_result(qm, m, s, j->indexes + from, j->count - from, SMTP_OUTCOME_DEFERRED, "",
                          "4.3.0 the queue file cannot be read");
            return true;
        }
        smtp_client_message msg = {.sender = env->sender,
                                   .recipients = recipients,
                                   .recipient_count = count,
                                   .size = m->entry.size,
                                   .eight_bit = true,
                                   .read_body = read_body,
                                   .body_ctx = &body};
        outbound_sent sent = outbound_send(*conn, &msg);
        CloseHandle(body.file);
        if (sent == OUTBOUND_NOT_SENT) {
            outbound_close(*conn);
            *conn = NULL;
            record_result_tls(qm, m, s, j->indexes + from, j->count - from, SMTP_OUTCOME_DEFERRED,
                              host, "4.3.0 the message could not be given to the SMTP client", tls);
            return false;
        }
        bool usable = sent == OUTBOUND_SENT;
        const smtp_client *c = outbound_client(*conn);
        bool stopping = WaitForSingleObject(qm->abort, 0) == WAIT_OBJECT_0;
        /* The recipients a 250 covers first, in one append: nothing else before that. */
        size_t delivered[CHUNK_RECIPIENTS], nd = 0;
        for (size_t k = 0; k < count && k < smtp_client_recipient_count(c); k++) {
            if (smtp_client_recipient_result(c, k)->outcome == SMTP_OUTCOME_DELIVERED) {
                delivered[nd++] = chunk[k];
            }
        }
        if (nd > 0) {
            char reply[REPLY_MAX];
            const smtp_client_result *r = NULL;
            for (size_t k = 0; k < count && !r; k++) {
                if (smtp_client_recipient_result(c, k)->outcome == SMTP_OUTCOME_DELIVERED) {
                    r = smtp_client_recipient_result(c, k);
                }
            }
            format_reply(r, reply, sizeof(reply));
            record_result_tls(qm, m, s, delivered, nd, SMTP_OUTCOME_DELIVERED, host, reply, tls);
        }
        for (size_t k = 0; k < count && k < smtp_client_recipient_count(c); k++) {
            const smtp_client_result *r = smtp_client_recipient_result(c, k);
            if (r->outcome == SMTP_OUTCOME_DELIVERED ||
                (stopping && r->outcome != SMTP_OUTCOME_FAILED)) {
                continue; /* cut by our own stop: tried again at the next start */
            }
            char reply[REPLY_MAX];
            format_reply(r, reply, sizeof(reply));
            record_result_tls(qm, m, s, &chunk[k], 1,
                              r->outcome == SMTP_OUTCOME_FAILED ? SMTP_OUTCOME_FAILED
                                                                : SMTP_OUTCOME_DEFERRED,
                              host, reply, tls);
        }
        if (!usable) {
            outbound_close(*conn);
            *conn = NULL;
            /* Recipients of later chunks were not tried: they stay due for the next thread. */
            return !stopping;
        }
    }
    return true;
}

static DWORD WINAPI worker_main(void *arg)
{
    worker *w = arg;
    queue_manager *qm = w->qm;
    outbound *conn = NULL;
    for (;;) {
        qm_settings s;
        settings_now(qm, &s);
        job j;
        if (s.hold || !take_job(qm, &s, w->key, &j)) {
            break;
        }
        bool go_on = deliver(qm, w, &s, &j, &conn);
        message_release(qm, j.message, &s);
        free(j.indexes);
        if (!go_on) {
            break;
        }
    }
    if (conn) {
        outbound_close(conn);
    }
    EnterCriticalSection(&qm->lock);
    dest_slot *d = dest_find(qm, w->key, false);
    if (d && d->active > 0) {
        d->active--;
    }
    if (--qm->active == 0) {
        SetEvent(qm->idle);
    }
    LeaveCriticalSection(&qm->lock);
    SetEvent(qm->wake);
    free(w);
    return 0;
}

/* Called with the lock held. */
static bool start_worker(queue_manager *qm, dest_slot *d)
{
    worker *w = calloc(1, sizeof(*w));
    if (!w) {
        return false;
    }
    w->qm = qm;
    snprintf(w->key, sizeof(w->key), "%s", d->key);
    d->active++;
    if (qm->active++ == 0) {
        ResetEvent(qm->idle);
    }
    HANDLE t =
            CreateThread(NULL, 256 * 1024, worker_main, w, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!t) {
        d->active--;
        if (--qm->active == 0) {
            SetEvent(qm->idle);
        }
        free(w);
        return false;
    }
    CloseHandle(t);
    return true;
}

/* ---- the scheduler ---- */

/* A file the manager cannot deliver: to Badmail, with an event. */
static void to_badmail(queue_manager *qm, const wchar_t *folder, const wchar_t *file_name,
                       const char *id, const char *reason)
{
    if (queue_entry_to_badmail(qm->mail_root_w, folder, file_name, reason)) {
        char where[1100];
        snprintf(where, sizeof(where), "%s\\Badmail", qm->mail_root);
        eventlog_write(MSG_BADMAIL, id, where, reason, NULL);
    }
}

/* Indexes a loaded message (the scheduler thread only); false when it could not. */
static bool index_loaded(queue_manager *qm, qm_message *m)
{
    m->seen = true;
    EnterCriticalSection(&qm->lock);
    bool added = add_message(qm, m);
    LeaveCriticalSection(&qm->lock);
    if (!added) {
        message_free(m);
    }
    return added;
}

/* A file someone else is still writing into Queue\ (an administrator's copy, a program
 * dropping mail) can be read half-made: one that does not parse is left where it is until
 * it has not changed for this long, and read again at a later scan. The spool's own files
 * arrive whole (written in Tmp, then moved), so this delays only a file that is bad. */
#define MALFORMED_GRACE_100NS (60ull * 10000000ull)

static bool written_lately(const WIN32_FIND_DATAW *found)
{
    FILETIME now_ft;
    GetSystemTimeAsFileTime(&now_ft);
    ULARGE_INTEGER now = {.LowPart = now_ft.dwLowDateTime, .HighPart = now_ft.dwHighDateTime};
    ULARGE_INTEGER written = {.LowPart = found->ftLastWriteTime.dwLowDateTime,
                              .HighPart = found->ftLastWriteTime.dwHighDateTime};
    return written.QuadPart + MALFORMED_GRACE_100NS > now.QuadPart;
}

/* One file found in folder (Queue\ or a subfolder) by a scan; false once the service
 * stops. */
static bool scan_file(const wchar_t *folder, const WIN32_FIND_DATAW *found, void *ctx)
{
    queue_manager *qm = ctx;
    if (InterlockedCompareExchange(&qm->stopping, 0, 0)) {
        return false;
    }
    size_t len = wcslen(found->cFileName);
    bool eml = len > 4 && !_wcsicmp(found->cFileName + len - 4, L".eml");
    bool state = len > 6 && !_wcsicmp(found->cFileName + len - 6, L".state");
    char id[QUEUE_ENTRY_ID_MAX + 8];
    if ((!eml && !state) || !win_text_utf8_into(found->cFileName, id, sizeof(id))) {
        return true;
    }
    id[strlen(id) - (eml ? 4 : 6)] = '\0';
    EnterCriticalSection(&qm->lock);
    qm_message *known = find_message(qm, id);
    if (known) {
        known->seen = true;
    }
    LeaveCriticalSection(&qm->lock);
    if (known) {
        return true;
    }
    if (state) {
        /* A journal without its message: the message was delivered or deleted between the
         * two deletions. */
        wchar_t eml_path[1200], state_path[1200];
        _snwprintf(state_path, 1200, L"%ls\\%ls", folder, found->cFileName);
        _snwprintf(eml_path, 1200, L"%ls\\%hs.eml", folder, id);
        eml_path[1199] = state_path[1199] = 0;
        if (GetFileAttributesW(eml_path) == INVALID_FILE_ATTRIBUTES &&
            GetLastError() == ERROR_FILE_NOT_FOUND) {
            DeleteFileW(state_path);
        }
        return true;
    }
    qm_message *m = calloc(1, sizeof(*m));
    if (!m) {
        return true;
    }
    char reason[QUEUE_ENTRY_REASON_MAX];
    queue_entry_status st =
            queue_entry_id_valid(id)
                    ? queue_entry_load_in(folder, id, true, &m->entry, reason, sizeof(reason))
                    : QUEUE_ENTRY_MALFORMED;
    if (st == QUEUE_ENTRY_OK) {
        index_loaded(qm, m);
        return true;
    }
    free(m);
    if (st == QUEUE_ENTRY_MALFORMED && !written_lately(found)) {
        if (!queue_entry_id_valid(id)) {
            snprintf(reason, sizeof(reason), "the file name is not a queue id");
        }
        to_badmail(qm, folder, found->cFileName, id, reason);
    }
    return true;
}

/* Indexes files not known yet: those directly in Queue\ (dropped there by an administrator,
 * or left by an older version), and with whole, those in every subfolder too; a whole scan
 * also forgets messages whose file is gone (queue delete), unless a stop cut it short. */
static void scan(queue_manager *qm, bool whole)
{
    if (whole) {
        EnterCriticalSection(&qm->lock);
        for (size_t i = 0; i < qm->count; i++) {
            qm->messages[i]->seen = false;
        }
        LeaveCriticalSection(&qm->lock);
    }
    if (!queue_path_walk(qm->queue_dir, whole, scan_file, qm) || !whole) {
        return;
    }
    EnterCriticalSection(&qm->lock);
    for (size_t i = 0; i < qm->count;) {
        qm_message *m = qm->messages[i];
        if (!m->seen && !m->busy) {
            remove_message(qm, m);
            message_free(m);
            continue;
        }
        i++;
    }
    LeaveCriticalSection(&qm->lock);
}

/* The spools' hook, on the committing thread: note the id, wake the scheduler. */
static void intake_post(void *ctx, const char *id)
{
    queue_manager *qm = ctx;
    EnterCriticalSection(&qm->intake_lock);
    if (qm->intake_count == qm->intake_capacity) {
        size_t bigger = qm->intake_capacity ? qm->intake_capacity * 2 : 64;
        void *grown =
                bigger <= INTAKE_MAX ? realloc(qm->intake, bigger * sizeof(*qm->intake)) : NULL;
        if (grown) {
            qm->intake = grown;
            qm->intake_capacity = bigger;
        }
    }
    if (qm->intake_count < qm->intake_capacity) {
        snprintf(qm->intake[qm->intake_count++], QUEUE_ENTRY_ID_MAX, "%s", id);
    } else {
        qm->intake_overflow = true;
    }
    LeaveCriticalSection(&qm->intake_lock);
    SetEvent(qm->wake);
}

/* Loads the messages the spools told of. Returns true when a whole scan is needed instead
 * (ids were lost, or a file could not be read now and must be found again). */
static bool intake_load(queue_manager *qm)
{
    EnterCriticalSection(&qm->intake_lock);
    char(*ids)[QUEUE_ENTRY_ID_MAX] = qm->intake;
    size_t count = qm->intake_count;
    bool rescan = qm->intake_overflow;
    qm->intake = NULL;
    qm->intake_count = qm->intake_capacity = 0;
    qm->intake_overflow = false;
    LeaveCriticalSection(&qm->intake_lock);
    for (size_t i = 0; i < count; i++) {
        EnterCriticalSection(&qm->lock);
        bool known = find_message(qm, ids[i]) != NULL;
        LeaveCriticalSection(&qm->lock);
        if (known) {
            continue;
        }
        qm_message *m = calloc(1, sizeof(*m));
        if (!m) {
            rescan = true;
            continue;
        }
        char reason[QUEUE_ENTRY_REASON_MAX];
        queue_entry_status st =
                queue_entry_load(qm->queue_dir, ids[i], true, &m->entry, reason, sizeof(reason));
        if (st == QUEUE_ENTRY_OK) {
            index_loaded(qm, m);
            continue;
        }
        if (st == QUEUE_ENTRY_MALFORMED) {
            wchar_t folder[QUEUE_ENTRY_PATH_MAX], name[QUEUE_ENTRY_ID_MAX + 8];
            _snwprintf(name, QUEUE_ENTRY_ID_MAX + 8, L"%hs.eml", ids[i]);
            name[QUEUE_ENTRY_ID_MAX + 7] = 0;
            if (queue_entry_folder_of(qm->queue_dir, ids[i], folder)) {
                to_badmail(qm, folder, name, ids[i], reason);
            }
        } else if (st == QUEUE_ENTRY_IO_ERROR) {
            rescan = true;
        }
        free(m); /* a load that failed holds nothing */
    }
    free(ids);
    return rescan;
}

/* Rereads every idle message's journal: retry requests from the command line. */
/* queue retry --all: every message not being delivered is due now (in memory). */
static void retry_all_now(queue_manager *qm)
{
    uint64_t now = queue_entry_now();
    EnterCriticalSection(&qm->lock);
    for (size_t i = 0; i < qm->count; i++) {
        if (!qm->messages[i]->busy) {
            qm->messages[i]->entry.state.retry_requested = now;
        }
    }
    LeaveCriticalSection(&qm->lock);
}

static void refresh_journals(queue_manager *qm)
{
    EnterCriticalSection(&qm->lock);
    for (size_t i = 0; i < qm->count; i++) {
        if (!qm->messages[i]->busy) {
            queue_entry_refresh(&qm->messages[i]->entry);
        }
    }
    LeaveCriticalSection(&qm->lock);
}

/* Starts delivery threads where recipients are due; finishes complete messages. Returns
 * the milliseconds until the next recipient falls due (capped by the rescan period). */
static DWORD dispatch(queue_manager *qm)
{
    qm_settings s;
    settings_now(qm, &s);
    uint64_t now = queue_entry_now();
    uint64_t next = now + QUEUE_MANAGER_RESCAN_MS / 1000;
    qm_message **complete = NULL;
    size_t complete_count = 0;
    EnterCriticalSection(&qm->lock);
    for (size_t d = 0; d < qm->dest_count; d++) {
        qm->dests[d].due = 0;
    }
    for (size_t n = 0; n < qm->count; n++) {
        qm_message *m = qm->messages[n];
        if (m->busy) {
            continue;
        }
        const queue_state *st = &m->entry.state;
        if (all_final(st)) {
            qm_message **bigger = realloc(complete, (complete_count + 1) * sizeof(*bigger));
            if (bigger) {
                complete = bigger;
                complete[complete_count++] = m;
                m->busy = true;
            }
            continue;
        }
        char last_key[KEY_MAX] = "";
        bool delay_dsn = false;
        for (size_t i = 0; i < st->recipient_count; i++) {
            const queue_state_recipient *r = &st->recipients[i];
            if (s.delay_warning &&
                dsn_due(m->entry.envelope.sender, DSN_ACTION_DELAYED, r, now, s.delay_warning)) {
                delay_dsn = true;
            }
            if (!recipient_due(r, st, &s.schedule, now)) {
                if (r->status == QUEUE_STATE_DEFERRED && r->next_attempt < next) {
                    next = r->next_attempt;
                }
                continue;
            }
            char key[KEY_MAX], why[ROUTE_ERROR_MAX];
            if (!recipient_key(&s, m->entry.envelope.recipients[i], key, why, sizeof(why))) {
                /* No domain: a delivery thread records the failure; any key will do. */
                snprintf(key, sizeof(key), "%s", NO_DOMAIN_KEY);
            }
            if (!strcmp(key, last_key)) {
                continue;
            }
            snprintf(last_key, sizeof(last_key), "%s", key);
            dest_slot *slot = dest_find(qm, key, true);
            if (slot) {
                slot->due++;
            }
        }
        if (delay_dsn) {
            qm_message **bigger = realloc(complete, (complete_count + 1) * sizeof(*bigger));
            if (bigger) {
                complete = bigger;
                complete[complete_count++] = m;
                m->busy = true;
            }
        }
    }
    if (!s.hold && WaitForSingleObject(qm->stop, 0) != WAIT_OBJECT_0) {
        for (size_t d = 0; d < qm->dest_count; d++) {
            dest_slot *slot = &qm->dests[d];
            while (slot->due > slot->active && slot->active < s.max_per_dest &&
                   qm->active < s.max_total) {
                if (!start_worker(qm, slot)) {
                    break;
                }
            }
        }
    }
    LeaveCriticalSection(&qm->lock);
    for (size_t i = 0; i < complete_count; i++) {
        qm_message *m = complete[i];
        if (!all_final(&m->entry.state)) {
            send_due_dsns(qm, m, &s); /* a delay DSN */
        }
        message_release(qm, m, &s);
    }
    free(complete);
    uint64_t wait_s = next > now ? next - now : 0;
    DWORD wait = wait_s * 1000 > QUEUE_MANAGER_RESCAN_MS ? QUEUE_MANAGER_RESCAN_MS
                                                         : (DWORD)(wait_s * 1000);
    return wait < 100 ? 100 : wait;
}

static DWORD WINAPI scheduler_main(void *arg)
{
    queue_manager *qm = arg;
    /* The queue is read here, not in queue_manager_start: a queue of tens of thousands takes
     * seconds to read under Wine, and meanwhile the service must answer its stop control
     * and accept mail (which the spools' hooks announce, so nothing is missed). */
    scan(qm, true);
    if (InterlockedCompareExchange(&qm->stopping, 0, 0)) {
        return 0;
    }
    char queued[24];
    snprintf(queued, sizeof(queued), "%zu", qm->count);
    char where[1100];
    snprintf(where, sizeof(where), "%s\\Queue", qm->mail_root);
    eventlog_write(MSG_QUEUE_STARTED, queued, where, qm->routing, NULL);
    ULONGLONG last_scan = GetTickCount64();
    ULONGLONG last_whole_scan = last_scan;
    ULONGLONG last_dispatch = 0;
    DWORD wait = 0;
    for (;;) {
        HANDLE waits[5] = {qm->stop, qm->wake};
        DWORD count = 2;
        if (qm->retry) {
            waits[count++] = qm->retry;
        }
        if (qm->retry_all) {
            waits[count++] = qm->retry_all;
        }
        if (qm->changes != INVALID_HANDLE_VALUE && qm->changes) {
            waits[count++] = qm->changes;
        }
        DWORD r = WaitForMultipleObjects(count, waits, FALSE, wait);
        if (r == WAIT_OBJECT_0) {
            break;
        }
        ULONGLONG now = GetTickCount64();
        bool rescan = now - last_scan >= QUEUE_MANAGER_RESCAN_MS;
        bool whole = now - last_whole_scan >= QUEUE_MANAGER_WHOLE_RESCAN_MS;
        if (r >= WAIT_OBJECT_0 + 1 && r < WAIT_OBJECT_0 + count) {
            HANDLE h = waits[r - WAIT_OBJECT_0];
            if (h == qm->changes) {
                FindNextChangeNotification(qm->changes);
                rescan = true;
            } else if (h == qm->retry) {
                /* retry, or delete: the command line changed journals or removed files. */
                refresh_journals(qm);
                whole = true;
            } else if (h == qm->retry_all) {
                retry_all_now(qm);
            }
        }
        if (intake_load(qm)) {
            whole = true;
        }
        if (whole) {
            scan(qm, true);
            last_scan = last_whole_scan = GetTickCount64();
        } else if (rescan) {
            scan(qm, false);
            last_scan = GetTickCount64();
        }
        ULONGLONG since = GetTickCount64() - last_dispatch;
        if (since < DISPATCH_MIN_MS) {
            wait = (DWORD)(DISPATCH_MIN_MS - since);
            continue;
        }
        wait = dispatch(qm);
        last_dispatch = GetTickCount64();
    }
    return 0;
}

static HANDLE create_retry_event(const wchar_t *name)
{
    /* Administrators (the command line) may set it; the service's own account made it. */
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof(sa), .bInheritHandle = FALSE};
    PSECURITY_DESCRIPTOR sd = NULL;
    if (ConvertStringSecurityDescriptorToSecurityDescriptorW(
                L"D:(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;LS)(A;;GA;;;OW)", SDDL_REVISION_1, &sd,
                NULL)) {
        sa.lpSecurityDescriptor = sd;
    }
    HANDLE h = CreateEventW(sd ? &sa : NULL, FALSE, FALSE, name);
    if (sd) {
        LocalFree(sd);
    }
    return h;
}

queue_manager *queue_manager_start(runtime *rt, spool *intake)
{
    queue_manager *qm = calloc(1, sizeof(*qm));
    if (!qm) {
        eventlog_write(MSG_SERVICE_FAILED, "the queue manager cannot start: out of memory", "3",
                       NULL);
        return NULL;
    }
    qm->rt = rt;
    qm->dests = calloc(DEST_SLOTS_MAX, sizeof(*qm->dests));
    runtime_snapshot *snap = runtime_acquire(rt);
    const regio_config *c = runtime_snapshot_config(snap);
    snprintf(qm->mail_root, sizeof(qm->mail_root), "%s", c->mail_root);
    qm_settings s;
    settings_read(c, &s);
    route_domain any = {.kind = ROUTE_NAME, .name = "each recipient's domain"};
    if (s.hold) {
        snprintf(qm->routing, sizeof(qm->routing),
                 "none: SmartHost is not valid, so relayed mail stays queued until it is fixed");
    } else {
        dns_route_describe(&s.dns, &any, qm->routing, sizeof(qm->routing));
    }
    runtime_snapshot_release(snap);
    unsigned long error = 0;
    if (!qm->dests || !win_text_wide_into(qm->mail_root, qm->mail_root_w, 1024) ||
        _snwprintf(qm->queue_dir, 1100, L"%ls\\Queue", qm->mail_root_w) <= 0 ||
        !(qm->dsn_spool = spool_open_shared(qm->mail_root, &error))) {
        eventlog_write(MSG_SERVICE_FAILED,
                       "the queue manager cannot open MailRoot\\Queue: relayed mail is accepted "
                       "and queued but not delivered until the service starts again",
                       "5", NULL);
        free(qm->dests);
        free(qm);
        return NULL;
    }
    qm->queue_dir[1099] = 0;
    qm->log = delivery_log_open(qm->mail_root);
    InitializeCriticalSection(&qm->lock);
    InitializeCriticalSection(&qm->intake_lock);
    qm->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    qm->abort = CreateEventW(NULL, TRUE, FALSE, NULL);
    qm->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    qm->idle = CreateEventW(NULL, TRUE, TRUE, NULL);
    qm->retry = create_retry_event(QUEUE_MANAGER_RETRY_EVENT);
    qm->retry_all = create_retry_event(QUEUE_MANAGER_RETRY_ALL_EVENT);
    /* Only Queue\ itself is watched (files an administrator drops there): the spools
     * announce what they queue through their hooks, set before the first scan so that
     * nothing committed in between is missed (intake_load skips what the scan found). */
    qm->changes = FindFirstChangeNotificationW(qm->queue_dir, FALSE, FILE_NOTIFY_CHANGE_FILE_NAME);
    qm->intake_spool = intake;
    if (intake) {
        spool_set_queued_hook(intake, intake_post, qm);
    }
    spool_set_queued_hook(qm->dsn_spool, intake_post, qm);
    qm->scheduler = CreateThread(NULL, 0, scheduler_main, qm, 0, NULL);
    if (!qm->stop || !qm->abort || !qm->wake || !qm->idle || !qm->scheduler) {
        eventlog_write(MSG_SERVICE_FAILED, "the queue manager cannot start its thread", "4", NULL);
        if (qm->stop) {
            SetEvent(qm->stop);
        }
        return qm; /* stop() cleans up what exists */
    }
    return qm;
}

void queue_manager_signal_stop(queue_manager *qm)
{
    if (qm) {
        InterlockedExchange(&qm->stopping, 1);
        SetEvent(qm->stop);
    }
}

void queue_manager_stop(queue_manager *qm, DWORD timeout_ms)
{
    if (!qm) {
        return;
    }
    ULONGLONG begin = GetTickCount64();
    InterlockedExchange(&qm->stopping, 1);
    SetEvent(qm->stop);
    /* The sessions' spool outlives the manager: it must not call into it any more. */
    if (qm->intake_spool) {
        spool_set_queued_hook(qm->intake_spool, NULL, NULL);
    }
    if (qm->scheduler && WaitForSingleObject(qm->scheduler, timeout_ms) != WAIT_OBJECT_0) {
        return; /* still in a Windows call with the manager in hand: the process's exit ends it */
    }
    ULONGLONG spent = GetTickCount64() - begin;
    DWORD patience =
            timeout_ms > spent + ABORT_GRACE_MS ? (DWORD)(timeout_ms - spent - ABORT_GRACE_MS) : 0;
    if (WaitForSingleObject(qm->idle, patience) != WAIT_OBJECT_0) {
        SetEvent(qm->abort);
        spent = GetTickCount64() - begin;
        if (WaitForSingleObject(qm->idle, timeout_ms > spent ? (DWORD)(timeout_ms - spent) : 0) !=
            WAIT_OBJECT_0) {
            return; /* threads still in Windows calls: the process's exit ends them */
        }
    }
    if (qm->scheduler) {
        CloseHandle(qm->scheduler);
    }
    if (qm->changes != INVALID_HANDLE_VALUE && qm->changes) {
        FindCloseChangeNotification(qm->changes);
    }
    for (size_t i = 0; i < qm->count; i++) {
        message_free(qm->messages[i]);
    }
    free(qm->messages);
    free(qm->index);
    free(qm->intake);
    DeleteCriticalSection(&qm->intake_lock);
    free(qm->dests);
    if (qm->retry) {
        CloseHandle(qm->retry);
    }
    if (qm->retry_all) {
        CloseHandle(qm->retry_all);
    }
    CloseHandle(qm->stop);
    CloseHandle(qm->abort);
    CloseHandle(qm->wake);
    CloseHandle(qm->idle);
    delivery_log_close(qm->log);
    spool_close(qm->dsn_spool);
    DeleteCriticalSection(&qm->lock);
    free(qm);
}
