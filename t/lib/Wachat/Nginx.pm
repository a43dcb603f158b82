package Wachat::Nginx;

# The real nginx loading the built module, on a free loopback port with its
# own prefix (temp dir) and a generated nginx.conf; nginx -t on such a
# configuration; the crash and sanitizer check of every nginx's logs at the
# end of the test.  Core Perl only.
#
#   my $nginx = start_nginx(redis => $redis);     # one wachat_location
#   my $res   = $nginx->post_signed($body);       # { status, headers, body }
#   $nginx->reload(locations => wachat_location(...));
#   my ($code, $out) = nginx_t(http_extra => '...');

use v5.36;

use Exporter qw(import);
use Cwd ();

use Wachat::Files qw(root_dir slurp);
use Wachat::Process qw(poll_until reaped spawn stop_pid);

our @EXPORT_OK = qw(start_nginx nginx_t wachat_location agent_snippet module_path
                    nginx_binary crash_lines);


sub module_path {
    my $p = $ENV{WACHAT_MODULE} // root_dir() . '/build/ngx_http_wachat_module.so';
    return Cwd::abs_path($p) // $p;
}

sub nginx_binary { $ENV{WACHAT_NGINX} // '/usr/sbin/nginx' }

# Environment of nginx processes only: WACHAT_NGINX_PRELOAD (make test-asan)
# lists the sanitizer runtimes the instrumented module needs preloaded.
sub nginx_env {
    my $pre = $ENV{WACHAT_NGINX_PRELOAD};
    return {} unless defined $pre && length $pre;
    return { LD_PRELOAD => join ' ', grep { length } $pre, $ENV{LD_PRELOAD} // '' };
}

sub start_nginx (%o) { Wachat::Nginx::Server->new(%o) }

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

# conf/nginx-agent.conf, the console's snippet shipped for production, with
# a test's values: agent_snippet(htpasswd => P, api => 'host:port',
# secret_file => P, console => dir/); dies when a placeholder moved.
sub agent_snippet (%o) {
    my $conf = slurp(root_dir() . '/conf/nginx-agent.conf');
    my $console = $o{console} // root_dir() . '/console/';
    my %n = (
        console  => $conf =~ s{/srv/wachat/console/}{$console}g,
        htpasswd => $conf =~ s{/etc/nginx/wachat/agents\.htpasswd}{$o{htpasswd}}g,
        secret   => $conf =~ s{/etc/wachat/api\.secret}{$o{secret_file}}g,
        api      => $conf =~ s{127\.0\.0\.1:8091}{$o{api}}g,
    );
    for (sort keys %n) {
        die "conf/nginx-agent.conf: no $_ value to adapt\n" unless $n{$_};
    }
    return $conf;
}

# nginx -t on a generated configuration: returns (exit code, output).
# Takes the options of start_nginx (locations, http_extra, redis, ...).
sub nginx_t (%o) {
    my $n = Wachat::Nginx::Server->prepare(%o);
    my $out = "$n->{prefix}/nginx-t.out";
    my $pid = spawn([nginx_binary(), '-t', '-p', "$n->{prefix}/", '-c', $n->{conf},
                     '-e', "$n->{prefix}/error.log"], out => $out, env => nginx_env());
    my $status;
    poll_until(sub { defined($status = reaped($pid)) }, timeout => 30)
        or do { stop_pid($pid, 1, 'KILL'); die "nginx -t did not finish" };
    my $text = slurp($out);
    return ($status >> 8, $text);
}


# --- the crash check ---------------------------------------------------------

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

# A worker crash or a sanitizer report anywhere fails the file, even when
# no assertion looked at that log.
Wachat::Process::end_check('crash or sanitizer report in nginx logs', \&crash_lines);


package Wachat::Nginx::Server;

use v5.36;

use IO::Socket::INET;

use Wachat::Files qw(slurp spew);
use Wachat::HTTP qw(http_request request_bytes);
use Wachat::Process qw(child_pids cmdline free_port poll_until reaped spawn stop_pid
                       tmpdir);
use Wachat::Webhook qw(rand_token sign_body);

# Options:
#   redis => $redis | redis_directive => 'wachat_redis ...;' | no_redis => 1
#   token, secret            (random by default)
#   locations => '...'       (server body; default: one wachat_location)
#   http_extra, server_extra, main_extra
#   worker_processes         (default 1)
#   port                     (default: a free one)
#   wait_redis => 1          wait, as with redis => $redis, for every worker
#                            to log "connected to redis" (bounded, not fatal)
sub prepare ($class, %o) {
    my $self = bless {
        prefix           => tmpdir('nginx'),
        token            => $o{token}  // 'vt-' . rand_token(20),
        secret           => $o{secret} // 'as-' . rand_token(32),
        worker_processes => $o{worker_processes} // 1,
        opts             => \%o,
        port             => $o{port},
        fixed_port       => defined $o{port},
    }, $class;
    $self->{port} //= free_port();
    $self->{conf} = "$self->{prefix}/nginx.conf";
    mkdir "$self->{prefix}/$_" for qw(logs client_body_temp proxy_temp fastcgi_temp
                                     uwsgi_temp scgi_temp);
    $self->write_conf;
    return $self;
}

sub new ($class, %o) {
    my $self = $class->prepare(%o);
    $self->{stop_first} = 1;        # it holds connections to redis
    Wachat::Process::register($self);
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
        $redis = "    wachat_redis 127.0.0.1:" . free_port() . ";\n";
    }

    my $locations = $o{locations}
        // Wachat::Nginx::wachat_location(token => $self->{token}, secret => $self->{secret});

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
    my $src = Wachat::Nginx::module_path();
    die "module not built: $src (run make)\n" unless -r $src;
    spew("$copy.tmp", slurp($src), 0755);
    rename "$copy.tmp", $copy or die "rename $copy: $!";
    return $copy;
}

sub write_conf ($self) { spew($self->{conf}, $self->conf_text) }

sub start ($self) {
    for my $try (1 .. 5) {
        my $err = $self->error_log_file;
        my $size0 = -s $err // 0;
        my $pid = spawn(
            [Wachat::Nginx::nginx_binary(), '-p', "$self->{prefix}/", '-c', $self->{conf},
             '-e', $err],
            out => "$self->{prefix}/stderr.log", env => Wachat::Nginx::nginx_env());
        $self->{pid} = $pid;

        my $state = poll_until(sub {
            return 'dead' if defined reaped($pid);
            # the master listens before its workers run: wait for them first
            my @w = child_pids($pid);
            return undef if @w < $self->{worker_processes};
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                          Proto => 'tcp', Timeout => 1);
            return undef unless $s;
            close $s;
            return 'up';
        }, timeout => 20);

        if (($state // '') eq 'up') {
            $self->wait_redis($size0);
            return $self;
        }
        stop_pid($pid, 5) if ($state // '') ne 'dead';
        delete $self->{pid};
        my $log = slurp($err);
        $log = substr($log, $size0);
        $log .= slurp("$self->{prefix}/stderr.log");
        if ($log =~ /Address already in use/ && !$self->{fixed_port} && $try < 5) {
            $self->{port} = free_port();
            $self->write_conf;
            next;
        }
        die "nginx did not start (" . ($state // 'timeout') . "):\n$log";
    }
}

# A worker admits webhooks only once its Redis link's setup (AUTH, SELECT,
# SCRIPT LOAD) has answered, and answers 503 before: with a Redis that is
# up (redis => $redis, not stopped) or wait_redis => 1, wait until every
# worker said "connected to redis" in the error log after byte $from.  Up
# to 10 s; a link that does not come up is the test's to notice.
sub wait_redis ($self, $from) {
    my %o = %{ $self->{opts} };
    return unless $o{wait_redis}
        || (!defined $o{redis_directive} && $o{redis} && $o{redis}->pid);
    my $err = $self->error_log_file;
    return poll_until(sub {
        my $log = substr(slurp($err), $from);
        my %said;
        $said{$1} = 1 while $log =~ /(\d+)#\d+: wachat: connected to redis/g;
        my @w = $self->workers;
        return @w >= $self->{worker_processes} && !grep { !$said{$_} } @w;
    }, timeout => 10, interval => 0.02);
}

sub workers ($self) { $self->{pid} ? child_pids($self->{pid}) : () }

sub alive ($self) {
    return $self->{pid} && !defined reaped($self->{pid}) ? 1 : 0;
}

# The PID is forgotten only once master and workers are gone (see
# Wachat::Redis::Server::stop); the workers seen are remembered for the
# same reason.
sub stop ($self) {
    my $pid = $self->{pid} or return;
    my %w = map { $_ => 1 } @{ $self->{stopping_workers} // [] },
                            child_pids($pid);
    $self->{stopping_workers} = [sort { $a <=> $b } keys %w];
    stop_pid($pid, 10);
    # a master killed with KILL leaves its workers behind
    for my $w (@{ $self->{stopping_workers} }) {
        next unless kill 0, $w;
        next unless cmdline($w) =~ /^nginx: worker/;    # not a reused PID
        kill 'TERM', $w;
        poll_until(sub { !kill 0, $w }, timeout => 5) or kill 'KILL', $w;
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
    my $from = -s $self->error_log_file // 0;
    kill 'HUP', $self->{pid};
    my $ok = poll_until(sub {
        my @w = $self->workers;
        return @w >= $self->{worker_processes} && !grep { $old{$_} } @w;
    }, timeout => 20);
    $self->wait_redis($from) if $ok;
    return $ok;
}

sub http ($self, %o) {
    $self->{requests}++;
    http_request(port => $self->{port}, %o);
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
        : sign_body($body, $o{secret} // $self->{secret});
    push @h, 'X-Hub-Signature-256' => $sig if defined $sig;
    push @h, @{ $o{headers} // [] };
    return $self->http(method => 'POST', path => $o{path} // '/whatsapp',
                       headers => \@h, body => $body, timeout => $o{timeout} // 10);
}

# The request bytes of such a POST, for http_send(raw => ...).
sub signed_request ($self, $body, %o) {
    my @h = ('Content-Type' => $o{content_type} // 'application/json',
             'X-Hub-Signature-256' => sign_body($body, $o{secret} // $self->{secret}),
             @{ $o{headers} // [] });
    return request_bytes(method => 'POST', path => $o{path} // '/whatsapp',
                                       port => $self->{port}, headers => \@h, body => $body);
}

sub error_log ($self) {
    my $f = $self->error_log_file;
    return -e $f ? slurp($f) : '';
}

# The access log as ([status, result, events], ...).
sub access_lines ($self) {
    my $f = $self->access_log_file;
    return () unless -e $f;
    return map { [split / /, $_] } grep { length } split /\n/, slurp($f);
}

# Waits until the access log has at least $n lines, returns them all.
sub wait_access_lines ($self, $n, $timeout = 10) {
    my @l;
    poll_until(sub { (@l = $self->access_lines) >= $n }, timeout => $timeout);
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
    return unless Wachat::Process::mine($self);
    $self->stop if $self->{pid};
    Wachat::Process::unregister($self);
}

1;
