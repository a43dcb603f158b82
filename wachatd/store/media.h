/*
 * media: the local store of the customers' media items.  Meta's media ids
 * expire after 7 days and their URLs after minutes, so what a customer
 * sent is downloaded at once and kept here, for the agents and for
 * transcription.
 *
 * One directory (mode 0700), two files per item, named after its media
 * id (checked: 1..128 of [A-Za-z0-9._-], never "." or ".."): "<id>" the
 * bytes and "<id>.meta" its type, file name and sha256, both mode 0600.
 * Downloads go to ".tmp-*" files first and are renamed into place once
 * their size and sha256 are checked, so an item is whole or absent.
 *
 * Bounded: past max_bytes in all, the oldest items go first; items older
 * than max_age go whatever the size.  Local to the host: with wachatd on
 * several hosts, an item is kept where it was downloaded.
 */

#ifndef WACHAT_MEDIA_H
#define WACHAT_MEDIA_H

#include <stddef.h>
#include <stdio.h>


#define WACHAT_MEDIA_MIME_MAX   128
#define WACHAT_MEDIA_NAME_MAX   256
#define WACHAT_MEDIA_PATH_MAX   4096


typedef struct wachat_media_store_s  wachat_media_store_t;


/* what is kept beside an item's bytes */
typedef struct {
    char    mime[WACHAT_MEDIA_MIME_MAX];      /* "image/jpeg" */
    char    name[WACHAT_MEDIA_NAME_MAX];      /* a document's file name */
    char    sha256[65];                       /* hex */
    size_t  size;
} wachat_media_meta_t;


/*
 * Creates dir (0700) if missing, and makes it 0700 if it is not.  NULL
 * with err filled when it cannot be used.
 */
wachat_media_store_t *wachat_media_store_open(const char *dir,
    size_t max_bytes, long long max_age_ms, char *err, size_t errlen);

void wachat_media_store_close(wachat_media_store_t *ms);

/* on reload: new bounds for the next evictions */
void wachat_media_store_limits(wachat_media_store_t *ms, size_t max_bytes,
    long long max_age_ms);

/* the largest item it takes (max_bytes) */
size_t wachat_media_store_max(const wachat_media_store_t *ms);

/*
 * A new temporary file to download into, opened for writing, its path in
 * path.  NULL on error (errno set).
 */
FILE *wachat_media_store_temp(wachat_media_store_t *ms, char *path,
    size_t len);

/*
 * Checks the temporary file at tmp against sha256 (hex or base64, as Meta
 * gives it; NULL: not checked) and declared (the size Meta announced, -1:
 * not checked), then keeps it as id with meta (its sha256 and size are
 * filled) and evicts what the bounds want gone.  tmp is removed in any
 * case.  0: kept; -1: why says what was wrong.
 */
int wachat_media_store_keep(wachat_media_store_t *ms, const char *tmp,
    const char *id, const char *sha256, long long declared,
    wachat_media_meta_t *meta, char *why, size_t whylen);

/*
 * An item to serve: its bytes opened read-only (the caller closes fd) and
 * its meta.  -1 when the id is not valid or the item is not (or no
 * longer) kept.
 */
int wachat_media_store_get(wachat_media_store_t *ms, const char *id,
    int *fd, wachat_media_meta_t *meta);

/* the path of an item's bytes, for a reader (transcription); -1: none */
int wachat_media_store_path(wachat_media_store_t *ms, const char *id,
    char *path, size_t len);

/*
 * Removes items past max_age, then the oldest until the store holds at
 * most max_bytes, and temporary files an hour old.  Returns the bytes the
 * store holds afterwards.
 */
size_t wachat_media_store_evict(wachat_media_store_t *ms);

/* a new item id for an agent's file: "out-" and 32 random hex digits */
int wachat_media_store_new_id(char *buf, size_t len);

/* removes an item (an agent's file that could not be queued) */
void wachat_media_store_remove(wachat_media_store_t *ms, const char *id);

/* 0 when id can name an item */
int wachat_media_store_check_id(const char *id);


#endif /* WACHAT_MEDIA_H */
