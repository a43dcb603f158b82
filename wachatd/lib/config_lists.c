/*
 * The config's lists: words on one line or one line per item (list), and
 * the agents' canned replies, name and text pairs (canned).
 */

#include <stdlib.h>
#include <string.h>

#include "wachat_utf8.h"

#include "lib/config_int.h"


/* list: one or more words */

static void
wachat_conf_list_free(void *field)
{
    size_t          i;
    wachat_list_t  *list;

    list = field;

    for (i = 0; i < list->n; i++) {
        free(list->items[i]);
    }

    free(list->items);
    memset(list, 0, sizeof(wachat_list_t));
}


static int
wachat_conf_list_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    int            i;
    wachat_list_t  list;

    if (argc == 0) {
        wachat_conf_why(ctx, "%s: missing value", e->name);
        return -1;
    }

    list.n = 0;
    list.items = calloc((size_t) argc, sizeof(char *));
    if (list.items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    for (i = 0; i < argc; i++) {
        if (argv[i][0] == '\0') {
            wachat_conf_list_free(&list);
            wachat_conf_why(ctx, "%s: an empty word is not allowed",
                            e->name);
            return -1;
        }

        list.items[i] = wachat_conf_strdup(argv[i]);
        if (list.items[i] == NULL) {
            wachat_conf_list_free(&list);
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        list.n++;
    }

    wachat_conf_list_free(field);
    *(wachat_list_t *) field = list;

    return 0;
}


static void
wachat_conf_list_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                i;
    const wachat_list_t  *list;

    list = field;

    /* a list without a default may be empty; "key" alone would not load */
    if (list->n == 0) {
        fprintf(out, "# %s: none\n", e->name);
        return;
    }

    wachat_conf_put_key(out, e->name);

    for (i = 0; i < list->n; i++) {
        if (i > 0) {
            fputc(' ', out);
        }

        wachat_conf_put_value(out, list->items[i]);
    }

    fputc('\n', out);
}


static void
wachat_conf_list_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "words");
}


const wachat_conf_type_t  wachat_conf_list_type = {
    wachat_conf_list_set, wachat_conf_list_dump, wachat_conf_list_free,
    wachat_conf_list_doc, WACHAT_CONF_WORDS
};


/*
 * canned: "canned <name> <text>", one line per reply an agent inserts with
 * "/<name>"; kept as a list of name, text, name, text...
 */

static int
wachat_conf_canned_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char            show[WACHAT_CONF_SHOW_SIZE];
    size_t          i, n;
    char          **items;
    wachat_list_t  *list;

    list = field;
    n = strlen(argv[0]);

    if (argc != 2 || argv[1][0] == '\0') {
        wachat_conf_why(ctx, "%s: takes <name> \"<text>\"", e->name);
        return -1;
    }

    if (n == 0 || n > 32
        || strspn(argv[0], "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
    {
        wachat_conf_why(ctx, "%s: name %s must be 1 to 32 of a-z, 0-9, _ "
                        "or -", e->name,
                        wachat_conf_show(argv[0], show, sizeof(show)));
        return -1;
    }

    for (i = 0; i < list->n; i += 2) {
        if (strcmp(list->items[i], argv[0]) == 0) {
            wachat_conf_why(ctx, "%s: %s is already defined", e->name,
                            argv[0]);
            return -1;
        }
    }

    items = realloc(list->items, (list->n + 2) * sizeof(char *));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    list->items = items;
    items[list->n] = wachat_conf_strdup(argv[0]);
    items[list->n + 1] = wachat_conf_strdup(argv[1]);
    list->n += 2;

    if (items[list->n - 2] == NULL || items[list->n - 1] == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    return 0;
}


static void
wachat_conf_canned_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                i;
    const wachat_list_t  *list;

    list = field;

    if (list->n == 0) {
        fprintf(out, "# %s: none\n", e->name);
    }

    for (i = 0; i + 1 < list->n; i += 2) {
        wachat_conf_put_key(out, e->name);
        wachat_conf_put_value(out, list->items[i]);
        fputc(' ', out);
        wachat_conf_put_value(out, list->items[i + 1]);
        fputc('\n', out);
    }
}


static void
wachat_conf_canned_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "`<name> \"<text>\"`, one line each");
}


const wachat_conf_type_t  wachat_conf_canned_type = {
    wachat_conf_canned_set, wachat_conf_canned_dump, wachat_conf_list_free,
    wachat_conf_canned_doc, WACHAT_CONF_WORDS
};
