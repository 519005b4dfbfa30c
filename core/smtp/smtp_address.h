/* SMTP paths (RFC 5321 4.1.2) and recipient classification.
 *
 * Parsing: "<" [source-route ":"] mailbox ">", where mailbox is local-part "@" domain or
 * address literal. ASCII only (SMTPUTF8 is not offered). Lengths are bounded as RFC 5321
 * 4.5.3.1 says: local part 64, domain 255, whole path 256 octets with its punctuation.
 * A source route is accepted and dropped: the final mailbox is what counts (RFC 5321 C).
 * A domain with a trailing dot is not RFC 5321 syntax and is rejected.
 *
 * Classification: a recipient is local when it is `postmaster` without a domain (any case)
 * or when its domain equals an entry of LocalDomains (ASCII case-insensitive, exact: no
 * subdomain matching; an entry's surrounding spaces and one trailing dot are ignored, blank
 * and `#` entries never match). Relay tricks are never local, whatever the domain: a local
 * part containing `%` (percent hack) or `!` (bang path), a quoted local part containing `@`,
 * `%` or `!`; an address literal (`[192.0.2.1]`, `[IPv6:...]`) is local only when that exact
 * literal is listed. Everything that is not local is a relay and needs the relay decision. */
#ifndef IMSRELAY_SMTP_ADDRESS_H
#define IMSRELAY_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX     255
#define SMTP_PATH_MAX       256 /* "<...>" including brackets, route and separators */

/* What a path may be besides <mailbox>. */
enum {
    SMTP_PATH_ALLOW_NULL = 1,       /* "<>": MAIL FROM only */
    SMTP_PATH_ALLOW_POSTMASTER = 2, /* "<postmaster>" without domain: RCPT TO only */
};

typedef enum smtp_path_status {
    SMTP_PATH_OK = 0,
    SMTP_PATH_SYNTAX,   /* not a path */
    SMTP_PATH_TOO_LONG, /* a part exceeds its RFC 5321 length */
} smtp_path_status;

typedef struct smtp_path {
    /* The final mailbox as written (source route removed, no brackets), NUL-terminated.
     * "" for the null path, "postmaster" (as written) for the bare postmaster. */
    char mailbox[SMTP_PATH_MAX + 1];
    size_t length;        /* strlen(mailbox) */
    size_t domain_offset; /* mailbox + domain_offset is the domain; == length when none */
    bool null_path;       /* "<>" */
    bool quoted_local;    /* local part is a quoted string */
    bool address_literal; /* domain is "[...]" */
    bool source_route;    /* an "@a,@b:" route was given and dropped */
} smtp_path;

/* Parses a path at the start of text[0..len). On success *consumed is the length of the
 * path (through its ">"), so the caller can parse ESMTP parameters after it. */
smtp_path_status smtp_path_parse(const char *text, size_t len, unsigned flags, smtp_path *out,
                                 size_t *consumed);

typedef enum smtp_rcpt_class {
    SMTP_RCPT_LOCAL = 0, /* always accepted, no relay decision */
    SMTP_RCPT_RELAY,     /* the relay decision applies */
} smtp_rcpt_class;

smtp_rcpt_class smtp_recipient_classify(const smtp_path *path, const char *const *local_domains,
                                        size_t local_domain_count);

/* True when a local part (as written, quotes included) carries a relay trick. */
bool smtp_local_part_is_relay_trick(const char *local, size_t len);

#endif
