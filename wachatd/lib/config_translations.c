/*
 * The system texts in other languages: <key>.<lang> "text" lines, and the
 * text a conversation in a language gets (wachat_config_text).
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config_int.h"


/* "zh", "es", "zh-Hant", "pt-BR": a language tag, as far as we use them */
static int
wachat_conf_lang_tag(const char *s)
{
    size_t  n, sub;

    n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

    if (n < 2 || n > 3) {
        return 0;
    }

    if (s[n] == '\0') {
        return 1;
    }

    sub = strspn(s + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789");

    return s[n] == '-' && sub >= 2 && sub <= 8 && s[n + 1 + sub] == '\0';
}


/* <key>.<lang> "text": a system text in one language */
int
wachat_conf_translation(wachat_conf_ctx_t *ctx, int argc, char **argv)
{
    int                         form;
    char                        key[64], show[WACHAT_CONF_SHOW_SIZE];
    size_t                      i, n;
    const char                 *lang;
    wachat_text_t              *t, *items;
    wachat_texts_t             *texts;
    const wachat_conf_entry_t  *e;

    lang = strchr(argv[0], '.') + 1;
    n = (size_t) (lang - 1 - argv[0]);
    e = NULL;

    if (n < sizeof(key)) {
        memcpy(key, argv[0], n);
        key[n] = '\0';
        e = wachat_conf_lookup(key, &form);
    }

    if (e == NULL || !(e->flags & WACHAT_CONF_LANG)) {
        wachat_conf_why(ctx, "%s: only the system texts may be given per "
                        "language (fallback_text.zh, handoff_text.es, ...)",
                        wachat_conf_show(argv[0], show, sizeof(show)));
        return -1;
    }

    if (!wachat_conf_lang_tag(lang)) {
        wachat_conf_why(ctx, "%s: \"%s\" is not a language: write en, zh, "
                        "zh-Hant, pt-BR...", argv[0], lang);
        return -1;
    }

    if (argc != 2 || argv[1][0] == '\0') {
        wachat_conf_why(ctx, "%s takes one text (in quotes when it has "
                        "spaces)", argv[0]);
        return -1;
    }

    texts = &ctx->cfg->texts;

    for (i = 0; i < texts->n; i++) {
        if (texts->items[i].key == e->name
            && strcmp(texts->items[i].lang, lang) == 0)
        {
            wachat_conf_why(ctx, "%s is already set at line %d", argv[0],
                            texts->items[i].line);
            return -1;
        }
    }

    items = realloc(texts->items, (texts->n + 1) * sizeof(wachat_text_t));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    texts->items = items;
    t = &items[texts->n];
    t->key = e->name;
    t->lang = wachat_conf_strdup(lang);
    t->value = wachat_conf_strdup(argv[1]);
    t->line = ctx->line;
    texts->n++;

    if (t->lang == NULL || t->value == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    /* the same rules as the key's own value */
    if (e->check && e->check->check(ctx, argv[0], &t->value) != 0) {
        return -1;
    }

    return 0;
}


const char *
wachat_config_text(const wachat_config_t *cfg, const char *key,
    const char *plain, const char *lang)
{
    size_t               i, n;
    const wachat_text_t  *t, *base, *script;

    if (lang == NULL || cfg == NULL) {
        return plain;
    }

    n = strcspn(lang, "-");
    base = script = NULL;

    for (i = 0; i < cfg->texts.n; i++) {
        t = &cfg->texts.items[i];

        if (strcmp(t->key, key) != 0) {
            continue;
        }

        if (strcmp(t->lang, lang) == 0) {
            return t->value;
        }

        if (strlen(t->lang) == n && strncmp(t->lang, lang, n) == 0) {
            base = t;

        } else if (strncmp(t->lang, lang, n) == 0 && t->lang[n] == '-'
                   && script == NULL)
        {
            script = t;
        }
    }

    return base ? base->value : script ? script->value : plain;
}
