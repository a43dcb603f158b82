/*
 * The kb parser's private parts, shared by kb.c (the pass over the text,
 * parse and load), kb_lines.c (each kind of line, and the line helpers)
 * and kb_entry.c (an entry closed: checked and copied into the arena).
 * Not for the rest of the kb: kb_int.h is that.
 */

#ifndef WACHAT_KB_PARSE_INT_H
#define WACHAT_KB_PARSE_INT_H

#include <stddef.h>

#include "answer/kb_int.h"


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


/* kb.c: an error with its line, stops the parse (returns -1) */
int wachat_kb_fail(wachat_kb_parser_t *ps, unsigned line, const char *fmt, ...);
int wachat_kb_oom(wachat_kb_parser_t *ps);

/* kb_lines.c: the line helpers */
int wachat_kb_push(wachat_kb_line_t **v, size_t *n, size_t *cap, const char *p,
    size_t len, unsigned line);
int wachat_kb_space(char c);
void wachat_kb_trim(const char **p, size_t *len);
int wachat_kb_id_ok(const char *id, size_t len);

/* kb_lines.c: one line each, by kind */
int wachat_kb_heading(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line);
int wachat_kb_body_line(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line);
int wachat_kb_synonym_line(wachat_kb_parser_t *ps, const char *p, size_t len,
    unsigned line);
int wachat_kb_synonyms(wachat_kb_parser_t *ps);

/* kb_entry.c: the open entry checked, copied into the arena and counted */
int wachat_kb_close(wachat_kb_parser_t *ps);


#endif /* WACHAT_KB_PARSE_INT_H */
