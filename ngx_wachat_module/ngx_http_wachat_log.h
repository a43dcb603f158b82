
/*
 * Bytes that a client or Redis chose, made safe for one error_log line.
 * The module's lines escape them the way wachatd's log does, so that one
 * reading fits both logs.
 */


#ifndef _NGX_HTTP_WACHAT_LOG_H_INCLUDED_
#define _NGX_HTTP_WACHAT_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* room for one quoted value on the stack; a longer value is cut */
#define NGX_HTTP_WACHAT_LOG_QUOTED  512


/*
 * Writes src[0..len) to buf as "..." with every byte that could end the
 * line, pass for an escape or end the quotes escaped: \\ \" \n \r \t, \xNN
 * for the other C0 controls, DEL and bytes that are not UTF-8, \uNNNN for
 * the C1 controls, U+2028 and U+2029.  A value longer than size allows is
 * cut before a whole character and marked by "..." after the closing
 * quote.  size is at least 5; returns the end of what was written.
 */
u_char *ngx_http_wachat_log_quote(u_char *buf, size_t size, u_char *src,
    size_t len);


#endif /* _NGX_HTTP_WACHAT_LOG_H_INCLUDED_ */
