/* A TLS echo server for the end-to-end test: tls_session over a blocking Winsock socket on
 * 127.0.0.1, with a self-signed certificate made in LocalMachine\My and found again by its
 * host name. For each of SESSIONS connections: handshake, read one line, answer
 * "echo: LINE", close_notify; it prints what happened, one line per session, so the test can
 * check the server's side as well as the client's.
 *   usage: tls_echo_server PORT HOST SESSIONS
 * Prints the certificate (PEM) and "READY" once listening, "DONE" at the end. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "tls/tls_credentials.h"
#include "tls/tls_selfsigned.h"
#include "tls/tls_session.h"

/* Sends all pending ciphertext; how many bytes went out, or -1 when the socket failed. */
static long echo_flush(SOCKET sock, struct tls_session *session)
{
    long total = 0;
    for (;;) {
        size_t len = 0;
        const uint8_t *data = tls_session_pending_ciphertext(session, &len);
        if (len == 0) {
            return total;
        }
        int n = send(sock, (const char *)data, (int)len, 0);
        if (n <= 0) {
            return -1;
        }
        tls_session_ciphertext_sent(session, (size_t)n);
        total += n;
    }
}

/* Reads what the network has for the session (at most what it can take). */
static bool echo_receive(SOCKET sock, struct tls_session *session)
{
    char buf[4096];
    size_t room = tls_session_ciphertext_room(session);
    int want = (int)(room < sizeof buf ? room : sizeof buf);
    if (want == 0) {
        return true;
    }
    int n = recv(sock, buf, want, 0);
    if (n <= 0) {
        return false;
    }
    return tls_session_put_ciphertext(session, buf, (size_t)n) == (size_t)n;
}

/* After a call answered TLS_WANT_IO: send what is pending, or else wait for the network. */
static bool echo_io(SOCKET sock, struct tls_session *session)
{
    long sent = echo_flush(sock, session);
    if (sent < 0) {
        return false;
    }
    return sent > 0 || echo_receive(sock, session);
}

static void echo_session(SOCKET sock, struct tls_credentials *credentials, int number)
{
    char why[320];
    struct tls_session *session = tls_session_new_server(credentials, why, sizeof why);
    if (session == NULL) {
        printf("session %d: failed: %s\n", number, why);
        return;
    }
    enum tls_result rc;
    while ((rc = tls_session_handshake(session)) == TLS_WANT_IO) {
        if (!echo_io(sock, session)) {
            break;
        }
    }
    echo_flush(sock, session); /* a failure's alert goes out too */
    if (rc != TLS_OK) {
        printf("session %d: failed: %s\n", number,
               rc == TLS_FAILED ? tls_session_error(session) : "connection lost in handshake");
        tls_session_free(session);
        return;
    }

    char line[512];
    size_t len = 0;
    bool complete = false;
    while (!complete && len < sizeof line - 1) {
        size_t got = 0;
        rc = tls_session_read(session, line + len, sizeof line - 1 - len, &got);
        if (rc == TLS_OK) {
            len += got;
            complete = memchr(line, '\n', len) != NULL;
        } else if (rc != TLS_WANT_IO || !echo_io(sock, session)) {
            break;
        }
    }
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';

    char reply[600];
    int reply_len = snprintf(reply, sizeof reply, "echo: %s\r\n", line);
    size_t written = 0;
    while (written < (size_t)reply_len) {
        size_t accepted = 0;
        rc = tls_session_write(session, reply + written, (size_t)reply_len - written, &accepted);
        written += accepted;
        if (rc == TLS_FAILED || (rc == TLS_WANT_IO && !echo_io(sock, session))) {
            break;
        }
    }
    while ((rc = tls_session_close(session)) == TLS_WANT_IO && echo_flush(sock, session) > 0) {
    }
    echo_flush(sock, session);
    printf("session %d: ok %s %s line=\"%s\"\n", number, tls_session_protocol(session),
           tls_session_cipher(session), line);
    tls_session_free(session);
}

static void echo_print_pem(struct tls_credentials *credentials)
{
    size_t der_len = 0;
    const unsigned char *der = tls_credentials_certificate_der(credentials, &der_len);
    static unsigned char b64[8192];
    size_t b64_len = 0;
    if (mbedtls_base64_encode(b64, sizeof b64, &b64_len, der, der_len) != 0) {
        return;
    }
    printf("-----BEGIN CERTIFICATE-----\n");
    for (size_t i = 0; i < b64_len; i += 64) {
        printf("%.*s\n", (int)(b64_len - i < 64 ? b64_len - i : 64), b64 + i);
    }
    printf("-----END CERTIFICATE-----\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tls_echo_server PORT HOST SESSIONS\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int port = atoi(argv[1]);
    const char *host = argv[2];
    int sessions = atoi(argv[3]);

    char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT];
    char why[512];
    if (!tls_selfsigned_create(host, thumbprint, why, sizeof why)) {
        printf("self-signed certificate: %s\n", why);
        return 1;
    }
    /* Found again the way TlsCertificate=HOST will find it. */
    struct tls_credentials *credentials = tls_credentials_from_store(host, why, sizeof why);
    if (credentials == NULL) {
        printf("credentials: %s\n", why);
        tls_selfsigned_delete(thumbprint, why, sizeof why);
        return 1;
    }
    printf("serving: %s\n", tls_credentials_describe(credentials));
    echo_print_pem(credentials);

    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((u_short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4) != 0) {
        printf("cannot listen on 127.0.0.1:%d (%d)\n", port, WSAGetLastError());
        return 1;
    }
    printf("READY\n");
    for (int i = 1; i <= sessions; i++) {
        SOCKET client = accept(listener, NULL, NULL);
        if (client == INVALID_SOCKET) {
            break;
        }
        DWORD timeout_ms = 15000;
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout_ms, sizeof timeout_ms);
        echo_session(client, credentials, i);
        shutdown(client, SD_SEND);
        closesocket(client);
    }
    closesocket(listener);
    tls_credentials_free(credentials);
    tls_selfsigned_delete(thumbprint, why, sizeof why);
    printf("DONE\n");
    return 0;
}
