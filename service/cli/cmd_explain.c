/* imsrelay.exe explain CLIENT_IP [--local LOCAL_IP] [--auth ACCOUNT] [RECIPIENT]
 * The decision the service makes for a client, from the configuration in the registry now
 * (which the running service loads on every change), and why: the step of the article's
 * logic and the list line that decided, and for a relayed recipient how delivery would route
 * it (smart host, or MX lookup through which DNS servers). One fact a line, stable enough to
 * grep.
 * Exit 0: relaying allowed, or the recipient is local; 1: denied; 2: usage error or an
 * unreadable configuration. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/win_text.h"
#include "config.h"
#include "identity.h"
#include "diag.h"
#include "relay_addr.h"
#include "config/live_config.h"
#include "delivery/dns_route.h"
#include "route.h"
#include "relay_policy.h"
#include "smtp_address.h"
#include "tls_policy.h"

static int explain_usage(const char *problem)
{
    if (problem) {
        fprintf(stderr, "imsrelay: %s\n", problem);
    }
    fputs("usage: imsrelay.exe explain CLIENT_IP [--local LOCAL_IP] [--auth ACCOUNT] "
          "[RECIPIENT]\n"
          "  CLIENT_IP   the address the SMTP client connects from (IPv4 or IPv6)\n"
          "  --local     the address of this server it connects to (for RelayLocalIPList)\n"
          "  --auth      the client authenticated (SMTP AUTH) as ACCOUNT\n"
          "  RECIPIENT   a recipient address: first says whether it is local\n",
          stderr);
    return 2;
}

typedef struct explain_args {
    char client[128];
    char local[128];
    char account[256];
    char recipient[512];
    bool has_local, has_auth, has_recipient;
} explain_args;

static const char *parse_args(int argc, wchar_t **argv, explain_args *a)
{
    bool has_client = false;
    for (int i = 1; i < argc; i++) {
        if (!wcscmp(argv[i], L"--local") || !wcscmp(argv[i], L"--auth")) {
            bool local = !wcscmp(argv[i], L"--local");
            if (i + 1 >= argc) {
                return local ? "--local needs an address" : "--auth needs an account";
            }
            if ((local && a->has_local) || (!local && a->has_auth)) {
                return "an option is given twice";
            }
            if (!win_text_utf8_into(argv[++i], local ? a->local : a->account,
                                    local ? sizeof(a->local) : sizeof(a->account))) {
                return "an argument is too long";
            }
            *(local ? &a->has_local : &a->has_auth) = true;
        } else if (argv[i][0] == L'-' && argv[i][1] == L'-') {
            return "unknown option";
        } else if (!has_client) {
            if (!win_text_utf8_into(argv[i], a->client, sizeof(a->client))) {
                return "the client address is too long";
            }
            has_client = true;
        } else if (!a->has_recipient) {
            if (!win_text_utf8_into(argv[i], a->recipient, sizeof(a->recipient))) {
                return "the recipient is too long";
            }
            a->has_recipient = true;
        } else {
            return "too many arguments";
        }
    }
    return has_client ? NULL : "the client address is missing";
}

/* Whether the recipient is local, as the SMTP front end decides at RCPT. -1: not an
 * address. */
static int recipient_is_local(const char *recipient, const regio_config *config)
{
    char path[SMTP_PATH_MAX + 3];
    int n = recipient[0] == '<' ? snprintf(path, sizeof(path), "%s", recipient)
                                : snprintf(path, sizeof(path), "<%s>", recipient);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return -1;
    }
    smtp_path parsed;
    size_t consumed = 0;
    if (smtp_path_parse(path, (size_t)n, SMTP_PATH_ALLOW_POSTMASTER, &parsed, &consumed) !=
                SMTP_PATH_OK ||
        consumed != (size_t)n) {
        return -1;
    }
    return smtp_recipient_classify(&parsed, config->local_domains.lines,
                                   config->local_domains.count) == SMTP_RCPT_LOCAL;
}

/* How the queue manager would route mail for the recipient with this configuration. */
static void print_route(const char *recipient, const regio_config *config)
{
    char address[512];
    snprintf(address, sizeof(address), "%s", recipient[0] == '<' ? recipient + 1 : recipient);
    size_t len = strlen(address);
    if (len > 0 && address[len - 1] == '>') {
        address[len - 1] = '\0';
    }
    route_domain domain;
    char why[ROUTE_ERROR_MAX];
    if (!route_recipient_domain(address, &domain, why, sizeof(why))) {
        printf("route: none: %s\n", why);
        return;
    }
    route_smarthost smart_host = {.count = 0};
    if (config->smart_host_state == REGIO_VALUE_UNREADABLE ||
        (config->smart_host[0] &&
         !route_smarthost_parse(config->smart_host, &smart_host, why, sizeof(why)))) {
        printf("route: none: SmartHost is not valid, so relayed mail stays queued (imsrelay "
               "check says why)\n");
        return;
    }
    tls_policy_smart_host_ports(tls_policy_for_smart_host(config->smart_host_tls.value),
                                &smart_host);
    dns_route_config dns = {.smart_host = &smart_host,
                            .delivery_port = (uint16_t)config->delivery_port.value,
                            .self_name = config->host_name};
    dns_route_servers_from_lines(&dns, config->dns_servers.lines, config->dns_servers.count);
    char words[1600];
    dns_route_describe(&dns, &domain, words, sizeof(words));
    printf("route: %s\n", words);
}

int cmd_explain(int argc, wchar_t **argv)
{
    explain_args a;
    memset(&a, 0, sizeof(a));
    const char *problem = parse_args(argc, argv, &a);
    if (problem) {
        return explain_usage(problem);
    }
    relay_addr client, local;
    if (!relay_addr_parse(a.client, &client)) {
        char why[300];
        relay_addr_parse_span(a.client, strlen(a.client), &client, why, sizeof(why));
        fprintf(stderr, "imsrelay: not a client address: %s\n", why);
        return 2;
    }
    if (a.has_local && !relay_addr_parse(a.local, &local)) {
        char why[300];
        relay_addr_parse_span(a.local, strlen(a.local), &local, why, sizeof(why));
        fprintf(stderr, "imsrelay: not a local address: %s\n", why);
        return 2;
    }
    SetConsoleOutputCP(CP_UTF8);

    live_config live;
    if (!live_config_read(&live)) {
        fputs("imsrelay: cannot read the configuration (out of memory)\n", stderr);
        return 2;
    }
    const regio_config *config = live.config;
    const relay_policy *policy = live.policy;
    int result = 1;
    char text[RELAY_ADDR_TEXT_MAX];
    relay_addr_format(&client, text, sizeof(text));
    printf("client: %s\n", text);
    if (a.has_local) {
        relay_addr_format(&local, text, sizeof(text));
        printf("local address: %s\n", text);
    } else {
        printf("local address: not given (RelayLocalIPList cannot allow)\n");
    }
    if (a.has_auth) {
        printf("authenticated: yes, as %s\n", a.account);
    } else {
        printf("authenticated: no\n");
    }
    size_t errors = regio_diag_count(&live.diags, REGIO_SEV_ERROR);
    if (errors) {
        printf("configuration: %zu error%s (imsrelay check lists them)\n", errors,
               errors == 1 ? "" : "s");
    }
    if (a.has_recipient) {
        int is_local = recipient_is_local(a.recipient, config);
        if (is_local < 0) {
            fprintf(stderr, "imsrelay: not a recipient address: %s\n", a.recipient);
            result = 2;
            goto done;
        }
        if (is_local) {
            printf("recipient: %s is local: always accepted, no relay decision\n", a.recipient);
            printf("verdict: accepted\n");
            result = 0;
            goto done;
        }
        printf("recipient: %s is not local: the relay rules decide\n", a.recipient);
        print_route(a.recipient, config);
    }
    relay_verdict v;
    relay_decide(policy, &client, a.has_local ? &local : NULL, a.has_auth, &v);
    char because[1024];
    relay_verdict_describe(&v, because, sizeof(because));
    printf("verdict: %s\n", v.allowed ? "relaying allowed" : "relaying denied");
    printf("step: %s\n", relay_step_name(v.step));
    if (v.value) {
        printf("rule: %s line %u: %s\n", v.value, v.line, v.text);
        printf("rule from: %s\n", regio_config_source(live.config, v.value) == REGIO_SOURCE_POLICY
                                          ? "the policy key HKLM\\" IDENTITY_POLICY_KEY
                                          : "the Parameters key HKLM\\" IDENTITY_PARAMETERS_KEY);
    }
    printf("RelayFlags from: %s\n",
           regio_source_name(regio_config_source(live.config, "RelayFlags")));
    printf("because: %s\n", because);
    if (!v.allowed && a.has_recipient) {
        printf("reply: 550 5.7.1 <%s>... relaying prohibited\n", a.recipient);
    }
    result = v.allowed ? 0 : 1;
done:
    live_config_free(&live);
    return result;
}
