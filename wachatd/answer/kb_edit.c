/*
 * kb_edit: see kb_edit.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <openssl/evp.h>

#include "answer/kb.h"
#include "answer/kb_edit.h"


typedef struct {
    char        *text;
    size_t       len;
    mode_t       mode;
    char         version[WACHAT_KB_VERSION_LEN + 1];
} wachat_kb_file_t;


static void
wachat_kb_hash(const char *text, size_t len, char *version)
{
    unsigned      i, n;
    unsigned char md[EVP_MAX_MD_SIZE];

    n = 0;
    EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);

    for (i = 0; i < n && i < 32; i++) {
        snprintf(version + 2 * i, 3, "%02x", md[i]);
    }

    version[2 * i] = '\0';
}


static int
wachat_kb_read_file(const char *path, wachat_kb_file_t *f, char *err,
    size_t errlen)
{
    int          fd;
    ssize_t      n;
    size_t       got;
    struct stat  st;

    memset(f, 0, sizeof(*f));

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fstat(fd, &st) == -1) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        if (fd != -1) {
            close(fd);
        }
        return -1;
    }

    if (st.st_size > WACHAT_KB_MAX_FILE) {
        snprintf(err, errlen, "%s: larger than %d bytes", path,
                 WACHAT_KB_MAX_FILE);
        close(fd);
        return -1;
    }

    /* room for the text, an edit, and a NUL */
    f->text = malloc((size_t) st.st_size + 1);
    f->mode = st.st_mode & 0666;

    for (got = 0; f->text && got < (size_t) st.st_size; got += (size_t) n) {
        n = read(fd, f->text + got, (size_t) st.st_size - got);

        if (n <= 0) {
            break;
        }
    }

    close(fd);

    if (f->text == NULL || got != (size_t) st.st_size) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 f->text ? "the file changed while it was read"
                         : "out of memory");
        free(f->text);
        f->text = NULL;
        return -1;
    }

    f->text[got] = '\0';
    f->len = got;
    wachat_kb_hash(f->text, f->len, f->version);

    return 0;
}


int
wachat_kb_version(const char *path, char *version, char *err, size_t errlen)
{
    wachat_kb_file_t  f;

    if (wachat_kb_read_file(path, &f, err, errlen) != 0) {
        return -1;
    }

    memcpy(version, f.version, sizeof(f.version));
    free(f.text);

    return 0;
}


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


/* writes text to path through a temporary file, fsynced, renamed over */
static int
wachat_kb_put(const char *path, const char *text, size_t len, mode_t mode,
    char *err, size_t errlen)
{
    int      fd;
    char     tmp[4096], dir[4096];
    size_t   done;
    ssize_t  n;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid());

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd == -1) {
        snprintf(err, errlen, "cannot write %s: %s (wachatd needs to write "
                 "the knowledge base's directory to edit it)", tmp,
                 strerror(errno));
        return -1;
    }

    for (done = 0; done < len; done += (size_t) n) {
        n = write(fd, text + done, len - done);

        if (n <= 0) {
            break;
        }
    }

    if (done != len || fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }

    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s over %s: %s", tmp, path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }

    /* the rename itself survives a crash only once the directory is synced */
    snprintf(dir, sizeof(dir), "%s", path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd != -1) {
        (void) fsync(fd);
        close(fd);
    }

    return 0;
}


/*
 * The edited text replaces the file, unless the file changed since the
 * version the edit was made against, or since this process read it.
 */
static wachat_kb_edit_rc_e
wachat_kb_commit(const char *path, const wachat_kb_file_t *f,
    const char *text, size_t len, char *err, size_t errlen)
{
    char              bak[4096];
    wachat_kb_file_t  now;

    if (wachat_kb_read_file(path, &now, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EIO;
    }

    if (strcmp(now.version, f->version) != 0) {
        free(now.text);
        snprintf(err, errlen, "%s changed on disk meanwhile: nothing "
                 "written", path);
        return WACHAT_KB_EDIT_ECONFLICT;
    }

    snprintf(bak, sizeof(bak), "%s.bak", path);

    if (wachat_kb_put(bak, now.text, now.len, f->mode, err, errlen) != 0
        || wachat_kb_put(path, text, len, f->mode, err, errlen) != 0)
    {
        free(now.text);
        return WACHAT_KB_EDIT_EIO;
    }

    free(now.text);

    return WACHAT_KB_EDIT_OK;
}


/* reads the file and checks the version the edit was made against */
static wachat_kb_edit_rc_e
wachat_kb_open(const char *path, const char *version, wachat_kb_file_t *f,
    char *err, size_t errlen)
{
    if (wachat_kb_read_file(path, f, err, errlen) != 0) {
        return WACHAT_KB_EDIT_EIO;
    }

    if (version == NULL || strcmp(version, f->version) != 0) {
        snprintf(err, errlen, "the knowledge base changed since you read it "
                 "(someone edited %s): reload it and make the change again",
                 path);
        free(f->text);
        f->text = NULL;
        return WACHAT_KB_EDIT_ECONFLICT;
    }

    return WACHAT_KB_EDIT_OK;
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

    rc = wachat_kb_open(path, version, &f, err, errlen);
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

    rc = wachat_kb_commit(path, &f, text, n, err, errlen);

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

    rc = wachat_kb_open(path, version, &f, err, errlen);
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

    rc = wachat_kb_commit(path, &f, text, n, err, errlen);

    free(text);
    free(f.text);

    return rc;
}
