#!/usr/bin/perl
# The short fault ledger: bench/chaos --short (800 signed webhooks over 40
# conversations in ~20 s, through nginx + module, Redis with AOF, wachatd
# against the Graph and LLM stand-ins, with every fault of `make chaos`
# compressed: Redis restarted and paused, kill -9 of wachatd and its restart,
# a second and a third wachatd joining and leaving, Graph 429 / 500 / hang,
# LLM hang, nginx reloads).  Fails on any loss, duplicate, order violation,
# reply to a status, webhook never accepted, or work left
# pending.  `make chaos` runs the full 20,000-webhook ledger.
#
# WACHAT_CHAOS_ARGS adds options (e.g. "--webhooks 2000 --duration 40").

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time);

use Wachat::Files qw(root_dir);

my $driver = root_dir() . '/bench/chaos';
ok(-x $driver, 'bench/chaos is there') or BAIL_OUT('no bench/chaos');

my @args = ('--short', '--quiet', split ' ', $ENV{WACHAT_CHAOS_ARGS} // '');
my $t0 = time;
# the driver cleans up after itself (by PID) and prints the ledger
my $out = qx{$^X $driver @args 2>&1};
my $status = $? >> 8;
my $took = time - $t0;
note $out;

my %row;
for (split /\n/, $out) {
    $row{$1} = $2 if /^  (\S.*?)\s{2,}(-?\d+)\s*$/;
}
my $get = sub ($prefix) {
    my ($k) = grep { index($_, $prefix) == 0 } keys %row;
    return defined $k ? $row{$k} : undef;
};

is($status, 0, sprintf 'bench/chaos --short passed (%.1f s)', $took)
    or diag $out;
like($out, qr/^Fault ledger: \d+ webhooks/m, 'the ledger was printed');

my $sent = $get->('webhooks sent');
ok(($sent // 0) > 0, "webhooks sent: " . ($sent // 'none'));
is($get->('accepted'), $sent, 'every webhook accepted in the end (retried until 200)');
my $want = $get->('inbound messages to answer');
ok(($want // 0) > 0, "inbound messages to answer: " . ($want // 'none'));
is($get->('answered'), $want, 'every one answered (one Graph 200 each)');
is($get->('duplicated'), 0, 'no message answered twice');
is($get->('lost'), 0, 'no message lost');
is($get->('unexpected replies'), 0, 'no reply to a status');
is($get->('conversations out of order'), 0, 'every conversation answered in order');
is($get->('webhooks never accepted'), 0, 'no webhook given up');
is($get->('stream entries pending'), 0, 'no stream entry pending at the end');
is($get->('conversations with queued work'), 0, 'no inbox or reply queue left');
like($out, qr/^\s+\d+\.\d s  kill -9 wachatd/m, 'the faults ran (kill -9 among them)')
    unless grep { $_ eq '--no-faults' } @args;
unless (grep { $_ eq '--no-faults' || $_ eq '--no-meta-statuses' } @args) {
    ok(($get->("Meta's statuses echoed") // 0) > 0, "Meta's statuses echoed: " . ($get->("Meta's statuses echoed") // 'none'));
    ok(($get->('replies recorded from a status') // 0) > 0,
       'replies whose answer was lost recorded from their status: '
       . ($get->('replies recorded from a status') // 'none'));
    like($out, qr/^\s+\d+\.\d s  kill -9 wachatd \S+ \(Meta took its replies/m,
         'the kill -9 between Meta taking replies and their record ran');
}

# The ledger can fail: a message made to vanish (its dedup key set before
# it is posted) and a second reply sent straight to the Graph stand-in must
# come out as one lost and one duplicated, and fail the run.
{
    my $t1 = time;
    my $sc = qx{$^X $driver --self-check --quiet --no-faults --webhooks 100 --duration 3 --convs 10 --posters 2 2>&1};
    my $st = $? >> 8;
    note $sc;
    is($st, 1, sprintf 'self-check: the ledger fails (%.1f s)', time - $t1);
    like($sc, qr/^  duplicated .*?\s1$/m, 'self-check: the injected duplicate is counted');
    like($sc, qr/^  lost .*?\s1$/m, 'self-check: the injected loss is counted');
    like($sc, qr/^RESULT: FAIL$/m, 'self-check: RESULT: FAIL');
}

done_testing();
