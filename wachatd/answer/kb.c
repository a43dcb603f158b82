/*
 * kb: loads and checks the Markdown knowledge base (format in kb.h).
 *
 * One pass over the lines collects an entry's heading, Also lines and
 * body; the entry is checked and copied into the KB's arena when the next
 * heading (or the end) closes it.  Button targets may point forward, so
 * they are checked once every id is known.  The first error stops it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer/kb_parse_int.h"
#include "wachat_utf8.h"


int
wachat_kb_fail(wachat_kb_parser_t *ps, unsigned line, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (ps->errlen == 0) {
        return -1;
    }

    n = line ? snprintf(ps->err, ps->errlen, "%s:%u: ", ps->name, line)
             : snprintf(ps->err, ps->errlen, "%s: ", ps->name);

    if (n >= 0 && (size_t) n < ps->errlen) {
        va_start(args, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t) n, fmt, args);
        va_end(args);
    }

    return -1;
}


int
wachat_kb_oom(wachat_kb_parser_t *ps)
{
    return wachat_kb_fail(ps, 0, "out of memory");
}


/* whole text: UTF-8 and no NUL, with the line of the first offence */
static int
wachat_kb_check_text(wachat_kb_parser_t *ps, const char *buf, size_t len)
{
    size_t    i, n;
    unsigned  line;
    uint32_t  cp;

    line = 1;

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_decode(buf + i, len - i, &cp);

        if (n == 0) {
            return wachat_kb_fail(ps, line, "invalid UTF-8");
        }

        if (cp == 0) {
            return wachat_kb_fail(ps, line, "NUL byte");
        }

        line += (cp == '\n');
    }

    return 0;
}


static int
wachat_kb_targets(wachat_kb_parser_t *ps)
{
    size_t                    e, i;
    uint32_t                  idx;
    const wachat_kb_entry_t  *en;

    for (e = 0; e < ps->kb->nentries; e++) {
        en = &ps->kb->entries[e];

        for (i = 0; i < en->nbuttons; i++) {
            if (strcmp(en->buttons[i].id, WACHAT_KB_LIVE_AGENT) != 0
                && !wachat_kb_map_get(&ps->kb->ids, en->buttons[i].id,
                                      strlen(en->buttons[i].id), &idx))
            {
                return wachat_kb_fail(ps, en->button_line, "button \"%s\" "
                                      "links to missing entry \"%s\"",
                                      en->buttons[i].title,
                                      en->buttons[i].id);
            }
        }
    }

    return 0;
}


static int
wachat_kb_run(wachat_kb_parser_t *ps, const char *buf, size_t len)
{
    int          open;
    size_t       n;
    unsigned     line;
    const char  *p, *end, *nl;

    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;                   /* a BOM from a Windows editor */
        len -= 3;
    }

    if (len == 0) {
        return wachat_kb_fail(ps, 1, "empty file");
    }

    if (len > WACHAT_KB_MAX_FILE) {
        return wachat_kb_fail(ps, 0, "larger than %d bytes",
                              WACHAT_KB_MAX_FILE);
    }

    if (wachat_kb_check_text(ps, buf, len) != 0) {
        return -1;
    }

    open = 0;
    line = 0;
    end = buf + len;

    for (p = buf; p < end; p = nl ? nl + 1 : end) {
        line++;
        nl = memchr(p, '\n', (size_t) (end - p));
        n = nl ? (size_t) (nl - p) : (size_t) (end - p);

        while (n > 0 && wachat_kb_space(p[n - 1])) {
            n--;
        }

        if (n >= 2 && p[0] == '#' && p[1] == '#'
            && (n == 2 || p[2] == ' ' || p[2] == '\t'))
        {
            if ((open && wachat_kb_close(ps) != 0)
                || wachat_kb_heading(ps, p, n, line) != 0)
            {
                return -1;
            }

            open = 1;
            continue;
        }

        if (open && wachat_kb_body_line(ps, p, n, line) != 0) {
            return -1;
        }

        /* before the first heading: the preamble, ignored but synonyms */
        if (!open && wachat_kb_synonym_line(ps, p, n, line) != 0) {
            return -1;
        }
    }

    if (!open) {
        return wachat_kb_fail(ps, 1, "no entries: an entry starts with a "
                              "\"## \" heading");
    }

    if (wachat_kb_close(ps) != 0 || wachat_kb_targets(ps) != 0) {
        return -1;
    }

    if (wachat_kb_synonyms(ps) != 0 || wachat_kb_index_build(ps->kb) != 0
        || wachat_kb_thesaurus_build(ps->kb) != 0)
    {
        return wachat_kb_oom(ps);
    }

    return 0;
}


/* API */


wachat_kb_t *
wachat_kb_parse(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
    int                 rc;
    wachat_kb_parser_t  ps;

    memset(&ps, 0, sizeof(ps));
    ps.name = name ? name : "kb";
    ps.err = err;
    ps.errlen = err ? errlen : 0;

    if (ps.errlen > 0) {
        err[0] = '\0';
    }

    ps.kb = calloc(1, sizeof(wachat_kb_t));
    if (ps.kb == NULL) {
        wachat_kb_oom(&ps);
        return NULL;
    }

    rc = (buf == NULL && len > 0) ? wachat_kb_fail(&ps, 0, "no data")
                                  : wachat_kb_run(&ps, buf ? buf : "", len);

    free(ps.also);
    free(ps.body);
    free(ps.syn);

    if (rc != 0) {
        wachat_kb_free(ps.kb);
        return NULL;
    }

    return ps.kb;
}


wachat_kb_t *
wachat_kb_load(const char *path, char *err, size_t errlen)
{
    int           e;
    FILE         *f;
    char         *buf, *nbuf;
    size_t        len, cap, n;
    struct stat   st;
    wachat_kb_t  *kb;

    f = fopen(path, "rb");
    if (f == NULL) {
        e = errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }

    /* whoever may write it puts words, links and buttons in our mouth */
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IWOTH)) {
        snprintf(err, errlen, "%s: writable by every user (mode %04o); run "
                 "chmod o-w on it", path, (unsigned) (st.st_mode & 07777));
        fclose(f);
        return NULL;
    }

    buf = NULL;
    len = 0;
    cap = 0;

    for ( ;; ) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            nbuf = realloc(buf, cap);
            if (nbuf == NULL) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto failed;
            }

            buf = nbuf;
        }

        n = fread(buf + len, 1, cap - len, f);
        len += n;

        if (len > WACHAT_KB_MAX_FILE) {
            snprintf(err, errlen, "%s: larger than %d bytes", path,
                     WACHAT_KB_MAX_FILE);
            goto failed;
        }

        if (n == 0) {
            break;
        }
    }

    if (ferror(f)) {
        e = errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        goto failed;
    }

    fclose(f);

    kb = wachat_kb_parse(buf, len, path, err, errlen);
    free(buf);

    return kb;

failed:

    fclose(f);
    free(buf);

    return NULL;
}
