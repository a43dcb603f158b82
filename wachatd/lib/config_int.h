/*
 * config internals shared by config.c (loading: the file, its lines, a
 * key set), config_words.c (a line's words), config_lookup.c (a key's
 * table entry, the "did you mean" hint), config_translations.c (texts in
 * other languages), config_keys.c (the key table), config_types.c (one set
 * of functions per value type; with config_units.c, config_addr.c and
 * config_lists.c), config_secret.c (secrets from files and variables),
 * config_agents.c (agent lines), config_check.c (checks of one
 * value and across keys), config_doc.c (the dump and the docs),
 * config_messages.c and config_files.c (messages; memory and files).  Not
 * for the rest of the daemon.
 */

#ifndef WACHAT_CONFIG_INT_H
#define WACHAT_CONFIG_INT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/config.h"
#include "lib/log.h"


#define WACHAT_CONF_KEYS_MAX    128
#define WACHAT_CONF_ARGS_MAX    64      /* words on a line */
#define WACHAT_CONF_SECRET_MAX  (64 * 1024)
#define WACHAT_CONF_WHY_MAX     512
#define WACHAT_CONF_SHOW_MAX    60      /* bytes of a value quoted back */
#define WACHAT_CONF_SHOW_SIZE   (WACHAT_CONF_SHOW_MAX + 16)

/* entry flags */
#define WACHAT_CONF_NONEMPTY    0x01    /* "" is refused */
#define WACHAT_CONF_REPEAT      0x02    /* one line per item, appended */
#define WACHAT_CONF_LANG        0x04    /* also <name>.<lang> per language */

/* type flags */
#define WACHAT_CONF_WORDS       0x01    /* takes any number of words */
#define WACHAT_CONF_SECRET      0x02    /* written <name>_file or _env only */

#define WACHAT_CONF_F(field)    offsetof(wachat_config_t, field)


/* How a key was written: secrets only come as <name>_file or <name>_env. */
typedef enum {
    WACHAT_CONF_FORM_PLAIN = 0,
    WACHAT_CONF_FORM_FILE,
    WACHAT_CONF_FORM_ENV
} wachat_conf_form_e;


typedef struct wachat_conf_ctx_s    wachat_conf_ctx_t;
typedef struct wachat_conf_entry_s  wachat_conf_entry_t;


struct wachat_conf_ctx_s {
    wachat_config_t  *cfg;
    const char       *file;
    const char       *dir;          /* relative paths start here; NULL:
                                       as written (text from memory) */
    int               line;         /* 0 while applying defaults */
    int               form;         /* of the key being set */
    int              *set_line;     /* per entry: line that set it */
    int              *set_form;
    char              why[WACHAT_CONF_WHY_MAX];
};


/*
 * What a value type does, the way Redis's typeInterface does it: adding a
 * type is one set of these functions and one descriptor.
 *
 * set     stores argv (one word unless WACHAT_CONF_WORDS) into field,
 *         replacing what was there; on error fills ctx->why
 * dump    writes the entry's line(s) as a config file would hold them
 * free    releases what field owns and zeroes it; NULL: owns nothing
 * doc     the type column of docs/config.md
 */
typedef struct {
    int   (*set)(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
              void *field, int argc, char **argv);
    void  (*dump)(const wachat_conf_entry_t *e, const void *field,
              FILE *out);
    void  (*free)(void *field);
    void  (*doc)(const wachat_conf_entry_t *e, char *buf, size_t size);
    unsigned   flags;
} wachat_conf_type_t;


/* A check of a value just stored; it may normalise it.  Fills ctx->why. */
typedef struct {
    int          (*check)(wachat_conf_ctx_t *ctx, const char *name,
                     void *field);
    const char    *what;            /* the doc's type column */
} wachat_conf_check_t;


struct wachat_conf_entry_s {
    const char                 *name;
    const wachat_conf_type_t   *type;
    size_t                      offset;
    const char                 *dflt;   /* file text; NULL: not set */
    const char                 *shown;  /* the default as docs show it */
    double                      min;
    double                      max;
    const char *const          *values; /* enum */
    const wachat_conf_check_t  *check;
    unsigned                    flags;
    const char                 *desc;
};


/* the key table, in the order the dump and the docs list them */
extern const wachat_conf_entry_t  wachat_conf_table[];
extern const size_t               wachat_conf_nkeys;


/*
 * the types (config_types.c, config_units.c, config_addr.c,
 * config_lists.c, config_secret.c, config_agents.c)
 */
extern const wachat_conf_type_t  wachat_conf_string_type;
extern const wachat_conf_type_t  wachat_conf_int_type;
extern const wachat_conf_type_t  wachat_conf_float_type;
extern const wachat_conf_type_t  wachat_conf_duration_type;
extern const wachat_conf_type_t  wachat_conf_size_type;
extern const wachat_conf_type_t  wachat_conf_bool_type;
extern const wachat_conf_type_t  wachat_conf_enum_type;
extern const wachat_conf_type_t  wachat_conf_addr_type;
extern const wachat_conf_type_t  wachat_conf_redis_type;
extern const wachat_conf_type_t  wachat_conf_list_type;
extern const wachat_conf_type_t  wachat_conf_secret_type;
extern const wachat_conf_type_t  wachat_conf_agent_type;
extern const wachat_conf_type_t  wachat_conf_canned_type;


/* the checks (config_check.c) */
extern const wachat_conf_check_t  wachat_conf_http_url;
extern const wachat_conf_check_t  wachat_conf_smtp_url;
extern const wachat_conf_check_t  wachat_conf_email;
extern const wachat_conf_check_t  wachat_conf_timezone;
extern const wachat_conf_check_t  wachat_conf_button_title;
extern const wachat_conf_check_t  wachat_conf_body_text;
extern const wachat_conf_check_t  wachat_conf_working_hours;
extern const wachat_conf_check_t  wachat_conf_file_path;
extern const wachat_conf_check_t  wachat_conf_digits;

int wachat_conf_check_email(wachat_conf_ctx_t *ctx, const char *name,
    void *field);

/* defaults that depend on the machine, and checks across keys */
int wachat_conf_finish(wachat_conf_ctx_t *ctx);


/* values (config_types.c; durations and sizes: config_units.c) */
int wachat_conf_parse_int(const char *v, long long *out);
void wachat_conf_fmt_duration(long long ms, char *buf, size_t size);
void wachat_conf_fmt_size(long long bytes, char *buf, size_t size);

/* a value as the file would write it, quoted only when it must be */
void wachat_conf_put_value(FILE *out, const char *v);

/* "<name>" padded to the value column of the dump */
void wachat_conf_put_key(FILE *out, const char *name);


/* a line's bytes and words (config_words.c) */
int wachat_conf_check_bytes(wachat_conf_ctx_t *ctx, const char *line,
    size_t len);
int wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s,
    size_t len, char *buf, char **argv, int *argc);

/* a key's table entry, or what is said without one (config_lookup.c) */
const wachat_conf_entry_t *wachat_conf_lookup(const char *key,
    int *form);
void wachat_conf_unknown(wachat_conf_ctx_t *ctx, const char *key);
void wachat_conf_duplicate(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, int form, const char *key);

/* <key>.<lang> "text" (config_translations.c) */
int wachat_conf_translation(wachat_conf_ctx_t *ctx, int argc,
    char **argv);


/* messages (config_messages.c) */

/* a value quoted for a message: escaped, and cut if long */
const char *wachat_conf_show(const char *v, char *buf, size_t size);

void wachat_conf_why(wachat_conf_ctx_t *ctx, const char *fmt, ...)
    WACHAT_LOG_PRINTF(2, 3);

/* the "file:line: ..." error of a load or parse, into err */
void wachat_conf_error(char *err, size_t errlen, const char *file,
    int line, const char *fmt, ...) WACHAT_LOG_PRINTF(5, 6);


/* memory and files (config_files.c) */

char *wachat_conf_strdup(const char *s);

/* config_addr.c: an address as the file writes it, and back */
int wachat_conf_parse_addr(const char *v, wachat_addr_t *addr);
void wachat_conf_fmt_addr(const wachat_addr_t *a, char *buf, size_t size);

/*
 * A path of the file made absolute against the config file's directory, as
 * nginx resolves against its prefix (so a config works whatever directory
 * wachatd starts in); an absolute path, and any path of a config parsed
 * from memory, is copied as written.  NULL: out of memory.
 */
char *wachat_conf_path(wachat_conf_ctx_t *ctx, const char *v);

/* zeroes len bytes of a secret before they are freed */
void wachat_conf_wipe(char *s, size_t len);

/*
 * Reads up to size bytes of fd, fewer if the file shrank meanwhile: the
 * count, or -1 with errno set.
 */
ssize_t wachat_conf_read(int fd, char *buf, size_t size);


#endif /* WACHAT_CONFIG_INT_H */
