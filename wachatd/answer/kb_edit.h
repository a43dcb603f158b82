/*
 * kb_edit: the knowledge base written from the console: a new entry, or
 * new "Also:" phrasings for an existing one, into the Markdown file the
 * business edits by hand too.
 *
 * The file's text is edited where it stands (comments, order and blank
 * lines kept), the result is parsed with the same rules as at load (a
 * mistake is refused with the parser's reason), and written atomically
 * (a temporary file renamed over it, the previous one kept as <kb>.bak).
 * An edit names the version it was made against, the SHA-256 of the file
 * it saw: a file changed on disk since is not overwritten.
 */

#ifndef WACHAT_KB_EDIT_H
#define WACHAT_KB_EDIT_H

#include <stddef.h>


#define WACHAT_KB_VERSION_LEN  64           /* hex SHA-256 */


typedef enum {
    WACHAT_KB_EDIT_OK = 0,
    WACHAT_KB_EDIT_EINPUT,          /* the edit breaks a KB rule: err */
    WACHAT_KB_EDIT_ECONFLICT,       /* the file changed since version */
    WACHAT_KB_EDIT_ENOENTRY,        /* no entry with that id */
    WACHAT_KB_EDIT_EIO              /* cannot read or write the file: err */
} wachat_kb_edit_rc_e;


typedef struct {
    const char          *question;
    const char          *id;            /* NULL: the parser's slug */
    const char          *answer;
    const char *const   *also;
    size_t               nalso;
} wachat_kb_new_entry_t;


/* the file's current version (hex SHA-256) into version[65]; -1 on error */
int wachat_kb_version(const char *path, char *version, char *err,
    size_t errlen);

/* appends the entry; id_out (optional, 256 bytes) gets its id */
wachat_kb_edit_rc_e wachat_kb_add_entry(const char *path,
    const char *version, const wachat_kb_new_entry_t *e, char *id_out,
    char *err, size_t errlen);

/* adds phrasings to the "Also:" line of entry id (or makes one) */
wachat_kb_edit_rc_e wachat_kb_add_also(const char *path,
    const char *version, const char *id, const char *const *also,
    size_t nalso, char *err, size_t errlen);


#endif /* WACHAT_KB_EDIT_H */
