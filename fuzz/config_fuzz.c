/*
 * libFuzzer target for wachat_config_parse() (make fuzz; docs/fuzzing.md).
 *
 * Each input is a config file.  When it loads, wachat_config_dump() must
 * write a config that loads again and dumps to the same text (config.h
 * promises "the output is itself a config that loads"); when it does not,
 * the error must be "fuzz:<line>: ..." or "fuzz: ...".  Then everything is
 * freed, so leaks show up.
 *
 * Secrets: at start the target (re)writes two secret files in
 * /tmp/wachat-config-fuzz/, "token" (0600) and "open" (0644, refused as
 * readable by all), and sets WACHAT_FUZZ_TOKEN, so the seeds'
 * "graph_token_file /tmp/wachat-config-fuzz/token" and "llm_key_env
 * WACHAT_FUZZ_TOKEN" resolve the same way on every run.  The parser only
 * ever opens files read-only: another *_file path can make it read (never
 * write) a file elsewhere, which changes nothing.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/config.h"
#include "fuzz_common.h"


#define FUZZ_DIR  "/tmp/wachat-config-fuzz"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
put_file(const char *name, const char *text, mode_t mode)
{
    FILE  *f;

    f = fopen(name, "w");
    check(f != NULL);
    fputs(text, f);
    fclose(f);
    check(chmod(name, mode) == 0);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    /* EEXIST is fine: the files are rewritten */
    (void) mkdir(FUZZ_DIR, 0700);

    put_file(FUZZ_DIR "/token", "EAAG-fuzz-token\n", 0600);
    put_file(FUZZ_DIR "/open", "readable-by-all\n", 0644);
    setenv("WACHAT_FUZZ_TOKEN", "sk-fuzz-key", 1);
    unsetenv("WACHAT_FUZZ_UNSET");

    return 0;
}


static char *
dump(const wachat_config_t *cfg, size_t *len)
{
    char   *buf;
    FILE   *f;

    buf = NULL;
    f = open_memstream(&buf, len);
    check(f != NULL);
    wachat_config_dump(cfg, f);
    check(fclose(f) == 0);

    return buf;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              err[512], err2[512], *d1, *d2;
    size_t            n1, n2;
    wachat_config_t  *cfg, *again;

    err[0] = '\0';
    cfg = wachat_config_parse("fuzz", (const char *) data, size, err,
                              sizeof(err));

    if (cfg == NULL) {
        check_error(err);
        return 0;
    }

    d1 = dump(cfg, &n1);
    wachat_config_free(cfg);

    err2[0] = '\0';
    again = wachat_config_parse("fuzz", d1, n1, err2, sizeof(err2));

    if (again == NULL) {
        fprintf(stderr, "the dump does not load: %s\n--- dump:\n%s---\n",
                err2, d1);
        abort();
    }

    d2 = dump(again, &n2);
    wachat_config_free(again);

    if (n1 != n2 || memcmp(d1, d2, n1) != 0) {
        fprintf(stderr, "the dump of the dump differs\n--- first:\n%s"
                "--- second:\n%s---\n", d1, d2);
        abort();
    }

    free(d1);
    free(d2);

    return 0;
}
