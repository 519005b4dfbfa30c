/* The protocol log keeps every line, in order, although it writes them in batches: what was
 * logged is in the file after a flush (the service flushes every second) and after close,
 * and a burst larger than the batch loses nothing. */
#include <windows.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/protocol_log.h"

static char root[MAX_PATH];

static int setup(void **state)
{
    (void)state;
    char tmp[MAX_PATH];
    GetTempPathA(MAX_PATH, tmp);
    snprintf(root, sizeof(root), "%simsrelay-protolog-%lu", tmp, GetCurrentProcessId());
    return 0;
}

/* Today's log file, whole; *len its size. */
static char *read_log(size_t *len)
{
    SYSTEMTIME now;
    GetSystemTime(&now);
    char path[MAX_PATH + 64];
    snprintf(path, sizeof(path), "%s\\Logs\\smtp-%04u%02u%02u.log", root, now.wYear, now.wMonth,
             now.wDay);
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        return calloc(1, 1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    *len = fread(text, 1, (size_t)size, f);
    fclose(f);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void lines_are_in_the_file_after_flush_and_after_close(void **state)
{
    (void)state;
    protocol_log *log = protocol_log_open(root);
    assert_non_null(log);
    protocol_log_line(log, 0x2a, "127.0.0.5", '<', "EHLO client.example", 19);
    protocol_log_line(log, 0x2a, "127.0.0.5", '>', "250 mx\r\n\x01", 9);
    protocol_log_flush(log);
    size_t len;
    char *text = read_log(&len);
    assert_non_null(strstr(text, " 2a 127.0.0.5 < EHLO client.example\r\n"));
    assert_non_null(strstr(text, " 2a 127.0.0.5 > 250 mx\\x0D\\x0A\\x01\r\n"));
    assert_true(strstr(text, "< EHLO") < strstr(text, "> 250"));
    free(text);

    protocol_log_line(log, 0x2b, "127.0.0.6", '*', "closed", 6);
    protocol_log_close(log);
    text = read_log(&len);
    assert_int_equal(count(text, " 2b 127.0.0.6 * closed\r\n"), 1);
    assert_int_equal(count(text, "EHLO client.example"), 1); /* flushed once, written once */
    free(text);
}

static void a_burst_larger_than_the_batch_loses_nothing(void **state)
{
    (void)state;
    protocol_log *log = protocol_log_open(root);
    assert_non_null(log);
    char line[PROTOCOL_LOG_LINE_MAX];
    memset(line, 'x', sizeof(line));
    const int lines = 3 * PROTOCOL_LOG_BATCH_BYTES / PROTOCOL_LOG_LINE_MAX;
    for (int i = 0; i < lines; i++) {
        int n = snprintf(line, 32, "line %06d ", i);
        line[n] = 'x';
        protocol_log_line(log, 0x77, "127.0.0.7", '<', line, sizeof(line));
    }
    protocol_log_close(log);
    size_t len;
    char *text = read_log(&len);
    assert_int_equal(count(text, " 77 127.0.0.7 < line "), (size_t)lines);
    char first[32], last[32];
    snprintf(first, sizeof(first), "< line %06d ", 0);
    snprintf(last, sizeof(last), "< line %06d ", lines - 1);
    assert_non_null(strstr(text, first));
    assert_true(strstr(text, first) < strstr(text, last));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(lines_are_in_the_file_after_flush_and_after_close),
            cmocka_unit_test(a_burst_larger_than_the_batch_loses_nothing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
