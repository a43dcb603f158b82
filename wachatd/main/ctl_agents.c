/*
 * wachatctl agent, take, reply, resolve, transfer, note: an agent's
 * actions on a conversation, through the same calls as the console's API.
 */

#include <stdio.h>

#include "agents/agents.h"
#include "main/ctl_int.h"


/* agent <id> online|away|offline */
int
wachatctl_agent(wachatctl_t *ctl, int argc, char **argv)
{
    (void) argc;

    return wachatctl_agent_rc(wachat_agent_presence(ctl->st, ctl->cfg,
                                                    argv[0], argv[1], 0),
                              "presence set");
}


/* take, reply, resolve: what the console's buttons do */

int
wachatctl_take(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_take(ctl->st, ctl->cfg, argv[0],
                                                conv),
                              "taken");
}


int
wachatctl_reply(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_reply(ctl->st, ctl->cfg, argv[0],
                                                 conv, argv[2], NULL, 0),
                              "queued: wachatd sends it");
}


int
wachatctl_resolve(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[0], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_resolve(ctl->st, ctl->cfg, NULL,
                                                   conv),
                              "back with the AI");
}


int
wachatctl_transfer(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_transfer(ctl->st, ctl->cfg,
                                                    argv[0], conv, argv[2]),
                              "transferred");
}


int
wachatctl_note(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_note(ctl->st, ctl->cfg, argv[0],
                                                conv, argv[2]),
                              "noted");
}


int
wachatctl_agent_rc(wachat_agent_rc_e rc, const char *done)
{
    if (rc == WACHAT_AGENT_OK) {
        printf("%s\n", done);
        return 0;
    }

    fprintf(stderr, "wachatctl: %s: %s\n", wachat_agent_error_name(rc),
            wachat_agent_error_text(rc));

    return 1;
}
