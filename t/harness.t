#!/usr/bin/perl

# The harness itself, against a real redis-server: RESP replies of every
# shape, restart on the same port, and the raw-object scanner of
# Wachat::Events.  If these are wrong, every other file proves nothing.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Test;
use Wachat::Events qw(raw_objects object_at enclosing_object);

# --- free ports ----------------------------------------------------------------

my %p = map { free_port() => 1 } 1 .. 20;
is(scalar keys %p, 20, 'free_port hands out distinct ports');

# --- RESP ------------------------------------------------------------------------

my $r = start_redis();
is($r->cmd('PING'), 'PONG', 'simple string');
is($r->cmd('INCR', 'n'), 1, 'integer');
is($r->cmd('GET', 'missing'), undef, 'nil bulk string');
my $bin = "a\r\nb\0c\xff";
is($r->cmd('SET', 'bin', $bin), 'OK', 'SET binary value');
is($r->cmd('GET', 'bin'), $bin, 'bulk string with CRLF, NUL and high bytes');
my $err = $r->cmd('INCR', 'bin');
isa_ok($err, 'Wachat::Test::RESP::Error', 'error reply');
like("$err", qr/^ERR /, 'error text');
is_deeply($r->cmd('EVAL', 'return {1, {"x", {2}}, "y"}', 0), [1, ['x', [2]], 'y'], 'nested arrays');
is_deeply($r->cmd('LRANGE', 'empty', 0, -1), [], 'empty array');
is($r->cmd('BLPOP', 'none', '0.01') // 'nil', 'nil', 'nil array (BLPOP timeout)');

$r->cmd('XADD', 's', '*', 'k', 'v1', 'raw', $bin);
$r->cmd('XADD', 's', '*', 'k', 'v2');
my @e = $r->xrange('s');
is(scalar @e, 2, 'xrange: two entries');
like($e[0]{id}, qr/^\d+-\d+$/, 'xrange: entry id');
is_deeply($e[0]{fields}, { k => 'v1', raw => $bin }, 'xrange: fields of the first entry');

# --- restart on the same port --------------------------------------------------

my ($port, $pid) = ($r->port, $r->pid);
$r->restart;
is($r->port, $port, 'restart keeps the port');
isnt($r->pid, $pid, 'restart starts a new process');
ok(!kill(0, $pid), 'the old process is gone');
is($r->cmd('PING'), 'PONG', 'the client reconnects after the restart');
is($r->cmd('EXISTS', 's'), 0, 'nothing persisted (--save "")');

# --- raw object scanner ----------------------------------------------------------

my $json = '{"a":[{"id":"x","t":"}\\"{"},{"id":"y","n":{"id":"z"}}],"b":"\\\\"}';
is_deeply([raw_objects($json, qr/"id":"x"/)], ['{"id":"x","t":"}\\"{"}'],
          'object containing a match, braces and escaped quotes inside strings skipped');
is_deeply([raw_objects($json, qr/"id":"y"/)], ['{"id":"y","n":{"id":"z"}}'], 'nested object kept whole');
is_deeply([raw_objects($json, qr/"id":"z"/)], ['{"id":"z"}'], 'innermost object for a nested match');
is(object_at($json, 0), $json, 'balanced scan of the whole document');
is(enclosing_object($json, index($json, '"b"')), 0, 'enclosing object of a top-level key');

# --- poll_until ------------------------------------------------------------------

my $n = 0;
is(poll_until(sub { ++$n >= 3 ? 'done' : undef }, interval => 0.001), 'done', 'poll_until returns the value');
is(poll_until(sub { 0 }, timeout => 0.05), undef, 'poll_until gives up at the deadline');

done_testing;
