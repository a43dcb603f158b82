package Wachat::Sentinel;

# A Redis Sentinel deployment for one test: a primary and its replicas
# (real redis-server, Wachat::Redis) watched by real redis-sentinel
# processes, all on free loopback ports, each in its own temp dir, stopped
# by PID.  Core Perl only.
#
#   my $ha = start_sentinels(replicas => 1, sentinels => 3);
#   $ha->primary;                     # the Wachat::Redis::Server it is now
#   $ha->directive;                   # "sentinel=127.0.0.1:P,... master=wachat"
#   $ha->failover;                    # SENTINEL FAILOVER, waits for the switch
#   $ha->crash_primary;               # kill -9 of the primary, waits likewise
#   $ha->rejoin($srv);                # a crashed server back, as a replica
#
# The master name is "wachat"; down-after is short (1 s) so that a test
# sees a failover within a few seconds.

use v5.36;

use Exporter qw(import);

use Wachat::Redis qw(start_redis);
use Wachat::Redis::RESP;

our @EXPORT_OK = qw(start_sentinels);


sub start_sentinels (%o) { Wachat::Sentinel::Set->new(%o) }


package Wachat::Sentinel::Set;

use v5.36;

use Wachat::Files qw(slurp spew);
use Wachat::Process qw(free_port poll_until reaped spawn stop_pid tmpdir);
use Wachat::Redis qw(start_redis);

sub new ($class, %o) {
    my $self = bless {
        master     => $o{master} // 'wachat',
        down_after => $o{down_after} // 1000,
        password   => $o{sentinel_password},
        quorum     => $o{quorum} // 2,
        sentinels  => [],
    }, $class;

    # a replica's full sync starts at once, not after diskless-sync's 5 s;
    # min_replicas => N: a primary with fewer replicas refuses writes
    my @fast = ('--repl-diskless-sync-delay', '0',
                $o{min_replicas} ? ('--min-replicas-to-write', $o{min_replicas},
                                    '--min-replicas-max-lag', 10) : ());
    $self->{server_args} = \@fast;
    my $primary = start_redis(%{ $o{redis} // {} }, args => [@fast]);
    $self->{servers} = [$primary];
    for (1 .. $o{replicas} // 1) {
        push @{ $self->{servers} }, start_redis(%{ $o{redis} // {} },
            args => [@fast, '--replicaof', '127.0.0.1', $primary->port]);
    }
    $self->wait_replicas_in_sync($primary, $o{replicas} // 1);

    Wachat::Process::register($self);
    for (1 .. $o{sentinels} // 3) {
        push @{ $self->{sentinels} }, $self->start_one;
    }
    $self->wait_settled($primary);
    return $self;
}

sub master ($self)    { $self->{master} }
sub servers ($self)   { @{ $self->{servers} } }
sub sentinels ($self) { @{ $self->{sentinels} } }

# sentinel=127.0.0.1:P1,... master=wachat, as wachat_redis and wachatd's
# redis key take it
sub directive ($self) {
    return 'sentinel=' . join(',', map { "127.0.0.1:$_->{port}" } $self->sentinels)
         . " master=$self->{master}";
}

sub start_one ($self) {
    my $s = { dir => tmpdir('sentinel') };
    for my $try (1 .. 5) {
        $s->{port} = free_port();
        my $conf = "$s->{dir}/sentinel.conf";
        my $primary = $self->{servers}[0];
        spew($conf, join "\n",
            "port $s->{port}", 'bind 127.0.0.1', 'daemonize no',
            "dir $s->{dir}", 'logfile ""',
            "sentinel monitor $self->{master} 127.0.0.1 " . $primary->port . " $self->{quorum}",
            "sentinel down-after-milliseconds $self->{master} $self->{down_after}",
            "sentinel failover-timeout $self->{master} 10000",
            "sentinel parallel-syncs $self->{master} 1",
            (defined $self->{password} ? "requirepass $self->{password}" : ()),
            '');
        $s->{pid} = spawn(['redis-sentinel', $conf], out => "$s->{dir}/sentinel.log");
        my $state = poll_until(sub {
            return 'dead' if defined reaped($s->{pid});
            my $r = eval { $self->ask($s, 'PING') };
            return defined $r ? 'up' : undef;
        }, timeout => 15);
        return $s if ($state // '') eq 'up';
        stop_pid($s->{pid}, 5) if ($state // '') ne 'dead';
        my $log = slurp("$s->{dir}/sentinel.log");
        next if $log =~ /Address already in use/ && $try < 5;
        die "redis-sentinel did not start on port $s->{port}:\n$log";
    }
}

# One command to one sentinel, on a fresh connection.
sub ask ($self, $s, @cmd) {
    my $c = Wachat::Redis::RESP->new(host => '127.0.0.1', port => $s->{port},
                                     timeout => 5, password => $self->{password});
    my $r = $c->command(@cmd);
    $c->close;
    return $r;
}

# The primary's "host:port" as the sentinels see it, when they all agree.
sub named ($self) {
    my %seen;
    for my $s ($self->sentinels) {
        my $r = eval { $self->ask($s, 'SENTINEL', 'get-master-addr-by-name', $self->{master}) };
        return undef unless ref $r eq 'ARRAY';
        $seen{"$r->[0]:$r->[1]"}++;
    }
    my @a = keys %seen;
    return @a == 1 ? $a[0] : undef;
}

# The server the sentinels name as primary.
sub primary ($self) {
    my $addr = $self->named or return undef;
    my ($port) = $addr =~ /:(\d+)$/;
    my ($srv) = grep { $_->port == $port } $self->servers;
    return $srv;
}

sub role ($self, $srv) {
    my $r = eval { $srv->new_client(timeout => 2)->command('ROLE') };
    return ref $r eq 'ARRAY' ? $r->[0] : undef;
}

# $n replicas online and caught up with all the primary wrote (a kill -9 of
# the primary then loses nothing it acknowledged).
sub wait_replicas_in_sync ($self, $primary, $n) {
    # what the primary had written when the wait began: the sentinels'
    # hello messages (PUBLISH, replicated) move its offset every second or
    # so, faster than a replica acknowledges, so "the current offset" may
    # never be caught up with at the moment of a look
    my ($at, $info);
    poll_until(sub {
        $info = eval { $primary->cmd('INFO', 'replication') } // '';
        ($at) = $info =~ /^master_repl_offset:(\d+)/m unless defined $at;
        my $synced = () = grep { defined $at && $_ >= $at }
                          $info =~ /^slave\d+:.*state=online.*offset=(\d+)/mg;
        return $synced >= $n;
    }, timeout => 60) or die "the replicas did not sync with the primary (offset "
        . ($at // '?') . "):\n$info\n" . join '', map {
            my $log = eval { slurp($_->log_file) } // '';
            "--- " . $_->log_file . "\n" . join("\n", grep { defined } (split /\n/, $log)[-15 .. -1]) . "\n"
        } grep { defined } $self->servers;
}

# Every sentinel knows the others and the replicas: a failover can happen.
sub wait_settled ($self, $primary) {
    my $n = @{ $self->{sentinels} };
    my $nrep = @{ $self->{servers} } - 1;
    poll_until(sub {
        for my $s ($self->sentinels) {
            my $others = eval { $self->ask($s, 'SENTINEL', 'sentinels', $self->{master}) };
            my $reps = eval { $self->ask($s, 'SENTINEL', 'replicas', $self->{master}) };
            return 0 unless ref $others eq 'ARRAY' && @$others == $n - 1;
            return 0 unless ref $reps eq 'ARRAY' && @$reps == $nrep;
        }
        return ($self->named // '') eq '127.0.0.1:' . $primary->port;
    }, timeout => 60, interval => 0.2) or die "the sentinels did not settle:\n" . $self->logs;
}

# SENTINEL FAILOVER (no agreement needed) and wait until every sentinel names
# another server and that server says it is the primary.
sub failover ($self, %o) {
    my $old = $self->named // die "no primary named";
    my $r = $self->ask($self->{sentinels}[0], 'SENTINEL', 'FAILOVER', $self->{master});
    die "SENTINEL FAILOVER: $r" if ref $r eq 'Wachat::Redis::RESP::Error';
    return $self->wait_switched($old, %o);
}

# kill -9 of the primary; waits for the sentinels to promote a replica.
sub crash_primary ($self, %o) {
    my $srv = $self->primary // die "no primary named";
    my $old = $self->named;
    $srv->crash;
    return $self->wait_switched($old, %o) if $o{wait} // 1;
    return $srv;
}

# A crashed server started again on its port, as a replica of the primary.
sub rejoin ($self, $srv) {
    my $primary = $self->primary // die "no primary named";
    $srv->{args} = [@{ $self->{server_args} }, '--replicaof', '127.0.0.1', $primary->port];
    $srv->{fixed_port} = 1;
    $srv->start;
    $self->wait_replicas_in_sync($primary, 1);
    return $srv;
}

sub wait_switched ($self, $old, %o) {
    my $new = poll_until(sub {
        my $now = $self->named or return undef;
        return undef if $now eq $old;
        my $srv = $self->primary or return undef;
        return ($self->role($srv) // '') eq 'master' ? $srv : undef;
    }, timeout => $o{timeout} // 60, interval => 0.05);
    die "no failover away from $old:\n" . $self->logs unless $new;
    return $new;
}

sub logs ($self) {
    my $out = '';
    for my $s ($self->sentinels) {
        my @l = split /\n/, eval { slurp("$s->{dir}/sentinel.log") } // '';
        @l = @l[-15 .. -1] if @l > 15;
        $out .= "sentinel $s->{port}:\n" . join("\n", @l) . "\n";
    }
    return $out;
}

sub stop ($self) {
    for my $s (grep { defined } @{ $self->{sentinels} // [] }) {
        stop_pid($s->{pid}, 10) if $s->{pid};
        delete $s->{pid};
    }
    $_->stop for grep { defined } @{ $self->{servers} // [] };
    return;
}

sub DESTROY ($self) {
    return unless Wachat::Process::mine($self);
    $self->stop;
    Wachat::Process::unregister($self);
}

1;
