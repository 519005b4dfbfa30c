/* Throughput of the SMTP engine alone (no sockets, no disk): message data streamed through
 * DATA, whole pipelined sessions, and the worst case of one byte per feed. `--tiny` runs
 * each once at a toy size so the build keeps it working; timing is printed, never asserted.
 * Usage: smtp_engine_bench [--tiny] */
#include "smtp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const local_domains[] = {"example.com"};
static uint64_t written;
static int committed;

static smtp_relay_verdict relay_check(void *ctx, const smtp_relay_query *q)
{
    (void)ctx;
    (void)q;
    return SMTP_RELAY_DENY;
}

static bool data_begin(void *ctx, const smtp_envelope *e)
{
    (void)ctx;
    (void)e;
    return true;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    (void)bytes;
    written += len;
    return true;
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    (void)ctx;
    committed += outcome == SMTP_DATA_COMMIT;
    return outcome == SMTP_DATA_COMMIT;
}

static double seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

static void feed_all(smtp_session *s, const char *bytes, size_t len)
{
    size_t used = 0;
    while (used < len) {
        used += smtp_session_feed(s, bytes + used, len - used);
        smtp_session_output_sent(s, smtp_session_output(s).length);
    }
}

int main(int argc, char **argv)
{
    bool tiny = argc > 1 && strcmp(argv[1], "--tiny") == 0;
    smtp_host host;
    memset(&host, 0, sizeof host);
    host.host_name = "mx.example.com";
    host.local_domains = local_domains;
    host.local_domain_count = 1;
    host.relay_check = relay_check;
    host.data_begin = data_begin;
    host.data_write = data_write;
    host.data_end = data_end;
    host.limits.max_message_bytes = UINT64_MAX;

    /* 1. DATA: 80-byte lines, one in ten dot-stuffed, fed 65520 bytes at a time. */
    size_t chunk = 80 * 819;
    int chunks = tiny ? 4 : 4096;
    char *lines = malloc(chunk);
    if (lines == NULL) {
        return 1;
    }
    for (size_t i = 0; i < chunk; i += 80) {
        memset(lines + i, 'x', 78);
        if ((i / 80) % 10 == 0) {
            lines[i] = '.';
        }
        lines[i + 78] = '\r';
        lines[i + 79] = '\n';
    }
    smtp_session *s = smtp_session_create(&host);
    if (s == NULL) {
        return 1;
    }
    static const char head[] =
            "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";
    feed_all(s, head, sizeof head - 1);
    double t0 = seconds();
    for (int i = 0; i < chunks; i++) {
        feed_all(s, lines, chunk);
    }
    feed_all(s, ".\r\n", 3);
    double t1 = seconds();
    smtp_session_destroy(s);
    double mb = (double)chunk * chunks / 1e6;
    printf("smtp engine, DATA stream      %8.0f MB      %8.0f MB/s\n", mb,
           mb / (t1 - t0 > 0 ? t1 - t0 : 1e-9));

    /* 2. Whole sessions, pipelined as RFC 2920 allows: EHLO, MAIL, 3 RCPT (one relay
     *    denied) and DATA in one piece, then a 2 KB message and QUIT in another. */
    char conv[4096];
    size_t n = (size_t)snprintf(conv, sizeof conv,
                                "EHLO client.example.net\r\nMAIL FROM:<a@b.org> SIZE=2000\r\n"
                                "RCPT TO:<bob@example.com>\r\nRCPT TO:<postmaster>\r\n"
                                "RCPT TO:<x@elsewhere.net>\r\nDATA\r\n");
    size_t commands = n;
    for (int i = 0; i < 25; i++) {
        memset(conv + n, 'y', 78);
        n += 78;
        conv[n++] = '\r';
        conv[n++] = '\n';
    }
    n += (size_t)snprintf(conv + n, sizeof conv - n, ".\r\nQUIT\r\n");
    int sessions = tiny ? 10 : 200000;
    t0 = seconds();
    for (int i = 0; i < sessions; i++) {
        smtp_session *x = smtp_session_create(&host);
        if (x == NULL) {
            return 1;
        }
        feed_all(x, conv, commands);
        feed_all(x, conv + commands, n - commands);
        smtp_session_destroy(x);
    }
    t1 = seconds();
    printf("smtp engine, whole sessions   %8d          %8.0f sessions/s  (%zu bytes each)\n",
           sessions, sessions / (t1 - t0 > 0 ? t1 - t0 : 1e-9), n);

    /* 3. The same session one byte per feed (a slow or hostile client). */
    int slow = tiny ? 2 : 20000;
    t0 = seconds();
    for (int i = 0; i < slow; i++) {
        smtp_session *x = smtp_session_create(&host);
        if (x == NULL) {
            return 1;
        }
        for (size_t k = 0; k < n; k++) {
            feed_all(x, conv + k, 1);
        }
        smtp_session_destroy(x);
    }
    t1 = seconds();
    printf("smtp engine, 1 byte per feed  %8d          %8.1f ns/byte\n", slow,
           (t1 - t0) / slow / (double)n * 1e9);
    printf("smtp engine, memory per session (default limits): %zu bytes\n",
           smtp_session_memory(&(smtp_limits){0}));
    free(lines);
    /* The work was real: every message was committed and every byte written. */
    return committed == 1 + sessions + slow && written > 0 ? 0 : 1;
}
