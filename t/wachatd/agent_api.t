#!/usr/bin/perl
# The agent API end to end: real redis-server, nginx with the module serving
# the webhook and conf/nginx-agent.conf (auth_basic, X-Wachat-Agent set from
# the login), wachatd with api_listen on loopback and the sandbox outbox.
#
# Identity (none -> 401, unknown -> 403, a forged header is overwritten),
# presence, a customer's /live_agent assigned to the one agent online and
# listed first for her, replies (202, into the outbox), another agent's
# reply refused until she takes it, resolve with the closing text, the
# 24-hour window (409), the live feed as server-sent events read from a raw
# socket, bad input (400, 404, 405, 413), the unix socket listener and the
# refusal of a non-loopback address; only nginx gets in: without the proxy
# secret (a forged agent header from another local process) 403, with a
# Host that is not ours (DNS rebinding) 421, and no TCP listener without a
# secret.

use v5.36;
use utf8;
use lib 't/lib';

use Digest::SHA qw(sha1_base64);
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(agent_snippet start_nginx wachat_location);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(rand_token wh_text);

my $JSON = JSON::PP->new->utf8->canonical;
my $ROOT = root_dir();
my $KB = "$ROOT/t/fixtures/kb/shop.md";
my $PNID = '106540352242922';
my $T = 20;     # seconds any one step may take on a loaded machine

my $CUSTOMER = '16505551234';
my $CONV = "$PNID:$CUSTOMER";
my $OTHER = '447700900123';
my $OTHER_CONV = "$PNID:$OTHER";

my %PASSWORD = (alice => 'alice-pw', bob => 'bob-pw', mallory => 'mallory-pw');


# --- servers -----------------------------------------------------------------

my $redis = start_redis();
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com name="Alice"
agent bob bob\@example.com
EOF

# fails this file only, not the whole suite, when wachatd has no API
if (!ok($d->wait_log(qr/agent API on 127\.0\.0\.1:$api_port/, 5),
        'wachatd serves the agent API on its loopback port'))
{
    diag "no agent API in wachatd:\n" . $d->log_text;
    done_testing();
    exit 1;
}

my $auth_dir = File::Temp::tempdir('wachat-agent-XXXXXX', TMPDIR => 1,
                                   CLEANUP => 1);
my $htpasswd = spew("$auth_dir/agents.htpasswd", join '',
    map { "$_:{SHA}" . sha1_base64($PASSWORD{$_}) . "=\n" } sort keys %PASSWORD);

my $token = 'vt-' . rand_token(20);
my $secret = 'as-' . rand_token(32);
my $nginx = start_nginx(redis => $redis, token => $token, secret => $secret,
    locations => wachat_location(token => $token, secret => $secret)
                 . agent_snippet(htpasswd => $htpasswd, api => "127.0.0.1:$api_port",
                                 secret_file => $d->api_secret_file));


# --- helpers -----------------------------------------------------------------

sub basic ($who) {
    return 'Basic ' . encode_base64("$who:" . ($PASSWORD{$who} // 'x'), '');
}

sub decode ($res) {
    my $v = eval { $JSON->decode($res->{body}) };
    return $v // {};
}

# Through nginx as an agent: (GET|POST, path under /agent/api/, body).
#   raw => bytes sent as the body, headers => [...] extra, auth => 0 for none
sub api ($who, $method, $path, $body = undef, %o) {
    my @h = @{ $o{headers} // [] };
    push @h, Authorization => basic($who) unless defined $o{auth} && !$o{auth};
    my $bytes = $o{raw} // (defined $body ? $JSON->encode($body) : undef);
    $bytes //= '{}' if $method ne 'GET';
    push @h, 'Content-Type' => 'application/json'
        if $method ne 'GET' && !grep { lc $_ eq 'content-type' } @h;
    my $res = $nginx->http(method => $method, path => "/agent/api/$path",
                           headers => \@h, body => $bytes, timeout => $T);
    $res->{json} = decode($res);
    return $res;
}

# Straight to wachatd's listener, with whatever X-Wachat-Agent we like, as
# nginx would (with the proxy secret) unless secret => undef or another.
sub direct ($method, $path, %o) {
    my @h = @{ $o{headers} // [] };
    my $proof = exists $o{secret} ? $o{secret} : $d->api_secret;
    push @h, 'X-Wachat-Proxy-Secret' => $proof if defined $proof;
    my $res = http_request(port => $api_port, method => $method,
                           path => "/api/$path", headers => \@h,
                           body => $o{body}, timeout => $T);
    $res->{json} = decode($res);
    return $res;
}

sub conv_field ($conv, $field) {
    return $redis->cmd('HGET', "wachat:conv:{$conv}", $field);
}

sub post_text ($from, $text, $what) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => $text,
                                          name => $from eq $CUSTOMER
                                                  ? 'Sheena Nelson'
                                                  : 'Ola Nordmann'));
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

# The sandbox outbox so far; waits for at least $n entries.
sub outbox ($n) {
    return outbox_wait($redis, $n, timeout => $T);
}

my $sent = 0;       # outbox entries looked at so far

sub next_out ($what) {
    my @e = outbox($sent + 1);
    ok(@e > $sent, "$what: reached the outbox") or return {};
    return $e[$sent++]{fields};
}

sub error_is ($res, $status, $name, $what) {
    is($res->{status}, $status, "$what: $status");
    is($res->{json}{error}, $name, "$what: error $name")
        or diag $res->{body};
    like($res->{headers}{'content-type'} // '', qr{^application/json},
         "$what: a JSON answer");
}


# --- server-sent events from a raw socket --------------------------------------

# HTTP/1.0: nginx streams the body as it comes, without chunked framing.
sub sse_open ($who, %o) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $nginx->port, Proto => 'tcp',
                                  Timeout => 5)
        or die "connect nginx: $!";
    binmode $s;
    my $req = "GET /agent/api/events HTTP/1.0\r\nHost: localhost\r\n"
            . "Authorization: " . basic($who) . "\r\n"
            . "Accept: text/event-stream\r\n";
    $req .= "Last-Event-ID: $o{last}\r\n" if defined $o{last};
    syswrite($s, "$req\r\n");
    return { sock => $s, buf => '', head => undef, events => [] };
}

# Reads what is there (up to $wait seconds); parses complete events.
sub sse_pump ($sse, $wait) {
    my $sel = IO::Select->new($sse->{sock});
    return 0 unless $sel->can_read($wait);
    my $n = sysread($sse->{sock}, $sse->{buf}, 65536, length $sse->{buf});
    return -1 unless $n;
    if (!defined $sse->{head} && $sse->{buf} =~ s/\A(.*?\r\n\r\n)//s) {
        $sse->{head} = $1;
    }
    return 1 unless defined $sse->{head};
    while ($sse->{buf} =~ s/\A(.*?)\n\n//s) {
        my %e = (raw => $1);
        for my $l (split /\n/, $1) {
            my ($k, $v) = $l =~ /^([^:]*):\s?(.*)$/ or next;
            $k = 'comment' if $k eq '';
            $e{$k} = $v;
        }
        $e{json} = eval { $JSON->decode($e{data}) } if defined $e{data};
        push @{ $sse->{events} }, \%e;
    }
    return 1;
}

# The first event (past ones included) for which $match returns true.
sub sse_wait ($sse, $match, $timeout = $T) {
    my $deadline = time + $timeout;
    while (1) {
        for my $i (0 .. $#{ $sse->{events} }) {
            my $e = $sse->{events}[$i];
            if ($match->($e)) {
                splice @{ $sse->{events} }, 0, $i + 1;
                return $e;
            }
        }
        my $left = $deadline - time;
        return undef if $left <= 0;
        return undef if sse_pump($sse, $left > 0.5 ? 0.5 : $left) < 0;
    }
}

sub event_for ($type, $conv, %f) {
    return sub ($e) {
        return 0 unless ($e->{event} // '') eq $type && $e->{json};
        return 0 unless ($e->{json}{conv} // '') eq $conv;
        for (keys %f) { return 0 unless ($e->{json}{$_} // '') eq $f{$_} }
        return 1;
    };
}


# --- identity ----------------------------------------------------------------

my $r = direct('GET', 'me');
error_is($r, 401, 'no_identity', 'no X-Wachat-Agent');
like($r->{json}{message}, qr/nginx/, 'the message says where identity comes from');

$r = direct('GET', 'me', headers => ['X-Wachat-Agent' => 'zed']);
error_is($r, 403, 'unknown_agent', 'an id not in the config');

$r = api('alice', 'GET', 'me', undef, auth => 0);
is($r->{status}, 401, 'through nginx without a login: 401 from auth_basic');

$r = api('alice', 'GET', 'me', undef,
         headers => [Authorization => 'Basic ' . encode_base64('alice:wrong', '')],
         auth => 0);
is($r->{status}, 401, 'a wrong password: 401');

$r = api('mallory', 'GET', 'me');
error_is($r, 403, 'unknown_agent', 'a login that is no agent of the config');

$r = api('bob', 'GET', 'me', undef, headers => ['X-Wachat-Agent' => 'alice']);
is($r->{status}, 200, 'bob with a forged header: answered');
is($r->{json}{id}, 'bob', 'as bob: nginx overwrote the forged X-Wachat-Agent');


# --- only nginx: the proxy secret and Host (issue 11, finding 2) --------------

# Another local user reaches the loopback port, but cannot read the secret.
$r = direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice'], secret => undef);
error_is($r, 403, 'not_through_nginx', 'a forged agent header without the secret');
ok($d->wait_log(qr/api: GET \/api\/me from 127\.0\.0\.1:\d+ refused: no X-Wachat-Proxy-Secret/, $T),
   'the refusal is logged with the peer');
my $wrong = $d->api_secret;
substr($wrong, -1, 1) = substr($wrong, -1, 1) eq '0' ? '1' : '0';
error_is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice'], secret => $wrong),
         403, 'not_through_nginx', 'a secret wrong in its last byte');
error_is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice'],
                secret => substr($d->api_secret, 0, 16)),
         403, 'not_through_nginx', 'a prefix of the secret');
ok($d->wait_log(qr/refused: wrong X-Wachat-Proxy-Secret/, $T), 'logged as a wrong secret');
error_is(direct('POST', 'presence', headers => ['X-Wachat-Agent' => 'alice',
                                                'Content-Type' => 'application/json'],
                body => '{"presence":"online"}', secret => undef),
         403, 'not_through_nginx', 'a state change without the secret');
is($redis->cmd('HGET', 'wachat:agent:alice', 'presence') // 'none', 'none',
   'and it changed nothing');

# DNS rebinding: a page whose name now points at 127.0.0.1 sends its name.
error_is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice',
                                         Host => "rebound.example:$api_port"]),
         421, 'wrong_host', 'Host naming another site, even with the secret');
error_is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice',
                                         Host => '127.0.0.1:1']),
         421, 'wrong_host', 'Host with another port');
is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice',
                                   Host => "localhost:$api_port"])->{status},
   200, 'Host localhost with our port is fine');
is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'alice'])->{json}{id},
   'alice', 'with the secret and our Host: answered');


# --- presence ----------------------------------------------------------------

$r = api('alice', 'GET', 'me');
is($r->{status}, 200, 'me');
is($r->{json}{id}, 'alice', 'me: id');
is($r->{json}{name}, 'Alice', 'me: the display name of the config');
is($r->{json}{presence}, 'offline', 'me: offline before the console said hello');
ok(exists $r->{json}{notify}, 'me: notify');

$r = api('alice', 'POST', 'presence', { presence => 'online' });
is($r->{status}, 200, 'presence online');
is($r->{json}{presence}, 'online', 'presence: the effective presence back');
is(api('alice', 'GET', 'me')->{json}{presence}, 'online', 'me: online now');

$r = api('alice', 'POST', 'heartbeat');
is($r->{status}, 200, 'heartbeat');
is($r->{json}{presence}, 'online', 'heartbeat: still online');

$r = api('alice', 'POST', 'presence', { presence => 'busy' });
error_is($r, 400, 'bad_input', 'presence busy');


# --- a customer asks for a person ------------------------------------------------

my $sse = sse_open('alice');
my $hello = sse_wait($sse, sub ($e) { defined $e->{retry} }, $T);
like($sse->{head} // '', qr{^HTTP/1\.\d 200}, 'events: 200');
like($sse->{head} // '', qr{content-type: text/event-stream}i,
     'events: text/event-stream');
is($hello && $hello->{retry}, '3000', 'events: retry: 3000 first');

post_text($CUSTOMER, '/live_agent', '/live_agent');

ok(poll_until(sub { (conv_field($CONV, 'mode') // '') eq 'agent' },
              timeout => $T), 'the conversation went to an agent');
is(conv_field($CONV, 'agent'), 'alice', 'to alice, the only one online');

my $out = next_out('hand-over');
is($out->{to}, $CUSTOMER, 'the customer is told');
like($out->{text}, qr/person/i, 'the customer is told a person comes');

my $e = sse_wait($sse, event_for('message', $CONV));
ok($e, 'events: a message event when the customer writes') or diag explain $sse;
like($e->{id} // '', qr/^\d+-\d+$/, 'events: the stream id as the event id');
$e = sse_wait($sse, event_for('mode', $CONV, mode => 'agent', agent => 'alice'));
ok($e, 'events: a mode event for the hand-over to alice');

$r = api('alice', 'GET', 'conversations');
is($r->{status}, 200, 'list');
is(ref $r->{json}, 'ARRAY', 'list: an array');
my $c = $r->{json}[0] // {};
is($c->{id}, $CONV, 'listed first for alice');
is($c->{mode}, 'agent', 'list: mode agent');
is($c->{agent}, 'alice', 'list: held by alice');
is($c->{name}, 'Sheena Nelson', 'list: the customer name');
is($c->{wa_id}, $CUSTOMER, 'list: the number');
is($c->{phone_number_id}, $PNID, 'list: the business number');
is($c->{unread}, 1, 'list: one unread message');
ok(defined $c->{last_text}, 'list: the last message');
cmp_ok($c->{window_left_ms} // 0, '>', 23 * 3600 * 1000,
       'list: almost 24 hours of window left');
cmp_ok(abs(($c->{window_closes_at} // 0) - (time * 1000 + $c->{window_left_ms})),
       '<', 10_000, 'list: window_closes_at is when the window closes');

$r = api('alice', 'GET', 'conversations?agent=me&mode=agent&unread=1');
is_deeply([map { $_->{id} } @{ $r->{json} }], [$CONV],
          'filters: mine, mode agent, unread');
$r = api('bob', 'GET', 'conversations?agent=me');
is_deeply($r->{json}, [], 'filters: bob holds nothing');
$r = api('alice', 'GET', 'conversations?mode=waiting_agent');
is_deeply($r->{json}, [], 'filters: nobody waits');

$r = api('alice', 'GET', "conversations/$CONV");
is($r->{status}, 200, 'one conversation');
is($r->{json}{id}, $CONV, 'its id');
is($r->{json}{unread}, 0, 'alice read it: unread 0');
is(conv_field($CONV, 'unread'), '0', 'unread 0 in Redis too');
my @hist = @{ $r->{json}{history} // [] };
my ($in) = grep { $_->{dir} eq 'in' } @hist;
is($in->{text}, '/live_agent', 'history: what the customer wrote');
is($in->{who}, 'customer', 'history: by the customer');
like($in->{ts_ms} // 0, qr/^\d{13}$/, 'history: times in ms');
my ($sys) = grep { $_->{dir} eq 'out' } @hist;
is($sys->{who}, 'system', 'history: the hand-over text, by the system');
like($sys->{status} // '', qr/^(queued|accepted|sent|delivered|read)$/,
     'history: outbound entries carry a delivery status');


# --- replies -------------------------------------------------------------------

my $REPLY = 'Hello Sheena, Alice here. How can I help?';
$r = api('alice', 'POST', "conversations/$CONV/reply", { text => $REPLY });
is($r->{status}, 202, 'alice replies: 202');
is($r->{json}{queued}, JSON::PP::true, 'queued');
like($r->{json}{hist} // '', qr/^\d+-\d+$/, 'with its history id');
my $alice_hist = $r->{json}{hist};

$out = next_out('alice\'s reply');
is($out->{to}, $CUSTOMER, 'addressed to the customer');
is($out->{text}, $REPLY, 'the text alice wrote');

ok($d->wait_log(qr{api: alice POST /api/conversations/\Q$CONV\E/reply: 202}, $T),
   'logged with the agent and the outcome');
unlike($d->log_text, qr/\Q$REPLY\E/, 'never the message text');

ok(poll_until(sub {
    my $h = api('alice', 'GET', "conversations/$CONV")->{json}{history} // [];
    my ($x) = grep { $_->{id} eq $alice_hist } @$h;
    $x && $x->{who} eq 'agent:alice' && $x->{status} =~ /^(accepted|sent)$/;
}, timeout => $T), 'history: the reply as agent:alice, sent');

$r = api('bob', 'POST', "conversations/$CONV/reply", { text => 'Bob here' });
error_is($r, 403, 'not_assigned', 'bob replies in alice\'s conversation');
like($r->{json}{message}, qr/take it first/, 'the human text says what to do');

$r = api('bob', 'POST', "conversations/$CONV/take");
is($r->{status}, 200, 'bob takes it');
is($r->{json}{agent}, 'bob', 'take: now bob\'s');
is(conv_field($CONV, 'agent'), 'bob', 'bob holds it in Redis');
ok(sse_wait($sse, event_for('mode', $CONV, mode => 'agent', agent => 'bob')),
   'events: a mode event on take');

$r = api('bob', 'POST', "conversations/$CONV/reply", { text => 'Bob here now.' });
is($r->{status}, 202, 'bob can reply now');
$out = next_out('bob\'s reply');
is($out->{text}, 'Bob here now.', 'bob\'s reply in the outbox');
is($out->{to}, $CUSTOMER, 'to the customer');

$r = api('alice', 'POST', "conversations/$CONV/reply", { text => 'me too' });
error_is($r, 403, 'not_assigned', 'alice no longer holds it');

post_text($CUSTOMER, 'thank you!', 'customer to bob');
ok(sse_wait($sse, event_for('message', $CONV)),
   'events: the customer\'s next message');

$r = api('bob', 'POST', "conversations/$CONV/resolve");
is($r->{status}, 200, 'bob resolves');
is($r->{json}{mode}, 'ai', 'resolve: back to the AI');
is(conv_field($CONV, 'mode'), 'ai', 'mode ai in Redis');
$out = next_out('closing text');
like($out->{text}, qr/assistant again/, 'the closing text is queued and sent');
ok(sse_wait($sse, event_for('mode', $CONV, mode => 'ai')),
   'events: a mode event on resolve');


# --- the 24-hour window ------------------------------------------------------------

$redis->cmd('HSET', "wachat:conv:{$CONV}", 'last_in_ts', int(time) - 2 * 86400);
is(api('alice', 'POST', "conversations/$CONV/take")->{status}, 200,
   'alice takes the old conversation');
$r = api('alice', 'POST', "conversations/$CONV/reply", { text => 'late' });
error_is($r, 409, 'outside_window', 'a reply 2 days after the customer wrote');
like($r->{json}{message}, qr/24 hours/, 'the message explains the window');
$r = api('alice', 'GET', 'conversations?agent=me');
is($r->{json}[0]{window_left_ms}, 0, 'list: no window left');
sleep 0.5;
is(scalar(() = $redis->xrange('wachat:outbox')), $sent, 'nothing was sent');
is(api('alice', 'POST', "conversations/$CONV/resolve")->{status}, 200,
   'resolved again (no closing text outside the window)');


# --- requests another site could make a logged-in agent's browser send ------------
# (issue 11, finding 1): a form (text/plain, urlencoded, multipart) is refused
# 415, a JSON request whose Origin or Sec-Fetch-Site says another site 403;
# none of them changes anything, the console's own requests go through.

{
    my $queued = $redis->xlen('wachat:outbox');
    my $mode = conv_field($CONV, 'mode');
    for my $type ('text/plain', 'application/x-www-form-urlencoded',
                  'multipart/form-data; boundary=x', 'application/jsonx') {
        my $r = api('alice', 'POST', "conversations/$CONV/reply", undef,
                    raw => '{"text": "forged", "x": "="}',
                    headers => ['Content-Type' => $type]);
        error_is($r, 415, 'unsupported_media_type', "a reply sent as $type");
    }
    for my $type ('text/plain', 'application/x-www-form-urlencoded') {
        error_is(api('alice', 'POST', "conversations/$CONV/take", undef, raw => '',
                     headers => ['Content-Type' => $type]),
                 415, 'unsupported_media_type', "take sent as $type (no body needed)");
    }
    error_is(api('alice', 'POST', 'presence', undef, raw => '{"presence": "away"}',
                 headers => ['Content-Type' => 'text/plain']),
             415, 'unsupported_media_type', 'presence sent as text/plain');

    for my $origin ('http://evil.example', 'null', "http://127.0.0.1.evil.example:$nginx->{port}") {
        error_is(api('alice', 'POST', "conversations/$CONV/reply", { text => 'forged' },
                     headers => [Origin => $origin]),
                 403, 'cross_origin', "JSON with Origin $origin");
    }
    error_is(api('alice', 'POST', "conversations/$CONV/resolve", undef,
                 headers => ['Sec-Fetch-Site' => 'cross-site']),
             403, 'cross_origin', 'JSON with Sec-Fetch-Site cross-site and no Origin');

    is($redis->xlen('wachat:outbox'), $queued, 'none of them queued a message');
    is(conv_field($CONV, 'mode'), $mode, 'nor changed the conversation');

    # the console's own: JSON, Origin of the host the agent reached
    my $own = api('alice', 'POST', 'presence', { presence => 'online' },
                  headers => [Origin => "http://127.0.0.1:$nginx->{port}",
                              'Sec-Fetch-Site' => 'same-origin']);
    is($own->{status}, 200, 'same origin, JSON: accepted') or diag explain $own;
    is(api('alice', 'GET', 'me', undef, headers => [Origin => 'http://evil.example'])->{status},
       200, 'a GET changes nothing: answered whatever its origin');
}


# --- bad requests ------------------------------------------------------------------

$r = api('alice', 'POST', "conversations/$CONV/reply", undef, raw => '{"text": ');
error_is($r, 400, 'bad_json', 'truncated JSON');
$r = api('alice', 'POST', "conversations/$CONV/reply", undef, raw => '["text"]');
error_is($r, 400, 'bad_json', 'not an object');
$r = api('alice', 'POST', "conversations/$CONV/reply", { txt => 'x' });
error_is($r, 400, 'bad_input', 'no text');
$r = api('alice', 'POST', "conversations/$CONV/reply", { text => 42 });
error_is($r, 400, 'bad_input', 'text not a string');

$r = api('alice', 'POST', "conversations/$CONV/reply", undef,
         raw => $JSON->encode({ text => 'x' x 70_000 }));
error_is($r, 413, 'too_large', 'a 70 KB body');

$r = api('alice', 'GET', 'nope');
error_is($r, 404, 'not_found', 'an unknown path');
$r = api('alice', 'GET', 'presence');
error_is($r, 405, 'method_not_allowed', 'GET on a POST endpoint');
is($r->{headers}{allow}, 'POST', '405 says what is allowed');
$r = api('alice', 'DELETE', "conversations/$CONV");
error_is($r, 405, 'method_not_allowed', 'DELETE a conversation');

$r = api('alice', 'GET', "conversations/$PNID:00000");
error_is($r, 404, 'no_conversation', 'an unknown conversation');
$r = api('alice', 'POST', "conversations/$PNID:00000/take");
error_is($r, 404, 'no_conversation', 'take an unknown conversation');
$r = api('alice', 'GET', 'conversations/%7Bx%7D');
error_is($r, 404, 'no_conversation', 'an id that is no conversation id');

$r = api('alice', 'GET', 'conversations?mode=bogus');
error_is($r, 400, 'bad_input', 'an unknown mode');
$r = api('alice', 'GET', 'conversations?limit=0');
error_is($r, 400, 'bad_input', 'limit 0');
$r = api('alice', 'GET', 'conversations?limit=1');
is(scalar @{ $r->{json} }, 1, 'limit 1: one');


# --- waiting conversations come first --------------------------------------------------

is(api('alice', 'POST', 'presence', { presence => 'away' })->{status}, 200,
   'alice away: nobody online');
post_text($OTHER, '/live_agent', 'another customer asks for a person');
ok(poll_until(sub { (conv_field($OTHER_CONV, 'mode') // '') eq 'waiting_agent' },
              timeout => $T), 'nobody online: waiting_agent');
$out = next_out('offline text');
is($out->{to}, $OTHER, 'the waiting customer is told');

post_text($CUSTOMER, 'What are your opening hours?', 'the first customer again');
$out = next_out('AI answer');
is($out->{to}, $CUSTOMER, 'the AI answers the first customer again');

$r = api('alice', 'GET', 'conversations');
is_deeply([map { $_->{id} } @{ $r->{json} }], [$OTHER_CONV, $CONV],
          'the waiting one first, though the other wrote last');
is($r->{json}[0]{mode}, 'waiting_agent', 'listed as waiting');
ok($r->{json}[0]{window_closes_at}, 'with when its window closes');
$r = api('alice', 'GET', 'conversations?mode=waiting_agent');
is_deeply([map { $_->{id} } @{ $r->{json} }], [$OTHER_CONV],
          'filter: waiting only');


# --- the console itself -----------------------------------------------------------------

SKIP: {
    skip 'no console/index.html yet', 2 unless -e "$ROOT/console/index.html";
    $r = $nginx->http(path => '/agent/', headers => [Authorization => basic('alice')]);
    is($r->{status}, 200, 'the console is served at /agent/');
    like($r->{headers}{'content-type'} // '', qr{^text/html}, 'as HTML');
}


# --- the event stream: Last-Event-ID and clean-up ---------------------------------------

my $last = $e->{id};       # alice's hand-over
my $again = sse_open('bob', last => $last);
ok(sse_wait($again, event_for('mode', $CONV, agent => 'bob')),
   'Last-Event-ID: what came after it is replayed');
my $future = sse_open('alice', last => '99999999999999-0');
ok(sse_wait($future, sub ($e) { defined $e->{retry} }), 'a stream resumed '
   . 'from an id the feed never had');
$redis->cmd('XADD', 'wachat:feed', '*', type => 'presence', agent => 'carol',
            presence => 'away');
ok(sse_wait($future, sub ($e) { ($e->{json}{agent} // '') eq 'carol' }),
   'still gets what comes next');
close $future->{sock};
close $again->{sock};
close $sse->{sock};
ok($d->wait_log(qr/api: bob event stream closed/, $T),
   'a closed stream is cleaned up');


# --- reload: the agents of the new config count at once ----------------------------------

is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'carol'])->{status}, 403,
   'carol is no agent yet');
$d->{extra} .= "agent carol carol\@example.com name=\"Carol\"\n";
$d->write_conf;
$d->hup;
ok(poll_until(sub {
    direct('GET', 'me', headers => ['X-Wachat-Agent' => 'carol'])->{status} == 200;
}, timeout => $T), 'after SIGHUP carol is known');
is(direct('GET', 'me', headers => ['X-Wachat-Agent' => 'carol'])->{json}{name},
   'Carol', 'with her name from the new config');


# --- the shared feed reader comes back after Redis restarts ------------------------------

my $live = sse_open('alice');
ok(sse_wait($live, sub ($e) { defined $e->{retry} }), 'a new stream');
$redis->restart;
$redis->cmd('XADD', 'wachat:feed', '*', type => 'presence', agent => 'bob',
            presence => 'online');
ok(sse_wait($live, sub ($e) {
    ($e->{event} // '') eq 'presence' && ($e->{json}{agent} // '') eq 'bob';
}), 'events: delivered again after a Redis restart');
close $live->{sock};


# --- listeners -----------------------------------------------------------------------------

my $sockdir = File::Temp::tempdir('wachat-sock-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $sock = "$sockdir/api.sock";
my $u = start_wachatd(redis => $redis, kb => $KB, api_secret => 0, conf => <<"EOF");
api_listen unix:$sock
agent alice alice\@example.com
EOF
ok($u->wait_log(qr/agent API on unix:/, $T), 'the API on a unix socket');
is((stat $sock)[2] & 07777, 0660, 'the socket is mode 0660');
{
    my $s = IO::Socket::UNIX->new(Peer => $sock, Type => SOCK_STREAM);
    ok($s, 'connect to the socket') or diag "$!";
    syswrite($s, "GET /api/me HTTP/1.0\r\nX-Wachat-Agent: alice\r\n\r\n") if $s;
    my $buf = '';
    my $sel = IO::Select->new($s);
    while ($s && $sel->can_read($T)) {
        last unless sysread($s, $buf, 65536, length $buf);
    }
    like($buf, qr{^HTTP/1\.\d 200}, 'answers on the socket');
    like($buf, qr/"id":"alice"/, 'as the agent of the header');
}
$u->stop;
ok(!-e $sock, 'the socket is removed at exit');

my $bad_port = free_port();
my $bad = eval {
    start_wachatd(redis => $redis, kb => $KB,
                  conf => "api_listen 0.0.0.0:$bad_port\nagent alice a\@example.com\n");
};
ok(!$bad, 'api_listen 0.0.0.0 refused');
like($@, qr/not a loopback address/, 'with a clear error');

my $open = eval {
    start_wachatd(redis => $redis, kb => $KB, api_secret => 0,
                  conf => "api_listen 127.0.0.1:$bad_port\nagent alice a\@example.com\n");
};
ok(!$open, 'api_listen on a port without api_secret_file refused');
like($@, qr/api_listen on host:port needs api_secret_file/, 'with a clear error');

my $short_dir = File::Temp::tempdir('wachat-short-XXXXXX', TMPDIR => 1, CLEANUP => 1);
spew("$short_dir/api.secret", "tooshort\n", 0600);
my $short = eval {
    start_wachatd(redis => $redis, kb => $KB, api_secret => 0,
                  conf => "api_listen 127.0.0.1:$bad_port\napi_secret_file $short_dir/api.secret\n"
                        . "agent alice a\@example.com\n");
};
ok(!$short, 'a secret of 8 characters refused');
like($@, qr/api_secret \(file \S+\) is shorter than 16 characters/, 'with a clear error');


# --- the daemon stayed healthy ---------------------------------------------------------------

ok($d->alive, 'wachatd still runs');
unlike($d->log_text, qr/AddressSanitizer|runtime error|LeakSanitizer/,
       'no sanitizer report');
is($d->stop, 0, 'wachatd stops cleanly with the API');

done_testing();
