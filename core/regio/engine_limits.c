#include "engine_limits.h"

smtp_limits regio_engine_limits(const regio_config *config)
{
    smtp_limits limits = {
            .max_message_bytes = config->max_message_bytes.value,
            .max_recipients = config->max_recipients.value,
            .max_line_length = config->max_line_length.value,
    };
    return limits;
}
