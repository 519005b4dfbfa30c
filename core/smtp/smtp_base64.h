/* Strict base64 (RFC 4648, standard alphabet, padded) for SASL responses (RFC 4954).
 * Strict because a credential must have exactly one spelling: no whitespace, no missing or
 * misplaced padding, no non-zero bits after the last byte. Bounded: never writes past the
 * caller's buffer. */
#ifndef IMSRELAY_SMTP_BASE64_H
#define IMSRELAY_SMTP_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes text[0..len) into out (capacity out_cap). Returns true and sets *out_len on
 * success; false when the text is not canonical base64 or decodes to more than out_cap
 * bytes. The empty text decodes to zero bytes. */
bool smtp_base64_decode(const char *text, size_t len, uint8_t *out, size_t out_cap,
                        size_t *out_len);

#endif
