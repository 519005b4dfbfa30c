/* The certificate authorities a TLS client trusts: a caller's bundle (PEM or DER) and/or a
 * Windows certificate store of this machine (Root). Read-only once built, so one trust can
 * serve every session on every thread. */
#ifndef IMSRELAY_TLS_TRUST_H
#define IMSRELAY_TLS_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#include <mbedtls/x509_crt.h>

struct tls_trust;

/* Empty; NULL only when out of memory. */
struct tls_trust *tls_trust_new(void);

/* One DER certificate, or every certificate of a PEM bundle (len bytes, NUL not needed).
 * False with the reason when one cannot be read (nothing of a bad bundle is kept). */
bool tls_trust_add_der(struct tls_trust *trust, const void *der, size_t len, char *why,
                       size_t why_size);
bool tls_trust_add_pem(struct tls_trust *trust, const char *pem, size_t len, char *why,
                       size_t why_size);

/* Every certificate of the LocalMachine store store_name (L"Root" for the machine's trusted
 * roots) that mbed TLS can read; *added says how many. False when the store cannot be opened. */
bool tls_trust_add_system_store(struct tls_trust *trust, const wchar_t *store_name, size_t *added,
                                char *why, size_t why_size);

size_t tls_trust_count(const struct tls_trust *trust);

/* For tls_session: the chain mbed TLS verifies against. */
mbedtls_x509_crt *tls_trust_chain(struct tls_trust *trust);

void tls_trust_free(struct tls_trust *trust);

#endif
