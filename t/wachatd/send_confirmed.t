#!/usr/bin/perl
# A reply whose send's own answer was lost is not sent again once Meta's
# status for it has come.  Every reply carries biz_opaque_callback_data
# "wachat:<its history id>"; Meta echoes it in the statuses of the message
# it accepted; the transfer of such a status records the reply at the head
# of the conversation's queue as sent (script_transfer.c).
#
#   (a) a Graph call that times out after Meta took the message (the
#       stand-in never answers it), then Meta's "sent" status: the retry
#       finds the reply recorded, and it goes out once;
#   (b) the same without a status, or with a status that names another
#       reply (a stale or foreign tag): the reply is sent again, as before
#       (the window this closes is real, and a wrong tag closes nothing);
#   (c) wachatd killed (kill -9) while Meta has the reply and before its
#       record; Meta's status comes while it is down; another wachatd takes
#       over: the reply is recorded from the status, not sent again;
#   (d) the same, restarted under the same consumer name, which takes its
#       conversations back at once: the statuses are read first.
#
# Sent "again or not" is read from a later reply of the same conversation:
# a conversation's replies go out in order, so once the next one has gone,
# the first has been either sent again or recorded.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid rand_token wh_status wh_text);

my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my %WA = (a => '16505590101', b => '16505590202', b2 => '16505590203',
          c => '16505590303', d => '16505590404');
my %CONV = map { $_ => "$PNID:$WA{$_}" } keys %WA;

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $CONF = $graph->wachatd_conf
         . "graph_timeout 1s\n"
         . "graph_max_retries 5\n";

my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => $CONF);

sub post ($body, $what) {
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

sub ask ($case, $text) {
    my $wamid = new_wamid();
    post(wh_text(from => $WA{$case}, id => $wamid, text => $text), "$case: question");
    return $wamid;
}

sub sends_to ($case) {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $WA{$case} }
        $graph->requests(method => 'POST', path => qr{/messages$});
}

sub wait_sends ($case, $n, $timeout = 20) {
    my @r;
    poll_until(sub { (@r = sends_to($case)) >= $n }, timeout => $timeout);
    return @r;
}

sub tag_of ($req) { $req->{json}{biz_opaque_callback_data} // '' }

# the first call of a customer hangs (Meta has the message, its answer is
# lost), then the stand-in answers 200 again
sub first_call_hangs ($case) {
    $graph->script(method => 'POST', match => '/messages$',
                   body_match => '"to":"' . $WA{$case} . '"',
                   responses => [{ hang => 1 }]);
}

# Meta's status for the message it took, echoing the send's tag
sub meta_status ($case, $tag, $wamid) {
    post(wh_status(recipient => $WA{$case}, id => $wamid, status => 'sent',
                   callback => $tag), "$case: Meta's status");
}

# the next reply of the conversation went out: the one before is settled
sub next_reply_sent ($case, $first_tag) {
    ask($case, 'Do you rent bikes?');
    my @s;
    ok(poll_until(sub {
        @s = sends_to($case);
        grep { tag_of($_) ne $first_tag } @s;
    }, timeout => 30), "$case: the next reply of the conversation went out")
        or diag $d->log_text;
    return scalar grep { tag_of($_) eq $first_tag } @s;
}


# --- (a) a timeout after Meta took it, then its status ----------------------

{
    first_call_hangs('a');
    ask('a', 'What are your opening hours?');
    my ($r1) = wait_sends('a', 1);
    ok($r1, '(a) the reply reached the Graph API') or diag $d->log_text;
    my $tag = tag_of($r1 // {});
    like($tag, qr/^wachat:\d+-\d+$/, '(a) tagged with its history id');
    (my $hist = $tag) =~ s/^wachat://;

    my $wamid = 'wamid.META-' . rand_token(12);
    meta_status('a', $tag, $wamid);

    ok($d->wait_log(qr/conversation \Q$CONV{a}\E: reply \Q$hist\E recorded as sent from Meta's status, before its send's own answer \(lost, or not back yet\): it is not sent again/, 20),
       '(a) the log says the reply was recorded from the status') or diag $d->log_text;
    is($redis->cmd('HGET', "wachat:st:{$CONV{a}}", "h:$hist"), $wamid,
       '(a) the history entry has the wamid Meta gave it');
    is(next_reply_sent('a', $tag), 1, '(a) the reply went out once: the retry found it recorded');
}


# --- (b) no status, or one for another reply: sent again ---------------------

{
    first_call_hangs('b');
    ask('b', 'What are your opening hours?');
    my ($r1) = wait_sends('b', 1);
    my $tag = tag_of($r1 // {});
    # an older reply's tag: the head is another reply, nothing is recorded
    meta_status('b', 'wachat:1-0', 'wamid.META-' . rand_token(12));
    is(next_reply_sent('b', $tag), 2, '(b) a status naming another reply: the reply is sent again');

    first_call_hangs('b2');
    ask('b2', 'What are your opening hours?');
    ($r1) = wait_sends('b2', 1);
    is(next_reply_sent('b2', tag_of($r1 // {})), 2,
       '(b) no status: the reply is sent again (the window the status closes)');
    unlike($d->log_text, qr/conversation \Q$CONV{b}\E: reply .* recorded as sent from Meta's status/,
           '(b) nothing recorded from a status');
}


# --- (c) killed before the record; the status comes while it is down --------

{
    first_call_hangs('c');
    ask('c', 'What are your opening hours?');
    my ($r1) = wait_sends('c', 1);
    ok($r1, '(c) the reply reached the Graph API') or diag $d->log_text;
    my $tag = tag_of($r1 // {});
    (my $hist = $tag) =~ s/^wachat://;

    $d->kill9;
    ok(!$d->alive, '(c) wachatd killed before its call was answered');
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{c}}"), 1, '(c) the reply is still queued');

    my $wamid = 'wamid.META-' . rand_token(12);
    meta_status('c', $tag, $wamid);

    # another process (its own consumer name) takes over
    $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => $CONF);
    ok($d->wait_log(qr/conversation \Q$CONV{c}\E: reply \Q$hist\E recorded as sent from Meta's status/, 20),
       '(c) the new process recorded it from the status') or diag $d->log_text;
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{c}}"), 0, '(c) the queue is empty');

    # the dead process's lease would hold the conversation for 60 s: cut short
    $redis->cmd('DEL', "wachat:lease:{$CONV{c}}");
    is(next_reply_sent('c', $tag), 1, '(c) the reply went out once');
    is($redis->cmd('HGET', "wachat:st:{$CONV{c}}", "h:$hist"), $wamid,
       '(c) the history entry has the wamid Meta gave it');
}


# --- (d) the same, restarted under the same consumer name -------------------

# a fixed `consumer` takes its conversations back at once (its leases are
# its own): the backlog that came while it was down, statuses included, is
# read before the scan of waiting conversations begins
{
    first_call_hangs('d');
    ask('d', 'What are your opening hours?');
    my ($r1) = wait_sends('d', 1);
    ok($r1, '(d) the reply reached the Graph API') or diag $d->log_text;
    my $tag = tag_of($r1 // {});
    (my $hist = $tag) =~ s/^wachat://;

    $d->kill9;
    # a backlog came in meanwhile, longer than one read (64 entries), with
    # Meta's status for the reply last
    for my $i (1 .. 200) {
        my $res = $nginx->post_signed(wh_status(recipient => '16505590999', status => 'delivered',
                                                id => "wamid.BACKLOG-$i-" . rand_token(8)));
        $res->{status} == 200 or fail("backlog status $i: $res->{status}");
    }
    my $wamid = 'wamid.META-' . rand_token(12);
    meta_status('d', $tag, $wamid);
    $d->start;      # the same config: the same consumer name
    ok($d->wait_log(qr/conversation \Q$CONV{d}\E: reply \Q$hist\E recorded as sent from Meta's status/, 20),
       '(d) recorded from the status') or diag $d->log_text;
    is(next_reply_sent('d', $tag), 1, '(d) the reply went out once');
}

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
unlike($d->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd log');

done_testing();
