/*
 * The config as text: wachatd -t's dump of a loaded config, and
 * docs/config.md's syntax section and key table.  Each key's line and type
 * column come from its type's dump and doc functions.
 */

#include <stdio.h>

#include "lib/config_int.h"


/* the key's texts per language, after it: which languages it has */
static void
wachat_conf_dump_texts(const wachat_config_t *cfg,
    const wachat_conf_entry_t *e, FILE *out)
{
    char                  key[96];
    size_t                i;
    const wachat_text_t  *t;

    for (i = 0; i < cfg->texts.n; i++) {
        t = &cfg->texts.items[i];

        if (t->key == e->name) {
            snprintf(key, sizeof(key), "%s.%s", t->key, t->lang);
            wachat_conf_put_key(out, key);
            wachat_conf_put_value(out, t->value);
            fputc('\n', out);
        }
    }
}


void
wachat_config_dump(const wachat_config_t *cfg, FILE *out)
{
    size_t                      i;
    const wachat_conf_entry_t  *e;

    fprintf(out, "# wachatd config from %s\n", cfg->path);

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];
        e->type->dump(e, (const char *) cfg + e->offset, out);

        if (e->flags & WACHAT_CONF_LANG) {
            wachat_conf_dump_texts(cfg, e, out);
        }
    }
}


/* Markdown table cell text: a | would end the cell. */
static void
wachat_conf_doc_cell(FILE *out, const char *s)
{
    for ( ; *s != '\0'; s++) {
        if (*s == '|') {
            fputc('\\', out);
        }

        fputc(*s, out);
    }
}


void
wachat_config_doc(FILE *out)
{
    char                        type[128];
    size_t                      i;
    const char                 *dflt;
    const wachat_conf_entry_t  *e;

    fputs("| key | type | default | description |\n", out);
    fputs("| --- | --- | --- | --- |\n", out);

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];

        if (e->type->flags & WACHAT_CONF_SECRET) {
            fprintf(out, "| `%s_file` / `%s_env` | ", e->name, e->name);
        } else {
            fprintf(out, "| `%s` | ", e->name);
        }

        e->type->doc(e, type, sizeof(type));
        wachat_conf_doc_cell(out, type);
        fputs(" | ", out);

        dflt = e->shown != NULL ? e->shown : e->dflt;

        if (dflt == NULL || dflt[0] == '\0') {
            fputs("*none*", out);
        } else {
            fputc('`', out);
            wachat_conf_doc_cell(out, dflt);
            fputc('`', out);
        }

        fputs(" | ", out);
        wachat_conf_doc_cell(out, e->desc);

        if (e->flags & WACHAT_CONF_LANG) {
            fputs(" Per language: `", out);
            wachat_conf_doc_cell(out, e->name);
            fputs(".<lang>`.", out);
        }

        fputs(" |\n", out);
    }
}


void
wachat_config_doc_syntax(FILE *out)
{
    fputs(
"One setting per line: a key, then its value. Blank lines are ignored,\n"
"and so is everything from a word that starts with `#` to the end of the\n"
"line. A value with spaces is written in double quotes, where `\\\"`,\n"
"`\\\\`, `\\n`, `\\t` and `\\r` are the only escapes; quotes may also sit\n"
"inside a word (`name=\"Ann Lee\"`). The file is UTF-8.\n"
"\n"
"- Each key may appear once: a second line for the same key is an error\n"
"  that names both lines (`agent` is the exception: one line per agent).\n"
"- Durations take a unit: `500ms`, `30s`, `2m`, `1h`, `1d` (`0` alone is\n"
"  zero). Sizes are bytes, or `k`/`kb`, `m`/`mb`, `g`/`gb` (powers of\n"
"  1024). Booleans are `yes`/`no` (also `on`/`off`).\n"
"- Secrets are never written inline: `<name>_file <path>` reads the file\n"
"  (trailing newlines removed; a file its group or other users may read\n"
"  or write is refused: mode 0600 or 0400, owned by the user wachatd\n"
"  runs as) and `<name>_env <VARIABLE>` reads the environment. The file is\n"
"  read again on every reload (SIGHUP), so a rotated token is picked up.\n"
"  `wachatd -t` shows where a secret comes from, never its value.\n"
"- A relative path (`kb`, `media_dir`, `logfile`, a secret's `_file`, `unix:` sockets)\n"
"  starts at the directory of the config file, as nginx's start at its\n"
"  prefix: `kb kb.md` is the file beside the config, whatever directory\n"
"  wachatd runs in. `wachatd -t` prints them absolute.\n"
"- The config file and the knowledge base are refused when every user\n"
"  may write them (`chmod o-w`).\n"
"- A mistake stops the load with `file:line: what is wrong`; on SIGHUP a\n"
"  config that does not load is not applied and the old one stays.\n",
        out);
}
