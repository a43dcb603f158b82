#!/usr/bin/perl
# wachatd's log lines are unambiguous (issue 11, finding 7): a value that
# carries a backslash, a newline, a C1 control, a line separator or bytes
# that are not UTF-8 cannot end a line nor pass for an escape.  The value
# here reaches the log as the "type" of an event of an unknown contract
# version, which wachatd sets aside and logs.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Daemon qw(start_wachatd);

my $redis = start_redis();
my $d = start_wachatd(redis => $redis);

# a literal backslash-n (two bytes), a real newline, NEL (C1, U+0085),
# U+2028, a lone 0xff, DEL, and a forged "next line" after the newline
my $type = "a\\nb\nwarning: forged\x{c2}\x{85}c\x{e2}\x{80}\x{a8}d\x{ff}e\x{7f}f";
utf8::downgrade($type);
$redis->cmd('XADD', 'wachat:events', '*', 'v', '99', 'kind', 'message',
            'type', $type);

ok(poll_until(sub { $d->log_text =~ /is not for a conversation/ }, timeout => 10),
   'the set-aside event is logged') or diag $d->log_text;

my ($line) = grep { /is not for a conversation/ } split /\n/, $d->log_text;
like($line, qr/type=a\\\\nb\\nwarning: forged\\u0085c\\u2028d\\xffe\\x7ff\)/,
     'backslash doubled, newline \\n, C1 and U+2028 as \\uNNNN, bad bytes and DEL as \\xNN')
    or diag $line;
unlike($d->log_text, qr/^warning: forged/m, 'the forged text does not start a line');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');

done_testing();
