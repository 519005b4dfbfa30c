/* A queued message as the queue manager reads it: found in its subfolder Queue\<XX>\ or,
 * as an older version left it, directly in Queue\; its journal beside it; a file that does
 * not parse is reported malformed and holds nothing afterwards; and an entry keeps one
 * short path, not two buffers of QUEUE_ENTRY_PATH_MAX, so a queue of tens of thousands
 * stays small in memory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/queue_entry.h"
#include "store/queue_path.h"

static wchar_t queue_dir[MAX_PATH];

static const char message[] = "X-Sender: <alice@example.com>\r\n"
                              "X-Receiver: <bob@far.test>\r\n"
                              "X-Receiver: <carol@far.test>\r\n"
                              "Subject: hello\r\n\r\nbody\r\n";

static void write_file(const wchar_t *path, const char *text)
{
    HANDLE h =
            CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    assert_true(h != INVALID_HANDLE_VALUE);
    DWORD wrote = 0;
    assert_true(WriteFile(h, text, (DWORD)strlen(text), &wrote, NULL));
    CloseHandle(h);
}

static bool exists(const wchar_t *path)
{
    return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

/* Writes <folder>\<id>.eml; folder is Queue\ or id's subfolder. */
static void queue_file(const char *id, bool in_subfolder, const char *text, wchar_t *folder)
{
    if (in_subfolder) {
        assert_true(queue_path_folder(folder, MAX_PATH, queue_dir, id));
        CreateDirectoryW(folder, NULL);
    } else {
        wcscpy(folder, queue_dir);
    }
    wchar_t path[MAX_PATH];
    _snwprintf(path, MAX_PATH, L"%ls\\%hs.eml", folder, id);
    path[MAX_PATH - 1] = 0;
    write_file(path, text);
}

static void remove_tree(const wchar_t *dir)
{
    wchar_t pattern[MAX_PATH];
    _snwprintf(pattern, MAX_PATH, L"%ls\\*", dir);
    pattern[MAX_PATH - 1] = 0;
    WIN32_FIND_DATAW found;
    HANDLE h = FindFirstFileW(pattern, &found);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (!wcscmp(found.cFileName, L".") || !wcscmp(found.cFileName, L"..")) {
                continue;
            }
            wchar_t path[MAX_PATH];
            _snwprintf(path, MAX_PATH, L"%ls\\%ls", dir, found.cFileName);
            path[MAX_PATH - 1] = 0;
            if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
                remove_tree(path);
            } else {
                DeleteFileW(path);
            }
        } while (FindNextFileW(h, &found));
        FindClose(h);
    }
    RemoveDirectoryW(dir);
}

static int setup(void **state)
{
    (void)state;
    wchar_t tmp[MAX_PATH];
    GetTempPathW(MAX_PATH, tmp);
    _snwprintf(queue_dir, MAX_PATH, L"%lsimsrelay-queue-entry-%lu-%lu", tmp,
               (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount());
    queue_dir[MAX_PATH - 1] = 0;
    assert_true(CreateDirectoryW(queue_dir, NULL));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(queue_dir);
    return 0;
}

/* The entry's message file is <folder>\<id>.eml. */
static void assert_message_in(const queue_entry *e, const wchar_t *folder, const char *id)
{
    wchar_t eml[QUEUE_ENTRY_PATH_MAX], expected[MAX_PATH];
    assert_true(queue_entry_path(e, L".eml", eml));
    _snwprintf(expected, MAX_PATH, L"%ls\\%hs.eml", folder, id);
    expected[MAX_PATH - 1] = 0;
    assert_true(wcscmp(eml, expected) == 0);
}

/* queue_entry_folder_of finds <id>.eml in folder. */
static void assert_found_in(const char *id, const wchar_t *folder)
{
    wchar_t found[QUEUE_ENTRY_PATH_MAX];
    assert_true(queue_entry_folder_of(queue_dir, id, found));
    assert_true(wcscmp(found, folder) == 0);
}

static void loads_from_its_subfolder_with_the_journal_beside_it(void **state)
{
    (void)state;
    const char *id = "0000000000000001.00000001.00000001";
    wchar_t folder[MAX_PATH];
    queue_file(id, true, message, folder);
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    assert_int_equal(queue_entry_load(queue_dir, id, true, &e, reason, sizeof(reason)),
                     QUEUE_ENTRY_OK);
    assert_string_equal(e.id, id);
    assert_int_equal(e.envelope.recipient_count, 2);
    assert_string_equal(e.envelope.recipients[1], "carol@far.test");

    assert_message_in(&e, folder, id);
    wchar_t eml[QUEUE_ENTRY_PATH_MAX], state_path[QUEUE_ENTRY_PATH_MAX];
    assert_true(queue_entry_path(&e, L".eml", eml));
    assert_true(queue_entry_path(&e, L".state", state_path));
    assert_true(exists(state_path)); /* the Q record was written beside the message */
    assert_found_in(id, folder);

    assert_true(queue_entry_remove(&e));
    assert_false(exists(eml));
    assert_false(exists(state_path));
    queue_entry_free(&e);
    assert_null(e.base_path);
}

static void a_file_of_the_flat_layout_is_found_in_queue_itself(void **state)
{
    (void)state;
    const char *id = "0000000000000001.00000001.00000002";
    wchar_t folder[MAX_PATH];
    queue_file(id, false, message, folder);
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    assert_int_equal(queue_entry_load(queue_dir, id, false, &e, reason, sizeof(reason)),
                     QUEUE_ENTRY_OK);
    assert_message_in(&e, queue_dir, id);
    assert_found_in(id, queue_dir);
    queue_entry_free(&e);
}

static void a_file_that_does_not_parse_is_malformed_and_holds_nothing(void **state)
{
    (void)state;
    const char *id = "0000000000000001.00000001.00000003";
    wchar_t folder[MAX_PATH];
    queue_file(id, true, "no envelope here\r\n\r\nbody\r\n", folder);
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    assert_int_equal(queue_entry_load(queue_dir, id, true, &e, reason, sizeof(reason)),
                     QUEUE_ENTRY_MALFORMED);
    assert_true(reason[0] != '\0');
    assert_null(e.base_path);    /* nothing to free: the queue manager frees only the struct */
    assert_found_in(id, folder); /* where Badmail takes it from */
}

static void a_missing_message_is_gone(void **state)
{
    (void)state;
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    assert_int_equal(queue_entry_load(queue_dir, "0000000000000009.00000001.00000001", true, &e,
                                      reason, sizeof(reason)),
                     QUEUE_ENTRY_GONE);
    assert_null(e.base_path);
    assert_int_equal(queue_entry_load(queue_dir, "..\\escape", true, &e, reason, sizeof(reason)),
                     QUEUE_ENTRY_GONE);
}

/* The entry that a queue of 50,000 keeps in memory per message. */
static void an_entry_keeps_one_short_path(void **state)
{
    (void)state;
    assert_true(sizeof(queue_entry) < 1024);
    const char *id = "0000000000000001.00000001.00000004";
    wchar_t folder[MAX_PATH];
    queue_file(id, true, message, folder);
    queue_entry e;
    char reason[QUEUE_ENTRY_REASON_MAX];
    assert_int_equal(queue_entry_load(queue_dir, id, true, &e, reason, sizeof(reason)),
                     QUEUE_ENTRY_OK);
    assert_int_equal(wcslen(e.base_path), wcslen(folder) + 1 + strlen(id));
    queue_entry_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(loads_from_its_subfolder_with_the_journal_beside_it,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(a_file_of_the_flat_layout_is_found_in_queue_itself,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(
                    a_file_that_does_not_parse_is_malformed_and_holds_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(a_missing_message_is_gone, setup, teardown),
            cmocka_unit_test_setup_teardown(an_entry_keeps_one_short_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
