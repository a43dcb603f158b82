#!/usr/bin/perl
# A poison entry in a batch: one conversation's key holds the wrong type
# (someone SET wachat:inbox:{c} to a string), so the transfer script fails
# with WRONGTYPE for its entries.  The batch's other customers must still be
# answered, exactly once; the poison entry is set aside in wachat:parked with
# its fields and the error as its reason, acknowledged, logged once; nothing
# is left pending to be retried for ever.
#
#   (a) one batch: a customer before the poison one, the poison one, two
#       after it (before the fix the whole batch failed and was retried
#       every claim_idle, the two after it never answered).
#   (b) a transient failure parks nothing: Redis out of memory (maxmemory
#       reached, an OOM error reply from the script, a condition of the
#       server, not of an entry) while a batch with a poison entry in it is
#       transferred; what was read stays pending and is read again after a
#       pause, the rest waits unread; once memory is back the others are
#       answered once and only the poison entry is parked.
#   (c) a key the transfer reads after it acknowledged the entry (the
#       outbound queue): the entry is in its inbox, so it is not parked too.
#   (d) a key every transfer writes (wachat:ready) of the wrong type: no
#       entry's fault, nothing parked, the entries wait until it is fixed.

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
my $PNID = '106540352242922';
my $POISON = '447700900501';
my $CONV = "$PNID:$POISON";

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

sub pending_count () {
    my $p = $redis->cmd('XPENDING', $STREAM, $GROUP);
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

# the stream id of the entry whose wamid is $wamid
sub entry_id ($wamid) {
    my ($e) = grep { ($_->{fields}{id} // '') eq $wamid } $redis->xrange($STREAM);
    return $e ? $e->{id} : '';
}

sub post ($from, $wamid) {
    my $res = $nginx->post_signed(wh_text(from => $from, id => $wamid,
                                          text => 'What are your opening hours?'));
    is($res->{status}, 200, "webhook $wamid from $from accepted");
}

# replies per customer
sub answered () {
    my %n;
    $n{ $_->{fields}{to} // '' }++ for $redis->xrange('wachat:outbox');
    return \%n;
}

sub parked_for ($id) {
    return grep { ($_->{fields}{event} // '') eq $id } $redis->xrange('wachat:parked');
}

# the poison: the conversation's inbox is a string, not a sorted set
is($redis->cmd('SET', "wachat:inbox:{$CONV}", 'not a sorted set'), 'OK',
   'a wrong-type key planted for one conversation');

# --- (a) one batch, the poison entry in the middle ------------------------------

# all queued before wachatd starts: its first read takes them as one batch
$redis->cmd('XGROUP', 'CREATE', $STREAM, $GROUP, '0', 'MKSTREAM');
post('447700900511', "wamid.poison.$$.a1");
post($POISON,        "wamid.poison.$$.ap");
post('447700900512', "wamid.poison.$$.a2");
post('447700900513', "wamid.poison.$$.a3");
my $poison_a = entry_id("wamid.poison.$$.ap");

my $d = start_wachatd(redis => $redis, name => 'poison-a');

ok(poll_until(sub {
    my $n = answered();
    3 == grep { ($n->{$_} // 0) >= 1 } qw(447700900511 447700900512 447700900513);
}, timeout => 20), '(a) the three other customers of the batch are answered')
    or diag explain answered(), diag $d->log_text;

my @parked;
ok(poll_until(sub { @parked = parked_for($poison_a); @parked }, timeout => 10),
   "(a) the poison entry ($poison_a) is set aside in wachat:parked")
    or diag $d->log_text;
like($parked[0]{fields}{reason} // '', qr/^WRONGTYPE/, '(a) the error is its reason');
is($parked[0]{fields}{from} // '', $POISON, '(a) kept with its fields');
is($parked[0]{fields}{id} // '', "wamid.poison.$$.ap", '(a) its wamid too');
ok(poll_until(sub { pending_count() == 0 }, timeout => 10),
   '(a) nothing left pending: nothing to retry');

my $lines = () = $d->log_text =~ /warning: stream: event \Q$poison_a\E of conversation \Q$CONV\E parked in wachat:parked, its own transfer failed: WRONGTYPE/g;
is($lines, 1, '(a) one warning names the entry, its conversation and the error')
    or diag $d->log_text;
is_deeply(answered(), { map { $_ => 1 } qw(447700900511 447700900512 447700900513) },
          '(a) each other customer once, the poison one never');
is($redis->cmd('GET', "wachat:inbox:{$CONV}"), 'not a sorted set',
   '(a) the planted key is left as it was');

# --- (b) a transient failure parks nothing ---------------------------------------

# wachatd frozen while the batch is queued; then Redis refuses writes for want
# of memory (XREADGROUP still reads: it takes no memory the way a write does)
is(kill('STOP', $d->pid), 1, '(b) wachatd frozen');
post('447700900521', "wamid.poison.$$.b1");
post($POISON,        "wamid.poison.$$.bp");
post('447700900522', "wamid.poison.$$.b2");
my $poison_b = entry_id("wamid.poison.$$.bp");
my $failed_before = () = $d->log_text =~ /transfer failed: OOM/g;
$redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
$redis->cmd('CONFIG', 'SET', 'maxmemory', '1');
is(kill('CONT', $d->pid), 1, '(b) wachatd thawed, Redis out of memory');

sub oom_failures () { scalar(() = $d->log_text =~ /transfer failed: OOM/g) }

# the entries as XPENDING lists them: id => times delivered
sub deliveries () {
    my $p = $redis->cmd('XPENDING', $STREAM, $GROUP, '-', '+', 10);
    return { map { $_->[0] => $_->[3] } @{ ref $p eq 'ARRAY' ? $p : [] } };
}

# the entries not yet read (XINFO GROUPS' lag)
sub unread () {
    my $g = $redis->cmd('XINFO', 'GROUPS', $STREAM);
    for my $info (@{ ref $g eq 'ARRAY' ? $g : [] }) {
        my %i = @$info;
        return $i{lag} if ($i{name} // '') eq $GROUP;
    }
    return -1;
}

# read and failed (one batch or two, as the reads came); read again by id
# after a pause, and failed again, and again: still pending, delivered a
# third time.  While Redis refuses the transfers, nothing more is read:
# the rest of the batch waits in the stream, unread
ok(poll_until(sub { oom_failures() > $failed_before }, timeout => 10),
   '(b) the transfer fails with OOM') or diag $d->log_text;
ok(poll_until(sub {
    my $n = deliveries();
    keys %$n && !grep { $_ < 3 } values %$n;
}, timeout => 20), '(b) read again and again and still pending: tried again, not parked')
    or diag explain deliveries(), diag $d->log_text;
is(scalar(parked_for($poison_b)), 0, '(b) the poison entry is not parked for OOM');
is(scalar($redis->xrange('wachat:parked')), 1, '(b) nothing else is parked');
is(pending_count() + unread(), 3, '(b) the batch waits, pending or unread, none acknowledged');

$redis->cmd('CONFIG', 'SET', 'maxmemory', '0');

ok(poll_until(sub {
    my $n = answered();
    ($n->{447700900521} // 0) >= 1 && ($n->{447700900522} // 0) >= 1;
}, timeout => 20), '(b) memory back: the other customers are answered')
    or diag $d->log_text;
ok(poll_until(sub { parked_for($poison_b) == 1 }, timeout => 10),
   '(b) and the poison entry is parked, for WRONGTYPE')
    or diag $d->log_text;
like((parked_for($poison_b))[0]{fields}{reason} // '', qr/^WRONGTYPE/,
     '(b) with that reason, not OOM');
ok(poll_until(sub { pending_count() == 0 }, timeout => 10), '(b) nothing left pending');
is_deeply(answered(), { map { $_ => 1 } qw(447700900511 447700900512 447700900513
                                           447700900521 447700900522) },
          '(b) every other customer answered once: 0 lost, 0 duplicated');
is(scalar($redis->xrange('wachat:parked')), 2, '(b) two entries parked in all');

$lines = () = $d->log_text =~ /of conversation \Q$CONV\E parked in wachat:parked/g;
is($lines, 2, 'one warning per parked entry, none repeated');

# --- (c) a key the transfer reads after the acknowledgement ----------------------

# the outbound queue a string: the transfer fails in its first peek, after
# the entry is in its inbox and acknowledged; it is not parked as well
my $CONV_C = "$PNID:447700900531";
is($redis->cmd('SET', "wachat:outq:{$CONV_C}", 'not a list'), 'OK',
   '(c) a wrong-type outbound queue planted');
is(kill('STOP', $d->pid), 1, '(c) wachatd frozen');
post('447700900531', "wamid.poison.$$.cp");
post('447700900532', "wamid.poison.$$.c1");
my $poison_c = entry_id("wamid.poison.$$.cp");
is(kill('CONT', $d->pid), 1, '(c) wachatd thawed');
ok(poll_until(sub { (answered()->{447700900532} // 0) >= 1 }, timeout => 20),
   '(c) the other customer is answered') or diag $d->log_text;
ok(poll_until(sub { pending_count() == 0 }, timeout => 10), '(c) nothing left pending');
ok(poll_until(sub { $d->log_text =~ /event \Q$poison_c\E of conversation \Q$CONV_C\E is in its inbox, but its transfer failed: WRONGTYPE/ },
              timeout => 10), '(c) the log says where the entry is')
    or diag $d->log_text;
is(scalar(parked_for($poison_c)), 0, '(c) it is not parked: it is in its inbox');
is($redis->cmd('ZCARD', "wachat:inbox:{$CONV_C}"), 1, '(c) there, once');

# --- (d) a key every transfer writes: no entry's fault ---------------------------

# wachat:ready a string fails every transfer: parking each entry would set
# all the traffic aside; nothing is parked, the log names the key
my $parked_d = scalar $redis->xrange('wachat:parked');
is($redis->cmd('SET', 'wachat:ready', 'not a set'), 'OK', '(d) wachat:ready made a string');
post('447700900541', "wamid.poison.$$.d1");
ok(poll_until(sub { $d->log_text =~ /error: stream: transfer failed: .*wachat:ready holds a string, not a set; no event can be transferred until it is fixed/ },
              timeout => 10), '(d) the log names the key') or diag $d->log_text;
is(scalar($redis->xrange('wachat:parked')), $parked_d, '(d) nothing is parked');
is(pending_count(), 1, '(d) the entry stays pending');
is($redis->cmd('DEL', 'wachat:ready'), 1, '(d) the key deleted');
ok(poll_until(sub { (answered()->{447700900541} // 0) >= 1 }, timeout => 20),
   '(d) then the entry is answered, after claim_idle') or diag $d->log_text;
ok(poll_until(sub { pending_count() == 0 }, timeout => 10), '(d) nothing left pending');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');

# under make test-asan
unlike($d->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd log');

done_testing();
