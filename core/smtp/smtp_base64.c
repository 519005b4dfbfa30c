#include "smtp_base64.h"

/* 0..63 for the alphabet, -1 otherwise (including '=' which is handled apart). */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

bool smtp_base64_decode(const char *text, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (len % 4 != 0) {
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        const unsigned char *q = (const unsigned char *)text + i;
        bool last = i + 4 == len;
        int pad = 0;
        if (last && q[3] == '=') {
            pad = q[2] == '=' ? 2 : 1;
        }
        int v[4];
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = sextet(q[k]);
            if (v[k] < 0) {
                return false;
            }
        }
        for (int k = 4 - pad; k < 4; k++) {
            v[k] = 0;
        }
        uint32_t bits =
                (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t produce = (size_t)(3 - pad);
        /* Canonical form: the bits the padding stands for must be zero. */
        if ((pad == 1 && (bits & 0xffu) != 0) || (pad == 2 && (bits & 0xffffu) != 0)) {
            return false;
        }
        if (out_cap - n < produce) {
            return false;
        }
        out[n++] = (uint8_t)(bits >> 16);
        if (produce > 1) {
            out[n++] = (uint8_t)(bits >> 8);
        }
        if (produce > 2) {
            out[n++] = (uint8_t)bits;
        }
    }
    *out_len = n;
    return true;
}
