#!/usr/bin/perl
# wachatd across Redis failovers, found through real redis-sentinel
# processes: a customer's messages sent before, between and after a
# SENTINEL FAILOVER and a kill -9 of the primary are each answered exactly
# once (the sandbox outbox, replicated data, is read on the primary of the
# moment), the consumer group carries over, and an agent's live feed (a
# server-sent event stream through nginx) goes on by itself: wachatd's feed
# link finds the new primary, the browser's connection is never dropped.

use v5.36;
use lib 't/lib';

use Digest::SHA qw(sha1_base64);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);
use Test::More;

use Wachat::Files qw(root_dir spew);
use Wachat::Process qw(free_port poll_until tmpdir);
use Wachat::Nginx qw(agent_snippet start_nginx wachat_location);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Sentinel qw(start_sentinels);
use Wachat::Webhook qw(rand_token wh_text);

my $JSON = JSON::PP->new->utf8->canonical;
my $PNID = '106540352242922';
my $CUSTOMER = '16505550101';
my $CONV = "$PNID:$CUSTOMER";
my $T = 30;

my $ha = start_sentinels(replicas => 1, sentinels => 3, min_replicas => 1);
my $api_port = free_port();
my $d = start_wachatd(redis => $ha->primary, redis_line => 'redis ' . $ha->directive,
                      kb => root_dir() . '/t/fixtures/kb/shop.md',
                      conf => "api_listen 127.0.0.1:$api_port\n"
                            . "agent alice alice\@example.com\n");
ok($d->wait_log(qr/agent API on 127\.0\.0\.1:$api_port/, 10), 'wachatd up through the sentinels');
like($d->log_text, qr/redis: behind sentinels with redis_replicas 0: a failover can take back/,
     'it warns that redis_replicas is 0 behind sentinels');

my $dir = tmpdir('failover');
my $htpasswd = spew("$dir/agents.htpasswd", "alice:{SHA}" . sha1_base64('alice-pw') . "=\n");
my ($token, $secret) = ('vt-' . rand_token(20), 'as-' . rand_token(32));
my $nginx = start_nginx(token => $token, secret => $secret, worker_processes => 2,
    redis_directive => 'wachat_redis ' . $ha->directive . ";\n    wachat_redis_replicas 1;",
    locations => wachat_location(token => $token, secret => $secret)
               . agent_snippet(htpasswd => $htpasswd, api => "127.0.0.1:$api_port",
                               secret_file => $d->api_secret_file));
$nginx->{token}  = $token;
$nginx->{secret} = $secret;

my @asked;      # the customer's wamids, in the order sent

# --- the agent's live feed: one SSE connection for the whole test --------------

my $sse = do {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $nginx->port,
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    binmode $s;
    syswrite($s, "GET /agent/api/events HTTP/1.0\r\nHost: localhost\r\n"
               . 'Authorization: Basic ' . encode_base64('alice:alice-pw', '') . "\r\n"
               . "Accept: text/event-stream\r\n\r\n");
    { sock => $s, buf => '', head => undef, events => [], closed => 0 };
};

sub sse_pump ($wait) {
    return 0 unless IO::Select->new($sse->{sock})->can_read($wait);
    my $n = sysread($sse->{sock}, $sse->{buf}, 65536, length $sse->{buf});
    if (!$n) { $sse->{closed} = 1; return -1 }
    $sse->{head} = $1 if !defined $sse->{head} && $sse->{buf} =~ s/\A(.*?\r\n\r\n)//s;
    return 1 unless defined $sse->{head};
    while ($sse->{buf} =~ s/\A(.*?)\n\n//s) {
        my %e;
        for (split /\n/, $1) { my ($k, $v) = /^([^:]*):\s?(.*)$/ or next; $e{$k} = $v }
        $e{json} = eval { $JSON->decode($e{data}) } if defined $e{data};
        push @{ $sse->{events} }, \%e;
    }
    return 1;
}

# the feed's event for the customer's last message (it names its wamid)
sub feed_saw () {
    my $wamid = $asked[-1];
    my $deadline = time + $T;
    while (time < $deadline) {
        for my $e (@{ $sse->{events} }) {
            return 1 if ($e->{event} // '') eq 'message'
                && ($e->{json}{conv} // '') eq $CONV && ($e->{json}{id} // '') eq $wamid;
        }
        return 0 if sse_pump(0.5) < 0;
    }
    return 0;
}

# --- the customer writes, Redis changes hands ------------------------------------

my $n = 0;
sub customer_writes ($text, $what) {
    my $wamid = 'wamid.FAILOVER' . ++$n;
    my $body = wh_text(from => $CUSTOMER, id => $wamid, text => $text,
                       name => 'Failover Customer');
    push @asked, $wamid;
    my @st;
    my $ok = poll_until(sub {
        my $r = $nginx->post_signed($body);
        push @st, $r->{status};
        $r->{status} == 200;
    }, timeout => $T, interval => 0.1);
    ok($ok, "$what: the webhook accepted") or diag "statuses: @st";
}

# replies in the outbox of the primary of now, by the message they answer
sub replies () {
    my %by;
    my $p = $ha->primary or return \%by;
    $by{ $_->{fields}{reply_to} // '' }++ for eval { $p->xrange('wachat:outbox') };
    return \%by;
}

sub all_answered ($what) {
    my $ok = poll_until(sub { my $r = replies(); !grep { !$r->{$_} } @asked }, timeout => $T);
    ok($ok, "$what: every message so far answered") or diag explain replies();
    my $r = replies();
    is_deeply([grep { ($r->{$_} // 0) != 1 } @asked], [], "$what: each exactly once");
}

ok(poll_until(sub { sse_pump(0.2); defined $sse->{head} }, timeout => 10)
   && $sse->{head} =~ m{^HTTP/1\.\d 200}, 'the live feed is open') or diag $sse->{buf};

customer_writes('What are your opening hours?', 'before any failover');
all_answered('before any failover');
ok(feed_saw(), 'the live feed shows it');

my $old = $ha->primary;
my $new = $ha->failover;
ok(poll_until(sub { ($ha->role($old) // '') eq 'slave' }, timeout => $T),
   'SENTINEL FAILOVER: the old primary is a replica now');
customer_writes('How much does delivery cost?', 'after SENTINEL FAILOVER');
all_answered('after SENTINEL FAILOVER');
ok(feed_saw(), 'the live feed goes on after the failover');

$ha->wait_replicas_in_sync($new, 1);
my $killed = $ha->primary;
my $now = $ha->crash_primary;
isnt($now->port, $killed->port, 'kill -9 of the primary: the replica promoted');
# the lost host comes back as a replica, or wachat_redis_replicas 1 refuses all
$ha->rejoin($killed);
customer_writes('Can I return an item?', 'after kill -9 of the primary');
all_answered('after kill -9 of the primary');
ok(feed_saw(), 'the live feed goes on after the kill -9');
ok(!$sse->{closed}, "the agent's connection was never dropped");

my $groups = $ha->primary->cmd('XINFO', 'GROUPS', 'wachat:events');
my %g = @{ $groups->[0] // [] };
is($g{pending}, 0, 'the consumer group carried over: nothing pending at the end');
unlike($d->log_text, qr/\b(?:crit|alert|emerg)\b/, "no critical line in wachatd's log");

done_testing();
