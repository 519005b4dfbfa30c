#include "settings.h"

#include <stdio.h>
#include <string.h>

#include "ascii.h"
#include "config.h"
#include "duration.h"
#include "identity.h"
#include "route.h"
#include "smtp_client.h"
#include "smtp_limits.h"
#include "tls_selector.h"

/* The limits the SMTP engine enforces take their upper bounds from the engine's own header
 * (core/smtp/smtp_limits.h), not the reverse: the engine owns what it can hold and must stay
 * usable without the registry, while this table is where a value gets accepted or refused.
 * A lower bound here may be stricter than the engine's (RFC 5321 minimums), never looser, so
 * every value `imsrelay check` calls valid reaches the engine unchanged. */
#define SETTING_MAX_MESSAGE_BYTES_MIN 1024u
#define SETTING_MAX_MESSAGE_BYTES_MAX 2147483647u /* a DWORD the registry editor shows signed */
#define SETTING_MAX_RECIPIENTS_MIN    100u        /* RFC 5321 4.5.3.1.8 */
#define SETTING_MAX_LINE_LENGTH_MIN   1000u       /* RFC 5321 4.5.3.1.6 */
_Static_assert(SETTING_MAX_MESSAGE_BYTES_MIN >= SMTP_MAX_MESSAGE_BYTES_MIN &&
                       SETTING_MAX_MESSAGE_BYTES_MAX <= SMTP_MAX_MESSAGE_BYTES_MAX,
               "MaxMessageBytes must lie within the engine's bounds");
_Static_assert(SETTING_MAX_RECIPIENTS_MIN >= SMTP_MAX_RECIPIENTS_MIN,
               "MaxRecipients must lie within the engine's bounds");
_Static_assert(SETTING_MAX_LINE_LENGTH_MIN >= SMTP_MAX_LINE_LENGTH_MIN,
               "MaxLineLength must lie within the engine's bounds");

/* An absolute Windows path: a drive ("C:\...") or a UNC share ("\\server\share"). A relative
 * MailRoot would resolve against the service's working directory (System32). */
static const char *check_absolute_path(const char *text)
{
    bool drive = ((text[0] >= 'A' && text[0] <= 'Z') || (text[0] >= 'a' && text[0] <= 'z')) &&
                 text[1] == ':' && (text[2] == '\\' || text[2] == '/');
    bool unc = text[0] == '\\' && text[1] == '\\' && text[2] != '\0';
    return drive || unc ? NULL : "is not an absolute path (expected e.g. D:\\imsrelay)";
}

/* The name goes into every SMTP greeting and reply: letters, digits and hyphens in dot-separated
 * labels (RFC 1123), so nothing in it can break or inject into the protocol. */
static const char *check_host_name(const char *text)
{
    size_t len = strlen(text);
    if (len > 253) {
        return "is longer than 253 characters, the longest DNS name";
    }
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = text[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63) {
                return "has an empty label or one longer than 63 characters";
            }
            if (text[i - 1] == '-' || text[i - label] == '-') {
                return "has a label that begins or ends with a hyphen";
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return "is not a DNS host name (only letters, digits, hyphens and dots)";
        }
        label++;
    }
    return NULL;
}

/* Reasons built from the value (they name a character or an entry) live per thread, so two
 * threads reading the configuration never share one. */
static _Thread_local char check_reason[ROUTE_ERROR_MAX + DURATION_ERROR_MAX];

static const char *check_smart_host(const char *text)
{
    route_smarthost parsed;
    if (route_smarthost_parse(text, &parsed, check_reason, sizeof(check_reason))) {
        return NULL;
    }
    return check_reason;
}

/* The user name goes into AUTH PLAIN and LOGIN (base64): any UTF-8 text the smart host
 * accepts, but no control characters, which no login name holds and a log line would show. */
static const char *check_account(const char *text)
{
    size_t len = strlen(text);
    if (len > SMTP_CLIENT_CREDENTIAL_MAX) {
        return "is longer than 255 bytes, the longest login name the SMTP client sends";
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            return "holds a control character";
        }
    }
    return NULL;
}

static const char *check_duration_list(const char *text)
{
    duration_list parsed;
    if (duration_list_parse(text, &parsed, check_reason, sizeof(check_reason))) {
        return NULL;
    }
    return check_reason;
}

static const char *check_duration(const char *text)
{
    uint32_t seconds;
    if (duration_parse(text, &seconds, check_reason, sizeof(check_reason))) {
        return NULL;
    }
    return check_reason;
}

/* TlsCertificate: a thumbprint or a host name (core/tls/tls_selector.h). */
static const char *check_tls_certificate(const char *text)
{
    struct tls_selector parsed;
    const char *why = NULL;
    if (tls_selector_parse(text, strlen(text), &parsed, &why)) {
        return NULL;
    }
    return why;
}

/* DnsQuery_W takes its servers as an IP4_ARRAY: dotted IPv4 addresses only, without
 * leading zeros (which Windows would read as octal). */
static const char *check_ipv4_line(const char *text)
{
    const char *p = text;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (*p != '.') {
                return "is not an IPv4 address (four numbers 0..255 separated by dots)";
            }
            p++;
        }
        unsigned value = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            value = value * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || digits > 3 || value > 255) {
            return "is not an IPv4 address (four numbers 0..255 separated by dots)";
        }
        if (digits > 1 && p[-(ptrdiff_t)digits] == '0') {
            return "has a number with a leading zero (Windows reads it as octal)";
        }
    }
    return *p ? "is not an IPv4 address (four numbers 0..255 separated by dots)" : NULL;
}

#define DWORD_ROW(name_, key_, def, lo, hi, fb, def_text, meaning_, field)                         \
    {                                                                                              \
        .name = name_, .kind = REGIO_SETTING_DWORD, .key = key_, .default_value = def, .min = lo,  \
        .max = hi, .fallback = fb, .default_text = def_text, .meaning = meaning_,                  \
        .offset = offsetof(regio_config, field)                                                    \
    }

#define LIST_ROW(name_, def_text, meaning_, field)                                                 \
    {                                                                                              \
        .name = name_, .kind = REGIO_SETTING_LIST, .key = "Parameters", .default_text = def_text,  \
        .meaning = meaning_, .offset = offsetof(regio_config, field)                               \
    }

/* A list whose every line (blank and # comment lines aside) must pass check_. */
#define CHECKED_LIST_ROW(name_, check_, def_text, meaning_, field)                                 \
    {                                                                                              \
        .name = name_, .kind = REGIO_SETTING_LIST, .key = "Parameters", .check = check_,           \
        .default_text = def_text, .meaning = meaning_, .offset = offsetof(regio_config, field)     \
    }

/* A string with a default of its own (not the machine's). */
#define DEFAULT_STRING_ROW(name_, check_, empty_ok, def, bounds_, def_text, meaning_, field,       \
                           state_field)                                                            \
    {                                                                                              \
        .name = name_, .kind = REGIO_SETTING_STRING, .key = "Parameters", .check = check_,         \
        .string_type = "REG_SZ", .string_bounds = bounds_, .string_default = def,                  \
        .empty_allowed = empty_ok, .default_text = def_text, .meaning = meaning_,                  \
        .offset = offsetof(regio_config, field),                                                   \
        .state_offset = offsetof(regio_config, state_field)                                        \
    }

#define STRING_ROW(name_, type_, check_, bounds_, def_text, meaning_, field, state_field)          \
    {                                                                                              \
        .name = name_, .kind = REGIO_SETTING_STRING, .key = "Parameters", .check = check_,         \
        .string_type = type_, .string_bounds = bounds_, .default_text = def_text,                  \
        .meaning = meaning_, .offset = offsetof(regio_config, field),                              \
        .state_offset = offsetof(regio_config, state_field)                                        \
    }

static const regio_setting settings[] = {
        DWORD_ROW("RelayFlags", "Parameters", 0, 0, UINT32_MAX, 0, "0 (no client may relay)",
                  "Which relay rules are in effect: 1 deny list, 2 allow list, 4 local IP list, "
                  "8 authenticated clients; exactly 1 (deny list only) lets every client not "
                  "denied relay. Absent, 0 or of the wrong type: no client may relay.",
                  relay_flags),
        LIST_ROW("RelayDenyList", "empty",
                 "Clients that may not relay, one `net[;mask]` or `net/prefix` per line.",
                 relay_deny_list),
        LIST_ROW("RelayAllowList", "empty", "Clients that may relay, same line syntax.",
                 relay_allow_list),
        LIST_ROW("RelayLocalIPList", "empty",
                 "Local addresses of this server: a client connected to one may relay "
                 "(not in effect while IPEnableRouter is 1).",
                 relay_local_ip_list),
        DWORD_ROW("IPEnableRouter", "Tcpip\\Parameters", 0, 0, 1, 1, "0 (IP forwarding off)",
                  "Windows' own IP forwarding switch, read from its key. 1 turns RelayLocalIPList "
                  "off. Out of range or unreadable counts as 1, which only narrows who may relay.",
                  ip_enable_router),
        LIST_ROW("LocalDomains", "empty",
                 "Recipient domains delivered here, one per line; no relay decision for them.",
                 local_domains),
        DWORD_ROW("ListenPort", "Parameters", 25, 1, 65535, 25, "25",
                  "TCP port of the SMTP server.", listen_port),
        LIST_ROW("ListenAddresses", "all IPv4 and IPv6 addresses",
                 "Local addresses to listen on, one per line.", listen_addresses),
        STRING_ROW("MailRoot", "REG_EXPAND_SZ or REG_SZ", check_absolute_path, "32767 characters",
                   IDENTITY_DEFAULT_MAIL_ROOT,
                   "Folder holding Drop, Queue and Logs; an absolute path once expanded.",
                   mail_root, mail_root_state),
        STRING_ROW("SmtpHostName", "REG_SZ", check_host_name, "253 characters",
                   "this computer's DNS host name",
                   "Name the server gives in its greeting and replies: letters, digits, hyphens "
                   "and dots.",
                   host_name, host_name_state),
        DWORD_ROW("MaxMessageBytes", "Parameters", 10485760, SETTING_MAX_MESSAGE_BYTES_MIN,
                  SETTING_MAX_MESSAGE_BYTES_MAX, 10485760, "10485760 (10 MiB)",
                  "Largest message accepted, in bytes (announced by SIZE).", max_message_bytes),
        DWORD_ROW("MaxRecipients", "Parameters", 100, SETTING_MAX_RECIPIENTS_MIN,
                  SMTP_MAX_RECIPIENTS_MAX, 100, "100",
                  "Recipients per message; RFC 5321 (4.5.3.1.8) requires at least 100.",
                  max_recipients),
        DWORD_ROW("MaxLineLength", "Parameters", 1000, SETTING_MAX_LINE_LENGTH_MIN,
                  SMTP_MAX_LINE_LENGTH_MAX, 1000, "1000",
                  "Longest command or text line in bytes, CRLF included (RFC 5321: 1000).",
                  max_line_length),
        DWORD_ROW("IdleTimeoutSeconds", "Parameters", 300, 10, 3600, 300, "300",
                  "Seconds a client may stay silent before it is disconnected.",
                  idle_timeout_seconds),
        DWORD_ROW("MaxConnections", "Parameters", 2000, 1, 100000, 2000, "2000",
                  "Concurrent SMTP sessions in all.", max_connections),
        DWORD_ROW(
                "MaxConnectionsPerClient", "Parameters", 50, 1, 100000, 50, "50",
                "Concurrent SMTP sessions from one client address (as Postfix's "
                "smtpd_client_connection_count_limit); a session stops counting as soon as it "
                "ends. Clients allowed to relay by RelayAllowList or RelayLocalIPList are exempt, "
                "as Postfix exempts mynetworks.",
                max_connections_per_client),
        DWORD_ROW("ConnectionsPerClientPerMinute", "Parameters", 0, 0, 100000, 0, "0 (no limit)",
                  "New SMTP sessions one client address may open per minute; the rest get 421 "
                  "4.7.0. Defends against one address reconnecting in a loop (like Postfix's "
                  "smtpd_client_connection_rate_limit).",
                  connections_per_client_per_minute),
        DWORD_ROW("CommandTimeoutSeconds", "Parameters", 300, 10, 3600, 300, "300",
                  "Seconds a whole command line may take to arrive (RFC 5321 4.5.3.2), and the "
                  "grace period of message data before DataMinBytesPerSecond applies. Defends "
                  "against clients that send a byte every few seconds, never idle but never "
                  "done.",
                  command_timeout_seconds),
        DWORD_ROW("DataMinBytesPerSecond", "Parameters", 256, 0, 1000000, 256, "256",
                  "Slowest message data accepted after the grace period: the time allowed grows "
                  "by one second per this many bytes, but never past CommandTimeoutSeconds "
                  "after the last bytes (like Postfix's smtpd_min_data_rate); 0: no minimum. "
                  "Defends against trickled message data holding a connection, and against "
                  "data sent fast earning time to trickle on.",
                  data_min_bytes_per_second),
        DWORD_ROW("SessionTimeoutSeconds", "Parameters", 3600, 60, 86400, 3600, "3600 (1 hour)",
                  "Longest SMTP session, whatever it does. Bounds how long any one client holds "
                  "a connection slot.",
                  session_timeout_seconds),
        DWORD_ROW("StressConnectionsPercent", "Parameters", 70, 0, 100, 70, "70",
                  "Share of MaxConnections in use from which the server is under stress and "
                  "StressTimeoutSeconds applies; 0: never.",
                  stress_connections_percent),
        DWORD_ROW("StressTimeoutSeconds", "Parameters", 20, 5, 3600, 20, "20",
                  "Under stress, IdleTimeoutSeconds and CommandTimeoutSeconds are shortened to "
                  "this (like Postfix's smtpd_timeout under stress), so slow clients give up "
                  "slots sooner when they are scarce.",
                  stress_timeout_seconds),
        DWORD_ROW("TmpMaxMegabytes", "Parameters", 1024, 1, 1048576, 1024, "1024 (1 GiB)",
                  "Message data held in MailRoot\\Tmp by messages still being received, in MiB, "
                  "in all; past it a message gets 452 4.3.1. Defends the disk against many slow "
                  "large messages (the default holds a hundred 10 MiB messages at once).",
                  tmp_max_megabytes),
        DWORD_ROW("TmpMaxMegabytesPerClient", "Parameters", 200, 1, 1048576, 200, "200",
                  "The same, per client address: one address cannot take the whole of "
                  "TmpMaxMegabytes (200 MiB is MaxConnectionsPerClient messages of 10 MiB).",
                  tmp_max_megabytes_per_client),
        DWORD_ROW("ProtocolLog", "Parameters", 1, 0, 1, 1, "1",
                  "1: daily protocol logs under MailRoot\\Logs; 0: none.", protocol_log),
        DWORD_ROW("DenialEventsPerMinute", "Parameters", 10, 1, 10000, 10, "10",
                  "Relay-denial events, and connection-refused events, per client address per "
                  "minute; the rest are counted and reported as suppressed.",
                  denial_events_per_minute),
        DWORD_ROW("DenialEventsPerMinuteTotal", "Parameters", 100, 1, 100000, 100, "100",
                  "Relay-denial events per minute from all client addresses together; the rest "
                  "are counted and reported as suppressed. Defends the Event Log against "
                  "denials from many addresses.",
                  denial_events_per_minute_total),
        DWORD_ROW("DenialLookupsPerMinute", "Parameters", 60, 0, 100000, 60, "60",
                  "Reverse DNS lookups for denial events per minute; past it an event names no "
                  "host, and says why. Defends the DNS server against lookups an attacker "
                  "triggers.",
                  denial_lookups_per_minute),
        DWORD_ROW("ProtocolLogSessionKilobytes", "Parameters", 64, 1, 1048576, 64, "64",
                  "Protocol log per session, in KiB; past it one line says how much was left "
                  "out. Defends the disk against clients sending junk to fill the log.",
                  protocol_log_session_kilobytes),
        DWORD_ROW("ProtocolLogDailyMegabytes", "Parameters", 1024, 1, 1048576, 1024, "1024 (1 GiB)",
                  "Size of one day's protocol log file, in MiB; past it one line says so and "
                  "the rest of the day is not logged.",
                  protocol_log_daily_megabytes),
        DWORD_ROW("LogMaxAgeDays", "Parameters", 30, 0, 36500, 30, "30",
                  "Days the daily files under MailRoot\\Logs (protocol and delivery logs) are "
                  "kept; older ones are deleted when a day's file is opened. 0: kept for ever. "
                  "Defends the disk against logs that only grow (Exchange keeps 30 days of "
                  "protocol logs too).",
                  log_max_age_days),
        DWORD_ROW("AuthWindowsAccounts", "Parameters", 0, 0, 1, 0, "0",
                  "1: AUTH also accepts Windows accounts of this machine or its domain.",
                  auth_windows_accounts),
        DWORD_ROW("AuthAttemptsPerClientPerMinute", "Parameters", 30, 1, 100000, 30, "30",
                  "AUTH attempts one client address may make per minute, over all its "
                  "sessions; the rest get 454 4.7.0 without a password check. Defends the "
                  "password hashing against floods (like Postfix's "
                  "smtpd_client_auth_rate_limit).",
                  auth_attempts_per_client_per_minute),
        DWORD_ROW("AuthWithoutTls", "Parameters", 0, 0, 1, 0, "0",
                  "1: AUTH is also offered and accepted outside TLS, for old clients that "
                  "cannot STARTTLS (`check` warns). 0: AUTH only after STARTTLS, outside it "
                  "530 5.7.0. Defends passwords against anyone who can read the network.",
                  auth_without_tls),
        DEFAULT_STRING_ROW("TlsCertificate", check_tls_certificate, true, "",
                           "40 hexadecimal digits or a DNS name",
                           "empty (the certificate for SmtpHostName)",
                           "The certificate STARTTLS serves, from LocalMachine\\My: its "
                           "thumbprint or the host name it is issued for. Empty: the one for "
                           "SmtpHostName (`install` makes a self-signed one). None usable: no "
                           "STARTTLS is offered (event, `check` says so). Defends mail and "
                           "passwords against reading on the network.",
                           tls_certificate, tls_certificate_state),
        DEFAULT_STRING_ROW("SmartHost", check_smart_host, true, "", "4096 characters, 16 hosts",
                           "empty (MX delivery)",
                           "Where relayed mail goes: comma-separated `host`, `host:port`, "
                           "`[host]` or `[address]:port` (brackets: no MX lookup), tried in "
                           "turn. Empty: each recipient's domain by its MX records. A bad value "
                           "keeps relayed mail in the queue.",
                           smart_host, smart_host_state),
        CHECKED_LIST_ROW("DnsServers", check_ipv4_line, "empty (Windows' DNS servers)",
                         "IPv4 addresses of the DNS servers asked for MX and address records, "
                         "one per line.",
                         dns_servers),
        DWORD_ROW("DeliveryPort", "Parameters", 25, 1, 65535, 25, "25",
                  "TCP port of the mail exchangers that MX delivery connects to.", delivery_port),
        DWORD_ROW("MaxOutboundConnections", "Parameters", 100, 1, 1000, 100, "100",
                  "Concurrent delivery connections in all.", max_outbound_connections),
        DWORD_ROW("MaxConnectionsPerDestination", "Parameters", 10, 1, 1000, 10, "10",
                  "Concurrent delivery connections to one destination (smart host or domain).",
                  max_connections_per_destination),
        DEFAULT_STRING_ROW("RetryIntervals", check_duration_list, false, "15m,30m,1h,4h",
                           "32 durations of 1s..30d", "15m,30m,1h,4h",
                           "Waits between delivery attempts (s, m, h, d); the last one repeats.",
                           retry_intervals, retry_intervals_state),
        DEFAULT_STRING_ROW("MessageExpiration", check_duration, false, "2d", "0 or 1s..30d", "2d",
                           "How long a recipient may stay deferred before it fails with 4.4.7 "
                           "and a DSN; 0: never.",
                           message_expiration, message_expiration_state),
        DEFAULT_STRING_ROW("DelayNotification", check_duration, false, "0", "0 or 1s..30d",
                           "0 (off)",
                           "After how long a still-deferred recipient's sender gets one delay "
                           "DSN; 0: never.",
                           delay_notification, delay_notification_state),
        DWORD_ROW("SmartHostTls", "Parameters", 1, 0, 3, 1, "1 (STARTTLS when offered)",
                  "TLS to the smart host. 0: never. 1: STARTTLS when offered, the certificate "
                  "not verified (encrypts against passive listening). 2: STARTTLS required, "
                  "the certificate verified (chain to the machine's Root store, and name). 3: "
                  "implicit TLS (port 465 when SmartHost gives none), verified. A required TLS "
                  "that fails keeps the mail queued; it never falls back to clear text.",
                  smart_host_tls),
        DWORD_ROW("MxTls", "Parameters", 1, 0, 2, 1, "1 (opportunistic)",
                  "TLS to mail exchangers. 0: never. 1: STARTTLS when offered, not verified; "
                  "a failed handshake is retried once in clear text. 2: STARTTLS required and "
                  "verified, or the mail stays queued.",
                  mx_tls),
        DEFAULT_STRING_ROW("SmartHostAccount", check_account, true, "", "255 bytes",
                           "empty (no AUTH)",
                           "Login name for AUTH PLAIN or LOGIN at the smart host; the password "
                           "is set with `imsrelay.exe smarthost password`. Sent only inside "
                           "TLS: without TLS the mail stays queued.",
                           smart_host_account, smart_host_account_state),
};

_Static_assert(sizeof(settings) / sizeof(settings[0]) == REGIO_SETTING_COUNT,
               "REGIO_SETTING_COUNT must match the table");

bool regio_setting_fleet_wide(const regio_setting *setting)
{
    static const char *const machine_specific[] = {"IPEnableRouter", "MailRoot", "SmtpHostName",
                                                   "ListenAddresses", "TlsCertificate"};
    for (size_t i = 0; i < sizeof(machine_specific) / sizeof(machine_specific[0]); i++) {
        if (!strcmp(setting->name, machine_specific[i])) {
            return false;
        }
    }
    return true;
}

const regio_setting *regio_settings(size_t *count)
{
    *count = sizeof(settings) / sizeof(settings[0]);
    return settings;
}

static bool equal_ignoring_case(const char *a, const char *b)
{
    size_t len = strlen(a);
    return strlen(b) == len && ascii_equal_nocase(a, b, len);
}

const regio_setting *regio_setting_find(const char *name)
{
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (equal_ignoring_case(settings[i].name, name)) {
            return &settings[i];
        }
    }
    return NULL;
}

static bool same_letter(char a, char b)
{
    return ascii_lower((unsigned char)a) == ascii_lower((unsigned char)b);
}

#define NEAR_MISS_MAX_DISTANCE 2
#define NAME_MAX_COMPARED      64

/* Optimal string alignment distance (edits: insert, delete, change, swap two neighbours),
 * ignoring ASCII case. Both strings are at most NAME_MAX_COMPARED long. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t d[NAME_MAX_COMPARED + 1][NAME_MAX_COMPARED + 1];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = same_letter(a[i - 1], b[j - 1]) ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) {
                best = d[i - 1][j] + 1;
            }
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) &&
                same_letter(a[i - 2], b[j - 1]) && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const regio_setting *regio_setting_near_miss(const char *name)
{
    size_t len = strlen(name);
    if (len > NAME_MAX_COMPARED) {
        return NULL; /* longer than every setting name by more than the distance allowed */
    }
    const regio_setting *nearest = NULL;
    size_t nearest_distance = NEAR_MISS_MAX_DISTANCE + 1;
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        size_t other = strlen(settings[i].name);
        if (len + NEAR_MISS_MAX_DISTANCE < other || other + NEAR_MISS_MAX_DISTANCE < len) {
            continue; /* too many letters missing or extra to be a typo */
        }
        size_t distance = edit_distance(name, len, settings[i].name, other);
        if (distance < nearest_distance) {
            nearest = &settings[i];
            nearest_distance = distance;
        }
    }
    return nearest;
}

const char *regio_reg_type_name(uint32_t type, char *buf, size_t size)
{
    switch (type) {
    case REGIO_REG_NONE:
        return "REG_NONE";
    case REGIO_REG_SZ:
        return "REG_SZ";
    case REGIO_REG_EXPAND_SZ:
        return "REG_EXPAND_SZ";
    case REGIO_REG_BINARY:
        return "REG_BINARY";
    case REGIO_REG_DWORD:
        return "REG_DWORD";
    case REGIO_REG_DWORD_BIG_ENDIAN:
        return "REG_DWORD_BIG_ENDIAN";
    case REGIO_REG_LINK:
        return "REG_LINK";
    case REGIO_REG_MULTI_SZ:
        return "REG_MULTI_SZ";
    case REGIO_REG_QWORD:
        return "REG_QWORD";
    }
    snprintf(buf, size, "type %lu", (unsigned long)type);
    return buf;
}
