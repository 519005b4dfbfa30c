#include "raw_bytes.h"

#include <stdlib.h>
#include <string.h>

#define BLOCKS_MAX 256

static void *blocks[BLOCKS_MAX];
static size_t block_count;

static uint8_t *keep(size_t size)
{
    if (block_count == BLOCKS_MAX) {
        abort();
    }
    uint8_t *block = malloc(size ? size : 1);
    if (!block) {
        abort();
    }
    blocks[block_count++] = block;
    return block;
}

uint8_t *utf16(const char *ascii, size_t len)
{
    uint8_t *out = keep(2 * len);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = (uint8_t)ascii[i];
        out[2 * i + 1] = 0;
    }
    return out;
}

uint8_t *dword_bytes(uint32_t value)
{
    uint8_t *out = keep(4);
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(value >> (8 * i));
    }
    return out;
}

uint8_t *bytes(const void *data, size_t size)
{
    uint8_t *out = keep(size);
    memcpy(out, data, size);
    return out;
}

void raw_bytes_free_all(void)
{
    for (size_t i = 0; i < block_count; i++) {
        free(blocks[i]);
    }
    block_count = 0;
}

static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) {
            return 0;
        }
    }
    return *a == *b;
}

int find_diag(const regio_diag_list *diags, regio_severity severity, const char *value,
              const char *part)
{
    for (size_t i = 0; i < diags->count; i++) {
        const regio_diag *d = &diags->items[i];
        if (d->severity == severity && same_name(d->value, value) && strstr(d->message, part)) {
            return (int)i;
        }
    }
    return -1;
}
