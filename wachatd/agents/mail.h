/*
 * mail: the mailer's old header name; the mailer is agents/notify.h now
 * (the SMTP client under it is clients/smtp.h).  Kept only until
 * wachatd.c includes notify.h.
 */

#ifndef WACHAT_MAIL_H
#define WACHAT_MAIL_H

#include "agents/notify.h"

#endif /* WACHAT_MAIL_H */
