/*
 * kb_edit_int: the file layer kb_edit.c edits through (kb_edit_file.c).
 * Not for the rest of the daemon.
 */

#ifndef WACHAT_KB_EDIT_INT_H
#define WACHAT_KB_EDIT_INT_H

#include <stddef.h>

#include <sys/types.h>

#include "answer/kb_edit.h"


typedef struct {
    char        *text;
    size_t       len;
    mode_t       mode;
    char         version[WACHAT_KB_VERSION_LEN + 1];
} wachat_kb_file_t;


/* reads the file and checks the version the edit was made against */
wachat_kb_edit_rc_e wachat_kb_file_open(const char *path,
    const char *version, wachat_kb_file_t *f, char *err, size_t errlen);

/*
 * The edited text replaces the file, unless the file changed since the
 * version the edit was made against, or since this process read it.
 */
wachat_kb_edit_rc_e wachat_kb_file_commit(const char *path,
    const wachat_kb_file_t *f, const char *text, size_t len, char *err,
    size_t errlen);


#endif /* WACHAT_KB_EDIT_INT_H */
