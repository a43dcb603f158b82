package Wachat::Test;

# The integration harness: a real redis-server and the real nginx loading the
# built module, each on a free loopback port with its own temp dir, plus a raw
# HTTP client and a minimal RESP client.  Core Perl only.
#
#   my $redis = start_redis();
#   my $nginx = start_nginx(redis => $redis);
#   my $res   = $nginx->post_signed($body);        # { status, headers, body }
#   my @e     = $redis->xrange('wachat:events');   # ({ id, fields => {...} })
#
# Everything started here is stopped by PID (TERM, wait, KILL after a
# deadline) when its object is stopped or destroyed, in an END block, and
# from a handler of the signals that would otherwise end the test without
# END blocks (INT TERM HUP QUIT PIPE ALRM; PIPE is what a test gets when
# prove is gone and it prints its next "ok").  What no handler can catch
# (KILL, POSIX::_exit, a crash of perl) is covered by the kernel: every
# process spawned here gets SIGTERM when the test process dies
# (PR_SET_PDEATHSIG).  An object is stopped only by the process that
# started it, never by a forked child.

use v5.36;

use Exporter qw(import);
use Config;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use Errno qw(EADDRINUSE EINTR EAGAIN EWOULDBLOCK EINPROGRESS);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use Wachat::Test::RESP;

our @EXPORT = qw(
    root_dir fixture fixture_path module_path nginx_binary
    free_port poll_until rand_token
    start_redis start_nginx nginx_t wachat_location
    http_request http_send http_read sign_body
    slurp spew
);


my $ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..', '..'));

my $OWNER = $$;         # the test process (END reports, crash check)
my %LIVE;               # refaddr => object with ->stop and {owner} (its
                        # starter's PID), for the END block and signals
my %HANDED_OUT;         # ports this process already returned


sub root_dir { $ROOT }

sub module_path {
    my $p = $ENV{WACHAT_MODULE} // "$ROOT/build/ngx_http_wachat_module.so";
    return abs_path($p) // $p;
}

sub nginx_binary { $ENV{WACHAT_NGINX} // '/usr/sbin/nginx' }

# Environment of nginx processes only: WACHAT_NGINX_PRELOAD (make test-asan)
# lists the sanitizer runtimes the instrumented module needs preloaded.
sub nginx_env {
    my $pre = $ENV{WACHAT_NGINX_PRELOAD};
    return {} unless defined $pre && length $pre;
    return { LD_PRELOAD => join ' ', grep { length } $pre, $ENV{LD_PRELOAD} // '' };
}

sub fixture_path ($name) {
    $name .= '.json' unless $name =~ /\.[a-z]+$/;
    return "$ROOT/t/fixtures/$name";
}

# The bytes of a fixture, as they are POSTed.  One trailing newline (editors
# add it) is not part of the body Meta would send.
sub fixture ($name) {
    my $b = slurp(fixture_path($name));
    $b =~ s/\n\z//;
    return $b;
}

sub slurp ($path) {
    open my $fh, '<:raw', $path or die "open $path: $!";
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub spew ($path, $data, $mode = undef) {
    open my $fh, '>:raw', $path or die "open $path: $!";
    print {$fh} $data or die "write $path: $!";
    close $fh or die "close $path: $!";
    chmod $mode, $path if defined $mode;
    return $path;
}

sub rand_token ($len = 24) {
    my @c = ('a' .. 'z', 'A' .. 'Z', '0' .. '9');
    return join '', map { $c[int rand @c] } 1 .. $len;
}

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

sub register ($obj) { $obj->{owner} //= $$; $LIVE{"$obj"} = $obj; return $obj }
sub unregister ($obj) { delete $LIVE{"$obj"} }

# Stops what this process started (a forked child inherits %LIVE but must
# not stop its parent's servers).
sub stop_all {
    my @objs = grep { ($_->{owner} // $OWNER) == $$ } values %LIVE;
    # nginx first: it holds connections to redis
    for my $o (sort { ($b->isa('Wachat::Test::Nginx') <=> $a->isa('Wachat::Test::Nginx')) } @objs) {
        eval { $o->stop };
    }
}

# Lines that mean a process crashed or a sanitizer found a bug.
my $CRASH_RE = qr/exited on signal|AddressSanitizer|LeakSanitizer|runtime error:|segfault/;

my @NGINX_SEEN;     # every nginx started, for the crash check at the end

sub crash_lines {
    my @bad;
    for my $n (@NGINX_SEEN) {
        for my $f ($n->error_log_file, "$n->{prefix}/stderr.log") {
            next unless -e $f;
            push @bad, map { "$f: $_" } grep { /$CRASH_RE/ } split /\n/, slurp($f);
        }
    }
    return @bad;
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
        # a worker crash or a sanitizer report anywhere fails the file, even
        # when no assertion looked at that log
        if (my @bad = crash_lines()) {
            print STDERR "# crash or sanitizer report in nginx logs:\n",
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
# own handler (hostile.t: PIPE IGNORE; local ALRM) overrides this one.
my %SIGNUM;
@SIGNUM{ split ' ', $Config{sig_name} } = split ' ', $Config{sig_num};
our $IN_HANDLER;        # a second signal while the first is handled

sub fatal_signal ($sig, @) {
    return if $IN_HANDLER;
    my $mine = grep { ($_->{owner} // $OWNER) == $$ } values %LIVE;
    if ($$ != $OWNER && !$mine) {
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
    print STDERR "# Wachat::Test: SIG$sig: stopped the processes this test started\n";
    exit 128 + ($SIGNUM{$sig} // 0);
}

for my $sig (qw(INT TERM HUP QUIT PIPE ALRM)) {
    next if ($SIG{$sig} // '') eq 'IGNORE';
    $SIG{$sig} = \&fatal_signal;
}


# --- redis -----------------------------------------------------------------

sub start_redis (%o) { Wachat::Test::Redis->new(%o) }


# --- nginx -----------------------------------------------------------------

sub start_nginx (%o) { Wachat::Test::Nginx->new(%o) }

# The location block of a webhook endpoint.
#   wachat_location(path => '/whatsapp', token => T, secret => S, extra => '...')
# token/secret undef: directive left out; secret_file => P uses the _file form.
sub wachat_location (%o) {
    my $path = $o{path} // '/whatsapp';
    my $conf = "        location = $path {\n            wachat;\n";
    $conf .= qq{            wachat_verify_token "$o{token}";\n} if defined $o{token};
    $conf .= qq{            wachat_app_secret "$o{secret}";\n} if defined $o{secret};
    $conf .= qq{            wachat_app_secret_file "$o{secret_file}";\n} if defined $o{secret_file};
    $conf .= join '', map { "            $_\n" } split /\n/, $o{extra} if defined $o{extra};
    $conf .= "        }\n";
    return $conf;
}

# nginx -t on a generated configuration: returns (exit code, output).
# Takes the options of start_nginx (locations, http_extra, redis, ...).
sub nginx_t (%o) {
    my $n = Wachat::Test::Nginx->prepare(%o);
    my $out = "$n->{prefix}/nginx-t.out";
    my $pid = spawn([nginx_binary(), '-t', '-p', "$n->{prefix}/", '-c', $n->{conf},
                     '-e', "$n->{prefix}/error.log"], out => $out, env => nginx_env());
    my $status;
    poll_until(sub { defined($status = reaped($pid)) }, timeout => 30)
        or do { stop_pid($pid, 1, 'KILL'); die "nginx -t did not finish" };
    my $text = slurp($out);
    return ($status >> 8, $text);
}


# --- HTTP ------------------------------------------------------------------

sub sign_body ($body, $secret) { 'sha256=' . hmac_sha256_hex($body, $secret) }

# Opens a connection and writes one request; returns a handle for http_read.
#   port, method (GET), path (/), headers => [name => value, ...],
#   body (bytes; Content-Length added unless a length or chunked header is
#   given), raw => bytes sent instead of a generated request,
#   partial => 1 to skip the body (headers only).
sub http_send (%o) {
    my $port = $o{port} or die "http_send: no port";
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $o{timeout} // 10,
    ) or die "connect 127.0.0.1:$port: $!";
    binmode $sock;
    $sock->autoflush(1);

    my $req = $o{raw} // request_bytes(%o, port => $port);
    write_all($sock, $req, $o{timeout} // 10);
    return { sock => $sock, method => uc($o{method} // 'GET'), started => time };
}

sub request_bytes (%o) {
    my $method = uc($o{method} // 'GET');
    my $path   = $o{path} // '/';
    my @h      = @{ $o{headers} // [] };
    my %seen;
    for (my $i = 0; $i < @h; $i += 2) { $seen{ lc $h[$i] } = 1 }
    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: 127.0.0.1:$o{port}\r\n" unless $seen{host};
    $req .= "Connection: close\r\n" unless $seen{connection};
    for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i + 1]\r\n" }
    if (defined $o{body} && !$seen{'content-length'} && !$seen{'transfer-encoding'}) {
        $req .= 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body} && !$o{partial};
    return $req;
}

sub write_all ($sock, $data, $timeout = 10) {
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $data) {
        my $left = $deadline - time;
        die "write timeout" if $left <= 0;
        next unless $sel->can_write($left);
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            die "write: $!";
        }
        $off += $n;
    }
    return $off;
}

# Reads the whole answer (the server closes: Connection: close).
# Returns { status, reason, headers => { lc name => value }, body, raw,
# elapsed, answered_at }; status 0 and error => ... if nothing came.
sub http_read ($c, %o) {
    my $timeout  = $o{timeout} // 10;
    my $deadline = time + $timeout;
    my $sock     = $c->{sock};
    my $sel      = IO::Select->new($sock);
    my $buf      = '';
    my $first_at;
    my $err;
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) { $err = 'timeout'; last }
        next unless $sel->can_read($left);
        my $n = sysread($sock, $buf, 65536, length $buf);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $err = "read: $!";
            last;
        }
        last if $n == 0;
        $first_at //= time;
        # A complete answer with a Content-Length is enough.
        if ($buf =~ /\r\n\r\n/ && (my $r = parse_response($buf, $c->{method}))) {
            if (defined $r->{headers}{'content-length'}
                && length($r->{body}) >= $r->{headers}{'content-length'}) {
                last;
            }
        }
    }
    close $sock;
    my $res = parse_response($buf, $c->{method})
        // { status => 0, headers => {}, body => '', raw => $buf };
    $res->{error}       = $err if $err && !$res->{status};
    $res->{elapsed}     = time - $c->{started};
    $res->{answered_at} = $first_at;
    return $res;
}

sub parse_response ($buf, $method = 'GET') {
    my $end = index($buf, "\r\n\r\n");
    return undef if $end < 0;
    my ($status_line, @lines) = split /\r\n/, substr($buf, 0, $end);
    return undef unless $status_line =~ m{^HTTP/\d\.\d (\d{3})(?: (.*))?$};
    my %res = (status => 0 + $1, reason => $2 // '', raw => $buf);
    my (%h, @list);
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        push @list, [$k, $v];
        $h{ lc $k } = exists $h{ lc $k } ? "$h{lc $k}, $v" : $v;
    }
    $res{headers}     = \%h;
    $res{header_list} = \@list;
    my $body = substr($buf, $end + 4);
    $body = '' if $method eq 'HEAD';
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    $res{body} = $body;
    return \%res;
}

sub http_request (%o) {
    my $c = http_send(%o);
    return http_read($c, %o);
}


# ===========================================================================

package Wachat::Test::Redis;

use v5.36;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

sub new ($class, %o) {
    my $self = bless {
        dir        => Wachat::Test::tmpdir('redis'),
        password   => $o{password},
        unixsocket => $o{unixsocket},
        args       => $o{args} // [],
        port       => $o{port},
        fixed_port => defined $o{port},
    }, $class;
    $self->{socket_path} = "$self->{dir}/redis.sock" if $o{unixsocket};
    Wachat::Test::register($self);
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
        $self->{port} //= Wachat::Test::free_port();
        my @argv = ('redis-server',
            '--port', $self->{port}, '--bind', '127.0.0.1',
            '--save', '', '--appendonly', 'no', '--daemonize', 'no',
            '--dir', $self->{dir}, '--logfile', '');
        push @argv, '--requirepass', $self->{password} if defined $self->{password};
        push @argv, '--unixsocket', $self->{socket_path}, '--unixsocketperm', '700'
            if $self->{socket_path};
        push @argv, @{ $self->{args} };
        my $pid = Wachat::Test::spawn(\@argv, out => $self->log_file);
        $self->{pid} = $pid;

        my $state = Wachat::Test::poll_until(sub {
            return 'dead' if defined Wachat::Test::reaped($pid);
            my $c = eval { $self->new_client(no_auth => 1, timeout => 2) } or return;
            my $r = eval { $c->command('PING') };
            $c->close;
            # NOAUTH also proves it serves requests
            return defined $r ? 'up' : undef;
        }, timeout => 15);

        return $self if ($state // '') eq 'up';
        if (($state // '') ne 'dead') {
            Wachat::Test::stop_pid($pid, 5);
        }
        delete $self->{pid};
        my $log = Wachat::Test::slurp($self->log_file);
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
    Wachat::Test::stop_pid($pid, 10);
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
    return Wachat::Test::RESP->new(
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
# (redis restarted).  Error replies come back as Wachat::Test::RESP::Error.
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
    die "XRANGE: $r" if ref $r eq 'Wachat::Test::RESP::Error';
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
    my $log = eval { Wachat::Test::slurp($self->log_file) } // '';
    my @l = split /\n/, $log;
    @l = @l[-20 .. -1] if @l > 20;
    Test::More::diag("redis log ($self->{dir}):\n" . join("\n", @l)) if @l;
}

sub DESTROY ($self) {
    return unless ($self->{owner} // $OWNER) == $$;
    $self->stop if $self->{pid};
    Wachat::Test::unregister($self);
}


# ===========================================================================

package Wachat::Test::Nginx;

use v5.36;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

# Options:
#   redis => $redis | redis_directive => 'wachat_redis ...;' | no_redis => 1
#   token, secret            (random by default)
#   locations => '...'       (server body; default: one wachat_location)
#   http_extra, server_extra, main_extra
#   worker_processes         (default 1)
#   port                     (default: a free one)
sub prepare ($class, %o) {
    my $self = bless {
        prefix           => Wachat::Test::tmpdir('nginx'),
        token            => $o{token}  // 'vt-' . Wachat::Test::rand_token(20),
        secret           => $o{secret} // 'as-' . Wachat::Test::rand_token(32),
        worker_processes => $o{worker_processes} // 1,
        opts             => \%o,
        port             => $o{port},
        fixed_port       => defined $o{port},
    }, $class;
    $self->{port} //= Wachat::Test::free_port();
    $self->{conf} = "$self->{prefix}/nginx.conf";
    mkdir "$self->{prefix}/$_" for qw(logs client_body_temp proxy_temp fastcgi_temp
                                     uwsgi_temp scgi_temp);
    $self->write_conf;
    return $self;
}

sub new ($class, %o) {
    my $self = $class->prepare(%o);
    Wachat::Test::register($self);
    push @NGINX_SEEN, $self;
    $self->start;
    return $self;
}

sub port ($self)   { $self->{port} }
sub pid ($self)    { $self->{pid} }
sub prefix ($self) { $self->{prefix} }
sub token ($self)  { $self->{token} }
sub secret ($self) { $self->{secret} }
sub error_log_file ($self)  { "$self->{prefix}/error.log" }
sub access_log_file ($self) { "$self->{prefix}/access.log" }

sub conf_text ($self) {
    my %o = %{ $self->{opts} };
    my $p = $self->{prefix};
    my $module = $self->module_copy;

    my $redis = '';
    if (defined $o{redis_directive}) {
        $redis = "    $o{redis_directive}\n";
    } elsif ($o{redis}) {
        $redis = "    wachat_redis 127.0.0.1:" . $o{redis}->port . ";\n";
    } elsif (!$o{no_redis}) {
        # a port nobody listens on: config tests that do not need redis
        $redis = "    wachat_redis 127.0.0.1:" . Wachat::Test::free_port() . ";\n";
    }

    my $locations = $o{locations}
        // Wachat::Test::wachat_location(token => $self->{token}, secret => $self->{secret});

    my $user = $> == 0 ? "user root;\n" : '';

    return <<"CONF";
load_module $module;
$user
daemon off;
master_process on;
worker_processes $self->{worker_processes};
pid $p/nginx.pid;
error_log $p/error.log info;
@{[ $o{main_extra} // '' ]}
events {
    worker_connections 1024;
}

http {
    client_body_temp_path $p/client_body_temp;
    proxy_temp_path       $p/proxy_temp;
    fastcgi_temp_path     $p/fastcgi_temp;
    uwsgi_temp_path       $p/uwsgi_temp;
    scgi_temp_path        $p/scgi_temp;

    log_format wachat '\$status \$wachat_result \$wachat_events';
    access_log $p/access.log wachat;

$redis@{[ $o{http_extra} // '' ]}
    server {
        listen 127.0.0.1:$self->{port};
        server_name localhost;
@{[ $o{server_extra} // '' ]}
$locations
    }
}
CONF
}

# nginx loads its own copy of the module: a `make` that rewrites build/*.so
# in place while this nginx runs would otherwise change its code under it.
sub module_copy ($self) {
    my $copy = "$self->{prefix}/ngx_http_wachat_module.so";
    return $copy if -e $copy;
    my $src = Wachat::Test::module_path();
    die "module not built: $src (run make)\n" unless -r $src;
    Wachat::Test::spew("$copy.tmp", Wachat::Test::slurp($src), 0755);
    rename "$copy.tmp", $copy or die "rename $copy: $!";
    return $copy;
}

sub write_conf ($self) { Wachat::Test::spew($self->{conf}, $self->conf_text) }

sub start ($self) {
    for my $try (1 .. 5) {
        my $err = $self->error_log_file;
        my $size0 = -s $err // 0;
        my $pid = Wachat::Test::spawn(
            [Wachat::Test::nginx_binary(), '-p', "$self->{prefix}/", '-c', $self->{conf},
             '-e', $err],
            out => "$self->{prefix}/stderr.log", env => Wachat::Test::nginx_env());
        $self->{pid} = $pid;

        my $state = Wachat::Test::poll_until(sub {
            return 'dead' if defined Wachat::Test::reaped($pid);
            # the master listens before its workers run: wait for them first
            my @w = Wachat::Test::child_pids($pid);
            return undef if @w < $self->{worker_processes};
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                          Proto => 'tcp', Timeout => 1);
            return undef unless $s;
            close $s;
            return 'up';
        }, timeout => 20);

        return $self if ($state // '') eq 'up';
        Wachat::Test::stop_pid($pid, 5) if ($state // '') ne 'dead';
        delete $self->{pid};
        my $log = Wachat::Test::slurp($err);
        $log = substr($log, $size0);
        $log .= Wachat::Test::slurp("$self->{prefix}/stderr.log");
        if ($log =~ /Address already in use/ && !$self->{fixed_port} && $try < 5) {
            $self->{port} = Wachat::Test::free_port();
            $self->write_conf;
            next;
        }
        die "nginx did not start (" . ($state // 'timeout') . "):\n$log";
    }
}

sub workers ($self) { $self->{pid} ? Wachat::Test::child_pids($self->{pid}) : () }

sub alive ($self) {
    return $self->{pid} && !defined Wachat::Test::reaped($self->{pid}) ? 1 : 0;
}

# The PID is forgotten only once master and workers are gone (see
# Redis::stop); the workers seen are remembered for the same reason.
sub stop ($self) {
    my $pid = $self->{pid} or return;
    my %w = map { $_ => 1 } @{ $self->{stopping_workers} // [] },
                            Wachat::Test::child_pids($pid);
    $self->{stopping_workers} = [sort { $a <=> $b } keys %w];
    Wachat::Test::stop_pid($pid, 10);
    # a master killed with KILL leaves its workers behind
    for my $w (@{ $self->{stopping_workers} }) {
        next unless kill 0, $w;
        next unless Wachat::Test::cmdline($w) =~ /^nginx: worker/;    # not a reused PID
        kill 'TERM', $w;
        Wachat::Test::poll_until(sub { !kill 0, $w }, timeout => 5) or kill 'KILL', $w;
    }
    delete $self->{stopping_workers};
    delete $self->{pid};
    return;
}

# HUP with a new configuration; waits until only new workers remain.
sub reload ($self, %o) {
    $self->{opts} = { %{ $self->{opts} }, %o } if %o;
    $self->write_conf;
    my %old = map { $_ => 1 } $self->workers;
    kill 'HUP', $self->{pid};
    return Wachat::Test::poll_until(sub {
        my @w = $self->workers;
        return @w >= $self->{worker_processes} && !grep { $old{$_} } @w;
    }, timeout => 20);
}

sub http ($self, %o) {
    $self->{requests}++;
    Wachat::Test::http_request(port => $self->{port}, %o);
}

# GET /whatsapp?hub.mode=..&hub.verify_token=..&hub.challenge=.. ; pass
# query => '...' to send a literal query string.
sub get_verify ($self, %o) {
    my $path = $o{path} // '/whatsapp';
    my $q = $o{query};
    if (!defined $q) {
        my @p;
        push @p, "hub.mode=" . ($o{mode} // 'subscribe') unless exists $o{mode} && !defined $o{mode};
        push @p, "hub.verify_token=" . ($o{token} // $self->{token})
            unless exists $o{token} && !defined $o{token};
        push @p, "hub.challenge=" . ($o{challenge} // '1158201444')
            unless exists $o{challenge} && !defined $o{challenge};
        $q = join '&', @p;
    }
    return $self->http(method => 'GET', path => "$path?$q", %{ $o{http} // {} });
}

# POST as Meta does: Content-Type: application/json and X-Hub-Signature-256.
#   secret => S (default ours), signature => literal header value,
#   content_type => (undef: header left out), path, headers => [...] extra
sub post_signed ($self, $body, %o) {
    my @h;
    my $ct = exists $o{content_type} ? $o{content_type} : 'application/json';
    push @h, 'Content-Type' => $ct if defined $ct;
    my $sig = exists $o{signature}
        ? $o{signature}
        : Wachat::Test::sign_body($body, $o{secret} // $self->{secret});
    push @h, 'X-Hub-Signature-256' => $sig if defined $sig;
    push @h, @{ $o{headers} // [] };
    return $self->http(method => 'POST', path => $o{path} // '/whatsapp',
                       headers => \@h, body => $body, timeout => $o{timeout} // 10);
}

# The request bytes of such a POST, for http_send(raw => ...).
sub signed_request ($self, $body, %o) {
    my @h = ('Content-Type' => $o{content_type} // 'application/json',
             'X-Hub-Signature-256' => Wachat::Test::sign_body($body, $o{secret} // $self->{secret}),
             @{ $o{headers} // [] });
    return Wachat::Test::request_bytes(method => 'POST', path => $o{path} // '/whatsapp',
                                       port => $self->{port}, headers => \@h, body => $body);
}

sub error_log ($self) {
    my $f = $self->error_log_file;
    return -e $f ? Wachat::Test::slurp($f) : '';
}

# The access log as ([status, result, events], ...).
sub access_lines ($self) {
    my $f = $self->access_log_file;
    return () unless -e $f;
    return map { [split / /, $_] } grep { length } split /\n/, Wachat::Test::slurp($f);
}

# Waits until the access log has at least $n lines, returns them all.
sub wait_access_lines ($self, $n, $timeout = 10) {
    my @l;
    Wachat::Test::poll_until(sub { (@l = $self->access_lines) >= $n }, timeout => $timeout);
    return @l;
}

# The access log line of the next request: remember the count, run $code,
# wait for one more line.  Returns ($code's result, "status result events").
sub with_access_line ($self, $code) {
    # nginx logs a request after answering it: the line of the previous
    # request made through $self may still be on its way
    $self->wait_access_lines($self->{requests} // 0, 5);
    my $n = () = $self->access_lines;
    my $res = $code->();
    my @l = $self->wait_access_lines($n + 1);
    return ($res, @l > $n ? join(' ', @{ $l[$n] }) : undef);
}

sub diag_logs ($self) {
    my @l = split /\n/, $self->error_log;
    @l = @l[-40 .. -1] if @l > 40;
    Test::More::diag("nginx error.log ($self->{prefix}):\n" . join("\n", @l)) if @l;
}

sub DESTROY ($self) {
    return unless ($self->{owner} // $OWNER) == $$;
    $self->stop if $self->{pid};
    Wachat::Test::unregister($self);
}

1;
