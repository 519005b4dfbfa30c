/* Journal replay on random bytes (first byte: recipient count): never reads past the
 * journal, counts every whole line as applied or skipped, keeps texts within bounds and
 * final outcomes final; and a record encoded from the same bytes always replays. */
#include "queue_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t recipients = (size_t)data[0] % 16 + 1;
    char *copy = malloc(size);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data + 1, size - 1);
    size_t len = size - 1;
    queue_state s;
    if (!queue_state_init(&s, recipients)) {
        abort();
    }
    if (!queue_state_replay(&s, copy, len)) {
        abort();
    }
    if (s.complete_size > len || s.records_applied + s.records_skipped != s.lines ||
        (s.complete_size > 0 && copy[s.complete_size - 1] != '\n') ||
        s.torn_tail != (s.complete_size != len)) {
        abort();
    }
    bool final[16];
    for (size_t i = 0; i < recipients; i++) {
        const queue_state_recipient *r = &s.recipients[i];
        if (strlen(r->last_reply) > QUEUE_STATE_REPLY_MAX ||
            strlen(r->remote_host) > QUEUE_STATE_HOST_MAX ||
            strlen(r->last_tls) > QUEUE_STATE_TLS_MAX || r->status > QUEUE_STATE_FAILED ||
            (r->status == QUEUE_STATE_PENDING) != (r->attempts == 0)) {
            abort();
        }
        final[i] = r->status == QUEUE_STATE_DONE || r->status == QUEUE_STATE_FAILED;
    }
    /* A record built from the input: replays as written, and never undoes a final state. */
    size_t idx[4];
    size_t n = 0;
    for (size_t i = 0; i < 4 && i + 1 < size; i++) {
        idx[n++] = data[i + 1] % recipients;
    }
    if (n > 0) {
        char text[64];
        size_t tl = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
        memcpy(text, copy, tl);
        text[tl] = '\0';
        queue_state_outcome o = {
                (queue_state_status)(data[0] % 3 + 1), size, size * 2, text, text, text};
        char record[1024];
        size_t rl = queue_state_encode_outcome(record, sizeof(record), idx, n, &o);
        size_t before = s.records_applied;
        /* After a torn tail the service truncates first; do the same. */
        queue_state fresh;
        if (rl == 0 || !queue_state_init(&fresh, recipients) ||
            !queue_state_replay(&fresh, record, rl) || fresh.records_applied != 1) {
            abort();
        }
        queue_state_free(&fresh);
        if (!queue_state_replay(&s, record, rl)) {
            abort();
        }
        if (!s.torn_tail && s.records_applied != before + 1) {
            abort();
        }
        for (size_t i = 0; i < recipients; i++) {
            if (final[i] && s.recipients[i].status != QUEUE_STATE_DONE &&
                s.recipients[i].status != QUEUE_STATE_FAILED) {
                abort();
            }
        }
    }
    queue_state_free(&s);
    free(copy);
    return 0;
}
