package Wachat::Server;

# What the stand-in servers (Wachat::SMTP, Wachat::Standin) share: a
# 127.0.0.1 listener bound before the fork, a forked child that serves
# every connection from one select loop, stop by PID, and the JSON-lines
# event log the child writes and the parent reads.  Core Perl only, and
# not tied to Wachat::Process (t/wachatd/http_clients_unit.t runs without
# it).  However the test process ends, the child follows within a loop
# turn: it exits when orphaned, as PR_SET_PDEATHSIG makes Wachat::Process's
# spawned processes do.
#
# A subclass names itself (_tag) and says what its child does (_input is
# required; by default the others do nothing and the select waits 0.2 s):
#   _state           more fields of $self->{state}, the child's state
#   _turn            at the top of every loop turn: its chores, then the
#                    longest select wait
#   _selected        after each select, before any socket is served
#   _connected($c)   a new connection { sock, in, out, close_after }
#   _input($c)       bytes were added to $c->{in}
#   _drained($c)     $c->{out} is all sent and the connection stays open
#   _closed($c)      $c was closed

use v5.36;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

# Bytes in, bytes out: each byte is one character of the JSON text, so
# raw message bytes survive the round trip.
my $JSON = JSON::PP->new->utf8->canonical;


# --- parent side -----------------------------------------------------------

sub _new_dir ($class) {
    my $tag = $class->_tag;
    return tempdir("wachat-$tag-XXXXXX", TMPDIR => 1,
                   CLEANUP => !$ENV{WACHAT_KEEP_TMP});
}

# Creates each file empty (the child appends; the parent may read at once).
sub _touch ($self, @files) {
    for my $f (@files) {
        open my $fh, '>', $f or die $self->_tag . ": $f: $!";
        close $fh;
    }
}

# Binds, forks the child, returns $self.  Bound before the fork: the port
# is ours when start() returns.  A given port that a stopped server gave
# back may linger a moment: retry briefly.
sub _launch ($self, %o) {
    my $tag = $self->_tag;
    my $listen;
    my $deadline = time + 5;
    while (1) {
        $listen = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $o{port} // 0,
            Proto     => 'tcp',
            Listen    => $o{backlog},
            ReuseAddr => 1,
        );
        last if $listen || !$o{port} || time >= $deadline;
        sleep 0.05;
    }
    die "$tag: listen: $!" unless $listen;
    $self->{port} = $listen->sockport;

    # only the process that started the server stops it, not a forked child
    my $parent = $self->{owner} = $$;
    my $pid = fork;
    die "$tag: fork: $!" unless defined $pid;
    if ($pid == 0) {
        eval { $self->_serve($listen, $parent) };
        print STDERR "$tag: $@" if $@;
        POSIX::_exit(0);
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port ($self)     { $self->{port} }
sub pid ($self)      { $self->{pid} }
sub dir ($self)      { $self->{dir} }
sub log_file ($self) { $self->{log} }

# Every recorded event, in order; complete lines only.
sub events ($self) {
    open my $fh, '<', $self->{log} or return ();
    my @e;
    while (my $line = <$fh>) {
        last unless $line =~ /\n\z/;            # being written
        my $e = eval { $JSON->decode($line) } or next;
        push @e, $e;
    }
    close $fh;
    return @e;
}

# Calls $list until it returns at least $n items or $timeout seconds
# passed; returns its last answer either way.
sub _wait_for ($self, $n, $timeout, $interval, $list) {
    my $deadline = time + $timeout;
    while (1) {
        my @l = $list->();
        return @l if @l >= $n || time >= $deadline;
        sleep $interval;
    }
}

# TERM, wait (KILL after 5 s).  The port is closed afterwards.  As in
# Wachat::Process, the PID is forgotten only once the child is gone: a stop
# cut short by a signal is done again by DESTROY.
sub stop ($self) {
    my $pid = $self->{pid} or return;
    return unless $$ == $self->{owner};
    kill 'TERM', $pid;
    my $deadline = time + 5;
    until (waitpid($pid, POSIX::WNOHANG()) != 0) {
        if (time >= $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            last;
        }
        sleep 0.02;
    }
    delete $self->{pid};
}

sub DESTROY ($self) { $self->stop }


# --- child side ------------------------------------------------------------

sub _serve ($self, $listen, $parent) {
    $SIG{PIPE} = 'IGNORE';
    $SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0) };
    $listen->blocking(0);

    # The test's other descriptors (pipes to children, client sockets) must
    # not stay open here: a held pipe end hides an EOF from the test.  They
    # become /dev/null rather than closed, so a Perl handle that still owns
    # the number can never close one of our sockets later.
    my $keep = fileno $listen;
    my $null = POSIX::open('/dev/null', POSIX::O_RDWR());
    if (defined $null && opendir my $dh, '/proc/self/fd') {
        my @fds = grep { /^\d+$/ && $_ > 2 && $_ != $keep && $_ != $null }
                  readdir $dh;
        closedir $dh;
        POSIX::dup2($null, $_) for @fds;
    }

    open my $log, '>>', $self->{log} or die "log: $!";
    $log->autoflush(1);
    my $st = $self->{state} = { log => $log, conns => {} };
    %$st = (%$st, $self->_state);

    while (1) {
        POSIX::_exit(0) if getppid() != $parent;   # orphaned: go away
        my $wait = $self->_turn;
        my $r = IO::Select->new($listen);
        my $w = IO::Select->new;
        for my $c (values %{ $st->{conns} }) {
            $r->add($c->{sock});
            $w->add($c->{sock}) if length $c->{out};
        }
        my ($rd, $wr) = IO::Select->select($r, $w, undef, $wait);
        $self->_selected;

        # a socket closed earlier in this turn has no fileno any more
        for my $s (@{ $wr // [] }) {
            my $fd = fileno($s) // next;
            my $c = $st->{conns}{$fd} or next;
            $self->_write($c);
        }
        for my $s (@{ $rd // [] }) {
            if ($s == $listen) {
                $self->_accept($listen);
                next;
            }
            my $fd = fileno($s) // next;
            my $c = $st->{conns}{$fd} or next;
            $self->_read($c);
        }
    }
}

# The hooks' defaults.
sub _state ($self)         { () }
sub _turn ($self)          { 0.2 }
sub _selected ($self)      { }
sub _connected ($self, $c) { }
sub _drained ($self, $c)   { }
sub _closed ($self, $c)    { }

# One JSON line, one write: the parent never reads half an event.
sub _record ($self, %e) {
    $e{t} //= time;
    syswrite $self->{state}{log}, $JSON->encode(\%e) . "\n";
}

sub _accept ($self, $listen) {
    while (my $s = $listen->accept) {
        $s->blocking(0);
        my $c = { sock => $s, in => '', out => '', close_after => 0 };
        $self->{state}{conns}{ fileno($s) } = $c;
        $self->_connected($c);
    }
}

sub _close ($self, $c) {
    my $fd = fileno($c->{sock}) // return;      # closed already
    delete $self->{state}{conns}{$fd};
    $self->_closed($c);
    close $c->{sock};
}

sub _read ($self, $c) {
    my $n = sysread($c->{sock}, my $buf, 65536);
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        return $self->_close($c);
    }
    return $self->_close($c) if $n == 0;
    $c->{in} .= $buf;
    $self->_input($c);
}

sub _write ($self, $c) {
    while (length $c->{out}) {
        my $n = syswrite($c->{sock}, $c->{out});
        if (!defined $n) {
            return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            return $self->_close($c);
        }
        substr($c->{out}, 0, $n, '');
    }
    return $self->_close($c) if $c->{close_after};
    $self->_drained($c);
}

1;
