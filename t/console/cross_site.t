#!/usr/bin/perl
# Cross-site request forgery against the agent console, in a real browser
# (issue 11, finding 1, the acceptance test).  An agent is logged in to the
# console (her Basic credentials cached by the browser, as after its login
# dialog); a page of another site, opened in the same browser, tries what a
# page can do without the console's help: form posts (text/plain with a body
# that parses as JSON, urlencoded, multipart) to reply, take, resolve and
# presence, and fetch() in no-cors mode.  Each reaches wachatd with her
# credentials, and wachatd refuses it (415: not JSON, 403: another origin):
# nothing is sent to the customer, no queue or history grows, no
# conversation changes mode, her presence stays.  Then the console itself,
# same browser, same origin, replies: the refusals are not the browser
# path failing.
#
# The console is http://127.0.0.1:<port>; the other site is a second
# server block of the same nginx, reached as http://localhost:<port2>, a
# different site to the browser (Sec-Fetch-Site: cross-site).  A third
# access log records method, URI, status, wachatd's status, the login and
# the Origin the browser sent.
#
# Skipped only when chromium / chromedriver are not installed.

use v5.36;
use lib 't/lib';

use File::Temp ();
use Test::More;

use Wachat::Browser qw(ENTER);
use Wachat::Console;       # skips the test without a headless browser
use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::Webhook qw(wh_text);

my $ROOT = root_dir();
my $KB = "$ROOT/t/fixtures/kb/shop.md";
my $PNID = '106540352242922';
my $T = 20;      # seconds any one step may take (a loaded CI machine)

my $CUSTOMER = '16505551234';      # with alice
my $WAITING = '4915112345678';     # waiting for a person
my $CONV = "$PNID:$CUSTOMER";
my $WCONV = "$PNID:$WAITING";

# --- servers ------------------------------------------------------------------

my $dir = File::Temp::tempdir('wachat-xsite-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $evil_port = free_port();
mkdir "$dir/evil";

# redis, wachatd (alice takes one conversation), nginx with the agent snippet
# and the third access log; a second server block is the other site
my $console = Wachat::Console->start(name => 'cross_site', kb => $KB,
    alice => 'capacity=1', on_failure => 'logs', http_extra => <<"EOF");
    log_format xsite '\$request_method \$uri \$status \$upstream_status '
                     '"\$remote_user" "\$http_origin" "\$http_sec_fetch_site" '
                     '"\$content_type"';
    access_log $dir/xsite.log xsite;

    # the other site
    server {
        listen 127.0.0.1:$evil_port;
        server_name localhost;
        root $dir/evil;
        access_log off;
    }
EOF
my ($graph, $redis, $d, $nginx) = map { $console->$_ } qw(graph redis daemon nginx);
my $port = $console->port;
my $ORIGIN = $console->origin;
my $EVIL = "http://localhost:$evil_port";

# --- helpers ------------------------------------------------------------------

my $b;

sub post ($from, $name, $text, $what) {
    my $res = $nginx->post_signed(wh_text(from => $from, name => $name, text => $text));
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

sub conv_url ($conv) { "$ORIGIN/agent/api/conversations/" . ($conv =~ s/:/%3A/r) }

# The lines of the third access log: { method, uri, status, upstream, user,
# origin, site, type }.
sub xsite_lines {
    my $f = "$dir/xsite.log";
    return () unless -e $f;
    my @l;
    for (split /\n/, slurp($f)) {
        next unless /^(\S+) (\S+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"$/;
        push @l, { method => $1, uri => $2, status => $3, upstream => $4, user => $5,
                   origin => $6, site => $7, type => $8, line => $_ };
    }
    return @l;
}

# The POSTs from $origin logged for $uri (a path under /agent/api/), once
# $n are in.
sub posts_to ($uri, $n = 1, $origin = $EVIL) {
    my @p;
    poll_until(sub {
        @p = grep { $_->{method} eq 'POST' && $_->{uri} eq "/agent/api/$uri"
                    && $_->{origin} eq $origin } xsite_lines();
        @p >= $n;
    }, timeout => $T);
    return @p;
}

# What a forged request could change: the conversations' modes, holders,
# histories and outbound queues, alice's presence, the Graph calls.
sub key_size ($key) {
    my $type = $redis->cmd('TYPE', $key);
    my %size = (list => 'LLEN', stream => 'XLEN', zset => 'ZCARD', hash => 'HLEN',
                set => 'SCARD', string => 'STRLEN');
    return $type eq 'none' ? 0 : "$type:" . $redis->cmd($size{$type}, $key);
}

# The messages sent through the Graph API (a GET of the account's templates,
# which wachatd makes once a webhook has named the account, is no message)
sub graph_sends () {
    scalar grep { $_->{method} eq 'POST' && $_->{path} =~ m{/messages$} } $graph->requests;
}

sub snapshot {
    my %s;
    for my $c ($CONV, $WCONV) {
        $s{"$c mode"} = $redis->cmd('HGET', "wachat:conv:{$c}", 'mode') // '';
        $s{"$c agent"} = $redis->cmd('HGET', "wachat:conv:{$c}", 'agent') // '';
        $s{"$c $_"} = key_size("wachat:$_:{$c}") for qw(hist outq inbox);
    }
    $s{'alice presence'} = $redis->cmd('HGET', 'wachat:agent:alice', 'presence') // '';
    $s{'graph sends'} = graph_sends();
    return \%s;
}

# Settled: nothing waits to be sent and the Graph calls stopped coming.
sub settled {
    my $last = -1;
    return poll_until(sub {
        my $n = graph_sends();
        my $quiet = $n == $last;
        $last = $n;
        return $quiet && !grep { key_size("wachat:outq:{$_}") } $CONV, $WCONV;
    }, timeout => $T, interval => 0.5);
}

# An attacker's page: opened in the browser, it forges one request at load.
sub evil_page ($name, $html) {
    spew("$dir/evil/$name.html", <<"EOF");
<!doctype html>
<html><head><meta charset="utf-8"><title>win a prize</title></head>
<body>
$html
</body></html>
EOF
    return "$EVIL/$name.html";
}

sub form_page ($name, $action, $enctype, %fields) {
    my $inputs = join "\n", map {
        (my $n = $_) =~ s/'/&#39;/g;
        (my $v = $fields{$_}) =~ s/'/&#39;/g;
        "<input type='hidden' name='$n' value='$v'>";
    } sort keys %fields;
    return evil_page($name, <<"EOF");
<form id="f" method="POST" enctype="$enctype" action="$action">
$inputs
</form>
<script>document.getElementById("f").submit();</script>
EOF
}

# --- a conversation with alice, one waiting ---------------------------------------

post($CUSTOMER, 'Sheena Nelson', '/live_agent', 'customer asks for a person');
ok(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$CONV}", 'mode') // '')
                    eq 'waiting_agent' }, timeout => $T),
   'nobody online: the customer waits');

$b = $console->browser(width => 1200, height => 800);
$b->get($console->login_url);
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T),
               'alice logged in to the console (her credentials are cached now)');
$b->click_css('#presence button[data-presence="online"]');
$console->need(poll_until(sub { ($redis->cmd('HGET', 'wachat:agent:alice', 'presence') // '') eq 'online' },
                          timeout => $T), 'alice went online from the console');

$console->need(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$CONV}", 'agent') // '') eq 'alice' },
                          timeout => $T), 'alice online: the waiting conversation is hers');
post($WAITING, 'Jonas Weber', '/live_agent', 'waiting customer');
$console->need(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$WCONV}", 'mode') // '')
                                eq 'waiting_agent' }, timeout => $T),
               'alice holds her capacity (1): the next customer waits');
$console->need(settled(), 'the hand-over texts are sent, nothing left to send');

my $before = snapshot();
is($before->{"$CONV mode"}, 'agent', 'with alice: mode agent');
is($before->{"$WCONV mode"}, 'waiting_agent', 'the other one still waits');

my $n_graph = $before->{'graph sends'};

# --- the other site tries -------------------------------------------------------

# (uri under /agent/api/, the page, what it is)
# ($uri is logged decoded: ':' rather than %3A)
my $reply = "conversations/$CONV/reply";
my @attacks = (
    [$reply, form_page('reply', conv_url($CONV) . '/reply', 'text/plain',
                       '{"text":"forged by a form","x":"' => '"}'),
     'a text/plain form whose body parses as JSON, to reply'],
    ["conversations/$WCONV/take",
     form_page('take', conv_url($WCONV) . '/take', 'application/x-www-form-urlencoded',
               agent => 'alice'),
     'an urlencoded form, to take the waiting conversation'],
    ["conversations/$CONV/resolve",
     form_page('resolve', conv_url($CONV) . '/resolve', 'multipart/form-data',
               text => 'bye'),
     'a multipart form, to resolve her conversation'],
    ['presence',
     form_page('presence', "$ORIGIN/agent/api/presence", 'text/plain',
               '{"presence":"offline","x":"' => '"}'),
     'a text/plain JSON-looking form, to set her offline'],
);

for my $a (@attacks) {
    my ($uri, $page, $what) = @$a;
    $b->get($page);
    my ($p) = posts_to($uri);
    $console->need($p, "$what: the browser sent it", "page $page");
    is($p->{user}, 'alice', "$what: with alice's cached credentials") or diag $p->{line};
    is($p->{origin}, $EVIL, "$what: Origin is the other site") or diag $p->{line};
    like($p->{upstream}, qr/^(403|415)$/, "$what: wachatd refused it ($p->{upstream})")
        or diag $p->{line};
    is($p->{status}, $p->{upstream}, "$what: and nginx passed the refusal on")
        or diag $p->{line};
}

# fetch() in no-cors mode, credentials included: the page cannot read the
# answer, but the request goes out.  The JSON Content-Type it asks for is
# not one a no-cors request may carry, so the browser drops it.  Chromium
# does not attach the cached Basic credentials to such a cross-site
# request either, so nginx answers 401 before wachatd sees it; were they
# attached, wachatd would answer 415.
{
    my $url = conv_url($CONV) . '/reply';
    my $page = evil_page('fetch', <<"EOF");
<script>
const opt = { method: 'POST', mode: 'no-cors', credentials: 'include' };
Promise.allSettled([
  fetch('$url', { ...opt, headers: { 'Content-Type': 'application/json' },
                  body: JSON.stringify({ text: 'forged by fetch' }) }),
  fetch('$url', { ...opt, body: JSON.stringify({ text: 'forged by fetch, plain' }) }),
  fetch('$ORIGIN/agent/api/presence', { ...opt, headers: { 'Content-Type': 'application/json' },
                  body: JSON.stringify({ presence: 'offline' }) }),
  fetch('$url', { ...opt, mode: 'cors', headers: { 'Content-Type': 'application/json' },
                  body: JSON.stringify({ text: 'forged by a CORS fetch' }) }),
]).then(() => { document.title = 'fetched'; });
</script>
EOF
    $b->get($page);
    $console->need($b->wait_js('return document.title === "fetched"', timeout => $T),
                   'no-cors fetch: the page sent its requests');
    # the form posts came first
    my @p = grep { defined } (posts_to($reply, 3))[1, 2], (posts_to('presence', 2))[1];
    $console->need(@p >= 3, 'no-cors fetch: three POSTs logged',
                   join "\n", map { $_->{line} } xsite_lines());
    for my $p (@p) {
        like($p->{status}, qr/^(401|403|415)$/, "no-cors fetch to $p->{uri}: refused "
             . "($p->{status}, by " . ($p->{upstream} eq '-' ? 'nginx' : 'wachatd')
             . ", Content-Type '$p->{type}')") or diag $p->{line};
        unlike($p->{type}, qr{application/json}, 'no-cors fetch: not sent as JSON')
            or diag $p->{line};
    }

    # in cors mode, JSON makes the browser ask first, without credentials
    my $pre;
    poll_until(sub {
        ($pre) = grep { $_->{method} eq 'OPTIONS' && $_->{origin} eq $EVIL } xsite_lines();
    }, timeout => $T);
    like($pre ? "$pre->{status} $pre->{upstream}" : 'none', qr/^(?:4\d\d -|none)$/,
         'a CORS fetch with JSON: its preflight is refused by nginx ('
         . ($pre ? $pre->{status} : 'not sent') . ')') or diag $pre->{line};
    is(scalar(posts_to($reply, 3)), 3, 'a CORS fetch with JSON: the POST itself is never sent')
        or diag join "\n", map { $_->{line} } xsite_lines();
}

# nothing happened
{
    # whatever a forged request had queued would be on its way by now
    settled();
    my $after = snapshot();
    is_deeply($after, $before,
              'nothing changed: modes, holders, histories, queues, presence, Graph calls')
        or diag explain { before => $before, after => $after };
    my @forged = grep { ($_->{body} // '') =~ /forged|bye/ } $graph->requests;
    is(scalar @forged, 0, 'the Graph stand-in received no forged text');
}

# --- the console itself still works -------------------------------------------------

$b->get("$ORIGIN/agent/#/c/" . ($CONV =~ s/:/%3A/r));
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T),
               'the console loads again');
$console->need($b->wait_for('#reply', timeout => $T, check => sub ($el) { $b->enabled($el) }),
               'the reply box is open for alice');
my $text = 'Hello Sheena, Alice here, from the console itself.';
$b->click_css('#reply');
$b->type($b->find('#reply'), $text, ENTER);
my $sent;
poll_until(sub {
    ($sent) = grep { ((($_->{json} // {})->{text} // {})->{body} // '') eq $text }
              $graph->requests;
    $sent;
}, timeout => $T);
ok($sent, "same origin: the console's reply reaches the Graph stand-in");
is(($sent->{json} // {})->{to}, $CUSTOMER, 'addressed to the customer');
{
    my ($p) = posts_to($reply, 1, $ORIGIN);
    like($p ? "$p->{upstream} $p->{type}" : '', qr{^2\d\d application/json$},
         'the console sent it as JSON with its own origin, accepted by wachatd')
        or diag join "\n", map { $_->{line} } xsite_lines();
}
is(graph_sends(), $n_graph + 1, 'and it is the only message sent since the forgeries');

$b->quit;
done_testing();
