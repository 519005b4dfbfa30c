#include <windows.h>
#include <wincrypt.h>
#include <bcrypt.h>

#include "tls/tls_selfsigned.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/win_text.h"
#include "tls_selector.h"

#define TLS_SELFSIGNED_YEARS 5

static void tls_selfsigned_reason(char *why, size_t why_size, const char *what)
{
    DWORD code = GetLastError();
    char text[160];
    win_text_error(code, text, sizeof text);
    snprintf(why, why_size, "%s: %s (0x%08lx)", what, text, (unsigned long)code);
}

/* "imsrelay-" and 16 random hexadecimal digits: a fresh container per certificate, so that
 * making a new one never replaces the key of one still in use. */
static bool tls_selfsigned_container_name(wchar_t *out, size_t out_chars)
{
    unsigned char random[8];
    if (!BCRYPT_SUCCESS(
                BCryptGenRandom(NULL, random, sizeof random, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        return false;
    }
    int n = swprintf(out, out_chars, L"imsrelay-");
    for (size_t i = 0; i < sizeof random && n > 0; i++) {
        n += swprintf(out + n, out_chars - (size_t)n, L"%02x", random[i]);
    }
    return n > 0;
}

/* Subject alternative name (the host as DNS name), server-authentication usage, and key
 * usage for signing (ECDHE) and key encipherment (what SChannel clients expect of RSA). */
struct tls_selfsigned_extensions {
    CERT_EXTENSION items[3];
    BYTE *encoded[3];
};

static bool tls_selfsigned_encode(struct tls_selfsigned_extensions *ext, int index, const char *oid,
                                  LPCSTR type, const void *value)
{
    DWORD size = 0;
    if (!CryptEncodeObjectEx(X509_ASN_ENCODING, type, value, CRYPT_ENCODE_ALLOC_FLAG, NULL,
                             &ext->encoded[index], &size)) {
        return false;
    }
    ext->items[index].pszObjId = (LPSTR)oid;
    ext->items[index].fCritical = FALSE;
    ext->items[index].Value.cbData = size;
    ext->items[index].Value.pbData = ext->encoded[index];
    return true;
}

static bool tls_selfsigned_extensions_make(struct tls_selfsigned_extensions *ext,
                                           wchar_t *host_wide)
{
    memset(ext, 0, sizeof *ext);
    CERT_ALT_NAME_ENTRY name = {.dwAltNameChoice = CERT_ALT_NAME_DNS_NAME};
    name.pwszDNSName = host_wide;
    CERT_ALT_NAME_INFO names = {1, &name};
    LPSTR server_auth = (LPSTR)szOID_PKIX_KP_SERVER_AUTH;
    CERT_ENHKEY_USAGE usage = {1, &server_auth};
    BYTE key_usage_bits = CERT_DIGITAL_SIGNATURE_KEY_USAGE | CERT_KEY_ENCIPHERMENT_KEY_USAGE;
    CRYPT_BIT_BLOB key_usage = {1, &key_usage_bits, 0};
    return tls_selfsigned_encode(ext, 0, szOID_SUBJECT_ALT_NAME2, X509_ALTERNATE_NAME, &names) &&
           tls_selfsigned_encode(ext, 1, szOID_ENHANCED_KEY_USAGE, X509_ENHANCED_KEY_USAGE,
                                 &usage) &&
           tls_selfsigned_encode(ext, 2, szOID_KEY_USAGE, X509_KEY_USAGE, &key_usage);
}

static void tls_selfsigned_extensions_free(struct tls_selfsigned_extensions *ext)
{
    for (int i = 0; i < 3; i++) {
        LocalFree(ext->encoded[i]);
    }
}

static void tls_selfsigned_validity(SYSTEMTIME *start, SYSTEMTIME *end)
{
    /* From an hour ago, so that a client whose clock is slightly behind accepts it. */
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    ULARGE_INTEGER t = {.LowPart = now.dwLowDateTime, .HighPart = now.dwHighDateTime};
    t.QuadPart -= 3600ULL * 10000000ULL;
    FILETIME from = {t.LowPart, t.HighPart};
    FileTimeToSystemTime(&from, start);
    *end = *start;
    end->wYear = (WORD)(end->wYear + TLS_SELFSIGNED_YEARS);
    if (end->wMonth == 2 && end->wDay == 29) {
        end->wDay = 28;
    }
}

static void tls_selfsigned_delete_container(const wchar_t *container)
{
    HCRYPTPROV ignored = 0;
    CryptAcquireContextW(&ignored, container, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                         CRYPT_MACHINE_KEYSET | CRYPT_DELETEKEYSET | CRYPT_SILENT);
}

bool tls_selfsigned_create(const char *host_name, char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT],
                           char *why, size_t why_size)
{
    thumbprint[0] = '\0';
    if (!tls_selector_host_name_valid(host_name, false)) {
        snprintf(why, why_size, "\"%s\" is not a host name a certificate can carry", host_name);
        return false;
    }
    wchar_t host_wide[TLS_SELECTOR_NAME_MAX + 1];
    wchar_t subject_text[TLS_SELECTOR_NAME_MAX + 4];
    wchar_t container[32];
    if (!win_text_wide_into(host_name, host_wide, TLS_SELECTOR_NAME_MAX + 1) ||
        !tls_selfsigned_container_name(container, sizeof container / sizeof container[0])) {
        snprintf(why, why_size, "cannot prepare the certificate's names");
        return false;
    }
    swprintf(subject_text, sizeof subject_text / sizeof subject_text[0], L"CN=%ls", host_wide);

    HCRYPTPROV provider = 0;
    HCRYPTKEY key = 0;
    HCERTSTORE store = NULL;
    PCCERT_CONTEXT cert = NULL;
    struct tls_selfsigned_extensions ext;
    memset(&ext, 0, sizeof ext);
    bool ok = false;
    BYTE name_buf[512];
    CERT_NAME_BLOB subject = {sizeof name_buf, name_buf};

    if (!CryptAcquireContextW(&provider, container, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                              CRYPT_MACHINE_KEYSET | CRYPT_NEWKEYSET | CRYPT_SILENT)) {
        tls_selfsigned_reason(why, why_size, "cannot create a key container in the machine store");
        return false;
    }
    /* Not CRYPT_EXPORTABLE: the key can sign, never leave. */
    if (!CryptGenKey(provider, AT_KEYEXCHANGE, 2048u << 16, &key)) {
        tls_selfsigned_reason(why, why_size, "cannot generate the RSA key");
        goto done;
    }
    if (!CertStrToNameW(X509_ASN_ENCODING, subject_text, CERT_X500_NAME_STR, NULL, name_buf,
                        &subject.cbData, NULL)) {
        tls_selfsigned_reason(why, why_size, "cannot encode the subject name");
        goto done;
    }
    if (!tls_selfsigned_extensions_make(&ext, host_wide)) {
        tls_selfsigned_reason(why, why_size, "cannot encode the certificate's extensions");
        goto done;
    }
    CERT_EXTENSIONS extensions = {3, ext.items};
    CRYPT_KEY_PROV_INFO key_info = {
            container, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES, CRYPT_MACHINE_KEYSET, 0,
            NULL,      AT_KEYEXCHANGE};
    CRYPT_ALGORITHM_IDENTIFIER algorithm = {(LPSTR)szOID_RSA_SHA256RSA, {0, NULL}};
    SYSTEMTIME start, end;
    tls_selfsigned_validity(&start, &end);
    cert = CertCreateSelfSignCertificate(provider, &subject, 0, &key_info, &algorithm, &start, &end,
                                         &extensions);
    if (cert == NULL) {
        tls_selfsigned_reason(why, why_size, "cannot make the self-signed certificate");
        goto done;
    }
    /* Windows reads the key's location from this property; set it whether or not
     * CertCreateSelfSignCertificate did. */
    wchar_t friendly[TLS_SELECTOR_NAME_MAX + 32];
    swprintf(friendly, sizeof friendly / sizeof friendly[0], L"imsrelay SMTP (%ls)", host_wide);
    CRYPT_DATA_BLOB friendly_blob = {(DWORD)((wcslen(friendly) + 1) * sizeof(wchar_t)),
                                     (BYTE *)friendly};
    if (!CertSetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, 0, &key_info) ||
        !CertSetCertificateContextProperty(cert, CERT_FRIENDLY_NAME_PROP_ID, 0, &friendly_blob)) {
        tls_selfsigned_reason(why, why_size, "cannot attach the key to the certificate");
        goto done;
    }
    store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"My");
    if (store == NULL) {
        tls_selfsigned_reason(why, why_size, "cannot open LocalMachine\\My for writing");
        goto done;
    }
    if (!CertAddCertificateContextToStore(store, cert, CERT_STORE_ADD_NEW, NULL)) {
        tls_selfsigned_reason(why, why_size, "cannot add the certificate to LocalMachine\\My");
        goto done;
    }
    BYTE hash[TLS_SELECTOR_THUMBPRINT_BYTES];
    DWORD hash_size = sizeof hash;
    if (!CertGetCertificateContextProperty(cert, CERT_SHA1_HASH_PROP_ID, hash, &hash_size)) {
        tls_selfsigned_reason(why, why_size, "cannot read the certificate's thumbprint");
        goto done;
    }
    tls_selector_thumbprint_text(hash, thumbprint);
    ok = true;

done:
    tls_selfsigned_extensions_free(&ext);
    if (cert != NULL) {
        CertFreeCertificateContext(cert);
    }
    if (store != NULL) {
        /* Wine writes a system store back to the registry when it is closed. */
        CertCloseStore(store, 0);
    }
    if (key != 0) {
        CryptDestroyKey(key);
    }
    CryptReleaseContext(provider, 0);
    if (!ok) {
        tls_selfsigned_delete_container(container);
    }
    return ok;
}

bool tls_selfsigned_delete(const char *thumbprint_text, char *why, size_t why_size)
{
    struct tls_selector selector;
    const char *reason = NULL;
    if (!tls_selector_parse(thumbprint_text, strlen(thumbprint_text), &selector, &reason) ||
        selector.kind != TLS_SELECTOR_THUMBPRINT) {
        snprintf(why, why_size, "\"%s\" is not a thumbprint", thumbprint_text);
        return false;
    }
    HCERTSTORE store =
            CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"My");
    if (store == NULL) {
        tls_selfsigned_reason(why, why_size, "cannot open LocalMachine\\My");
        return false;
    }
    CRYPT_HASH_BLOB hash = {TLS_SELECTOR_THUMBPRINT_BYTES, selector.thumbprint};
    PCCERT_CONTEXT cert = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0,
                                                     CERT_FIND_SHA1_HASH, &hash, NULL);
    if (cert == NULL) {
        snprintf(why, why_size, "no certificate with thumbprint %s in LocalMachine\\My",
                 thumbprint_text);
        CertCloseStore(store, 0);
        return false;
    }
    DWORD size = 0;
    CRYPT_KEY_PROV_INFO *info = NULL;
    if (CertGetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, NULL, &size) &&
        (info = malloc(size)) != NULL &&
        CertGetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, info, &size) &&
        info->pwszContainerName != NULL && wcsncmp(info->pwszContainerName, L"imsrelay-", 9) == 0) {
        /* Only containers this file made: an administrator's own certificate keeps its key. */
        tls_selfsigned_delete_container(info->pwszContainerName);
    }
    free(info);
    /* CertDeleteCertificateFromStore frees the context, whatever it answers. */
    bool ok = CertDeleteCertificateFromStore(cert) != FALSE;
    if (!ok) {
        tls_selfsigned_reason(why, why_size, "cannot remove the certificate");
    }
    CertCloseStore(store, 0);
    return ok;
}
