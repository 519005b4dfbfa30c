/* Durations and duration lists on random bytes: never reads past the text, every accepted
 * value is within bounds, and its formatted form parses back to the same value. */
#include "duration.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char error[DURATION_ERROR_MAX];
    uint32_t seconds = 0;
    if (duration_parse(text, &seconds, error, sizeof(error))) {
        if (seconds > DURATION_MAX_SECONDS) {
            abort();
        }
        char again[32];
        uint32_t back = 0;
        duration_format(seconds, again, sizeof(again));
        if (!duration_parse(again, &back, error, sizeof(error)) || back != seconds) {
            abort();
        }
    } else if (strlen(error) == 0 || strlen(error) >= sizeof(error)) {
        abort();
    }
    duration_list list;
    if (duration_list_parse(text, &list, error, sizeof(error))) {
        if (list.count == 0 || list.count > DURATION_LIST_MAX) {
            abort();
        }
        for (size_t i = 0; i < list.count; i++) {
            if (list.seconds[i] < DURATION_MIN_SECONDS || list.seconds[i] > DURATION_MAX_SECONDS) {
                abort();
            }
        }
    } else if (strlen(error) == 0) {
        abort();
    }
    free(text);
    return 0;
}
