/* Who imsrelay is to Windows: the one place that names the service, its event source, its
 * registry keys and its default MailRoot. The service is MSExchangeIMC so that the
 * Exchange 5.5 key HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters is its
 * own key, as the article and Windows convention want. Narrow literals; IDENTITY_WIDE()
 * makes the wide form for Win32 calls. */
#ifndef IMSRELAY_IDENTITY_H
#define IMSRELAY_IDENTITY_H

#define IDENTITY_WIDE_(text) L##text
#define IDENTITY_WIDE(text)  IDENTITY_WIDE_(text)

#define IDENTITY_SERVICE_NAME         "MSExchangeIMC"
#define IDENTITY_DISPLAY_NAME         "imsrelay SMTP relay control (MSExchangeIMC)"
#define IDENTITY_EVENT_SOURCE         IDENTITY_SERVICE_NAME
#define IDENTITY_SERVICES_KEY         "SYSTEM\\CurrentControlSet\\Services"
#define IDENTITY_SERVICE_KEY          IDENTITY_SERVICES_KEY "\\" IDENTITY_SERVICE_NAME
#define IDENTITY_PARAMETERS_KEY       IDENTITY_SERVICE_KEY "\\Parameters"
#define IDENTITY_USERS_KEY            IDENTITY_PARAMETERS_KEY "\\Users"
#define IDENTITY_TCPIP_KEY            IDENTITY_SERVICES_KEY "\\Tcpip"
#define IDENTITY_TCPIP_PARAMETERS_KEY IDENTITY_TCPIP_KEY "\\Parameters"
#define IDENTITY_EVENT_SOURCE_KEY                                                                  \
    IDENTITY_SERVICES_KEY "\\EventLog\\Application\\" IDENTITY_EVENT_SOURCE

/* Group Policy's place for this product's settings (HKLM\SOFTWARE\Policies\imsrelay): a
 * value there wins over the same value in Parameters, as Windows policy wins over
 * preference. */
#define IDENTITY_POLICY_KEY        "SOFTWARE\\Policies\\imsrelay"
#define IDENTITY_POLICY_PARENT_KEY "SOFTWARE\\Policies"

/* Unexpanded: the service expands it with the environment it runs in. */
#define IDENTITY_DEFAULT_MAIL_ROOT "%ProgramData%\\imsrelay"

#endif
