/* SmartHost values and recipient domains on random bytes: never reads past the text, and
 * whatever is accepted is a valid host or address that, written back out in the SmartHost
 * syntax, parses to the same route. */
#include "route.h"

#include <stdint.h>
#include <stdio.h>
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
    route_smarthost r;
    char error[ROUTE_ERROR_MAX];
    if (route_smarthost_parse(text, &r, error, sizeof(error))) {
        if (r.count > ROUTE_HOSTS_MAX) {
            abort();
        }
        static char again[ROUTE_HOSTS_MAX * (ROUTE_NAME_MAX + 16)];
        size_t len = 0;
        again[0] = '\0';
        for (size_t i = 0; i < r.count; i++) {
            const route_host *h = &r.hosts[i];
            if (h->port == 0 ||
                (h->kind == ROUTE_NAME &&
                 route_host_name_problem(h->name, strlen(h->name)) != NULL) ||
                (h->mx_lookup && h->kind != ROUTE_NAME)) {
                abort();
            }
            len += (size_t)snprintf(again + len, sizeof(again) - len, "%s%s%s%s:%u", i ? "," : "",
                                    h->mx_lookup ? "" : "[", h->name, h->mx_lookup ? "" : "]",
                                    (unsigned)h->port);
        }
        route_smarthost back;
        if (!route_smarthost_parse(again, &back, error, sizeof(error)) || back.count != r.count) {
            abort();
        }
        for (size_t i = 0; i < r.count; i++) {
            if (back.hosts[i].kind != r.hosts[i].kind ||
                back.hosts[i].mx_lookup != r.hosts[i].mx_lookup ||
                back.hosts[i].port != r.hosts[i].port ||
                strcmp(back.hosts[i].name, r.hosts[i].name) != 0 ||
                (r.hosts[i].kind != ROUTE_NAME &&
                 !relay_addr_equal(&back.hosts[i].address, &r.hosts[i].address))) {
                abort();
            }
        }
    } else if (error[0] == '\0') {
        abort();
    }
    route_domain d;
    if (route_recipient_domain(text, &d, error, sizeof(error))) {
        size_t n = strlen(d.name);
        if (n == 0 || n > ROUTE_NAME_MAX) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (d.name[i] >= 'A' && d.name[i] <= 'Z') {
                abort();
            }
        }
    }
    free(text);
    return 0;
}
