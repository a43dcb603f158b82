/*
 * media: the local store of the customers' media items (see media.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store/media.h"


#define WACHAT_MEDIA_TMP        ".tmp-"
#define WACHAT_MEDIA_META       ".meta"
#define WACHAT_MEDIA_TMP_AGE    3600        /* s: a download that died */


struct wachat_media_store_s {
    char       *dir;
    size_t      max_bytes;
    long long   max_age_ms;
};


typedef struct {
    char     id[WACHAT_MEDIA_NAME_MAX];
    size_t   bytes;                 /* the item and its meta */
    time_t   mtime;
} wachat_media_item_t;


int
wachat_media_store_check_id(const char *id)
{
    size_t  n;

    if (id == NULL) {
        return -1;
    }

    n = strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-");

    /* "." and ".." are not items; ".tmp-*" and "*.meta" are not ids */
    return (n > 0 && n <= 128 && id[n] == '\0' && id[0] != '.'
            && (n < sizeof(WACHAT_MEDIA_META)
                || strcmp(id + n - (sizeof(WACHAT_MEDIA_META) - 1),
                          WACHAT_MEDIA_META) != 0))
           ? 0 : -1;
}


wachat_media_store_t *
wachat_media_store_open(const char *dir, size_t max_bytes,
    long long max_age_ms, char *err, size_t errlen)
{
    struct stat            sb;
    wachat_media_store_t  *ms;

    if (dir == NULL || dir[0] == '\0') {
        snprintf(err, errlen, "media_dir is empty");
        return NULL;
    }

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "media_dir %s: %s", dir, strerror(errno));
        return NULL;
    }

    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "media_dir %s: not a directory", dir);
        return NULL;
    }

    /* the customers' pictures are nobody else's business */
    if ((sb.st_mode & 0777) != 0700 && chmod(dir, 0700) != 0) {
        snprintf(err, errlen, "media_dir %s: chmod 0700: %s", dir,
                 strerror(errno));
        return NULL;
    }

    ms = calloc(1, sizeof(wachat_media_store_t));
    if (ms == NULL || (ms->dir = strdup(dir)) == NULL) {
        free(ms);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    wachat_media_store_limits(ms, max_bytes, max_age_ms);

    return ms;
}


void
wachat_media_store_close(wachat_media_store_t *ms)
{
    if (ms) {
        free(ms->dir);
        free(ms);
    }
}


void
wachat_media_store_limits(wachat_media_store_t *ms, size_t max_bytes,
    long long max_age_ms)
{
    ms->max_bytes = max_bytes;
    ms->max_age_ms = max_age_ms;
}


size_t
wachat_media_store_max(const wachat_media_store_t *ms)
{
    return ms->max_bytes;
}


static int
wachat_media_path(const wachat_media_store_t *ms, const char *name,
    const char *suffix, char *path, size_t len)
{
    int  n;

    n = snprintf(path, len, "%s/%s%s", ms->dir, name, suffix);

    return n > 0 && (size_t) n < len ? 0 : -1;
}


FILE *
wachat_media_store_temp(wachat_media_store_t *ms, char *path, size_t len)
{
    int    fd;
    FILE  *f;

    if (wachat_media_path(ms, WACHAT_MEDIA_TMP "XXXXXX", "", path, len)
        != 0)
    {
        errno = ENAMETOOLONG;
        return NULL;
    }

    fd = mkstemp(path);         /* 0600 */
    if (fd < 0) {
        return NULL;
    }

    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
    }

    return f;
}


/* the sha256 of a file, as 32 bytes; -1 on a read error */
static int
wachat_media_digest(const char *path, unsigned char *md, size_t *size)
{
    int            rc;
    FILE          *f;
    size_t         n;
    EVP_MD_CTX    *ctx;
    unsigned char  buf[65536];

    f = fopen(path, "r");
    ctx = EVP_MD_CTX_new();

    if (f == NULL || ctx == NULL
        || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
    {
        if (f) {
            fclose(f);
        }
        EVP_MD_CTX_free(ctx);
        return -1;
    }

    *size = 0;

    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        *size += n;
    }

    rc = ferror(f) ? -1 : 0;

    if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
        rc = -1;
    }

    fclose(f);
    EVP_MD_CTX_free(ctx);

    return rc;
}


/* Meta's sha256: 64 hex digits (the media endpoint) or base64 (webhooks) */
static int
wachat_media_sha_matches(const unsigned char *md, const char *hex,
    const char *given)
{
    unsigned char  b64[64];
    size_t         n;

    n = strlen(given);

    if (n == 64) {
        return strcasecmp(hex, given) == 0;
    }

    EVP_EncodeBlock(b64, md, 32);

    return strcmp((const char *) b64, given) == 0;
}


/* a line of the meta file: no line break, no control character */
static void
wachat_media_clean(const char *s, char *buf, size_t len)
{
    unsigned char  *p;

    snprintf(buf, len, "%s", s);

    for (p = (unsigned char *) buf; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *p = '_';
        }
    }
}


static int
wachat_media_write_meta(const char *path, const wachat_media_meta_t *meta)
{
    int    fd;
    FILE  *f;
    char   mime[WACHAT_MEDIA_MIME_MAX], name[WACHAT_MEDIA_NAME_MAX];

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return -1;
    }

    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }

    wachat_media_clean(meta->mime, mime, sizeof(mime));
    wachat_media_clean(meta->name, name, sizeof(name));

    fprintf(f, "%s\n%s\n%s\n%zu\n", mime, name, meta->sha256, meta->size);

    return fclose(f) == 0 ? 0 : -1;
}


/* one line of the meta file, without its newline */
static void
wachat_media_line(FILE *f, char *buf, size_t len)
{
    if (fgets(buf, (int) len, f) == NULL) {
        buf[0] = '\0';
    }

    buf[strcspn(buf, "\n")] = '\0';
}


static int
wachat_media_read_meta(const char *path, wachat_media_meta_t *meta)
{
    FILE  *f;
    char   size[32];

    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }

    wachat_media_line(f, meta->mime, sizeof(meta->mime));
    wachat_media_line(f, meta->name, sizeof(meta->name));
    wachat_media_line(f, meta->sha256, sizeof(meta->sha256));
    wachat_media_line(f, size, sizeof(size));
    meta->size = (size_t) strtoull(size, NULL, 10);

    fclose(f);

    return 0;
}


int
wachat_media_store_keep(wachat_media_store_t *ms, const char *tmp,
    const char *id, const char *sha256, long long declared,
    wachat_media_meta_t *meta, char *why, size_t whylen)
{
    size_t          i, size;
    unsigned char   md[32];
    char            hex[65], path[WACHAT_MEDIA_PATH_MAX],
                    mpath[WACHAT_MEDIA_PATH_MAX];

    if (wachat_media_store_check_id(id) != 0
        || wachat_media_path(ms, id, "", path, sizeof(path)) != 0
        || wachat_media_path(ms, id, WACHAT_MEDIA_META, mpath, sizeof(mpath))
           != 0)
    {
        snprintf(why, whylen, "media id not usable as a file name");
        unlink(tmp);
        return -1;
    }

    if (wachat_media_digest(tmp, md, &size) != 0) {
        snprintf(why, whylen, "reading the download: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }

    for (i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }

    if (declared >= 0 && (unsigned long long) declared != size) {
        snprintf(why, whylen, "size mismatch: %zu bytes, Meta said %lld",
                 size, declared);
        unlink(tmp);
        return -1;
    }

    if (sha256 && sha256[0] && !wachat_media_sha_matches(md, hex, sha256)) {
        snprintf(why, whylen, "sha256 mismatch: got %s", hex);
        unlink(tmp);
        return -1;
    }

    if (size > ms->max_bytes) {
        snprintf(why, whylen, "%zu bytes: larger than media_max_bytes",
                 size);
        unlink(tmp);
        return -1;
    }

    memcpy(meta->sha256, hex, sizeof(hex));
    meta->size = size;

    /* the meta first: an item whose bytes are there always has its type */
    if (wachat_media_write_meta(mpath, meta) != 0
        || rename(tmp, path) != 0)
    {
        snprintf(why, whylen, "keeping %s: %s", id, strerror(errno));
        unlink(tmp);
        unlink(mpath);
        return -1;
    }

    wachat_media_store_evict(ms);

    return 0;
}


int
wachat_media_store_get(wachat_media_store_t *ms, const char *id, int *fd,
    wachat_media_meta_t *meta)
{
    char  path[WACHAT_MEDIA_PATH_MAX], mpath[WACHAT_MEDIA_PATH_MAX];

    memset(meta, 0, sizeof(wachat_media_meta_t));

    if (ms == NULL || wachat_media_store_check_id(id) != 0
        || wachat_media_path(ms, id, "", path, sizeof(path)) != 0
        || wachat_media_path(ms, id, WACHAT_MEDIA_META, mpath, sizeof(mpath))
           != 0
        || wachat_media_read_meta(mpath, meta) != 0)
    {
        return -1;
    }

    *fd = open(path, O_RDONLY | O_NOFOLLOW);

    return *fd >= 0 ? 0 : -1;
}


int
wachat_media_store_path(wachat_media_store_t *ms, const char *id, char *path,
    size_t len)
{
    if (ms == NULL || wachat_media_store_check_id(id) != 0
        || wachat_media_path(ms, id, "", path, len) != 0)
    {
        return -1;
    }

    return access(path, R_OK);
}


static int
wachat_media_older_first(const void *a, const void *b)
{
    const wachat_media_item_t  *x = a, *y = b;

    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }

    return strcmp(x->id, y->id);
}


static void
wachat_media_remove(const wachat_media_store_t *ms, const char *id)
{
    char  path[WACHAT_MEDIA_PATH_MAX];

    /* the bytes first: an item with meta and no bytes is simply absent */
    if (wachat_media_path(ms, id, "", path, sizeof(path)) == 0) {
        unlink(path);
    }

    if (wachat_media_path(ms, id, WACHAT_MEDIA_META, path, sizeof(path))
        == 0)
    {
        unlink(path);
    }
}


/* the items of the directory, each with its meta's bytes counted */
static wachat_media_item_t *
wachat_media_list(wachat_media_store_t *ms, size_t *n, time_t now)
{
    DIR                  *d;
    size_t                cap;
    struct stat           sb, mb;
    struct dirent        *de;
    wachat_media_item_t  *items, *p;
    char                  path[WACHAT_MEDIA_PATH_MAX];

    *n = 0;
    cap = 0;
    items = NULL;

    d = opendir(ms->dir);
    if (d == NULL) {
        return NULL;
    }

    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, WACHAT_MEDIA_TMP,
                    sizeof(WACHAT_MEDIA_TMP) - 1) == 0)
        {
            if (wachat_media_path(ms, de->d_name, "", path, sizeof(path)) == 0
                && stat(path, &sb) == 0
                && now - sb.st_mtime > WACHAT_MEDIA_TMP_AGE)
            {
                unlink(path);
            }
            continue;
        }

        if (wachat_media_store_check_id(de->d_name) != 0
            || wachat_media_path(ms, de->d_name, "", path, sizeof(path)) != 0
            || lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        {
            continue;
        }

        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            p = realloc(items, cap * sizeof(wachat_media_item_t));
            if (p == NULL) {
                break;
            }
            items = p;
        }

        p = &items[(*n)++];
        snprintf(p->id, sizeof(p->id), "%s", de->d_name);
        p->bytes = (size_t) sb.st_size;
        p->mtime = sb.st_mtime;

        if (wachat_media_path(ms, de->d_name, WACHAT_MEDIA_META, path,
                              sizeof(path)) == 0
            && stat(path, &mb) == 0)
        {
            p->bytes += (size_t) mb.st_size;
        }
    }

    closedir(d);

    return items;
}


size_t
wachat_media_store_evict(wachat_media_store_t *ms)
{
    size_t                i, n, total;
    time_t                now;
    wachat_media_item_t  *items;

    now = time(NULL);
    items = wachat_media_list(ms, &n, now);
    total = 0;

    for (i = 0; i < n; i++) {
        total += items[i].bytes;
    }

    if (n) {
        qsort(items, n, sizeof(wachat_media_item_t),
              wachat_media_older_first);
    }

    for (i = 0; i < n; i++) {
        if ((long long) (now - items[i].mtime) * 1000 <= ms->max_age_ms
            && total <= ms->max_bytes)
        {
            break;      /* the rest are newer */
        }

        wachat_media_remove(ms, items[i].id);
        total -= items[i].bytes;
    }

    free(items);

    return total;
}


int
wachat_media_store_new_id(char *buf, size_t len)
{
    size_t         i;
    unsigned char  rnd[16];

    if (len < 4 + 2 * sizeof(rnd) + 1 || RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return -1;
    }

    memcpy(buf, "out-", 4);

    for (i = 0; i < sizeof(rnd); i++) {
        snprintf(buf + 4 + 2 * i, 3, "%02x", rnd[i]);
    }

    return 0;
}


void
wachat_media_store_remove(wachat_media_store_t *ms, const char *id)
{
    if (ms && wachat_media_store_check_id(id) == 0) {
        wachat_media_remove(ms, id);
    }
}
