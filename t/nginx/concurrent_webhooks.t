#!/usr/bin/perl

# 200 webhooks in flight at once (distinct wamids): 200 sockets opened, every
# request written, then every answer read.  All must be 200 and all 200
# events must be in the stream, each with its own text.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Files qw(fixture);
use Wachat::HTTP qw(http_read http_send);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);

my $N      = 200;
my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis, worker_processes => 2);

my $template = fixture('message_text');
my $wamid    = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=';
die 'fixture changed' unless index($template, $wamid) >= 0;

my @bodies = map {
    my $b = $template;
    $b =~ s/\Q$wamid\E/sprintf 'wamid.CONCURRENT%04d', $_/e;
    $b =~ s/Does it come in another color\?/concurrent message $_/;
    $b;
} 1 .. $N;

my @conns = map { http_send(port => $nginx->port, raw => $nginx->signed_request($_), timeout => 30) } @bodies;
is(scalar @conns, $N, "$N connections opened and written");

my @res = map { http_read($_, timeout => 60) } @conns;
my @ok = grep { $_->{status} == 200 } @res;
is(scalar @ok, $N, "$N answers 200")
    or diag explain [map { "$_->{status} $_->{body}" } grep { $_->{status} != 200 } @res];
is(scalar(grep { $_->{body} eq '{"result":"accepted","events":1,"queued":1}' } @res), $N,
   'every answer: events 1, queued 1');

is($redis->xlen($STREAM), $N, "$N stream entries");
my @e = $redis->xrange($STREAM);
my %ids = map { $_->{fields}{id} => $_->{fields} } @e;
is(scalar keys %ids, $N, "$N distinct wamids in the stream");
my @mismatch = grep {
    my $i = $_;
    my $f = $ids{ sprintf 'wamid.CONCURRENT%04d', $i };
    !$f || $f->{text} ne "concurrent message $i" || $f->{raw} !~ /concurrent message $i"/;
} 1 .. $N;
is(scalar @mismatch, 0, 'every entry carries the text and raw of its own request')
    or diag "mismatched: @mismatch[0 .. ($#mismatch > 9 ? 9 : $#mismatch)]";

my @lines = $nginx->wait_access_lines($N);
is(scalar(grep { join(' ', @$_) eq '200 accepted 1' } @lines), $N, "$N access log lines '200 accepted 1'");

unlike($nginx->error_log, qr/signal \d+|exited on|segfault|\[alert\]|\[crit\]|\[emerg\]/,
       'no crash, alert or critical error in error.log');

done_testing;
