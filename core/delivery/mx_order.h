/* The order in which a domain's mail exchangers are tried (RFC 5321 5.1), from the MX
 * records DNS returned, in whatever order it returned them.
 *
 * Lower preference first; records of equal preference in random order (through the
 * caller's generator, so tests are reproducible and load spreads in production). A null MX
 * (RFC 7505: the exchange is the root, "." or "") says the domain takes no mail. Our own
 * names among the exchangers end the list there: that record and every one of equal or
 * greater preference are dropped, and if that leaves nothing we are the best exchanger of
 * a domain we do not deliver locally, a mail loop. */
#ifndef IMSRELAY_DELIVERY_MX_ORDER_H
#define IMSRELAY_DELIVERY_MX_ORDER_H

#include <stddef.h>
#include <stdint.h>

#define MX_ORDER_RECORDS_MAX 256 /* records beyond these are ignored */
#define MX_ORDER_HOSTS_MAX   16  /* hosts tried for one domain at most */

typedef struct mx_record {
    uint16_t preference;
    const char *exchange; /* host name as DNS gave it; "." or "" is the root */
} mx_record;

/* Returns 32 uniformly random bits. */
typedef uint32_t (*mx_order_random)(void *context);

typedef enum mx_order_status {
    MX_ORDER_OK,         /* try hosts[0..count) in order */
    MX_ORDER_NO_RECORDS, /* no MX: the domain's own A/AAAA records (implicit MX) */
    MX_ORDER_NULL_MX,    /* permanent failure 5.1.10: the domain accepts no mail */
    MX_ORDER_LOOP,       /* permanent failure 5.4.6: we are its most preferred exchanger */
    MX_ORDER_UNUSABLE,   /* temporary failure 4.4.4: no exchanger is a valid host name */
} mx_order_status;

typedef struct mx_order_result {
    mx_order_status status;
    size_t count;
    mx_record hosts[MX_ORDER_HOSTS_MAX]; /* exchange points into the caller's records */
    const char *enhanced_status;         /* "5.1.10", "5.4.6", "4.4.4"; NULL when OK */
    const char *reason;                  /* a sentence for the DSN and the log; NULL when OK */
} mx_order_result;

/* self_names: our own host names (SmtpHostName and any others), compared ignoring case and
 * a trailing dot. max_hosts (0 or more than MX_ORDER_HOSTS_MAX: MX_ORDER_HOSTS_MAX) caps the hosts
 * returned; random may be NULL for the order of the input among equal preferences. */
void mx_order(const mx_record *records, size_t count, const char *const *self_names,
              size_t self_count, size_t max_hosts, mx_order_random random, void *context,
              mx_order_result *out);

#endif
