#!/usr/bin/perl

# nginx -s reload (HUP): the new workers pick up the new configuration and
# their own Redis connection; an old worker still waiting for Redis finishes
# its request before it exits (graceful shutdown, no lost answer).

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Files qw(fixture);
use Wachat::HTTP qw(http_read http_send);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);

my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $extra  = 'wachat_redis_timeout 10s;';
my $nginx  = start_nginx(redis => $redis, worker_processes => 1,
    locations => wachat_location(token => 'tok-1', secret => 'secret-1', extra => $extra));

sub body ($n) {
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.RELOAD$n"/ or die;
    return $b;
}

is($nginx->post_signed(body(1), secret => 'secret-1')->{status}, 200, 'before reload: 200');

# --- new configuration after HUP --------------------------------------------

my @old = $nginx->workers;
ok($nginx->reload(locations => wachat_location(token => 'tok-2', secret => 'secret-2', extra => $extra)),
   'reload: new worker up, old one gone');
isnt(join(',', $nginx->workers), join(',', @old), 'a new worker process');

is($nginx->post_signed(body(2), secret => 'secret-1')->{status}, 403, 'after reload: old secret refused');
my $res = $nginx->post_signed(body(3), secret => 'secret-2');
is($res->{status}, 200, 'after reload: new secret accepted (new worker reached Redis)');
is($nginx->get_verify(token => 'tok-2', challenge => 'r2')->{body}, 'r2', 'after reload: new verify token');
is($nginx->get_verify(token => 'tok-1', challenge => 'r1')->{status}, 403, 'after reload: old verify token refused');

# --- a request waiting for Redis across a reload -----------------------------

{
    is($redis->cmd('CLIENT', 'PAUSE', 1500, 'ALL'), 'OK', 'Redis paused for 1.5s');
    my $pending = http_send(port => $nginx->port,
                            raw => $nginx->signed_request(body(4), secret => 'secret-2'));
    my @before = $nginx->workers;
    ok($nginx->reload, 'reload while a request waits for Redis');
    my $r = http_read($pending, timeout => 15);
    is($r->{status}, 200, 'the request waiting for Redis was answered 200 across the reload');
    is($r->{body}, '{"result":"accepted","events":1,"queued":1}', '... and its event queued');
    my $log = $nginx->error_log;
    for my $w (@before) {
        like($log, qr/worker process $w exited with code 0/, "old worker $w exited normally");
    }
    unlike($log, qr/exited on signal|segfault/, 'no worker crashed');
}

my @ids = map { $_->{fields}{id} } $redis->xrange($STREAM);
is_deeply([sort @ids], [map { "wamid.RELOAD$_" } 1, 3, 4], 'stream: the three accepted events');

done_testing;
