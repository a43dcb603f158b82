/*
 * wachatctl: look at and act on what wachatd keeps in Redis.
 *
 *   wachatctl [-c config] conversations [--mode M]
 *   wachatctl [-c ...] agent <id> online|away|offline
 *   wachatctl [-c ...] take <agent> <wa_id>
 *   wachatctl [-c ...] reply <agent> <wa_id> <text>
 *   wachatctl [-c ...] send-file <agent> <wa_id> <path> [caption]
 *   wachatctl [-c ...] templates [--refresh]
 *   wachatctl [-c ...] send-template <agent> <wa_id> <name> <language>
 *                                    [param ...]
 *   wachatctl [-c ...] resolve <wa_id>
 *   wachatctl [-c ...] show <wa_id | phone_number_id:wa_id>
 *   wachatctl [-c ...] dead
 *   wachatctl [-c ...] retry <dead-letter id>
 *   wachatctl [-c ...] doctor [--phone-number-id ID]
 *                             [--callback URL --app-secret-file PATH]
 *   wachatctl help | -h | -v
 *
 * The config is -c, else $WACHAT_CONF, else the built-in default (as for
 * wachatd), so on a server where WACHAT_CONF is set no -c is needed.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/version.h"
#include "main/ctl_int.h"
#include "store/store.h"


/* argv holds the words after the command's name, at least args of them */
typedef struct {
    const char  *name;
    int          args;
    int        (*run)(wachatctl_t *ctl, int argc, char **argv);
} wachatctl_command_t;


static const wachatctl_command_t *wachatctl_command(const char *name);
static wachat_redis_t *wachatctl_open(const wachat_config_t *cfg, char *err,
    size_t errlen);


static const wachatctl_command_t  wachatctl_commands[] = {
    { "conversations", 0, wachatctl_conversations },
    { "agent",         2, wachatctl_agent },
    { "take",          2, wachatctl_take },
    { "reply",         3, wachatctl_reply },
    { "send-file",     3, wachatctl_send_file },
    { "templates",     0, wachatctl_templates },
    { "send-template", 4, wachatctl_send_template },
    { "resolve",       1, wachatctl_resolve },
    { "transfer",      3, wachatctl_transfer },
    { "note",          3, wachatctl_note },
    { "unanswered",    0, wachatctl_unanswered },
    { "ask",           1, wachatctl_ask },
    { "show",          1, wachatctl_show },
    { "dead",          0, wachatctl_dead },
    { "retry",         1, wachatctl_retry },
    { "doctor",        0, wachatctl_doctor },
};


static void
wachatctl_usage(FILE *out)
{
    fprintf(out,
            "usage: wachatctl [-c config] <command>\n"
            "  -c path               config file (default $WACHAT_CONF, "
            "else\n"
            "                        " WACHAT_CONF_PATH ")\n"
            "  -v                    print the version and exit\n"
            "  help                  this text (needs no config or Redis)"
            "\n"
            "  conversations [--mode ai|waiting_agent|agent]\n"
            "                        list conversations, most recent first\n"
            "  agent <id> online|away|offline\n"
            "                        set an agent's presence (it stays "
            "until changed)\n"
            "  take <agent> <wa_id>  the agent takes the conversation\n"
            "  reply <agent> <wa_id> <text>\n"
            "                        send the customer a message as the "
            "agent\n"
            "  send-file <agent> <wa_id> <path> [caption]\n"
            "                        send a picture, audio, video or "
            "document as the agent\n"
            "                        (its type and size checked against "
            "WhatsApp's limits)\n"
            "  templates [--refresh]  the approved message templates "
            "(waba_id), with their\n"
            "                        {{n}} variables; --refresh asks the "
            "Graph API again\n"
            "  send-template <agent> <wa_id> <name> <language> [param ...]\n"
            "                        a template message as the agent, "
            "also after the 24-hour\n"
            "                        window (one param per {{n}}, checked "
            "before the call)\n"
            "  resolve <wa_id>       hand the conversation back to the AI\n"
            "  transfer <agent> <wa_id> <to>\n"
            "                        the agent hands its conversation to a "
            "colleague\n"
            "  note <agent> <wa_id> <text>\n"
            "                        an internal note: agents see it, the "
            "customer never\n"
            "  ask <question>        what the knowledge base answers, with "
            "the best entries'\n"
            "                        scores\n"
            "  unanswered [--since 7d] [--lang xx]\n"
            "                        questions the assistant had no answer "
            "for, or whose\n"
            "                        answer was followed by a request for a "
            "person\n"
            "  show <wa_id>          one conversation's history: names, "
            "replies, statuses\n"
            "  dead                  replies that could not be sent, with "
            "the reason\n"
            "  retry <id>            send a dead-lettered reply again\n"
            "  doctor [--phone-number-id ID] [--callback URL "
            "--app-secret-file PATH]\n"
            "         [--replicas N] check Redis (primary, replicas, "
            "sentinels), the stream,\n"
            "                        the knowledge base, the Graph token, "
            "the LLM, and nginx\n"
            "                        end to end; N: nginx's "
            "wachat_redis_replicas\n");
}


/*
 * The config is loaded and Redis reached before the command is looked at:
 * a broken config is reported first, whatever the command.
 */
int
main(int argc, char **argv)
{
    int                         opt, rc;
    char                        err[WACHAT_ERRLEN];
    const char                 *conf;
    wachatctl_t                 ctl;
    wachat_config_t            *cfg;
    const wachatctl_command_t  *cmd;

    conf = NULL;

    while ((opt = getopt(argc, argv, "c:hv")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'h':
            wachatctl_usage(stdout);
            return 0;
        case 'v':
            printf("wachatctl %s\n", WACHAT_VERSION);
            return 0;
        default:
            wachatctl_usage(stderr);
            return 2;
        }
    }

    if (optind >= argc) {
        wachatctl_usage(stderr);
        return 2;
    }

    if (strcmp(argv[optind], "help") == 0) {
        wachatctl_usage(stdout);
        return 0;
    }

    conf = wachat_config_path(conf);
    cfg = wachat_config_load(conf, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        return 1;
    }

    ctl.cfg = cfg;
    wachat_clock_zone(cfg->timezone);     /* working_hours are local */
    ctl.st = wachatctl_open(cfg, err, sizeof(err));

    if (ctl.st == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        wachat_config_free(cfg);
        return 1;
    }

    cmd = wachatctl_command(argv[optind]);
    argc -= optind + 1;
    argv += optind + 1;

    if (cmd == NULL || argc < cmd->args) {
        wachatctl_usage(stderr);
        rc = 2;

    } else {
        rc = cmd->run(&ctl, argc, argv);
    }

    wachat_redis_close(ctl.st);
    wachat_config_free(cfg);

    return rc;
}


static const wachatctl_command_t *
wachatctl_command(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(wachatctl_commands) / sizeof(wachatctl_commands[0]);
         i++)
    {
        if (strcmp(wachatctl_commands[i].name, name) == 0) {
            return &wachatctl_commands[i];
        }
    }

    return NULL;
}


static wachat_redis_t *
wachatctl_open(const wachat_config_t *cfg, char *err, size_t errlen)
{
    wachat_redis_t       *st;
    wachat_redis_addr_t   addr;

    if (wachat_redis_addr_config(&addr, cfg, 5000) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    /* the link keeps addr's strings: they live as long as the process */
    st = wachat_redis_open(&addr, err, errlen);
    if (st == NULL) {
        wachat_redis_addr_free(&addr);
    }

    return st;
}
