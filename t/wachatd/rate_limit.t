#!/usr/bin/perl
# The per-number token bucket: replies leave no faster than rate_limit,
# measured on Redis' own clock (the outbox entry ids), whatever the load.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $RATE = 5;
my $N = 20;

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => "rate_limit $RATE\n");

for my $i (1 .. $N) {
    my $res = $nginx->post_signed(wh_text(from => sprintf('4915100000%03d', $i),
                                          text => 'opening hours'));
    is($res->{status}, 200, "message $i accepted");
}

my @e = outbox_wait($redis, $N, timeout => 30);
is(scalar @e, $N, "all $N replies sent");

my ($first) = $e[0]{id} =~ /^(\d+)-/;
my ($last) = $e[-1]{id} =~ /^(\d+)-/;
my $span = $last - $first;
# a full bucket (RATE tokens) goes at once, the rest at RATE per second
my $min = ($N - $RATE - 1) * 1000 / $RATE;
cmp_ok($span, '>=', $min, "replies spread over ${span} ms >= ${min} ms");

# a second daemon shares the bucket: it cannot double the rate
my $d2 = start_wachatd(redis => $redis, kb => $KB, conf => "rate_limit $RATE\n");
$redis->cmd('DEL', 'wachat:outbox');
for my $i (1 .. $N) {
    $nginx->post_signed(wh_text(from => sprintf('4915200000%03d', $i),
                                text => 'opening hours'));
}
@e = outbox_wait($redis, $N, timeout => 30);
is(scalar @e, $N, "all $N replies sent by two consumers");
($first) = $e[0]{id} =~ /^(\d+)-/;
($last) = $e[-1]{id} =~ /^(\d+)-/;
cmp_ok($last - $first, '>=', $min, 'two consumers together keep the rate');

done_testing();
