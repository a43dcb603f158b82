#!/usr/bin/perl
# The sandbox outbox (outbound sandbox: make run, the tests) is read, never
# drained, so wachatd caps it like every stream a customer can make grow:
# each reply goes in with MAXLEN ~ WACHAT_OUTBOX_MAXLEN (send/outbound.h),
# which keeps at least that many entries and at most one stream node more.
# An outbox already past the cap is cut back by the next replies, which
# are kept, newest last.
#
# Real redis-server, nginx with the module, wachatd (kb backend, sandbox).

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir slurp);
use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers sample_kb start_wachatd);
use Wachat::Webhook qw(wh_text);

my ($MAXLEN) = slurp(root_dir() . '/wachatd/send/outbound.h')
    =~ /^#define WACHAT_OUTBOX_MAXLEN\s+(\d+)/m
    or BAIL_OUT('no WACHAT_OUTBOX_MAXLEN in wachatd/send/outbound.h');
my $OUTBOX = 'wachat:outbox';

my $redis = start_redis();
my (undef, $node) = @{ $redis->cmd('CONFIG', 'GET', 'stream-node-max-entries') };
cmp_ok($node, '>', 0, "stream-node-max-entries $node: MAXLEN ~ may keep up to that many more");

# an outbox a long session (or an older wachatd) filled past the cap
my $filled = $MAXLEN + 5 * $node;
is($redis->cmd('EVAL', "for i = 1, tonumber(ARGV[1]) do\n"
                     . "  redis.call('XADD', KEYS[1], '*', 'to', 'earlier', 'text', 'an earlier reply')\n"
                     . "end\n"
                     . "return redis.call('XLEN', KEYS[1])", 1, $OUTBOX, $filled),
   $filled, "the outbox holds $filled replies, past the cap of $MAXLEN");

my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => sample_kb());
my ($answer) = kb_answers(sample_kb());

my @to = map { "44799900${_}1" } 1 .. 3;
for my $from (@to) {
    is($nginx->post_signed(wh_text(from => $from, text => 'What are your opening hours?'))->{status},
       200, "a question from $from");
}

# the newest entries, once the three replies are among them
my @newest;
ok(poll_until(sub {
    my $r = $redis->cmd('XREVRANGE', $OUTBOX, '+', '-', 'COUNT', 3);
    @newest = reverse map { +{ @{ $_->[1] } } } @{ ref $r eq 'ARRAY' ? $r : [] };
    (grep { $_->{to} ne 'earlier' } @newest) == 3;
}, timeout => 20), 'the three replies came into the outbox') or diag $d->log_text;
is_deeply([sort map { $_->{to} } @newest], [sort @to], '... as its newest three entries');
like($_->{text}, qr/^\Q$answer->{hours}\E/, "... the opening hours for $_->{to}") for @newest;

my $len = $redis->xlen($OUTBOX);
ok($len >= $MAXLEN && $len <= $MAXLEN + $node,
   "trimmed back: $len entries kept ($MAXLEN .. $MAXLEN + one node of $node), not " . ($filled + 3));

done_testing();
