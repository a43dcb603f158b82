/*
 * wachat_contract: what the nginx module writes to the stream and wachatd
 * reads from it (docs/events.md), and the names both sides share in Redis.
 *
 * Included by both programs; nothing else spells a field name, a kind or a
 * conversation mode.  Plain C, no nginx or hiredis headers.
 */

#ifndef WACHAT_CONTRACT_H
#define WACHAT_CONTRACT_H

#include <stddef.h>


/* the "v" field; a reader refuses (and does not acknowledge) others */
#define WACHAT_CONTRACT_VERSION    "1"

#define WACHAT_STREAM_DEFAULT      "wachat:events"

/*
 * How long a wamid is remembered, by the module (dedup keys) and by wachatd
 * (the "done" marker of a conversation): Meta retries for up to 7 days.
 */
#define WACHAT_DEDUP_TTL_DEFAULT   (8 * 86400)


/*
 * Stream entry fields, in the order the module writes them:
 * X(enum suffix, name on the stream).
 */
#define WACHAT_FIELDS(X)                                                     \
    X(V,               "v")                                                  \
    X(KIND,            "kind")                                               \
    X(ID,              "id")                                                 \
    X(FROM,            "from")                                               \
    X(RECIPIENT,       "recipient")                                          \
    X(USER_ID,         "user_id")                                            \
    X(NAME,            "name")                                               \
    X(PHONE_NUMBER_ID, "phone_number_id")                                    \
    X(TS,              "ts")                                                 \
    X(TYPE,            "type")                                               \
    X(TEXT,            "text")                                               \
    X(PAYLOAD,         "payload")                                            \
    X(CONTEXT,         "context")                                            \
    X(STATUS,          "status")                                             \
    X(ERROR_CODE,      "error_code")                                         \
    X(WABA_ID,         "waba_id")                                            \
    X(RAW,             "raw")

typedef enum {
#define WACHAT_FIELD_ENUM(id, name)  WACHAT_FIELD_##id,
    WACHAT_FIELDS(WACHAT_FIELD_ENUM)
#undef WACHAT_FIELD_ENUM
    WACHAT_FIELD_COUNT
} wachat_field_e;


/*
 * The "kind" field.  The names are also macros so that text built from them
 * (the "other:<sha256>" dedup key of docs/events.md) spells them once.
 */
#define WACHAT_KIND_NAME_MESSAGE        "message"
#define WACHAT_KIND_NAME_STATUS         "status"
#define WACHAT_KIND_NAME_OTHER          "other"

#define WACHAT_KINDS(X)                                                      \
    X(MESSAGE, WACHAT_KIND_NAME_MESSAGE)                                     \
    X(STATUS,  WACHAT_KIND_NAME_STATUS)                                      \
    X(OTHER,   WACHAT_KIND_NAME_OTHER)

typedef enum {
#define WACHAT_KIND_ENUM(id, name)  WACHAT_KIND_##id,
    WACHAT_KINDS(WACHAT_KIND_ENUM)
#undef WACHAT_KIND_ENUM
    WACHAT_KIND_COUNT
} wachat_kind_e;


/*
 * wachatd's replies carry biz_opaque_callback_data "wachat:<history id>";
 * Meta echoes it in the statuses of the message it accepted (in "raw").
 */
#define WACHAT_SEND_TAG                 "wachat:"


/*
 * Who answers a conversation (the "mode" of its hash): the assistant, nobody
 * yet (a person was asked for), or the agent who holds it.  The names are
 * also macros so that Lua script text can be assembled from them.
 */
#define WACHAT_MODE_NAME_AI             "ai"
#define WACHAT_MODE_NAME_WAITING_AGENT  "waiting_agent"
#define WACHAT_MODE_NAME_AGENT          "agent"

#define WACHAT_MODES(X)                                                      \
    X(AI,            WACHAT_MODE_NAME_AI)                                    \
    X(WAITING_AGENT, WACHAT_MODE_NAME_WAITING_AGENT)                         \
    X(AGENT,         WACHAT_MODE_NAME_AGENT)

typedef enum {
#define WACHAT_MODE_ENUM(id, name)  WACHAT_MODE_##id,
    WACHAT_MODES(WACHAT_MODE_ENUM)
#undef WACHAT_MODE_ENUM
    WACHAT_MODE_COUNT
} wachat_mode_e;


typedef struct {
    const char  *data;
    size_t       len;
} wachat_name_t;


extern const wachat_name_t  wachat_field_names[WACHAT_FIELD_COUNT];
extern const wachat_name_t  wachat_kind_names[WACHAT_KIND_COUNT];
extern const wachat_name_t  wachat_mode_names[WACHAT_MODE_COUNT];


/* name -> enum; -1 when it is none of them */
int wachat_field_lookup(const char *name, size_t len);
int wachat_kind_lookup(const char *name, size_t len);
int wachat_mode_lookup(const char *name, size_t len);


#endif /* WACHAT_CONTRACT_H */
