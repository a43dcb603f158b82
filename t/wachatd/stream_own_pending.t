#!/usr/bin/perl
# Entries delivered to wachatd's consumer whose read reply never reached it
# (the link dropped with the reply on the way) stay in its pending list.
# When the link comes back, wachatd reads its own pending entries again by
# id (XREADGROUP ... 0) and answers them at once, not after claim_idle,
# when XAUTOCLAIM would take them back.  An entry deleted from the stream
# meanwhile is parked, once, and acknowledged.  So is an entry read whose
# transfer Redis refused for a while (out of memory): read again after a
# pause that grows while the refusal lasts.
#
# The lost reply is made by hand: wachatd frozen (SIGSTOP), its blocked read
# killed (CLIENT KILL), a webhook posted, and the test reading it into
# wachatd's consumer name (XREADGROUP ... >) as the lost reply would have.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(new_wamid wh_text);

my $STREAM = 'wachat:events';
my $GROUP = 'wachatd';

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
# claim_idle far away: only the re-read can answer within the test
my $d = start_wachatd(redis => $redis, claim_idle => '10m');
my $CONSUMER = $d->{name};

sub post ($from, $text) {
    my $wamid = new_wamid();
    my $res = $nginx->post_signed(wh_text(from => $from, id => $wamid, text => $text));
    is($res->{status}, 200, "$from: webhook accepted") or diag $res->{body};
    return $wamid;
}

sub answered_to ($to) {
    scalar grep { ($_->{fields}{to} // '') eq $to } $redis->xrange('wachat:outbox');
}

post('447700900701', 'What are your opening hours?');
ok(poll_until(sub { answered_to('447700900701') == 1 }, timeout => 20), 'wachatd answers')
    or diag $d->log_text;

# the blocked read of wachatd's stream link, by its command
sub blocked_reader () {
    for (split /\n/, $redis->cmd('CLIENT', 'LIST')) {
        return $1 if /\bid=(\d+)\b.*\bcmd=xreadgroup\b/;
    }
    return;
}
my $reader;
ok(poll_until(sub { defined($reader = blocked_reader()) }, timeout => 10),
   'wachatd is blocked in XREADGROUP');

is(kill('STOP', $d->pid), 1, 'wachatd frozen');
is($redis->cmd('CLIENT', 'KILL', 'ID', $reader), 1, 'its blocked read killed');
post('447700900702', 'Do you deliver?');
post('447700900703', 'Do you rent bikes?');
my $read = $redis->cmd('XREADGROUP', 'GROUP', $GROUP, $CONSUMER, 'COUNT', 10, 'STREAMS', $STREAM, '>');
my @got = map { $_->[0] } @{ $read->[0][1] // [] };
is(scalar @got, 2, 'both delivered to wachatd\'s consumer, the reply lost on the way');
is($redis->cmd('XPENDING', $STREAM, $GROUP)->[0], 2, 'two entries pending for it');

# one of them deleted from the stream meanwhile (MAXLEN, or by hand)
is($redis->cmd('XDEL', $STREAM, $got[1]), 1, 'the second deleted from the stream');

is(kill('CONT', $d->pid), 1, 'wachatd thawed: its link is gone, it reconnects');
ok(poll_until(sub { answered_to('447700900702') == 1 }, timeout => 20),
   'the pending entry is answered at once, long before claim_idle (10 min)')
    or diag $d->log_text;
ok(poll_until(sub { $redis->cmd('XPENDING', $STREAM, $GROUP)->[0] == 0 }, timeout => 10),
   'nothing left pending');
my @parked = grep { ($_->{fields}{event} // '') eq $got[1] } $redis->xrange('wachat:parked');
is(scalar @parked, 1, 'the deleted one is parked, once');
like($parked[0]{fields}{reason} // '', qr/deleted from the stream while pending/, 'with why');
is(answered_to('447700900703'), 0, 'and not answered (its fields are gone)');

# a later reconnect finds nothing of it to park again
ok(poll_until(sub { defined($reader = blocked_reader()) }, timeout => 10), 'blocked again');
is($redis->cmd('CLIENT', 'KILL', 'ID', $reader), 1, 'its read killed again');
post('447700900704', 'What are your opening hours?');
ok(poll_until(sub { answered_to('447700900704') == 1 }, timeout => 30), 'answering goes on')
    or diag $d->log_text;
is(scalar(grep { ($_->{fields}{event} // '') eq $got[1] } $redis->xrange('wachat:parked')), 1,
   'the deleted entry is not parked a second time');
is(answered_to('447700900702'), 1, 'and nothing is answered twice');

# Redis takes the read but not the transfer (out of memory): the entry is
# this consumer's, read again after a pause once Redis takes writes again
# (wachatd frozen while it is posted: nginx's write needs the memory too;
# XREADGROUP still reads, it takes no memory the way a write does)
is(kill('STOP', $d->pid), 1, 'wachatd frozen');
post('447700900705', 'Do you deliver?');
$redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
is($redis->cmd('CONFIG', 'SET', 'maxmemory', '1'), 'OK', 'Redis refuses writes (maxmemory)');
is(kill('CONT', $d->pid), 1, 'wachatd thawed');
ok($d->wait_log(qr/transfer failed: OOM/, 10), 'the transfer fails for it') or diag $d->log_text;
is($redis->cmd('XPENDING', $STREAM, $GROUP)->[0], 1, 'the entry stays pending, this consumer\'s');
is($redis->cmd('CONFIG', 'SET', 'maxmemory', '0'), 'OK', 'Redis takes writes again');
ok(poll_until(sub { answered_to('447700900705') == 1 }, timeout => 40),
   'it is answered after the pause, long before claim_idle (10 min)') or diag $d->log_text;
ok(poll_until(sub { $redis->cmd('XPENDING', $STREAM, $GROUP)->[0] == 0 }, timeout => 10),
   'nothing left pending');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
unlike($d->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd log');

done_testing();
