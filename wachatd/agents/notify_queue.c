/*
 * notify_queue: an e-mail handed to the SMTP client, which delivers and
 * retries it, and the one log line its outcome leaves; apart from what
 * decides to mail, so both the single e-mails and the digests go this way.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/notify_int.h"
#include "clients/smtp.h"
#include "lib/log.h"


/* --- e-mails in the SMTP client's hands ----------------------------------- */


static void
wachat_notify_job_free(wachat_notify_job_t *j)
{
    free(j->to);
    free(j->conv_id);
    free(j);
}


/* the one line a failed e-mail leaves in the log */
static void
wachat_notify_failed(const wachat_notify_job_t *j, int attempts,
    const char *why, long code)
{
    char  smtp[32] = "";

    if (code > 0) {
        snprintf(smtp, sizeof(smtp), " (SMTP %ld)", code);
    }

    wachat_log(WACHAT_LOG_WARNING, "mail: e-mail to %s about conversation %s "
               "(%s) failed after %d attempt%s: %s%s", j->to, j->conv_id,
               j->what, attempts, attempts == 1 ? "" : "s", why, smtp);
}


/* a wachat_smtp_done_pt */
static void
wachat_notify_on_sent(void *data, const wachat_smtp_result_t *res)
{
    wachat_notify_job_t  *j = data;

    if (res->ok) {
        wachat_log(WACHAT_LOG_NOTICE, "mail: told %s that conversation %s "
                   "%s%s", j->to, j->conv_id, j->what,
                   res->attempts > 1 ? " (after a retry)" : "");

    } else {
        wachat_notify_failed(j, res->attempts, res->error, res->code);
    }

    wachat_notify_job_free(j);
}


/* takes msg (freed in any case) */
void
wachat_notify_queue(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *conv_id, const char *what, char *msg, size_t len)
{
    wachat_notify_job_t  *j;

    j = calloc(1, sizeof(wachat_notify_job_t));
    if (j == NULL) {
        free(msg);
        return;
    }

    j->to = strdup(a->email);
    j->conv_id = strdup(conv_id);
    j->what = what;

    if (j->to == NULL || j->conv_id == NULL) {
        free(msg);
        wachat_notify_job_free(j);
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail to "
                   "%s about conversation %s", a->email, conv_id);
        return;
    }

    switch (wachat_smtp_send(m->smtp, a->email, msg, len,
                             wachat_notify_on_sent, j))
    {
    case WACHAT_SMTP_OK:
        return;

    case WACHAT_SMTP_EFULL:
        wachat_log(WACHAT_LOG_WARNING, "mail: %zu e-mails already waiting "
                   "for the mail server: none to %s about conversation %s",
                   wachat_smtp_queued(m->smtp), a->email, conv_id);
        break;

    case WACHAT_SMTP_ENOMEM:
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail to "
                   "%s about conversation %s", a->email, conv_id);
        break;

    case WACHAT_SMTP_ESTART:
        wachat_notify_failed(j, 1, "the transfer could not be started", 0);
        break;

    case WACHAT_SMTP_ENOSERVER:
        break;
    }

    wachat_notify_job_free(j);
}
