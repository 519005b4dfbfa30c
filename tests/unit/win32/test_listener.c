/* The listening sockets: which addresses ListenAddresses opens (blank and comment lines
 * skipped, brackets allowed), what makes the service stop (a taken port, a bad address,
 * nothing to listen on), and what the session layer receives for each connection: the
 * client's and the local address, exactly (RelayLocalIPList depends on the local one). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/listener.h"

static uint16_t port_of(const listener *l, const char *address)
{
    const char *at = strstr(listener_describe(l), address);
    assert_non_null(at);
    at = strchr(at + strlen(address), ':');
    assert_non_null(at);
    return (uint16_t)atoi(at + 1);
}

static int start_winsock(void **state)
{
    (void)state;
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa);
}

static int stop_winsock(void **state)
{
    (void)state;
    WSACleanup();
    return 0;
}

static void skips_blank_and_comment_lines(void **state)
{
    (void)state;
    const char *lines[] = {"", "  # the inside interface", " 127.0.0.1 ", "\t"};
    enum svc_exit exit = SVC_EXIT_SYSTEM;
    listener *l = listener_open(lines, 4, 0, &exit);
    assert_non_null(l);
    assert_int_equal(exit, SVC_EXIT_OK);
    assert_non_null(strstr(listener_describe(l), "127.0.0.1:"));
    assert_null(strchr(listener_describe(l), ','));
    listener_close(l);
}

static void accepts_bracketed_ipv6(void **state)
{
    (void)state;
    const char *lines[] = {"[::]"};
    enum svc_exit exit;
    listener *l = listener_open(lines, 1, 0, &exit);
    if (!l) {
        skip(); /* a host without IPv6 */
    }
    assert_non_null(strstr(listener_describe(l), "[::]:"));
    listener_close(l);
}

static void bad_address_stops_the_service(void **state)
{
    (void)state;
    const char *lines[] = {"127.0.0.1", "mail.example.com"};
    enum svc_exit exit = SVC_EXIT_OK;
    assert_null(listener_open(lines, 2, 0, &exit));
    assert_int_equal(exit, SVC_EXIT_LISTEN_FAILED);
}

static void every_address_when_absent(void **state)
{
    (void)state;
    enum svc_exit exit;
    listener *l = listener_open(NULL, 0, 0, &exit);
    assert_non_null(l);
    assert_non_null(strstr(listener_describe(l), "0.0.0.0:"));
    listener_close(l);
}

static void only_comments_is_no_listener(void **state)
{
    (void)state;
    const char *lines[] = {"# nothing", ""};
    enum svc_exit exit = SVC_EXIT_OK;
    assert_null(listener_open(lines, 2, 0, &exit));
    assert_int_equal(exit, SVC_EXIT_NO_LISTENER);
}

static void taken_port_stops_the_service(void **state)
{
    (void)state;
    const char *lines[] = {"127.0.0.1"};
    enum svc_exit exit;
    listener *first = listener_open(lines, 1, 0, &exit);
    assert_non_null(first);
    uint16_t port = port_of(first, "127.0.0.1");
    exit = SVC_EXIT_OK;
    assert_null(listener_open(lines, 1, port, &exit));
    assert_int_equal(exit, SVC_EXIT_LISTEN_FAILED);
    listener_close(first);
}

typedef struct accepted {
    volatile LONG count;
    char peer[64];
    char local[64];
    int sent;
} accepted;

static void describe(const struct sockaddr_storage *a, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    getnameinfo((const struct sockaddr *)a, sizeof(*a), host, sizeof(host), NULL, 0,
                NI_NUMERICHOST);
    snprintf(out, size, "%s", host);
}

static void on_accept(void *ctx, SOCKET s, const struct sockaddr_storage *peer,
                      const struct sockaddr_storage *local)
{
    accepted *a = ctx;
    describe(peer, a->peer, sizeof(a->peer));
    describe(local, a->local, sizeof(a->local));
    /* A blocking socket the session layer can use as it is. */
    a->sent = send(s, "220 hello\r\n", 11, 0);
    closesocket(s);
    InterlockedIncrement(&a->count);
}

static bool wait_count(accepted *a, LONG n)
{
    for (int i = 0; i < 1000 && a->count < n; i++) {
        Sleep(10);
    }
    return a->count >= n;
}

/* The session layer's side: a thread that takes the completions of the port and gives the
 * listener's to it, until told to stop. */
typedef struct completion_pump {
    HANDLE port;
    HANDLE thread;
} completion_pump;

static DWORD WINAPI pump_main(void *param)
{
    completion_pump *p = param;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(p->port, &bytes, &key, &overlapped, INFINITE);
        if (!overlapped) {
            return 0;
        }
        assert_int_equal(key, LISTENER_COMPLETION_KEY);
        listener_completed(overlapped, ok ? 0 : GetLastError());
    }
}

static void pump_start(completion_pump *p)
{
    p->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(p->port);
    p->thread = CreateThread(NULL, 0, pump_main, p, 0, NULL);
    assert_non_null(p->thread);
}

static void pump_stop(completion_pump *p)
{
    PostQueuedCompletionStatus(p->port, 0, 0, NULL);
    assert_int_equal(WaitForSingleObject(p->thread, 10000), WAIT_OBJECT_0);
    CloseHandle(p->thread);
    CloseHandle(p->port);
}

static SOCKET connect_from(const char *client, const char *server, uint16_t port)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(s != INVALID_SOCKET);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, client, &from.sin_addr);
    assert_int_equal(bind(s, (struct sockaddr *)&from, sizeof(from)), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, server, &to.sin_addr);
    if (connect(s, (struct sockaddr *)&to, sizeof(to)) != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

static void hands_each_connection_over_with_both_addresses(void **state)
{
    (void)state;
    const char *lines[] = {"0.0.0.0"};
    enum svc_exit exit;
    listener *l = listener_open(lines, 1, 0, &exit);
    assert_non_null(l);
    uint16_t port = port_of(l, "0.0.0.0");
    accepted a = {0};
    completion_pump pump;
    pump_start(&pump);
    listener_handler handler = {on_accept, NULL, &a, pump.port};
    assert_true(listener_start(l, &handler));

    SOCKET c = connect_from("127.0.0.5", "127.0.0.3", port);
    assert_true(c != INVALID_SOCKET);
    assert_true(wait_count(&a, 1));
    assert_string_equal(a.peer, "127.0.0.5");
    assert_string_equal(a.local, "127.0.0.3");
    assert_int_equal(a.sent, 11);
    char greeting[16] = {0};
    assert_int_equal(recv(c, greeting, sizeof(greeting) - 1, 0), 11);
    assert_string_equal(greeting, "220 hello\r\n");
    closesocket(c);

    /* More at once than there are accepts posted: those waiting in the backlog are taken
     * as the accepts are posted again, each handed over. */
    SOCKET many[100];
    for (int i = 0; i < 100; i++) {
        many[i] = connect_from("127.0.0.6", "127.0.0.1", port);
        assert_true(many[i] != INVALID_SOCKET);
    }
    assert_true(wait_count(&a, 101));
    for (int i = 0; i < 100; i++) {
        closesocket(many[i]);
    }

    listener_close(l);
    c = connect_from("127.0.0.5", "127.0.0.1", port);
    assert_true(c == INVALID_SOCKET);
    assert_int_equal(a.count, 101);
    pump_stop(&pump);
}

/* Stopping with every accept still posted: each is cancelled and its completion taken
 * before listener_close returns (the memory it names is freed then). */
static void close_cancels_the_posted_accepts(void **state)
{
    (void)state;
    const char *lines[] = {"127.0.0.1"};
    enum svc_exit exit;
    completion_pump pump;
    pump_start(&pump);
    accepted a = {0};
    listener_handler handler = {on_accept, NULL, &a, pump.port};
    for (int round = 0; round < 3; round++) {
        listener *l = listener_open(lines, 1, 0, &exit);
        assert_non_null(l);
        uint16_t port = port_of(l, "127.0.0.1");
        assert_true(listener_start(l, &handler));
        listener_close(l);
        SOCKET c = connect_from("127.0.0.5", "127.0.0.1", port);
        assert_true(c == INVALID_SOCKET);
    }
    assert_int_equal(a.count, 0);
    pump_stop(&pump);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(skips_blank_and_comment_lines),
            cmocka_unit_test(accepts_bracketed_ipv6),
            cmocka_unit_test(bad_address_stops_the_service),
            cmocka_unit_test(every_address_when_absent),
            cmocka_unit_test(only_comments_is_no_listener),
            cmocka_unit_test(taken_port_stops_the_service),
            cmocka_unit_test(hands_each_connection_over_with_both_addresses),
            cmocka_unit_test(close_cancels_the_posted_accepts),
    };
    return cmocka_run_group_tests(tests, start_winsock, stop_winsock);
}
