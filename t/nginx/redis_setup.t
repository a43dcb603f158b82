#!/usr/bin/perl

# The commands sent on every connect (AUTH, SELECT, ROLE, SCRIPT LOAD) must
# all have answered before a webhook's call is let onto the link.  A call
# pipelined behind a SELECT that Redis then refuses runs in db 0 and would
# be answered 200: an event Meta was told we have, in a db no consumer reads.
# And a server that takes the connection but never answers the setup is
# dropped after the connect timeout and tried again with backoff, POSTs
# answered 503 meanwhile.  A Perl stand-in between nginx and a real Redis
# holds Redis's replies or never answers (Wachat::RedisProxy).

use v5.36;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Wachat::Files qw(fixture slurp spew);
use Wachat::Process qw(free_port poll_until reaped spawn stop_pid tmpdir);
use Wachat::Redis::RESP;
use Wachat::Redis qw(start_redis);
use Wachat::RedisProxy qw(start_redis_proxy);
use Wachat::Nginx qw(start_nginx wachat_location);

my $STREAM = 'wachat:events';

my $metrics_location = <<'CONF';
        location = /metrics {
            wachat_metrics;
        }
CONF

my $n = 0;
sub new_body () {
    $n++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.SETUP$n"/ or die;
    return $b;
}

sub nginx_on ($port, $args = '', $directive = undef) {
    my $nginx = start_nginx(
        redis_directive => $directive // "wachat_redis 127.0.0.1:$port$args;",
        locations => wachat_location(token => 'tok-su', secret => 'sec-su')
                   . $metrics_location);
    $nginx->{token}  = 'tok-su';
    $nginx->{secret} = 'sec-su';
    return $nginx;
}

sub metric ($nginx, $name) {
    my $res = $nginx->http(method => 'GET', path => '/metrics');
    my ($v) = $res->{body} =~ /^\Q$name\E (\S+)$/m;
    return $v;
}

sub is_unavailable ($res, $name) {
    is($res->{status}, 503, "$name: 503");
    is($res->{headers}{'retry-after'}, '1', "$name: Retry-After: 1");
    is($res->{body}, '{"error":"redis_unavailable"}',
       "$name: redis_unavailable (not let onto the link)");
}

sub count ($text, $re) { scalar(() = $text =~ /$re/g) }

my $redis = start_redis();

# --- a webhook while SELECT's refusal is on its way --------------------------
#
# db=99 is out of Redis's range.  The stand-in passes the setup to Redis at
# once but holds Redis's replies (SELECT's refusal among them) until the
# client sends an EVALSHA: were the webhook's call pipelined behind the
# setup, it would reach Redis, run in db 0, and only then would the client
# learn that SELECT failed.

{
    my $proxy = start_redis_proxy(upstream => $redis->port, mode => 'hold');
    my $nginx = nginx_on($proxy->port, ' db=99');

    ok($proxy->wait_command('SCRIPT'), 'the worker sent its setup, its replies are held')
        or diag join "\n", map { "@$_" } $proxy->commands;
    is_deeply([map { $_->[1] } grep { $_->[0] == 1 } $proxy->commands],
              [qw(SELECT SCRIPT)], '... SELECT 99, then SCRIPT LOAD');

    my $res = $nginx->post_signed(new_body());
    is_unavailable($res, 'a webhook before the setup answered');

    # later ones too, while the replies are held and after they come
    for my $i (1 .. 3) {
        is($nginx->post_signed(new_body())->{status}, 503, "webhook $i during the setup: 503");
        sleep 0.1;
    }
    $proxy->release;
    ok(poll_until(sub { $nginx->error_log =~ /SELECT failed/ }, timeout => 10),
       'once released: SELECT failed logged');
    for my $i (1 .. 3) {
        is($nginx->post_signed(new_body())->{status}, 503, "webhook $i after SELECT failed: 503");
        sleep 0.1;
    }

    ok(!grep({ $_->[1] =~ /^EVAL/ } $proxy->commands), 'no EVALSHA / EVAL ever reached Redis')
        or diag join "\n", map { "@$_" } $proxy->commands;
    is($redis->cmd('EXISTS', $STREAM), 0, 'db 0 holds no stream');
    is($redis->cmd('DBSIZE'), 0, 'db 0 holds no key at all (no dedup key either)');
    unlike($nginx->error_log, qr/connected to redis/, 'never reported as connected');
    is(metric($nginx, 'wachat_redis_connected'), 0, 'wachat_redis_connected 0');
    is(metric($nginx, 'wachat_redis_reconnects_total'), 0,
       'wachat_redis_reconnects_total 0: no connection was ever usable');
    $nginx->stop;
    $proxy->stop;
}

# --- the same hold with a db Redis has: admitted once SCRIPT LOAD answered ---

{
    $redis->cmd('FLUSHALL');
    my $proxy = start_redis_proxy(upstream => $redis->port, mode => 'hold');
    my $nginx = nginx_on($proxy->port, ' db=2');

    ok($proxy->wait_command('SCRIPT'), 'db=2: setup sent, replies held');
    is_unavailable($nginx->post_signed(new_body()), 'db=2, setup unanswered');
    is(metric($nginx, 'wachat_redis_connected'), 0, 'wachat_redis_connected 0 meanwhile');

    $proxy->release;
    my $body = new_body();
    my $ok = poll_until(sub {
        my $r = $nginx->post_signed($body);
        $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.05);
    ok($ok, 'released: 200');
    is($ok && $ok->{body}, '{"result":"accepted","events":1,"queued":1}', '... queued');
    is(scalar($redis->xrange($STREAM, db => 2)), 1, 'the event is in db 2');
    is($redis->cmd('DBSIZE'), 0, 'nothing in db 0');
    is(metric($nginx, 'wachat_redis_connected'), 1, 'wachat_redis_connected 1');
    is(count($nginx->error_log, qr/connected to redis/), 1, 'connected to redis, logged once');
    $nginx->stop;
    $proxy->stop;
}

# --- a server that takes the connection and never answers -------------------

{
    $redis->cmd('FLUSHALL');
    my $proxy = start_redis_proxy(upstream => $redis->port, mode => 'silent');
    my $nginx = nginx_on($proxy->port);

    # connect timeout 1 s, then 100, 200, 400, 800 ms of backoff: five
    # connections take about 6.5 s; a link held until TCP keepalive gives
    # up would show one
    ok(poll_until(sub { $proxy->accepts >= 5 }, timeout => 15, interval => 0.05),
       'silent server: the worker connected again and again')
        or diag scalar($proxy->accepts) . " connections";

    my @seen;
    my $t0 = time;
    for my $i (1 .. 5) {
        my $r = $nginx->post_signed(new_body());
        push @seen, $r->{status} . ' ' . $r->{body};
        sleep 0.1;
    }
    is_deeply(\@seen, [('503 {"error":"redis_unavailable"}') x 5],
              'every POST meanwhile: 503 redis_unavailable, not sent into the silence');

    my $log = $nginx->error_log;
    my $timeouts = count($log, qr/\[error\][^\n]*wachat: redis [^\n]*: setup timed out/);
    cmp_ok($timeouts, '>=', 4, 'the setup timeout is logged at error');
    my @acc = $proxy->accepts;
    cmp_ok($timeouts, '<=', scalar @acc, '... once per connection');
    unlike($log, qr/connected to redis/, 'never reported as connected');
    is(metric($nginx, 'wachat_redis_connected'), 0, 'wachat_redis_connected 0');

    # the backoff: the gap between connections grows (1.1 s, 1.2, 1.4, 1.8)
    my @gap = map { $acc[$_][2] - $acc[$_ - 1][2] } 1 .. $#acc;
    push @gap, 0 while @gap < 4;
    cmp_ok($gap[0], '>=', 0.9, 'the first retry comes after the connect timeout')
        or diag "gaps: @gap";
    cmp_ok($gap[3] - $gap[0], '>=', 0.4, 'and the gaps grow: backoff, not a storm')
        or diag "gaps: @gap";
    ok(!grep({ $_->[1] =~ /^EVAL/ } $proxy->commands), 'no call was sent into the silence');
    ok($nginx->alive, 'nginx alive');

    # Redis answers behind it again: the next connection is set up
    $proxy->set_mode('pass');
    my $body = new_body();
    my $ok = poll_until(sub {
        my $r = $nginx->post_signed($body);
        $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.1);
    ok($ok, 'a real Redis behind it: 200 without touching nginx');
    is($redis->xlen($STREAM), 1, 'the event is in Redis');
    is(metric($nginx, 'wachat_redis_connected'), 1, 'wachat_redis_connected 1');
    is(metric($nginx, 'wachat_redis_reconnects_total'), 0,
       'wachat_redis_reconnects_total 0: the first usable connection');
    like($nginx->error_log, qr/connected to redis/, 'connected to redis logged');

    # lost, then silent again: counted as a reconnect only once usable
    $proxy->set_mode('silent');
    $redis->restart;
    ok(poll_until(sub { $nginx->error_log =~ /lost redis/ }, timeout => 10),
       'the restart is seen as a lost connection');
    ok(poll_until(sub {
        count($nginx->error_log, qr/setup timed out/) > $timeouts }, timeout => 10),
       'the next connection, silent, times out');
    is(metric($nginx, 'wachat_redis_connected'), 0, 'wachat_redis_connected 0');
    $proxy->set_mode('pass');
    $ok = poll_until(sub {
        my $r = $nginx->post_signed(new_body());
        $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.1);
    ok($ok, 'and once Redis answers again: 200');
    is(metric($nginx, 'wachat_redis_reconnects_total'), 1,
       'wachat_redis_reconnects_total 1: one usable connection after a loss');

    my $log2 = $nginx->error_log;
    unlike($log2, qr/signal|exited on|segfault/i, 'no crash in error.log');
    $nginx->stop;
    $proxy->stop;
}

# --- behind sentinels: a primary that takes the connection, never answers ROLE
#
# A real redis-sentinel watches the stand-in (its own connections, made
# while the stand-in passed everything, keep passing), so it goes on naming
# it as the primary; the worker's connections are silent.  Before, the link
# waited for ROLE with no timer at all: TCP keepalive sees a live peer.

{
    $redis->cmd('FLUSHALL');
    my $proxy = start_redis_proxy(upstream => $redis->port, mode => 'pass');
    my $dir = tmpdir('setup-sentinel');
    my ($sport, $spid);
    for my $try (1 .. 5) {
        $sport = free_port();
        spew("$dir/sentinel.conf", join "\n",
             "port $sport", 'bind 127.0.0.1', 'daemonize no', "dir $dir", 'logfile ""',
             'sentinel monitor wachat 127.0.0.1 ' . $proxy->port . ' 1',
             'sentinel down-after-milliseconds wachat 60000', '');
        $spid = spawn(['redis-sentinel', "$dir/sentinel.conf"], out => "$dir/sentinel.log");
        my $up = poll_until(sub {
            return 'dead' if defined reaped($spid);
            my $r = eval {
                my $c = Wachat::Redis::RESP->new(host => '127.0.0.1', port => $sport, timeout => 2);
                my $x = $c->command('SENTINEL', 'master', 'wachat');
                $c->close;
                $x;
            };
            # the sentinel has talked to the primary through the stand-in
            return undef unless ref $r eq 'ARRAY';
            my %f = @$r;
            return ($f{'role-reported'} // '') eq 'master' && ($f{'info-refresh'} // 1e9) < 5000
                ? 'up' : undef;
        }, timeout => 15);
        last if ($up // '') eq 'up';
        stop_pid($spid, 5) unless ($up // '') eq 'dead';
        die "redis-sentinel did not start:\n" . slurp("$dir/sentinel.log")
            unless slurp("$dir/sentinel.log") =~ /Address already in use/ && $try < 5;
    }

    $proxy->set_mode('silent');
    my $nginx = nginx_on(undef, '', "wachat_redis sentinel=127.0.0.1:$sport master=wachat;");

    ok(poll_until(sub { count($nginx->error_log, qr/setup timed out/) >= 3 },
                  timeout => 15, interval => 0.05),
       'sentinels: the silent primary is dropped after the timeout, again and again')
        or diag $nginx->error_log;
    ok(grep({ $_->[1] eq 'ROLE' } $proxy->commands), '... it was sent ROLE');
    my $r = $nginx->post_signed(new_body());
    is("$r->{status} $r->{body}", '503 {"error":"redis_unavailable"}', 'POST meanwhile: 503');
    is(metric($nginx, 'wachat_redis_connected'), 0, 'wachat_redis_connected 0');

    $proxy->set_mode('pass');
    my $body = new_body();
    my $ok = poll_until(sub {
        my $r = $nginx->post_signed($body);
        $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.1);
    ok($ok, 'sentinels: once the primary answers, 200');
    is($redis->xlen($STREAM), 1, 'the event is in Redis');
    $nginx->stop;
    stop_pid($spid, 10);
    $proxy->stop;
}

done_testing;
