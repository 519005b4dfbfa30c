/* imsrelay.exe install: what an administrator would otherwise do by hand with sc.exe and
 * regedit: the service, its event source, safe defaults in Parameters, MailRoot with its
 * access rights, and (as Exchange setup does) a self-signed certificate for STARTTLS when
 * none is configured. Idempotent; says what it did, line by line. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "cli/cli_admin.h"
#include "cli/commands.h"
#include "config/live_config.h"
#include "tls/tls_credentials.h"
#include "tls/tls_selfsigned.h"
#include "tls_selector.h"
#include "events/eventlog.h"
#include "host/svc_host.h"

#define SERVICE_ACCOUNT L"NT AUTHORITY\\LocalService"
#define SERVICE_DESCRIPTION                                                                        \
    L"SMTP front end with the relay control of the Exchange Server 5.5 Internet Mail "             \
    L"Service: RelayFlags, RelayDenyList, RelayAllowList and RelayLocalIPList under "              \
    L"HKLM\\" CLI_ADMIN_PARAMETERS_KEY L"."

/* MailRoot: full control for SYSTEM and Administrators, modify for the service account
 * (Local Service), nothing for anyone else: it holds other people's mail. */
#define MAIL_ROOT_SDDL           L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;LS)"
#define MAIL_ROOT_SERVICE_RIGHTS 0x1301bf /* "modify": read, write, delete; no ACL changes */

static DWORD set_dword_if_absent(HKEY key, const wchar_t *name, DWORD value, bool *set)
{
    *set = false;
    DWORD s = RegQueryValueExW(key, name, NULL, NULL, NULL, NULL);
    if (s == ERROR_SUCCESS) {
        return ERROR_SUCCESS;
    }
    if (s != ERROR_FILE_NOT_FOUND) {
        return s;
    }
    *set = true;
    return RegSetValueExW(key, name, 0, REG_DWORD, (const BYTE *)&value, sizeof(value));
}

/* multi: one string, stored as a one-line REG_MULTI_SZ. */
static DWORD set_multi_if_absent(HKEY key, const wchar_t *name, const wchar_t *line, bool *set)
{
    *set = false;
    DWORD s = RegQueryValueExW(key, name, NULL, NULL, NULL, NULL);
    if (s == ERROR_SUCCESS) {
        return ERROR_SUCCESS;
    }
    if (s != ERROR_FILE_NOT_FOUND) {
        return s;
    }
    size_t len = wcslen(line);
    wchar_t *data = calloc(len + 2, sizeof(wchar_t));
    if (!data) {
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    wcscpy(data, line);
    *set = true;
    s = RegSetValueExW(key, name, 0, REG_MULTI_SZ, (const BYTE *)data,
                       (DWORD)((len + 2) * sizeof(wchar_t)));
    free(data);
    return s;
}

static void said_default(const wchar_t *name, const wchar_t *value, bool set)
{
    if (set) {
        fwprintf(stdout, L"  %ls = %ls (default set)\n", name, value);
    } else {
        fwprintf(stdout, L"  %ls: kept as the administrator set it\n", name);
    }
}

/* The Parameters key with safe defaults where nothing is set: only this machine may relay. */
static int install_parameters(void)
{
    HKEY key;
    DWORD s = RegCreateKeyExW(HKEY_LOCAL_MACHINE, CLI_ADMIN_PARAMETERS_KEY, 0, NULL, 0,
                              KEY_READ | KEY_WRITE, NULL, &key, NULL);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot create the Parameters key", s);
    }
    fwprintf(stdout, L"Parameters: HKLM\\%ls\n", CLI_ADMIN_PARAMETERS_KEY);
    bool set;
    s = set_dword_if_absent(key, L"RelayFlags", 2, &set);
    if (s == ERROR_SUCCESS) {
        said_default(L"RelayFlags", L"2 (clients in RelayAllowList may relay)", set);
        s = set_multi_if_absent(key, L"RelayAllowList", L"127.0.0.1", &set);
    }
    if (s == ERROR_SUCCESS) {
        said_default(L"RelayAllowList", L"127.0.0.1 (only this machine)", set);
        wchar_t domain[256];
        DWORD len = sizeof(domain) / sizeof(domain[0]);
        if (GetComputerNameExW(ComputerNameDnsDomain, domain, &len) && len > 0) {
            s = set_multi_if_absent(key, L"LocalDomains", domain, &set);
            if (s == ERROR_SUCCESS) {
                said_default(L"LocalDomains", domain, set);
            }
        } else {
            fwprintf(stdout, L"  LocalDomains: this computer has no DNS domain; set it to the "
                             L"domains this server receives mail for\n");
        }
    }
    RegCloseKey(key);
    return s == ERROR_SUCCESS ? 0 : cli_admin_fail(L"cannot write the default values", s);
}

/* A new MailRoot gets MAIL_ROOT_SDDL: nobody but the service and administrators reads mail. */
static DWORD protect_new_folder(const wchar_t *path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    DWORD s;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(MAIL_ROOT_SDDL, SDDL_REVISION_1, &sd,
                                                              NULL) ||
        !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
        s = GetLastError();
    } else {
        s = SetNamedSecurityInfoW((wchar_t *)path, SE_FILE_OBJECT,
                                  DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                  NULL, NULL, dacl, NULL);
    }
    LocalFree(sd);
    return s;
}

/* An existing MailRoot (an administrator's folder, or one an earlier install made) keeps its
 * access rights; Local Service gets modify rights added, inherited by what is inside. */
static DWORD grant_service(const wchar_t *path)
{
    PACL old = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD s = GetNamedSecurityInfoW(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                                    &old, NULL, &sd);
    if (s != ERROR_SUCCESS) {
        return s;
    }
    BYTE sid[SECURITY_MAX_SID_SIZE];
    DWORD sid_size = sizeof(sid);
    if (!CreateWellKnownSid(WinLocalServiceSid, NULL, sid, &sid_size)) {
        s = GetLastError();
        LocalFree(sd);
        return s;
    }
    EXPLICIT_ACCESSW access = {0};
    access.grfAccessPermissions = MAIL_ROOT_SERVICE_RIGHTS;
    access.grfAccessMode = GRANT_ACCESS;
    access.grfInheritance = SUB_CONTAINERS_AND_OBJECTS_INHERIT;
    access.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    access.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
    access.Trustee.ptstrName = (wchar_t *)sid;
    PACL merged = NULL;
    s = SetEntriesInAclW(1, &access, old, &merged);
    if (s == ERROR_SUCCESS) {
        s = SetNamedSecurityInfoW((wchar_t *)path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL,
                                  NULL, merged, NULL);
    }
    LocalFree(merged);
    LocalFree(sd);
    return s;
}

static int install_mail_root(void)
{
    wchar_t path[MAX_PATH];
    if (!cli_admin_mail_root(path, MAX_PATH)) {
        return cli_admin_fail(L"cannot expand MailRoot", ERROR_BAD_PATHNAME);
    }
    bool created = false;
    DWORD s = cli_admin_make_folder(path, &created);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot create MailRoot", s);
    }
    s = created ? protect_new_folder(path) : grant_service(path);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot set the access rights of MailRoot", s);
    }
    if (created) {
        fwprintf(stdout,
                 L"MailRoot: %ls created (Local Service may write, other users have no "
                 L"access)\n",
                 path);
    } else {
        fwprintf(stdout, L"MailRoot: %ls (existing access rights kept, Local Service may write)\n",
                 path);
    }
    return 0;
}

static int install_event_source(const wchar_t *exe)
{
    HKEY key;
    DWORD s = RegCreateKeyExW(HKEY_LOCAL_MACHINE, CLI_ADMIN_EVENT_SOURCE_KEY, 0, NULL, 0, KEY_WRITE,
                              NULL, &key, NULL);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot register the event source", s);
    }
    DWORD bytes = (DWORD)((wcslen(exe) + 1) * sizeof(wchar_t));
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    DWORD categories = 1;
    s = RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe, bytes);
    if (s == ERROR_SUCCESS) {
        s = RegSetValueExW(key, L"CategoryMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe, bytes);
    }
    if (s == ERROR_SUCCESS) {
        s = RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types,
                           sizeof(types));
    }
    if (s == ERROR_SUCCESS) {
        s = RegSetValueExW(key, L"CategoryCount", 0, REG_DWORD, (const BYTE *)&categories,
                           sizeof(categories));
    }
    RegCloseKey(key);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot register the event source", s);
    }
    fwprintf(stdout, L"Event source: %ls in the Application log, messages in %ls\n",
             IMSRELAY_EVENT_SOURCE_W, exe);
    return 0;
}

/* Restart after a failure: 5 s, then 30 s, then every 60 s; the count resets after a day. */
static void set_recovery(SC_HANDLE service)
{
    SC_ACTION actions[3] = {
            {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW failure = {86400, NULL, NULL, 3, actions};
    if (!ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
        fwprintf(stdout, L"  recovery actions: not set (error %lu)\n", GetLastError());
        return;
    }
    /* Also when the service stops itself with an error (e.g. its port was taken), not only
     * when it crashes. */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    if (!ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
        fwprintf(stdout, L"  recovery actions: restart after a crash only (error %lu)\n",
                 GetLastError());
        return;
    }
    fwprintf(stdout, L"  recovery: restart after 5 s, 30 s, then every 60 s\n");
}

static int install_service(const wchar_t *exe)
{
    wchar_t command[MAX_PATH + 4];
    swprintf(command, sizeof(command) / sizeof(command[0]), L"\"%ls\"", exe);
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm) {
        return cli_admin_fail(L"cannot open the Service Control Manager", GetLastError());
    }
    const wchar_t *verb = L"updated";
    SC_HANDLE service = OpenServiceW(scm, SVC_NAME_W, SERVICE_ALL_ACCESS);
    if (service) {
        if (!ChangeServiceConfigW(service, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                  SERVICE_ERROR_NORMAL, command, NULL, NULL, L"Tcpip\0\0",
                                  SERVICE_ACCOUNT, L"", SVC_DISPLAY_NAME_W)) {
            DWORD e = GetLastError();
            CloseServiceHandle(service);
            CloseServiceHandle(scm);
            return cli_admin_fail(L"cannot update the service", e);
        }
    } else if (GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST) {
        verb = L"created";
        service =
                CreateServiceW(scm, SVC_NAME_W, SVC_DISPLAY_NAME_W, SERVICE_ALL_ACCESS,
                               SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                               command, NULL, NULL, L"Tcpip\0\0", SERVICE_ACCOUNT, L"");
        if (!service) {
            DWORD e = GetLastError();
            CloseServiceHandle(scm);
            return cli_admin_fail(L"cannot create the service", e);
        }
    } else {
        DWORD e = GetLastError();
        CloseServiceHandle(scm);
        return cli_admin_fail(L"cannot open the service", e);
    }
    fwprintf(stdout, L"Service %ls %ls: %ls, automatic start, account %ls\n", SVC_NAME_W, verb,
             command, SERVICE_ACCOUNT);
    SERVICE_DESCRIPTIONW description = {SERVICE_DESCRIPTION};
    ChangeServiceConfig2W(service, SERVICE_CONFIG_DESCRIPTION, &description);
    set_recovery(service);
    CloseServiceHandle(service);
    CloseServiceHandle(scm);
    return 0;
}

/* STARTTLS needs a certificate: when TlsCertificate is empty and LocalMachine\My has none for
 * SmtpHostName (or this computer's name), one is made, self-signed, with its key inside the
 * machine's key store. A failure here costs STARTTLS, not the installation. */
static int install_tls_certificate(void)
{
    live_config live;
    if (!live_config_read(&live)) {
        return cli_admin_fail(L"cannot read the configuration", ERROR_OUTOFMEMORY);
    }
    const regio_config *config = live.config;
    if (config->tls_certificate[0] || config->tls_certificate_state == REGIO_VALUE_UNREADABLE) {
        fwprintf(stdout, L"TLS certificate: TlsCertificate is set: kept as the administrator "
                         L"set it\n");
        live_config_free(&live);
        return 0;
    }
    const char *host = config->host_name;
    char why[256] = "";
    struct tls_credentials *existing = tls_credentials_from_store(host, why, sizeof(why));
    if (existing) {
        fwprintf(stdout, L"TLS certificate: %hs (found in LocalMachine\\My for %hs)\n",
                 tls_credentials_describe(existing), host);
        tls_credentials_free(existing);
        live_config_free(&live);
        return 0;
    }
    if (!tls_selector_host_name_valid(host, false)) {
        fwprintf(stdout,
                 L"TLS certificate: none made: SmtpHostName \"%hs\" is not a host name a "
                 L"certificate can carry; STARTTLS is not offered\n",
                 host);
        live_config_free(&live);
        return 0;
    }
    char thumbprint[TLS_SELFSIGNED_THUMBPRINT_TEXT];
    if (tls_selfsigned_create(host, thumbprint, why, sizeof(why))) {
        fwprintf(stdout,
                 L"TLS certificate: made a self-signed certificate for %hs in "
                 L"LocalMachine\\My, thumbprint %hs, for STARTTLS (clients that verify "
                 L"certificates need one from a CA: import it and set TlsCertificate)\n",
                 host, thumbprint);
    } else {
        fwprintf(stdout,
                 L"TLS certificate: none made (%hs); STARTTLS is not offered until "
                 L"TlsCertificate names a certificate in LocalMachine\\My\n",
                 why);
    }
    live_config_free(&live);
    return 0;
}

int cmd_install(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc > 1) {
        fwprintf(stderr, L"usage: imsrelay.exe install\n");
        return 2;
    }
    int denied = cli_admin_require(L"install");
    if (denied) {
        return denied;
    }
    wchar_t exe[MAX_PATH];
    DWORD exe_len = GetModuleFileNameW(NULL, exe, MAX_PATH);
    if (exe_len == 0 || exe_len >= MAX_PATH) {
        return cli_admin_fail(L"cannot find the path of imsrelay.exe", GetLastError());
    }
    int rc = install_service(exe);
    if (!rc) {
        rc = install_event_source(exe);
    }
    if (!rc) {
        rc = install_parameters();
    }
    if (!rc) {
        rc = install_mail_root();
    }
    if (!rc) {
        rc = install_tls_certificate();
    }
    if (!rc) {
        fwprintf(stdout, L"Installed. Start it with: net start %ls\n", SVC_NAME_W);
    }
    return rc;
}
