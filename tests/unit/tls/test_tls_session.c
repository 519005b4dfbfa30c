/* TLS under Wine, ours on both ends in memory: a server session with a self-signed
 * certificate made in this prefix's LocalMachine\My (its key signing inside the key store)
 * and client sessions that verify it, do not verify it, or verify it for the wrong name. */
#include <windows.h>
#include <wincrypt.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tls/tls_credentials.h"
#include "tls/tls_selfsigned.h"
#include "tls/tls_session.h"
#include "tls/tls_trust.h"

#define HOST       "mail.tls-test.example"
#define OTHER_HOST "other.tls-test.example"

struct fixture {
    char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT];
    char other_thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT];
    struct tls_credentials *credentials;
    struct tls_trust *trust_this;  /* holds the server's own certificate */
    struct tls_trust *trust_other; /* holds another self-signed certificate only */
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char why[512];
    if (!tls_selfsigned_create(HOST, f->thumbprint, why, sizeof why) ||
        !tls_selfsigned_create(OTHER_HOST, f->other_thumbprint, why, sizeof why)) {
        fprintf(stderr, "self-signed certificate: %s\n", why);
        return -1;
    }
    f->credentials = tls_credentials_from_store(f->thumbprint, why, sizeof why);
    if (f->credentials == NULL) {
        fprintf(stderr, "credentials: %s\n", why);
        return -1;
    }
    printf("# serving: %s\n", tls_credentials_describe(f->credentials));
    struct tls_credentials *other =
            tls_credentials_from_store(f->other_thumbprint, why, sizeof why);
    if (other == NULL) {
        fprintf(stderr, "other credentials: %s\n", why);
        return -1;
    }
    size_t len = 0;
    const unsigned char *der = tls_credentials_certificate_der(f->credentials, &len);
    f->trust_this = tls_trust_new();
    f->trust_other = tls_trust_new();
    bool ok = tls_trust_add_der(f->trust_this, der, len, why, sizeof why);
    der = tls_credentials_certificate_der(other, &len);
    ok = ok && tls_trust_add_der(f->trust_other, der, len, why, sizeof why);
    tls_credentials_free(other);
    if (!ok) {
        fprintf(stderr, "trust: %s\n", why);
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    char why[256];
    tls_credentials_free(f->credentials);
    tls_trust_free(f->trust_this);
    tls_trust_free(f->trust_other);
    bool removed = tls_selfsigned_delete(f->thumbprint, why, sizeof why) &&
                   tls_selfsigned_delete(f->other_thumbprint, why, sizeof why);
    free(f);
    return removed ? 0 : -1;
}

/* Moves what one session has to send into the other; false when nothing moved. */
static bool move_ciphertext(struct tls_session *from, struct tls_session *to)
{
    size_t len = 0;
    const uint8_t *data = tls_session_pending_ciphertext(from, &len);
    size_t taken = tls_session_put_ciphertext(to, data, len);
    tls_session_ciphertext_sent(from, taken);
    return taken > 0;
}

static void handshake_pair(struct tls_session *server, struct tls_session *client,
                           enum tls_result *server_rc, enum tls_result *client_rc)
{
    *server_rc = *client_rc = TLS_WANT_IO;
    for (int round = 0; round < 40; round++) {
        if (*client_rc == TLS_WANT_IO) {
            *client_rc = tls_session_handshake(client);
        }
        bool moved = move_ciphertext(client, server);
        if (*server_rc == TLS_WANT_IO) {
            *server_rc = tls_session_handshake(server);
        }
        moved = move_ciphertext(server, client) || moved;
        if (*client_rc != TLS_WANT_IO && *server_rc != TLS_WANT_IO) {
            return;
        }
        if (!moved && round > 0 && (*client_rc == TLS_FAILED || *server_rc == TLS_FAILED)) {
            return;
        }
    }
}

static struct tls_session *new_server(struct fixture *f)
{
    char why[256];
    struct tls_session *s = tls_session_new_server(f->credentials, why, sizeof why);
    assert_non_null(s);
    return s;
}

static struct tls_session *new_client(const char *host, struct tls_trust *trust)
{
    char why[256];
    struct tls_client_options options = {host, trust};
    struct tls_session *s = tls_session_new_client(&options, why, sizeof why);
    assert_non_null(s);
    return s;
}

static void a_verifying_client_and_our_server_agree_on_tls_1_2(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    struct tls_session *client = new_client(HOST, f->trust_this);
    enum tls_result server_rc, client_rc;
    handshake_pair(server, client, &server_rc, &client_rc);
    assert_int_equal(client_rc, TLS_OK);
    assert_int_equal(server_rc, TLS_OK);
    assert_string_equal(tls_session_protocol(client), "TLSv1.2");
    assert_string_equal(tls_session_protocol(server), "TLSv1.2");
    assert_string_equal(tls_session_cipher(client), tls_session_cipher(server));
    assert_non_null(strstr(tls_session_cipher(server), "TLS_ECDHE_RSA_WITH_AES_"));
    assert_non_null(strstr(tls_session_cipher(server), "_GCM_"));
    assert_true(tls_session_peer_verified(client));
    printf("# negotiated %s %s\n", tls_session_protocol(server), tls_session_cipher(server));
    tls_session_free(server);
    tls_session_free(client);
}

/* Writes all of data from one session, reading it in the other, moving ciphertext both ways
 * as a network would: more than fits in one record or one ciphertext buffer. */
static void send_all(struct tls_session *from, struct tls_session *to, const uint8_t *data,
                     size_t len, uint8_t *received)
{
    size_t sent = 0, got_total = 0;
    for (int round = 0; round < 1000 && got_total < len; round++) {
        if (sent < len) {
            size_t accepted = 0;
            enum tls_result rc = tls_session_write(from, data + sent, len - sent, &accepted);
            assert_true(rc == TLS_OK || rc == TLS_WANT_IO);
            sent += accepted;
        }
        move_ciphertext(from, to);
        for (;;) {
            size_t got = 0;
            enum tls_result rc = tls_session_read(to, received + got_total, len - got_total, &got);
            if (rc != TLS_OK || got == 0) {
                assert_int_equal(rc, TLS_WANT_IO);
                break;
            }
            got_total += got;
        }
        move_ciphertext(to, from);
    }
    assert_int_equal(got_total, len);
}

static void data_crosses_both_ways_and_close_notify_ends_it(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    struct tls_session *client = new_client(HOST, f->trust_this);
    enum tls_result server_rc, client_rc;
    handshake_pair(server, client, &server_rc, &client_rc);
    assert_int_equal(server_rc, TLS_OK);

    size_t len = 100000;
    uint8_t *message = malloc(len);
    uint8_t *received = calloc(1, len);
    for (size_t i = 0; i < len; i++) {
        message[i] = (uint8_t)(i * 7 + i / 251);
    }
    send_all(client, server, message, len, received);
    assert_memory_equal(received, message, len);

    static const char reply[] = "250 2.0.0 OK\r\n";
    memset(received, 0, len);
    send_all(server, client, (const uint8_t *)reply, sizeof reply - 1, received);
    assert_memory_equal(received, reply, sizeof reply - 1);

    assert_int_equal(tls_session_close(client), TLS_OK);
    move_ciphertext(client, server);
    size_t got = 0;
    assert_int_equal(tls_session_read(server, received, len, &got), TLS_CLOSED);
    assert_int_equal(got, 0);
    free(message);
    free(received);
    tls_session_free(server);
    tls_session_free(client);
}

static void a_verifying_client_rejects_an_untrusted_certificate_and_says_why(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    struct tls_session *client = new_client(HOST, f->trust_other);
    enum tls_result server_rc, client_rc;
    handshake_pair(server, client, &server_rc, &client_rc);
    assert_int_equal(client_rc, TLS_FAILED);
    printf("# client: %s\n# server: %s\n", tls_session_error(client), tls_session_error(server));
    assert_non_null(strstr(tls_session_error(client), "certificate not verified"));
    assert_non_null(strstr(tls_session_error(client), "not issued by a trusted authority"));
    assert_false(tls_session_peer_verified(client));
    /* The server hears why from the client's alert. */
    assert_int_equal(server_rc, TLS_FAILED);
    assert_non_null(strstr(tls_session_error(server), "fatal alert"));
    tls_session_free(server);
    tls_session_free(client);
}

static void a_client_that_does_not_verify_accepts_it(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    struct tls_session *client = new_client(HOST, NULL);
    enum tls_result server_rc, client_rc;
    handshake_pair(server, client, &server_rc, &client_rc);
    assert_int_equal(client_rc, TLS_OK);
    assert_int_equal(server_rc, TLS_OK);
    assert_string_equal(tls_session_protocol(client), "TLSv1.2");
    assert_false(tls_session_peer_verified(client));
    tls_session_free(server);
    tls_session_free(client);
}

static void a_verifying_client_rejects_the_wrong_host_name(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    struct tls_session *client = new_client("smtp.elsewhere.example", f->trust_this);
    enum tls_result server_rc, client_rc;
    handshake_pair(server, client, &server_rc, &client_rc);
    assert_int_equal(client_rc, TLS_FAILED);
    printf("# client: %s\n", tls_session_error(client));
    assert_non_null(strstr(tls_session_error(client), "does not name smtp.elsewhere.example"));
    assert_null(strstr(tls_session_error(client), "trusted authority"));
    tls_session_free(server);
    tls_session_free(client);
}

static void verifying_needs_a_host_name(void **state)
{
    struct fixture *f = *state;
    char why[256] = "";
    struct tls_client_options options = {NULL, f->trust_this};
    assert_null(tls_session_new_client(&options, why, sizeof why));
    assert_non_null(strstr(why, "host name"));
}

static void plain_smtp_sent_to_the_server_fails_it_with_a_reason(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    static const char text[] = "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n";
    assert_int_equal(tls_session_put_ciphertext(server, text, sizeof text - 1), sizeof text - 1);
    assert_int_equal(tls_session_handshake(server), TLS_FAILED);
    assert_non_null(strstr(tls_session_error(server), "not TLS"));
    printf("# server: %s\n", tls_session_error(server));
    size_t got = 0;
    char buf[16];
    assert_int_equal(tls_session_read(server, buf, sizeof buf, &got), TLS_FAILED);
    tls_session_free(server);
}

static void the_server_buffer_is_bounded(void **state)
{
    struct fixture *f = *state;
    struct tls_session *server = new_server(f);
    assert_int_equal(tls_session_ciphertext_room(server), TLS_SESSION_BUFFER_BYTES);
    static uint8_t flood[TLS_SESSION_BUFFER_BYTES + 100];
    assert_int_equal(tls_session_put_ciphertext(server, flood, sizeof flood),
                     TLS_SESSION_BUFFER_BYTES);
    assert_int_equal(tls_session_ciphertext_room(server), 0);
    assert_int_equal(tls_session_put_ciphertext(server, flood, 1), 0);
    tls_session_free(server);
}

static void credentials_by_host_name_and_clear_reasons_when_missing(void **state)
{
    struct fixture *f = *state;
    char why[512] = "";
    struct tls_credentials *by_name = tls_credentials_from_store("CN=" HOST, why, sizeof why);
    assert_non_null(by_name);
    assert_non_null(strstr(tls_credentials_describe(by_name), f->thumbprint));
    assert_non_null(strstr(tls_credentials_describe(by_name), "CN=" HOST));
    tls_credentials_free(by_name);

    assert_null(tls_credentials_from_store("00112233445566778899AABBCCDDEEFF00112233", why,
                                           sizeof why));
    assert_non_null(strstr(why, "no certificate with thumbprint 00112233"));
    assert_null(tls_credentials_from_store("nowhere.tls-test.example", why, sizeof why));
    assert_non_null(strstr(why, "no certificate for nowhere.tls-test.example"));
    assert_null(tls_credentials_from_store("not a name", why, sizeof why));
    assert_non_null(strstr(why, "TlsCertificate"));
}

static void a_self_signed_certificate_needs_a_valid_host_name(void **state)
{
    (void)state;
    char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT];
    char why[256] = "";
    assert_false(tls_selfsigned_create("bad host", thumbprint, why, sizeof why));
    assert_non_null(strstr(why, "not a host name"));
    assert_false(
            tls_selfsigned_delete("00112233445566778899AABBCCDDEEFF00112233", why, sizeof why));
    assert_non_null(strstr(why, "no certificate"));
}

static void the_machine_root_store_can_be_trusted(void **state)
{
    (void)state;
    struct tls_trust *trust = tls_trust_new();
    size_t added = 0;
    char why[256] = "";
    assert_true(tls_trust_add_system_store(trust, L"Root", &added, why, sizeof why));
    assert_int_equal(tls_trust_count(trust), added);
    printf("# LocalMachine\\Root: %zu certificates mbed TLS can use\n", added);
    tls_trust_free(trust);
}

/* A certificate whose key property names another certificate's key container (a restored
 * backup, a hand-edited store): refused when loaded, with the reason. Made directly with
 * CertCreateSelfSignCertificate, signed by a scratch key and pointing at the fixture's. */
static void a_certificate_whose_key_is_another_is_refused_at_load(void **state)
{
    struct fixture *f = *state;
    HCERTSTORE store =
            CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"My");
    assert_non_null(store);
    BYTE hash[20];
    DWORD size = sizeof hash;
    assert_true(CryptStringToBinaryA(f->thumbprint, 40, CRYPT_STRING_HEX, hash, &size, NULL, NULL));
    CRYPT_HASH_BLOB blob = {20, hash};
    PCCERT_CONTEXT mine = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0,
                                                     CERT_FIND_SHA1_HASH, &blob, NULL);
    assert_non_null(mine);
    BYTE info[1024];
    size = sizeof info;
    assert_true(CertGetCertificateContextProperty(mine, CERT_KEY_PROV_INFO_PROP_ID, info, &size));
    CertFreeCertificateContext(mine);

    const wchar_t *scratch = L"imsrelay-test-scratch-key";
    HCRYPTPROV provider = 0;
    HCRYPTKEY key = 0;
    CryptAcquireContextW(&provider, scratch, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                         CRYPT_MACHINE_KEYSET | CRYPT_DELETEKEYSET);
    assert_true(CryptAcquireContextW(&provider, scratch, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                                     CRYPT_MACHINE_KEYSET | CRYPT_NEWKEYSET));
    assert_true(CryptGenKey(provider, AT_KEYEXCHANGE, 2048u << 16, &key));
    BYTE name[128];
    CERT_NAME_BLOB subject = {sizeof name, name};
    assert_true(CertStrToNameW(X509_ASN_ENCODING, L"CN=mismatch.tls-test.example",
                               CERT_X500_NAME_STR, NULL, name, &subject.cbData, NULL));
    CRYPT_ALGORITHM_IDENTIFIER sha256 = {(LPSTR)szOID_RSA_SHA256RSA, {0, NULL}};
    PCCERT_CONTEXT cert = CertCreateSelfSignCertificate(
            provider, &subject, 0, (CRYPT_KEY_PROV_INFO *)info, &sha256, NULL, NULL, NULL);
    assert_non_null(cert);
    /* No context of the store is kept: Wine writes the store back when its last one goes. */
    assert_true(CertAddCertificateContextToStore(store, cert, CERT_STORE_ADD_NEW, NULL));
    CertCloseStore(store, 0);
    char thumbprint[41] = "";
    BYTE cert_hash[20];
    size = sizeof cert_hash;
    assert_true(CertGetCertificateContextProperty(cert, CERT_SHA1_HASH_PROP_ID, cert_hash, &size));
    for (int i = 0; i < 20; i++) {
        snprintf(thumbprint + 2 * i, 3, "%02X", cert_hash[i]);
    }
    CertFreeCertificateContext(cert);

    char why[512] = "";
    struct tls_credentials *loaded = tls_credentials_from_store(thumbprint, why, sizeof why);
    printf("# %s\n", why);

    /* Cleanup first, so a failure leaves nothing behind. */
    store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"My");
    CRYPT_HASH_BLOB added_hash = {20, cert_hash};
    PCCERT_CONTEXT stored = CertFindCertificateInStore(store, X509_ASN_ENCODING, 0,
                                                       CERT_FIND_SHA1_HASH, &added_hash, NULL);
    assert_non_null(stored);
    assert_true(CertDeleteCertificateFromStore(stored));
    CertCloseStore(store, 0);
    CryptDestroyKey(key);
    CryptReleaseContext(provider, 0);
    CryptAcquireContextW(&provider, scratch, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                         CRYPT_MACHINE_KEYSET | CRYPT_DELETEKEYSET);
    assert_null(loaded);
    assert_non_null(strstr(why, "does not belong to the certificate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_verifying_client_and_our_server_agree_on_tls_1_2),
            cmocka_unit_test(data_crosses_both_ways_and_close_notify_ends_it),
            cmocka_unit_test(a_verifying_client_rejects_an_untrusted_certificate_and_says_why),
            cmocka_unit_test(a_client_that_does_not_verify_accepts_it),
            cmocka_unit_test(a_verifying_client_rejects_the_wrong_host_name),
            cmocka_unit_test(verifying_needs_a_host_name),
            cmocka_unit_test(plain_smtp_sent_to_the_server_fails_it_with_a_reason),
            cmocka_unit_test(the_server_buffer_is_bounded),
            cmocka_unit_test(credentials_by_host_name_and_clear_reasons_when_missing),
            cmocka_unit_test(a_self_signed_certificate_needs_a_valid_host_name),
            cmocka_unit_test(the_machine_root_store_can_be_trusted),
            cmocka_unit_test(a_certificate_whose_key_is_another_is_refused_at_load),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
