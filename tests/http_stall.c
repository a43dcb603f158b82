/*
 * HTTP clients' test, the "stall" scenario: its own one-shot server,
 * forked, instead of the stand-in.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "http_test.h"


/*
 * The loop held up past a transfer's deadline (a slow synchronous Redis
 * call in wachatd) while the answer arrived: the answer counts, it is not
 * thrown away as a timeout (that would send a Graph message twice).
 *
 * A forked one-shot server takes the request, tells us (pipe), waits until
 * we say the loop is blocked, then answers; we block for longer than the
 * deadline.  When the loop runs again the deadline has passed and the
 * answer is waiting in the socket.  Second case: the loop is held up
 * before the request was even sent (the server answers at once).  Third:
 * the transfer starts in a callback that was itself held up, and the
 * server takes 100 ms: the deadline must not come early.
 */

typedef struct {
    int   to_server;
    long  block_ms;
    int   blocked;
} stall_t;


static void
stall_sleep(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}


static void
stall_cb(evutil_socket_t fd, short what, void *arg)
{
    stall_t  *st = arg;
    char      c;

    (void) what;

    if (read(fd, &c, 1) != 1 || write(st->to_server, "b", 1) != 1) {
        return;
    }
    stall_sleep(st->block_ms);
    st->blocked = 1;
}


static void
stall_server(int lfd, int said, int go, long delay_ms)
{
    static const char  answer[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
        "answered";
    char                buf[4096];
    size_t              got = 0;
    ssize_t             n;
    int                 c;

    c = accept(lfd, NULL, NULL);
    if (c < 0) {
        _exit(1);
    }
    /* the request has no body: it ends with the blank line */
    while (got < sizeof(buf) - 1) {
        n = read(c, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            _exit(1);
        }
        got += (size_t) n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            break;
        }
    }
    if (said >= 0 && (write(said, "r", 1) != 1 || read(go, buf, 1) != 1)) {
        _exit(1);
    }
    stall_sleep(delay_ms);
    if (write(c, answer, sizeof(answer) - 1) != (ssize_t) sizeof(answer) - 1)
    {
        _exit(1);
    }
    close(c);
    _exit(0);
}


/* forks the server on a free loopback port; its pid, or -1 */
static pid_t
stall_fork(int said, int go, long delay_ms, char *u, size_t usize)
{
    int                  lfd;
    pid_t                pid;
    socklen_t            len;
    struct sockaddr_in   sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sa);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(lfd, 1) != 0
        || getsockname(lfd, (struct sockaddr *) &sa, &len) != 0)
    {
        return -1;
    }

    pid = fork();
    if (pid == 0) {
        stall_server(lfd, said, go, delay_ms);
    }
    close(lfd);
    snprintf(u, usize, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    return pid;
}


static int
stall_reaped(pid_t pid)
{
    int  status;

    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
           && WEXITSTATUS(status) == 0;
}


static int
stall_answered(const http_slot_t *s, const char *name)
{
    if (ok(s->calls == 1 && s->err == WACHAT_HTTP_DONE && s->status == 200
           && strcmp(s->body, "answered") == 0, "%s", name))
    {
        return 1;
    }
    diag("got %s, status %ld: %s", wachat_http_err_name(s->err), s->status,
         s->error_text);
    return 0;
}


typedef struct {
    wachat_http_t       *h;
    wachat_http_req_t   *req;
    http_slot_t         *slot;
} stall_late_t;


/* held up 800 ms, then starts the transfer in the same loop turn */
static void
stall_late_cb(evutil_socket_t fd, short what, void *arg)
{
    stall_late_t  *l = arg;

    (void) fd;
    (void) what;

    stall_sleep(800);
    if (wachat_http_request(l->h, l->req, http_cb, l->slot) != 0) {
        pending--;
    }
}


/* the loop held up 800 ms while the server answers, past the deadline */
static void
stall_while_answering(wachat_http_t *h, wachat_http_req_t *req, pid_t pid,
    int said[2], int go[2])
{
    struct event  *ev;
    http_slot_t    s;
    stall_t        st;

    memset(&s, 0, sizeof(s));
    st.to_server = go[1];
    st.block_ms = 800;
    st.blocked = 0;
    ev = event_new(base, said[0], EV_READ, stall_cb, &st);
    event_add(ev, NULL);

    if (wachat_http_request(h, req, http_cb, &s) == 0) {
        pending++;
    }
    ok(run(10000), "stall: the callback came");
    ok(st.blocked, "stall: the loop was held up 800 ms, past the 300 ms "
       "deadline, while the server answered");
    stall_answered(&s, "stall: the answer that arrived meanwhile counts "
                   "(no timeout)");
    event_free(ev);
    close(said[0]);
    close(said[1]);
    close(go[0]);
    close(go[1]);
    ok(stall_reaped(pid), "stall: the server exited cleanly");
}


/* held up right after the transfer started: nothing was sent yet */
static void
stall_before_sending(wachat_http_t *h, wachat_http_req_t *req, char *u,
    size_t usize)
{
    pid_t        pid;
    http_slot_t  s;

    pid = stall_fork(-1, -1, 0, u, usize);
    memset(&s, 0, sizeof(s));
    if (pid > 0 && wachat_http_request(h, req, http_cb, &s) == 0) {
        pending++;
    }
    stall_sleep(800);
    ok(run(10000), "stall before sending: the callback came");
    stall_answered(&s, "stall before sending: the request still goes out "
                   "and its answer counts");
    ok(stall_reaped(pid), "stall before sending: the server exited cleanly");
}


/* started late in a loop turn: libevent's clock of that turn is old */
static void
stall_started_late(wachat_http_t *h, wachat_http_req_t *req, char *u,
    size_t usize)
{
    pid_t            pid;
    struct event    *ev;
    http_slot_t      s;
    stall_late_t     late;
    struct timeval   zero = { 0, 0 };

    pid = stall_fork(-1, -1, 100, u, usize);
    memset(&s, 0, sizeof(s));
    late.h = h;
    late.req = req;
    late.slot = &s;
    ev = evtimer_new(base, stall_late_cb, &late);
    evtimer_add(ev, &zero);
    if (pid > 0) {
        pending++;
    }
    ok(run(10000), "started after a hold-up: the callback came");
    stall_answered(&s, "started after a hold-up: a 100 ms answer beats the "
                   "300 ms deadline");
    ok(stall_reaped(pid), "started after a hold-up: the server exited "
       "cleanly");
    event_free(ev);
}


int
scenario_stall(void)
{
    int                 said[2], go[2];
    pid_t               pid;
    char                u[64];
    wachat_http_t      *h;
    wachat_http_req_t   req;

    if (pipe(said) != 0 || pipe(go) != 0) {
        ok(0, "stall: pipes");
        return 0;
    }
    pid = stall_fork(said[1], go[0], 0, u, sizeof(u));
    if (pid < 0) {
        ok(0, "stall: set up a loopback server");
        return 0;
    }

    h = wachat_http_new(base, 4);
    memset(&req, 0, sizeof(req));
    req.url = u;
    req.timeout_ms = 300;

    stall_while_answering(h, &req, pid, said, go);
    stall_before_sending(h, &req, u, sizeof(u));
    stall_started_late(h, &req, u, sizeof(u));

    wachat_http_free(h);
    return 0;
}
