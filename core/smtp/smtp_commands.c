/* The SMTP commands (RFC 5321 4.1.1) and their ESMTP parameters (RFC 1870 SIZE, RFC 6152
 * 8BITMIME, RFC 4954 AUTH=). AUTH itself is in smtp_auth.c. */
#include "smtp_session_internal.h"

#include <stdlib.h>
#include <string.h>

typedef void (*command_fn)(smtp_session *s, const char *arg, size_t len);

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && is_space(*p)) {
        p++;
    }
    return p;
}

/* One token of printable ASCII making up the whole argument (HELO/EHLO domain). */
static bool single_token(const char *arg, size_t len)
{
    if (len == 0 || len > SMTP_HOST_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)arg[i] <= 32 || (unsigned char)arg[i] >= 127) {
            return false;
        }
    }
    return true;
}

static bool prefix_nocase(const char *arg, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && ascii_equal_nocase(arg, prefix, n);
}

static void greet(smtp_session *s, const char *arg, size_t len, bool esmtp)
{
    if (!single_token(arg, len)) {
        smtp_reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    smtp_reset_transaction(s);
    memcpy(s->helo_name, arg, len);
    s->helo_name[len] = '\0';
    s->helo_done = true;
    s->esmtp = esmtp;
    if (!esmtp) {
        smtp_reply(s, "250 %s Hello %s", s->host_name, s->helo_name);
        return;
    }
    smtp_reply(s, "250-%s Hello %s", s->host_name, s->helo_name);
    smtp_reply(s, "250-SIZE %llu", (unsigned long long)s->limits.max_message_bytes);
    smtp_reply(s, "250-8BITMIME");
    smtp_reply(s, "250-PIPELINING");
    smtp_reply(s, "250-ENHANCEDSTATUSCODES");
    if (smtp_starttls_offered(s)) {
        smtp_reply(s, "250-STARTTLS");
    }
    if (smtp_auth_offered(s)) {
        smtp_reply(s, "250-AUTH PLAIN LOGIN");
    }
    smtp_reply(s, "250 HELP");
}

static void cmd_helo(smtp_session *s, const char *arg, size_t len)
{
    greet(s, arg, len, false);
}

static void cmd_ehlo(smtp_session *s, const char *arg, size_t len)
{
    greet(s, arg, len, true);
}

/* SIZE=1*20DIGIT without overflow. */
static bool parse_size(const char *v, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20) {
        return false;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(v[i] - '0');
        if (n > (UINT64_MAX - d) / 10) {
            return false;
        }
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* MAIL FROM parameters. Returns false after queuing the error reply. */
static bool mail_parameters(smtp_session *s, const char *p, const char *end)
{
    for (;;) {
        p = skip_spaces(p, end);
        if (p == end) {
            return true;
        }
        const char *word = p;
        while (p < end && !is_space(*p)) {
            p++;
        }
        size_t len = (size_t)(p - word);
        const char *eq = memchr(word, '=', len);
        size_t key = eq != NULL ? (size_t)(eq - word) : len;
        const char *value = eq != NULL ? eq + 1 : p;
        size_t value_len = (size_t)(p - value);
        if (!s->esmtp) {
            smtp_reply(s, "555 5.5.4 MAIL parameters need EHLO");
            return false;
        }
        if (key == 4 && ascii_equal_nocase(word, "SIZE", 4) && eq != NULL) {
            uint64_t size;
            if (!parse_size(value, value_len, &size)) {
                smtp_reply(s, "501 5.5.4 Syntax: SIZE=<number of bytes>");
                return false;
            }
            if (size > s->limits.max_message_bytes) {
                smtp_reply(s,
                           "552 5.3.4 Message size exceeds fixed maximum message size (%llu "
                           "bytes)",
                           (unsigned long long)s->limits.max_message_bytes);
                return false;
            }
            s->declared_size = size;
        } else if (key == 4 && ascii_equal_nocase(word, "BODY", 4) && eq != NULL) {
            if (value_len == 4 && ascii_equal_nocase(value, "7BIT", 4)) {
                s->body = SMTP_BODY_7BIT;
            } else if (value_len == 8 && ascii_equal_nocase(value, "8BITMIME", 8)) {
                s->body = SMTP_BODY_8BITMIME;
            } else {
                smtp_reply(s, "501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME");
                return false;
            }
        } else if (key == 4 && ascii_equal_nocase(word, "AUTH", 4) && eq != NULL) {
            /* RFC 4954 5: the submitter's identity; we trust only our own AUTH. */
        } else {
            smtp_reply(s, "555 5.5.4 Unsupported MAIL parameter");
            return false;
        }
    }
}

static void cmd_mail(smtp_session *s, const char *arg, size_t len)
{
    if (!s->helo_done) {
        smtp_reply(s, "503 5.5.1 Send HELO or EHLO first");
        return;
    }
    if (s->in_transaction) {
        smtp_reply(s, "503 5.5.1 Sender already given");
        return;
    }
    if (!prefix_nocase(arg, len, "FROM:")) {
        smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    const char *end = arg + len;
    const char *p = skip_spaces(arg + 5, end);
    smtp_path path;
    size_t used;
    smtp_path_status st = smtp_path_parse(p, (size_t)(end - p), SMTP_PATH_ALLOW_NULL, &path, &used);
    if (st != SMTP_PATH_OK || (p + used < end && !is_space(p[used]))) {
        smtp_reply(s, st == SMTP_PATH_TOO_LONG ? "501 5.1.7 Sender address too long"
                                               : "501 5.1.7 Bad sender address syntax");
        return;
    }
    s->body = SMTP_BODY_UNSPECIFIED;
    s->declared_size = 0;
    if (!mail_parameters(s, p + used, end)) {
        smtp_reset_transaction(s);
        return;
    }
    memcpy(s->mail_from, path.mailbox, path.length + 1);
    s->in_transaction = true;
    s->rcpt_count = 0;
    s->rcpt_text_len = 0;
    smtp_reply(s, "250 2.1.0 Sender <%s> OK", s->mail_from);
}

/* Makes room for one more recipient of `length` bytes; false when out of memory. Both
 * arrays double, so a transaction of n recipients costs O(n) copying in all. */
static bool reserve_recipient(smtp_session *s, size_t length)
{
    if (s->rcpt_count == s->rcpt_capacity) {
        size_t capacity = s->rcpt_capacity ? s->rcpt_capacity * 2 : 16;
        if (capacity > s->limits.max_recipients) {
            capacity = s->limits.max_recipients;
        }
        smtp_recipient *rcpts = realloc(s->rcpts, capacity * sizeof(*rcpts));
        if (rcpts == NULL) {
            return false;
        }
        s->rcpts = rcpts;
        s->rcpt_capacity = capacity;
    }
    if (s->rcpt_text_capacity - s->rcpt_text_len < length + 1) {
        size_t capacity = s->rcpt_text_capacity ? s->rcpt_text_capacity : 1024;
        while (capacity - s->rcpt_text_len < length + 1) {
            capacity *= 2;
        }
        char *text = realloc(s->rcpt_text, capacity);
        if (text == NULL) {
            return false;
        }
        s->rcpt_text = text;
        s->rcpt_text_capacity = capacity;
    }
    return true;
}

static void accept_recipient(smtp_session *s, const smtp_path *path, bool local)
{
    if (!reserve_recipient(s, path->length)) {
        smtp_reply(s, "452 4.3.1 Insufficient system storage for another recipient");
        return;
    }
    memcpy(s->rcpt_text + s->rcpt_text_len, path->mailbox, path->length + 1);
    s->rcpt_text_len += path->length + 1;
    s->rcpts[s->rcpt_count].mailbox = NULL; /* set by link_recipients */
    s->rcpts[s->rcpt_count].local = local;
    s->rcpt_count++;
    smtp_reply(s, "250 2.1.5 Recipient <%s> OK", path->mailbox);
}

/* Points every recipient at its mailbox, now that rcpt_text no longer moves. */
static void link_recipients(smtp_session *s)
{
    const char *mailbox = s->rcpt_text;
    for (size_t i = 0; i < s->rcpt_count; i++) {
        s->rcpts[i].mailbox = mailbox;
        mailbox += strlen(mailbox) + 1;
    }
}

static void cmd_rcpt(smtp_session *s, const char *arg, size_t len)
{
    if (!s->in_transaction) {
        smtp_reply(s, "503 5.5.1 Need MAIL before RCPT");
        return;
    }
    if (!prefix_nocase(arg, len, "TO:")) {
        smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    const char *end = arg + len;
    const char *p = skip_spaces(arg + 3, end);
    smtp_path path;
    size_t used;
    smtp_path_status st =
            smtp_path_parse(p, (size_t)(end - p), SMTP_PATH_ALLOW_POSTMASTER, &path, &used);
    if (st != SMTP_PATH_OK || (p + used < end && !is_space(p[used]))) {
        smtp_reply(s, st == SMTP_PATH_TOO_LONG ? "501 5.1.3 Recipient address too long"
                                               : "501 5.1.3 Bad recipient address syntax");
        return;
    }
    if (skip_spaces(p + used, end) != end) {
        smtp_reply(s, "555 5.5.4 Unsupported RCPT parameter");
        return;
    }
    if (s->rcpt_count >= s->limits.max_recipients) {
        smtp_reply(s, "452 4.5.3 Too many recipients");
        return;
    }
    if (smtp_recipient_classify(&path, s->host.local_domains, s->host.local_domain_count) ==
        SMTP_RCPT_LOCAL) {
        accept_recipient(s, &path, true);
        return;
    }
    smtp_relay_query q;
    q.recipient = path.mailbox;
    q.auth_account = s->authenticated ? s->auth_account : NULL;
    q.helo_name = s->helo_name;
    q.mail_from = s->mail_from;
    if (s->host.relay_check != NULL && s->host.relay_check(s->host.ctx, &q) == SMTP_RELAY_ALLOW) {
        accept_recipient(s, &path, false);
    } else {
        smtp_reply(s, "550 5.7.1 <%s>... relaying prohibited", path.mailbox);
    }
}

static void cmd_data(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    /* RFC 2920 3.1: DATA ends a pipelined group; the client must wait for its reply. Bytes
     * already behind it would be read as message text after a 354 but as commands after a
     * 5xx, and a server downstream may split them otherwise than we do (SMTP smuggling).
     * Refuse and close before anything is spooled, as Postfix's
     * smtpd_forbid_unauth_pipelining does, with Postfix's words. */
    if (s->input_after_line > 0) {
        smtp_close_with(s, "554 5.5.0 Error: SMTP protocol synchronization");
        return;
    }
    if (!s->in_transaction) {
        smtp_reply(s, "503 5.5.1 Need MAIL before DATA");
        return;
    }
    if (s->rcpt_count == 0) {
        smtp_reply(s, "503 5.5.1 Need RCPT before DATA (no valid recipients)");
        return;
    }
    if (len != 0) {
        smtp_reply(s, "501 5.5.4 Syntax: DATA takes no arguments");
        return;
    }
    smtp_envelope env;
    env.helo_name = s->helo_name;
    env.esmtp = s->esmtp;
    env.mail_from = s->mail_from;
    link_recipients(s);
    env.recipients = s->rcpts;
    env.recipient_count = s->rcpt_count;
    env.client_address = s->client_address;
    env.auth_account = s->authenticated ? s->auth_account : NULL;
    env.body = s->body;
    env.declared_size = s->declared_size;
    if (s->host.data_begin == NULL || !s->host.data_begin(s->host.ctx, &env)) {
        if (s->host.storage_full != NULL && s->host.storage_full(s->host.ctx)) {
            smtp_reply(s, "452 4.3.1 Insufficient system storage; try again later");
        } else {
            smtp_reply(s, "451 4.3.0 Cannot accept a message now; try again later");
        }
        return;
    }
    smtp_begin_message(s);
    smtp_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
}

static void cmd_rset(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    if (len != 0) {
        smtp_reply(s, "501 5.5.4 Syntax: RSET takes no arguments");
        return;
    }
    smtp_reset_transaction(s);
    smtp_reply(s, "250 2.0.0 OK");
}

static void cmd_noop(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtp_reply(s, "250 2.0.0 OK");
}

static void cmd_quit(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    if (len != 0) {
        smtp_reply(s, "501 5.5.4 Syntax: QUIT takes no arguments");
        return;
    }
    char reply[SMTP_FINAL_REPLY_MAX];
    size_t n = strlen(s->host_name);
    memcpy(reply, "221 2.0.0 ", 10);
    memcpy(reply + 10, s->host_name, n);
    memcpy(reply + 10 + n, " closing connection", sizeof " closing connection");
    smtp_close_with(s, reply);
}

static void cmd_vrfy(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    if (len == 0) {
        smtp_reply(s, "501 5.5.4 Syntax: VRFY <address>");
        return;
    }
    smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void cmd_help(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    (void)len;
    smtp_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s%s",
               smtp_starttls_offered(s) ? " STARTTLS" : "", smtp_auth_offered(s) ? " AUTH" : "");
}

static const struct {
    const char *verb;
    command_fn fn;
} commands[] = {
        {"HELO", cmd_helo},
        {"EHLO", cmd_ehlo},
        {"MAIL", cmd_mail},
        {"RCPT", cmd_rcpt},
        {"DATA", cmd_data},
        {"RSET", cmd_rset},
        {"NOOP", cmd_noop},
        {"QUIT", cmd_quit},
        {"VRFY", cmd_vrfy},
        {"EXPN", cmd_expn},
        {"HELP", cmd_help},
        {"AUTH", smtp_auth_command},
        {"STARTTLS", smtp_starttls_command},
};

void smtp_command(smtp_session *s, char *line, size_t len)
{
    size_t verb = 0;
    while (verb < len && line[verb] != ' ') {
        verb++;
    }
    const char *arg = line + verb;
    const char *end = line + len;
    if (arg < end) {
        arg++;
    }
    /* Trailing blanks are not part of any argument. */
    while (end > arg && is_space(end[-1])) {
        end--;
    }
    smtp_log_received(s, line, len);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t n = strlen(commands[i].verb);
        if (verb == n && ascii_equal_nocase(line, commands[i].verb, n)) {
            commands[i].fn(s, arg, (size_t)(end - arg));
            return;
        }
    }
    smtp_reply(s, "500 5.5.2 Command not recognized");
}
