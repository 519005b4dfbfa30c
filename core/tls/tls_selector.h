/* Which certificate the listener serves, as an administrator writes it in TlsCertificate
 * (REG_SZ): a SHA-1 thumbprint, as certmgr and PowerShell show it, or a host name the
 * certificate is issued for (its subject CN or one of its DNS names). */
#ifndef IMSRELAY_TLS_SELECTOR_H
#define IMSRELAY_TLS_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_SELECTOR_THUMBPRINT_BYTES 20
/* A DNS name is at most 253 characters. */
#define TLS_SELECTOR_NAME_MAX 253

enum tls_selector_kind {
    TLS_SELECTOR_THUMBPRINT,
    TLS_SELECTOR_HOST_NAME,
};

struct tls_selector {
    enum tls_selector_kind kind;
    uint8_t thumbprint[TLS_SELECTOR_THUMBPRINT_BYTES];
    /* Lower case, NUL-terminated; for TLS_SELECTOR_HOST_NAME. */
    char host_name[TLS_SELECTOR_NAME_MAX + 1];
};

/* Parses UTF-8 text of len bytes. Accepted: 40 hexadecimal digits, optionally in pairs
 * separated by spaces or colons (what certmgr's Details tab and openssl print), including the
 * invisible left-to-right mark certmgr puts in front when copied; or a host name, optionally
 * written "CN=name". False, with *why set to a static reason, for anything else. */
bool tls_selector_parse(const char *text, size_t len, struct tls_selector *out, const char **why);

/* True when name (NUL-terminated) is a DNS host name imsrelay can put in a certificate and
 * match against one: labels of letters, digits and hyphens, not starting or ending with a
 * hyphen, 1-63 characters each, 253 at most in all, a "*." wildcard only as the first label
 * when allow_wildcard. */
bool tls_selector_host_name_valid(const char *name, bool allow_wildcard);

/* Thumbprint as 40 upper-case hexadecimal digits and a NUL, as Windows shows it. */
void tls_selector_thumbprint_text(const uint8_t thumbprint[TLS_SELECTOR_THUMBPRINT_BYTES],
                                  char out[2 * TLS_SELECTOR_THUMBPRINT_BYTES + 1]);

#endif
