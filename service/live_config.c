#include "live_config.h"

#include <string.h>

#include "reg_reader_win32.h"

bool live_config_read(live_config *out)
{
    memset(out, 0, sizeof(*out));
    ims_diag_list_init(&out->diags);
    out->config = ims_registry_read_config(&out->diags);
    out->policy = out->config ? relay_policy_build(out->config, &out->diags) : NULL;
    if (!out->policy) {
        live_config_free(out);
        return false;
    }
    return true;
}

void live_config_free(live_config *lc)
{
    relay_policy_free(lc->policy);
    ims_config_free(lc->config);
    ims_diag_list_free(&lc->diags);
    memset(lc, 0, sizeof(*lc));
}
