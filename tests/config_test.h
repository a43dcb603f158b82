/*
 * What the parts of the config and log unit test share (one binary,
 * build/config_test, from tests/config_*.c): the helpers of
 * config_test.c and the test groups main() runs in order.
 */

#ifndef WACHAT_TESTS_CONFIG_TEST_H
#define WACHAT_TESTS_CONFIG_TEST_H

#include <stddef.h>
#include <sys/types.h>

#define TAP_DIAG_STREAM  stderr

#include "lib/config.h"
#include "lib/log.h"
#include "tap.h"


/* lets a case load without a Graph token */
#define SANDBOX  "outbound sandbox\n"


extern char  tmpdir[64];     /* the test's files */
extern char  err[1024];      /* the error of the last parse */


int is_num(double got, double want, const char *name);
int has(const char *text, const char *part, const char *name);

/* config text parsed from memory as "t.conf" */
wachat_config_t *parse(const char *text);
void fails(const char *text, const char *want, const char *name);
wachat_config_t *loads(const char *text, const char *name);

/* malloc'ed: the caller frees */
char *cat(const char *a, const char *b);
char *slurp(const char *path);
char *dump(const wachat_config_t *cfg);
char *doc_page(void);

/* a file in tmpdir; the path is good for the next 7 calls */
const char *make_bytes(const char *name, const char *content, size_t len,
    mode_t mode);
const char *make_file(const char *name, const char *content, mode_t mode);

/* config_values.c: defaults, value types, syntax, keys */
void test_defaults(void);
void test_types(void);
void test_syntax(void);
void test_keys(void);

/* config_secrets.c: secrets, cross-key checks, agents, files */
void test_secrets(void);
void test_cross(void);
void test_agents(void);
void test_files(void);

/* config_output.c: the dump, the doc page, the log */
void test_dump_doc(void);
void test_log(void);


#endif /* WACHAT_TESTS_CONFIG_TEST_H */
