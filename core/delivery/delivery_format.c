#include "delivery_format.h"

#include <stdarg.h>
#include <stdio.h>

void delivery_format_error(char *error, size_t size, const char *format, ...)
{
    if (size == 0) {
        return;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
}
