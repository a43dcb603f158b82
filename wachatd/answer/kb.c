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

#include "answer/kb_int.h"
#include "wachat_utf8.h"


typedef struct {
    const char  *p;
    size_t       len;
    unsigned     line;
} wachat_kb_line_t;


typedef struct {
    const char  *title;
    size_t       tlen;
    const char  *target;            /* after "(", "#" included */
    size_t       len;
} wachat_kb_link_t;


typedef struct {
    const char         *name;
    char               *err;
    size_t              errlen;
    wachat_kb_t        *kb;
    size_t              cap;        /* of kb->entries */

    /* the open entry */
    unsigned            line;
    const char         *q;
    size_t              qlen;
    const char         *id;         /* NULL: make a slug */
    size_t              idlen;
    int                 answering;  /* an answer line came: no more Also */
    wachat_kb_line_t   *also;
    size_t              nalso, also_cap;
    wachat_kb_line_t   *body;
    size_t              nbody, body_cap;

    /* the preamble's "Synonyms:" lines */
    wachat_kb_line_t   *syn;
    size_t              nsyn, syn_cap;
} wachat_kb_parser_t;


/* helpers */

static int
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


static int
wachat_kb_oom(wachat_kb_parser_t *ps)
{
    return wachat_kb_fail(ps, 0, "out of memory");
}


static int
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


static int
wachat_kb_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}


static void
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
static int
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


/*
 * A line made only of Markdown links: returns how many (storing up to
 * max), 0 when the line is anything else.  *hashes counts "#" targets.
 */
static size_t
wachat_kb_links(const char *p, size_t len, wachat_kb_link_t *links,
    size_t max, size_t *hashes)
{
    size_t             n;
    const char        *end, *t;
    wachat_kb_link_t   link;

    end = p + len;
    n = 0;
    *hashes = 0;

    for ( ;; ) {
        while (p < end && wachat_kb_space(*p)) {
            p++;
        }

        if (p == end) {
            return n;
        }

        if (*p++ != '[') {
            return 0;
        }

        for (t = p; p < end && *p != ']' && *p != '['; p++) {
            /* the title */
        }

        if (end - p < 2 || p[0] != ']' || p[1] != '(') {
            return 0;
        }

        link.title = t;
        link.tlen = (size_t) (p - t);
        wachat_kb_trim(&link.title, &link.tlen);
        p += 2;

        for (t = p; p < end && *p != ')' && !wachat_kb_space(*p); p++) {
            /* the target */
        }

        if (p == end || *p != ')' || p == t) {
            return 0;
        }

        link.target = t;
        link.len = (size_t) (p - t);
        p++;

        if (link.target[0] == '#') {
            (*hashes)++;
        }

        if (n < max) {
            links[n] = link;
        }

        n++;
    }
}


/* closing an entry */

/* button i of a line: its title and id within limits, none seen before */
static int
wachat_kb_button_check(wachat_kb_parser_t *ps, const wachat_kb_line_t *l,
    const wachat_kb_link_t *links, size_t i)
{
    size_t                   k, chars;
    const wachat_kb_link_t  *b;

    b = &links[i];

    if (b->tlen == 0) {
        return wachat_kb_fail(ps, l->line, "empty button title");
    }

    chars = wachat_utf8_count(b->title, b->tlen);

    if (chars > WACHAT_KB_MAX_TITLE) {
        return wachat_kb_fail(ps, l->line,
                              "button title \"%.*s\" is %zu characters, "
                              "at most %d", (int) b->tlen, b->title, chars,
                              WACHAT_KB_MAX_TITLE);
    }

    chars = wachat_utf8_count(b->target + 1, b->len - 1);

    if (chars > WACHAT_KB_MAX_ID) {
        return wachat_kb_fail(ps, l->line,
                              "button \"%.*s\": id is %zu characters, "
                              "at most %d", (int) b->tlen, b->title, chars,
                              WACHAT_KB_MAX_ID);
    }

    if (!wachat_kb_id_ok(b->target + 1, b->len - 1)) {
        return wachat_kb_fail(ps, l->line,
                              "button \"%.*s\": invalid id \"%.*s\"",
                              (int) b->tlen, b->title, (int) b->len - 1,
                              b->target + 1);
    }

    for (k = 0; k < i; k++) {
        if (links[k].tlen == b->tlen
            && memcmp(links[k].title, b->title, b->tlen) == 0)
        {
            return wachat_kb_fail(ps, l->line,
                                  "duplicate button title \"%.*s\"",
                                  (int) b->tlen, b->title);
        }

        if (links[k].len == b->len
            && memcmp(links[k].target, b->target, b->len) == 0)
        {
            return wachat_kb_fail(ps, l->line,
                                  "duplicate button id \"%.*s\"",
                                  (int) b->len - 1, b->target + 1);
        }
    }

    return 0;
}


static int
wachat_kb_buttons(wachat_kb_parser_t *ps, wachat_kb_entry_t *en,
    const wachat_kb_line_t *l)
{
    size_t              n, i, hashes;
    wachat_kb_link_t    links[WACHAT_KB_MAX_BUTTONS];
    wachat_kb_arena_t  *a;

    a = &ps->kb->arena;
    n = wachat_kb_links(l->p, l->len, links, WACHAT_KB_MAX_BUTTONS, &hashes);

    if (n > WACHAT_KB_MAX_BUTTONS) {
        return wachat_kb_fail(ps, l->line, "%zu buttons, at most %d", n,
                              WACHAT_KB_MAX_BUTTONS);
    }

    for (i = 0; i < n; i++) {
        if (wachat_kb_button_check(ps, l, links, i) != 0) {
            return -1;
        }

        en->buttons[i].title = wachat_kb_strndup(a, links[i].title,
                                                 links[i].tlen);
        en->buttons[i].id = wachat_kb_strndup(a, links[i].target + 1,
                                              links[i].len - 1);

        if (en->buttons[i].title == NULL || en->buttons[i].id == NULL) {
            return wachat_kb_oom(ps);
        }
    }

    en->nbuttons = n;
    en->button_line = l->line;

    return 0;
}


/* the body lines from first to last, blank runs made one blank line */
static char *
wachat_kb_answer(wachat_kb_parser_t *ps, size_t first, size_t last)
{
    char    *answer, *o;
    size_t   i, size;

    size = 1;

    for (i = first; i <= last; i++) {
        size += ps->body[i].len + 1;
    }

    answer = wachat_kb_alloc(&ps->kb->arena, size);
    if (answer == NULL) {
        return NULL;
    }

    o = answer;

    for (i = first; i <= last; i++) {
        if (ps->body[i].len == 0 && ps->body[i - 1].len == 0) {
            continue;               /* first is never blank */
        }

        if (i > first) {
            *o++ = '\n';
        }

        memcpy(o, ps->body[i].p, ps->body[i].len);
        o += ps->body[i].len;
    }

    *o = '\0';

    return answer;
}


/* a new entry at the end of kb->entries (not counted until it is whole) */
static wachat_kb_entry_t *
wachat_kb_new_entry(wachat_kb_parser_t *ps)
{
    size_t              cap;
    wachat_kb_entry_t  *en, *entries;

    if (ps->kb->nentries == ps->cap) {
        cap = ps->cap ? ps->cap * 2 : 32;
        entries = realloc(ps->kb->entries, cap * sizeof(wachat_kb_entry_t));
        if (entries == NULL) {
            return NULL;
        }

        ps->kb->entries = entries;
        ps->cap = cap;
    }

    en = &ps->kb->entries[ps->kb->nentries];
    memset(en, 0, sizeof(*en));
    en->line = ps->line;

    return en;
}


/* the entry's id (given or made from the question), unique in the KB */
static int
wachat_kb_entry_id(wachat_kb_parser_t *ps, wachat_kb_entry_t *en)
{
    int                 rc, slug;
    char                sbuf[WACHAT_KB_SLUG_SIZE];
    uint32_t            old;
    wachat_kb_arena_t  *a;

    a = &ps->kb->arena;
    slug = (ps->id == NULL);

    if (slug) {
        wachat_kb_slug(ps->q, ps->qlen, sbuf);
        ps->id = sbuf;
        ps->idlen = strlen(sbuf);
    }

    en->id = wachat_kb_strndup(a, ps->id, ps->idlen);
    en->question = wachat_kb_strndup(a, ps->q, ps->qlen);

    if (slug) {
        ps->id = NULL;          /* sbuf goes with this call */
    }

    if (en->id == NULL || en->question == NULL) {
        return wachat_kb_oom(ps);
    }

    old = (uint32_t) ps->kb->nentries;

    rc = wachat_kb_map_put(&ps->kb->ids, en->id, ps->idlen, &old);
    if (rc < 0) {
        return wachat_kb_oom(ps);
    }

    if (rc == 1) {
        return slug
            ? wachat_kb_fail(ps, ps->line, "duplicate id \"%s\" made from "
                             "the question, first at line %u: add {#id}",
                             en->id, ps->kb->entries[old].line)
            : wachat_kb_fail(ps, ps->line, "duplicate id \"%s\", first at "
                             "line %u", en->id, ps->kb->entries[old].line);
    }

    return 0;
}


static int
wachat_kb_entry_also(wachat_kb_parser_t *ps, wachat_kb_entry_t *en)
{
    size_t              i;
    const char        **also;
    wachat_kb_arena_t  *a;

    if (ps->nalso == 0) {
        return 0;
    }

    a = &ps->kb->arena;

    also = wachat_kb_alloc(a, ps->nalso * sizeof(char *));
    if (also == NULL) {
        return wachat_kb_oom(ps);
    }

    for (i = 0; i < ps->nalso; i++) {
        also[i] = wachat_kb_strndup(a, ps->also[i].p, ps->also[i].len);
        if (also[i] == NULL) {
            return wachat_kb_oom(ps);
        }
    }

    en->also = also;
    en->nalso = ps->nalso;

    return 0;
}


/*
 * Buttons on the last non-blank body line, if it is a line of #id links;
 * *last moves above them.  No such line may come earlier.
 */
static int
wachat_kb_entry_buttons(wachat_kb_parser_t *ps, wachat_kb_entry_t *en,
    size_t first, size_t *last)
{
    size_t             n, i, hashes;
    wachat_kb_link_t   link;
    wachat_kb_line_t  *l;

    l = (*last > first) ? &ps->body[*last - 1] : NULL;
    n = l ? wachat_kb_links(l->p, l->len, &link, 1, &hashes) : 0;

    if (n > 0 && hashes > 0) {
        if (hashes != n) {
            return wachat_kb_fail(ps, l->line, "a line of buttons mixes #id "
                                  "links and other links");
        }

        if (wachat_kb_buttons(ps, en, l) != 0) {
            return -1;
        }

        (*last)--;

        while (*last > first && ps->body[*last - 1].len == 0) {
            (*last)--;
        }
    }

    for (i = first; i < *last; i++) {
        if (wachat_kb_links(ps->body[i].p, ps->body[i].len, &link, 1,
                            &hashes) > 0
            && hashes > 0)
        {
            return wachat_kb_fail(ps, ps->body[i].line, "a line of [Title](#id)"
                                  " buttons must be the last line of the "
                                  "entry");
        }
    }

    return 0;
}


/* body: buttons on the last line, the answer above */
static int
wachat_kb_entry_body(wachat_kb_parser_t *ps, wachat_kb_entry_t *en)
{
    size_t  first, last, chars, max;

    first = 0;
    last = ps->nbody;

    while (first < last && ps->body[first].len == 0) {
        first++;
    }

    while (last > first && ps->body[last - 1].len == 0) {
        last--;
    }

    if (wachat_kb_entry_buttons(ps, en, first, &last) != 0) {
        return -1;
    }

    if (first == last) {
        return wachat_kb_fail(ps, ps->line, "entry \"%s\" has no answer",
                              en->id);
    }

    en->answer = wachat_kb_answer(ps, first, last - 1);
    if (en->answer == NULL) {
        return wachat_kb_oom(ps);
    }

    chars = wachat_utf8_count(en->answer, strlen(en->answer));
    max = en->nbuttons ? WACHAT_KB_MAX_BODY_BUTTONS : WACHAT_KB_MAX_BODY_TEXT;

    if (chars > max) {
        return wachat_kb_fail(ps, ps->line, "answer of \"%s\" is %zu "
                              "characters, at most %zu%s", en->id, chars, max,
                              en->nbuttons ? " with buttons" : "");
    }

    return 0;
}


/* the open entry is checked, copied into the arena and counted */
static int
wachat_kb_close(wachat_kb_parser_t *ps)
{
    wachat_kb_entry_t  *en;

    en = wachat_kb_new_entry(ps);
    if (en == NULL) {
        return wachat_kb_oom(ps);
    }

    if (wachat_kb_entry_id(ps, en) != 0
        || wachat_kb_entry_also(ps, en) != 0
        || wachat_kb_entry_body(ps, en) != 0)
    {
        return -1;
    }

    ps->kb->nentries++;

    return 0;
}


/* lines */

static int
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


static int
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
static int
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
static int
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

    if (wachat_kb_synonyms(ps) != 0 || wachat_kb_index_build(ps->kb) != 0) {
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
