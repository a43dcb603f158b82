#!/usr/bin/perl
# One customer cannot grow Redis without bound nor spend the model budget
# (issue 11, finding 3):
#
#   (a) 500 messages from one customer: AI answers (and model calls) stay
#       within the customer's bucket, one notice per limited period, every
#       message kept (committed, on the agents' feed), the metric counts
#       the withheld ones; another customer is answered meanwhile
#   (b) a one-message customer's statuses hash expires with its
#       conversation
#   (d) asking for a person again and again: the hand-over happens, its
#       text is repeated only within the same bucket, every request kept
#   (c) with the limit off (a reload), 200 answered messages, a status for
#       each reply and 100 for wamids nobody sent: the history and the
#       statuses hash stay under fixed caps, the latest statuses are kept

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time);

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_status wh_text);

my $KB     = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID   = '106540352242922';
my $PER    = 600;          # answers per minute: a few periods
my $BURST  = 5;
my $HISTMAX = 50;
my $N      = 500;
my $NOTICE = 'Slow down please, a person reads along.';
my %WA = (a => '4917600000001', b => '4917600000002', c => '4917600000003',
          d => '4917600000004');
my %CONV = map { $_ => "$PNID:$WA{$_}" } keys %WA;

my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $port = free_port();
my $limits = "customer_answers_per_minute $PER\ncustomer_answers_burst $BURST\n";
my $base = <<"EOF";
backend openai
llm_url @{[$llm->url]}/v1
llm_model test-model
llm_timeout 5s
history_max $HISTMAX
rate_limited_text "$NOTICE"
api_listen 127.0.0.1:$port
EOF
my $d = start_wachatd(redis => $redis, kb => $KB, conf => $base . $limits);

sub metric ($name) {
    # the API's secret as a bearer token, where the harness gives it one
    my $secret = $d->can('api_secret') ? $d->api_secret : undef;
    my $res = http_request(port => $port, method => 'GET', path => '/metrics',
        $secret ? (headers => [Authorization => "Bearer $secret"]) : ());
    return ($res->{body} // '') =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# what wachatd did with each message of $conv, in order: answered or kept
sub outcomes ($conv) {
    my @o;
    for (split /\n/, $d->log_text) {
        my ($wamid, $what, $rest) =
            /conversation \Q$conv\E: (\S+) (answered from|kept, not answered)(.*)/
            or next;
        push @o, { wamid => $wamid, answered => $what eq 'answered from',
                   notice => scalar($rest =~ /notice sent/) };
    }
    return @o;
}

sub outbox_to ($wa) {
    return grep { ($_->{fields}{to} // '') eq $wa } $redis->xrange('wachat:outbox');
}

sub post ($body) { $nginx->post_signed($body)->{status} }


# --- (b) a single message: answered, its statuses hash expires -------------

is(post(wh_text(from => $WA{b}, text => 'opening hours')), 200, 'b: accepted');
ok(poll_until(sub { $redis->cmd('HLEN', "wachat:st:{$CONV{b}}") >= 2 },
              timeout => 20), 'b: the reply is recorded in the statuses hash')
    or diag $d->log_text;
my $ttl = $redis->cmd('PTTL', "wachat:st:{$CONV{b}}");
cmp_ok($ttl, '>', 0, "b: the statuses hash expires (PTTL $ttl)");
cmp_ok(abs($ttl - $redis->cmd('PTTL', "wachat:conv:{$CONV{b}}")), '<', 60_000,
       'b: ... with its conversation');


# --- (a) 500 messages from one customer -----------------------------------

my $llm_before = scalar $llm->requests;
my $t0 = time;
my (%wamids, $refused);
for my $i (1 .. $N) {
    my $id = new_wamid();
    $wamids{$id} = 1;
    $refused++ if post(wh_text(from => $WA{a}, id => $id, text => "question $i about opening hours")) != 200;
    # another customer writes meanwhile, and is answered
    post(wh_text(from => $WA{b}, text => 'opening hours')) if $i == $N / 2;
}
ok(!$refused, "a: all $N webhooks accepted");

my @o;
ok(poll_until(sub { @o = outcomes($CONV{a}); @o >= $N }, timeout => 120),
   "a: all $N messages committed") or diag scalar(@o) . " of $N";
my $elapsed = time - $t0;

my %done = map { $_->{wamid} => 1 } @o;
is(scalar(grep { $done{$_} } keys %wamids), $N, 'a: each message once, none lost');
is(scalar(grep { !$wamids{$_} } keys %done), 0, 'a: nothing else');

my @answered = grep { $_->{answered} } @o;
my $bound = $BURST + int($elapsed * $PER / 60) + 1;
cmp_ok(scalar @answered, '>=', $BURST, "a: the burst is answered");
cmp_ok(scalar @answered, '<=', $bound,
       sprintf('a: %d answers in %.1f s, within the bucket (<= %d)',
               scalar @answered, $elapsed, $bound));
ok(!grep({ !$_->{answered} } @o[0 .. $BURST - 1]), 'a: the first ones are answered');

# a limited period: the withheld messages between two answers
my ($periods, $bad) = (0, 0);
for my $k (0 .. $#o) {
    next if $o[$k]{answered};
    my $first = $k == 0 || $o[$k - 1]{answered};
    $periods++ if $first;
    $bad++ if $first != !!$o[$k]{notice};
}
cmp_ok($periods, '>=', 1, "a: $periods limited period(s)");
is($bad, 0, 'a: the notice goes with the first withheld message of each period only');

my @out = outbox_to($WA{a});
my @notices = grep { $_->{fields}{text} eq $NOTICE } @out;
is(scalar @notices, $periods, 'a: one notice per period in the outbox');
is(scalar @out, @answered + $periods, 'a: no other reply');

my $calls = scalar($llm->requests) - $llm_before;
is($calls, @answered + 1, "a: $calls model calls (one for b), none for a withheld message");

# every message reached the agents' feed
my $fed = grep { ($_->{fields}{type} // '') eq 'message' && ($_->{fields}{conv} // '') eq $CONV{a} }
          $redis->xrange('wachat:feed');
is($fed, $N, 'a: every message is on the agents\' feed');

is(metric('wachatd_messages_total{outcome="withheld"}'), $N - @answered,
   'a: withheld answers are counted');
ok(poll_until(sub { outcomes($CONV{b}) == 2 && grep { $_->{answered} } outcomes($CONV{b}) },
              timeout => 20), 'b: answered while a was limited');

cmp_ok($redis->cmd('XLEN', "wachat:hist:{$CONV{a}}"), '<=', $HISTMAX + 100,
       'a: the history is capped');

# a fixed set of keys, not one per message (the sandbox's own markers aside)
my @keys = grep { !/^wachat:sandbox:/ } @{ $redis->cmd('KEYS', "*{$CONV{a}}*") };
cmp_ok(scalar @keys, '<=', 6, "a: @{[scalar @keys]} keys after $N messages")
    or diag join ' ', (sort @keys)[0 .. ($#keys < 9 ? $#keys : 9)];
is($redis->cmd('ZCARD', "wachat:done:{$CONV{a}}"), $N, 'a: one done set holds them all');
my $bytes = 0;
$bytes += $redis->cmd('MEMORY', 'USAGE', $_) // 0 for @keys;
cmp_ok($bytes, '<', 128 * 1024, "a: $bytes bytes in Redis for the conversation");


# --- (d) "/live_agent" 40 times, nobody online ----------------------------

my $K = 40;
$t0 = time;
post(wh_text(from => $WA{d}, text => '/live_agent')) for 1 .. $K;
ok(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$CONV{d}}", 'unread') // 0) == $K },
              timeout => 60), "d: all $K requests kept for the agents")
    or diag $d->log_text;
$elapsed = time - $t0;
ok(poll_until(sub { !$redis->cmd('EXISTS', "wachat:outq:{$CONV{d}}") }, timeout => 20),
   'd: every text queued is sent');
is($redis->cmd('HGET', "wachat:conv:{$CONV{d}}", 'mode'), 'waiting_agent', 'd: waiting for a person');
my $in = grep { $_->{fields}{dir} eq 'in' } $redis->xrange("wachat:hist:{$CONV{d}}");
is($in, $K, "d: all $K in the history");
my $told = () = outbox_to($WA{d});
$bound = 1 + $BURST + int($elapsed * $PER / 60) + 1;
cmp_ok($told, '>=', 1, 'd: told what happens');
cmp_ok($told, '<=', $bound, "d: told $told times in $K requests (<= $bound)");


# --- (c) the limit off: hundreds of replies and statuses ------------------

$d->{extra} = $base . "customer_answers_per_minute 0\n";
$d->write_conf;
$d->hup;
ok($d->wait_log(qr/reloaded/), 'reloaded with customer_answers_per_minute 0');

my $M = 200;
post(wh_text(from => $WA{c}, text => "question $_ about opening hours")) for 1 .. $M;
my @replies;
ok(poll_until(sub { @replies = outbox_to($WA{c}); @replies >= $M }, timeout => 120),
   "c: $M replies") or diag scalar(@replies) . " of $M";

my @st = map { 'wamid.sandbox.' . $_->{id} } @replies;
# sent back to front: the newest reply's status comes last, so all are in
my $last = $st[-1];
for my $w (@st) {
    post(wh_status(recipient => $WA{c}, id => $w, status => 'delivered'));
}
post(wh_status(recipient => $WA{c}, id => new_wamid(), status => 'delivered')) for 1 .. 100;
post(wh_status(recipient => $WA{c}, id => $last, status => 'read'));

my $key = "wachat:st:{$CONV{c}}";
ok(poll_until(sub { ($redis->cmd('HGET', $key, $last) // '') =~ /^read\|/ }, timeout => 60),
   'c: the statuses are applied') or diag $d->log_text;

my $hlen = $redis->cmd('XLEN', "wachat:hist:{$CONV{c}}");
my $slen = $redis->cmd('HLEN', $key);
cmp_ok($hlen, '<=', $HISTMAX + 100, "c: history $hlen entries, capped");
cmp_ok($slen, '<=', 2 * $hlen + 64 + 2,
       "c: statuses hash $slen fields, trimmed with the history ($M replies)");
my $mem = $redis->cmd('MEMORY', 'USAGE', $key);
cmp_ok($mem, '<', 16 * 1024, "c: statuses hash $mem bytes");

# what the console joins: the newest replies keep their statuses
my %h = @{ $redis->cmd('HGETALL', $key) };
my @named = grep { /^h:/ } keys %h;
my $first = ($redis->cmd('XRANGE', "wachat:hist:{$CONV{c}}", '-', '+', 'COUNT', 1) // [])->[0][0];
my ($fms, $fseq) = split /-/, $first;
is(scalar(grep { my ($ms, $seq) = /^h:(\d+)-(\d+)$/; $ms < $fms || ($ms == $fms && $seq < $fseq) } @named),
   0, 'c: no status of a history entry that is gone');
ok((grep { $h{$_} eq $last } @named), 'c: the newest reply keeps its history link');

for my $c (qw(a c)) {
    for my $k ("wachat:conv:{$CONV{$c}}", "wachat:hist:{$CONV{$c}}", "wachat:st:{$CONV{$c}}") {
        cmp_ok($redis->cmd('PTTL', $k), '>', 0, "$c: $k expires");
    }
}

done_testing();
