/*
 * libFuzzer target for wachat_kb_parse() and wachat_kb_search().
 *
 * Besides ASan/UBSan findings it aborts when a KB that loaded breaks the
 * rules kb.h promises (WhatsApp's limits, resolvable buttons, ids that
 * find their entry, valid UTF-8), when an error is not "fuzz:<line>: ..."
 * or "fuzz: ...", or when search results are out of order or range.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb_int.h"
#include "fuzz_common.h"
#include "wachat_utf8.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* valid UTF-8, no line break, and at most max characters (0: any) */
static void
check_text(const char *s, size_t max, int lines)
{
    size_t    i, n, chars, len;
    uint32_t  cp;

    len = strlen(s);
    chars = 0;

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_decode(s + i, len - i, &cp);
        check(n > 0 && (lines || cp != '\n'));
        chars++;
    }

    check(max == 0 || chars <= max);
}


static void
check_search(const wachat_kb_t *kb, const char *q, size_t len)
{
    size_t           n, i, max;
    wachat_kb_hit_t  hits[8];

    max = 1 + len % 8;
    n = wachat_kb_search(kb, q, len, hits, max);
    check(n <= max);

    for (i = 0; i < n; i++) {
        check(hits[i].entry >= wachat_kb_entry(kb, 0)
              && hits[i].entry <= wachat_kb_entry(kb, wachat_kb_count(kb) - 1));
        check(hits[i].score > 0 && hits[i].score <= 1
              && isfinite(hits[i].bm25) && hits[i].bm25 >= 0);
        check(i == 0 || hits[i - 1].score >= hits[i].score);
    }
}


static void
check_kb(const wachat_kb_t *kb, const char *text, size_t size)
{
    size_t                    i, b, max;
    const wachat_kb_entry_t  *en;

    check(wachat_kb_count(kb) > 0);

    for (i = 0; i < wachat_kb_count(kb); i++) {
        en = wachat_kb_entry(kb, i);

        check(en->id[0] != '\0' && wachat_kb_get(kb, en->id) == en);
        check(strcmp(en->id, WACHAT_KB_LIVE_AGENT) != 0);
        check(strpbrk(en->id, " \t()[]{}#") == NULL);
        check_text(en->id, WACHAT_KB_MAX_ID, 0);
        check(en->question[0] != '\0');
        check_text(en->question, 0, 0);
        check(en->line >= 1 && (i == 0 || en->line > (en - 1)->line));

        max = en->nbuttons ? WACHAT_KB_MAX_BODY_BUTTONS
                           : WACHAT_KB_MAX_BODY_TEXT;
        check(en->answer[0] != '\0');
        check_text(en->answer, max, 1);

        for (b = 0; b < en->nalso; b++) {
            check(en->also[b][0] != '\0' && strchr(en->also[b], '|') == NULL);
            check_text(en->also[b], 0, 0);
        }

        check(en->nbuttons <= WACHAT_KB_MAX_BUTTONS);
        check((en->nbuttons == 0) == (en->button_line == 0));

        for (b = 0; b < en->nbuttons; b++) {
            check(en->buttons[b].title[0] != '\0');
            check_text(en->buttons[b].title, WACHAT_KB_MAX_TITLE, 0);
            check_text(en->buttons[b].id, WACHAT_KB_MAX_ID, 0);
            check(wachat_kb_get(kb, en->buttons[b].id) != NULL
                  || strcmp(en->buttons[b].id, WACHAT_KB_LIVE_AGENT) == 0);
        }

        if (i < 4) {
            check_search(kb, en->question, strlen(en->question));
        }
    }

    check_search(kb, text, size);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          err[512];
    const char   *text;
    wachat_kb_t  *kb;

    text = (const char *) data;

    kb = wachat_kb_parse(text, size, "fuzz", err, sizeof(err));

    if (kb == NULL) {
        check_error(err);
        return 0;
    }

    check_kb(kb, text, size);
    wachat_kb_free(kb);

    return 0;
}
