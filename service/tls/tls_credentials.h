/* The listener's certificate and private key, found the Windows way: in the LocalMachine\My
 * store, chosen by TlsCertificate (thumbprint or host name, see core/tls/tls_selector.h). The
 * private key stays in the key store (tls/tls_store_key.h); only the certificate chain is
 * copied. Read-only once loaded: one credentials object serves every session. */
#ifndef IMSRELAY_TLS_CREDENTIALS_H
#define IMSRELAY_TLS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

struct tls_credentials;

/* selector: TlsCertificate's text (UTF-8). By host name, the certificate whose subject CN or
 * a DNS name equals it, currently valid and with a private key, the one valid longest when
 * there are several. The key is checked against the certificate by signing with it. NULL with
 * the reason in why ("no certificate for mail.example.com in LocalMachine\My", ...). */
struct tls_credentials *tls_credentials_from_store(const char *selector, char *why,
                                                   size_t why_size);

/* For logs and `check`: subject, thumbprint, expiry and where the key lives. */
const char *tls_credentials_describe(const struct tls_credentials *credentials);

/* The leaf certificate, DER; valid as long as the credentials. */
const unsigned char *tls_credentials_certificate_der(const struct tls_credentials *credentials,
                                                     size_t *len);

/* For tls_session. */
mbedtls_x509_crt *tls_credentials_chain(struct tls_credentials *credentials);
mbedtls_pk_context *tls_credentials_key(struct tls_credentials *credentials);

void tls_credentials_free(struct tls_credentials *credentials);

#endif
