/* `check`: the spool's folders must share a volume. A message is written under MailRoot\Tmp
 * and renamed into Queue or Drop, and a rename cannot cross volumes: with Queue mounted
 * elsewhere (a junction or mount point) every relayed message would get 451 whatever the
 * free space. */
#ifndef IMSRELAY_CHECK_VOLUMES_H
#define IMSRELAY_CHECK_VOLUMES_H

#include <stddef.h>

/* Prints a warning for each of Queue and Drop that exists on another volume than Tmp;
 * returns how many it printed. Folders that do not exist yet are not judged. */
size_t check_volumes_warn(const char *mail_root);

#endif
