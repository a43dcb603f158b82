#!/usr/bin/perl
# Stored times that decide what is kept are on Redis' clock, not on the
# host's: several wachatd hosts need not agree on the time.  Here wachatd's
# clock runs 10 days ahead of Redis' (libfaketime on wachatd only).
#
# The done set (wachat:done:{c}, the message ids a conversation committed,
# kept wachat_dedup_ttl to recognise a redelivery) used to be scored and
# trimmed by the consumer's clock: a consumer ahead of the others trimmed
# ids they still needed.  An id committed an hour ago by Redis' clock must
# survive the next commit; the new one is scored on Redis' clock.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
-e $FAKETIME or BAIL_OUT("libfaketime is not installed ($FAKETIME): run scripts/install-deps test");

my $PNID = '106540352242922';
my $FROM = '447700900611';
my $DONE = "wachat:done:{$PNID:$FROM}";
my $AHEAD_DAYS = 10;

my $redis = start_redis();

sub redis_ms () {
    my ($s, $us) = @{ $redis->cmd('TIME') };
    return $s * 1000 + int($us / 1000);
}

my $nginx = start_nginx(redis => $redis);
# ASan wants its runtime first; libfaketime comes first here, harmlessly
my $d = start_wachatd(redis => $redis, env => {
    LD_PRELOAD => $FAKETIME, FAKETIME => "+${AHEAD_DAYS}d", FAKETIME_DONT_FAKE_MONOTONIC => 1,
    ASAN_OPTIONS => join(':', grep { length } $ENV{ASAN_OPTIONS} // '', 'verify_asan_link_order=0') });

sub post ($text, $wamid) {
    # sent "now" by wachatd's clock: a message days old gets no answer
    my $res = $nginx->post_signed(wh_text(from => $FROM, text => $text, id => $wamid,
                                          ts => time + $AHEAD_DAYS * 86400));
    is($res->{status}, 200, "$wamid: webhook accepted") or diag $res->{body};
}

post('What are your opening hours?', "wamid.clock.$$.1");
my @out = outbox_wait($redis, 1);
is(scalar @out, 1, 'the first message is answered') or diag $d->log_text;

my %done = @{ $redis->cmd('ZRANGE', $DONE, 0, -1, 'WITHSCORES') };
is(scalar keys %done, 1, 'one id in the done set');
my ($first) = values %done;
cmp_ok(abs($first - redis_ms()), '<', 60_000, "it is scored on redis' clock")
    or diag "score $first, redis " . redis_ms() . ', host ' . int(time() * 1000);

# committed an hour ago by Redis' clock: well inside wachat_dedup_ttl
my $recent = redis_ms() - 3600_000;
is($redis->cmd('ZADD', $DONE, $recent, 'wamid.clock.recent'), 1,
   'an id committed an hour ago (by redis) planted');

post('And do you rent bikes?', "wamid.clock.$$.2");
@out = outbox_wait($redis, 2);
is(scalar @out, 2, 'the second message is answered') or diag $d->log_text;

is($redis->cmd('ZSCORE', $DONE, 'wamid.clock.recent'), $recent,
   'the next commit kept it: the trim is on redis\' clock, not the host\'s');
is($redis->cmd('ZCARD', $DONE), 3, 'three ids in the done set');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
unlike($d->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd log');

done_testing();
