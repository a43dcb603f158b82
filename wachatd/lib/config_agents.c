/*
 * The agent type of the config, one line per human agent:
 *
 *     agent <id> <email> [name="Display Name"] [notify=off|handoff|all]
 *           [capacity=N]
 *
 * Each line appends to cfg->agents (the key is WACHAT_CONF_REPEAT).
 */

#include <stdlib.h>
#include <string.h>

#include "lib/config_int.h"


#define WACHAT_CONF_AGENT_ID_MAX  64


static int wachat_conf_agent_check(wachat_conf_ctx_t *ctx,
    const wachat_agents_t *agents, const char *id, const char *email);
static int wachat_conf_agent_options(wachat_conf_ctx_t *ctx,
    wachat_agent_t *a, int argc, char **argv, const char **name);


static int
wachat_conf_agent_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    const char       *name;
    wachat_agent_t   *a, *items;
    wachat_agents_t  *agents;

    (void) e;

    agents = field;

    if (argc < 2 || argc > 5) {
        wachat_conf_why(ctx, "agent: takes <id> <email> [name=\"Display "
                        "Name\"] [notify=off|handoff|all] [capacity=N], got "
                        "%d value%s", argc, argc == 1 ? "" : "s");
        return -1;
    }

    if (wachat_conf_agent_check(ctx, agents, argv[0], argv[1]) != 0) {
        return -1;
    }

    items = realloc(agents->items, (agents->n + 1) * sizeof(wachat_agent_t));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    agents->items = items;
    a = &items[agents->n];
    memset(a, 0, sizeof(wachat_agent_t));

    name = argv[0];

    if (wachat_conf_agent_options(ctx, a, argc - 2, argv + 2, &name) != 0) {
        return -1;
    }

    a->id = wachat_conf_strdup(argv[0]);
    a->email = wachat_conf_strdup(argv[1]);
    a->name = wachat_conf_strdup(name);
    a->line = ctx->line;

    /* counted even if half built, so that free sees it */
    agents->n++;

    if (a->id == NULL || a->email == NULL || a->name == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    return 0;
}


/* The id: its characters, and not twice; the e-mail address. */
static int
wachat_conf_agent_check(wachat_conf_ctx_t *ctx,
    const wachat_agents_t *agents, const char *id, const char *email)
{
    char    show[WACHAT_CONF_SHOW_SIZE];
    size_t  k;

    if (id[0] == '\0' || strlen(id) > WACHAT_CONF_AGENT_ID_MAX
        || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.-") != strlen(id))
    {
        wachat_conf_why(ctx, "agent: id %s must be 1 to 64 letters, digits, "
                        "'_', '.' or '-'",
                        wachat_conf_show(id, show, sizeof(show)));
        return -1;
    }

    for (k = 0; k < agents->n; k++) {
        if (strcmp(agents->items[k].id, id) == 0) {
            wachat_conf_why(ctx, "agent: id \"%s\" is already defined", id);
            return -1;
        }
    }

    if (email[0] == '\0'
        || wachat_conf_check_email(ctx, "agent", &email) != 0)
    {
        wachat_conf_why(ctx, "agent: %s is not an e-mail address",
                        wachat_conf_show(email, show, sizeof(show)));
        return -1;
    }

    return 0;
}


const char *
wachat_agent_notify_name(int policy)
{
    switch (policy) {
    case WACHAT_NOTIFY_HANDOFF:  return "handoff";
    case WACHAT_NOTIFY_ALL:      return "all";
    }

    return "off";
}


/* on and yes are the "all" of the days before the policies */
static int
wachat_conf_agent_notify(const char *v)
{
    if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0) {
        return WACHAT_NOTIFY_OFF;
    }

    if (strcmp(v, "handoff") == 0) {
        return WACHAT_NOTIFY_HANDOFF;
    }

    if (strcmp(v, "all") == 0 || strcmp(v, "on") == 0
        || strcmp(v, "yes") == 0)
    {
        return WACHAT_NOTIFY_ALL;
    }

    return -1;
}


/*
 * name="...", notify=off|handoff|all and capacity=N, each at most once;
 * name points into argv
 */
static int
wachat_conf_agent_options(wachat_conf_ctx_t *ctx, wachat_agent_t *a,
    int argc, char **argv, const char **name)
{
    int          i, have_name, have_notify, have_capacity;
    long         n;
    char         show[WACHAT_CONF_SHOW_SIZE], *end;
    const char  *opt;

    have_name = 0;
    have_notify = 0;
    have_capacity = 0;

    for (i = 0; i < argc; i++) {
        opt = argv[i];

        if (strncmp(opt, "name=", 5) == 0 && !have_name) {
            *name = opt + 5;
            have_name = 1;

            if (opt[5] == '\0') {
                wachat_conf_why(ctx, "agent: name must not be empty");
                return -1;
            }

        } else if (strncmp(opt, "notify=", 7) == 0 && !have_notify) {
            have_notify = 1;
            a->notify = wachat_conf_agent_notify(opt + 7);

            if (a->notify < 0) {
                wachat_conf_why(ctx, "agent: %s: notify is off, handoff or "
                                "all", wachat_conf_show(opt, show,
                                                        sizeof(show)));
                return -1;
            }

        } else if (strncmp(opt, "capacity=", 9) == 0 && !have_capacity) {
            have_capacity = 1;
            n = strtol(opt + 9, &end, 10);

            if (opt[9] == '\0' || *end != '\0' || n < 1 || n > 1000) {
                wachat_conf_why(ctx, "agent: %s: capacity is a number from "
                                "1 to 1000", wachat_conf_show(opt, show,
                                                              sizeof(show)));
                return -1;
            }

            a->capacity = (int) n;

        } else {
            wachat_conf_why(ctx, "agent: %s is not name=\"...\", "
                            "notify=off|handoff|all or capacity=N (each at "
                            "most once)",
                            wachat_conf_show(opt, show, sizeof(show)));
            return -1;
        }
    }

    return 0;
}


/* every agent in full, so that the dump loads back the same */
static void
wachat_conf_agent_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                  k;
    const wachat_agent_t   *a;
    const wachat_agents_t  *agents;

    agents = field;

    if (agents->n == 0) {
        fprintf(out, "# %s: none\n", e->name);
    }

    for (k = 0; k < agents->n; k++) {
        a = &agents->items[k];
        wachat_conf_put_key(out, e->name);
        wachat_conf_put_value(out, a->id);
        fputc(' ', out);
        wachat_conf_put_value(out, a->email);
        fputs(" name=", out);
        wachat_conf_put_value(out, a->name);
        fprintf(out, " notify=%s", wachat_agent_notify_name(a->notify));

        if (a->capacity) {
            fprintf(out, " capacity=%d", a->capacity);
        }

        fputc('\n', out);
    }
}


static void
wachat_conf_agent_free(void *field)
{
    size_t            i;
    wachat_agents_t  *agents;

    agents = field;

    for (i = 0; i < agents->n; i++) {
        free(agents->items[i].id);
        free(agents->items[i].email);
        free(agents->items[i].name);
    }

    free(agents->items);
    memset(agents, 0, sizeof(wachat_agents_t));
}


static void
wachat_conf_agent_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "`<id> <email> [name=\"...\"] "
             "[notify=off|handoff|all] [capacity=N]`, one line per agent");
}


const wachat_conf_type_t  wachat_conf_agent_type = {
    wachat_conf_agent_set, wachat_conf_agent_dump, wachat_conf_agent_free,
    wachat_conf_agent_doc, WACHAT_CONF_WORDS
};
