/*
 * doctor: the checks of `wachatctl doctor`.
 */

#ifndef WACHAT_DOCTOR_H
#define WACHAT_DOCTOR_H

#include "lib/config.h"
#include "store/store.h"


typedef struct {
    const char  *phone_number_id;   /* NULL: those of the conversations */
    const char  *callback_url;      /* the public webhook URL, or NULL */
    const char  *app_secret;        /* signs the self-test POST */
    int          replicas;          /* nginx's wachat_redis_replicas, -1 */
} wachat_doctor_opts_t;


/* prints one line per check; 0 when nothing failed */
int wachat_doctor(wachat_redis_t *st, const wachat_config_t *cfg,
    const wachat_doctor_opts_t *opts);


#endif /* WACHAT_DOCTOR_H */
