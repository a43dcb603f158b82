#!/usr/bin/perl

# The harness itself, against a real redis-server: RESP replies of every
# shape, restart on the same port, and the raw-object scanner of
# Wachat::Events.  If these are wrong, every other file proves nothing.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(slurp);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Events qw(raw_objects object_at enclosing_object);
use File::Path ();
use File::Temp ();
use IO::Select;
use POSIX ();

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
isa_ok($err, 'Wachat::Redis::RESP::Error', 'error reply');
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

# --- every started process is stopped, however the test process ends -----------
#
# A child perl (a .t as prove runs it: stdout a pipe to its reader) starts a
# redis-server and an nginx with 2 workers, reports their PIDs, then ends as
# a test may: normally, die, exit, POSIX::_exit, a signal (INT TERM HUP QUIT
# ALRM), SIGPIPE because its reader (prove) is gone, or SIGKILL.  None of the
# PIDs may outlive it (a broken module once made t/nginx/dedup.t leave its
# nginx and redis running under PID 1: prove was gone, the next "ok" raised
# SIGPIPE).

my $CHILD = <<'PERL';
use v5.36;
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
my ($mode, $err) = @ARGV;
# prove reads stderr through a pipe too: in PIPE mode both are the dead pipe
if ($mode eq 'PIPE') { open STDERR, '>&', \*STDOUT or die "dup: $!" }
else                  { open STDERR, '>>', $err or die "$err: $!" }
my $r = start_redis();
my $n = start_nginx(redis => $r, worker_processes => 2);
$| = 1;
print join(' ', 'ready', $r->pid, $n->pid, $n->workers), "\n";
print join(' ', 'dirs', $r->dir, $n->prefix), "\n";
if    ($mode eq 'die')    { die "dying on purpose\n" }
elsif ($mode eq 'exit')   { exit 3 }
elsif ($mode eq '_exit')  { POSIX::_exit(4) }
elsif ($mode eq 'end')    { exit 0 }
elsif ($mode eq 'ALRM')   { alarm 1 }
elsif ($mode eq 'PIPE')   { <STDIN>; print "the reader is gone\n" for 1 .. 1000; exit 5 }
sleep 1 for 1 .. 60;        # the parent signals
exit 6;
PERL

# Same process (PID not reused since), and not a zombie.
sub proc_start ($pid) {
    open my $fh, '<', "/proc/$pid/stat" or return undef;
    my $s = <$fh> // return undef;
    my ($state, @f) = $s =~ /\)\s+(\S)\s+(.*)/ or return undef;
    return undef if $state eq 'Z' || $state eq 'X';
    return (split ' ', $f[0])[18];         # field 22: starttime
}

sub proc_cmdline ($pid) {
    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    my $c = do { local $/; <$fh> } // '';
    return $c =~ tr/\0/ /r;
}

my $tmp = File::Temp::tempdir('wachat-harness-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %SIGNUM;
{
    require Config;
    @SIGNUM{ split ' ', $Config::Config{sig_name} } = split ' ', $Config::Config{sig_num};
}

for my $mode (qw(end die exit _exit INT TERM HUP QUIT ALRM PIPE KILL)) {
    my $err = "$tmp/$mode.err";
    pipe(my $to_child_r, my $to_child_w) or die "pipe: $!";
    pipe(my $from_child_r, my $from_child_w) or die "pipe: $!";
    my $cpid = fork // die "fork: $!";
    if ($cpid == 0) {
        # what a test inherits from prove; not what this file was given
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT PIPE ALRM);
        close $to_child_w; close $from_child_r;
        open STDIN, '<&', $to_child_r or POSIX::_exit(126);
        open STDOUT, '>&', $from_child_w or POSIX::_exit(126);
        { no warnings 'exec'; exec $^X, (map { "-I$_" } @INC), '-e', $CHILD, $mode, $err; }
        POSIX::_exit(127);
    }
    close $to_child_r; close $from_child_w;

    # sysread, not <>: a buffered line would hide from select
    my $got = '';
    my $sel = IO::Select->new($from_child_r);
    while ($got !~ /^dirs .*\n/m && $sel->can_read(60)) {
        sysread($from_child_r, $got, 4096, length $got) or last;
    }
    my @pids = $got =~ /^ready (.*)$/m ? split(' ', $1) : ();
    my @dirs = $got =~ /^dirs (.*)$/m ? split(' ', $1) : ();
    ok(@pids == 4 && @dirs == 2, "$mode: the child started redis, nginx and 2 workers")
        or diag "child said: $got\nstderr: " . eval { slurp($err) };
    my %start = map { $_ => proc_start($_) } @pids;

    if ($mode eq 'PIPE') {
        close $from_child_r;                    # prove is gone ...
        close $to_child_w;                      # ... and the child prints
    } elsif ($mode =~ /^[A-Z]+$/ && $mode ne 'ALRM') {
        kill $mode, $cpid;
    }
    my $status;
    poll_until(sub { waitpid($cpid, POSIX::WNOHANG()) == $cpid and $status = $?, 1 },
               timeout => 60)
        or do { kill 'KILL', $cpid; waitpid($cpid, 0); $status = $? };
    close $from_child_r if $mode ne 'PIPE';
    close $to_child_w if $mode ne 'PIPE';

    if ($mode eq 'KILL') {
        is($status & 127, 9, 'KILL: the child died of SIGKILL');
    } elsif ($SIGNUM{$mode}) {
        is($status, (128 + $SIGNUM{$mode}) << 8,
           "$mode: the child stopped its servers and exited " . (128 + $SIGNUM{$mode}))
            or diag "wait status $status; stderr:\n" . eval { slurp($err) };
    }

    my @left;
    poll_until(sub {
        @left = grep { my $s = proc_start($_); defined $s && $s eq ($start{$_} // '') } @pids;
        !@left;
    }, timeout => 20);
    is("@left", '', "$mode: no redis-server, nginx master or worker left running")
        or diag "still running: " . join(', ', map { "$_ " . proc_cmdline($_) } @left);

    if ($mode =~ /^(?:KILL|_exit)$/) {
        # nothing ran in the child to remove them
        File::Path::rmtree($_) for grep { m{/wachat-(?:redis|nginx)-[^/]+\z} } @dirs;
    } else {
        is(scalar(grep { -e } @dirs), 0, "$mode: its temp dirs are removed");
    }
    # what no check above caught: stop it here, by PID
    for my $p (@left) { kill 'KILL', $p }
}

done_testing;
