/* A certificate's private key that stays in the Windows key store: mbed TLS asks for a
 * signature (through mbedtls_pk_setup_rsa_alt), Windows makes it, and the key itself is never
 * exported, in memory or on disk. Either kind of store works: CNG (NCryptSignHash) where
 * Windows keeps the key there, CryptoAPI (CryptSignHash) otherwise; under Wine 8 only the
 * latter persists keys (measured: NCryptOpenKey answers NTE_NOT_SUPPORTED). */
#ifndef IMSRELAY_TLS_STORE_KEY_H
#define IMSRELAY_TLS_STORE_KEY_H

#include <windows.h>
#include <wincrypt.h>

#include <stddef.h>

#include <mbedtls/pk.h>

struct tls_store_key;

/* Opens the private key of cert. CryptAcquireCertificatePrivateKey first (what Windows
 * does); when that gives nothing usable (Wine 8 always answers CRYPT_E_NO_KEY_PROPERTY), the
 * key container named by the certificate's CERT_KEY_PROV_INFO property is opened directly.
 * key_len is the modulus size in bytes (from the certificate). NULL with a reason in why. */
struct tls_store_key *tls_store_key_open(PCCERT_CONTEXT cert, size_t key_len, char *why,
                                         size_t why_size);

/* Makes pk an RSA key whose private operations are done by the key store. key must outlive
 * pk. 0 or an mbed TLS error code. */
int tls_store_key_setup_pk(struct tls_store_key *key, mbedtls_pk_context *pk);

/* Where the key lives, for logs: "CryptoAPI container NAME (PROVIDER)" or "CNG key NAME
 * (PROVIDER)". */
const char *tls_store_key_describe(const struct tls_store_key *key);

void tls_store_key_free(struct tls_store_key *key);

#endif
