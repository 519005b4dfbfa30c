/* Where a queued message lives: MailRoot\Queue\<XX>\<id>.eml and <id>.state beside it, XX
 * two upper-case hex digits of a hash of the id (256 subfolders, as Postfix's hashed queue
 * folders). Under Wine creating a file costs a pass over its folder (a case-insensitive
 * name lookup), so one flat folder makes each new message dearer as the queue grows; with
 * the subfolders a queue of 50,000 messages puts about 200 in each.
 *
 * Files directly in Queue\ (queued by a version before the subfolders, or dropped there by
 * an administrator) are still found and delivered where they are: every reader looks in
 * the message's subfolder first, then in Queue\ itself. */
#ifndef IMSRELAY_QUEUE_PATH_H
#define IMSRELAY_QUEUE_PATH_H

#include <windows.h>

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#define QUEUE_PATH_SUBDIR_LEN 2

/* The subfolder name of an id (UTF-8): two hex digits and a NUL. */
void queue_path_subdir(const char *id, wchar_t out[QUEUE_PATH_SUBDIR_LEN + 1]);

/* true when name (a folder under Queue\) is one of the 256 subfolder names. */
bool queue_path_is_subdir(const wchar_t *name);

/* <queue_dir>\<XX> for id into out (chars long). false when it does not fit. */
bool queue_path_folder(wchar_t *out, size_t chars, const wchar_t *queue_dir, const char *id);

/* The folder holding the file at path (everything before its last backslash) into out.
 * false when it does not fit or path has no folder. */
bool queue_path_parent(wchar_t *out, size_t chars, const wchar_t *path);

/* A file found by queue_path_walk: its folder (Queue\ or one subfolder) and its entry;
 * false ends the walk (a service that stops does not read the rest of a large queue). */
typedef bool (*queue_path_visit)(const wchar_t *folder, const WIN32_FIND_DATAW *found, void *ctx);

/* Calls visit for every file (not folder) directly in queue_dir, then, when subfolders is
 * true, for every file in each subfolder that queue_path_is_subdir names. A folder that
 * cannot be read is skipped. false when a visit ended the walk. */
bool queue_path_walk(const wchar_t *queue_dir, bool subfolders, queue_path_visit visit, void *ctx);

#endif
