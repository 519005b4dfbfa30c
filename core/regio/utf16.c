#include "utf16.h"

static uint32_t unit_at(const uint8_t *src, size_t i)
{
    return (uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8;
}

static size_t put_code_point(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | cp >> 12);
        dst[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | cp >> 18);
    dst[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    dst[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t regio_utf16le_to_utf8(const uint8_t *src, size_t units, char *dst, size_t *replaced,
                             size_t *first_bad)
{
    size_t out = 0;
    size_t bad = 0;
    for (size_t i = 0; i < units; i++) {
        uint32_t u = unit_at(src, i);
        uint32_t cp = u;
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
            uint32_t low = unit_at(src, i + 1);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                i++;
                out += put_code_point(dst + out, cp);
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            if (bad == 0 && first_bad) {
                *first_bad = i;
            }
            bad++;
            cp = 0xFFFD;
        }
        out += put_code_point(dst + out, cp);
    }
    if (replaced) {
        *replaced = bad;
    }
    return out;
}
