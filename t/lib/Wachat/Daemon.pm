package Wachat::Daemon;

# Starts the built wachatd (or $ENV{WACHATD}) with a generated config against
# a test redis, and stops it by PID.
#
#   my $d = start_wachatd(redis => $redis, conf => "backend kb\n...");
#   my $g = start_wachatd(redis => $redis, outbound => 'graph',
#                         conf => "graph_api_url ...\ngraph_token_file ...\n");
#   $d->wait_log(qr/started/);
#
# The media store is the daemon's temp dir's media/ (media_dir => another).
#   $d->hup; $d->kill9; $d->stop;
#
# Every generated config names an api_secret_file (mode 0600, in the
# daemon's temp dir): $d->api_secret is what nginx (or a test talking to
# the API directly) must send; api_secret => 0 leaves it out.

use v5.36;

use Encode ();
use JSON::PP ();
use Exporter qw(import);
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

use Wachat::Files qw(root_dir slurp spew);
use Wachat::HTTP ();
use Wachat::Process qw(poll_until);

our @EXPORT_OK = qw(start_wachatd wachatd_binary wachatctl_binary outbox_wait
                 outbox_reply sample_kb kb_answers);


sub wachatd_binary { $ENV{WACHATD} // root_dir() . '/build/wachatd' }
sub wachatctl_binary { $ENV{WACHATCTL} // root_dir() . '/build/wachatctl' }
sub sample_kb { root_dir() . '/conf/kb.md' }


sub start_wachatd (%o) { Wachat::Daemon::Proc->new(%o) }


# What a knowledge base answers, read from the file itself: (\%answer,
# \%buttons) by entry id, the first text line of each entry and its button
# links ({ id, title }).  Bytes as in the file, or characters with decode.
sub kb_answers ($path, %o) {
    my (%answer, %buttons, $id);
    my $text = slurp($path);
    $text = Encode::decode('UTF-8', $text) if $o{decode};
    for (split /\n/, $text) {
        if (/^## .*\{#([^}]+)\}/) { $id = $1; next }
        next unless $id;
        if (/^\[/) {
            $buttons{$id} = [ map { { id => $_->[1], title => $_->[0] } }
                              map { [ /\[([^\]]+)\]\(#([^)]+)\)/ ] }
                              /(\[[^\]]+\]\(#[^)]+\))/g ];
            next;
        }
        next if /^Also:/ || /^\s*$/;
        $answer{$id} //= $_;
    }
    return (\%answer, \%buttons);
}


# Polls the sandbox outbox until it holds at least $n entries.
sub outbox_wait ($redis, $n, %o) {
    my $stream = $o{stream} // 'wachat:outbox';
    my @e;
    poll_until(sub {
        @e = $redis->xrange($stream);
        @e >= $n;
    }, timeout => $o{timeout} // 20);
    return @e;
}

# An outbox entry's fields as the customer sees them: the text (decoded)
# and the reply buttons of its Graph request ({id, title}).
sub outbox_reply ($fields) {
    my $req = eval { JSON::PP->new->utf8->decode($fields->{graph_request} // '') } // {};
    return {
        text    => Encode::decode('UTF-8', $fields->{text} // ''),
        buttons => [ map { { id => $_->{reply}{id}, title => $_->{reply}{title} } }
                     @{ $req->{interactive}{action}{buttons} // [] } ],
    };
}


package Wachat::Daemon::Proc;

use v5.36;
use Time::HiRes qw(time sleep);

sub new ($class, %o) {
    my $dir = File::Temp::tempdir('wachat-d-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
    my $self = bless {
        dir     => $dir,
        redis   => $o{redis},
        # "redis sentinel=... master=..." (Wachat::Sentinel's directive)
        # instead of the test redis' address
        redis_line => $o{redis_line},
        name    => $o{name} // 'wachatd-' . int(rand(1e9)),
        conf    => "$dir/wachatd.conf",
        log     => "$dir/wachatd.log",
        extra   => $o{conf} // '',
        kb      => $o{kb} // Wachat::Daemon::sample_kb(),
        media_dir => $o{media_dir} // "$dir/media",
        # the generated config's "outbound" line (a key may appear once)
        outbound => $o{outbound} // 'sandbox',
        owner    => $$,         # a forked child must not stop it
        # how long start waits for "started" (wachatd itself waits up to a
        # minute for a Redis that is loading or refuses writes)
        start_timeout => $o{start_timeout} // 15,
        # short in tests: a dead consumer's entries are reclaimed at once
        claim_idle => $o{claim_idle} // '2s',
        # added to wachatd's environment (t/wachatd/redis_clock.t: a clock
        # of its own through libfaketime)
        env      => $o{env} // {},
    }, $class;

    if ($o{api_secret} // 1) {
        $self->{api_secret} = join '', map { sprintf '%02x', rand 256 } 1 .. 32;
        $self->{api_secret_file} = "$dir/api.secret";
        Wachat::Files::spew($self->{api_secret_file}, "$self->{api_secret}\n", 0600);
    }

    $self->write_conf;
    $self->start unless $o{no_start};
    return $self;
}

sub dir ($self)       { $self->{dir} }
sub api_secret ($self)      { $self->{api_secret} }
sub api_secret_file ($self) { $self->{api_secret_file} }
sub conf_path ($self) { $self->{conf} }
sub log_file ($self)  { $self->{log} }
sub pid ($self)       { $self->{pid} }

sub conf_text ($self) {
    my $redis = $self->{redis_line} // 'redis 127.0.0.1:' . $self->{redis}->port;
    my $secret = $self->{api_secret_file}
               ? "api_secret_file $self->{api_secret_file}\n" : '';
    return <<"EOF" . $secret . $self->{extra};
# generated by t/lib/Wachat/Daemon.pm
$redis
consumer $self->{name}
kb $self->{kb}
media_dir $self->{media_dir}
outbound $self->{outbound}
claim_idle $self->{claim_idle}
verbosity info
shutdown_timeout 5s
EOF
}

sub write_conf ($self) { Wachat::Files::spew($self->{conf}, $self->conf_text) }

# wait => 0: back once spawned, to watch the log of a start that waits
sub start ($self, %o) {
    # WACHATD_WRAPPER="valgrind ..." (scripts/valgrind-wachatd): a command
    # line prefixed to wachatd's; start is given longer under it.
    my @wrap = split ' ', $ENV{WACHATD_WRAPPER} // '';
    my $argv = [@wrap, Wachat::Daemon::wachatd_binary(), '-c', $self->{conf}];
    Wachat::Process::register($self);
    $self->{pid} = Wachat::Process::spawn($argv, out => $self->{log}, env => $self->{env});
    return $self unless $o{wait} // 1;
    my $ok = Wachat::Process::poll_until(sub {
        return 1 if -e $self->{log} && Wachat::Files::slurp($self->{log}) =~ /started/;
        die "wachatd exited:\n" . Wachat::Files::slurp($self->{log})
            if defined Wachat::Process::reaped($self->{pid});
        0;
    }, timeout => @wrap ? 90 : $self->{start_timeout});
    die "wachatd did not start:\n" . Wachat::Files::slurp($self->{log}) unless $ok;
    return $self;
}

# wachatctl with this daemon's config: (exit code, output as characters)
sub ctl ($self, @args) {
    my $cmd = join ' ', map { (my $q = $_) =~ s/'/'\\''/g; "'$q'" }
                        Wachat::Daemon::wachatctl_binary(), '-c', $self->{conf}, @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, Encode::decode('UTF-8', $out));
}

# A request to this daemon's agent API (its api_listen port) as nginx makes
# it: the agent's id and the proxy secret; a POST body as JSON.  The
# answer, its body decoded into {json}.
sub api ($self, $who, $method, $path, $body = undef) {
    my ($port) = $self->{extra} =~ /^api_listen\s+127\.0\.0\.1:(\d+)/m
        or die "this wachatd has no api_listen on 127.0.0.1\n";
    my $json = JSON::PP->new->utf8->canonical;
    my @h = ('X-Wachat-Agent' => $who, 'X-Wachat-Proxy-Secret' => $self->{api_secret});
    push @h, 'Content-Type' => 'application/json' if $method eq 'POST';
    my $res = Wachat::HTTP::http_request(port => $port, method => $method,
        path => "/api/$path", headers => \@h, timeout => 20,
        body => defined $body ? $json->encode($body) : $method eq 'POST' ? '{}' : undef);
    $res->{json} = eval { $json->decode($res->{body}) } // {};
    return $res;
}

sub log_text ($self) { -e $self->{log} ? Wachat::Files::slurp($self->{log}) : '' }

sub wait_log ($self, $re, $timeout = 15) {
    return Wachat::Process::poll_until(sub { $self->log_text =~ $re },
                                    timeout => $timeout);
}

sub alive ($self) {
    return $self->{pid} && !defined Wachat::Process::reaped($self->{pid});
}

sub hup ($self) { kill 'HUP', $self->{pid} }

sub kill9 ($self) {
    return unless $self->{pid} && $$ == $self->{owner};
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{status} = $?;
    delete $self->{pid};
    Wachat::Process::unregister($self);
}

# TERM and wait; returns the wait status.  The PID is forgotten only once
# the process is gone: a signal handler that interrupts this stop (see
# Wachat::Process) must still find it.
sub stop ($self, $timeout = 15) {
    return $self->{status} unless $self->{pid} && $$ == $self->{owner};
    Wachat::Process::stop_pid($self->{pid}, $timeout);
    $self->{status} = $?;
    delete $self->{pid};
    Wachat::Process::unregister($self);
    return $self->{status};
}

sub DESTROY ($self) {
    $self->stop if $self->{pid} && $$ == $self->{owner};
}

1;
