/* What a client sees through the session host, with no network: the relay rules in force
 * at each RCPT (a reload applies to a session already open), a denial naming the rule, and
 * an accepted message in Queue with its envelope. The configuration comes from the
 * registry, as in the service (this test runs in its own Wine prefix). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/runtime.h"
#include "events/denial_events.h"
#include "identity.h"
#include "net/session_host.h"
#include "store/spool.h"

typedef struct fixture {
    char root[MAX_PATH];
    runtime *rt;
    session_services services;
} fixture;

static void set_dword(HKEY key, const wchar_t *name, DWORD value)
{
    assert_int_equal(RegSetValueExW(key, name, 0, REG_DWORD, (const BYTE *)&value, sizeof(value)),
                     ERROR_SUCCESS);
}

/* One-line REG_MULTI_SZ (or REG_EXPAND_SZ when multi is false). */
static void set_text(HKEY key, const wchar_t *name, const char *text, bool multi)
{
    wchar_t wide[MAX_PATH + 2] = {0};
    MultiByteToWideChar(CP_UTF8, 0, text, -1, wide, MAX_PATH);
    DWORD bytes = (DWORD)((wcslen(wide) + (multi ? 2 : 1)) * sizeof(wchar_t));
    assert_int_equal(RegSetValueExW(key, name, 0, multi ? REG_MULTI_SZ : REG_EXPAND_SZ,
                                    (const BYTE *)wide, bytes),
                     ERROR_SUCCESS);
}

static HKEY parameters(void)
{
    HKEY key;
    assert_int_equal(RegCreateKeyExW(HKEY_LOCAL_MACHINE, IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY), 0,
                                     NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL),
                     ERROR_SUCCESS);
    return key;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char temp[MAX_PATH];
    GetTempPathA(MAX_PATH, temp);
    /* Wine reuses process ids: the tick count keeps a folder of an earlier run out. */
    snprintf(f->root, sizeof(f->root), "%simsrelay-session-host-%lu-%llu", temp,
             GetCurrentProcessId(), (unsigned long long)GetTickCount64());
    CreateDirectoryA(f->root, NULL);

    RegDeleteTreeW(HKEY_LOCAL_MACHINE, IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY));
    HKEY key = parameters();
    set_dword(key, L"RelayFlags", 2);
    set_text(key, L"RelayAllowList", "127.0.0.5", true);
    set_text(key, L"LocalDomains", "example.com", true);
    set_text(key, L"MailRoot", f->root, false);
    set_dword(key, L"ProtocolLog", 0);
    RegCloseKey(key);

    f->rt = runtime_create();
    assert_non_null(f->rt);
    assert_int_equal(runtime_start(f->rt), SVC_EXIT_OK);
    unsigned long error = 0;
    f->services.rt = f->rt;
    f->services.spool = spool_open(f->root, &error);
    assert_non_null(f->services.spool);
    f->services.denials = denial_events_create(10);
    assert_non_null(f->services.denials);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    denial_events_flush(f->services.denials);
    denial_events_destroy(f->services.denials);
    spool_close(f->services.spool);
    runtime_destroy(f->rt);
    RegDeleteTreeW(HKEY_LOCAL_MACHINE, IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY));
    free(f);
    return 0;
}

static struct sockaddr_storage ipv4(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    inet_pton(AF_INET, text, &in->sin_addr);
    return ss;
}

/* A client conversation: sends `lines` and returns every reply the engine wrote. */
typedef struct client {
    session_host host;
    smtp_session *engine;
    char replies[8192];
    size_t replies_len;
} client;

static void collect(client *c)
{
    for (;;) {
        smtp_output out = smtp_session_output(c->engine);
        if (out.length == 0) {
            return;
        }
        size_t room = sizeof(c->replies) - 1 - c->replies_len;
        size_t n = out.length < room ? out.length : room;
        memcpy(c->replies + c->replies_len, out.bytes, n);
        c->replies_len += n;
        c->replies[c->replies_len] = '\0';
        smtp_session_output_sent(c->engine, out.length);
    }
}

static void open_client(fixture *f, client *c, const char *from)
{
    memset(c, 0, sizeof(*c));
    struct sockaddr_storage peer = ipv4(from), local = ipv4("127.0.0.1");
    session_host_init(&c->host, &f->services, 1, &peer, &local, runtime_acquire(f->rt));
    assert_string_equal(c->host.client_text, from);
    smtp_host host = session_host_smtp(&c->host);
    c->engine = smtp_session_create(&host);
    assert_non_null(c->engine);
    collect(c);
}

static const char *say(client *c, const char *line)
{
    size_t before = c->replies_len;
    size_t len = strlen(line), used = 0;
    while (used < len) {
        used += smtp_session_feed(c->engine, line + used, len - used);
        collect(c);
    }
    return c->replies + before;
}

static void close_client(client *c)
{
    smtp_session_destroy(c->engine);
    session_host_finish(&c->host);
}

/* .eml files in Queue\<XX>\ (the spool's subfolders). */
static int count_queue(const fixture *f)
{
    char pattern[MAX_PATH * 2];
    snprintf(pattern, sizeof(pattern), "%s\\Queue\\*", f->root);
    WIN32_FIND_DATAA sub;
    HANDLE dirs = FindFirstFileA(pattern, &sub);
    if (dirs == INVALID_HANDLE_VALUE) {
        return 0;
    }
    int n = 0;
    do {
        if (!(sub.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || sub.cFileName[0] == '.') {
            continue;
        }
        snprintf(pattern, sizeof(pattern), "%s\\Queue\\%s\\*.eml", f->root, sub.cFileName);
        WIN32_FIND_DATAA found;
        HANDLE h = FindFirstFileA(pattern, &found);
        if (h == INVALID_HANDLE_VALUE) {
            continue;
        }
        do {
            n++;
        } while (FindNextFileA(h, &found));
        FindClose(h);
    } while (FindNextFileA(dirs, &sub));
    FindClose(dirs);
    return n;
}

static void allowed_client_relays_and_the_message_is_queued(void **state)
{
    fixture *f = *state;
    int queued_before = count_queue(f);
    client c;
    open_client(f, &c, "127.0.0.5");
    assert_non_null(strstr(c.replies, "220 "));
    say(&c, "EHLO client.test\r\n");
    assert_non_null(strstr(say(&c, "MAIL FROM:<a@client.test>\r\n"), "250 "));
    assert_non_null(strstr(say(&c, "RCPT TO:<b@remote.test>\r\n"), "250 "));
    assert_non_null(strstr(say(&c, "DATA\r\n"), "354 "));
    assert_non_null(strstr(say(&c, "Subject: hi\r\n\r\nbody\r\n.\r\n"), "250 "));
    close_client(&c);
    assert_int_equal(count_queue(f), queued_before + 1);
}

static void other_client_is_denied_with_the_rule_and_local_mail_still_accepted(void **state)
{
    fixture *f = *state;
    client c;
    open_client(f, &c, "127.0.0.9");
    say(&c, "EHLO other.test\r\n");
    say(&c, "MAIL FROM:<a@other.test>\r\n");
    const char *reply = say(&c, "RCPT TO:<b@remote.test>\r\n");
    assert_non_null(strstr(reply, "550 5.7.1"));
    assert_non_null(strstr(reply, "relaying prohibited"));
    assert_non_null(strstr(say(&c, "RCPT TO:<user@example.com>\r\n"), "250 "));
    close_client(&c);
}

static void a_reload_applies_to_a_session_already_open(void **state)
{
    fixture *f = *state;
    client c;
    open_client(f, &c, "127.0.0.9");
    say(&c, "EHLO other.test\r\n");
    say(&c, "MAIL FROM:<a@other.test>\r\n");
    assert_non_null(strstr(say(&c, "RCPT TO:<b@remote.test>\r\n"), "550 5.7.1"));

    HKEY key = parameters();
    set_text(key, L"RelayAllowList", "127.0.0.0/24", true);
    RegCloseKey(key);
    assert_int_equal(runtime_reload(f->rt, "test", false), RUNTIME_RELOADED);

    assert_non_null(strstr(say(&c, "RCPT TO:<c@remote.test>\r\n"), "250 "));
    close_client(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(allowed_client_relays_and_the_message_is_queued, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(
                    other_client_is_denied_with_the_rule_and_local_mail_still_accepted, setup,
                    teardown),
            cmocka_unit_test_setup_teardown(a_reload_applies_to_a_session_already_open, setup,
                                            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
