package Wachat::RedisProxy;

# A TCP stand-in between nginx and a real redis-server, to make Redis slow
# or silent in a way a test controls.  A forked child on a free 127.0.0.1
# port, stopped by PID (see Wachat::Process).  Core Perl only.
#
#   my $p = start_redis_proxy(upstream => $redis->port, mode => 'hold');
#   ... wachat_redis 127.0.0.1:${\ $p->port};
#   $p->wait_command('SCRIPT');          # a connection sent its setup
#   $p->release;                         # held replies go out, and later ones
#   $p->set_mode('pass');                # for connections accepted from now
#   my @c = $p->commands;                # ([conn, 'SELECT'], ...)
#
# Modes, taken by a connection when it is accepted:
#   pass    both ways as they come
#   hold    the client's commands go to Redis at once, Redis's replies are
#           held back until the client sends a command named in release_on
#           (default EVALSHA and EVAL: a webhook's call; it is forwarded
#           first, then the held replies) or until release() is called
#   silent  accepted and read, never answered, no connection to Redis
#
# The child logs, one line each, as it happens: "accept <conn> <mode> <t>",
# "cmd <conn> <NAME> <t>" (every command the client sent, parsed as RESP),
# "release <conn> <t>", "close <conn> <t>"; t in seconds since the epoch.

use v5.36;

use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);

use Wachat::Files qw(slurp spew);
use Wachat::Process qw(poll_until reaped stop_pid tmpdir);

our @EXPORT_OK = qw(start_redis_proxy);


sub start_redis_proxy (%o) { Wachat::RedisProxy->new(%o) }


sub new ($class, %o) {
    my $self = bless {
        dir        => tmpdir('redis-proxy'),
        upstream   => $o{upstream},
        release_on => $o{release_on} // [qw(EVALSHA EVAL)],
    }, $class;

    # bound here, on port 0: no other process can take the port meanwhile
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 64, ReuseAddr => 1) or die "redis proxy: listen: $!";
    $self->{port} = $listen->sockport;
    $self->set_mode($o{mode} // 'pass');

    my $parent = $$;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        Wachat::Process::die_with_parent($parent);
        eval { $self->run($listen) };
        print STDERR "redis proxy: $@" if $@;
        POSIX::_exit(0);
    }
    close $listen;
    $self->{pid} = $pid;
    Wachat::Process::register($self);
    return $self;
}

sub port ($self)     { $self->{port} }
sub pid ($self)      { $self->{pid} }
sub log_file ($self) { "$self->{dir}/proxy.log" }

# For connections accepted from now on.
sub set_mode ($self, $mode) {
    die "redis proxy: unknown mode $mode" unless $mode =~ /^(pass|hold|silent)$/;
    spew("$self->{dir}/mode.tmp", $mode);
    rename "$self->{dir}/mode.tmp", "$self->{dir}/mode" or die "rename: $!";
}

# Held replies go out, and connections in hold mode hold nothing from now.
sub release ($self) { spew("$self->{dir}/release", "1") }

sub lines ($self) {
    my $log = -e $self->log_file ? slurp($self->log_file) : '';
    return map { [split ' '] } split /\n/, $log;
}

# ([conn, NAME, t], ...) in the order the client sent them
sub commands ($self) {
    return map { [@$_[1 .. 3]] } grep { $_->[0] eq 'cmd' } $self->lines;
}

# ([conn, mode, t], ...)
sub accepts ($self) {
    return map { [@$_[1 .. 3]] } grep { $_->[0] eq 'accept' } $self->lines;
}

sub wait_command ($self, $name, $timeout = 10) {
    return poll_until(sub { (grep { $_->[1] eq $name } $self->commands)[0] },
                      timeout => $timeout, interval => 0.02);
}

sub stop ($self) {
    my $pid = $self->{pid} or return;
    stop_pid($pid, 5);
    delete $self->{pid};
    return;
}

sub diag_logs ($self) {
    my @l = map { "@$_" } $self->lines;
    @l = @l[-30 .. -1] if @l > 30;
    Test::More::diag("redis proxy log ($self->{dir}):\n" . join("\n", @l)) if @l;
}

sub DESTROY ($self) {
    return unless Wachat::Process::mine($self);
    $self->stop if $self->{pid};
    Wachat::Process::unregister($self);
}


# --- the child ------------------------------------------------------------

sub run ($self, $listen) {
    $SIG{PIPE} = 'IGNORE';      # a client gone while we write to it
    open my $log, '>>', $self->log_file or die "open log: $!";
    $log->autoflush(1);
    my $say = sub (@w) { print $log join(' ', @w, sprintf('%.3f', time)), "\n" };

    my $sel = IO::Select->new($listen);
    my %release_on = map { $_ => 1 } @{ $self->{release_on} };
    my (%conn, %peer);      # fileno => connection; fileno => the other side
    my $n = 0;

    my $close = sub ($c) {
        for my $s (grep { defined } $c->{client}, $c->{up}) {
            $sel->remove($s);
            delete $peer{ fileno $s };
            close $s;
        }
        $say->('close', $c->{id});
    };
    my $to_client = sub ($c, $bytes) {
        return if $c->{mode} eq 'silent';
        if ($c->{mode} eq 'hold' && !$c->{released}) {
            $c->{held} .= $bytes;
            return;
        }
        write_all($c->{client}, $bytes);
    };
    my $release = sub ($c) {
        return if $c->{released};
        $c->{released} = 1;
        $say->('release', $c->{id});
        write_all($c->{client}, $c->{held}) if length $c->{held};
        $c->{held} = '';
    };

    while (1) {
        my @ready = $sel->can_read(0.02);
        if (-e "$self->{dir}/release") {
            $release->($_) for grep { $_->{mode} eq 'hold' } values %conn;
        }
        for my $fh (@ready) {
            if ($fh == $listen) {
                my $client = $listen->accept or next;
                my $mode = slurp("$self->{dir}/mode");
                my $c = { id => ++$n, client => $client, mode => $mode,
                          held => '', cbuf => '' };
                if ($mode ne 'silent') {
                    $c->{up} = IO::Socket::INET->new(
                        PeerAddr => '127.0.0.1', PeerPort => $self->{upstream},
                        Proto => 'tcp', Timeout => 5);
                    unless ($c->{up}) { close $client; next }
                    $peer{ fileno $c->{up} } = [$c, 'up'];
                    $sel->add($c->{up});
                }
                $peer{ fileno $client } = [$c, 'client'];
                $conn{ fileno $client } = $c;
                $sel->add($client);
                $say->('accept', $c->{id}, $mode);
                $release->($c) if $mode eq 'hold' && -e "$self->{dir}/release";
                next;
            }

            my $p = $peer{ fileno $fh } or next;
            my ($c, $side) = @$p;
            my $got = sysread($fh, my $buf, 65536);
            if (!$got) {
                delete $conn{ fileno $c->{client} };
                $close->($c);
                next;
            }
            if ($side eq 'up') {
                $to_client->($c, $buf);
                next;
            }

            $c->{cbuf} .= $buf;
            my $trigger = 0;
            for my $name (parse_commands(\$c->{cbuf})) {
                $say->('cmd', $c->{id}, $name);
                $trigger = 1 if $release_on{$name};
            }
            write_all($c->{up}, $buf) if $c->{up};
            $release->($c) if $trigger && $c->{mode} eq 'hold';
        }
    }
}

# Command names of the complete RESP arrays at the head of $$buf, which
# loses them.
sub parse_commands ($buf) {
    my @names;
    while (1) {
        pos($$buf) = 0;
        $$buf =~ /\G\*(\d+)\r\n/gc or last;
        my $n = $1;
        my @args;
        for (1 .. $n) {
            $$buf =~ /\G\$(\d+)\r\n/gc or last;
            my $len = $1;
            my $at = pos $$buf;
            last if length($$buf) < $at + $len + 2;
            push @args, substr($$buf, $at, $len);
            pos($$buf) = $at + $len + 2;
        }
        last if @args < $n;
        substr($$buf, 0, pos $$buf) = '';
        push @names, uc($args[0] // '');
    }
    pos($$buf) = undef;
    return @names;
}

sub write_all ($sock, $bytes) {
    while (length $bytes) {
        my $w = syswrite($sock, $bytes);
        return unless $w;
        substr($bytes, 0, $w) = '';
    }
}

1;
