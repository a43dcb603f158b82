#!/usr/bin/perl
# Redis links back off: the password wachatd knows is rotated under it
# (CONFIG SET requirepass, its connections killed), so every reconnect is
# refused.
#
#   (a) over a 12 s window wachatd's links reconnect a few times each, with
#       a pause that doubles (1 s, 2 s, 4 s, 8 s ...), not once a second
#       each: counted as the connections Redis received
#   (b) the refused AUTH is said, at error level, with Redis' own words and
#       the config key to check, once per try, for both kinds of link
#   (c) the password restored, wachatd comes back by itself (within the
#       cap, 30 s, and its jitter) and answers a new webhook exactly once
#
# And, first: started with a wrong password, wachatd still exits at once
# with Redis' refusal (it does not back off at start).
#
# nginx logs in as its own ACL user, which the rotation leaves alone, so
# the webhooks are accepted throughout and only wachatd's connections are
# refused (and counted).

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time);

use Wachat::Files qw(spew);
use Wachat::Process qw(poll_until reaped tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(rand_token wh_text);

my $WINDOW = 12;        # s
my $MAX_CONNECTS = 12;  # in the window, both links together (see (a))
my $CAP = 30;           # WACHAT_REDIS_RETRY_MAX_MS, in s

my $dir = tmpdir('backoff');
my $pw = 'pw-' . rand_token(20);
my $nginx_pw = 'ng-' . rand_token(20);

my $redis = start_redis(password => $pw);
my $r = $redis->cmd('ACL', 'SETUSER', 'nginx', 'on', ">$nginx_pw", '~*', '&*',
                    '+@all');
is("$r", 'OK', 'an ACL user for nginx');

spew("$dir/nginx.password", "$nginx_pw\n", 0600);
my $nginx = start_nginx(redis => $redis, redis_directive =>
    'wachat_redis 127.0.0.1:' . $redis->port
    . " user=nginx password_file=$dir/nginx.password;", wait_redis => 1);

# at start: a wrong password is fatal at once
spew("$dir/wrong.password", "not-$pw\n", 0600);
my $w = start_wachatd(redis => $redis, no_start => 1,
                      conf => "redis_password_file $dir/wrong.password\n");
$w->start(wait => 0);
my $st = poll_until(sub { my $s = reaped($w->pid); defined $s ? [$s] : undef },
                    timeout => 10);
ok($st && $st->[0] >> 8 != 0, 'a wrong password at start: wachatd exits at once');
like($w->log_text, qr/ error: cannot start: redis AUTH failed: WRONGPASS/,
     '... saying that Redis refused the password');
delete $w->{pid};                       # reaped: nothing to stop
Wachat::Process::unregister($w);

spew("$dir/wachatd.password", "$pw\n", 0600);
my $d = start_wachatd(redis => $redis,
                      conf => "redis_password_file $dir/wachatd.password\n");

sub post ($text, $what) {
    my $res = $nginx->post_signed(wh_text(from => '16505550100', text => $text));
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

sub connections () {
    my $info = $redis->cmd('INFO', 'stats');
    return $info =~ /^total_connections_received:(\d+)/m ? $1 : die "INFO: $info";
}

sub log_lines ($re) { scalar grep { /$re/ } split /\n/, $d->log_text }

# the group's entries not yet acknowledged
sub pending () {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

post('What are your opening hours?', 'before');
my @e = outbox_wait($redis, 1);
is(scalar @e, 1, 'before the rotation: answered') or diag $d->log_text;

# (a) and (b): the password rotated, wachatd's connections killed (the
# default user's; ours is kept by CLIENT KILL's SKIPME, nginx's is another
# user's)
my $c0 = connections();
$r = $redis->cmd('CONFIG', 'SET', 'requirepass', 'rotated-' . rand_token(20));
is("$r", 'OK', 'password rotated');
my $t0 = time;
$r = $redis->cmd('CLIENT', 'KILL', 'USER', 'default');
cmp_ok($r, '>=', 2, "wachatd's connections killed ($r)");

# the window: a measure of time, nothing to wait for but its end
poll_until(sub { time - $t0 >= $WINDOW }, timeout => $WINDOW + 1, interval => 0.1);
my $n = connections() - $c0;
my $secs = time - $t0;
note(sprintf 'connections in %.1f s: %d', $secs, $n);
ok(log_lines(qr/ error: stream: redis refused AUTH/)
   && log_lines(qr/ error: store: redis refused AUTH/),
   'both links tried again and were refused, and said so') or diag $d->log_text;
cmp_ok($n, '>=', 2, 'wachatd did try again');
cmp_ok($n, '<=', $MAX_CONNECTS, sprintf('at most %d connections in %.0f s '
       . '(a link retrying every second makes one a second each)',
       $MAX_CONNECTS, $secs)) or diag $d->log_text;

my ($line) = grep { /stream: redis refused AUTH/ } split /\n/, $d->log_text;
like($line // '', qr/ error: stream: redis refused AUTH \(WRONGPASS [^)]*\): check redis_password_file\b.*redis_user/,
     "the stream's refused AUTH: Redis' words and the keys to check");
my $auth = log_lines(qr/redis refused AUTH/);
cmp_ok($auth, '<=', 10, "said once per try ($auth lines), not every second");
is(log_lines(qr/stream: XREADGROUP: /), 0, 'not as the error of the read behind it');
ok($d->alive, 'wachatd runs on');

# (c) the password back: wachatd reconnects after its pause, reads what
# came meanwhile and answers it once
$r = $redis->cmd('CONFIG', 'SET', 'requirepass', $pw);
is("$r", 'OK', 'password restored');
post('Where are you?', 'after');

my $back = poll_until(sub { outbox_wait($redis, 2, timeout => 0.01) >= 2 && pending() == 0 },
                      timeout => $CAP * 1.2 + 10, interval => 0.1);
ok($back, 'after the restore: back within the cap') or diag $d->log_text;
note(sprintf 'answered %.1f s after the restore', time - $t0 - $secs);
@e = $redis->xrange('wachat:outbox');
is(scalar @e, 2, 'the new webhook answered exactly once');
is($e[1]{fields}{to}, '16505550100', 'to the customer') if @e == 2;

$d->stop;
is($d->stop, 0, 'wachatd stops cleanly');

done_testing();
