#!/usr/bin/perl
# A conversation whose store scripts fail on its own data: someone SET
# wachat:outq:{c} to a string, so its STEP answers WRONGTYPE (as in
# stream_poison.t (c), which stops once the entry is in its inbox).  It is
# tried again with backoff (1 s doubled per failure, up to 30 s, jittered),
# not every second for ever; the log names the key once, not per try; the
# other customers go on; once the key is deleted, the event still in its
# inbox is answered once and the log says the store works again.
#
# The tries are counted by Redis itself (INFO errorstats: one WRONGTYPE per
# failed script), over a fixed window once the conversation has started
# failing: the fixed 1 s retry made one a second (20 in the window, where
# the backoff makes 4 to 6).  Then the log's second and last warning, when
# the delay reaches 30 s; then the fix, and the answer within that delay.

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time sleep);

use Wachat::Process qw(free_port poll_until);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Webhook qw(wh_text);

my $PNID = '106540352242922';
my $POISON = '447700900601';
my $OTHER = '447700900602';
my $CONV = "$PNID:$POISON";
my $OUTQ = "wachat:outq:{$CONV}";
my $WINDOW = 20;        # s of failures counted
my $CAP = 30;           # s: WACHAT_BACKOFF_MAX

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $port = free_port();
my $d = start_wachatd(redis => $redis, name => 'store-backoff',
                      conf => "api_listen 127.0.0.1:$port\n");

sub metrics () {
    my $res = http_request(port => $port, method => 'GET', path => '/metrics',
        headers => [Authorization => 'Bearer ' . $d->api_secret]);
    my %m;
    for (split /\n/, $res->{body} // '') {
        next if /^#/;
        my ($k, $v) = /^(\S+) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return \%m;
}

# WRONGTYPE error replies Redis gave so far (each failed script: one)
sub wrongtypes () {
    my $info = $redis->cmd('INFO', 'errorstats') // '';
    return $info =~ /^errorstat_WRONGTYPE:count=(\d+)/m ? $1 : 0;
}

# replies per customer
sub answered () {
    my %n;
    $n{ $_->{fields}{to} // '' }++ for $redis->xrange('wachat:outbox');
    return \%n;
}

sub post ($from, $wamid) {
    my $res = $nginx->post_signed(wh_text(from => $from, id => $wamid,
                                          text => 'What are your opening hours?'));
    is($res->{status}, 200, "webhook $wamid from $from accepted");
}

sub count ($re) { scalar(() = $d->log_text =~ /$re/g) }

is($redis->cmd('SET', $OUTQ, 'not a list'), 'OK',
   'a wrong-type outbound queue planted for one conversation');

post($POISON, "wamid.backoff.$$.p");
post($OTHER,  "wamid.backoff.$$.o");

ok(poll_until(sub { (answered()->{$OTHER} // 0) >= 1 }, timeout => 20),
   'the other customer is answered') or diag $d->log_text;

# the transfer put the entry in its inbox (its own peek failed there):
# from here on, every WRONGTYPE is a try of the conversation's own steps
ok(poll_until(sub { $d->log_text =~ /of conversation \Q$CONV\E is in its inbox, but its transfer failed: WRONGTYPE/ },
              timeout => 10), 'the entry is in its inbox, its transfer failed')
    or diag $d->log_text;
is($redis->cmd('ZCARD', "wachat:inbox:{$CONV}"), 1, 'there, once');

# the window itself: a fixed time over which the tries are counted
my $from = wrongtypes();
sleep $WINDOW;
my $tries = wrongtypes() - $from;
note "$tries tries of the conversation in $WINDOW s";

# backoff: 0.5-1, 1-2, 2-4, 4-8, 8-16 s... at most 6 failures in 20 s (the
# fixed 1 s retry: about 20); at least 3, so it did not give up either
cmp_ok($tries, '<=', 8, "backoff: at most 8 tries in $WINDOW s, not one a second")
    or diag $d->log_text;
cmp_ok($tries, '>=', 3, 'and it kept trying');

my $first = qr/warning: conversation \Q$CONV\E: step failed: \Q$OUTQ\E holds a string, not a list \(WRONGTYPE[^\n]*fix or delete that key; nothing is lost: the conversation's events stay in its inbox[^\n]*retrying in \d+\.\d s/;
is(count($first), 1, 'one warning names the conversation, the key, the error and the retry')
    or diag $d->log_text;
cmp_ok(count(qr/warning: conversation \Q$CONV\E: [^\n]*WRONGTYPE/), '<=', 2,
       'not one warning per try (the first, and at most the one at the longest delay)')
    or diag $d->log_text;

my $m = metrics();
is($m->{wachatd_store_backoff_conversations}, 1,
   'metrics: one conversation backing off') or diag explain $m;
cmp_ok($m->{'wachatd_store_failures_total{cause="data"}'} // 0, '>=', $tries,
       'metrics: its failures counted as the data\'s');

# the sixth failure in a row is the first to wait the longest (15-30 s):
# said once, 15.5 to 31 s after the first
my $capped = qr/warning: conversation \Q$CONV\E: step still failing after 6 tries: \Q$OUTQ\E holds a string, not a list \(WRONGTYPE[^\n]*; retrying about every $CAP s/;
ok($d->wait_log($capped, $CAP + 5), 'the log says so again once the delay is the longest')
    or diag $d->log_text;
is($redis->cmd('ZCARD', "wachat:inbox:{$CONV}"), 1, 'the entry still waits in its inbox');
is(answered()->{$POISON} // 0, 0, 'and was not answered');

# fixed: the next try (within the longest delay) answers it, once
is($redis->cmd('DEL', $OUTQ), 1, 'the planted key deleted');
my $t0 = time;
ok(poll_until(sub { (answered()->{$POISON} // 0) >= 1 }, timeout => $CAP + 10),
   'then the waiting event is answered') or diag $d->log_text;
note sprintf('answered %.1f s after the fix', time - $t0);
ok($d->wait_log(qr/notice: conversation \Q$CONV\E: store works again after \d+ failures/, 10),
   'and the log says the store works again') or diag $d->log_text;
ok(poll_until(sub { $redis->cmd('ZCARD', "wachat:inbox:{$CONV}") == 0 }, timeout => 10),
   'its inbox is empty');
ok(poll_until(sub { (metrics()->{wachatd_store_backoff_conversations} // -1) == 0 },
              timeout => 10), 'metrics: no conversation backing off');
is_deeply(answered(), { $POISON => 1, $OTHER => 1 }, 'each customer answered exactly once');
is(count($first), 1, 'the first failure logged once in all');
is(count($capped), 1, 'and the longest delay once');
is(count(qr/store works again/), 1, 'the recovery logged once');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');

# under make test-asan
unlike($d->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd log');

done_testing();
