#include <windows.h>
#include <bcrypt.h>

#include "tls/tls_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>

struct tls_session {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config config;
    bool is_client;
    bool verify;
    bool done;
    bool failed;
    bool verified;
    char host_name[256];
    uint8_t in[TLS_SESSION_BUFFER_BYTES];
    size_t in_start;
    size_t in_end;
    uint8_t out[TLS_SESSION_BUFFER_BYTES];
    size_t out_len;
    char cipher[80];
    char error[320];
};

/* Forward secrecy always (ECDHE), AEAD first. A server offers nothing else: every client
 * that speaks TLS 1.2 has one of these. */
static const int tls_session_server_suites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        0,
};

/* A client also accepts ECDHE with CBC: smart hosts on Windows Server 2008 R2 and 2012
 * (Exchange 2010, IIS SMTP) offer TLS 1.2 with nothing better, and encrypted beats clear. */
static const int tls_session_client_suites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        0,
};

/* Hashes for handshake signatures: what both CryptoAPI and CNG sign with a store key. */
static const int tls_session_sig_hashes[] = {
        MBEDTLS_MD_SHA512,
        MBEDTLS_MD_SHA384,
        MBEDTLS_MD_SHA256,
        MBEDTLS_MD_NONE,
};

/* Key exchange groups, cheapest first: mbed TLS would otherwise lead with P-521, several
 * times the CPU per handshake for no security an SMTP relay needs. */
static const mbedtls_ecp_group_id tls_session_curves[] = {
        MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
        MBEDTLS_ECP_DP_SECP521R1,  MBEDTLS_ECP_DP_NONE,
};

/* The system's CSPRNG, which is thread-safe: no per-session generator to seed. */
static int tls_session_random(void *context, unsigned char *out, size_t len)
{
    (void)context;
    if (len > 0xFFFFFFFFu ||
        !BCRYPT_SUCCESS(BCryptGenRandom(NULL, out, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    return 0;
}

static int tls_session_bio_send(void *context, const unsigned char *data, size_t len)
{
    struct tls_session *session = context;
    size_t room = sizeof session->out - session->out_len;
    if (room == 0) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    size_t n = len < room ? len : room;
    memcpy(session->out + session->out_len, data, n);
    session->out_len += n;
    return (int)n;
}

static int tls_session_bio_recv(void *context, unsigned char *data, size_t len)
{
    struct tls_session *session = context;
    size_t available = session->in_end - session->in_start;
    if (available == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    size_t n = len < available ? len : available;
    memcpy(data, session->in + session->in_start, n);
    session->in_start += n;
    if (session->in_start == session->in_end) {
        session->in_start = session->in_end = 0;
    }
    return (int)n;
}

static const char *tls_session_alert_name(unsigned char alert)
{
    switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
        return "handshake failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
        return "bad certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
        return "unsupported certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
        return "certificate unknown";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
        return "unknown CA";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
        return "protocol version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
        return "insufficient security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR:
        return "internal error";
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
        return "unrecognized name";
    default:
        return "other";
    }
}

static void tls_session_append(char *out, size_t size, const char *text)
{
    size_t used = strlen(out);
    if (used < size) {
        snprintf(out + used, size - used, "%s%s", used > 0 ? "; " : "", text);
    }
}

static void tls_session_verify_reason(struct tls_session *session)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&session->ssl);
    char reasons[256] = "";
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        tls_session_append(reasons, sizeof reasons, "not issued by a trusted authority");
    }
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        char text[300];
        snprintf(text, sizeof text, "does not name %s", session->host_name);
        tls_session_append(reasons, sizeof reasons, text);
    }
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        tls_session_append(reasons, sizeof reasons, "expired");
    }
    if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
        tls_session_append(reasons, sizeof reasons, "not valid yet");
    }
    if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
        tls_session_append(reasons, sizeof reasons, "revoked");
    }
    if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
                 MBEDTLS_X509_BADCERT_BAD_KEY)) {
        tls_session_append(reasons, sizeof reasons, "signed with a weak hash or key");
    }
    if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE)) {
        tls_session_append(reasons, sizeof reasons, "not issued for TLS servers");
    }
    if (reasons[0] == '\0') {
        mbedtls_x509_crt_verify_info(reasons, sizeof reasons, "", flags);
        size_t n = strlen(reasons);
        while (n > 0 && reasons[n - 1] == '\n') {
            reasons[--n] = '\0';
        }
    }
    snprintf(session->error, sizeof session->error, "certificate not verified: %s", reasons);
}

static enum tls_result tls_session_fail(struct tls_session *session, int rc)
{
    session->failed = true;
    switch (rc) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        tls_session_verify_reason(session);
        break;
    case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
        snprintf(session->error, sizeof session->error,
                 session->is_client ? "the server offers no TLS 1.2"
                                    : "the client offered no TLS 1.2 (older versions refused)");
        break;
    case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
    case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
        snprintf(session->error, sizeof session->error, "no cipher suite in common");
        break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        unsigned char alert = session->ssl.in_msg != NULL ? session->ssl.in_msg[1] : 0;
        snprintf(session->error, sizeof session->error, "the peer sent a fatal alert: %s (%u)",
                 tls_session_alert_name(alert), alert);
        break;
    }
    case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO:
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
        snprintf(session->error, sizeof session->error,
                 "the peer's bytes are not TLS, or are damaged (-0x%04x)", -rc);
        break;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        snprintf(session->error, sizeof session->error, "the peer closed the handshake");
        break;
    default: {
        char text[200];
        mbedtls_strerror(rc, text, sizeof text);
        snprintf(session->error, sizeof session->error, "TLS error: %s (-0x%04x)", text, -rc);
        break;
    }
    }
    return TLS_FAILED;
}

static struct tls_session *tls_session_create(bool is_client, char *why, size_t why_size)
{
    struct tls_session *session = calloc(1, sizeof *session);
    if (session == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    session->is_client = is_client;
    mbedtls_ssl_init(&session->ssl);
    mbedtls_ssl_config_init(&session->config);
    int rc = mbedtls_ssl_config_defaults(&session->config,
                                         is_client ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        snprintf(why, why_size, "TLS configuration failed (-0x%04x)", -rc);
        tls_session_free(session);
        return NULL;
    }
    mbedtls_ssl_conf_min_version(&session->config, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&session->config, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(&session->config, tls_session_random, NULL);
    mbedtls_ssl_conf_ciphersuites(&session->config, is_client ? tls_session_client_suites
                                                              : tls_session_server_suites);
    mbedtls_ssl_conf_sig_hashes(&session->config, tls_session_sig_hashes);
    mbedtls_ssl_conf_curves(&session->config, tls_session_curves);
    mbedtls_ssl_conf_session_tickets(&session->config, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    return session;
}

static struct tls_session *tls_session_start(struct tls_session *session, char *why,
                                             size_t why_size)
{
    int rc = mbedtls_ssl_setup(&session->ssl, &session->config);
    if (rc == 0 && session->is_client && session->host_name[0] != '\0') {
        rc = mbedtls_ssl_set_hostname(&session->ssl, session->host_name);
    }
    if (rc != 0) {
        char text[160];
        mbedtls_strerror(rc, text, sizeof text);
        snprintf(why, why_size, "TLS session setup failed: %s", text);
        tls_session_free(session);
        return NULL;
    }
    mbedtls_ssl_set_bio(&session->ssl, session, tls_session_bio_send, tls_session_bio_recv, NULL);
    return session;
}

struct tls_session *tls_session_new_server(struct tls_credentials *credentials, char *why,
                                           size_t why_size)
{
    struct tls_session *session = tls_session_create(false, why, why_size);
    if (session == NULL) {
        return NULL;
    }
    int rc = mbedtls_ssl_conf_own_cert(&session->config, tls_credentials_chain(credentials),
                                       tls_credentials_key(credentials));
    if (rc != 0) {
        snprintf(why, why_size, "the certificate cannot be served (-0x%04x)", -rc);
        tls_session_free(session);
        return NULL;
    }
    /* SMTP clients do not present certificates to a relay; none is asked for. */
    mbedtls_ssl_conf_authmode(&session->config, MBEDTLS_SSL_VERIFY_NONE);
    return tls_session_start(session, why, why_size);
}

struct tls_session *tls_session_new_client(const struct tls_client_options *options, char *why,
                                           size_t why_size)
{
    const char *host = options->host_name ? options->host_name : "";
    if (strlen(host) >= sizeof((struct tls_session *)0)->host_name) {
        snprintf(why, why_size, "host name too long");
        return NULL;
    }
    if (options->trust != NULL && host[0] == '\0') {
        snprintf(why, why_size, "verifying a certificate needs the server's host name");
        return NULL;
    }
    struct tls_session *session = tls_session_create(true, why, why_size);
    if (session == NULL) {
        return NULL;
    }
    snprintf(session->host_name, sizeof session->host_name, "%s", host);
    if (options->trust != NULL) {
        session->verify = true;
        mbedtls_ssl_conf_ca_chain(&session->config, tls_trust_chain(options->trust), NULL);
        mbedtls_ssl_conf_authmode(&session->config, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&session->config, MBEDTLS_SSL_VERIFY_NONE);
    }
    return tls_session_start(session, why, why_size);
}

void tls_session_free(struct tls_session *session)
{
    if (session == NULL) {
        return;
    }
    mbedtls_ssl_free(&session->ssl);
    mbedtls_ssl_config_free(&session->config);
    /* Plaintext and keys passed through these buffers and the contexts above. */
    SecureZeroMemory(session, sizeof *session);
    free(session);
}

size_t tls_session_put_ciphertext(struct tls_session *session, const void *data, size_t len)
{
    if (session->in_start > 0) {
        memmove(session->in, session->in + session->in_start, session->in_end - session->in_start);
        session->in_end -= session->in_start;
        session->in_start = 0;
    }
    size_t room = sizeof session->in - session->in_end;
    size_t n = len < room ? len : room;
    memcpy(session->in + session->in_end, data, n);
    session->in_end += n;
    return n;
}

size_t tls_session_ciphertext_room(const struct tls_session *session)
{
    return sizeof session->in - (session->in_end - session->in_start);
}

const uint8_t *tls_session_pending_ciphertext(const struct tls_session *session, size_t *len)
{
    *len = session->out_len;
    return session->out;
}

void tls_session_ciphertext_sent(struct tls_session *session, size_t len)
{
    if (len > session->out_len) {
        len = session->out_len;
    }
    memmove(session->out, session->out + len, session->out_len - len);
    session->out_len -= len;
}

static void tls_session_finish_handshake(struct tls_session *session)
{
    session->done = true;
    const char *name = mbedtls_ssl_get_ciphersuite(&session->ssl);
    snprintf(session->cipher, sizeof session->cipher, "%s", name ? name : "");
    for (char *p = session->cipher; *p != '\0'; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }
    session->verified = session->verify && mbedtls_ssl_get_verify_result(&session->ssl) == 0;
}

enum tls_result tls_session_handshake(struct tls_session *session)
{
    if (session->failed) {
        return TLS_FAILED;
    }
    if (session->done) {
        return TLS_OK;
    }
    int rc = mbedtls_ssl_handshake(&session->ssl);
    if (rc == 0) {
        tls_session_finish_handshake(session);
        return TLS_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return TLS_WANT_IO;
    }
    return tls_session_fail(session, rc);
}

enum tls_result tls_session_read(struct tls_session *session, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    enum tls_result hs = tls_session_handshake(session);
    if (hs != TLS_OK) {
        return hs;
    }
    int rc = mbedtls_ssl_read(&session->ssl, buf, cap);
    if (rc > 0) {
        *got = (size_t)rc;
        return TLS_OK;
    }
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        return TLS_CLOSED;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return TLS_WANT_IO;
    }
    return tls_session_fail(session, rc);
}

enum tls_result tls_session_write(struct tls_session *session, const void *data, size_t len,
                                  size_t *accepted)
{
    *accepted = 0;
    enum tls_result hs = tls_session_handshake(session);
    if (hs != TLS_OK) {
        return hs;
    }
    int rc = mbedtls_ssl_write(&session->ssl, data, len);
    if (rc >= 0) {
        *accepted = (size_t)rc;
        return TLS_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return TLS_WANT_IO;
    }
    return tls_session_fail(session, rc);
}

enum tls_result tls_session_close(struct tls_session *session)
{
    if (session->failed) {
        return TLS_FAILED;
    }
    int rc = mbedtls_ssl_close_notify(&session->ssl);
    if (rc == 0) {
        return TLS_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return TLS_WANT_IO;
    }
    return tls_session_fail(session, rc);
}

bool tls_session_handshake_done(const struct tls_session *session)
{
    return session->done;
}

const char *tls_session_protocol(const struct tls_session *session)
{
    return session->done ? mbedtls_ssl_get_version(&session->ssl) : "";
}

const char *tls_session_cipher(const struct tls_session *session)
{
    return session->cipher;
}

bool tls_session_peer_verified(const struct tls_session *session)
{
    return session->verified;
}

const char *tls_session_error(const struct tls_session *session)
{
    return session->error;
}
