/* TlsCertificate text: never read past the input, and what is accepted reads back the same
 * from its canonical form (thumbprint text, lower-case host name). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    if (text == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    struct tls_selector first;
    const char *why = NULL;
    if (tls_selector_parse(text, size, &first, &why)) {
        struct tls_selector again;
        if (first.kind == TLS_SELECTOR_THUMBPRINT) {
            char canonical[2 * TLS_SELECTOR_THUMBPRINT_BYTES + 1];
            tls_selector_thumbprint_text(first.thumbprint, canonical);
            if (!tls_selector_parse(canonical, strlen(canonical), &again, &why) ||
                again.kind != TLS_SELECTOR_THUMBPRINT ||
                memcmp(again.thumbprint, first.thumbprint, sizeof first.thumbprint) != 0) {
                abort();
            }
        } else {
            if (!tls_selector_host_name_valid(first.host_name, true) ||
                !tls_selector_parse(first.host_name, strlen(first.host_name), &again, &why) ||
                again.kind != TLS_SELECTOR_HOST_NAME ||
                strcmp(again.host_name, first.host_name) != 0) {
                abort();
            }
        }
    } else if (why == NULL) {
        abort();
    }
    free(text);
    return 0;
}
