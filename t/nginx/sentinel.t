#!/usr/bin/perl

# wachat_redis sentinel=... master=...: the module asks real redis-sentinel
# processes where the primary is, follows a SENTINEL FAILOVER and a kill -9
# of the primary by itself, answers 503 at once while there is none, and
# counts the failovers.  wachat_redis_replicas N: 200 only once WAIT saw N
# replicas take the events; 503 otherwise, and Meta's retry is answered 200
# without queuing the events twice.

use v5.36;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Wachat::Files qw(fixture spew);
use IO::Socket::INET;
use Wachat::Process qw(free_port poll_until spawn stop_pid tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(nginx_t start_nginx wachat_location);
use Wachat::Sentinel qw(start_sentinels);

my $STREAM = 'wachat:events';

# --- nginx -t ------------------------------------------------------------------

sub refused ($name, $directive, $want) {
    my ($rc, $out) = nginx_t(redis_directive => $directive);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $want, "$name: the message names the problem") or diag $out;
}

{
    my $dir = tmpdir('sentinel-conf');
    my $pw = spew("$dir/sentinel-pw", "s3ntinel\n", 0600);
    my ($rc, $out) = nginx_t(redis_directive =>
        "wachat_redis sentinel=127.0.0.1:26379,127.0.0.2:26379 master=wachat "
        . "sentinel_password_file=$pw db=1;\n    wachat_redis_replicas 1 timeout=200ms;");
    is($rc, 0, 'sentinel= master= sentinel_password_file= and wachat_redis_replicas pass')
        or diag $out;

    refused('sentinel= without master=', 'wachat_redis sentinel=127.0.0.1:26379;',
            qr/"sentinel=" and "master=" go together/);
    refused('master= without sentinel=', 'wachat_redis 127.0.0.1:6379 master=wachat;',
            qr/"sentinel=" and "master=" go together/);
    refused('an address and sentinel=',
            'wachat_redis 127.0.0.1:6379 sentinel=127.0.0.1:26379 master=wachat;',
            qr/not both/);
    refused('a bad sentinel address', 'wachat_redis sentinel=127.0.0.1 master=wachat;',
            qr/invalid Redis address "127\.0\.0\.1"/);
    refused('wachat_redis_replicas x', "wachat_redis 127.0.0.1:6379;\n    wachat_redis_replicas x;",
            qr/invalid number of replicas "x"/);
    refused('a WAIT that would wait for ever',
            "wachat_redis 127.0.0.1:6379;\n    wachat_redis_replicas 1 timeout=0;",
            qr/invalid WAIT timeout/);
}

# --- a primary, a replica, three sentinels ------------------------------------------

my $ha = start_sentinels(replicas => 1, sentinels => 3);

my $metrics_location = <<'CONF';
        location = /metrics {
            wachat_metrics;
        }
CONF

my $nginx = start_nginx(
    redis_directive  => 'wachat_redis ' . $ha->directive . ';',
    worker_processes => 2,
    locations => wachat_location(token => 'tok-s', secret => 'sec-s',
                                 extra => 'wachat_redis_timeout 1s;')
               . $metrics_location);
$nginx->{token}  = 'tok-s';
$nginx->{secret} = 'sec-s';

my $n = 0;
sub new_body () {
    $n++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.SENTINEL$n"/ or die;
    return $b;
}

sub metric ($name) {
    my $res = $nginx->http(method => 'GET', path => '/metrics');
    my ($v) = $res->{body} =~ /^\Q$name\E (\S+)$/m;
    return $v;
}

# POSTs the body until it is answered 200 (a deadline bounds it); every
# answer must be 200 or 503, and come within wachat_redis_timeout.
sub until_accepted ($body, $what) {
    my (@seen, $slowest);
    $slowest = 0;
    my $res = poll_until(sub {
        my $t0 = time;
        my $r = $nginx->post_signed($body);
        my $dt = time - $t0;
        $slowest = $dt if $dt > $slowest;
        push @seen, $r->{status};
        return $r->{status} == 200 ? $r : undef;
    }, timeout => 30, interval => 0.05);
    ok($res, "$what: accepted again") or diag "statuses: @seen\n" . $ha->logs;
    ok(!grep({ $_ != 200 && $_ != 503 } @seen), "$what: only 200 or 503 meanwhile")
        or diag "statuses: @seen";
    cmp_ok($slowest, '<', 1.5, "$what: no answer waited longer than wachat_redis_timeout")
        or diag "slowest: $slowest s";
    return $res;
}

{
    my $body = new_body();
    my $res = until_accepted($body, 'through the sentinels');
    is($res && $res->{body}, '{"result":"accepted","events":1,"queued":1}', '... queued');
    is($ha->primary->xlen($STREAM), 1, 'the event is in the primary the sentinels name');
    like($nginx->error_log, qr/sentinels name 127\.0\.0\.1:\d+ as the primary "wachat"/,
         'the primary found is logged');
    is(metric('wachat_redis_failovers_total'), 0, 'no failover counted yet');
}

# --- SENTINEL FAILOVER -----------------------------------------------------------

{
    my $old = $ha->primary;
    my $new = $ha->failover;
    isnt($new->port, $old->port, 'SENTINEL FAILOVER promoted the replica');

    # until the sentinels demote the old primary it takes writes, which its
    # resync then drops: the window wachat_redis_replicas closes (below)
    ok(poll_until(sub { ($ha->role($old) // '') eq 'slave' }, timeout => 30),
       'the sentinels made the old primary a replica');
    my $body = new_body();
    until_accepted($body, 'after SENTINEL FAILOVER');
    my @ids = map { $_->{fields}{id} } $new->xrange($STREAM);
    is_deeply(\@ids, ['wamid.SENTINEL1', "wamid.SENTINEL$n"],
              'the new primary has the event of before (replicated) and the new one');
    poll_until(sub { (metric('wachat_redis_failovers_total') // 0) >= 1 }, timeout => 10);
    is(metric('wachat_redis_failovers_total'), 1, 'one failover counted (not one per worker)');
    like($nginx->error_log, qr/failover: the primary "wachat" is now 127\.0\.0\.1:${\ $new->port }/,
         'the failover is logged with the new address');
}

# --- kill -9 of the primary ------------------------------------------------------------

{
    my $t0 = time;
    my $old = $ha->primary;
    # the demoted primary must have caught up: it is the replica promoted now
    $ha->wait_replicas_in_sync($old, 1);
    my $new = $ha->crash_primary;
    isnt($new->port, $old->port, 'kill -9 of the primary: the replica was promoted');

    my $body = new_body();
    until_accepted($body, 'after kill -9 of the primary');
    is($new->xlen($STREAM), 3, 'all three events in the primary of now');
    is(metric('wachat_redis_failovers_total'), 2, 'two failovers counted');
    my $down = metric('wachat_redis_no_primary_seconds_total');
    ok(defined $down && $down > 0 && $down < time - $t0 + 1,
       'the time without a primary is counted') or diag "no_primary: $down";
    unlike($nginx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
}

# --- a sentinel down: the next one answers ------------------------------------------

{
    my ($first) = $ha->sentinels;
    Wachat::Process::stop_pid($first->{pid}, 10);
    delete $first->{pid};
    $nginx->reload;
    until_accepted(new_body(), 'with the first sentinel down, after a reload');
}

# --- wachat_redis_replicas (and a sentinel with a password) ----------------------

{
    my $ha2 = start_sentinels(replicas => 1, sentinels => 1, quorum => 1,
                              sentinel_password => 'sentinel-pw-2');
    my $pw = spew(tmpdir('sentinel-pw') . '/sentinel.password', "sentinel-pw-2\n", 0600);
    my $w = start_nginx(
        redis_directive  => 'wachat_redis ' . $ha2->directive
                          . " sentinel_password_file=$pw;\n"
                          . '    wachat_redis_replicas 1 timeout=300ms;',
        worker_processes => 1,
        locations => wachat_location(token => 'tok-w', secret => 'sec-w')
                   . $metrics_location);
    $w->{token}  = 'tok-w';
    $w->{secret} = 'sec-w';

    my $primary = $ha2->primary;
    my ($replica) = grep { $_ != $primary } $ha2->servers;

    my $first = new_body();
    my $ok = poll_until(sub { my $r = $w->post_signed($first); $r->{status} == 200 ? $r : undef },
                        timeout => 20, interval => 0.05);
    ok($ok, 'replicas 1: 200 once the replica acknowledged (the sentinel asked with AUTH)');

    # the replica is gone: WAIT sees 0 replicas
    $replica->stop;
    my $body = new_body();
    my $t0 = time;
    my ($res, $line) = $w->with_access_line(sub { $w->post_signed($body) });
    my $dt = time - $t0;
    is($res->{status}, 503, 'replica not acknowledging: 503');
    is($res->{body}, '{"error":"redis_not_replicated"}', '... redis_not_replicated');
    is($res->{headers}{'retry-after'}, '1', '... Retry-After: 1');
    like($line // '', qr/^503 redis_not_replicated/, '... in the access log');
    cmp_ok($dt, '<', 1.5, '... within the WAIT timeout, not later');
    is($primary->xlen($STREAM), 2, 'the events were written on the primary all the same');

    # Meta retries once the replica is back: 200, not queued twice
    $replica->start;
    my $retry = poll_until(sub { my $r = $w->post_signed($body); $r->{status} == 200 ? $r : undef },
                           timeout => 20, interval => 0.05);
    is($retry && $retry->{body}, '{"result":"accepted","events":1,"queued":0}',
       "Meta's retry: 200, the event not queued again");
    is($primary->xlen($STREAM), 2, 'one stream entry for the event');
    is($replica->xlen($STREAM), 2, 'and the replica has it');

    my $m = $w->http(method => 'GET', path => '/metrics')->{body};
    like($m, qr/^wachat_requests_total\{result="redis_not_replicated"\} [1-9]/m,
         'metrics count the requests refused for want of replicas');
    $w->stop;
}


# --- a stale sentinel that names a replica ------------------------------------------
# ROLE refuses it each time; the link must back off (to 1 s behind sentinels)
# and never say it is connected, although SCRIPT LOAD, pipelined behind ROLE,
# succeeds on the replica.

{
    my $primary = start_redis();
    my $replica = start_redis(args => ['--replicaof', '127.0.0.1', $primary->port]);
    my $port = free_port();
    # a stand-in sentinel: any command is answered with the replica's address
    my $stale = spawn([$^X, '-e', <<'PERL', $port, $replica->port]);
use IO::Socket::INET; use IO::Select;
my ($port, $addr) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                              Listen => 16, ReuseAddr => 1) or exit 1;
my $sel = IO::Select->new($l);
for my $turn (1 .. 600) {
    for my $s ($sel->can_read(0.1)) {
        if ($s == $l) { $sel->add($l->accept); next }
        if (!sysread($s, my $buf, 4096)) { $sel->remove($s); close $s; next }
        syswrite $s, "*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($addr) . "\r\n$addr\r\n";
    }
}
PERL
    ok(poll_until(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") }),
       'the stale sentinel listens');

    my $w = start_nginx(redis_directive => "wachat_redis sentinel=127.0.0.1:$port master=wachat;");
    my $res = $w->post_signed(fixture('status_read'));
    is($res->{status}, 503, 'only a replica named: 503');
    my $n0 = () = $w->error_log =~ /is not the primary/g;
    Time::HiRes::sleep(3);
    my $n1 = () = $w->error_log =~ /is not the primary/g;
    cmp_ok($n1 - $n0, '<=', 8, 'the replica is tried again with backoff, not every 100 ms')
        or diag "$n0 -> $n1 attempts";
    unlike($w->error_log, qr/connected to redis/, 'and is never reported as connected');
    is($primary->xlen($STREAM), 0, 'nothing queued');
    $w->stop;
    stop_pid($stale, 5);
}

done_testing;
