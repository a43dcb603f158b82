/*
 * The kb's lines, one kind at a time: a heading opens an entry, Also and
 * answer lines fill it, the preamble's Synonyms lines become groups; and
 * the small helpers every line uses (trim, push, an id's characters).
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer/kb_parse_int.h"
#include "wachat_utf8.h"


int
wachat_kb_push(wachat_kb_line_t **v, size_t *n, size_t *cap, const char *p,
    size_t len, unsigned line)
{
    size_t             c;
    wachat_kb_line_t  *nv;

    if (*n == *cap) {
        c = *cap ? *cap * 2 : 16;
        nv = realloc(*v, c * sizeof(wachat_kb_line_t));
        if (nv == NULL) {
            return -1;
        }

        *v = nv;
        *cap = c;
    }

    (*v)[*n].p = p;
    (*v)[*n].len = len;
    (*v)[*n].line = line;
    (*n)++;

    return 0;
}


int
wachat_kb_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}


void
wachat_kb_trim(const char **p, size_t *len)
{
    while (*len > 0 && wachat_kb_space(**p)) {
        (*p)++;
        (*len)--;
    }

    while (*len > 0 && wachat_kb_space((*p)[*len - 1])) {
        (*len)--;
    }
}


/* an id's characters (its length is checked apart) */
int
wachat_kb_id_ok(const char *id, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) id[i] <= ' ' || id[i] == 0x7f
            || strchr("()[]{}#", id[i]) != NULL)
        {
            return 0;
        }
    }

    return len > 0;
}


/* lines */


int
wachat_kb_heading(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line)
{
    size_t       i, chars;
    const char  *q;

    q = p + 2;
    len -= 2;
    wachat_kb_trim(&q, &len);

    ps->line = line;
    ps->id = NULL;
    ps->idlen = 0;
    ps->answering = 0;
    ps->nalso = 0;
    ps->nbody = 0;

    /* "{#id}" at the end */
    if (len > 0 && q[len - 1] == '}') {
        for (i = len - 1; i > 0; i--) {
            if (q[i - 1] == '{' && q[i] == '#') {
                ps->id = q + i + 1;
                ps->idlen = len - i - 2;
                len = i - 1;
                break;
            }
        }
    }

    wachat_kb_trim(&q, &len);
    ps->q = q;
    ps->qlen = len;

    if (len == 0) {
        return wachat_kb_fail(ps, line, "empty question");
    }

    if (ps->id == NULL) {
        return 0;
    }

    if (ps->idlen == 0) {
        return wachat_kb_fail(ps, line, "empty id");
    }

    chars = wachat_utf8_count(ps->id, ps->idlen);

    if (chars > WACHAT_KB_MAX_ID) {
        return wachat_kb_fail(ps, line, "id is %zu characters, at most %d",
                              chars, WACHAT_KB_MAX_ID);
    }

    if (!wachat_kb_id_ok(ps->id, ps->idlen)) {
        return wachat_kb_fail(ps, line, "invalid id \"%.*s\": no spaces or "
                              "()[]{}#", (int) ps->idlen, ps->id);
    }

    if (ps->idlen == sizeof(WACHAT_KB_LIVE_AGENT) - 1
        && memcmp(ps->id, WACHAT_KB_LIVE_AGENT, ps->idlen) == 0)
    {
        return wachat_kb_fail(ps, line, "id \"%s\" is reserved for the "
                              "handoff button", WACHAT_KB_LIVE_AGENT);
    }

    return 0;
}


/* "<word>:" (any case, ASCII or fullwidth colon): 0 if not, else its size */
static size_t
wachat_kb_prefix(const char *p, size_t len, const char *word)
{
    size_t  n;

    n = strlen(word);

    if (len < n + 1 || strncasecmp(p, word, n) != 0) {
        return 0;
    }

    if (p[n] == ':') {
        return n + 1;
    }

    return (len >= n + 3 && memcmp(p + n, "\xef\xbc\x9a", 3) == 0) ? n + 3 : 0;
}


int
wachat_kb_body_line(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line)
{
    size_t       n, k, bar;
    const char  *s;

    n = ps->answering ? 0 : wachat_kb_prefix(p, len, "also");

    if (n == 0) {
        if (len > 0) {
            ps->answering = 1;
        }

        return wachat_kb_push(&ps->body, &ps->nbody, &ps->body_cap, p, len,
                              line) ? wachat_kb_oom(ps) : 0;
    }

    p += n;
    len -= n;

    while (len > 0) {
        for (k = 0, bar = 0; k < len; k++) {
            if (p[k] == '|') {
                bar = 1;
                break;
            }

            if (len - k >= 3 && memcmp(p + k, "\xef\xbd\x9c", 3) == 0) {
                bar = 3;                    /* fullwidth ｜ */
                break;
            }
        }

        s = p;
        n = k;
        wachat_kb_trim(&s, &n);

        if (n > 0 && wachat_kb_push(&ps->also, &ps->nalso, &ps->also_cap, s,
                                    n, line) != 0)
        {
            return wachat_kb_oom(ps);
        }

        p += k + bar;
        len -= k + bar;
    }

    return 0;
}


/* "Synonyms: 單車 = 腳踏車 = 自行車" in the preamble: one group */
int
wachat_kb_synonym_line(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line)
{
    size_t  n;

    n = wachat_kb_prefix(p, len, "synonyms");

    if (n == 0) {
        return 0;
    }

    return wachat_kb_push(&ps->syn, &ps->nsyn, &ps->syn_cap, p + n, len - n,
                          line) ? wachat_kb_oom(ps) : 0;
}


/*
 * The KB's synonym groups, then the built-in ones.  Words are separated
 * by "=", ",", "|", "/" or their fullwidth forms (and "、"), and then
 * spaces join the words of a two-word synonym ("mtb = mountain bike");
 * without any of those, spaces separate words.  For the group builder a
 * space separates and "_" joins.
 */
int
wachat_kb_synonyms(wachat_kb_parser_t *ps)
{
    int           sep, explicit;
    char         *g, *o;
    char        **own;
    size_t        i, k, n;
    const char   *p, *end;

    static const char  *wide[] = {
        "\xef\xbc\x9d", "\xef\xbc\x8c", "\xef\xbd\x9c", "\xef\xbc\x8f",
        "\xe3\x80\x81", "\xe3\x80\x80"        /* the last: a space */
    };

    n = sizeof(wide) / sizeof(wide[0]);

    own = wachat_kb_alloc(&ps->kb->arena, (ps->nsyn + 1) * sizeof(char *));
    if (own == NULL) {
        return -1;
    }

    for (i = 0; i < ps->nsyn; i++) {
        g = wachat_kb_alloc(&ps->kb->arena, ps->syn[i].len + 1);
        if (g == NULL) {
            return -1;
        }

        end = ps->syn[i].p + ps->syn[i].len;
        explicit = 0;

        for (p = ps->syn[i].p; p < end && !explicit; p++) {
            explicit = strchr("=,|/", *p) != NULL;

            for (k = 0; k + 1 < n && !explicit; k++) {
                explicit = (size_t) (end - p) >= 3
                           && memcmp(p, wide[k], 3) == 0;
            }
        }

        o = g;

        for (p = ps->syn[i].p; p < end; p += (k < n) ? 3 : 1) {
            for (k = 0; k < n; k++) {
                if ((size_t) (end - p) >= 3 && memcmp(p, wide[k], 3) == 0) {
                    break;
                }
            }

            sep = (k + 1 < n) || (k == n && strchr("=,|/", *p) != NULL);

            if (!sep && k == n && *p != ' ' && *p != '\t') {
                *o++ = *p;
                continue;
            }

            /* a separator, or a space: between words of one synonym? */
            if (!sep && explicit) {
                if (o > g && o[-1] != ' ' && o[-1] != '_') {
                    *o++ = '_';
                }

                continue;
            }

            if (o > g && o[-1] == '_') {
                o--;
            }

            *o++ = ' ';
        }

        if (o > g && o[-1] == '_') {
            o--;
        }

        *o = '\0';
        own[i] = g;
    }

    return wachat_kb_synonyms_build(ps->kb, (const char *const *) own,
                                    ps->nsyn);
}
