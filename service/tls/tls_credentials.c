#include <windows.h>
#include <wincrypt.h>

#include "tls/tls_credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/sha256.h>

#include "common/win_text.h"
#include "tls/tls_store_key.h"
#include "tls_selector.h"

struct tls_credentials {
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    struct tls_store_key *store_key;
    char description[512];
};

static bool tls_credentials_name_equals(const wchar_t *wide, const char *host_name)
{
    char name[TLS_SELECTOR_NAME_MAX + 2];
    if (!win_text_utf8_into(wide, name, sizeof name)) {
        return false;
    }
    return _stricmp(name, host_name) == 0;
}

/* The subject CN or any DNS name of the certificate equals host_name (case aside). */
static bool tls_credentials_names_match(PCCERT_CONTEXT cert, const char *host_name)
{
    wchar_t cn[TLS_SELECTOR_NAME_MAX + 2];
    if (CertGetNameStringW(cert, CERT_NAME_ATTR_TYPE, 0, (void *)szOID_COMMON_NAME, cn,
                           TLS_SELECTOR_NAME_MAX + 2) > 1 &&
        tls_credentials_name_equals(cn, host_name)) {
        return true;
    }
    PCERT_EXTENSION ext = CertFindExtension(szOID_SUBJECT_ALT_NAME2, cert->pCertInfo->cExtension,
                                            cert->pCertInfo->rgExtension);
    if (ext == NULL) {
        return false;
    }
    CERT_ALT_NAME_INFO *names = NULL;
    DWORD size = 0;
    if (!CryptDecodeObjectEx(X509_ASN_ENCODING, X509_ALTERNATE_NAME, ext->Value.pbData,
                             ext->Value.cbData, CRYPT_DECODE_ALLOC_FLAG, NULL, &names, &size)) {
        return false;
    }
    bool match = false;
    for (DWORD i = 0; i < names->cAltEntry && !match; i++) {
        const CERT_ALT_NAME_ENTRY *entry = &names->rgAltEntry[i];
        match = entry->dwAltNameChoice == CERT_ALT_NAME_DNS_NAME &&
                tls_credentials_name_equals(entry->pwszDNSName, host_name);
    }
    LocalFree(names);
    return match;
}

static bool tls_credentials_has_key_property(PCCERT_CONTEXT cert)
{
    DWORD size = 0;
    return CertGetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, NULL, &size) ||
           CertGetCertificateContextProperty(cert, CERT_KEY_CONTEXT_PROP_ID, NULL, &size);
}

static PCCERT_CONTEXT tls_credentials_find_by_name(HCERTSTORE store, const char *host_name,
                                                   char *why, size_t why_size)
{
    PCCERT_CONTEXT best = NULL;
    size_t matched = 0;
    PCCERT_CONTEXT cert = NULL;
    while ((cert = CertEnumCertificatesInStore(store, cert)) != NULL) {
        if (!tls_credentials_names_match(cert, host_name)) {
            continue;
        }
        matched++;
        if (CertVerifyTimeValidity(NULL, cert->pCertInfo) != 0 ||
            !tls_credentials_has_key_property(cert)) {
            continue;
        }
        if (best == NULL ||
            CompareFileTime(&cert->pCertInfo->NotAfter, &best->pCertInfo->NotAfter) > 0) {
            if (best != NULL) {
                CertFreeCertificateContext(best);
            }
            best = CertDuplicateCertificateContext(cert);
        }
    }
    if (best == NULL) {
        if (matched == 0) {
            snprintf(why, why_size, "no certificate for %s in LocalMachine\\My", host_name);
        } else {
            snprintf(why, why_size,
                     "%zu certificate(s) for %s in LocalMachine\\My, none both valid now and "
                     "with a private key",
                     matched, host_name);
        }
    }
    return best;
}

static PCCERT_CONTEXT tls_credentials_find(const struct tls_selector *selector, char *why,
                                           size_t why_size)
{
    HCERTSTORE store =
            CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                          CERT_SYSTEM_STORE_LOCAL_MACHINE | CERT_STORE_READONLY_FLAG, L"My");
    if (store == NULL) {
        snprintf(why, why_size, "LocalMachine\\My cannot be opened (0x%08lx)",
                 (unsigned long)GetLastError());
        return NULL;
    }
    PCCERT_CONTEXT cert = NULL;
    if (selector->kind == TLS_SELECTOR_THUMBPRINT) {
        CRYPT_HASH_BLOB hash = {TLS_SELECTOR_THUMBPRINT_BYTES, (BYTE *)selector->thumbprint};
        cert = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0, CERT_FIND_SHA1_HASH, &hash,
                                          NULL);
        if (cert == NULL) {
            char text[2 * TLS_SELECTOR_THUMBPRINT_BYTES + 1];
            tls_selector_thumbprint_text(selector->thumbprint, text);
            snprintf(why, why_size, "no certificate with thumbprint %s in LocalMachine\\My", text);
        }
    } else {
        cert = tls_credentials_find_by_name(store, selector->host_name, why, why_size);
    }
    /* The context keeps its store alive as long as it needs it. */
    CertCloseStore(store, 0);
    return cert;
}

/* The intermediate certificates Windows finds for cert, after it: a server sends its chain
 * up to, not including, the root. */
static void tls_credentials_add_intermediates(struct tls_credentials *credentials,
                                              PCCERT_CONTEXT cert)
{
    CERT_CHAIN_PARA para;
    memset(&para, 0, sizeof para);
    para.cbSize = sizeof para;
    PCCERT_CHAIN_CONTEXT chain = NULL;
    if (!CertGetCertificateChain(NULL, cert, NULL, cert->hCertStore, &para, 0, NULL, &chain)) {
        return;
    }
    if (chain->cChain > 0) {
        const CERT_SIMPLE_CHAIN *simple = chain->rgpChain[0];
        for (DWORD i = 1; i + 1 < simple->cElement; i++) {
            PCCERT_CONTEXT c = simple->rgpElement[i]->pCertContext;
            mbedtls_x509_crt_parse_der(&credentials->chain, c->pbCertEncoded, c->cbCertEncoded);
        }
    }
    CertFreeCertificateChain(chain);
}

/* Signs a hash with the store's key and verifies it with the certificate's public key: a
 * certificate whose key property points at another key fails here, at load, with a reason,
 * rather than in every client's handshake. */
static bool tls_credentials_key_matches(struct tls_credentials *credentials, char *why,
                                        size_t why_size)
{
    static const unsigned char probe[] = "imsrelay: does this key belong to the certificate?";
    unsigned char hash[32];
    mbedtls_sha256_ret(probe, sizeof probe - 1, hash, 0);
    unsigned char sig[MBEDTLS_MPI_MAX_SIZE];
    size_t sig_len = 0;
    int rc = mbedtls_pk_sign(&credentials->key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &sig_len,
                             NULL, NULL);
    if (rc != 0) {
        snprintf(why, why_size, "the private key (%s) does not sign",
                 tls_store_key_describe(credentials->store_key));
        return false;
    }
    rc = mbedtls_pk_verify(&credentials->chain.pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig,
                           sig_len);
    if (rc != 0) {
        snprintf(why, why_size, "the private key (%s) does not belong to the certificate",
                 tls_store_key_describe(credentials->store_key));
        return false;
    }
    return true;
}

static void tls_credentials_describe_into(struct tls_credentials *credentials, PCCERT_CONTEXT cert)
{
    char subject[256] = "";
    mbedtls_x509_dn_gets(subject, sizeof subject, &credentials->chain.subject);
    BYTE thumbprint[TLS_SELECTOR_THUMBPRINT_BYTES];
    DWORD size = sizeof thumbprint;
    char thumb_text[2 * TLS_SELECTOR_THUMBPRINT_BYTES + 1] = "?";
    if (CertGetCertificateContextProperty(cert, CERT_SHA1_HASH_PROP_ID, thumbprint, &size) &&
        size == sizeof thumbprint) {
        tls_selector_thumbprint_text(thumbprint, thumb_text);
    }
    const mbedtls_x509_time *to = &credentials->chain.valid_to;
    snprintf(credentials->description, sizeof credentials->description,
             "%s, thumbprint %s, valid until %04d-%02d-%02d, key in %s", subject, thumb_text,
             to->year, to->mon, to->day, tls_store_key_describe(credentials->store_key));
}

struct tls_credentials *tls_credentials_from_store(const char *selector_text, char *why,
                                                   size_t why_size)
{
    struct tls_selector selector;
    const char *reason = NULL;
    if (!tls_selector_parse(selector_text, strlen(selector_text), &selector, &reason)) {
        snprintf(why, why_size, "TlsCertificate \"%s\": %s", selector_text, reason);
        return NULL;
    }
    PCCERT_CONTEXT cert = tls_credentials_find(&selector, why, why_size);
    if (cert == NULL) {
        return NULL;
    }
    struct tls_credentials *credentials = calloc(1, sizeof *credentials);
    if (credentials == NULL) {
        snprintf(why, why_size, "out of memory");
        CertFreeCertificateContext(cert);
        return NULL;
    }
    mbedtls_x509_crt_init(&credentials->chain);
    mbedtls_pk_init(&credentials->key);
    int rc = mbedtls_x509_crt_parse_der(&credentials->chain, cert->pbCertEncoded,
                                        cert->cbCertEncoded);
    if (rc != 0) {
        char text[128];
        mbedtls_strerror(rc, text, sizeof text);
        snprintf(why, why_size, "the certificate cannot be read: %s", text);
        goto fail;
    }
    if (mbedtls_pk_get_type(&credentials->chain.pk) != MBEDTLS_PK_RSA) {
        snprintf(why, why_size, "the certificate's key is not RSA (only RSA keys are served)");
        goto fail;
    }
    credentials->store_key =
            tls_store_key_open(cert, mbedtls_pk_get_len(&credentials->chain.pk), why, why_size);
    if (credentials->store_key == NULL) {
        goto fail;
    }
    rc = tls_store_key_setup_pk(credentials->store_key, &credentials->key);
    if (rc != 0) {
        snprintf(why, why_size, "the private key cannot be used (mbed TLS error -0x%04x)", -rc);
        goto fail;
    }
    if (!tls_credentials_key_matches(credentials, why, why_size)) {
        goto fail;
    }
    tls_credentials_add_intermediates(credentials, cert);
    tls_credentials_describe_into(credentials, cert);
    CertFreeCertificateContext(cert);
    return credentials;

fail:
    CertFreeCertificateContext(cert);
    tls_credentials_free(credentials);
    return NULL;
}

const char *tls_credentials_describe(const struct tls_credentials *credentials)
{
    return credentials->description;
}

const unsigned char *tls_credentials_certificate_der(const struct tls_credentials *credentials,
                                                     size_t *len)
{
    *len = credentials->chain.raw.len;
    return credentials->chain.raw.p;
}

mbedtls_x509_crt *tls_credentials_chain(struct tls_credentials *credentials)
{
    return &credentials->chain;
}

mbedtls_pk_context *tls_credentials_key(struct tls_credentials *credentials)
{
    return &credentials->key;
}

void tls_credentials_free(struct tls_credentials *credentials)
{
    if (credentials == NULL) {
        return;
    }
    mbedtls_pk_free(&credentials->key);
    mbedtls_x509_crt_free(&credentials->chain);
    tls_store_key_free(credentials->store_key);
    free(credentials);
}
