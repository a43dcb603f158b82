/*
 * kb: the knowledge base of the "kb" backend (issue 3, "Answering").
 *
 * A Markdown file the business edits:
 *
 *     # Anything before the first "## " heading is a preamble: ignored.
 *
 *     ## What are your opening hours? {#hours}
 *     Also: when are you open | opening times | 營業時間
 *
 *     We are open Monday to Friday, 9:00 to 18:00.
 *
 *     [See prices](#prices) [Talk to a person](#live_agent)
 *
 * - "## " at the start of a line starts an entry; the heading is its
 *   question.  A trailing "{#id}" names it; otherwise the id is a slug of
 *   the question: ASCII lowercased, letters of any script and CJK kept,
 *   runs of punctuation and spaces made one "-", cut at 60 characters
 *   ("What are your opening hours?" -> "what-are-your-opening-hours",
 *   "你們的營業時間是什麼？" -> "你們的營業時間是什麼"); a question with
 *   nothing to keep gets "q-" and 8 hex digits of its hash.  Ids are
 *   unique, at most 200 characters, without spaces or ()[]{}#; "live_agent"
 *   is reserved for the handoff button.
 * - "Also:" lines between the heading and the first answer line list
 *   alternative phrasings separated by "|" or "｜" (searched like the
 *   question).  Later "Also:" lines are answer text.
 * - When the last non-blank line is made only of [Title](#id) links, it
 *   becomes up to 3 reply buttons; the postback id is the target entry's
 *   id or "live_agent".  Such a line anywhere else is refused, as is a
 *   line of links mixing #id and other targets.  Titles are 1..20
 *   characters and unique within the entry, ids too.
 * - Every other line is the answer, kept as written (line breaks and
 *   paragraphs: WhatsApp shows them as they are), trailing spaces and
 *   surrounding blank lines dropped, runs of blank lines made one.  At
 *   most 1024 characters with buttons (interactive body), 4096 without.
 * - "Synonyms:" lines in the preamble (before the first heading) each list
 *   words that mean the same to this business, separated by "=", ",", "|"
 *   or "/" (fullwidth forms too), or by spaces when there is none of
 *   those: "Synonyms: 單車 = 腳踏車 = 自行車", "Synonyms: mtb = mountain
 *   bike" (a synonym is one word or two).  They come before the built-in
 *   general groups (kb_lang.c).
 * - "## " lines inside ``` fences are not special (fences are not parsed).
 * - UTF-8 only (a BOM is skipped), CRLF accepted, no NUL bytes.
 *
 * Characters are Unicode code points, as WhatsApp counts them.
 *
 * A KB that breaks a rule is refused with "<file>:<line>: <reason>"; a file
 * that cannot be read with "<file>: cannot read: <strerror>", one over
 * WACHAT_KB_MAX_FILE with "<file>: larger than N bytes".  A loaded KB is
 * immutable: searches from several threads are safe.
 */

#ifndef WACHAT_KB_H
#define WACHAT_KB_H

#include <stddef.h>


#define WACHAT_KB_MAX_BUTTONS      3
#define WACHAT_KB_MAX_TITLE        20      /* characters */
#define WACHAT_KB_MAX_ID           200     /* characters */
#define WACHAT_KB_MAX_BODY_BUTTONS 1024    /* interactive body.text */
#define WACHAT_KB_MAX_BODY_TEXT    4096    /* text.body */
#define WACHAT_KB_MAX_FILE         (4 * 1024 * 1024)      /* bytes */
#define WACHAT_KB_LIVE_AGENT       "live_agent"

/*
 * Search confidence, 0..1 (kb_search.c): 0.7 x the coverage, the
 * idf-weighted share of the query's terms the entry covers (a term found
 * once in the question or an Also phrasing of average length counts
 * fully, found only in the answer at most 0.6, words the KB never uses
 * count 0 and weigh heavily), + 0.3 x the best share of one of the
 * entry's phrasings the query has; x 0.8 when the entry has only the word
 * before one the KB does not know ("bike" of "bike lights": the question
 * is about the lights).  Terms are stemmed, folded, spelled out
 * and grouped by synonyms first (kb_lang.c).  So "hours?" scores 0.85 on
 * the opening-hours entry and "xyzzy" gets no hit at all; a question
 * about something the KB does not cover, sharing a word or two with it,
 * lands around 0.1-0.5; real questions in other words than the KB's
 * around 0.4-0.9.  Recommended kb_min_score: 0.45, where on the dev
 * questions of make eval at least 90 % of the questions the KB cannot
 * answer get the fallback (docs/answer-quality.md).
 */
#define WACHAT_KB_DEFAULT_MIN_SCORE  0.45

#define WACHAT_KB_MAX_QUERY        4096    /* bytes of a query looked at */


typedef struct {
    const char  *title;
    const char  *id;                /* an entry id or "live_agent" */
} wachat_kb_button_t;


typedef struct {
    const char          *id;
    const char          *question;
    const char *const   *also;      /* nalso phrasings */
    size_t               nalso;
    const char          *answer;
    size_t               nbuttons;
    wachat_kb_button_t   buttons[WACHAT_KB_MAX_BUTTONS];
    unsigned             line;      /* of the "## " heading */
    unsigned             button_line;   /* 0 without buttons */
} wachat_kb_entry_t;


typedef struct {
    const wachat_kb_entry_t  *entry;
    double                    score;    /* confidence 0..1, ranks */
    double                    bm25;     /* raw BM25F, for logs */
} wachat_kb_hit_t;


typedef struct wachat_kb_s  wachat_kb_t;


/* NULL and "<path>:<line>: <reason>" in err on error */
wachat_kb_t *wachat_kb_load(const char *path, char *err, size_t errlen);

/* the same from memory; name is used in messages */
wachat_kb_t *wachat_kb_parse(const char *buf, size_t len, const char *name,
    char *err, size_t errlen);

void wachat_kb_free(wachat_kb_t *kb);

/*
 * The WordNet database (Debian wordnet-base: /usr/share/wordnet, WordNet
 * 3.0's index.* and data.* files) that KBs loaded from now on take
 * synonyms of their own words from (kb_thesaurus.c): a customer's
 * "hire" finds the KB's "rent".  NULL or "" for none, the default.  Set
 * it before loading, from the thread that loads.
 */
void wachat_kb_thesaurus_use(const char *dir);

/*
 * What the thesaurus gave this KB, for the log: "" when none is in use;
 * *problem set when the database could not be read (the KB then matches
 * by its words and synonym lines alone).
 */
const char *wachat_kb_thesaurus_note(const wachat_kb_t *kb, int *problem);

size_t wachat_kb_count(const wachat_kb_t *kb);
const wachat_kb_entry_t *wachat_kb_entry(const wachat_kb_t *kb, size_t i);

/* by id (a button payload); NULL when unknown, also for "live_agent" */
const wachat_kb_entry_t *wachat_kb_get(const wachat_kb_t *kb, const char *id);

/*
 * Ranks entries for a customer's text: fills up to max hits, best first
 * (score, then bm25, then file order), only entries with score > 0, and
 * returns how many.  Looks at the first WACHAT_KB_MAX_QUERY bytes; bytes
 * that are not UTF-8 separate words.  0 also when memory runs out.
 */
size_t wachat_kb_search(const wachat_kb_t *kb, const char *query,
    size_t qlen, wachat_kb_hit_t *hits, size_t max);


#endif /* WACHAT_KB_H */
