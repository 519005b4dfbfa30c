/* The Group Policy templates (installer/policy/imsrelay.admx and en-US/imsrelay.adml) are
 * generated from the settings table, so Group Policy can set exactly the values the service
 * reads, with the names, types, bounds and meanings `imsrelay check` and the README use.
 *
 *   policy_templates --write DIR     regenerate DIR/imsrelay.admx and DIR/en-US/imsrelay.adml
 *   policy_templates --check DIR     exit 1 (saying which) when the files differ from the table
 *
 * Every setting the policy key may hold appears with its key, value name and type; values
 * that are not the service's own (IPEnableRouter is Windows' IP forwarding switch) and
 * values that name one machine (MailRoot, SmtpHostName, ListenAddresses) are not offered.
 * RelayFlags is a drop-down of its sixteen combinations: the ADMX schema has no element
 * that ORs check boxes into one REG_DWORD. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "settings.h"
#include "value_decode.h"

typedef struct text {
    char *bytes;
    size_t len, cap;
} text;

static void put(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->bytes = realloc(t->bytes, t->cap);
        if (!t->bytes) {
            abort();
        }
    }
    memcpy(t->bytes + t->len, s, n + 1);
    t->len += n;
}

static void putf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void putf(text *t, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put(t, buf);
}

static void put_escaped(text *t, const char *s)
{
    for (; *s; s++) {
        char c[2] = {*s, 0};
        switch (*s) {
        case '&':
            put(t, "&amp;");
            break;
        case '<':
            put(t, "&lt;");
            break;
        case '>':
            put(t, "&gt;");
            break;
        case '"':
            put(t, "&quot;");
            break;
        default:
            put(t, c);
        }
    }
}

static const char *const relay_settings[] = {"RelayFlags", "RelayDenyList", "RelayAllowList",
                                             "RelayLocalIPList", "LocalDomains"};
static const char *const delivery_settings[] = {"SmartHost",
                                                "DnsServers",
                                                "DeliveryPort",
                                                "MaxOutboundConnections",
                                                "MaxConnectionsPerDestination",
                                                "RetryIntervals",
                                                "MessageExpiration",
                                                "DelayNotification"};

static bool named(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!strcmp(name, names[i])) {
            return true;
        }
    }
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *category_of(const regio_setting *s)
{
    if (named(s->name, relay_settings, COUNT(relay_settings))) {
        return "RelayControl";
    }
    if (named(s->name, delivery_settings, COUNT(delivery_settings))) {
        return "Delivery";
    }
    return "SmtpFrontEnd";
}

static bool offered(const regio_setting *s)
{
    return regio_setting_fleet_wide(s);
}

/* The article's meaning of each RelayFlags bit, for the drop-down's labels. */
static const char *const flag_words[] = {"deny list", "allow list", "local IP list",
                                         "authenticated clients"};

static void relay_flags_label(unsigned value, char *out, size_t size)
{
    if (value == 0) {
        snprintf(out, size, "0: no client may relay");
        return;
    }
    size_t len = (size_t)snprintf(out, size, "%u: ", value);
    bool first = true;
    for (unsigned bit = 0; bit < 4; bit++) {
        if (value & (1u << bit)) {
            len += (size_t)snprintf(out + len, size - len, "%s%s", first ? "" : " + ",
                                    flag_words[bit]);
            first = false;
        }
    }
    if (value == 1) {
        snprintf(out + len, size - len, " (every client not denied may relay)");
    }
}

static void admx(text *t)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    put(t, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
           "<!-- Generated from the settings table (core/regio/settings.c) by\n"
           "     tests/unit/policy/policy_templates.c: do not edit by hand. -->\n"
           "<policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"\n"
           "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\"\n"
           "    schemaVersion=\"1.0\"\n"
           "    xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n"
           "  <policyNamespaces>\n"
           "    <target prefix=\"imsrelay\" namespace=\"imsrelay.Policies.imsrelay\" />\n"
           "    <using prefix=\"windows\" namespace=\"Microsoft.Policies.Windows\" />\n"
           "  </policyNamespaces>\n"
           "  <resources minRequiredRevision=\"1.0\" />\n"
           "  <supportedOn>\n"
           "    <definitions>\n"
           "      <definition name=\"SUPPORTED_imsrelay\" "
           "displayName=\"$(string.SUPPORTED_imsrelay)\" />\n"
           "    </definitions>\n"
           "  </supportedOn>\n"
           "  <categories>\n"
           "    <category name=\"imsrelay\" displayName=\"$(string.imsrelay)\" />\n");
    static const char *const categories[] = {"RelayControl", "SmtpFrontEnd", "Delivery"};
    for (size_t i = 0; i < COUNT(categories); i++) {
        putf(t,
             "    <category name=\"%s\" displayName=\"$(string.%s)\">\n"
             "      <parentCategory ref=\"imsrelay\" />\n"
             "    </category>\n",
             categories[i], categories[i]);
    }
    put(t, "  </categories>\n  <policies>\n");
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (!offered(s)) {
            continue;
        }
        putf(t,
             "    <policy name=\"%s\" class=\"Machine\" displayName=\"$(string.%s)\"\n"
             "        explainText=\"$(string.%s_Explain)\" presentation=\"$(presentation.%s)\"\n"
             "        key=\"%s\">\n"
             "      <parentCategory ref=\"%s\" />\n"
             "      <supportedOn ref=\"SUPPORTED_imsrelay\" />\n"
             "      <elements>\n",
             s->name, s->name, s->name, s->name, IDENTITY_POLICY_KEY, category_of(s));
        if (!strcmp(s->name, "RelayFlags")) {
            putf(t, "        <enum id=\"%s\" valueName=\"%s\" required=\"true\">\n", s->name,
                 s->name);
            for (unsigned v = 0; v < 16; v++) {
                putf(t,
                     "          <item displayName=\"$(string.RelayFlags_%u)\">\n"
                     "            <value><decimal value=\"%u\" /></value>\n"
                     "          </item>\n",
                     v, v);
            }
            put(t, "        </enum>\n");
        } else if (s->kind == REGIO_SETTING_DWORD) {
            putf(t,
                 "        <decimal id=\"%s\" valueName=\"%s\" required=\"true\" minValue=\"%lu\" "
                 "maxValue=\"%lu\" />\n",
                 s->name, s->name, (unsigned long)s->min, (unsigned long)s->max);
        } else if (s->kind == REGIO_SETTING_LIST) {
            putf(t, "        <multiText id=\"%s\" valueName=\"%s\" maxStrings=\"0\" />\n", s->name,
                 s->name);
        } else {
            putf(t, "        <text id=\"%s\" valueName=\"%s\" required=\"true\" />\n", s->name,
                 s->name);
        }
        put(t, "      </elements>\n    </policy>\n");
    }
    put(t, "  </policies>\n</policyDefinitions>\n");
}

static void string_entry(text *t, const char *id, const char *value)
{
    putf(t, "      <string id=\"%s\">", id);
    put_escaped(t, value);
    put(t, "</string>\n");
}

static void adml(text *t)
{
    size_t count;
    const regio_setting *settings = regio_settings(&count);
    put(t, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
           "<!-- Generated from the settings table (core/regio/settings.c) by\n"
           "     tests/unit/policy/policy_templates.c: do not edit by hand. -->\n"
           "<policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"\n"
           "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\"\n"
           "    schemaVersion=\"1.0\"\n"
           "    xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n"
           "  <displayName>imsrelay</displayName>\n"
           "  <description>Relay control and SMTP settings of the imsrelay service "
           "(MSExchangeIMC).</description>\n"
           "  <resources>\n    <stringTable>\n");
    string_entry(t, "SUPPORTED_imsrelay", "imsrelay 0.1 and later");
    string_entry(t, "imsrelay", "imsrelay SMTP relay");
    string_entry(t, "RelayControl", "Relay control");
    string_entry(t, "SmtpFrontEnd", "SMTP front end");
    string_entry(t, "Delivery", "Delivery");
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (!offered(s)) {
            continue;
        }
        string_entry(t, s->name, s->name);
        char explain[2048];
        snprintf(explain, sizeof(explain),
                 "%s\n\nDefault when neither this policy nor the service's Parameters key sets "
                 "it: %s.\n\nA value set here wins over the same value in "
                 "HKLM\\%s and is checked by the same rules; a value the service "
                 "cannot use is refused and the rules in force stay (see imsrelay.exe check). "
                 "Written to HKLM\\%s, value %s.",
                 s->meaning, s->default_text, IDENTITY_PARAMETERS_KEY, IDENTITY_POLICY_KEY,
                 s->name);
        char id[128];
        snprintf(id, sizeof(id), "%s_Explain", s->name);
        string_entry(t, id, explain);
        if (!strcmp(s->name, "RelayFlags")) {
            for (unsigned v = 0; v < 16; v++) {
                char label[160];
                relay_flags_label(v, label, sizeof(label));
                snprintf(id, sizeof(id), "RelayFlags_%u", v);
                string_entry(t, id, label);
            }
        }
    }
    put(t, "    </stringTable>\n    <presentationTable>\n");
    for (size_t i = 0; i < count; i++) {
        const regio_setting *s = &settings[i];
        if (!offered(s)) {
            continue;
        }
        putf(t, "      <presentation id=\"%s\">\n", s->name);
        if (!strcmp(s->name, "RelayFlags")) {
            put(t, "        <dropdownList refId=\"RelayFlags\" noSort=\"true\" defaultItem=\"0\">"
                   "Relay rules in effect</dropdownList>\n");
        } else if (s->kind == REGIO_SETTING_DWORD) {
            putf(t,
                 "        <decimalTextBox refId=\"%s\" defaultValue=\"%lu\">%s</decimalTextBox>\n",
                 s->name, (unsigned long)s->default_value, s->name);
        } else if (s->kind == REGIO_SETTING_LIST) {
            putf(t, "        <multiTextBox refId=\"%s\">%s, one per line</multiTextBox>\n", s->name,
                 s->name);
        } else {
            putf(t,
                 "        <textBox refId=\"%s\">\n          <label>%s</label>\n"
                 "        </textBox>\n",
                 s->name, s->name);
        }
        put(t, "      </presentation>\n");
    }
    put(t, "    </presentationTable>\n  </resources>\n</policyDefinitionResources>\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    text t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        buf[n] = 0;
        put(&t, buf);
    }
    fclose(f);
    *len = t.len;
    return t.bytes ? t.bytes : calloc(1, 1);
}

static bool write_file(const char *path, const text *t)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return false;
    }
    bool ok = fwrite(t->bytes, 1, t->len, f) == t->len;
    return fclose(f) == 0 && ok;
}

/* Every $(string.X) and $(presentation.X) the ADMX names has its entry in the ADML. */
static bool references_resolve(const char *admx_text, const char *adml_text)
{
    bool ok = true;
    static const char *const kinds[][2] = {{"$(string.", "<string id=\""},
                                           {"$(presentation.", "<presentation id=\""}};
    for (size_t k = 0; k < 2; k++) {
        for (const char *p = strstr(admx_text, kinds[k][0]); p; p = strstr(p + 1, kinds[k][0])) {
            const char *id = p + strlen(kinds[k][0]);
            size_t len = strcspn(id, ")");
            char want[256];
            snprintf(want, sizeof(want), "%s%.*s\"", kinds[k][1], (int)len, id);
            if (!strstr(adml_text, want)) {
                fprintf(stderr, "policy_templates: the ADML has no %s\n", want);
                ok = false;
            }
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "--write") && strcmp(argv[1], "--check"))) {
        fprintf(stderr, "usage: policy_templates --write|--check DIR\n");
        return 2;
    }
    text want_admx = {0}, want_adml = {0};
    admx(&want_admx);
    adml(&want_adml);
    char admx_path[4096], adml_path[4096];
    snprintf(admx_path, sizeof(admx_path), "%s/imsrelay.admx", argv[2]);
    snprintf(adml_path, sizeof(adml_path), "%s/en-US/imsrelay.adml", argv[2]);
    if (!strcmp(argv[1], "--write")) {
        if (!write_file(admx_path, &want_admx) || !write_file(adml_path, &want_adml)) {
            fprintf(stderr, "policy_templates: cannot write under %s\n", argv[2]);
            return 1;
        }
        return 0;
    }
    int rc = 0;
    size_t len;
    char *have_admx = read_file(admx_path, &len);
    char *have_adml = read_file(adml_path, &len);
    if (!have_admx || strcmp(have_admx, want_admx.bytes)) {
        fprintf(stderr,
                "policy_templates: %s is not what the settings table gives; run\n"
                "  policy_templates --write installer/policy\n",
                admx_path);
        rc = 1;
    }
    if (!have_adml || strcmp(have_adml, want_adml.bytes)) {
        fprintf(stderr, "policy_templates: %s is not what the settings table gives\n", adml_path);
        rc = 1;
    }
    if (have_admx && have_adml && !references_resolve(have_admx, have_adml)) {
        rc = 1;
    }
    free(have_admx);
    free(have_adml);
    free(want_admx.bytes);
    free(want_adml.bytes);
    if (rc == 0) {
        printf("policy_templates: %s and %s match the settings table\n", admx_path, adml_path);
    }
    return rc;
}
