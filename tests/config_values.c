/*
 * Config unit test, part one: the defaults, every value type (good and
 * bad values), the syntax of the file and its keys.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_test.h"


void
test_defaults(void)
{
    char              want[300];
    wachat_config_t  *cfg;

    cfg = loads(SANDBOX, "defaults: loads with only outbound sandbox");
    if (cfg == NULL) {
        return;
    }

    is_str(cfg->path, "t.conf", "defaults: path is kept");
    is_str(cfg->redis.server.host, "127.0.0.1", "defaults: redis host");
    is_num(cfg->redis.server.port, 6379, "defaults: redis port");
    ok(cfg->redis.server.path == NULL, "defaults: redis is not a unix socket");
    is_num(cfg->redis_db, 0, "defaults: redis_db 0");
    ok(cfg->redis_password.value == NULL, "defaults: no redis password");
    is_str(cfg->stream, "wachat:events", "defaults: stream");
    is_str(cfg->group, "wachatd", "defaults: group");

    gethostname(want, 256);
    want[255] = '\0';
    snprintf(want + strlen(want), 40, "-%ld", (long) getpid());
    is_str(cfg->consumer, want, "defaults: consumer is <hostname>-<pid>");

    is_num((double) cfg->claim_idle_ms, 60000, "defaults: claim_idle 60s");
    is_num(cfg->backend, WACHAT_BACKEND_KB, "defaults: backend kb");
    is_str(cfg->kb, "kb.md", "defaults: kb (beside the config; as written from memory)");
    is_num(cfg->kb_min_score, 0.45, "defaults: kb_min_score 0.45");
    is_str(cfg->fallback_text,
           "I'm not sure \xe2\x80\x94 shall I connect you to a person?",
           "defaults: fallback_text");
    is_str(cfg->outbox_stream, "wachat:outbox", "defaults: outbox_stream");
    is_str(cfg->dead_stream, "wachat:dead", "defaults: dead_stream");
    is_str(cfg->graph_api_url, "https://graph.facebook.com/v25.0",
           "defaults: graph_api_url");
    is_num((double) cfg->graph_timeout_ms, 10000,
           "defaults: graph_timeout 10s");
    is_num(cfg->graph_max_retries, 5, "defaults: graph_max_retries 5");
    is_num(cfg->rate_limit, 80, "defaults: rate_limit 80");
    is_num(cfg->mark_read, 0, "defaults: mark_read no");
    is_str(cfg->llm_url, "", "defaults: llm_url empty");
    is_num((double) cfg->llm_timeout_ms, 20000, "defaults: llm_timeout 20s");
    is_num(cfg->llm_max_tokens, 300, "defaults: llm_max_tokens 300");
    is_num(cfg->llm_temperature, 0.2, "defaults: llm_temperature 0.2");
    ok(strlen(cfg->llm_system_prompt) > 20,
       "defaults: llm_system_prompt is set");
    is_num(cfg->llm_history, 6, "defaults: llm_history 6");
    is_num(cfg->llm_passages, 4, "defaults: llm_passages 4");
    is_num(cfg->concurrency, 64, "defaults: concurrency 64");
    is_num((double) cfg->http_max_response, 1048576,
           "defaults: http_max_response 1mb");
    is_num(cfg->history_max, 200, "defaults: history_max 200");
    is_num((double) cfg->window_ms, 86400000, "defaults: window 24h");
    is_num((double) cfg->shutdown_timeout_ms, 10000,
           "defaults: shutdown_timeout 10s");
    is_str(cfg->logfile, "", "defaults: logfile empty (stderr)");
    is_num(cfg->verbosity, WACHAT_LOG_NOTICE, "defaults: verbosity notice");
    ok(cfg->api_listen.host == NULL && cfg->api_listen.path == NULL,
       "defaults: api_listen off");
    ok(cfg->handoff_commands.n == 1
       && strcmp(cfg->handoff_commands.items[0], "/live_agent") == 0,
       "defaults: handoff_commands /live_agent");
    is_num((double) cfg->agent_idle_timeout_ms, 1800000,
           "defaults: agent_idle_timeout 30m");
    is_num((double) cfg->agent_heartbeat_timeout_ms, 60000,
           "defaults: agent_heartbeat_timeout 60s");
    is_str(cfg->smtp_url, "", "defaults: smtp_url empty");
    ok(cfg->agents.n == 0 && cfg->graph_token.value == NULL
       && cfg->llm_key.value == NULL && cfg->smtp_password.value == NULL,
       "defaults: no agents, no secrets");

    wachat_config_free(cfg);

    fails("", "t.conf: outbound graph (the default) needs graph_token_file "
          "or graph_token_env (or use \"outbound sandbox\" to try without "
          "Meta)", "defaults: outbound graph needs a token");
}


/* good values of every type, read as their type; 0 when they do not load */
static int
types_good(void)
{
    wachat_config_t  *cfg;

    setenv("WACHAT_TEST_API_SECRET", "0123456789abcdef", 1);
    cfg = loads(SANDBOX
                "redis unix:/run/redis/redis.sock\n"
                "redis_db 15\n"
                "stream shop:events\n"
                "kb_min_score 0.25\n"
                "llm_temperature 1e-1\n"
                "claim_idle 1d\n"
                "graph_timeout 500ms\n"
                "llm_timeout 2m\n"
                "window 1h\n"
                "shutdown_timeout 0\n"
                "http_max_response 64k\n"
                "mark_read YES\n"
                "verbosity debug\n"
                "api_listen [::1]:8091\n"
                "api_secret_env WACHAT_TEST_API_SECRET\n"
                "handoff_commands /agent human \"talk to a person\"\n"
                "graph_api_url http://127.0.0.1:9000/v1//\n"
                "logfile \"\"\n",
                "types: good values load");
    if (cfg == NULL) {
        return 0;
    }

    ok(cfg->redis.server.host == NULL
       && strcmp(cfg->redis.server.path, "/run/redis/redis.sock") == 0,
       "addr: unix:/path");
    is_num(cfg->redis_db, 15, "int: redis_db 15");
    is_str(cfg->stream, "shop:events", "string: stream");
    is_num(cfg->kb_min_score, 0.25, "float: 0.25");
    is_num(cfg->llm_temperature, 0.1, "float: 1e-1");
    is_num((double) cfg->claim_idle_ms, 86400000, "duration: 1d");
    is_num((double) cfg->graph_timeout_ms, 500, "duration: 500ms");
    is_num((double) cfg->llm_timeout_ms, 120000, "duration: 2m");
    is_num((double) cfg->window_ms, 3600000, "duration: 1h");
    is_num((double) cfg->shutdown_timeout_ms, 0, "duration: bare 0");
    is_num((double) cfg->http_max_response, 65536, "size: 64k");
    is_num(cfg->mark_read, 1, "bool: YES");
    is_num(cfg->verbosity, WACHAT_LOG_DEBUG, "enum: verbosity debug");
    ok(cfg->api_listen.host != NULL
       && strcmp(cfg->api_listen.host, "::1") == 0
       && cfg->api_listen.port == 8091, "addr: [::1]:8091");
    ok(cfg->handoff_commands.n == 3
       && strcmp(cfg->handoff_commands.items[2], "talk to a person") == 0,
       "list: three words, one quoted");
    is_str(cfg->graph_api_url, "http://127.0.0.1:9000/v1",
           "url: trailing slashes removed");
    is_str(cfg->logfile, "", "string: \"\" is empty");

    wachat_config_free(cfg);

    cfg = loads(SANDBOX "mark_read on\nconcurrency 1\n", "bool: on");
    if (cfg != NULL) {
        ok(cfg->mark_read == 1 && cfg->concurrency == 1,
           "bool: on is yes; int: minimum accepted");
        wachat_config_free(cfg);
    }

    cfg = loads(SANDBOX "redis localhost:1\n", "addr: host:port");
    if (cfg != NULL) {
        ok(strcmp(cfg->redis.server.host, "localhost") == 0 && cfg->redis.server.port == 1,
           "addr: localhost:1");
        wachat_config_free(cfg);
    }

    cfg = loads(SANDBOX "redis sentinel=10.0.0.1:26379,[::1]:26380,s3:26381 "
                "master=wachat\n", "redis: sentinels");
    if (cfg != NULL) {
        ok(cfg->redis.nsentinels == 3 && cfg->redis.server.host == NULL
           && strcmp(cfg->redis.master, "wachat") == 0
           && strcmp(cfg->redis.sentinels[0].host, "10.0.0.1") == 0
           && cfg->redis.sentinels[0].port == 26379
           && strcmp(cfg->redis.sentinels[1].host, "::1") == 0
           && cfg->redis.sentinels[2].port == 26381,
           "redis: sentinel=a,b,c master=name");
        wachat_config_free(cfg);
    }

    return 1;
}


/* integers, numbers, durations and sizes: not one, or out of range */
static void
types_bad_numbers(void)
{
    fails("redis_db x\n", "t.conf:1: redis_db: \"x\" is not an integer",
          "int: not a number");
    fails("redis_db 3.5\n", "t.conf:1: redis_db: \"3.5\" is not an integer",
          "int: a fraction");
    fails("redis_db -1\n",
          "t.conf:1: redis_db: \"-1\" is out of range (0..65535)",
          "int: below the minimum");
    fails("\nconcurrency 10001\n",
          "t.conf:2: concurrency: \"10001\" is out of range (1..10000)",
          "int: above the maximum, second line");
    fails("llm_temperature hot\n",
          "t.conf:1: llm_temperature: \"hot\" is not a number",
          "float: a word");
    fails("llm_temperature inf\n",
          "t.conf:1: llm_temperature: \"inf\" is not a number",
          "float: inf refused");
    fails("llm_temperature 2.5\n",
          "t.conf:1: llm_temperature: \"2.5\" is out of range (0..2)",
          "float: out of range");
    fails("llm_timeout 20x\n",
          "t.conf:1: llm_timeout: \"20x\" is not a duration (use 500ms, 20s, "
          "2m)", "duration: bad unit");
    fails("llm_timeout 20\n",
          "t.conf:1: llm_timeout: \"20\" is not a duration (use 500ms, 20s, "
          "2m)", "duration: no unit");
    fails("llm_timeout -5s\n",
          "t.conf:1: llm_timeout: \"-5s\" is not a duration (use 500ms, 20s, "
          "2m)", "duration: negative");
    fails("claim_idle 500ms\n",
          "t.conf:1: claim_idle: \"500ms\" is out of range (1s..24h)",
          "duration: below the minimum");
    fails("claim_idle 99999999999d\n",
          "t.conf:1: claim_idle: \"99999999999d\" is out of range (1s..24h)",
          "duration: huge");
    fails("http_max_response 1x\n",
          "t.conf:1: http_max_response: \"1x\" is not a size (use 4096, 64k, "
          "1mb, 1g)", "size: bad unit");
    fails("http_max_response 1k\n",
          "t.conf:1: http_max_response: \"1k\" is out of range (4kb..1gb)",
          "size: below the minimum");
}


/* booleans, enums, addresses, URLs, e-mail, lists */
static void
types_bad_words(void)
{
    fails("mark_read maybe\n",
          "t.conf:1: mark_read: \"maybe\" is not yes or no (also on, off)",
          "bool: maybe");
    fails("backend gpt\n",
          "t.conf:1: backend: \"gpt\" is not one of kb, openai",
          "enum: unknown value");
    fails("verbosity error\n",
          "t.conf:1: verbosity: \"error\" is not one of debug, info, notice, "
          "warning", "enum: verbosity error is not a threshold");
    fails("redis localhost\n",
          "t.conf:1: redis: \"localhost\" is not host:port or unix:/path",
          "addr: no port");
    fails("redis :6379\n",
          "t.conf:1: redis: \":6379\" is not host:port or unix:/path",
          "addr: no host");
    fails("redis localhost:70000\n",
          "t.conf:1: redis: \"localhost:70000\" is not host:port or "
          "unix:/path", "addr: port out of range");
    fails("redis ::1:6379\n",
          "t.conf:1: redis: \"::1:6379\" is not host:port or unix:/path",
          "addr: IPv6 without brackets");
    fails("redis unix:\n",
          "t.conf:1: redis: \"unix:\" is not host:port or unix:/path",
          "addr: unix: without a path");
    fails("redis \"\"\n", "t.conf:1: redis: must not be empty",
          "addr: redis must not be empty");
    fails("graph_api_url ftp://example.com\n",
          "t.conf:1: graph_api_url: \"ftp://example.com\" is not a http:// "
          "or https:// URL", "url: wrong scheme");
    fails("llm_url https://\n",
          "t.conf:1: llm_url: \"https://\" is not a http:// or https:// URL",
          "url: no host");
    fails("smtp_from nobody\n",
          "t.conf:1: smtp_from: \"nobody\" is not an e-mail address",
          "email: no @");
    fails("handoff_commands\n", "t.conf:1: handoff_commands: missing value",
          "list: no words");
}


/* "<key> \"<unit n times>\"\n", malloc'ed */
static char *
text_line(const char *key, const char *unit, size_t n)
{
    char    *line, *p;
    size_t   i, len;

    len = strlen(unit);
    line = malloc(strlen(key) + n * len + 5);

    if (line == NULL) {
        fprintf(stderr, "test: out of memory\n");
        exit(2);
    }

    p = line + sprintf(line, "%s \"", key);

    for (i = 0; i < n; i++, p += len) {
        memcpy(p, unit, len);
    }

    strcpy(p, "\"\n");

    return line;
}


/*
 * the texts sent with buttons: WhatsApp's 1024 characters at most,
 * characters and not bytes, in every language (fallback_text,
 * suggest_text, greeting_text)
 */
static void
types_body_texts(void)
{
    char             *line, *text;
    wachat_config_t  *cfg;

    line = text_line("suggest_text", "\xc3\xa9", 1024);          /* é */
    text = cat(SANDBOX, line);
    cfg = loads(text, "body texts: 1024 characters (2048 bytes) load");
    ok(cfg && strlen(cfg->suggest_text) == 2048, "body texts: ... whole");
    wachat_config_free(cfg);
    free(text);
    free(line);

    line = text_line("suggest_text", "a", 1025);
    fails(line, "t.conf:1: suggest_text: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is longer than 1024 "
          "characters, WhatsApp's limit for the text of a message with "
          "buttons", "body texts: suggest_text of 1025 refused");
    free(line);

    line = text_line("fallback_text", "a", 1025);
    fails(line, "t.conf:1: fallback_text: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is longer than 1024 "
          "characters, WhatsApp's limit for the text of a message with "
          "buttons", "body texts: fallback_text of 1025 refused");
    free(line);

    line = text_line("fallback_text.es", "\xc3\xa9", 1025);
    fails(line, "t.conf:1: fallback_text.es: \"\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\" is "
          "longer than 1024 characters, WhatsApp's limit for the text of a "
          "message with buttons",
          "body texts: fallback_text.es of 1025 refused");
    free(line);

    line = text_line("suggest_text.zh", "\xe5\x97\x8e", 1025);   /* 嗎 */
    fails(line, "t.conf:1: suggest_text.zh: \"\xe5\x97\x8e\xe5\x97\x8e"
          "\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e"
          "\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e"
          "\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e"
          "\xe5\x97\x8e\xe5\x97\x8e\xe5\x97\x8e...\" is longer than "
          "1024 characters, WhatsApp's limit for the text of a message with "
          "buttons", "body texts: suggest_text.zh of 1025 refused");
    free(line);

    line = text_line("greeting_text", "a", 1025);
    fails(line, "t.conf:1: greeting_text: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is longer than 1024 "
          "characters, WhatsApp's limit for the text of a message with "
          "buttons", "body texts: greeting_text (its menu's buttons) of "
          "1025 refused");
    free(line);
}


void
test_types(void)
{
    /* as before the split: nothing more if the good values do not load */
    if (!types_good()) {
        return;
    }

    types_bad_numbers();
    types_bad_words();
    types_body_texts();
}


void
test_syntax(void)
{
    wachat_config_t  *cfg;

    cfg = loads("# a comment\n"
                "   # an indented comment\n"
                "\n"
                "\t\n"
                "outbound   sandbox   # trailing comment\n"
                "stream a#b\n"
                "fallback_text \"Say \\\"hi\\\"\\n\\tand \\\\ wave\"\n"
                "kb \"conf/my kb.md\"\r\n"
                "llm_system_prompt \"\xe4\xbd\xa0\xe5\xa5\xbd \xe2\x80\x94 "
                "hi\"\n"
                "group wachatd",
                "syntax: comments, blanks, quotes, CRLF, no final newline");
    if (cfg == NULL) {
        return;
    }

    is_str(cfg->stream, "a#b", "syntax: # inside a word is not a comment");
    is_str(cfg->fallback_text, "Say \"hi\"\n\tand \\ wave",
           "syntax: escapes \\\" \\n \\t \\\\");
    is_str(cfg->kb, "conf/my kb.md", "syntax: quoted value with a space, "
           "CRLF line");
    is_str(cfg->llm_system_prompt, "\xe4\xbd\xa0\xe5\xa5\xbd \xe2\x80\x94 hi",
           "syntax: UTF-8 value");
    is_str(cfg->group, "wachatd", "syntax: last line without newline");

    wachat_config_free(cfg);

    cfg = loads("\xef\xbb\xbfoutbound sandbox\n", "syntax: UTF-8 BOM skipped");
    wachat_config_free(cfg);

    fails("fallback_text \"a\\qb\"\n",
          "t.conf:1: unknown escape \\q in a quoted value (use \\\" \\\\ \\n "
          "\\t)", "syntax: unknown escape");
    fails("# ok\nfallback_text \"abc\n",
          "t.conf:2: unterminated quoted value", "syntax: unterminated quote");
    fails("stream a\x01z\n",
          "t.conf:1: control character 0x01 in the line (write \\n or \\t "
          "inside quotes)", "syntax: raw control character");
    fails("stream \xc3\x28\n", "t.conf:1: the line is not valid UTF-8",
          "syntax: invalid UTF-8");
    fails("stream \xc0\xaf\n", "t.conf:1: the line is not valid UTF-8",
          "syntax: overlong UTF-8");
    fails("stream a b\n",
          "t.conf:1: stream: takes one value, got 2 (quote a value that "
          "contains spaces)", "syntax: too many values");
    fails("stream\n", "t.conf:1: stream: missing value",
          "syntax: missing value");
    fails("stream \"\"\n", "t.conf:1: stream: must not be empty",
          "syntax: empty value refused where it must not be empty");
}


void
test_keys(void)
{
    fails("outbound sandbox\nstream a\n\nstream b\n",
          "t.conf:4: stream: already set at line 2 (each key may appear "
          "once)", "duplicate key is an error naming both lines");
    fails("strem x\n",
          "t.conf:1: unknown key \"strem\" (did you mean \"stream\"?)",
          "unknown key with a suggestion");
    fails("Stream x\n",
          "t.conf:1: unknown key \"Stream\" (did you mean \"stream\"?)",
          "keys are lower case; suggestion ignores case");
    fails("grpah_token_file x\n",
          "t.conf:1: unknown key \"grpah_token_file\" (did you mean "
          "\"graph_token_file\"?)", "suggestion for a secret key");
    fails("zzzzzzzz 1\n", "t.conf:1: unknown key \"zzzzzzzz\"",
          "unknown key, nothing near");
}
