#!/usr/bin/perl
# The Redis password wachatd uses is rotated, and a reload takes the new
# one: every link (the short commands' "store", the stream reader, the
# agents' live feed) reconnects with it at once, without a restart.
#
#   (a) Redis 6 ACL user wachat with password A (the default user has a
#       password of its own, so wachatd really logs in as wachat):
#       wachatd with redis_user wachat and A in redis_password_file
#       answers a webhook
#   (b) the operator's rotation: ACL SETUSER wachat >B (both work), B
#       written to the file, SIGHUP; the log says the new credentials are
#       taken; then A removed (<A) and wachat's connections killed: a new
#       webhook is answered exactly once, the live feed goes on, and no
#       link was ever refused
#   (c) a reload with a wrong password: the refusal is in the log at once
#       (not at the next dropped connection), for every link; the right
#       one written and SIGHUP again: what came meanwhile is answered, once
#
# nginx logs in as its own ACL user, which the rotation leaves alone, so
# the webhooks are accepted throughout.

use v5.36;
use lib 't/lib';

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use Wachat::Files qw(spew);
use Wachat::Process qw(free_port poll_until tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(rand_token wh_text);

my $T = 10;             # s: what one step may take, pauses included

my $dir = tmpdir('rotate');
my $pw_a = 'A-' . rand_token(20);
my $pw_b = 'B-' . rand_token(20);
my $nginx_pw = 'ng-' . rand_token(20);

my $redis = start_redis(password => 'default-' . rand_token(20));
my $r = $redis->cmd('ACL', 'SETUSER', 'nginx', 'on', ">$nginx_pw", '~*', '&*',
                    '+@all');
is("$r", 'OK', 'an ACL user for nginx');
$r = $redis->cmd('ACL', 'SETUSER', 'wachat', 'on', ">$pw_a", '~*', '&*',
                 '+@all');
is("$r", 'OK', 'an ACL user for wachatd, with password A');

spew("$dir/nginx.password", "$nginx_pw\n", 0600);
my $nginx = start_nginx(redis => $redis, redis_directive =>
    'wachat_redis 127.0.0.1:' . $redis->port
    . " user=nginx password_file=$dir/nginx.password;", wait_redis => 1);

my $pwfile = "$dir/wachat.password";
spew($pwfile, "$pw_a\n", 0600);
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, conf => <<"EOF");
redis_user wachat
redis_password_file $pwfile
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com
EOF

my $posted = 0;

sub post ($from, $text, $what) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => $text));
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
    $posted++;
}

sub log_lines ($re) { scalar grep { /$re/ } split /\n/, $d->log_text }

# the group's entries not yet acknowledged
sub pending () {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

# every webhook so far answered, once, nothing left pending
sub answered ($what) {
    my $ok = poll_until(sub { $redis->xlen('wachat:outbox') >= $posted
                              && pending() == 0 },
                        timeout => $T, interval => 0.05);
    ok($ok, "$what: answered within $T s") or diag $d->log_text;
    is($redis->xlen('wachat:outbox'), $posted, "$what: exactly once");
}

sub hup_and_wait ($n, $what) {
    ok($d->hup, "$what: SIGHUP sent");
    ok(poll_until(sub { log_lines(qr/ notice: reloaded /) >= $n },
                  timeout => $T, interval => 0.05),
       "$what: reloaded") or diag $d->log_text;
}

# the agents' live feed, straight from wachatd's API: one open event stream
# keeps its link to Redis busy with a blocking XREAD
my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $api_port,
                                Proto => 'tcp', Timeout => 5)
    or die "connect to the API: $!";
binmode $sse;
syswrite($sse, "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1:$api_port\r\n"
    . "X-Wachat-Agent: alice\r\nX-Wachat-Proxy-Secret: " . $d->api_secret
    . "\r\nAccept: text/event-stream\r\n\r\n");
my $sse_buf = '';

# a marker added to wachat:feed comes out of the event stream
sub feed_goes_on ($what) {
    my $mark = 'm' . rand_token(12);
    my $sel = IO::Select->new($sse);
    my $deadline = time + $T;
    $redis->cmd('XADD', 'wachat:feed', '*', type => 'presence', agent => $mark,
                presence => 'away');
    while ($sse_buf !~ /\Q$mark\E/ && time < $deadline) {
        next unless $sel->can_read(0.2);
        last unless sysread($sse, $sse_buf, 65536, length $sse_buf);
    }
    like($sse_buf, qr/\Q$mark\E/, "$what: the live feed goes on");
}

# --- (a) ------------------------------------------------------------------------

post('16505550100', 'What are your opening hours?', 'with A');
answered('with A');
feed_goes_on('with A');

# --- (b) ------------------------------------------------------------------------

$r = $redis->cmd('ACL', 'SETUSER', 'wachat', ">$pw_b");
is("$r", 'OK', 'password B added: A and B both work');
spew($pwfile, "$pw_b\n", 0600);
hup_and_wait(1, 'B in the file');
ok($d->wait_log(qr/ notice: reload: new redis credentials/, $T),
   'the log says the new credentials are taken') or diag $d->log_text;

$r = $redis->cmd('ACL', 'SETUSER', 'wachat', "<$pw_a");
is("$r", 'OK', 'password A removed');
$r = $redis->cmd('CLIENT', 'KILL', 'USER', 'wachat');
cmp_ok($r, '>=', 2, "wachatd's connections killed ($r)");

post('16505550101', 'Where are you?', 'after the rotation');
answered('after the rotation');
feed_goes_on('after the rotation');
is(log_lines(qr/redis refused AUTH/), 0, 'no link was refused')
    or diag $d->log_text;
ok($d->alive, 'wachatd runs on');

# --- (c) ------------------------------------------------------------------------

spew($pwfile, 'wrong-' . rand_token(20) . "\n", 0600);
my $t0 = time;
hup_and_wait(2, 'a wrong password in the file');
for my $link ('store', 'stream', 'api: feed') {
    ok($d->wait_log(qr/ error: \Q$link\E: redis refused AUTH \(WRONGPASS[^)]*\): check redis_password_file\b.*redis_user, then reload/,
                    $t0 + $T - time),
       "$link: the refusal is logged right after the reload")
        or diag $d->log_text;
}
note(sprintf 'refused %.1f s after the SIGHUP', time - $t0);

post('16505550102', 'Do you deliver?', 'while the password is wrong');

spew($pwfile, "$pw_b\n", 0600);
hup_and_wait(3, 'the right password again');
answered('the right password again');
feed_goes_on('the right password again');
unlike($d->log_text, qr/\Q$pw_a\E|\Q$pw_b\E/, 'no password in the log');

close $sse;
is($d->stop, 0, 'wachatd stops cleanly');

done_testing();
