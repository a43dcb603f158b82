/*
 * rate: the business number's send rate.  Meta caps a number's throughput
 * (80 messages/s by default); every consumer draws from one token bucket
 * per number, kept in Redis on Redis' clock so hosts need not agree on
 * time.
 */

#ifndef WACHAT_RATE_H
#define WACHAT_RATE_H

#include "store/store.h"


/*
 * Takes a token for the number of conv_id ("<phone_number_id>:..."):
 * 0 to send now, else the ms to wait.  rate <= 0: no limit.  Redis
 * trouble does not hold replies back (0).
 */
long wachat_rate_take(wachat_store_t *st, const char *conv_id, int rate);


#endif /* WACHAT_RATE_H */
