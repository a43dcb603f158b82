package Wachat::Redis;

# A real redis-server for one test: a free loopback port, its own temp dir,
# nothing persisted, stopped by PID (see Wachat::Process).  Commands go
# through the minimal RESP client Wachat::Redis::RESP.  Core Perl only.
#
#   my $redis = start_redis();                     # password =>, unixsocket => 1
#   $redis->cmd('SET', 'k', 'v');
#   my @e = $redis->xrange('wachat:events');      # ({ id, fields => {...} })
#   $redis->restart;                              # same port, empty data
#   $redis->crash;                                # kill -9

use v5.36;

use Exporter qw(import);

use Wachat::Redis::RESP;

our @EXPORT_OK = qw(start_redis);


sub start_redis (%o) { Wachat::Redis::Server->new(%o) }


package Wachat::Redis::Server;

use v5.36;

use Wachat::Files qw(slurp);
use Wachat::Process qw(free_port poll_until reaped spawn stop_pid tmpdir);

sub new ($class, %o) {
    my $self = bless {
        dir        => tmpdir('redis'),
        password   => $o{password},
        unixsocket => $o{unixsocket},
        args       => $o{args} // [],
        env        => $o{env} // {},
        port       => $o{port},
        fixed_port => defined $o{port},
    }, $class;
    $self->{socket_path} = "$self->{dir}/redis.sock" if $o{unixsocket};
    Wachat::Process::register($self);
    $self->start;
    return $self;
}

sub port ($self)  { $self->{port} }
sub pid ($self)   { $self->{pid} }
sub dir ($self)   { $self->{dir} }
sub socket_path ($self) { $self->{socket_path} }
sub log_file ($self) { "$self->{dir}/redis.log" }

sub start ($self) {
    die "redis already running" if $self->{pid};
    for my $try (1 .. 5) {
        $self->{port} //= free_port();
        my @argv = ('redis-server',
            '--port', $self->{port}, '--bind', '127.0.0.1',
            '--save', '', '--appendonly', 'no', '--daemonize', 'no',
            '--dir', $self->{dir}, '--logfile', '');
        push @argv, '--requirepass', $self->{password} if defined $self->{password};
        push @argv, '--unixsocket', $self->{socket_path}, '--unixsocketperm', '700'
            if $self->{socket_path};
        push @argv, @{ $self->{args} };
        my $pid = spawn(\@argv, out => $self->log_file, env => $self->{env});
        $self->{pid} = $pid;

        my $state = poll_until(sub {
            return 'dead' if defined reaped($pid);
            my $c = eval { $self->new_client(no_auth => 1, timeout => 2) } or return;
            my $r = eval { $c->command('PING') };
            $c->close;
            # NOAUTH also proves it serves requests
            return defined $r ? 'up' : undef;
        }, timeout => 15);

        return $self if ($state // '') eq 'up';
        if (($state // '') ne 'dead') {
            stop_pid($pid, 5);
        }
        delete $self->{pid};
        my $log = slurp($self->log_file);
        if ($log =~ /Address already in use/ && !$self->{fixed_port} && $try < 5) {
            delete $self->{port};
            next;
        }
        die "redis-server did not start on port $self->{port}:\n$log";
    }
}

# The PID is forgotten only once the process is gone: a signal handler that
# interrupts this stop must still find it to stop.
sub stop ($self) {
    $self->{client}->close if $self->{client};
    delete $self->{client};
    my $pid = $self->{pid} or return;
    stop_pid($pid, 10);
    delete $self->{pid};
    return;
}

# kill -9: no shutdown, nothing flushed, connections reset by the kernel.
sub crash ($self) {
    $self->{client}->close if $self->{client};
    delete $self->{client};
    my $pid = $self->{pid} or return;
    stop_pid($pid, 10, 'KILL');
    delete $self->{pid};
    return;
}

# Same port, same dir (the data is not persisted: --save "").
sub restart ($self) {
    $self->stop;
    $self->{fixed_port} = 1;
    $self->start;
}

sub new_client ($self, %o) {
    return Wachat::Redis::RESP->new(
        ($self->{socket_path} && $o{unix}
            ? (path => $self->{socket_path})
            : (host => '127.0.0.1', port => $self->{port})),
        timeout  => $o{timeout} // 10,
        password => $o{no_auth} ? undef : $self->{password},
        db       => $o{db},
    );
}

sub client ($self) {
    $self->{client} = $self->new_client if !$self->{client} || !$self->{client}->connected;
    return $self->{client};
}

# One command on the shared connection; one reconnect if the connection broke
# (redis restarted).  Error replies come back as Wachat::Redis::RESP::Error.
sub cmd ($self, @args) {
    my $r = eval { $self->client->command(@args) };
    return $r unless $@;
    my $e = $@;
    die $e if $e =~ /timeout/;
    delete $self->{client};
    return $self->client->command(@args);
}

# XRANGE stream - + as ({ id, fields => { name => value }, list => [..] }).
sub xrange ($self, $stream, %o) {
    my $c = defined $o{db} ? $self->new_client(db => $o{db}) : $self->client;
    my $r = $c->command('XRANGE', $stream, '-', '+');
    die "XRANGE: $r" if ref $r eq 'Wachat::Redis::RESP::Error';
    my @out;
    for my $e (@{ $r // [] }) {
        my ($id, $kv) = @$e;
        my %f;
        my @list = @$kv;
        for (my $i = 0; $i < @list; $i += 2) { $f{ $list[$i] } = $list[$i + 1] }
        push @out, { id => $id, fields => \%f, list => \@list };
    }
    $c->close if defined $o{db};
    return @out;
}

sub xlen ($self, $stream) { $self->cmd('XLEN', $stream) }

sub diag_logs ($self) {
    my $log = eval { slurp($self->log_file) } // '';
    my @l = split /\n/, $log;
    @l = @l[-20 .. -1] if @l > 20;
    Test::More::diag("redis log ($self->{dir}):\n" . join("\n", @l)) if @l;
}

sub DESTROY ($self) {
    return unless Wachat::Process::mine($self);
    $self->stop if $self->{pid};
    Wachat::Process::unregister($self);
}

1;
