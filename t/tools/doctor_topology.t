#!/usr/bin/perl
# wachatctl doctor behind Redis Sentinel: the primary it reached through the
# sentinels, each replica with its state and lag, what every sentinel names
# as the primary; warnings when fewer replicas are in sync than nginx's
# wachat_redis_replicas waits for, and when a sentinel does not answer.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(spew);
use Wachat::Process qw(stop_pid);
use Wachat::Daemon qw(start_wachatd wachatctl_binary);
use Wachat::Sentinel qw(start_sentinels);

my $ha = start_sentinels(replicas => 1, sentinels => 3, sentinel_password => 'doctor-s-pw');
my $primary = $ha->primary;
my ($replica) = grep { $_ != $primary } $ha->servers;

# a config file only: doctor reads it, no wachatd runs
my $d = start_wachatd(redis => $primary, redis_line => 'redis ' . $ha->directive,
                      no_start => 1);
# the sentinels want a password: redis_sentinel_password_file
spew($d->dir . '/sentinel.password', "doctor-s-pw\n", 0600);
$d->{extra} = 'redis_sentinel_password_file ' . $d->dir . "/sentinel.password\n";
$d->write_conf;

sub doctor (@args) {
    my $out = `@{[wachatctl_binary()]} -c @{[$d->conf_path]} doctor @args 2>&1`;
    return $out;
}

my $out = doctor('--replicas', 1);
my $p = $primary->port;
my $r = $replica->port;
like($out, qr/^ok\s+redis answers/m, 'doctor reached Redis through the sentinels') or diag $out;
like($out, qr/^ok\s+replica 127\.0\.0\.1:$r: online, lag \d+ s, \d+ bytes behind/m,
     'the replica, online, with its lag');
like($out, qr/^ok\s+redis primary 127\.0\.0\.1:$p, 1 replica\(s\), 1 in sync/m,
     'the primary and how many replicas are in sync');
is(scalar(() = $out =~ /^ok\s+sentinel 127\.0\.0\.1:\d+ names 127\.0\.0\.1:$p the primary "wachat"$/mg),
   3, 'each of the three sentinels names the primary');
unlike($out, qr/wachat_redis_replicas/, 'no replica warning with wachat_redis_replicas 1');

$out = doctor('--replicas', 2);
like($out, qr/^warn\s+wachat_redis_replicas 2 but 1 replica\(s\) in sync/m,
     'wachat_redis_replicas higher than the replicas in sync: a warning');

my ($s1) = $ha->sentinels;
stop_pid($s1->{pid}, 10);
delete $s1->{pid};
$out = doctor();
like($out, qr/^warn\s+sentinel 127\.0\.0\.1:$s1->{port}: /m, 'a sentinel down: named');
like($out, qr/^warn\s+2 of 3 sentinels answer/m, '... and counted');
like($out, qr/^ok\s+redis primary 127\.0\.0\.1:$p/m, 'the primary is still found');

done_testing();
