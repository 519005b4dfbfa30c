#include "tls/tls_store_key.h"

#include <ncrypt.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/rsa.h>

#include "common/win_text.h"

struct tls_store_key {
    bool is_cng;
    NCRYPT_KEY_HANDLE cng_key;
    HCRYPTPROV capi_provider;
    DWORD capi_key_spec;
    size_t key_len;
    char description[256];
};

static void tls_store_key_reason(char *why, size_t why_size, const char *what, DWORD code)
{
    char text[160];
    win_text_error(code, text, sizeof text);
    snprintf(why, why_size, "%s: %s (0x%08lx)", what, text, (unsigned long)code);
}

static void tls_store_key_name(struct tls_store_key *key, const char *kind,
                               const wchar_t *container, const wchar_t *provider)
{
    char *c = win_text_utf8_from_wide(container ? container : L"");
    char *p = win_text_utf8_from_wide(provider ? provider : L"");
    snprintf(key->description, sizeof key->description, "%s %s (%s)", kind, c ? c : "?",
             p ? p : "?");
    free(c);
    free(p);
}

/* CNG: the provider named in the certificate, the key by its container name. */
static bool tls_store_key_open_cng(struct tls_store_key *key, const CRYPT_KEY_PROV_INFO *info,
                                   char *why, size_t why_size)
{
    NCRYPT_PROV_HANDLE provider = 0;
    SECURITY_STATUS st = NCryptOpenStorageProvider(
            &provider, info->pwszProvName ? info->pwszProvName : MS_KEY_STORAGE_PROVIDER, 0);
    if (st != ERROR_SUCCESS) {
        tls_store_key_reason(why, why_size, "the CNG key storage provider cannot be opened",
                             (DWORD)st);
        return false;
    }
    DWORD flags = NCRYPT_SILENT_FLAG | (info->dwFlags & NCRYPT_MACHINE_KEY_FLAG);
    st = NCryptOpenKey(provider, &key->cng_key, info->pwszContainerName, info->dwKeySpec, flags);
    NCryptFreeObject(provider);
    if (st != ERROR_SUCCESS) {
        tls_store_key_reason(why, why_size, "the certificate's CNG key cannot be opened",
                             (DWORD)st);
        return false;
    }
    key->is_cng = true;
    tls_store_key_name(key, "CNG key", info->pwszContainerName, info->pwszProvName);
    return true;
}

/* CryptoAPI: the container named in the certificate, always through the RSA and AES
 * provider, which shares containers with the older RSA providers and is the one that can
 * sign SHA-256 and longer hashes. */
static bool tls_store_key_open_capi(struct tls_store_key *key, const CRYPT_KEY_PROV_INFO *info,
                                    char *why, size_t why_size)
{
    if (info->dwProvType != PROV_RSA_FULL && info->dwProvType != PROV_RSA_AES &&
        info->dwProvType != PROV_RSA_SCHANNEL && info->dwProvType != PROV_RSA_SIG) {
        snprintf(why, why_size, "the certificate's key is in a provider of type %lu, not RSA",
                 (unsigned long)info->dwProvType);
        return false;
    }
    DWORD flags = CRYPT_SILENT | (info->dwFlags & CRYPT_MACHINE_KEYSET);
    if (!CryptAcquireContextW(&key->capi_provider, info->pwszContainerName, MS_ENH_RSA_AES_PROV_W,
                              PROV_RSA_AES, flags)) {
        tls_store_key_reason(why, why_size, "the certificate's key container cannot be opened",
                             GetLastError());
        return false;
    }
    key->capi_key_spec = info->dwKeySpec ? info->dwKeySpec : AT_KEYEXCHANGE;
    HCRYPTKEY handle = 0;
    if (!CryptGetUserKey(key->capi_provider, key->capi_key_spec, &handle)) {
        tls_store_key_reason(why, why_size, "the certificate's key container holds no key",
                             GetLastError());
        CryptReleaseContext(key->capi_provider, 0);
        key->capi_provider = 0;
        return false;
    }
    CryptDestroyKey(handle);
    tls_store_key_name(key, "CryptoAPI container", info->pwszContainerName, info->pwszProvName);
    return true;
}

struct tls_store_key *tls_store_key_open(PCCERT_CONTEXT cert, size_t key_len, char *why,
                                         size_t why_size)
{
    struct tls_store_key *key = calloc(1, sizeof *key);
    if (key == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    key->key_len = key_len;

    HCRYPTPROV_OR_NCRYPT_KEY_HANDLE handle = 0;
    DWORD spec = 0;
    BOOL caller_frees = FALSE;
    if (CryptAcquireCertificatePrivateKey(
                cert, CRYPT_ACQUIRE_SILENT_FLAG | CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG, NULL, &handle,
                &spec, &caller_frees) &&
        spec == CERT_NCRYPT_KEY_SPEC) {
        /* The handle is ours to keep only when Windows says so; otherwise it belongs to the
         * certificate context, which the credentials free later than the key. */
        key->is_cng = true;
        key->cng_key = handle;
        if (!caller_frees) {
            key->cng_key = 0;
        } else {
            snprintf(key->description, sizeof key->description, "CNG key of the certificate");
            return key;
        }
    }

    DWORD size = 0;
    if (!CertGetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, NULL, &size)) {
        snprintf(why, why_size, "the certificate has no private key in this machine's key store");
        free(key);
        return NULL;
    }
    CRYPT_KEY_PROV_INFO *info = malloc(size);
    if (info == NULL ||
        !CertGetCertificateContextProperty(cert, CERT_KEY_PROV_INFO_PROP_ID, info, &size)) {
        snprintf(why, why_size, "the certificate's key property cannot be read");
        free(info);
        free(key);
        return NULL;
    }
    key->is_cng = false;
    bool opened = info->dwProvType == 0 ? tls_store_key_open_cng(key, info, why, why_size)
                                        : tls_store_key_open_capi(key, info, why, why_size);
    free(info);
    if (!opened) {
        free(key);
        return NULL;
    }
    return key;
}

static int tls_store_key_sign_cng(struct tls_store_key *key, mbedtls_md_type_t md_alg,
                                  unsigned int hash_len, const unsigned char *hash,
                                  unsigned char *sig)
{
    BCRYPT_PKCS1_PADDING_INFO padding = {NULL};
    switch (md_alg) {
    case MBEDTLS_MD_SHA1:
        padding.pszAlgId = BCRYPT_SHA1_ALGORITHM;
        break;
    case MBEDTLS_MD_SHA256:
        padding.pszAlgId = BCRYPT_SHA256_ALGORITHM;
        break;
    case MBEDTLS_MD_SHA384:
        padding.pszAlgId = BCRYPT_SHA384_ALGORITHM;
        break;
    case MBEDTLS_MD_SHA512:
        padding.pszAlgId = BCRYPT_SHA512_ALGORITHM;
        break;
    default:
        return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;
    }
    DWORD written = 0;
    SECURITY_STATUS st =
            NCryptSignHash(key->cng_key, &padding, (PBYTE)hash, hash_len, sig, (DWORD)key->key_len,
                           &written, BCRYPT_PAD_PKCS1 | NCRYPT_SILENT_FLAG);
    if (st != ERROR_SUCCESS || written != key->key_len) {
        return MBEDTLS_ERR_RSA_PRIVATE_FAILED;
    }
    return 0;
}

static int tls_store_key_sign_capi(struct tls_store_key *key, mbedtls_md_type_t md_alg,
                                   unsigned int hash_len, const unsigned char *hash,
                                   unsigned char *sig)
{
    ALG_ID alg;
    switch (md_alg) {
    case MBEDTLS_MD_SHA1:
        alg = CALG_SHA1;
        break;
    case MBEDTLS_MD_SHA256:
        alg = CALG_SHA_256;
        break;
    case MBEDTLS_MD_SHA384:
        alg = CALG_SHA_384;
        break;
    case MBEDTLS_MD_SHA512:
        alg = CALG_SHA_512;
        break;
    default:
        return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;
    }
    HCRYPTHASH h = 0;
    if (!CryptCreateHash(key->capi_provider, alg, 0, 0, &h)) {
        return MBEDTLS_ERR_RSA_PRIVATE_FAILED;
    }
    int result = MBEDTLS_ERR_RSA_PRIVATE_FAILED;
    DWORD len = (DWORD)key->key_len;
    DWORD expected_hash_len = 0;
    DWORD field = sizeof expected_hash_len;
    if (CryptGetHashParam(h, HP_HASHSIZE, (BYTE *)&expected_hash_len, &field, 0) &&
        expected_hash_len == hash_len && CryptSetHashParam(h, HP_HASHVAL, hash, 0) &&
        CryptSignHashW(h, key->capi_key_spec, NULL, 0, sig, &len) && len == key->key_len) {
        /* CryptoAPI writes the signature little-endian; TLS wants it big-endian. */
        for (size_t i = 0; i < len / 2; i++) {
            unsigned char t = sig[i];
            sig[i] = sig[len - 1 - i];
            sig[len - 1 - i] = t;
        }
        result = 0;
    }
    CryptDestroyHash(h);
    return result;
}

static int tls_store_key_sign(void *ctx, int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
                              int mode, mbedtls_md_type_t md_alg, unsigned int hash_len,
                              const unsigned char *hash, unsigned char *sig)
{
    (void)f_rng;
    (void)p_rng;
    struct tls_store_key *key = ctx;
    if (mode != MBEDTLS_RSA_PRIVATE) {
        return MBEDTLS_ERR_RSA_BAD_INPUT_DATA;
    }
    return key->is_cng ? tls_store_key_sign_cng(key, md_alg, hash_len, hash, sig)
                       : tls_store_key_sign_capi(key, md_alg, hash_len, hash, sig);
}

/* Only RSA key transport decrypts with the server's key, and tls_session offers ECDHE
 * suites alone (forward secrecy): a decryption request is refused, not served. */
static int tls_store_key_decrypt(void *ctx, int mode, size_t *olen, const unsigned char *input,
                                 unsigned char *output, size_t output_max_len)
{
    (void)ctx;
    (void)mode;
    (void)olen;
    (void)input;
    (void)output;
    (void)output_max_len;
    return MBEDTLS_ERR_RSA_UNSUPPORTED_OPERATION;
}

static size_t tls_store_key_length(void *ctx)
{
    const struct tls_store_key *key = ctx;
    return key->key_len;
}

int tls_store_key_setup_pk(struct tls_store_key *key, mbedtls_pk_context *pk)
{
    return mbedtls_pk_setup_rsa_alt(pk, key, tls_store_key_decrypt, tls_store_key_sign,
                                    tls_store_key_length);
}

const char *tls_store_key_describe(const struct tls_store_key *key)
{
    return key->description;
}

void tls_store_key_free(struct tls_store_key *key)
{
    if (key == NULL) {
        return;
    }
    if (key->cng_key) {
        NCryptFreeObject(key->cng_key);
    }
    if (key->capi_provider) {
        CryptReleaseContext(key->capi_provider, 0);
    }
    free(key);
}
