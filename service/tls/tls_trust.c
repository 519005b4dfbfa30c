#include <windows.h>
#include <wincrypt.h>

#include "tls/tls_trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>

struct tls_trust {
    mbedtls_x509_crt chain;
    size_t count;
};

struct tls_trust *tls_trust_new(void)
{
    struct tls_trust *trust = calloc(1, sizeof *trust);
    if (trust != NULL) {
        mbedtls_x509_crt_init(&trust->chain);
    }
    return trust;
}

static void tls_trust_reason(char *why, size_t why_size, const char *what, int error)
{
    char text[128];
    mbedtls_strerror(error, text, sizeof text);
    snprintf(why, why_size, "%s: %s", what, text);
}

bool tls_trust_add_der(struct tls_trust *trust, const void *der, size_t len, char *why,
                       size_t why_size)
{
    int rc = mbedtls_x509_crt_parse_der(&trust->chain, der, len);
    if (rc != 0) {
        tls_trust_reason(why, why_size, "certificate not readable", rc);
        return false;
    }
    trust->count++;
    return true;
}

bool tls_trust_add_pem(struct tls_trust *trust, const char *pem, size_t len, char *why,
                       size_t why_size)
{
    /* mbed TLS reads PEM only from NUL-terminated text; parse into a scratch chain first so
     * that a bundle with one bad certificate adds nothing. */
    char *text = malloc(len + 1);
    if (text == NULL) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    memcpy(text, pem, len);
    text[len] = '\0';
    mbedtls_x509_crt scratch;
    mbedtls_x509_crt_init(&scratch);
    int rc = mbedtls_x509_crt_parse(&scratch, (const unsigned char *)text, len + 1);
    free(text);
    if (rc != 0 || scratch.raw.len == 0) {
        tls_trust_reason(why, why_size, "certificate bundle not readable",
                         rc != 0 ? rc : MBEDTLS_ERR_X509_INVALID_FORMAT);
        mbedtls_x509_crt_free(&scratch);
        return false;
    }
    bool ok = true;
    for (const mbedtls_x509_crt *c = &scratch; c != NULL && ok; c = c->next) {
        ok = tls_trust_add_der(trust, c->raw.p, c->raw.len, why, why_size);
    }
    mbedtls_x509_crt_free(&scratch);
    return ok;
}

bool tls_trust_add_system_store(struct tls_trust *trust, const wchar_t *store_name, size_t *added,
                                char *why, size_t why_size)
{
    *added = 0;
    HCERTSTORE store =
            CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                          CERT_SYSTEM_STORE_LOCAL_MACHINE | CERT_STORE_READONLY_FLAG, store_name);
    if (store == NULL) {
        snprintf(why, why_size, "the LocalMachine certificate store cannot be opened (0x%08lx)",
                 (unsigned long)GetLastError());
        return false;
    }
    PCCERT_CONTEXT cert = NULL;
    while ((cert = CertEnumCertificatesInStore(store, cert)) != NULL) {
        /* Certificates mbed TLS cannot read (old algorithms, odd encodings) are skipped: they
         * cannot anchor a chain it verifies anyway. */
        if (mbedtls_x509_crt_parse_der(&trust->chain, cert->pbCertEncoded, cert->cbCertEncoded) ==
            0) {
            trust->count++;
            (*added)++;
        }
    }
    CertCloseStore(store, 0);
    return true;
}

size_t tls_trust_count(const struct tls_trust *trust)
{
    return trust->count;
}

mbedtls_x509_crt *tls_trust_chain(struct tls_trust *trust)
{
    return &trust->chain;
}

void tls_trust_free(struct tls_trust *trust)
{
    if (trust == NULL) {
        return;
    }
    mbedtls_x509_crt_free(&trust->chain);
    free(trust);
}
