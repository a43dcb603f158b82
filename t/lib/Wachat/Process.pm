package Wachat::Process;

# The processes a test starts: fork + exec with the parent-death signal set,
# waiting with a deadline, stopping by PID, free loopback ports and temp
# dirs.  Core Perl only.
#
#   my $pid  = spawn([$bin, @args], out => "$dir/out.log", env => {...});
#   my $port = free_port();
#   poll_until(sub { defined reaped($pid) }, timeout => 10) or stop_pid($pid);
#
# A server object (Wachat::Redis, Wachat::Nginx, Wachat::Daemon,
# Wachat::Browser) registers itself here once started; everything registered
# is stopped by PID (TERM, wait, KILL after a deadline) when its object is
# stopped or destroyed, in an END block, and from a handler of the signals
# that would otherwise end the test without END blocks (INT TERM HUP QUIT
# PIPE ALRM; PIPE is what a test gets when prove is gone and it prints its
# next "ok").  What no handler can catch (KILL, POSIX::_exit, a crash of
# perl) is covered by the kernel: every process spawned here gets SIGTERM
# when the test process dies (PR_SET_PDEATHSIG).  An object is stopped only
# by the process that started it, never by a forked child.

use v5.36;

use Exporter qw(import);
use Config;
use Errno qw(EADDRINUSE);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(
    spawn reaped stop_pid child_pids cmdline poll_until free_port tmpdir
);


my $OWNER = $$;         # the test process (END reports, crash check)
my %LIVE;               # refaddr => object with ->stop and {owner} (its
                        # starter's PID), for the END block and signals
my %HANDED_OUT;         # ports this process already returned
my @END_CHECKS;         # [title, code] run at the end, see end_check


sub tmpdir ($tag) {
    my $keep = $ENV{WACHAT_KEEP_TMP} ? 1 : 0;
    return tempdir("wachat-$tag-XXXXXX", TMPDIR => 1, CLEANUP => !$keep);
}


# --- free ports ----------------------------------------------------------

# Binds 127.0.0.1:0, reads the port the kernel chose, closes.  Another process
# may take it before we bind it again, so starters retry with a new port when
# the server reports EADDRINUSE.
sub free_port {
    for my $try (1 .. 100) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => 0,
            Proto     => 'tcp',
            Listen    => 1,
        );
        if (!$s) {
            next if $! == EADDRINUSE;
            die "free_port: cannot bind 127.0.0.1:0: $!";
        }
        my $port = $s->sockport;
        close $s;
        next if $HANDED_OUT{$port}++;
        return $port;
    }
    die "free_port: no free port found";
}


# --- polling ---------------------------------------------------------------

# poll_until(sub { ... }, timeout => 10, interval => 0.02): calls the sub until
# it returns a true value or the deadline passes; returns that value or undef.
sub poll_until ($code, %o) {
    my $timeout  = $o{timeout}  // 10;
    my $interval = $o{interval} // 0.02;
    my $deadline = time + $timeout;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep $interval;
    }
}


# --- processes -------------------------------------------------------------

# prctl(2) syscall numbers; on other systems the parent-death signal is
# not set (the signal handlers and END still stop everything).
my %SYS_PRCTL = ('x86_64' => 157, 'aarch64' => 167, 'riscv64' => 167,
                 'i386' => 172, 'i486' => 172, 'i586' => 172, 'i686' => 172,
                 'arm' => 172, 'powerpc64' => 171, 'powerpc64le' => 171,
                 's390x' => 172);
my $SYS_PRCTL = $^O eq 'linux' && $Config{archname} =~ /^([^-]+)/ ? $SYS_PRCTL{$1} : undef;
use constant PR_SET_PDEATHSIG => 1;

# In a spawned child before exec: SIGTERM when $parent dies (it survives
# exec).  If $parent died before that, nobody would stop us: do not exec.
sub die_with_parent ($parent) {
    return unless $SYS_PRCTL;
    syscall($SYS_PRCTL, PR_SET_PDEATHSIG, POSIX::SIGTERM(), 0, 0, 0);
    POSIX::_exit(125) if getppid() != $parent;
}

# fork + exec, stdout and stderr to $out (appended); env => { NAME => value }
# is set in the child only.  The child is sent SIGTERM by the kernel if this
# process dies, however it dies.
sub spawn ($argv, %o) {
    my $out = $o{out} // '/dev/null';
    my $parent = $$;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        die_with_parent($parent);
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings qw(exec); exec { $argv->[0] } @$argv; }
        print STDERR "exec $argv->[0]: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

# Non-blocking check: has our child $pid exited?  Returns its wait status
# (or 0 if it was already reaped), undef while it runs.
sub reaped ($pid) {
    my $r = waitpid($pid, WNOHANG);
    return $? if $r == $pid;
    return 0 if $r == -1;
    return undef;
}

# TERM, wait up to $timeout, then KILL and wait.  Only for PIDs we started.
sub stop_pid ($pid, $timeout = 10, $sig = 'TERM') {
    return unless $pid;
    return if defined reaped($pid);
    kill $sig, $pid;
    return 1 if poll_until(sub { defined reaped($pid) }, timeout => $timeout);
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

# Children of $ppid (for nginx: its workers).
sub child_pids ($ppid) {
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $d (readdir $dh) {
        next unless $d =~ /^\d+$/;
        open my $fh, '<', "/proc/$d/stat" or next;
        my $stat = <$fh> // next;
        # pid (comm) state ppid ...; comm may contain spaces and parens
        next unless $stat =~ /\)\s+\S+\s+(\d+)/;
        push @kids, 0 + $d if $1 == $ppid;
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;
}

sub cmdline ($pid) {
    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    my $c = <$fh> // '';
    $c =~ tr/\0/ /;
    return $c;
}


# --- what this process started ---------------------------------------------

# register($obj): $obj->stop is called at the end and on a fatal signal;
# $obj->{stop_first} (nginx: it holds connections to redis) is stopped
# before the others; $obj->diag_logs, if it has one, runs when the test
# failed.
sub register ($obj) { $obj->{owner} //= $$; $LIVE{"$obj"} = $obj; return $obj }
sub unregister ($obj) { delete $LIVE{"$obj"} }

# Was $obj started by this process (and not by the one that forked us)?
sub mine ($obj) { ($obj->{owner} // $OWNER) == $$ }

# end_check($title, sub { ... lines ... }): after everything is stopped, at
# the end of the test process, each line the sub returns is reported under
# $title and fails the file (Wachat::Nginx: crashes and sanitizer reports).
sub end_check ($title, $code) { push @END_CHECKS, [$title, $code] }

# Stops what this process started (a forked child inherits %LIVE but must
# not stop its parent's servers).
sub stop_all {
    my @objs = grep { mine($_) } values %LIVE;
    for my $o (sort { ($b->{stop_first} ? 1 : 0) <=> ($a->{stop_first} ? 1 : 0) } @objs) {
        eval { $o->stop };
    }
}

END {
    my $rc = $?;
    if ($$ == $OWNER) {
        my $tb = eval { require Test::More; Test::More->builder };
        if ($tb && !$tb->is_passing) {
            for my $o (values %LIVE) {
                eval { $o->diag_logs } if $o->can('diag_logs');
            }
        }
        stop_all();
        for my $check (@END_CHECKS) {
            my ($title, $code) = @$check;
            my @bad = $code->() or next;
            print STDERR "# $title:\n",
                map({ "#   $_\n" } @bad[0 .. ($#bad > 40 ? 40 : $#bad)]);
            $rc ||= 1;
        }
    } else {
        stop_all();     # what a forked child started itself
    }
    $? = $rc;
}

# Signals whose default action ends the process without END blocks or
# DESTROY.  A handler stops what this process started, then exits 128+N so
# that END still runs (Test::More's summary, temp dirs removed).  A forked
# child that started nothing keeps the default action.  A signal inherited
# as ignored (nohup, a background job) stays ignored; a test that sets its
# own handler (t/nginx/hostile_input.t: PIPE IGNORE; local ALRM) overrides
# this one.
my %SIGNUM;
@SIGNUM{ split ' ', $Config{sig_name} } = split ' ', $Config{sig_num};
our $IN_HANDLER;        # a second signal while the first is handled

sub fatal_signal ($sig, @) {
    return if $IN_HANDLER;
    my $started = grep { mine($_) } values %LIVE;
    if ($$ != $OWNER && !$started) {
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
        return;
    }
    $IN_HANDLER = 1;
    # From here on a write to the closed stdout/stderr (prove is gone) only
    # fails.  Not `local`: SIGPIPE is blocked while its handler runs, so a
    # write here leaves one pending, and once `local` restored this handler
    # it would be delivered in the first END block, whose exit would skip
    # the other END blocks (File::Temp's cleanup).  Setting IGNORE drops it.
    $SIG{PIPE} = 'IGNORE';
    stop_all();
    if (${^GLOBAL_PHASE} ne 'RUN') {    # END or destruction is under way:
        $IN_HANDLER = 0;                # an exit now would cut it short
        return;
    }
    print STDERR "# Wachat::Process: SIG$sig: stopped the processes this test started\n";
    exit 128 + ($SIGNUM{$sig} // 0);
}

for my $sig (qw(INT TERM HUP QUIT PIPE ALRM)) {
    next if ($SIG{$sig} // '') eq 'IGNORE';
    $SIG{$sig} = \&fatal_signal;
}

1;
