#!/usr/bin/perl
# Losing the Redis host: bench/chaos --short --sentinel.  A primary, a
# replica and three redis-sentinel processes; nginx (wachat_redis_replicas 1)
# and wachatd both find the primary through the sentinels.  800 signed
# webhooks at a steady rate, with SENTINEL FAILOVER and then kill -9 of the
# primary in the middle of it (among wachatd and Graph faults).  Every
# webhook answered 200 is still in Redis at the end ("acknowledged but
# lost": 0), every customer message is answered, in order, exactly once
# (wachatd has redis_replicas 1: a failover cannot take back a step or a
# reply's record), and the webhooks refused during the switch (503) were
# accepted when the posters retried, as Meta does.

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time);

use Wachat::Files qw(root_dir);

my $driver = root_dir() . '/bench/chaos';
my @args = ('--short', '--sentinel', '--quiet', split ' ', $ENV{WACHAT_CHAOS_ARGS} // '');
my $t0 = time;
my $out = qx{$^X $driver @args 2>&1};
my $status = $? >> 8;
note $out;

my %row;
for (split /\n/, $out) {
    $row{$1} = $2 if /^  (\S.*?)\s{2,}(-?\d+)\s*$/;
}
my $get = sub ($prefix) {
    my ($k) = grep { index($_, $prefix) == 0 } keys %row;
    return defined $k ? $row{$k} : undef;
};

ok($status == 0, sprintf 'bench/chaos --short --sentinel passed its ledger (%.1f s)',
   time - $t0) or diag $out;
like($out, qr/^\s+\d+\.\d s  SENTINEL FAILOVER/m, 'a SENTINEL FAILOVER happened under load');
like($out, qr/^\s+\d+\.\d s  kill -9 of the Redis primary/m, 'and a kill -9 of the primary');

my $sent = $get->('webhooks sent');
ok(($sent // 0) > 0, 'webhooks sent: ' . ($sent // 'none'));
is($get->('accepted'), $sent, 'every webhook accepted in the end');
is($get->('acknowledged but lost'), 0, 'acknowledged but lost: 0');
my $want = $get->('inbound messages to answer');
is($get->('answered'), $want, "every customer message answered ($want)");
is($get->('duplicated'), 0, 'none answered twice') or diag $out;
is($get->('lost'), 0, 'none lost');
is($get->('conversations out of order'), 0, 'in order');
is($get->('webhooks never accepted'), 0, 'none given up');
is($get->('stream entries pending'), 0, 'nothing pending');
cmp_ok($get->('retried') // 0, '>', 0, 'some webhooks were refused during the switch and '
       . 'accepted on retry') or diag $out;

done_testing();
