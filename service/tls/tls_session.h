/* One TLS connection, without a socket: the caller moves ciphertext between the network and
 * the session (put what arrived, take what is to be sent) and plaintext between the session
 * and the protocol (read, write). So the same session runs over IOCP, a blocking socket or
 * another session in memory (the tests). Server and client mode; TLS 1.2 only (the library
 * is built without SSL 3.0, TLS 1.0 and 1.1; mbed TLS 2.28 has no TLS 1.3), ECDHE suites with
 * AES-GCM or ChaCha20-Poly1305, CBC only for a client that talks to older servers.
 *
 * Driving it: after every call, send what tls_session_pending_ciphertext() holds; when a call
 * answers TLS_WANT_IO, put more ciphertext from the network (or, if output was pending and is
 * now sent, simply call again), then repeat the call with the same arguments. */
#ifndef IMSRELAY_TLS_SESSION_H
#define IMSRELAY_TLS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/tls_credentials.h"
#include "tls/tls_trust.h"

/* Ciphertext buffered each way: one full TLS record and its header, with room to spare. */
#define TLS_SESSION_BUFFER_BYTES (18 * 1024)

enum tls_result {
    TLS_OK = 0,
    /* More ciphertext is needed, or pending ciphertext must be sent first. */
    TLS_WANT_IO = 1,
    /* The peer closed the session cleanly (close_notify). */
    TLS_CLOSED = 2,
    /* The session is over; tls_session_error() says why. */
    TLS_FAILED = -1,
};

struct tls_client_options {
    /* Sent as SNI and, when trust is given, the name the certificate must carry. */
    const char *host_name;
    /* NULL: the certificate is not verified (opportunistic TLS); otherwise the chain must end
     * in one of these and the certificate must be valid now and name host_name. */
    struct tls_trust *trust;
};

struct tls_session;

/* NULL with the reason in why. credentials (server) and options->trust (client) must outlive
 * the session; they may be shared by many sessions. */
struct tls_session *tls_session_new_server(struct tls_credentials *credentials, char *why,
                                           size_t why_size);
struct tls_session *tls_session_new_client(const struct tls_client_options *options, char *why,
                                           size_t why_size);
void tls_session_free(struct tls_session *session);

/* Ciphertext from the network: takes as much as fits, returns how much (0 when the buffer is
 * full: let the session consume some first). */
size_t tls_session_put_ciphertext(struct tls_session *session, const void *data, size_t len);

/* How many bytes tls_session_put_ciphertext() takes right now: the most worth reading from
 * the network for this session. */
size_t tls_session_ciphertext_room(const struct tls_session *session);

/* Ciphertext to send: *len bytes at the returned pointer, which stays valid (new output is
 * appended behind) until tls_session_ciphertext_sent() says how much of it went out. */
const uint8_t *tls_session_pending_ciphertext(const struct tls_session *session, size_t *len);
void tls_session_ciphertext_sent(struct tls_session *session, size_t len);

/* Runs the handshake as far as the ciphertext at hand allows: TLS_OK once done. */
enum tls_result tls_session_handshake(struct tls_session *session);

/* Plaintext out: up to cap bytes into buf, *got of them. TLS_OK with *got > 0, TLS_WANT_IO
 * when nothing is ready, TLS_CLOSED after the peer's close_notify. */
enum tls_result tls_session_read(struct tls_session *session, void *buf, size_t cap, size_t *got);

/* Plaintext in: *accepted bytes of len were encrypted into pending ciphertext. */
enum tls_result tls_session_write(struct tls_session *session, const void *data, size_t len,
                                  size_t *accepted);

/* Queues close_notify. TLS_OK once it is pending. */
enum tls_result tls_session_close(struct tls_session *session);

bool tls_session_handshake_done(const struct tls_session *session);

/* After the handshake: "TLSv1.2" and the IANA suite name, e.g.
 * "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"; "" before. */
const char *tls_session_protocol(const struct tls_session *session);
const char *tls_session_cipher(const struct tls_session *session);

/* Client: the server's certificate was verified (chain and name). */
bool tls_session_peer_verified(const struct tls_session *session);

/* Why the session failed, in words ("certificate not trusted: ...", "the peer offered only
 * protocol versions older than TLS 1.2", ...); "" while it has not. */
const char *tls_session_error(const struct tls_session *session);

#endif
