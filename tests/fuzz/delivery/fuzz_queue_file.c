/* The queue file envelope on random bytes: never reads past the prefix, and what it accepts
 * is what the bytes say: the addresses are bounded and printable, the message starts after
 * the last X-Receiver line, and a longer prefix of the same file gives the same answer. */
#include "queue_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX];
    for (size_t cut = 0; cut <= size; cut += size / 3 + 1) {
        queue_file_status st = queue_file_parse(copy, cut, false, &e, error, sizeof(error));
        if (st == QUEUE_FILE_OK) {
            queue_file_envelope whole;
            if (queue_file_parse(copy, size, true, &whole, error, sizeof(error)) != QUEUE_FILE_OK ||
                whole.message_offset != e.message_offset ||
                whole.recipient_count != e.recipient_count) {
                abort();
            }
            queue_file_envelope_free(&whole);
            queue_file_envelope_free(&e);
        }
    }
    queue_file_status st = queue_file_parse(copy, size, true, &e, error, sizeof(error));
    if (st == QUEUE_FILE_INCOMPLETE) {
        abort(); /* a whole file is never "read more" (out of memory aside) */
    }
    if (st == QUEUE_FILE_OK) {
        if (e.recipient_count == 0 || e.recipient_count > QUEUE_FILE_RECIPIENTS_MAX ||
            e.message_offset >= size || strlen(e.sender) > QUEUE_FILE_ADDRESS_MAX) {
            abort();
        }
        for (size_t i = 0; i < e.recipient_count; i++) {
            size_t n = strlen(e.recipients[i]);
            if (n == 0 || n > QUEUE_FILE_ADDRESS_MAX) {
                abort();
            }
            for (size_t k = 0; k < n; k++) {
                if (e.recipients[i][k] < 0x20 || e.recipients[i][k] > 0x7e) {
                    abort();
                }
            }
        }
        if (copy[e.message_offset - 1] != '\n' || copy[e.message_offset - 2] != '\r' ||
            memchr(copy, '\0', e.message_offset) != NULL) {
            abort();
        }
        queue_file_envelope_free(&e);
    } else if (strlen(error) == 0) {
        abort();
    }
    free(copy);
    return 0;
}
