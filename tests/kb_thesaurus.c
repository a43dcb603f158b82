/*
 * The kb thesaurus (wachatd/answer/kb_thesaurus.c) against small
 * databases in WordNet 3.0's format: t/fixtures/wordnet (two verb and two
 * noun synsets) and t/fixtures/wordnet-corrupt (the same, its index
 * pointing 7 bytes past every synset), so that nothing depends on the
 * installed wordnet-base.
 */

#include <stdio.h>
#include <string.h>

#include "answer/kb.h"
#include "kb_test.h"
#include "tap.h"


#define WORDNET          "t/fixtures/wordnet"
#define WORDNET_CORRUPT  "t/fixtures/wordnet-corrupt"
#define MIN              0.45


/* "rent" and "hire" are one built-in group; the KB says neither */
static const char  boats[] =
    "## Do you charter yachts? {#charter}\n"
    "Also: yacht charter\n"
    "\n"
    "Yes: a yacht with its skipper, by the day.\n"
    "\n"
    "## Where are you? {#where}\n"
    "\n"
    "Pier 3, by the ferry.\n";


static wachat_kb_t *
load(const char *dir)
{
    char          err[256];
    wachat_kb_t  *kb;

    wachat_kb_thesaurus_use(dir);
    kb = wachat_kb_parse(boats, sizeof(boats) - 1, "boats", err, sizeof(err));
    wachat_kb_thesaurus_use(NULL);

    if (kb == NULL) {
        diag("%s", err);
    }

    return kb;
}


/* the entry ranked first with at least min, or "-" */
static const char *
first(const wachat_kb_t *kb, const char *q, double min)
{
    size_t           n;
    wachat_kb_hit_t  hits[3];

    n = wachat_kb_search(kb, q, strlen(q), hits, 3);

    return (n > 0 && hits[0].score >= min) ? hits[0].entry->id : "-";
}


/* the entry answered with confidence, or "-" */
static const char *
answer(const wachat_kb_t *kb, const char *q)
{
    return first(kb, q, MIN);
}


static void
test_words_alone(const char *what, const char *dir, int problem_expected)
{
    int           problem;
    const char   *note;
    wachat_kb_t  *kb;

    kb = load(dir);

    if (!ok(kb != NULL, "thesaurus: %s: the KB loads", what)) {
        return;
    }

    note = wachat_kb_thesaurus_note(kb, &problem);
    ok(problem == problem_expected && (dir == NULL || note[0] != '\0'),
       "thesaurus: %s: the note says so (\"%s\")", what, note);
    ok(strcmp(answer(kb, "do you charter yachts"), "charter") == 0,
       "thesaurus: %s: the KB's own words still answer", what);
    ok(strcmp(answer(kb, "can i hire a yacht?"), "charter") == 0,
       "thesaurus: %s: and with one of its words", what);
    ok(strcmp(answer(kb, "can i hire one?"), "-") == 0,
       "thesaurus: %s: \"hire\" alone is not the KB's", what);

    wachat_kb_free(kb);
}


void
test_thesaurus(void)
{
    int           problem;
    const char   *note;
    wachat_kb_t  *kb;

    test_words_alone("off", NULL, 0);
    test_words_alone("missing directory", "t/fixtures/no-such-wordnet", 1);
    test_words_alone("corrupt database", WORDNET_CORRUPT, 1);
    test_words_alone("a directory without WordNet", "t/fixtures/kb", 1);

    kb = load(WORDNET);

    if (!ok(kb != NULL, "thesaurus: the KB loads with " WORDNET)) {
        return;
    }

    note = wachat_kb_thesaurus_note(kb, &problem);
    ok(!problem && strstr(note, "synonyms") != NULL,
       "thesaurus: %s", note);

    ok(strcmp(answer(kb, "can i hire one?"), "charter") == 0,
       "thesaurus: \"hire\" finds the KB's \"charter\"");
    ok(strcmp(answer(kb, "do you lease them by the day"), "charter") == 0,
       "thesaurus: \"lease\" too");
    ok(strcmp(first(kb, "who is the captain", 0), "charter") == 0,
       "thesaurus: a noun: \"captain\" ranks the answer's \"skipper\"");
    ok(strcmp(answer(kb, "can you mend my sail"), "-") == 0,
       "thesaurus: only the KB's words bring synonyms (no \"repair\")");
    ok(strcmp(answer(kb, "where are you"), "where") == 0,
       "thesaurus: the rest as before");

    wachat_kb_free(kb);
}
