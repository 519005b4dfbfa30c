/* The printf dialect gcc checks format strings against. mingw's vsnprintf is the C99 one
 * (__USE_MINGW_ANSI_STDIO), so %zu is fine there too, but gcc checks plain `printf` formats
 * against the MSVCRT dialect on mingw: the GNU one is what is really used. */
#ifndef IMSRELAY_DELIVERY_FORMAT_H
#define IMSRELAY_DELIVERY_FORMAT_H

#if defined(__MINGW32__)
#define DELIVERY_PRINTF_FORMAT gnu_printf
#else
#define DELIVERY_PRINTF_FORMAT printf
#endif

#include <stddef.h>

/* Writes a parser's error sentence into the caller's buffer of `size` bytes (nothing when
 * size is 0), cut to fit. */
void delivery_format_error(char *error, size_t size, const char *format, ...)
        __attribute__((format(DELIVERY_PRINTF_FORMAT, 3, 4)));

#endif
