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


wachat_kb_edit_rc_e
wachat_kb_add_entry(const char *path, const char *version,
    const wachat_kb_new_entry_t *e, char *id_out, char *err, size_t errlen)
{
    char                     *text;
    size_t                    i, n, size, at;
    unsigned                  heading;
    wachat_kb_t              *kb;
    wachat_kb_file_t          f;
    wachat_kb_edit_rc_e       rc;
    const wachat_kb_entry_t  *made;

    if (wachat_kb_check_entry(e, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EINPUT;
    }

    rc = wachat_kb_file_open(path, version, &f, err, errlen);
    if (rc != WACHAT_KB_EDIT_OK) {
        return rc;
    }

    size = f.len + strlen(e->question) + strlen(e->answer)
           + (e->id ? strlen(e->id) : 0) + 64;

    for (i = 0; i < e->nalso; i++) {
        size += strlen(e->also[i]) + 3;
    }

    text = malloc(size);
    if (text == NULL) {
        free(f.text);
        snprintf(err, errlen, "out of memory");
        return WACHAT_KB_EDIT_EIO;
    }

    memcpy(text, f.text, f.len);
    n = f.len;

    /* a blank line between the last entry and this one */
    if (n && text[n - 1] != '\n') {
        text[n++] = '\n';
    }

    if (n) {
        text[n++] = '\n';
    }

    at = n;
    n += (size_t) snprintf(text + n, size - n, "## %s", e->question);

    if (e->id) {
        n += (size_t) snprintf(text + n, size - n, " {#%s}", e->id);
    }

    text[n++] = '\n';

    for (i = 0; i < e->nalso; i++) {
        n += (size_t) snprintf(text + n, size - n, "%s%s", i ? " | " : "Also: ",
                               e->also[i]);
    }

    if (e->nalso) {
        text[n++] = '\n';
    }

    n += (size_t) snprintf(text + n, size - n, "%s", e->answer);

    if (text[n - 1] != '\n') {
        text[n++] = '\n';
    }

    kb = wachat_kb_validate(path, text, n, err, errlen);

    if (kb == NULL) {
        free(text);
        free(f.text);
        return WACHAT_KB_EDIT_EINPUT;
    }

    heading = wachat_kb_count_lines(text, at);
    made = NULL;

    for (i = 0; i < wachat_kb_count(kb); i++) {
        if (wachat_kb_entry(kb, i)->line == heading) {
            made = wachat_kb_entry(kb, i);
        }
    }

    if (id_out) {
        snprintf(id_out, 256, "%s", made ? made->id : "");
    }

    wachat_kb_free(kb);

    rc = wachat_kb_file_commit(path, &f, text, n, err, errlen);

    free(text);
    free(f.text);

    return rc;
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


wachat_kb_edit_rc_e
wachat_kb_add_also(const char *path, const char *version, const char *id,
    const char *const *also, size_t nalso, char *err, size_t errlen)
{
    char                     *text;
    size_t                    i, n, size, at, eol;
    wachat_kb_t              *kb;
    wachat_kb_file_t          f;
    wachat_kb_edit_rc_e       rc;
    wachat_kb_new_entry_t     check;
    const wachat_kb_entry_t  *e;

    memset(&check, 0, sizeof(check));
    check.question = "x";
    check.answer = "x";
    check.also = also;
    check.nalso = nalso;

    if (nalso == 0) {
        snprintf(err, errlen, "no phrasing to add");
        return WACHAT_KB_EDIT_EINPUT;
    }

    if (wachat_kb_check_entry(&check, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EINPUT;
    }

    rc = wachat_kb_file_open(path, version, &f, err, errlen);
    if (rc != WACHAT_KB_EDIT_OK) {
        return rc;
    }

    kb = wachat_kb_parse(f.text, f.len, path, err, errlen);
    e = kb ? wachat_kb_get(kb, id) : NULL;

    if (e == NULL) {
        if (kb) {
            snprintf(err, errlen, "no entry with id \"%s\"", id);
        }

        wachat_kb_free(kb);
        free(f.text);
        return kb ? WACHAT_KB_EDIT_ENOENTRY : WACHAT_KB_EDIT_EIO;
    }

    /* the line after the heading: its Also: line, or where one goes */
    at = wachat_kb_line_at(f.text, f.len, e->line + 1);
    wachat_kb_free(kb);

    size = f.len + 16;

    for (i = 0; i < nalso; i++) {
        size += strlen(also[i]) + 3;
    }

    text = malloc(size);
    if (text == NULL) {
        free(f.text);
        snprintf(err, errlen, "out of memory");
        return WACHAT_KB_EDIT_EIO;
    }

    if (strncmp(f.text + at, "Also:", 5) == 0) {
        eol = at + strcspn(f.text + at, "\r\n");
        memcpy(text, f.text, eol);
        n = eol;

        for (i = 0; i < nalso; i++) {
            n += (size_t) snprintf(text + n, size - n, " | %s", also[i]);
        }

    } else {
        memcpy(text, f.text, at);
        n = at;

        /* a heading on the file's last line, without its newline */
        if (n && text[n - 1] != '\n') {
            text[n++] = '\n';
        }

        for (i = 0; i < nalso; i++) {
            n += (size_t) snprintf(text + n, size - n, "%s%s",
                                   i ? " | " : "Also: ", also[i]);
        }

        text[n++] = '\n';
        eol = at;
    }

    memcpy(text + n, f.text + eol, f.len - eol);
    n += f.len - eol;

    kb = wachat_kb_validate(path, text, n, err, errlen);

    if (kb == NULL) {
        free(text);
        free(f.text);
        return WACHAT_KB_EDIT_EINPUT;
    }

    wachat_kb_free(kb);

    rc = wachat_kb_file_commit(path, &f, text, n, err, errlen);

    free(text);
    free(f.text);

    return rc;
}
