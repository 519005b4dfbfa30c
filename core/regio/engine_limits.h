/* The SMTP engine's limits as the configuration sets them: the one place that says which
 * setting feeds which engine limit, so the service and the tests use the same mapping. */
#ifndef IMSRELAY_REGIO_ENGINE_LIMITS_H
#define IMSRELAY_REGIO_ENGINE_LIMITS_H

#include "config.h"
#include "smtp_limits.h"

/* MaxMessageBytes, MaxRecipients and MaxLineLength; the engine's defaults for the rest. */
smtp_limits regio_engine_limits(const regio_config *config);

#endif
