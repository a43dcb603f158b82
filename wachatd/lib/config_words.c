/*
 * A config line's bytes and its words: control bytes refused, words split
 * at blanks, double quotes grouping, escapes inside quotes, # comments.
 */

#include <string.h>

#include "wachat_utf8.h"

#include "lib/config_int.h"


static int wachat_conf_unescape(wachat_conf_ctx_t *ctx, char c, char *out);


/* A raw control byte is a mistake, and would not survive a dump. */
int
wachat_conf_check_bytes(wachat_conf_ctx_t *ctx, const char *line,
    size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) line[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            wachat_conf_why(ctx, "control character 0x%02x in the line "
                            "(write \\n or \\t inside quotes)", c);
            return -1;
        }
    }

    if (!wachat_utf8_valid(line, len)) {
        wachat_conf_why(ctx, "the line is not valid UTF-8");
        return -1;
    }

    return 0;
}


/*
 * Words separated by blanks.  Double quotes group, with \" \\ \n \t \r
 * escapes inside; a quoted part may sit inside a word (name="Ann Lee").
 * A word starting with # starts a comment.  Words land in buf, which is
 * as long as the line: unescaping never makes text longer.
 */
int
wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s, size_t len,
    char *buf, char **argv, int *argc)
{
    int          quoted;
    char        *out;
    const char  *p, *end;

    p = s;
    end = s + len;
    out = buf;
    *argc = 0;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end || *p == '#') {
            return 0;
        }

        if (*argc == WACHAT_CONF_ARGS_MAX) {
            wachat_conf_why(ctx, "more than %d words on one line",
                            WACHAT_CONF_ARGS_MAX);
            return -1;
        }

        argv[(*argc)++] = out;
        quoted = 0;

        while (p < end && (quoted || (*p != ' ' && *p != '\t'))) {

            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }

            if (quoted && *p == '\\') {
                if (p + 1 == end) {
                    break;
                }

                if (wachat_conf_unescape(ctx, p[1], out++) != 0) {
                    return -1;
                }

                p += 2;
                continue;
            }

            *out++ = *p++;
        }

        if (quoted) {
            wachat_conf_why(ctx, "unterminated quoted value");
            return -1;
        }

        *out++ = '\0';
    }
}


/* The character that \c stands for inside quotes. */
static int
wachat_conf_unescape(wachat_conf_ctx_t *ctx, char c, char *out)
{
    switch (c) {
    case '"':
    case '\\':
        *out = c;
        return 0;
    case 'n':
        *out = '\n';
        return 0;
    case 't':
        *out = '\t';
        return 0;
    case 'r':
        *out = '\r';
        return 0;
    default:
        wachat_conf_why(ctx, "unknown escape \\%c in a quoted value (use "
                        "\\\" \\\\ \\n \\t)", c);
        return -1;
    }
}
