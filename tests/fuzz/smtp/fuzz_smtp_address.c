/* The path parser and classifier on random bytes: never reads out of bounds, and whatever
 * it accepts is bounded, printable, and parses again to the same classification. */
#include "smtp_address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const local_domains[] = {"example.com", "[192.0.2.1]", "Local."};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned flags = data[0] & 3;
    /* A private copy, so reading one byte past the input is caught. */
    char *text = malloc(size - 1 + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    smtp_path p;
    size_t used = 0;
    smtp_path_status st = smtp_path_parse(text, size - 1, flags, &p, &used);
    if (st == SMTP_PATH_OK) {
        if (used > size - 1 || used > SMTP_PATH_MAX || p.length != strlen(p.mailbox) ||
            p.length > SMTP_PATH_MAX || p.domain_offset > p.length) {
            abort();
        }
        for (size_t i = 0; i < p.length; i++) {
            if ((unsigned char)p.mailbox[i] < 32 || (unsigned char)p.mailbox[i] > 126) {
                abort();
            }
        }
        if (p.null_path != (p.length == 0) || (p.null_path && !(flags & SMTP_PATH_ALLOW_NULL))) {
            abort();
        }
        smtp_rcpt_class c = smtp_recipient_classify(&p, local_domains, 3);
        if (!p.null_path) {
            /* The final mailbox alone is a path with the same meaning. */
            char again[SMTP_PATH_MAX + 3];
            again[0] = '<';
            memcpy(again + 1, p.mailbox, p.length);
            again[p.length + 1] = '>';
            smtp_path q;
            size_t used2;
            if (smtp_path_parse(again, p.length + 2, flags, &q, &used2) != SMTP_PATH_OK ||
                strcmp(q.mailbox, p.mailbox) != 0 ||
                smtp_recipient_classify(&q, local_domains, 3) != c) {
                abort();
            }
        }
        /* A local recipient never carries a routing trick. */
        if (c == SMTP_RCPT_LOCAL && p.domain_offset > 0 &&
            smtp_local_part_is_relay_trick(p.mailbox, p.domain_offset - 1)) {
            abort();
        }
    }
    free(text);
    return 0;
}
