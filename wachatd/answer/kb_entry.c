/*
 * An entry closed, when the next heading (or the end) comes: its id, Also
 * lines, answer and buttons are checked and copied into the KB's arena.
 * Button targets may point forward: kb.c checks them once every id is
 * known.
 */

#include <stdlib.h>
#include <string.h>

#include "answer/kb_parse_int.h"
#include "wachat_utf8.h"


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
int
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
