#!/usr/bin/perl
# The group's pending entries, as Redis 7 hands them back.
#
#   (a) an entry deleted from the stream while a dead consumer held it
#       (wachat_stream_maxlen trimmed it, or an operator's XDEL): XAUTOCLAIM
#       no longer returns it with nil fields but drops it from the pending
#       list and names it apart.  It is set aside in wachat:parked with the
#       reason and logged, not dropped without a word; the entry beside it
#       is answered as usual.
#   (b) consumers do not pile up in the group: each start is a new one
#       (host and pid), so one that stops holding nothing leaves it, and
#       one that died (the ghost of (a)) goes once the reclaim took what it
#       held and it has been idle longer than a live reader ever is.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $STREAM = 'wachat:events';
my $GROUP = 'wachatd';

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

sub pending_count () {
    my $p = $redis->cmd('XPENDING', $STREAM, $GROUP);
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

# --- (a) deleted while pending ------------------------------------------------

$redis->cmd('XGROUP', 'CREATE', $STREAM, $GROUP, '0', 'MKSTREAM');
for my $from ('447700900401', '447700900402') {
    my $res = $nginx->post_signed(wh_text(from => $from, text => 'What are your opening hours?'));
    is($res->{status}, 200, "(a) webhook from $from accepted");
}

# a consumer that read both and died
my $read = $redis->cmd('XREADGROUP', 'GROUP', $GROUP, 'ghost', 'COUNT', 10,
                       'STREAMS', $STREAM, '>');
my @ids = map { $_->[0] } @{ $read->[0][1] // [] };
is(scalar @ids, 2, '(a) the dead consumer holds both entries');
is($redis->cmd('XDEL', $STREAM, $ids[0]), 1, '(a) the first is deleted while pending');

my $d = start_wachatd(redis => $redis, name => 'pending-a');

my @out = outbox_wait($redis, 1);
is($out[0]{fields}{to} // '', '447700900402', '(a) the entry still there is answered');

my @parked;
ok(poll_until(sub {
    @parked = grep { ($_->{fields}{event} // '') eq $ids[0] }
              $redis->xrange('wachat:parked');
    @parked == 1;
}, timeout => 10), "(a) the deleted one ($ids[0]) is set aside in wachat:parked")
    or diag $d->log_text;
like($parked[0]{fields}{reason} // '', qr/deleted .*while pending/,
     '(a) with the reason');
like($d->log_text, qr/warning: stream: .*\Q$ids[0]\E.*deleted .*while pending/,
     '(a) and a warning in the log');
ok(poll_until(sub { pending_count() == 0 }, timeout => 10), '(a) nothing left pending');

# --- (b) consumers that are gone leave the group ---------------------------------

sub consumers () {
    my $c = $redis->cmd('XINFO', 'CONSUMERS', $STREAM, $GROUP);
    return sort map { my %h = @$_; $h{name} } @{ ref $c eq 'ARRAY' ? $c : [] };
}

# claim_idle 2s: idle for more than 2 + 2 (a blocked read) + 5 (its
# watchdog) seconds, checked every 10 s
ok(poll_until(sub { !grep { $_ eq 'ghost' } consumers() }, timeout => 30),
   '(b) the dead consumer, holding nothing now, left the group')
    or diag explain [consumers()];
is_deeply([consumers()], ['pending-a'], '(b) the live one is still in it');
like($d->log_text, qr/consumer ghost, idle for \d+ ms and holding nothing, left the group/,
     '(b) and the log says so');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
is_deeply([consumers()], [], '(b) stopped holding nothing, it left the group too');

my $d2 = start_wachatd(redis => $redis, name => 'pending-b');
my $res = $nginx->post_signed(wh_text(from => '447700900403', text => 'What are your opening hours?'));
is($res->{status}, 200, '(b) a webhook for the next run accepted');
@out = outbox_wait($redis, 2);
is(scalar @out, 2, '(b) the next run answers it');
is($d2->stop, 0, '(b) the next run exits 0 on SIGTERM');
is_deeply([consumers()], [], '(b) and leaves the group as well');

# under make test-asan
unlike($d->log_text . $d2->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd logs');

done_testing();
