/* relay_line_parse on any text: a rule it accepts is self-consistent (mask and prefix
 * agree, never_matches is exactly "net has bits outside the mask"), its canonical text
 * parses back to the same rule, and every rejection carries a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024) {
        return 0;
    }
    char *line = malloc(size + 1);
    if (!line) {
        return 0;
    }
    memcpy(line, data, size);
    line[size] = '\0';
    relay_rule rule;
    char why[320];
    relay_line_kind kind = relay_line_parse(line, &rule, why, sizeof(why));
    if (kind == RELAY_LINE_INVALID && why[0] == '\0') {
        abort();
    }
    if (kind == RELAY_LINE_RULE) {
        if (rule.net.family != rule.mask.family) {
            abort();
        }
        if (relay_rule_matches(&rule, &rule.net) == rule.never_matches) {
            abort(); /* a valid net matches itself; a never-matching one matches nothing */
        }
        char text[120];
        relay_rule_format(&rule, text, sizeof(text));
        relay_rule back;
        if (relay_line_parse(text, &back, why, sizeof(why)) != RELAY_LINE_RULE ||
            !relay_addr_equal(&back.net, &rule.net) || !relay_addr_equal(&back.mask, &rule.mask) ||
            back.prefix != rule.prefix || back.never_matches != rule.never_matches) {
            abort();
        }
    }
    free(line);
    return 0;
}
