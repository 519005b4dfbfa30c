/* The spool keeps every acknowledged message: whole, in the right folder, with its
 * envelope, and never half-written where a reader could see it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/queue_path.h"
#include "store/spool.h"

static char root[MAX_PATH];

/* Files matching pattern in root\folder and in its subfolders (Queue\<XX>\); the path of
 * the first into first_path when given. */
static int find_files(const char *folder, const char *pattern, char *first_path, size_t size)
{
    char dir[MAX_PATH * 2], path[MAX_PATH * 2];
    snprintf(dir, sizeof(dir), "%s\\%s", root, folder);
    int n = 0;
    snprintf(path, sizeof(path), "%s\\%s", dir, pattern);
    WIN32_FIND_DATAA found;
    HANDLE h = FindFirstFileA(path, &found);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (n++ == 0 && first_path) {
                snprintf(first_path, size, "%s\\%s", dir, found.cFileName);
            }
        } while (FindNextFileA(h, &found));
        FindClose(h);
    }
    snprintf(path, sizeof(path), "%s\\*", dir);
    h = FindFirstFileA(path, &found);
    if (h == INVALID_HANDLE_VALUE) {
        return n;
    }
    do {
        if (!(found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || found.cFileName[0] == '.') {
            continue;
        }
        char sub[MAX_PATH * 2];
        snprintf(sub, sizeof(sub), "%s\\%s\\%s", dir, found.cFileName, pattern);
        WIN32_FIND_DATAA inner;
        HANDLE hi = FindFirstFileA(sub, &inner);
        if (hi == INVALID_HANDLE_VALUE) {
            continue;
        }
        do {
            if (n++ == 0 && first_path) {
                snprintf(first_path, size, "%s\\%s\\%s", dir, found.cFileName, inner.cFileName);
            }
        } while (FindNextFileA(hi, &inner));
        FindClose(hi);
    } while (FindNextFileA(h, &found));
    FindClose(h);
    return n;
}

static int count_files(const char *folder, const char *pattern)
{
    return find_files(folder, pattern, NULL, 0);
}

/* Reads the only .eml file of a folder (or of its subfolders) into a NUL-terminated buffer. */
static char *read_only_file(const char *folder)
{
    char path[MAX_PATH * 2];
    assert_int_equal(find_files(folder, "*.eml", path, sizeof(path)), 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void remove_tree(const char *dir)
{
    char cmd[MAX_PATH * 2];
    snprintf(cmd, sizeof(cmd), "%s\\*", dir);
    WIN32_FIND_DATAA found;
    HANDLE h = FindFirstFileA(cmd, &found);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (!strcmp(found.cFileName, ".") || !strcmp(found.cFileName, "..")) {
                continue;
            }
            char path[MAX_PATH * 2];
            snprintf(path, sizeof(path), "%s\\%s", dir, found.cFileName);
            if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
                remove_tree(path);
            } else {
                DeleteFileA(path);
            }
        } while (FindNextFileA(h, &found));
        FindClose(h);
    }
    RemoveDirectoryA(dir);
}

static int setup(void **state)
{
    (void)state;
    char tmp[MAX_PATH];
    GetTempPathA(sizeof(tmp), tmp);
    snprintf(root, sizeof(root), "%simsrelay-spool-%lu-%lu", tmp,
             (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(root);
    return 0;
}

static const spool_recipient mixed[] = {
        {"alice@example.com", true},
        {"bob@elsewhere.test", false},
        {"carol@far.test", false},
};

static spool_envelope envelope(const spool_recipient *r, size_t n)
{
    spool_envelope e = {
            .server_host = "mx.example.com",
            .helo = "client.test",
            .client_ip = "127.0.0.9",
            .client_host = NULL,
            .auth_account = NULL,
            .esmtp = true,
            .mail_from = "sender@client.test",
            .recipients = r,
            .recipient_count = n,
    };
    return e;
}

static void mixed_recipients_split_into_drop_and_queue(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    spool_envelope e = envelope(mixed, 3);
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    const char body[] = "Subject: hi\r\n\r\nhello\r\n";
    assert_true(spool_write(m, body, sizeof(body) - 1));
    /* Nothing is visible before the commit. */
    assert_int_equal(count_files("Drop", "*.eml"), 0);
    assert_int_equal(count_files("Queue", "*.eml"), 0);
    assert_true(spool_commit(m, &err));
    assert_int_equal(count_files("Drop", "*.eml"), 1);
    assert_int_equal(count_files("Queue", "*.eml"), 1);
    assert_int_equal(count_files("Tmp", "*"), 2); /* only . and .. */

    char *drop = read_only_file("Drop");
    assert_non_null(strstr(drop, "X-Sender: <sender@client.test>\r\n"));
    assert_non_null(strstr(drop, "X-Receiver: <alice@example.com>\r\n"));
    assert_null(strstr(drop, "bob@elsewhere.test"));
    assert_non_null(strstr(drop, "\r\n\tfor <alice@example.com>;"));
    assert_non_null(strstr(drop, "Received: from client.test ([127.0.0.9])\r\n"));
    assert_non_null(strstr(drop, "with ESMTP id "));
    size_t len = strlen(drop);
    assert_true(len > sizeof(body));
    assert_string_equal(drop + len - (sizeof(body) - 1), body);
    free(drop);

    char *queue = read_only_file("Queue");
    assert_non_null(strstr(queue, "X-Receiver: <bob@elsewhere.test>\r\n"));
    assert_non_null(strstr(queue, "X-Receiver: <carol@far.test>\r\n"));
    assert_null(strstr(queue, "alice@example.com"));
    /* Several recipients: none is named in Received (Bcc stays private). */
    assert_null(strstr(queue, "\tfor <"));
    free(queue);
    spool_close(s);
}

static void aborted_message_leaves_nothing(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    spool_envelope e = envelope(mixed, 3);
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    assert_true(spool_write(m, "x", 1));
    spool_abort(m);
    assert_int_equal(count_files("Drop", "*.eml"), 0);
    assert_int_equal(count_files("Queue", "*.eml"), 0);
    assert_int_equal(count_files("Tmp", "*.tmp"), 0);
    spool_close(s);
}

static void large_message_is_kept_byte_for_byte(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    spool_envelope e = envelope(mixed + 1, 1);
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    /* 300 KiB in uneven chunks crosses the write buffer several times. */
    static char chunk[7777];
    for (size_t i = 0; i < sizeof(chunk); i++) {
        chunk[i] = (char)('a' + i % 26);
    }
    size_t total = 0;
    while (total < 300 * 1024) {
        assert_true(spool_write(m, chunk, sizeof(chunk)));
        total += sizeof(chunk);
    }
    assert_true(spool_commit(m, &err));
    char *queue = read_only_file("Queue");
    char *body = strstr(queue, "+0000\r\n");
    assert_non_null(body);
    body += 7;
    assert_int_equal(strlen(body), total);
    for (size_t i = 0; i < total; i++) {
        if (body[i] != chunk[i % sizeof(chunk)]) {
            fail_msg("byte %zu differs", i);
        }
    }
    free(queue);
    spool_close(s);
}

static void client_text_cannot_inject_header_lines(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    spool_recipient r[] = {{"x@example.com", true}};
    spool_envelope e = envelope(r, 1);
    e.helo = "evil\r\nX-Injected: yes";
    e.auth_account = "alice";
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    assert_true(spool_commit(m, &err));
    char *drop = read_only_file("Drop");
    assert_null(strstr(drop, "\r\nX-Injected"));
    assert_non_null(strstr(drop, "from evil??X-Injected: yes"));
    assert_non_null(strstr(drop, "with ESMTPA id "));
    free(drop);
    spool_close(s);
}

static void stale_temporary_files_are_removed_at_open(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    spool_envelope e = envelope(mixed, 3);
    /* A message "in flight" when the service died: never acknowledged. */
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    assert_true(spool_write(m, "half", 4));
    assert_int_equal(count_files("Tmp", "*.tmp"), 2);
    spool *again = spool_open(root, &err);
    assert_non_null(again);
    spool_close(again);
    spool_abort(m);
    assert_int_equal(count_files("Tmp", "*.tmp"), 0);
    assert_int_equal(count_files("Drop", "*.eml"), 0);
    spool_close(s);
}

static void unusable_mail_root_is_reported(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open("Q:\\no\\such\\drive\\imsrelay", &err);
    assert_null(s);
    assert_int_not_equal(err, 0);
}

typedef struct hook_calls {
    int count;
    char last_id[64];
} hook_calls;

static void record_hook(void *ctx, const char *id)
{
    hook_calls *calls = ctx;
    calls->count++;
    snprintf(calls->last_id, sizeof(calls->last_id), "%s", id);
}

/* A relayed message lands in Queue\<XX>\ (queue_path), a subfolder made on first use, and
 * the queue manager's hook hears its id; a message for local recipients only is not its
 * business, and a removed hook hears nothing. */
static void queued_message_goes_to_its_subfolder_and_is_announced(void **state)
{
    (void)state;
    unsigned long err = 0;
    spool *s = spool_open(root, &err);
    assert_non_null(s);
    hook_calls calls = {0};
    spool_set_queued_hook(s, record_hook, &calls);

    spool_envelope e = envelope(mixed + 1, 1);
    spool_message *m = spool_begin(s, &e, &err);
    assert_non_null(m);
    char id[64];
    snprintf(id, sizeof(id), "%s", spool_message_id(m));
    assert_true(spool_write(m, "x\r\n", 3));
    assert_int_equal(calls.count, 0);
    assert_true(spool_commit(m, &err));
    assert_int_equal(calls.count, 1);
    assert_string_equal(calls.last_id, id);
    wchar_t sub[QUEUE_PATH_SUBDIR_LEN + 1];
    queue_path_subdir(id, sub);
    char path[MAX_PATH * 2];
    snprintf(path, sizeof(path), "%s\\Queue\\%ls\\%s.eml", root, sub, id);
    assert_int_not_equal(GetFileAttributesA(path), INVALID_FILE_ATTRIBUTES);
    assert_int_equal(count_files("Queue", "*.eml"), 1);

    e = envelope(mixed, 1); /* alice: local only */
    m = spool_begin(s, &e, &err);
    assert_non_null(m);
    assert_true(spool_commit(m, &err));
    assert_int_equal(calls.count, 1);
    assert_int_equal(count_files("Drop", "*.eml"), 1);

    spool_set_queued_hook(s, NULL, NULL);
    e = envelope(mixed + 2, 1);
    m = spool_begin(s, &e, &err);
    assert_non_null(m);
    assert_true(spool_commit(m, &err));
    assert_int_equal(calls.count, 1);
    assert_int_equal(count_files("Queue", "*.eml"), 2);
    spool_close(s);
}

/* The subfolder names spread ids evenly: thousands of the spool's ids fill all 256, none
 * with more than twice its share. */
static void subfolders_spread_ids_evenly(void **state)
{
    (void)state;
    static int counts[256];
    memset(counts, 0, sizeof(counts));
    for (unsigned i = 0; i < 25600; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%016llX.%08lX.%08lX", 0x1DB62C4A0000000ULL + i * 37ULL,
                 (unsigned long)4242, (unsigned long)i);
        wchar_t sub[QUEUE_PATH_SUBDIR_LEN + 1];
        queue_path_subdir(id, sub);
        assert_true(queue_path_is_subdir(sub));
        counts[wcstoul(sub, NULL, 16)]++;
    }
    for (int i = 0; i < 256; i++) {
        assert_true(counts[i] > 0);
        assert_true(counts[i] < 200);
    }
    assert_true(queue_path_is_subdir(L"0a"));
    assert_false(queue_path_is_subdir(L"0G"));
    assert_false(queue_path_is_subdir(L"ABC"));
    assert_false(queue_path_is_subdir(L"A"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(mixed_recipients_split_into_drop_and_queue, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(aborted_message_leaves_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(large_message_is_kept_byte_for_byte, setup, teardown),
            cmocka_unit_test_setup_teardown(client_text_cannot_inject_header_lines, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(stale_temporary_files_are_removed_at_open, setup,
                                            teardown),
            cmocka_unit_test(unusable_mail_root_is_reported),
            cmocka_unit_test_setup_teardown(queued_message_goes_to_its_subfolder_and_is_announced,
                                            setup, teardown),
            cmocka_unit_test(subfolders_spread_ids_evenly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
