#include "config/live_config.h"

#include <string.h>

#include "config/reg_reader.h"

bool live_config_read(live_config *out)
{
    memset(out, 0, sizeof(*out));
    regio_diag_list_init(&out->diags);
    out->config = reg_reader_read_config(&out->diags);
    out->policy = out->config ? relay_policy_build(out->config, &out->diags) : NULL;
    if (!out->policy) {
        live_config_free(out);
        return false;
    }
    regio_config_note_sources(out->config, &out->diags, 0);
    return true;
}

void live_config_free(live_config *lc)
{
    relay_policy_free(lc->policy);
    regio_config_free(lc->config);
    regio_diag_list_free(&lc->diags);
    memset(lc, 0, sizeof(*lc));
}
