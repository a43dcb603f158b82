/*
 * kb_edit: see kb_edit.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb.h"
#include "answer/kb_edit_int.h"


/* one line of text, as a heading or a phrasing must be */
static int
wachat_kb_one_line(const char *s, const char *what, char *err, size_t errlen)
{
    if (s == NULL || *s == '\0' || strspn(s, " \t") == strlen(s)) {
        snprintf(err, errlen, "%s is empty", what);
        return -1;
    }

    if (strpbrk(s, "\r\n") != NULL) {
        snprintf(err, errlen, "%s must be one line", what);
        return -1;
    }

    return 0;
}


static int
wachat_kb_check_entry(const wachat_kb_new_entry_t *e, char *err,
    size_t errlen)
{
    size_t       i;
    const char  *p;

    if (wachat_kb_one_line(e->question, "the question", err, errlen) != 0) {
        return -1;
    }

    if (strstr(e->question, "{#") != NULL) {
        snprintf(err, errlen, "the question must not hold \"{#\": give the "
                 "id apart");
        return -1;
    }

    if (e->answer == NULL || strspn(e->answer, " \t\r\n") == strlen(e->answer))
    {
        snprintf(err, errlen, "the answer is empty");
        return -1;
    }

    /* a line of the answer must not start an entry of its own */
    for (p = e->answer; p; p = strchr(p, '\n')) {
        p += *p == '\n';

        if (strncmp(p, "## ", 3) == 0) {
            snprintf(err, errlen, "a line of the answer starts with \"## \", "
                     "which would start another entry");
            return -1;
        }
    }

    for (i = 0; i < e->nalso; i++) {
        if (wachat_kb_one_line(e->also[i], "a phrasing", err, errlen) != 0) {
            return -1;
        }

        if (strchr(e->also[i], '|') || strstr(e->also[i], "\xef\xbd\x9c")) {
            snprintf(err, errlen, "a phrasing must not hold \"|\", which "
                     "separates them");
            return -1;
        }
    }

    return 0;
}


/* the parser's verdict on the edited text; the KB (to free) when good */
static wachat_kb_t *
wachat_kb_validate(const char *path, const char *text, size_t len, char *err,
    size_t errlen)
{
    return wachat_kb_parse(text, len, path, err, errlen);
}


static unsigned
wachat_kb_count_lines(const char *s, size_t n)
{
    unsigned  lines;

    for (lines = 1; n--; s++) {
        lines += *s == '\n';
    }

    return lines;
}


/* the room phrasings take on an Also: line, with their separators */
static size_t
wachat_kb_also_size(const char *const *also, size_t nalso)
{
    size_t  i, size;

    size = 0;

    for (i = 0; i < nalso; i++) {
        size += strlen(also[i]) + 3;
    }

    return size;
}


/*
 * Writes the phrasings at text + n, the first after first ("Also: " to
 * start the line, " | " to go on with one), the others after " | ".
 * Returns the length of the text.
 */
static size_t
wachat_kb_put_also(char *text, size_t size, size_t n,
    const char *const *also, size_t nalso, const char *first)
{
    size_t  i;

    for (i = 0; i < nalso; i++) {
        n += (size_t) snprintf(text + n, size - n, "%s%s", i ? " | " : first,
                               also[i]);
    }

    return n;
}


/* the id of the entry whose heading is on line heading into id_out */
static void
wachat_kb_id_at(wachat_kb_t *kb, unsigned heading, char *id_out)
{
    size_t                    i;
    const wachat_kb_entry_t  *made;

    made = NULL;

    for (i = 0; i < wachat_kb_count(kb); i++) {
        if (wachat_kb_entry(kb, i)->line == heading) {
            made = wachat_kb_entry(kb, i);
        }
    }

    snprintf(id_out, 256, "%s", made ? made->id : "");
}


/*
 * The end of both edits: the edited text (NULL: out of memory) must
 * parse, then replaces the file (wachat_kb_file_commit).  id_out
 * (optional) gets the id of the entry headed on line heading.  Frees
 * text and f->text.
 */
static wachat_kb_edit_rc_e
wachat_kb_replace(const char *path, wachat_kb_file_t *f, char *text,
    size_t len, unsigned heading, char *id_out, char *err, size_t errlen)
{
    wachat_kb_t          *kb;
    wachat_kb_edit_rc_e   rc;

    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = WACHAT_KB_EDIT_EIO;

    } else if ((kb = wachat_kb_validate(path, text, len, err, errlen))
               == NULL)
    {
        rc = WACHAT_KB_EDIT_EINPUT;

    } else {
        if (id_out) {
            wachat_kb_id_at(kb, heading, id_out);
        }

        wachat_kb_free(kb);
        rc = wachat_kb_file_commit(path, f, text, len, err, errlen);
    }

    free(text);
    free(f->text);

    return rc;
}


/*
 * The file's text with the entry appended after a blank line; *heading
 * gets the line of its heading.  NULL: out of memory.
 */
static char *
wachat_kb_entry_text(const wachat_kb_file_t *f,
    const wachat_kb_new_entry_t *e, size_t *len, unsigned *heading)
{
    char    *text;
    size_t   n, size;

    size = f->len + strlen(e->question) + strlen(e->answer)
           + (e->id ? strlen(e->id) : 0) + 64
           + wachat_kb_also_size(e->also, e->nalso);

    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }

    memcpy(text, f->text, f->len);
    n = f->len;

    /* a blank line between the last entry and this one */
    if (n && text[n - 1] != '\n') {
        text[n++] = '\n';
    }

    if (n) {
        text[n++] = '\n';
    }

    *heading = wachat_kb_count_lines(text, n);
    n += (size_t) snprintf(text + n, size - n, "## %s", e->question);

    if (e->id) {
        n += (size_t) snprintf(text + n, size - n, " {#%s}", e->id);
    }

    text[n++] = '\n';

    if (e->nalso) {
        n = wachat_kb_put_also(text, size, n, e->also, e->nalso, "Also: ");
        text[n++] = '\n';
    }

    n += (size_t) snprintf(text + n, size - n, "%s", e->answer);

    if (text[n - 1] != '\n') {
        text[n++] = '\n';
    }

    *len = n;

    return text;
}


wachat_kb_edit_rc_e
wachat_kb_add_entry(const char *path, const char *version,
    const wachat_kb_new_entry_t *e, char *id_out, char *err, size_t errlen)
{
    char                 *text;
    size_t                len;
    unsigned              heading;
    wachat_kb_file_t      f;
    wachat_kb_edit_rc_e   rc;

    if (wachat_kb_check_entry(e, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EINPUT;
    }

    rc = wachat_kb_file_open(path, version, &f, err, errlen);
    if (rc != WACHAT_KB_EDIT_OK) {
        return rc;
    }

    len = 0;
    heading = 0;
    text = wachat_kb_entry_text(&f, e, &len, &heading);

    return wachat_kb_replace(path, &f, text, len, heading, id_out, err,
                             errlen);
}


/* the byte where line (1-based) starts, or len past the end */
static size_t
wachat_kb_line_at(const char *s, size_t len, unsigned line)
{
    size_t  i;

    for (i = 0; i < len && line > 1; i++) {
        line -= s[i] == '\n';
    }

    return i;
}


/* phrasings to add: one at least, each as an entry's must be */
static int
wachat_kb_check_also(const char *const *also, size_t nalso, char *err,
    size_t errlen)
{
    wachat_kb_new_entry_t  check;

    memset(&check, 0, sizeof(check));
    check.question = "x";
    check.answer = "x";
    check.also = also;
    check.nalso = nalso;

    if (nalso == 0) {
        snprintf(err, errlen, "no phrasing to add");
        return -1;
    }

    return wachat_kb_check_entry(&check, err, errlen);
}


/*
 * Where phrasings for entry id go in the file: the line after its
 * heading, its Also: line or where one goes.
 */
static wachat_kb_edit_rc_e
wachat_kb_also_at(const char *path, const wachat_kb_file_t *f,
    const char *id, size_t *at, char *err, size_t errlen)
{
    wachat_kb_t              *kb;
    const wachat_kb_entry_t  *e;

    kb = wachat_kb_parse(f->text, f->len, path, err, errlen);
    if (kb == NULL) {
        return WACHAT_KB_EDIT_EIO;
    }

    e = wachat_kb_get(kb, id);

    if (e == NULL) {
        snprintf(err, errlen, "no entry with id \"%s\"", id);
        wachat_kb_free(kb);
        return WACHAT_KB_EDIT_ENOENTRY;
    }

    *at = wachat_kb_line_at(f->text, f->len, e->line + 1);
    wachat_kb_free(kb);

    return WACHAT_KB_EDIT_OK;
}


/* the file's text with the phrasings added at at; NULL: out of memory */
static char *
wachat_kb_also_text(const wachat_kb_file_t *f, size_t at,
    const char *const *also, size_t nalso, size_t *len)
{
    char    *text;
    size_t   n, size, eol;

    size = f->len + 16 + wachat_kb_also_size(also, nalso);

    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }

    if (strncmp(f->text + at, "Also:", 5) == 0) {
        eol = at + strcspn(f->text + at, "\r\n");
        memcpy(text, f->text, eol);
        n = wachat_kb_put_also(text, size, eol, also, nalso, " | ");

    } else {
        memcpy(text, f->text, at);
        n = at;

        /* a heading on the file's last line, without its newline */
        if (n && text[n - 1] != '\n') {
            text[n++] = '\n';
        }

        n = wachat_kb_put_also(text, size, n, also, nalso, "Also: ");
        text[n++] = '\n';
        eol = at;
    }

    memcpy(text + n, f->text + eol, f->len - eol);
    *len = n + f->len - eol;

    return text;
}


wachat_kb_edit_rc_e
wachat_kb_add_also(const char *path, const char *version, const char *id,
    const char *const *also, size_t nalso, char *err, size_t errlen)
{
    char                 *text;
    size_t                at, len;
    wachat_kb_file_t      f;
    wachat_kb_edit_rc_e   rc;

    if (wachat_kb_check_also(also, nalso, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EINPUT;
    }

    rc = wachat_kb_file_open(path, version, &f, err, errlen);
    if (rc != WACHAT_KB_EDIT_OK) {
        return rc;
    }

    rc = wachat_kb_also_at(path, &f, id, &at, err, errlen);
    if (rc != WACHAT_KB_EDIT_OK) {
        free(f.text);
        return rc;
    }

    len = 0;
    text = wachat_kb_also_text(&f, at, also, nalso, &len);

    return wachat_kb_replace(path, &f, text, len, 0, NULL, err, errlen);
}
