/*
 * The config keys: one row per key names its type, default, range and
 * description.  Parsing, defaults, wachatd -t (the dump), docs/config.md
 * (the doc) and error messages all read this table, so they cannot
 * disagree.  Defaults are written as file text and go through the same
 * parser as the file, so a default shown in the docs is exactly the one in
 * force.
 */

#include "lib/config_int.h"


static const char *const  wachat_conf_backends[] = { "kb", "openai", NULL };
static const char *const  wachat_conf_outbounds[] = {
    "graph", "sandbox", NULL
};
static const char *const  wachat_conf_levels[] = {
    "debug", "info", "notice", "warning", NULL
};


#define WACHAT_STRING(name, field, dflt, shown, flags, check, desc)         \
    { name, &wachat_conf_string_type, WACHAT_CONF_F(field), dflt, shown,    \
      0, 0, NULL, check, flags, desc }

#define WACHAT_NUMBER(name, type, field, dflt, min, max, desc)              \
    { name, &type, WACHAT_CONF_F(field), dflt, NULL, min, max, NULL, NULL,  \
      0, desc }

#define WACHAT_INT(name, field, dflt, min, max, desc)                       \
    WACHAT_NUMBER(name, wachat_conf_int_type, field, dflt, min, max, desc)

#define WACHAT_FLOAT(name, field, dflt, min, max, desc)                     \
    WACHAT_NUMBER(name, wachat_conf_float_type, field, dflt, min, max, desc)

/* min and max in milliseconds */
#define WACHAT_DURATION(name, field, dflt, min, max, desc)                  \
    WACHAT_NUMBER(name, wachat_conf_duration_type, field, dflt, min, max,   \
                  desc)

#define WACHAT_SIZE(name, field, dflt, min, max, desc)                      \
    WACHAT_NUMBER(name, wachat_conf_size_type, field, dflt, min, max, desc)

#define WACHAT_OTHER(name, type, field, dflt, values, flags, desc)          \
    { name, &type, WACHAT_CONF_F(field), dflt, NULL, 0, 0, values, NULL,    \
      flags, desc }

#define WACHAT_BOOL(name, field, dflt, desc)                                \
    WACHAT_OTHER(name, wachat_conf_bool_type, field, dflt, NULL, 0, desc)

#define WACHAT_ENUM(name, field, dflt, values, desc)                        \
    WACHAT_OTHER(name, wachat_conf_enum_type, field, dflt, values, 0, desc)

#define WACHAT_ADDR(name, field, dflt, flags, desc)                         \
    WACHAT_OTHER(name, wachat_conf_addr_type, field, dflt, NULL, flags,     \
                 desc)

#define WACHAT_LIST(name, field, dflt, desc)                                \
    WACHAT_OTHER(name, wachat_conf_list_type, field, dflt, NULL, 0, desc)

/* written <name>_file or <name>_env; no default */
#define WACHAT_SECRET(name, field, desc)                                    \
    WACHAT_OTHER(name, wachat_conf_secret_type, field, NULL, NULL, 0, desc)

#define WACHAT_AGENT(name, field, desc)                                     \
    WACHAT_OTHER(name, wachat_conf_agent_type, field, NULL, NULL,           \
                 WACHAT_CONF_REPEAT, desc)

#define WACHAT_SEC   1000.0
#define WACHAT_MIN   (60 * WACHAT_SEC)
#define WACHAT_HOUR  (60 * WACHAT_MIN)


/*
 * The keys, in the order the dump and the docs list them.  A secret entry
 * "x" is written as x_file or x_env; the doc's type column, ranges and
 * defaults are all derived from here.
 */
const wachat_conf_entry_t  wachat_conf_table[] = {

    /* Redis and the event stream */

    WACHAT_OTHER("redis", wachat_conf_redis_type, redis, "127.0.0.1:6379",
        NULL, WACHAT_CONF_NONEMPTY,
        "Redis server: host:port, [IPv6]:port or unix:/path/to/socket; or "
        "the primary of Redis Sentinel, sentinel=host:port,host:port,... "
        "master=name: asked of the sentinels at every connect, checked with "
        "ROLE, asked again when Redis answers READONLY or LOADING.  A "
        "change takes effect at the next restart."),

    WACHAT_STRING("redis_user", redis_user, "", NULL, 0, NULL,
        "Redis ACL user (empty: the default user).  Taken at a reload "
        "(SIGHUP), as the passwords are."),

    WACHAT_SECRET("redis_password", redis_password,
        "Redis password, sent with AUTH.  Read again at a reload "
        "(SIGHUP): every link reconnects with a new one at once, so a "
        "rotated password is taken without a restart (a refused one is "
        "logged right away)."),

    WACHAT_SECRET("redis_sentinel_password", redis_sentinel_password,
        "Password of the sentinels (their requirepass), when they have "
        "one.  Read again at a reload (SIGHUP), as redis_password."),

    WACHAT_INT("redis_db", redis_db, "0", 0, 65535,
        "Redis database number (Redis Cluster has only 0).  A change "
        "takes effect at the next restart."),

    WACHAT_INT("redis_replicas", redis_replicas, "0", 0, 16,
        "Replicas that must acknowledge each write of the conversation "
        "engine (WAIT) before it goes on: a step not yet on a replica is "
        "not answered, a reply's record not yet on one is written again, "
        "so a failover cannot take back what a customer was sent.  An "
        "agent's action is written once.  0: no WAIT.  Like nginx's "
        "wachat_redis_replicas; docs/deployment.md."),

    WACHAT_DURATION("redis_replicas_timeout", redis_replicas_timeout_ms,
        "200ms", 10, WACHAT_SEC,
        "How long a WAIT of redis_replicas waits; fewer acknowledgements "
        "count as a failed write, retried, and for a second after, "
        "wachatd's scripts fail at once rather than wait again."),

    WACHAT_STRING("stream", stream, "wachat:events", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream the nginx module writes events to (its wachat_stream)."),

    WACHAT_STRING("group", group, "wachatd", NULL, WACHAT_CONF_NONEMPTY,
        NULL,
        "Consumer group shared by every wachatd process; created if "
        "missing."),

    WACHAT_STRING("consumer", consumer, NULL, "<hostname>-<pid>",
        WACHAT_CONF_NONEMPTY, NULL,
        "This process's name in the group; unique per process."),

    WACHAT_DURATION("claim_idle", claim_idle_ms, "60s", WACHAT_SEC,
        24 * WACHAT_HOUR,
        "Pending entries idle longer than this (their consumer died) are "
        "reclaimed by another consumer."),

    /* answering */

    WACHAT_ENUM("backend", backend, "kb", wachat_conf_backends,
        "How replies are made: kb answers from the knowledge base alone; "
        "openai asks an OpenAI-compatible model, grounded on the knowledge "
        "base."),

    WACHAT_STRING("kb", kb, "kb.md", NULL, WACHAT_CONF_NONEMPTY,
        &wachat_conf_file_path,
        "Knowledge base file (Markdown Q&A entries); a relative path starts "
        "at the config file's directory. The installed config names "
        "/var/lib/wachat/kb.md, the state directory: wachatd writes the file "
        "when agents add to it (kb_editors), and the packaged unit lets it "
        "write only there."),

    WACHAT_FLOAT("kb_min_score", kb_min_score, "0.45", 0, 1,
        "Confidence threshold, 0..1 (how much of the question the best "
        "entry covers, words weighted by rarity, blended with how much of "
        "one of its phrasings the question has; docs/answer-quality.md): "
        "below it the customer gets fallback_text."),

    WACHAT_STRING("kb_thesaurus", kb_thesaurus, "", NULL, 0, NULL,
        "WordNet 3.0 database directory (Debian wordnet-base: "
        "/usr/share/wordnet) whose synonyms of the knowledge base's own "
        "words a customer's words may match (\"hire\" for the KB's "
        "\"rent\"), read at every load. Empty: off, the default (on the "
        "evaluation it answered no more questions rightly and one more "
        "wrongly; docs/answer-quality.md). Missing or unreadable: logged, "
        "words alone."),

    WACHAT_STRING("fallback_text", fallback_text,
        "I'm not sure \xe2\x80\x94 shall I connect you to a person?", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, &wachat_conf_body_text,
        "Reply when nothing in the knowledge base matches well enough; "
        "sent with a button to reach a person (WhatsApp: 1024 characters "
        "at most)."),

    WACHAT_INT("kb_suggestions", kb_suggestions, "2", 0, 2,
        "When no entry is confident enough, the nearest entries (at most "
        "this many) whose score reaches kb_suggest_min_score are offered "
        "as buttons, titled with the entry's heading or its first Also "
        "phrasing that fits 20 characters in the customer's language, "
        "before the one to a person, with suggest_text; one tap answers "
        "the entry. 0: only the button to a person."),

    WACHAT_FLOAT("kb_suggest_min_score", kb_suggest_min_score, "0.1", 0, 1,
        "The least confidence of an entry offered with the fallback "
        "(kb_suggestions); 0.1 leaves out entries that share only a common "
        "word with the question."),

    WACHAT_STRING("suggest_text", suggest_text,
        "I'm not sure I understood \xe2\x80\x94 is it one of these? Or "
        "shall I connect you to a person?", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, &wachat_conf_body_text,
        "Reply instead of fallback_text when entries are suggested "
        "(kb_suggestions). In a language that has a fallback_text.<lang> "
        "but no suggest_text.<lang>, that fallback_text is sent. Sent with "
        "buttons (WhatsApp: 1024 characters at most)."),

    WACHAT_INT("customer_answers_per_minute", customer_answers_per_minute,
        "20", 0, 100000,
        "AI answers (knowledge base or model) one customer gets per "
        "minute, a token bucket per conversation (0: no limit). Past it "
        "the message is kept in the history and shown to agents, but not "
        "answered and never sent to the model."),

    WACHAT_INT("customer_answers_burst", customer_answers_burst, "10", 1,
        100000,
        "Answers a customer may get in a row before "
        "customer_answers_per_minute paces them (the bucket's size)."),

    WACHAT_STRING("rate_limited_text", rate_limited_text,
        "You are sending messages faster than I can answer. I'll reply "
        "again in a moment; a person can still read everything you "
        "write.", NULL, WACHAT_CONF_LANG, NULL,
        "Sent once when a customer goes over customer_answers_per_minute, "
        "not again until an answer has gone out (empty: nothing is "
        "sent)."),

    /* sending */

    WACHAT_ENUM("outbound", outbound, "graph", wachat_conf_outbounds,
        "graph sends through the WhatsApp Graph API; sandbox only appends "
        "replies to outbox_stream, to try a knowledge base safely."),

    WACHAT_STRING("outbox_stream", outbox_stream, "wachat:outbox", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream that receives the replies in sandbox mode; it keeps about "
        "the last 10000 (MAXLEN ~)."),

    WACHAT_STRING("dead_stream", dead_stream, "wachat:dead", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream of messages that finally failed to send, with the reason "
        "(wachatctl dead, wachatctl retry)."),

    WACHAT_STRING("graph_api_url", graph_api_url,
        "https://graph.facebook.com/v25.0", NULL, WACHAT_CONF_NONEMPTY,
        &wachat_conf_http_url,
        "Graph API base URL, version included."),

    WACHAT_SECRET("graph_token", graph_token,
        "Graph API access token (a permanent system-user token); required "
        "with outbound graph."),

    WACHAT_DURATION("graph_timeout", graph_timeout_ms, "10s",
        100, 10 * WACHAT_MIN,
        "Timeout of one Graph API call."),

    WACHAT_INT("graph_max_retries", graph_max_retries, "5", 0, 100,
        "Retries of a Graph API call after a 429, a 5xx or a network "
        "error, with exponential backoff and jitter."),

    WACHAT_STRING("waba_id", waba_id, "", NULL, 0, &wachat_conf_digits,
        "WhatsApp Business Account id (WhatsApp Manager): its approved "
        "message templates are listed (GET /{waba_id}/message_templates) "
        "at start, on reload, every hour and on demand, for agents to "
        "send outside the 24-hour window. Empty: the account the webhooks "
        "name (their entry[].id, the event's waba_id) is used."),

    WACHAT_INT("rate_limit", rate_limit, "80", 1, 100000,
        "Messages per second per business number (a token bucket shared "
        "through Redis)."),

    WACHAT_BOOL("mark_read", mark_read, "no",
        "Mark each inbound message read and show the typing indicator "
        "while its answer is prepared."),

    /* the OpenAI-compatible backend */

    WACHAT_STRING("llm_url", llm_url, "", NULL, 0,
        &wachat_conf_http_url,
        "Base URL of an OpenAI-compatible API; requests go to "
        "{llm_url}/chat/completions. Required with backend openai."),

    WACHAT_STRING("llm_model", llm_model, "", NULL, 0, NULL,
        "Model name sent to the API. Required with backend openai."),

    WACHAT_SECRET("llm_key", llm_key,
        "API key, sent as a bearer token (optional: local servers often "
        "need none)."),

    WACHAT_DURATION("llm_timeout", llm_timeout_ms, "20s",
        100, 10 * WACHAT_MIN,
        "Timeout of one LLM call; on timeout or error the kb answer is "
        "sent instead."),

    WACHAT_INT("llm_max_tokens", llm_max_tokens, "300", 1, 100000,
        "max_tokens of a completion."),

    WACHAT_FLOAT("llm_temperature", llm_temperature, "0.2", 0, 2,
        "Sampling temperature."),

    WACHAT_STRING("llm_system_prompt", llm_system_prompt,
        "You answer WhatsApp messages for a business. Use only the "
        "knowledge base passages given. If they do not answer the "
        "question, say so briefly and offer to connect the customer to a "
        "person. Reply in the customer's language, in a few sentences.",
        NULL, WACHAT_CONF_NONEMPTY, NULL,
        "System prompt; the knowledge base passages and the conversation "
        "follow it."),

    WACHAT_INT("llm_history", llm_history, "6", 0, 100,
        "Past turns of the conversation sent with the question."),

    WACHAT_INT("llm_passages", llm_passages, "4", 1, 8,
        "Best-ranked knowledge base entries sent with the question (at "
        "most 8: the word search ranks that many)."),

    WACHAT_BOOL("llm_check_links", llm_check_links, "yes",
        "Refuse a model answer naming a host (in a URL, a bare domain, an "
        "e-mail's domain) that no knowledge base entry, none of the "
        "config's own texts (system prompt, fallback, hand-over, closing) "
        "and no llm_allowed_domains entry names; the kb answer is sent "
        "instead."),

    WACHAT_BOOL("llm_vision", llm_vision, "no",
        "Pass a customer's picture (jpeg, png, webp) to the model with the "
        "question, as an OpenAI-compatible image_url content part (a "
        "data: URL): for vision-capable models only. A picture without a "
        "caption then goes to the model too."),

    WACHAT_LIST("llm_allowed_domains", llm_allowed_domains, NULL,
        "More hosts a model answer may name, separated by spaces; "
        "*.example.com also allows its subdomains."),

    /* hybrid retrieval: words and meaning */

    WACHAT_STRING("embed_url", embed_url, "", NULL, 0,
        &wachat_conf_http_url,
        "Base URL of an OpenAI-compatible embeddings API (llama.cpp "
        "server, Ollama, OpenAI); requests go to {embed_url}/embeddings. "
        "Set, the knowledge base entries are embedded at load (cached in "
        "Redis by content) and every question at its arrival, and the "
        "entries are ranked by words and meaning together, for both "
        "backends (docs/answer-quality.md). Empty, or the endpoint "
        "failing: by words alone."),

    WACHAT_STRING("embed_model", embed_model, "", NULL, 0, NULL,
        "Embeddings model name sent to the API. Required with embed_url."),

    WACHAT_SECRET("embed_key", embed_key,
        "Embeddings API key, sent as a bearer token (optional: local "
        "servers often need none)."),

    WACHAT_DURATION("embed_timeout", embed_timeout_ms, "3s", 100,
        WACHAT_MIN,
        "Timeout of embedding one question: past it the question is "
        "ranked by words alone. Embedding the knowledge base at load gets "
        "ten times as long (at least 30 s)."),

    WACHAT_FLOAT("embed_kb_boost", embed_kb_boost, "0", 0, 0.5,
        "kb backend with embed_url: what an entry that the words and the "
        "meaning both rank first gains in confidence (kb_min_score).  0: "
        "the vectors never make an answer confident, they only cast doubt "
        "on the words' first entry and choose the model's passages.  "
        "Measured with an English model, 0.10 answered 4 points more "
        "questions right and as many more wrong (docs/answer-quality.md)."),

    /* customers' media: kept, transcribed, answered */

    WACHAT_STRING("media_dir", media_dir, "media", NULL,
        WACHAT_CONF_NONEMPTY, &wachat_conf_file_path,
        "Directory of the local media store: every picture, voice note, "
        "video, document and sticker a customer sends is downloaded there "
        "at once (Meta's media ids expire after 7 days), for the agents "
        "and for transcription. Created mode 0700, files 0600; a relative "
        "path starts at the config file's directory."),

    WACHAT_SIZE("media_max_bytes", media_max_bytes, "2gb",
        64 * 1024, 1024.0 * 1024 * 1024 * 1024,
        "Most bytes the media store holds; past it the oldest items are "
        "removed first. Also the largest single item downloaded."),

    WACHAT_DURATION("media_max_age", media_max_age_ms, "30d", WACHAT_MIN,
        3650 * 24 * WACHAT_HOUR,
        "Media items older than this are removed from the store."),

    WACHAT_INT("media_attempts", media_attempts, "4", 1, 20,
        "Attempts at downloading one media item (metadata, then bytes), "
        "with backoff, before it is recorded as failed."),

    WACHAT_STRING("stt_url", stt_url, "", NULL, 0, &wachat_conf_http_url,
        "Base URL of an OpenAI-compatible transcription API (e.g. a local "
        "whisper server); voice notes go to {stt_url}/audio/transcriptions "
        "and the transcript is answered like a text. Empty: voice notes "
        "get voice_text and go to a person."),

    WACHAT_STRING("stt_model", stt_model, "whisper-1", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Model name sent with each transcription."),

    WACHAT_SECRET("stt_key", stt_key,
        "Transcription API key, sent as a bearer token (optional)."),

    WACHAT_DURATION("stt_timeout", stt_timeout_ms, "60s", WACHAT_SEC,
        10 * WACHAT_MIN,
        "Timeout of one transcription call."),

    WACHAT_STRING("voice_text", voice_text,
        "I can't listen to voice notes here, so I've passed yours to a "
        "person, who will answer here. You can also type your question.",
        NULL, WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, NULL,
        "Reply to a voice note that cannot be transcribed (no stt_url, or "
        "the transcription failed); the conversation then goes to a "
        "person, as with handoff_commands."),

    WACHAT_STRING("media_reply_text", media_reply_text,
        "Thanks! I can only read text: please type your question, or ask "
        "for a person with /live_agent.", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, NULL,
        "Reply to what the assistant cannot read: a sticker, a location, "
        "a contact card, a picture, video or document without a caption, "
        "an unsupported message. Reactions get no reply."),

    /* the daemon */

    WACHAT_INT("concurrency", concurrency, "64", 1, 10000,
        "Most HTTP calls (LLM and Graph API) in flight at once."),

    WACHAT_SIZE("http_max_response", http_max_response, "1mb",
        4096, 1024.0 * 1024 * 1024,
        "Largest HTTP response body accepted from the Graph API or the "
        "LLM."),

    WACHAT_INT("history_max", history_max, "200", 1, 100000,
        "Entries kept in each conversation's history (messages, replies, "
        "statuses)."),

    WACHAT_DURATION("window", window_ms, "24h", WACHAT_MIN,
        7 * 24 * WACHAT_HOUR,
        "Replies only go out within this time of the inbound message's "
        "own timestamp (WhatsApp's customer service window is 24h)."),

    WACHAT_DURATION("retention", retention_ms, "90d", WACHAT_HOUR,
        3650 * 24 * WACHAT_HOUR,
        "A conversation nobody writes in for this long is deleted from "
        "Redis (its history, statuses and profile), so memory stays "
        "bounded."),

    WACHAT_DURATION("shutdown_timeout", shutdown_timeout_ms, "10s",
        0, WACHAT_HOUR,
        "On SIGTERM, how long in-flight work may finish; what is left "
        "stays pending in Redis for the next start."),

    WACHAT_STRING("logfile", logfile, "", NULL, 0, &wachat_conf_file_path,
        "Log file (empty: stderr, which journald reads under systemd); "
        "reopened on SIGHUP."),

    WACHAT_ENUM("verbosity", verbosity, "notice", wachat_conf_levels,
        "Least important log level written."),

    /* agents and hand-over */

    WACHAT_ADDR("api_listen", api_listen, "", 0,
        "Agent API address, host:port or unix:/path (empty: off)."),

    WACHAT_SECRET("api_secret", api_secret,
        "What nginx proves itself with: the API answers only requests "
        "carrying it in X-Wachat-Proxy-Secret (nginx: wachat_api_secret_file "
        "naming the same file). Required when api_listen is host:port; at "
        "least 16 characters (openssl rand -hex 32)."),

    WACHAT_OTHER("canned", wachat_conf_canned_type, canned, NULL, NULL,
        WACHAT_CONF_REPEAT,
        "A canned reply agents insert in the console by typing /<name>, one "
        "line each (the knowledge base's answers are offered too)."),

    WACHAT_LIST("kb_editors", kb_editors, "*",
        "Agents who may add to the knowledge base from the console (new "
        "entries, phrasings): agent ids separated by spaces, * for every "
        "agent, - for nobody. wachatd writes the kb file, so its directory "
        "must be writable by wachatd's user (wachatctl doctor checks it)."),

    WACHAT_LIST("handoff_commands", handoff_commands, "/live_agent",
        "Customer messages that ask for a person (besides the hand-over "
        "button), separated by spaces."),

    WACHAT_STRING("handoff_button_title", handoff_button_title,
        "Talk to a person", NULL, WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG,
        &wachat_conf_button_title,
        "Title of the button that reaches a person, sent with fallback_text "
        "(WhatsApp: 20 characters at most)."),

    WACHAT_STRING("greeting_text", greeting_text,
        "Hello! I'm the assistant. Ask me anything, or pick a topic:", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, &wachat_conf_body_text,
        "Reply to a greeting (hi, hello, \xe4\xbd\xa0\xe5\xa5\xbd...), with the "
        "knowledge base's first entries as buttons (WhatsApp: 1024 "
        "characters at most)."),

    WACHAT_STRING("thanks_text", thanks_text,
        "You're welcome! Anything else, just ask.", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, NULL,
        "Reply to a thank-you (thanks, \xe8\xac\x9d\xe8\xac\x9d...)."),

    WACHAT_STRING("handoff_text", handoff_text,
        "Connecting you to a person \xe2\x80\x94 one moment, please.", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, NULL,
        "Sent when a customer asks for a person and an agent is online."),

    WACHAT_STRING("handoff_offline_text", handoff_offline_text,
        "Nobody is available right now. A person will answer here as soon "
        "as possible, usually within one working day.", NULL,
        WACHAT_CONF_NONEMPTY | WACHAT_CONF_LANG, NULL,
        "Sent when a customer asks for a person and no agent is online: "
        "say when to expect an answer."),

    WACHAT_STRING("closing_text", closing_text,
        "Thanks for talking with us! I'm the assistant again: ask me "
        "anything, or tap \"Talk to a person\" any time.", NULL,
        WACHAT_CONF_LANG, NULL,
        "Sent when an agent (or the idle timeout) resolves a conversation; "
        "empty: nothing is sent."),

    WACHAT_DURATION("notify_period", notify_period_ms, "30m",
        WACHAT_SEC, 7 * 24 * WACHAT_HOUR,
        "At most one e-mail per conversation per period; sent again if the "
        "conversation is still waiting after it."),

    WACHAT_INT("notify_digest_after", notify_digest_after, "3", 0, 1000,
        "E-mails one agent gets within notify_digest_period before the "
        "rest wait for one digest e-mail at the end of the period "
        "(0: never a digest)."),

    WACHAT_DURATION("notify_digest_period", notify_digest_period_ms, "15m",
        WACHAT_SEC, 24 * WACHAT_HOUR,
        "The period of notify_digest_after."),

    WACHAT_STRING("timezone", timezone, "UTC", NULL, WACHAT_CONF_NONEMPTY,
        &wachat_conf_timezone,
        "Time zone of the times in e-mails: UTC or a tz database name "
        "(Europe/Berlin, Asia/Hong_Kong)."),

    WACHAT_STRING("console_url", console_url, "", NULL, 0, NULL,
        "Public URL of the agent console, for the links in e-mails (e.g. "
        "https://bot.example.com/agent/)."),

    WACHAT_DURATION("agent_idle_timeout", agent_idle_timeout_ms, "30m",
        WACHAT_MIN, 7 * 24 * WACHAT_HOUR,
        "A conversation held by an agent with no message either way for "
        "this long goes back to the AI."),

    WACHAT_DURATION("agent_heartbeat_timeout", agent_heartbeat_timeout_ms,
        "60s", 5 * WACHAT_SEC, WACHAT_HOUR,
        "An agent whose console has not checked in for this long counts "
        "as offline (presence set from wachatctl or the API without a "
        "console stays until changed)."),

    WACHAT_STRING("working_hours", working_hours, "", NULL, 0,
        &wachat_conf_working_hours,
        "When agents work, in timezone: \"mon-fri 09:00-18:00, sat "
        "10:00-14:00\" (empty: always). Outside it a presence set from "
        "wachatctl or the API counts as offline; a console's is its own."),

    WACHAT_INT("agent_capacity", agent_capacity, "5", 1, 1000,
        "Conversations an agent holds at once before no more are assigned "
        "to it (an agent's capacity=N overrides it); waiting ones are "
        "assigned, oldest window first, when an agent comes online or "
        "finishes one."),

    WACHAT_STRING("smtp_url", smtp_url, "", NULL, 0,
        &wachat_conf_smtp_url,
        "Mail server for agent notifications: smtp://host[:port] or "
        "smtps://host[:port] (empty: no e-mail)."),

    WACHAT_STRING("smtp_from", smtp_from, "", NULL, 0,
        &wachat_conf_email,
        "Sender address of notification e-mails; required with smtp_url."),

    WACHAT_STRING("smtp_user", smtp_user, "", NULL, 0, NULL,
        "SMTP login (empty: no authentication)."),

    WACHAT_SECRET("smtp_password", smtp_password,
        "SMTP password; needs smtp_user."),

    WACHAT_AGENT("agent", agents,
        "A human agent, one line each. notify=handoff e-mails them when a "
        "customer asks for a person and nobody is online; notify=all also "
        "when a new customer writes while nobody is online (on = all); "
        "capacity=N: conversations at once (default agent_capacity)."),
};


#define WACHAT_CONF_NKEYS \
    (sizeof(wachat_conf_table) / sizeof(wachat_conf_table[0]))

const size_t  wachat_conf_nkeys = WACHAT_CONF_NKEYS;

_Static_assert(WACHAT_CONF_NKEYS <= WACHAT_CONF_KEYS_MAX,
               "raise WACHAT_CONF_KEYS_MAX");

/* verbosity values are log levels, in the same order */
_Static_assert(WACHAT_LOG_DEBUG == 0 && WACHAT_LOG_WARNING == 3,
               "verbosity values must match log levels");
