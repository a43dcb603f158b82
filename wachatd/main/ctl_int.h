/*
 * wachatctl's private parts: what its command files share.  Each command
 * gets the words after its name in argv (at least as many as the table in
 * wachatctl.c asks for) and returns the exit status.
 */

#ifndef WACHAT_CTL_INT_H
#define WACHAT_CTL_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "agents/agents.h"
#include "lib/config.h"
#include "store/store.h"


#define WACHAT_ERRLEN  1024


typedef struct {
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;
} wachatctl_t;


/* ctl_conv.c: the conversations, one conversation's history */
int wachatctl_conversations(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_show(wachatctl_t *ctl, int argc, char **argv);

/* ctl_agents.c: what the console's buttons do */
int wachatctl_agent(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_take(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_reply(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_resolve(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_transfer(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_note(wachatctl_t *ctl, int argc, char **argv);

/* ctl_media.c: files and template messages */
int wachatctl_send_file(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_templates(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_send_template(wachatctl_t *ctl, int argc, char **argv);

/* ctl_kb.c: the knowledge base's answers and the questions it missed */
int wachatctl_ask(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_unanswered(wachatctl_t *ctl, int argc, char **argv);

/* ctl_dead.c: replies that could not be sent */
int wachatctl_dead(wachatctl_t *ctl, int argc, char **argv);
int wachatctl_retry(wachatctl_t *ctl, int argc, char **argv);

/* ctl_doctor.c: the doctor command's options */
int wachatctl_doctor(wachatctl_t *ctl, int argc, char **argv);


/* the conversation a wa_id names, or -1 and a message saying there is none */
int wachatctl_conv(wachat_redis_t *st, const char *who, char *conv,
    size_t len);

/* a field of a HGETALL reply or a stream entry, or dflt where it has none */
const char *wachatctl_field_or(const redisReply *kv, const char *name,
    const char *dflt);

/* a Unix time in seconds (a string) or in ms as UTC, "-" for none */
void wachatctl_time(const char *unix_s, char *buf, size_t len);
void wachatctl_time_ms(long long ms, char *buf, size_t len);

/* an agent action's result printed: done, or the error; the exit status */
int wachatctl_agent_rc(wachat_agent_rc_e rc, const char *done);

#endif /* WACHAT_CTL_INT_H */
