/*
 * kb_edit_file: the knowledge base's file for kb_edit.c: read with its
 * version, and replaced atomically with the previous one kept as .bak,
 * unless it changed meanwhile (see kb_edit.h).
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
#include "answer/kb_edit_int.h"


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


/* reads the file and checks the version the edit was made against */
wachat_kb_edit_rc_e
wachat_kb_file_open(const char *path, const char *version,
    wachat_kb_file_t *f, char *err, size_t errlen)
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
wachat_kb_edit_rc_e
wachat_kb_file_commit(const char *path, const wachat_kb_file_t *f,
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
