/* IPv4 and IPv6 addresses, parsed and formatted by our own strict code so that imsrelay
 * reads an address exactly the same way on Linux and on Windows (inet_pton/inet_addr differ:
 * Windows' inet_addr reads "010" as octal 8).
 *
 * Accepted IPv4: four decimal octets 0..255, each "0" or without a leading zero.
 * Accepted IPv6: RFC 4291 text (hex groups of 1..4 digits, one "::", an IPv4 dotted quad
 * as the last 32 bits); no zone index, no brackets, no spaces. */
#ifndef IMSRELAY_RELAY_IMS_ADDR_H
#define IMSRELAY_RELAY_IMS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum relay_addr_family {
    RELAY_AF_NONE = 0,
    RELAY_AF_INET4 = 4,
    RELAY_AF_INET6 = 6,
} relay_addr_family;

/* An address in network byte order. IPv4 uses bytes[0..3]; the other bytes are zero, so
 * two addresses compare equal with memcmp. */
typedef struct relay_addr {
    uint8_t family; /* relay_addr_family */
    uint8_t bytes[16];
} relay_addr;

#define RELAY_ADDR_TEXT_MAX 46 /* longest formatted address plus NUL (INET6_ADDRSTRLEN) */

/* Parses a whole NUL-terminated string. Returns false (and *out untouched) if it is not
 * exactly one address. */
bool relay_addr_parse(const char *text, relay_addr *out);

/* Parses text[0..len). On failure writes into why (if why_size > 0) a reason a person
 * understands, naming the text, e.g. "octet 3 has a leading zero: 192.168.010.1". */
bool relay_addr_parse_span(const char *text, size_t len, relay_addr *out, char *why,
                           size_t why_size);

/* Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (lowercase, longest zero run
 * shortened to "::", "::ffff:a.b.c.d" for IPv4-mapped addresses). Always NUL-terminates
 * when size > 0; returns the length of the full text (like snprintf). */
size_t relay_addr_format(const relay_addr *addr, char *buf, size_t size);

/* True for ::ffff:a.b.c.d. */
bool relay_addr_is_v4_mapped(const relay_addr *addr);

/* The address a relay rule sees: an IPv4-mapped IPv6 address becomes the IPv4 address it
 * carries; anything else is returned unchanged. */
relay_addr relay_addr_normalized(const relay_addr *addr);

bool relay_addr_equal(const relay_addr *a, const relay_addr *b);

/* Convenience constructors. */
relay_addr relay_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
relay_addr relay_addr_from_v4_uint(uint32_t host_order);

#endif
