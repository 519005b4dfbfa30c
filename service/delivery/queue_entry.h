/* One message of MailRoot\Queue on disk (in Queue\<XX>\, or directly in Queue\ for files
 * of an older version: store/queue_path.h): the queue file (ID.eml, as the spool wrote it) and
 * its delivery journal beside it (ID.state, core/delivery/queue_state.h). The service's
 * queue manager and the `imsrelay queue` command both use this, so the only writes they
 * share are journal appends, made with sharing flags that let both work at once: an
 * append goes to the end of the file whoever else appended, and is flushed before the
 * caller goes on (a remote 250 is on disk before anything else happens).
 *
 * A torn last line (a crash in the middle of an append) is ended with CRLF before the next
 * record rather than truncated away: the torn line then fails its checksum and is skipped,
 * and no process ever shortens a file another may be appending to. */
#ifndef IMSRELAY_QUEUE_ENTRY_H
#define IMSRELAY_QUEUE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "queue_file.h"
#include "queue_state.h"

#define QUEUE_ENTRY_ID_MAX     64   /* the spool's ids are 35 characters */
#define QUEUE_ENTRY_PATH_MAX   1100 /* characters */
#define QUEUE_ENTRY_REASON_MAX 256

typedef struct queue_entry {
    char id[QUEUE_ENTRY_ID_MAX];
    /* <folder>\<id> (owned): the message is this + ".eml", its journal this + ".state".
     * Full paths are built when a file is opened, so a queue of tens of thousands does not
     * keep two buffers of QUEUE_ENTRY_PATH_MAX per message (4.4 KB each, before). */
    wchar_t *base_path;
    queue_file_envelope envelope;
    queue_state state;
    uint64_t size;    /* bytes of the message after the envelope */
    uint64_t arrival; /* the Q record's time, else the file's creation time (Unix seconds) */
} queue_entry;

typedef enum queue_entry_status {
    QUEUE_ENTRY_OK,
    QUEUE_ENTRY_GONE,      /* no such file (delivered, deleted, or never there) */
    QUEUE_ENTRY_MALFORMED, /* the envelope cannot be parsed: reason says why (Badmail) */
    QUEUE_ENTRY_IO_ERROR,  /* cannot be read now (out of memory, sharing, disk): try later */
} queue_entry_status;

/* Unix seconds now. */
uint64_t queue_entry_now(void);

/* true when id (UTF-8) is a plausible queue id: letters, digits, '.', '-', '_', 1..63. */
bool queue_entry_id_valid(const char *id);

/* Loads the message's envelope and its journal from Queue\<XX>\<id>.eml (queue_path.h), or
 * from Queue\<id>.eml when it is not in its subfolder (the flat layout of older versions),
 * with <id>.state beside it. record_queued: when the journal has no Q record yet, append
 * one (the service does; the command line never writes it). */
queue_entry_status queue_entry_load(const wchar_t *queue_dir, const char *id, bool record_queued,
                                    queue_entry *out, char *reason, size_t reason_size);
/* The same from exactly <folder>\<id>.eml (a file found by walking the queue). */
queue_entry_status queue_entry_load_in(const wchar_t *folder, const char *id, bool record_queued,
                                       queue_entry *out, char *reason, size_t reason_size);
void queue_entry_free(queue_entry *entry);

/* The folder that holds <id>.eml into folder (QUEUE_ENTRY_PATH_MAX characters): its
 * subfolder when the file is there, else Queue\ itself (queue_entry_load's order). */
bool queue_entry_folder_of(const wchar_t *queue_dir, const char *id, wchar_t *folder);

/* The message's file (ext L".eml") or its journal (L".state") into out, which holds
 * QUEUE_ENTRY_PATH_MAX characters; false (out empty) for an entry that was not loaded. */
bool queue_entry_path(const queue_entry *entry, const wchar_t *ext, wchar_t *out);

/* Reads the journal bytes appended by anyone since the last read (retry requests of the
 * command line). false on a read error or out of memory. */
bool queue_entry_refresh(queue_entry *entry);

/* Appends one record (from a queue_state_encode_* function), flushes it to disk, and
 * applies it (and whatever others appended before it) to entry->state. false when it is not
 * on disk. */
bool queue_entry_append(queue_entry *entry, const char *record, size_t length);

/* Removes the message: the queue file first (so a crash in between leaves a journal
 * without a file, which the next scan deletes), then the journal. */
bool queue_entry_remove(queue_entry *entry);

/* Moves <folder>\<name> (folder: Queue\ or the subfolder holding the file) into
 * MailRoot\Badmail (made if needed) with <name>.reason beside it holding `reason`; the
 * journal, if any, goes along. false when it could not be moved. */
bool queue_entry_to_badmail(const wchar_t *mail_root, const wchar_t *folder,
                            const wchar_t *file_name, const char *reason);

#endif
