/*
 * Config unit test, part two: secrets from files and the environment,
 * the checks across keys, the agents, config files.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_test.h"


/* secret files that load: the value, its source, never shown */
static void
secret_files_good(const char *tok, const char *crlf)
{
    char              text[1024], want[1024], *d;
    wachat_config_t  *cfg;

    snprintf(text, sizeof(text), "graph_token_file %s\n", tok);
    cfg = loads(text, "secret from a file (outbound graph satisfied)");
    if (cfg != NULL) {
        is_str(cfg->graph_token.value, "s3cr3t-token",
               "secret file: trailing newline stripped");
        snprintf(want, sizeof(want), "file %s", tok);
        is_str(cfg->graph_token.source, want, "secret file: source kept");

        d = dump(cfg);
        snprintf(want, sizeof(want), "<secret from file %s>", tok);
        has(d, want, "dump: shows <secret from file /path>");
        ok(strstr(d, "s3cr3t") == NULL, "dump: never the secret's value");
        free(d);

        wachat_config_free(cfg);
    }

    snprintf(text, sizeof(text), SANDBOX "llm_key_file %s\n", crlf);
    cfg = loads(text, "secret file with CRLF, mode 0400");
    if (cfg != NULL) {
        is_str(cfg->llm_key.value, "s3cr3t-crlf", "secret file: CRLF stripped");
        wachat_config_free(cfg);
    }
}


/* secret files refused: mode, missing, not a file, empty, lines, size */
static void
secret_files_refused(const char *wide, const char *empty, const char *two)
{
    char              text[1024], want[1024];
    const char       *nul, *bigf;
    wachat_config_t  *cfg;
    static char       big[64 * 1024 + 2];

    snprintf(text, sizeof(text), SANDBOX "graph_token_file %s\n", wide);
    snprintf(want, sizeof(want), "t.conf:2: graph_token_file: %s is readable "
             "or writable by every user (mode 0644); run chmod go-rwx on it",
             wide);
    fails(text, want, "secret file readable by every user is refused");

    snprintf(text, sizeof(text), SANDBOX "graph_token_file %s/missing\n",
             tmpdir);
    snprintf(want, sizeof(want), "t.conf:2: graph_token_file: cannot open "
             "%s/missing: No such file or directory", tmpdir);
    fails(text, want, "missing secret file");

    snprintf(text, sizeof(text), SANDBOX "graph_token_file %s\n", tmpdir);
    snprintf(want, sizeof(want), "t.conf:2: graph_token_file: %s is not a "
             "regular file", tmpdir);
    fails(text, want, "a directory is not a secret file");

    snprintf(text, sizeof(text), SANDBOX "smtp_password_file %s\n", empty);
    snprintf(want, sizeof(want), "t.conf:2: smtp_password_file: file %s is "
             "empty", empty);
    fails(text, want, "empty secret file");

    snprintf(text, sizeof(text), SANDBOX "redis_password_file %s\n", two);
    cfg = parse(text);
    ok(cfg == NULL && strstr(err, "more than one line") != NULL
       && strstr(err, "s3cr3t") == NULL,
       "two-line secret file refused, value not in the message");
    wachat_config_free(cfg);

    nul = make_bytes("nul", "s3cr3t\0tail\n", 12, 0600);
    snprintf(text, sizeof(text), SANDBOX "llm_key_file %s\n", nul);
    snprintf(want, sizeof(want), "t.conf:2: llm_key_file: the secret in file "
             "%s has more than one line or a NUL byte", nul);
    fails(text, want, "a NUL byte in a secret file is refused");

    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bigf = make_file("big", big, 0600);
    snprintf(text, sizeof(text), SANDBOX "llm_key_file %s\n", bigf);
    snprintf(want, sizeof(want), "t.conf:2: llm_key_file: %s is larger than "
             "65536 bytes", bigf);
    fails(text, want, "a secret file over 64 KiB is refused");
}


/* secrets from the environment */
static void
secret_env(void)
{
    char             *d;
    wachat_config_t  *cfg;

    setenv("WACHAT_TEST_TOKEN", "s3cr3t-env", 1);
    cfg = loads("graph_token_env WACHAT_TEST_TOKEN\n", "secret from env");
    if (cfg != NULL) {
        is_str(cfg->graph_token.value, "s3cr3t-env", "secret env: value");
        d = dump(cfg);
        has(d, "graph_token_env          WACHAT_TEST_TOKEN  # <secret from "
            "env WACHAT_TEST_TOKEN>", "dump: env secret by its variable");
        ok(strstr(d, "s3cr3t") == NULL, "dump: env secret value not shown");
        has(d, "# redis_password: <not set>", "dump: unset secret");
        free(d);
        wachat_config_free(cfg);
    }

    unsetenv("WACHAT_TEST_UNSET");
    fails("graph_token_env WACHAT_TEST_UNSET\n",
          "t.conf:1: graph_token_env: environment variable WACHAT_TEST_UNSET "
          "is not set", "secret env: unset variable");
    setenv("WACHAT_TEST_EMPTY", "", 1);
    fails("graph_token_env WACHAT_TEST_EMPTY\n",
          "t.conf:1: graph_token_env: variable WACHAT_TEST_EMPTY is empty",
          "secret env: empty variable");
    fails("graph_token_env 1BAD\n",
          "t.conf:1: graph_token_env: \"1BAD\" is not a variable name",
          "secret env: bad variable name");
}


/* no inline secret; one source per secret */
static void
secret_inline(const char *tok)
{
    char              text[1024];
    wachat_config_t  *cfg;

    cfg = parse("graph_token s3cr3t-inline\n");
    ok(cfg == NULL && strcmp(err, "t.conf:1: graph_token: secrets are not "
       "accepted inline; use graph_token_file <path> or graph_token_env "
       "<VARIABLE>") == 0, "inline secret refused");
    ok(strstr(err, "s3cr3t") == NULL, "inline secret: value not echoed");
    wachat_config_free(cfg);

    snprintf(text, sizeof(text), "graph_token_file %s\n"
             "graph_token_env WACHAT_TEST_TOKEN\n", tok);
    fails(text, "t.conf:2: graph_token_env: graph_token_file is already set "
          "at line 1 (use one of them)", "secret: file and env both set");
}


/* the files are made here, in this order, for the path ring of make_bytes */
void
test_secrets(void)
{
    const char  *tok, *wide, *two, *empty, *crlf;

    tok = make_file("token", "s3cr3t-token\n", 0600);
    wide = make_file("wide", "s3cr3t-wide\n", 0644);
    two = make_file("two", "s3cr3t-a\ns3cr3t-b\n", 0600);
    empty = make_file("empty", "\n", 0600);
    crlf = make_file("crlf", "s3cr3t-crlf\r\n", 0400);

    secret_files_good(tok, crlf);
    secret_files_refused(wide, empty, two);
    secret_env();
    secret_inline(tok);
}


void
test_cross(void)
{
    wachat_config_t  *cfg;

    fails(SANDBOX "backend openai\n",
          "t.conf:2: backend openai needs llm_url (the base URL of an "
          "OpenAI-compatible API)", "cross: openai needs llm_url");
    fails(SANDBOX "backend openai\nllm_url http://127.0.0.1:8080/v1\n",
          "t.conf:2: backend openai needs llm_model",
          "cross: openai needs llm_model");

    cfg = loads(SANDBOX "backend openai\nllm_url http://127.0.0.1:8080/v1/\n"
                "llm_model qwen2.5\n", "cross: openai with url and model");
    if (cfg != NULL) {
        ok(cfg->backend == WACHAT_BACKEND_OPENAI
           && strcmp(cfg->llm_url, "http://127.0.0.1:8080/v1") == 0
           && cfg->llm_key.value == NULL,
           "cross: openai backend, key optional");
        wachat_config_free(cfg);
    }

    fails("# graph\noutbound graph\n",
          "t.conf:2: outbound graph needs graph_token_file or graph_token_env "
          "(or use \"outbound sandbox\" to try without Meta)",
          "cross: outbound graph needs a token, blames its line");
    fails(SANDBOX "outbox_stream wachat:events\n",
          "t.conf:2: stream, outbox_stream and dead_stream must be three "
          "different streams", "cross: outbox_stream equal to stream");
    fails(SANDBOX "smtp_url smtp://127.0.0.1:2525\n",
          "t.conf:2: smtp_url needs smtp_from (the sender address)",
          "cross: smtp_url needs smtp_from");
    fails(SANDBOX "agent ann ann@example.com notify=on\n",
          "t.conf:2: agent \"ann\" has notify=on but smtp_url is not set",
          "cross: notify=on needs smtp_url");

    /* the API on a port believes X-Wachat-Agent only with nginx's secret */
    fails(SANDBOX "api_listen 127.0.0.1:8091\n",
          "t.conf:2: api_listen on host:port needs api_secret_file (the file "
          "nginx's wachat_api_secret_file reads): without it any local user "
          "could pose as any agent; or listen on unix:/path",
          "cross: api_listen on a port needs api_secret");
    setenv("WACHAT_TEST_API_SHORT", "0123456789abcde", 1);
    fails(SANDBOX "api_listen 127.0.0.1:8091\n"
          "api_secret_env WACHAT_TEST_API_SHORT\n",
          "t.conf:3: api_secret (env WACHAT_TEST_API_SHORT) is shorter than "
          "16 characters: make one with \"openssl rand -hex 32\"",
          "cross: an api_secret of 15 characters");
    setenv("WACHAT_TEST_API_SECRET", "0123456789abcdef", 1);
    cfg = loads(SANDBOX "api_listen 127.0.0.1:8091\n"
                "api_secret_env WACHAT_TEST_API_SECRET\n",
                "cross: api_listen on a port with a secret of 16");
    wachat_config_free(cfg);
    cfg = loads(SANDBOX "api_listen unix:/run/wachat/api.sock\n",
                "cross: api_listen on a unix socket, no secret needed");
    wachat_config_free(cfg);
}


void
test_agents(void)
{
    char             *d;
    char             *text;
    wachat_config_t  *cfg;

    setenv("WACHAT_TEST_SMTP", "s3cr3t-smtp", 1);

    cfg = loads(SANDBOX
                "smtp_url smtps://smtp.example.com:465/\n"
                "smtp_from wachat@example.com\n"
                "smtp_user wachat\n"
                "smtp_password_env WACHAT_TEST_SMTP\n"
                "agent ann ann@example.com name=\"Ann \\\"Jo\\\" Lee\" "
                "notify=on\n"
                "agent bob.b bob@example.com\n"
                "agent c-3 c3@example.com notify=handoff name=C3 "
                "capacity=7\n",
                "agents: three lines");
    if (cfg == NULL) {
        return;
    }

    ok(cfg->agents.n == 3, "agents: stored as a list of 3");
    is_str(cfg->agents.items[0].name, "Ann \"Jo\" Lee",
           "agents: name=\"...\" quoted inside the word");
    ok(cfg->agents.items[0].notify == WACHAT_NOTIFY_ALL
       && cfg->agents.items[0].line == 6,
       "agents: notify=on is notify=all, line kept");
    is_str(cfg->agents.items[1].id, "bob.b", "agents: second id");
    is_str(cfg->agents.items[1].name, "bob.b", "agents: name defaults to id");
    ok(cfg->agents.items[1].notify == 0, "agents: notify off by default");
    ok(strcmp(cfg->agents.items[2].email, "c3@example.com") == 0
       && strcmp(cfg->agents.items[2].name, "C3") == 0
       && cfg->agents.items[2].notify == WACHAT_NOTIFY_HANDOFF
       && cfg->agents.items[2].capacity == 7,
       "agents: options in any order, notify=handoff, capacity=7");
    ok(cfg->agents.items[0].capacity == 0 && cfg->agent_capacity == 5,
       "agents: no capacity= takes agent_capacity (5)");
    is_str(cfg->smtp_url, "smtps://smtp.example.com:465",
           "smtp_url: trailing slash removed");

    d = dump(cfg);
    has(d, "agent                    ann ann@example.com "
        "name=\"Ann \\\"Jo\\\" Lee\" notify=all\n", "dump: agent line");
    has(d, "agent                    c-3 c3@example.com name=C3 "
        "notify=handoff capacity=7\n", "dump: agent line with capacity");
    ok(strstr(d, "s3cr3t") == NULL, "dump: smtp password not shown");
    free(d);

    wachat_config_free(cfg);

    fails(SANDBOX "agent ann\n",
          "t.conf:2: agent: takes <id> <email> [name=\"Display Name\"] "
          "[notify=off|handoff|all] [capacity=N], got 1 value",
          "agents: too few values");
    fails(SANDBOX "agent ann ann@example.com\nagent ann a2@example.com\n",
          "t.conf:3: agent: id \"ann\" is already defined",
          "agents: duplicate id");
    fails(SANDBOX "agent ann not-an-address\n",
          "t.conf:2: agent: \"not-an-address\" is not an e-mail address",
          "agents: bad e-mail");
    fails(SANDBOX "agent \"a b\" ab@example.com\n",
          "t.conf:2: agent: id \"a b\" must be 1 to 64 letters, digits, '_', "
          "'.' or '-'", "agents: bad id");
    fails(SANDBOX "agent ann ann@example.com role=boss\n",
          "t.conf:2: agent: \"role=boss\" is not name=\"...\", "
          "notify=off|handoff|all or capacity=N (each at most once)",
          "agents: unknown option");
    fails(SANDBOX "agent ann ann@example.com notify=maybe\n",
          "t.conf:2: agent: \"notify=maybe\": notify is off, handoff or all",
          "agents: bad notify");
    fails(SANDBOX "agent ann ann@example.com capacity=0\n",
          "t.conf:2: agent: \"capacity=0\": capacity is a number from 1 to "
          "1000", "agents: capacity 0");
    fails(SANDBOX "agent ann ann@example.com capacity=2x\n",
          "t.conf:2: agent: \"capacity=2x\": capacity is a number from 1 to "
          "1000", "agents: capacity not a number");
    fails(SANDBOX "smtp_password_env WACHAT_TEST_SMTP\n",
          "t.conf:2: smtp_password needs smtp_user",
          "cross: smtp password needs smtp_user");

    text = cat(SANDBOX, "agent ann ann@example.com name=\"\"\n");
    fails(text, "t.conf:2: agent: name must not be empty",
          "agents: empty name");
    free(text);
}


void
test_files(void)
{
    char              want[512];
    const char       *path;
    wachat_config_t  *cfg;

    cfg = wachat_config_load("conf/wachatd.conf", err, sizeof(err));
    if (!ok(cfg != NULL, "conf/wachatd.conf loads")) {
        diag("error: %s", err);
    }

    if (cfg != NULL) {
        ok(cfg->backend == WACHAT_BACKEND_KB
           && cfg->outbound == WACHAT_OUTBOUND_SANDBOX,
           "conf/wachatd.conf: kb backend, sandbox outbound");
        is_str(cfg->path, "conf/wachatd.conf", "conf/wachatd.conf: path");
        wachat_config_free(cfg);
    }

    cfg = wachat_config_load("no/such.conf", err, sizeof(err));
    ok(cfg == NULL, "missing config file fails");
    is_str(err, "cannot open no/such.conf: No such file or directory",
           "missing config file: message");

    path = make_file("bad.conf", "# bad\noutbound sandbox\nstrem x\n", 0644);
    cfg = wachat_config_load(path, err, sizeof(err));
    snprintf(want, sizeof(want), "%s:3: unknown key \"strem\" (did you mean "
             "\"stream\"?)", path);
    ok(cfg == NULL, "bad file fails");
    is_str(err, want, "bad file: file:line in the message");

    cfg = wachat_config_load(tmpdir, err, sizeof(err));
    ok(cfg == NULL && strstr(err, "not a regular file") != NULL,
       "a directory is not a config file");
}
