/* relay_addr_parse_span on any bytes: never reads past len, and whatever it accepts formats
 * to a canonical text that parses back to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    relay_addr a;
    char why[200];
    if (relay_addr_parse_span(text, size, &a, why, sizeof(why))) {
        char canonical[RELAY_ADDR_TEXT_MAX];
        size_t n = relay_addr_format(&a, canonical, sizeof(canonical));
        relay_addr back;
        if (n >= sizeof(canonical) || !relay_addr_parse(canonical, &back) ||
            !relay_addr_equal(&a, &back)) {
            abort();
        }
        relay_addr normal = relay_addr_normalized(&a);
        if (normal.family != RELAY_AF_INET4 && normal.family != RELAY_AF_INET6) {
            abort();
        }
    } else if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0') {
        abort(); /* every rejection has a reason */
    }
    free(text);
    return 0;
}
