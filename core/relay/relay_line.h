/* One line of RelayDenyList, RelayAllowList or RelayLocalIPList.
 *
 * Grammar (spaces and tabs around every part are ignored):
 *   line    = blank | "#" anything | net [ ";" mask | "/" prefix ]
 *   net     = IPv4 or IPv6 address (see relay_addr.h: strict, no leading zeros in octets)
 *   mask    = an address of the same family as net; any bit pattern (non-contiguous is legal)
 *   prefix  = decimal 0..32 for IPv4, 0..128 for IPv6
 * Without mask or prefix the line names one host (255.255.255.255, or /128 for IPv6).
 * An address matches when (address AND mask) == net. Decisions made here:
 *   - a line longer than RELAY_LINE_MAX characters is rejected (not truncated);
 *   - anything after the mask or prefix, including a "#" comment, is an error;
 *   - a mask of the other family than the net, or a prefix too long for it, is an error;
 *   - an IPv6 line inside ::ffff:0:0/96 whose mask covers those 96 bits is read as the IPv4
 *     line it spells (::ffff:10.0.0.0/104 is 10.0.0.0/8), because IPv4-mapped clients are
 *     matched as IPv4;
 *   - a net with bits outside its mask is kept but flagged never_matches (a warning).
 * IPv4 lines never match IPv6 clients and IPv6 lines never match IPv4 clients. */
#ifndef IMSRELAY_RELAY_LIST_LINE_H
#define IMSRELAY_RELAY_LIST_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "relay_addr.h"

#define RELAY_LINE_MAX 255

typedef enum relay_line_kind {
    RELAY_LINE_BLANK,   /* empty or only spaces: ignored */
    RELAY_LINE_COMMENT, /* first non-space character is '#': ignored */
    RELAY_LINE_RULE,    /* a rule; see never_matches */
    RELAY_LINE_INVALID, /* rejected; why says what is wrong */
} relay_line_kind;

typedef struct relay_rule {
    relay_addr net;     /* net.family is the rule's family */
    relay_addr mask;    /* same family as net */
    int prefix;         /* length of a contiguous mask, or -1 for a non-contiguous one */
    bool never_matches; /* net has bits outside mask: no address can match */
} relay_rule;

/* Parses one NUL-terminated line. For RELAY_LINE_INVALID, and for a rule that never
 * matches, writes a reason into why (which is "" otherwise). */
relay_line_kind relay_line_parse(const char *line, relay_rule *rule, char *why, size_t why_size);

/* Whether address (already normalized, see relay_addr_normalized) matches rule: the plain
 * definition, (address AND mask) == net with both of the same family. */
bool relay_rule_matches(const relay_rule *rule, const relay_addr *address);

/* The rule as canonical text, "net;mask" or "net/prefix". */
size_t relay_rule_format(const relay_rule *rule, char *buf, size_t size);

#endif
