#!/usr/bin/perl
# A reload that changes stream or group: both take effect at the next
# restart, for the reader and for the conversations alike.  The customer
# who writes after such a reload is answered, in the group wachatd reads
# (the conversations' own pending check must not look at a group nobody
# created), and nothing is left pending.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis);

sub ask ($from, $text, $n) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => $text));
    is($res->{status}, 200, "$text: webhook accepted");
    my @e = outbox_wait($redis, $n);
    ok(@e >= $n, "$text: answered") or diag $d->log_text;
    return $e[$n - 1]{fields} // {};
}

is(ask('447700900301', 'What are your opening hours?', 1)->{to}, '447700900301',
   'answered before the reload');

# the same config with another group (and stream) name, then SIGHUP
Wachat::Files::spew($d->conf_path,
    $d->conf_text . "group another_group\nstream another:events\n");
ok($d->hup, 'SIGHUP sent');
ok($d->wait_log(qr/reload: redis, stream and group .*restart/),
   'the log says the names change at the next restart');

is(ask('447700900301', 'Do you deliver?', 2)->{to}, '447700900301',
   'the same customer is answered after the reload');
is(ask('447700900302', 'What are your opening hours?', 3)->{to}, '447700900302',
   'and a new customer too');

unlike($d->log_text, qr/NOGROUP/, 'no script ran against the new group name');
is($redis->cmd('EXISTS', 'another:events'), 0, 'nothing was read from the new stream');
ok(poll_until(sub {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    ref $p eq 'ARRAY' && $p->[0] == 0;
}, timeout => 10), 'nothing left pending in the group in use');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');

done_testing();
