/*
 * The parts of the kb unit test (tests/kb_test.c runs them).
 */

#ifndef WACHAT_TESTS_KB_TEST_H
#define WACHAT_TESTS_KB_TEST_H

/* tests/kb_lang.c: stemming, folding, chat words, typos, synonyms */
void test_lang(void);
void test_precision(void);

/* tests/kb_thesaurus.c: WordNet synonyms of the KB's words, fixtures */
void test_thesaurus(void);

/* tests/kb_vec.c: hybrid retrieval's vectors, fusion, embeddings parser */
void test_vec(void);

/* tests/kb_suggest.c: the fallback's suggestions, entries as titles */
void test_suggest(void);

#endif /* WACHAT_TESTS_KB_TEST_H */
