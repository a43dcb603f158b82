/*
 * wachat config: the wachatd / wachatctl config file.
 *
 * A plain "key value..." file in the spirit of redis.conf (see
 * docs/config.md, generated from the same table the parser uses).  Loading
 * builds a new wachat_config_t and touches no global state, so the main loop
 * can load a new config on SIGHUP and swap it in only if it loaded.
 *
 * Secrets are never accepted inline: "<name>_file <path>" or
 * "<name>_env <VAR>" resolve them at load time.  Print a secret only through
 * wachat_secret_describe(); its value is for the wire, not for logs.
 */

#ifndef WACHAT_CONFIG_H
#define WACHAT_CONFIG_H

#include <stddef.h>
#include <stdio.h>


/* "host:port", "[v6]:port" or "unix:/path"; all NULL when not set. */
typedef struct {
    char  *host;
    int    port;
    char  *path;            /* a unix socket: host is NULL */
} wachat_addr_t;


/*
 * redis: one server ("host:port", "[v6]:port", "unix:/path"), or a primary
 * found through Redis Sentinel ("sentinel=host:port,... master=name").
 */
typedef struct {
    wachat_addr_t    server;        /* unset behind sentinels */
    wachat_addr_t   *sentinels;
    size_t           nsentinels;
    char            *master;        /* the name the sentinels know */
} wachat_redis_conf_t;


typedef struct {
    char  *value;           /* NULL when not set; never log or print */
    char  *source;          /* "file /run/x" or "env VAR", for messages */
} wachat_secret_t;


typedef struct {
    char   **items;
    size_t   n;
} wachat_list_t;


/* what an agent is e-mailed about */
typedef enum {
    WACHAT_NOTIFY_OFF = 0,
    WACHAT_NOTIFY_HANDOFF,  /* a customer asks for a person, nobody online */
    WACHAT_NOTIFY_ALL       /* that, and new chats while nobody is online */
} wachat_notify_policy_e;


/*
 * agent <id> <email> [name="Display Name"] [notify=off|handoff|all]
 *       [capacity=N]
 */
typedef struct {
    char  *id;
    char  *email;
    char  *name;            /* defaults to the id */
    int    notify;          /* wachat_notify_policy_e; off unless asked */
    int    capacity;        /* conversations at once; 0: agent_capacity */
    int    line;            /* where the file defines it, for messages */
} wachat_agent_t;


typedef struct {
    wachat_agent_t  *items;
    size_t           n;
} wachat_agents_t;


/* <key>.<lang> "text": a system text in one language */
typedef struct {
    const char  *key;       /* the table's name of the key */
    char        *lang;      /* "zh", "zh-Hant", "es" */
    char        *value;
    int          line;
} wachat_text_t;


typedef struct {
    wachat_text_t  *items;
    size_t          n;
} wachat_texts_t;


typedef enum {
    WACHAT_BACKEND_KB = 0,
    WACHAT_BACKEND_OPENAI
} wachat_backend_e;


typedef enum {
    WACHAT_OUTBOUND_GRAPH = 0,
    WACHAT_OUTBOUND_SANDBOX
} wachat_outbound_e;


/*
 * Durations are in milliseconds (the *_ms fields), sizes in bytes.
 * verbosity is a WACHAT_LOG_* level (log.h).
 */
typedef struct {
    char             *path;         /* the file this was loaded from */

    /* Redis and the event stream */
    wachat_redis_conf_t  redis;
    char             *redis_user;
    wachat_secret_t   redis_password;
    wachat_secret_t   redis_sentinel_password;
    int               redis_db;
    int               redis_replicas;
    int               redis_replicas_timeout_ms;
    char             *stream;
    char             *group;
    char             *consumer;
    long long         claim_idle_ms;

    /* answering */
    int               backend;      /* wachat_backend_e */
    char             *kb;
    double            kb_min_score;
    char             *kb_thesaurus;
    char             *fallback_text;
    int               kb_suggestions;
    double            kb_suggest_min_score;
    char             *suggest_text;
    int               customer_answers_per_minute;
    int               customer_answers_burst;
    char             *rate_limited_text;

    /* sending */
    int               outbound;     /* wachat_outbound_e */
    char             *outbox_stream;
    char             *dead_stream;
    char             *graph_api_url;
    wachat_secret_t   graph_token;
    long long         graph_timeout_ms;
    int               graph_max_retries;
    char             *waba_id;
    int               rate_limit;
    int               mark_read;

    /* the OpenAI-compatible backend */
    char             *llm_url;
    char             *llm_model;
    wachat_secret_t   llm_key;
    long long         llm_timeout_ms;
    int               llm_max_tokens;
    double            llm_temperature;
    char             *llm_system_prompt;
    int               llm_history;
    int               llm_passages;
    int               llm_check_links;
    int               llm_vision;
    wachat_list_t     llm_allowed_domains;

    /* hybrid retrieval: an OpenAI-compatible embeddings endpoint */
    char             *embed_url;
    char             *embed_model;
    wachat_secret_t   embed_key;
    long long         embed_timeout_ms;
    double            embed_kb_boost;

    /* customers' media */
    char             *media_dir;
    size_t            media_max_bytes;
    long long         media_max_age_ms;
    int               media_attempts;
    char             *stt_url;
    char             *stt_model;
    wachat_secret_t   stt_key;
    long long         stt_timeout_ms;
    char             *voice_text;
    char             *media_reply_text;

    /* the daemon */
    int               concurrency;
    size_t            http_max_response;
    int               history_max;
    long long         retention_ms;
    long long         window_ms;
    long long         shutdown_timeout_ms;
    char             *logfile;      /* "" means stderr */
    int               verbosity;

    /* agents and hand-over */
    wachat_addr_t     api_listen;
    wachat_list_t     kb_editors;
    wachat_list_t     canned;       /* name, text, name, text... */
    wachat_secret_t   api_secret;
    wachat_list_t     handoff_commands;
    char             *handoff_text;
    char             *handoff_button_title;
    char             *greeting_text;
    char             *thanks_text;
    char             *handoff_offline_text;
    char             *closing_text;
    long long         notify_period_ms;
    int               notify_digest_after;
    long long         notify_digest_period_ms;
    char             *timezone;
    char             *console_url;
    long long         agent_idle_timeout_ms;
    long long         agent_heartbeat_timeout_ms;
    char             *working_hours;
    int               agent_capacity;
    char             *smtp_url;
    char             *smtp_from;
    char             *smtp_user;
    wachat_secret_t   smtp_password;
    wachat_agents_t   agents;

    /* the system texts given per language (<key>.<lang>) */
    wachat_texts_t    texts;
} wachat_config_t;


/* the config file when neither -c nor $WACHAT_CONF names one */
#ifndef WACHAT_CONF_PATH
#define WACHAT_CONF_PATH  "conf/wachatd.conf"
#endif


/*
 * Which config file to read: "option" (-c) if not NULL, else the
 * environment's WACHAT_CONF if set and not empty, else WACHAT_CONF_PATH.
 */
const char *wachat_config_path(const char *option);

/*
 * Load and check a config file.  On failure: NULL, and err holds
 * "file:line: what is wrong" (or "file: ..." when no line is to blame).
 */
wachat_config_t *wachat_config_load(const char *path, char *err,
    size_t errlen);

/* The same from text in memory; "name" stands for the file in messages. */
wachat_config_t *wachat_config_parse(const char *name, const char *text,
    size_t len, char *err, size_t errlen);

/* Frees everything, and wipes secret values first.  NULL is fine. */
void wachat_config_free(wachat_config_t *cfg);

/* "90s", "15m", "7d" as in the config: 0 with ms set, -1 if it is none */
int wachat_config_duration(const char *v, long long *ms);

/*
 * A system text in the customer's language: <key>.<lang> for lang itself
 * ("zh-Hant"), else for its language ("zh"), else one for a script of it
 * (lang "zh", text "zh-Hans"), else plain (the key's own value).
 */
const char *wachat_config_text(const wachat_config_t *cfg, const char *key,
    const char *plain, const char *lang);

/* "off", "handoff", "all" */
const char *wachat_agent_notify_name(int policy);

/*
 * Every key with its effective value, for wachatd -t.  The output is itself
 * a config that loads; secrets appear as their <name>_file / <name>_env
 * line, never by value.
 */
void wachat_config_dump(const wachat_config_t *cfg, FILE *out);

/* A Markdown table of every key: type, default, description. */
void wachat_config_doc(FILE *out);

/* A Markdown section on the file's syntax (quoting, units, secrets). */
void wachat_config_doc_syntax(FILE *out);

/* "<secret from file /path>", "<secret from env VAR>" or "<not set>". */
const char *wachat_secret_describe(const wachat_secret_t *secret, char *buf,
    size_t size);


#endif /* WACHAT_CONFIG_H */
