/* LD_PRELOAD shim for the benchmark's client: binds each IPv4 TCP socket that connects to
 * a loopback address to the next address of BIND_SOURCE_ADDRESSES (comma-separated,
 * round robin), so that Postfix's smtp-source, which cannot choose its source address,
 * loads a server from many client addresses (127.x.y.z are all this machine's). The rows
 * that use it then differ from their one-address counterparts in the addresses only: same
 * client, same transaction. Built by run-smtp-bench with the machine's cc (a Linux tool,
 * never part of the Windows build):
 *
 *   cc -O2 -shared -fPIC -o bind_source.so bind_source.c -ldl
 *   LD_PRELOAD=./bind_source.so BIND_SOURCE_ADDRESSES=127.0.21.1,127.0.21.2 smtp-source ...
 *
 * A socket that cannot be bound (an address that is not this machine's) fails its connect
 * with the bind's error, so a misconfigured run fails instead of quietly using 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BIND_SOURCE_MAX 1024

static struct in_addr bind_source_addresses[BIND_SOURCE_MAX];
static size_t bind_source_count;
static atomic_size_t bind_source_next;
static int (*bind_source_real_connect)(int, const struct sockaddr *, socklen_t);

__attribute__((constructor)) static void bind_source_init(void)
{
    bind_source_real_connect =
            (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    const char *list = getenv("BIND_SOURCE_ADDRESSES");
    if (!list) {
        return;
    }
    char text[16];
    while (*list && bind_source_count < BIND_SOURCE_MAX) {
        size_t n = strcspn(list, ",");
        if (n > 0 && n < sizeof(text)) {
            memcpy(text, list, n);
            text[n] = 0;
            if (inet_pton(AF_INET, text, &bind_source_addresses[bind_source_count]) == 1) {
                bind_source_count++;
            }
        }
        list += n;
        if (*list == ',') {
            list++;
        }
    }
}

int connect(int fd, const struct sockaddr *to, socklen_t len)
{
    if (!bind_source_real_connect) {
        errno = ENOSYS;
        return -1;
    }
    if (bind_source_count > 0 && to && to->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *peer = (const struct sockaddr_in *)to;
        int type = 0;
        socklen_t type_len = sizeof(type);
        if ((ntohl(peer->sin_addr.s_addr) >> 24) == 127 &&
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0 && type == SOCK_STREAM) {
            struct sockaddr_in source;
            memset(&source, 0, sizeof(source));
            source.sin_family = AF_INET;
            source.sin_addr = bind_source_addresses[atomic_fetch_add(&bind_source_next, 1) %
                                                    bind_source_count];
            if (bind(fd, (const struct sockaddr *)&source, sizeof(source)) != 0) {
                return -1;
            }
        }
    }
    return bind_source_real_connect(fd, to, len);
}
