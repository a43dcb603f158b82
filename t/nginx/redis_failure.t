#!/usr/bin/perl

# Redis down, slow or failing: 503 + Retry-After: 1 (so Meta retries), the
# worker never blocks, nginx recovers on its own once Redis is back.

use v5.36;
use lib 't/lib';
use Test::More;
use IO::Select;
use Time::HiRes qw(time);
use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(fixture);
use Wachat::HTTP qw(http_read http_send);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);

my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis, worker_processes => 1, locations =>
      wachat_location(token => 'tok-rf', secret => 'sec-rf')
    . wachat_location(path => '/slow', token => 'tok-rf', secret => 'sec-rf',
                      extra => 'wachat_redis_timeout 300ms;'));
$nginx->{token}  = 'tok-rf';
$nginx->{secret} = 'sec-rf';

my $master  = $nginx->pid;
my @workers = $nginx->workers;
is(scalar @workers, 1, 'one worker');

my $n = 0;
sub new_body () {
    $n++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.REDISFAIL$n"/ or die;
    return $b;
}

sub is_503 ($res, $error, $name) {
    is($res->{status}, 503, "$name: 503");
    is($res->{headers}{'retry-after'}, '1', "$name: Retry-After: 1");
    is($res->{body}, qq({"error":"$error"}), "$name: body $error") if defined $error;
}

sub error_lines_since ($offset, $re) {
    my $log = substr($nginx->error_log, $offset);
    return scalar(() = $log =~ /$re/g);
}

# --- Redis stopped, then restarted on the same port ------------------------

{
    my $res = $nginx->post_signed(new_body());
    is($res->{status}, 200, 'Redis up: 200');

    $redis->stop;
    ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $redis->port, Timeout => 1),
       'Redis is down (port refuses connections)');

    my $log_at = length $nginx->error_log;
    my ($r1, $l1) = $nginx->with_access_line(sub { $nginx->post_signed(new_body()) });
    is_503($r1, undef, 'first POST after Redis stopped');
    like($r1->{body}, qr/^\{"error":"redis_(unavailable|error)"\}$/, '... with a redis error body');
    like($l1 // '', qr/^503 redis_(unavailable|error) [-0]$/, '... access log');

    my ($r2, $l2) = $nginx->with_access_line(sub { $nginx->post_signed(new_body()) });
    is_503($r2, 'redis_unavailable', 'POST while Redis is down');
    like($l2 // '', qr/^503 redis_unavailable [-0]$/, 'access log: 503 redis_unavailable');
    cmp_ok(error_lines_since($log_at, qr/\[error\][^\n]*wachat:/), '>=', 1,
           'Redis failure logged at error, prefixed wachat:');

    my $get = $nginx->get_verify(challenge => 'still-verifying');
    is($get->{status}, 200, 'GET verification still works without Redis');
    is($get->{body}, 'still-verifying', '... and echoes the challenge');

    $redis->restart;
    my $body = new_body();
    my @seen;
    my $ok = poll_until(sub {
        my $r = $nginx->post_signed($body);
        push @seen, $r->{status};
        return $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.1);
    ok($ok, 'after Redis restarted on the same port: 200 again (nginx not restarted)');
    is($ok && $ok->{body}, '{"result":"accepted","events":1,"queued":1}', '... and the event is queued');
    ok(!grep({ $_ != 200 && $_ != 503 } @seen), 'only 503 while reconnecting')
        or diag "statuses seen: @seen";
    is($redis->xlen($STREAM), 1, 'the event is in the new Redis');
    is($nginx->pid, $master, 'same nginx master');
    is_deeply([$nginx->workers], \@workers, 'same worker process');
}

# --- Redis answers an error --------------------------------------------------

{
    $redis->cmd('FLUSHALL');
    $redis->cmd('SET', $STREAM, 'not a stream');
    my $body = new_body();
    my ($res, $line) = $nginx->with_access_line(sub { $nginx->post_signed($body) });
    is_503($res, 'redis_error', 'stream key of the wrong type');
    like($line // '', qr/^503 redis_error [-0]$/, 'access log: 503 redis_error');

    # the failed XADD must not leave its dedup key behind (same atomic step),
    # or Meta's retry would be answered "already queued" and the event lost
    $redis->cmd('DEL', $STREAM);
    my $retry = $nginx->post_signed($body);
    is($retry->{status}, 200, 'retry once the key is fixed: 200');
    is($retry->{body}, '{"result":"accepted","events":1,"queued":1}',
       'retry after redis_error is queued (no dedup key was left behind)');
    is($redis->xlen($STREAM), 1, 'the retried event is in the stream');
}

# --- the script cache flushed: EVALSHA answers NOSCRIPT, the module sends the
# script itself once, and later calls find it cached again ------------------

{
    $redis->cmd('FLUSHALL');
    is($redis->cmd('SCRIPT', 'FLUSH'), 'OK', 'script cache flushed');
    my $res = $nginx->post_signed(new_body());
    is($res->{status}, 200, 'after SCRIPT FLUSH: 200');
    is($res->{body}, '{"result":"accepted","events":1,"queued":1}',
       'after SCRIPT FLUSH: queued through EVAL');
    my $next = $nginx->post_signed(new_body());
    is($next->{body}, '{"result":"accepted","events":1,"queued":1}',
       'the next webhook is queued too');
    is($redis->xlen($STREAM), 2, 'both events in the stream');
}

# --- Redis slower than wachat_redis_timeout; the worker stays responsive ----

sub unpaused () {
    # PING is itself held by CLIENT PAUSE ALL: it returns when the pause ends
    my $c = $redis->new_client(timeout => 15);
    my $r = $c->command('PING');
    $c->close;
    return $r eq 'PONG';
}

{
    $redis->cmd('FLUSHALL');
    is($nginx->post_signed(new_body(), path => '/slow')->{status}, 200, '/slow: 200 while Redis is fast');

    my $t0 = time;
    is($redis->cmd('CLIENT', 'PAUSE', 3000, 'ALL'), 'OK', 'CLIENT PAUSE 3000 ALL');
    my $pause_end = $t0 + 3.0;

    my $log_at = length $nginx->error_log;
    my $post = http_send(port => $nginx->port, raw => $nginx->signed_request(new_body(), path => '/slow'));
    my $get  = $nginx->get_verify(challenge => 'during-the-pause');
    my $got_at = time;
    is($get->{status}, 200, 'GET during the pause: 200');
    is($get->{body}, 'during-the-pause', 'GET during the pause: challenge echoed');
    cmp_ok($got_at, '<', $pause_end, 'the single worker answered the GET before the pause ended')
        or diag sprintf 'answered %.3fs after the pause began', $got_at - $t0;

    my $res = http_read($post, timeout => 10);
    my $res_at = time;
    is_503($res, 'redis_timeout', 'POST while Redis is paused (timeout 300ms)');
    cmp_ok($res_at, '<', $pause_end, 'the 503 came before the pause ended (timeout honoured)')
        or diag sprintf 'answered %.3fs after the pause began', $res_at - $t0;
    my $tl = poll_until(sub { (grep { $_->[1] eq 'redis_timeout' } $nginx->access_lines)[0] });
    ok($tl, 'access log has a redis_timeout line');
    like($tl ? "@$tl" : '', qr/^503 redis_timeout [-0]$/, '... with status 503, nothing newly queued');
    cmp_ok(error_lines_since($log_at, qr/\[error\][^\n]*wachat:/), '>=', 1,
           'the timeout is logged at error, prefixed wachat:');

    ok(unpaused(), 'pause over');
    my $after = $nginx->post_signed(new_body(), path => '/slow');
    is($after->{status}, 200, 'after the pause: 200 again on the same connection setup');
    is($after->{body}, '{"result":"accepted","events":1,"queued":1}', '... event queued');
}

# --- a client that leaves while its POST waits for Redis ---------------------

{
    my $lines_before = () = $nginx->access_lines;
    my $log_at = length $nginx->error_log;
    is($redis->cmd('CLIENT', 'PAUSE', 3000, 'ALL'), 'OK', 'CLIENT PAUSE 3000 ALL again');

    my $c = http_send(port => $nginx->port, raw => $nginx->signed_request(new_body()));
    close $c->{sock};     # gone before any answer

    my $c2 = http_send(port => $nginx->port, raw => $nginx->signed_request(new_body(), path => '/slow'));
    close $c2->{sock};

    # both requests finish (timeout or Redis reply) and are logged
    my @l = $nginx->wait_access_lines($lines_before + 2, 15);
    cmp_ok(scalar @l, '>=', $lines_before + 2, 'the abandoned requests were finished and logged');

    ok(unpaused(), 'pause over');
    my $res = $nginx->post_signed(new_body());
    is($res->{status}, 200, 'a later POST after the unpause: 200');
    is($res->{body}, '{"result":"accepted","events":1,"queued":1}', '... queued');
    my $get = $nginx->get_verify(challenge => 'after-abort');
    is($get->{body}, 'after-abort', 'GET still answered');

    is($nginx->pid, $master, 'same nginx master');
    is_deeply([$nginx->workers], \@workers, 'same worker process (it did not die)');
    my $log = substr($nginx->error_log, $log_at);
    unlike($log, qr/signal|exited on|segfault/i, 'no signal / exited on / segfault in error.log');
}

# --- nginx started while Redis is not there yet ------------------------------

{
    my $port = free_port();
    my $late = start_nginx(redis_directive => "wachat_redis 127.0.0.1:$port;");
    my $body = fixture('status_read');
    my $res = $late->post_signed($body);
    is_503($res, 'redis_unavailable', 'nginx up, Redis never started');

    my $r2 = start_redis(port => $port);
    my $ok = poll_until(sub {
        my $r = $late->post_signed($body);
        $r->{status} == 200 ? $r : undef;
    }, timeout => 20, interval => 0.1);
    ok($ok, 'Redis started later on that port: 200 without touching nginx');
    is($r2->xlen($STREAM), 1, 'the event reached the late Redis');
    $late->stop;
    $r2->stop;
}

unlike($nginx->error_log, qr/\Qsec-rf\E|\Qtok-rf\E/, 'neither secret nor verify token in error.log');
unlike($nginx->error_log, qr/Does it come in another color/, 'no message text in error.log');

done_testing;
