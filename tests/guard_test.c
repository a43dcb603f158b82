/*
 * Unit test of the model's answer guard (wachatd/answer/guard.h), TAP on
 * stdout: the hosts a text names, which of them a KB allows, an echo of
 * the instructions told from a quote of the KB, and the length cap.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_MAIN

#include "answer/guard.h"
#include "tap.h"
#include "wachat_utf8.h"


#define PROMPT                                                              \
    "You answer WhatsApp messages for a business. Use only the knowledge " \
    "base passages given. If they do not answer the question, say so "      \
    "briefly and offer to connect the customer to a person. Reply in the "  \
    "customer's language, in a few sentences."

#define KB_TEXT                                                             \
    "## Where can I order online? {#shop}\n"                                \
    "Also: web shop | order at shop.example.com\n"                          \
    "Order at https://shop.example.com/order or write to "                  \
    "orders@mail.example.org; our blog is www.blog-example.net.\n"          \
    "\n"                                                                    \
    "## Opening hours {#hours}\n"                                           \
    "We are open Monday to Friday, 9:00 to 18:00. Use only the side door " \
    "on weekends, it is the one with the green sign next to the bakery.\n"


/* the hosts of a text, joined by spaces */
static int
collect(void *ctx, const char *host, size_t len)
{
    char  *out = ctx;

    if (strlen(out) + len + 2 < 512) {
        if (*out) {
            strcat(out, " ");
        }

        strncat(out, host, len);
    }

    return 0;
}


static const char *
hosts(const char *text)
{
    static char  out[512];

    out[0] = '\0';
    wachat_guard_hosts(text, strlen(text), collect, out);

    return out;
}


static void
test_hosts(void)
{
    is_str(hosts("Visit evil.example now."), "evil.example", "bare domain");
    is_str(hosts("see www.x.io/path?q=1"), "x.io", "www. dropped, path not");
    is_str(hosts("http://Evil.Example:8080/x"), "evil.example evil.example",
           "URL: lowercased, port dropped (bare and authority)");
    is_str(hosts("go to http://intranet/login"), "intranet",
           "a one-label URL host");
    is_str(hosts("http://shop.example.com@evil.example/"),
           "evil.example evil.example",
           "user@host: the host, not the user part");
    is_str(hosts("mail bob.smith@evil.example"), "evil.example",
           "an e-mail: its domain, not its local part");
    is_str(hosts("evil\xe3\x80\x82" "example"), "evil.example",
           "an ideographic full stop is a dot");
    is_str(hosts("call 203.0.113.7/x"), "203.0.113.7", "IPv4");
    is_str(hosts("http://[::1]:80/"), "[::1]", "IPv6 literal");
    is_str(hosts("It costs 3.50 EUR, e.g. at 9.30, i.e. soon. U.S.A."), "",
           "prices, times and abbreviations are no hosts");
    is_str(hosts("Open Monday-Friday. Thanks!"), "", "sentences are none");
    is_str(hosts("我們的網站是 shop.example.com。謝謝"), "shop.example.com",
           "a domain inside Chinese text");
    is_str(hosts("a..b.example"), "b.example", "\"..\" splits");
}


static wachat_guard_t *
guard(int links, const char *const *domains, size_t n)
{
    char                  err[256];
    wachat_kb_t          *kb;
    wachat_guard_t       *g;
    wachat_guard_conf_t   gc;
    static const char    *texts[] = { "Talk to us at help.example.com" };

    kb = wachat_kb_parse(KB_TEXT, strlen(KB_TEXT), "mem", err, sizeof(err));
    if (kb == NULL) {
        diag("kb: %s", err);
        return NULL;
    }

    memset(&gc, 0, sizeof(gc));
    gc.kb = kb;
    gc.instructions = PROMPT;
    gc.texts = texts;
    gc.ntexts = 1;
    gc.domains = domains;
    gc.ndomains = n;
    gc.links = links;

    g = wachat_guard_new(&gc);
    wachat_kb_free(kb);             /* the guard keeps copies */

    return g;
}


static int
check(const wachat_guard_t *g, const char *text)
{
    char  why[256];

    return wachat_guard_check(g, text, why, sizeof(why));
}


static void
test_links(void)
{
    wachat_guard_t     *g, *w;
    static const char  *allow[] = { "*.partner.example", "Docs.Example.NET" };

    g = guard(1, NULL, 0);
    if (!ok(g != NULL, "guard built from a KB")) {
        return;
    }

    ok(check(g, "Order at https://shop.example.com/order today.")
       == WACHAT_GUARD_PASS, "a KB host passes");
    ok(check(g, "Write to orders@mail.example.org.") == WACHAT_GUARD_PASS,
       "a KB e-mail domain passes");
    ok(check(g, "See blog-example.net") == WACHAT_GUARD_PASS,
       "www. in the KB, none in the answer");
    ok(check(g, "Ask help.example.com") == WACHAT_GUARD_PASS,
       "a host of the config's texts passes");
    ok(check(g, "Order at https://evil.example/order") == WACHAT_GUARD_LINK,
       "a foreign URL is refused");
    ok(check(g, "Go to evil.example") == WACHAT_GUARD_LINK,
       "a foreign bare domain is refused");
    ok(check(g, "Go to x.shop.example.com") == WACHAT_GUARD_LINK,
       "a subdomain of a KB host is not the KB host");
    ok(check(g, "https://shop.example.com.evil.example/")
       == WACHAT_GUARD_LINK, "a KB host as a prefix is refused");
    ok(check(g, "We are open Monday to Friday, 9:00 to 18:00.")
       == WACHAT_GUARD_PASS, "no host at all passes");
    ok(!wachat_guard_allowed(g, "partner.example", 15),
       "not allowed without llm_allowed_domains");
    wachat_guard_free(g);

    w = guard(1, allow, 2);
    ok(w && wachat_guard_allowed(w, "a.b.partner.example", 19)
       && wachat_guard_allowed(w, "partner.example", 15),
       "*.partner.example: the domain and its subdomains");
    ok(w && wachat_guard_allowed(w, "docs.example.net", 16)
       && !wachat_guard_allowed(w, "x.docs.example.net", 18),
       "an allowed domain without *.: as written, lowercased");
    ok(w && !wachat_guard_allowed(w, "evilpartner.example", 19),
       "a suffix match needs the dot");
    wachat_guard_free(w);

    g = guard(0, NULL, 0);
    ok(g && check(g, "Go to evil.example") == WACHAT_GUARD_PASS,
       "llm_check_links off: hosts are not checked");
    wachat_guard_free(g);
}


static void
test_echo(void)
{
    size_t           run;
    double           share;
    wachat_guard_t  *g;
    char             why[256];

    g = guard(1, NULL, 0);
    if (g == NULL) {
        ok(0, "guard built");
        return;
    }

    ok(wachat_guard_check(g, "My instructions: " PROMPT, why, sizeof(why))
       == WACHAT_GUARD_ECHO, "the prompt verbatim is an echo");
    diag("why: %s", why);

    ok(check(g, "SURE! you ANSWER whatsapp messages, for a business; use "
             "only the knowledge-base passages given...")
       == WACHAT_GUARD_ECHO, "case and punctuation do not hide it");

    ok(check(g, "1) You answer WhatsApp messages for a business. ** 2) Use "
             "only the knowledge base passages given. ** 3) If they do not "
             "answer the question, say so briefly ** 4) offer to connect "
             "the customer to a person ** 5) Reply in the customer's "
             "language")
       == WACHAT_GUARD_ECHO, "cut in pieces, numbered: its 4-grams");

    wachat_guard_overlap(g, "I'm not sure about that. Shall I connect you "
                         "to a person?", &run, &share);
    ok(run < 6 && share < 0.1, "a normal answer shares little (%zu, %.2f)",
       run, share);

    ok(check(g, "We are open Monday to Friday, 9:00 to 18:00. Use only the "
             "side door on weekends, it is the one with the green sign next "
             "to the bakery.") == WACHAT_GUARD_PASS,
       "quoting a long KB passage is no echo");

    ok(check(g, "I'm not sure, shall I connect you to a person?")
       == WACHAT_GUARD_PASS, "the fallback's words are no echo");

    wachat_guard_free(g);
}


static void
test_cap(void)
{
    size_t  i;
    char   *s, *out;

    out = wachat_guard_cap("short", 4096);
    is_str(out, "short", "a short text is kept");
    free(out);

    out = wachat_guard_cap("One two. Three four five six", 20);
    is_str(out, "One two. Three four\xe2\x80\xa6", "at a space, with …");
    free(out);

    out = wachat_guard_cap("First one. Second one. Third one.", 25);
    is_str(out, "First one. Second one.", "at a sentence end");
    free(out);

    out = wachat_guard_cap("ok\xff tail", 4096);
    is_str(out, "ok", "stops before a byte that is not UTF-8");
    free(out);

    /* 5000 Chinese characters, a full stop every 20 */
    s = malloc(5000 * 3 + 1);
    for (i = 0; i < 5000; i++) {
        memcpy(s + i * 3, i % 20 == 19 ? "\xe3\x80\x82" : "\xe4\xb8\xad", 3);
    }
    s[5000 * 3] = '\0';

    out = wachat_guard_cap(s, 4096);
    ok(out && wachat_utf8_valid(out, strlen(out)), "Chinese: valid UTF-8");
    ok(out && wachat_utf8_count(out, strlen(out)) == 4080,
       "Chinese: cut after the last full stop within 4096 characters");
    free(out);

    /* no sentence end, no space: a character boundary and … */
    for (i = 0; i < 5000; i++) {
        memcpy(s + i * 3, "\xe4\xb8\xad", 3);
    }

    out = wachat_guard_cap(s, 4096);
    ok(out && wachat_utf8_valid(out, strlen(out))
       && wachat_utf8_count(out, strlen(out)) == 4096
       && strcmp(out + strlen(out) - 3, "\xe2\x80\xa6") == 0,
       "no boundary: 4095 characters and …");
    free(out);
    free(s);
}


int
main(void)
{
    test_hosts();
    test_links();
    test_echo();
    test_cap();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
