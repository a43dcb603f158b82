package Wachat::Standin;

# Stand-in servers for the WhatsApp Graph API and an OpenAI-compatible LLM:
# a small HTTP/1.1 server in a forked child on a free 127.0.0.1 port.  Core
# Perl only.
#
#   my $g = Wachat::Standin->start(kind => 'graph');
#   $g->script(match => '/messages$', responses => [
#       { status => 429, body => { error => { code => 130429 } } },
#       { status => 200 },                      # the default answer
#   ]);
#   ... point the program under test at $g->url ...
#   my @r = $g->wait_for_requests(2, 10);       # [{ method, path, json, ... }]
#   $g->stop;
#
# Every request is recorded, as it arrives, as one JSON line in
# $g->log_file: seq, t, method, path, query, headers (lower-case names),
# body, plus two pieces of ordering evidence taken at arrival: "answered"
# (responses already sent by then) and "inflight" (requests received and
# not yet answered).  So "all 10 requests arrived before the first answer"
# is: every request has answered == 0.  Sent responses are recorded too
# and show up as $req->{response} = { status, t }.
#
# Answers come from rules (script()), first matching rule with responses
# left wins, its first response is used up (the last one stays when the
# rule has keep => 1); no rule: the default answer of the route.  A response
# is a hash:
#   status      HTTP status; without status, body and body_bytes: default
#   body        text (characters, sent as UTF-8), or a reference sent as
#               JSON; "{{seq}}" in it becomes the request's seq
#   headers     extra response headers { name => value }
#   delay       seconds to wait before answering (other connections go on)
#   hang        never answer (the client times out)
#   close       close the connection without answering
#   body_bytes  a body of this many "x"
#   no_length   no Content-Length: the body ends when the connection closes
# A rule: match (regex string on the path), method, body_match (regex on the
# body), responses (array), keep.
#
# One process with a select loop and timers: a delayed or hung answer never
# holds up another connection.  Rules and commands reach the child through
# an append-only control file it reads on every loop turn (at least every
# 50 ms, and always before it looks at a newly arrived request).

use v5.36;

use Encode ();
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

# UTF-8 on the wire and in files; Perl strings are characters.  A recorded
# body is the raw bytes received; its {json} is decoded text.
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $OWNER = $$;


# --- parent side -----------------------------------------------------------

# start(kind => 'graph' | 'llm' | 'any', rules => [...], default_delay => s,
#       dir => $dir)
sub start ($class, %o) {
    my $dir = $o{dir} // tempdir('wachat-standin-XXXXXX', TMPDIR => 1,
                                 CLEANUP => !$ENV{WACHAT_KEEP_TMP});
    my $self = bless {
        kind          => $o{kind} // 'any',
        dir           => $dir,
        log           => "$dir/requests.jsonl",
        control       => "$dir/control.jsonl",
        default_delay => $o{default_delay} // 0,
    }, $class;

    for my $f ($self->{log}, $self->{control}) {
        open my $fh, '>', $f or die "standin: $f: $!";
        close $fh;
    }
    $self->script(%$_) for @{ $o{rules} // [] };

    # Bound before the fork: the port is ours, no race with other tests.
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto     => 'tcp',
        Listen    => 256,
        ReuseAddr => 1,
    ) or die "standin: listen: $!";
    $self->{port} = $listen->sockport;

    my $parent = $$;
    my $pid = fork;
    die "standin: fork: $!" unless defined $pid;
    if ($pid == 0) {
        eval { $self->_serve($listen, $parent) };
        print STDERR "standin: $@" if $@;
        POSIX::_exit(0);
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub url ($self)      { "http://127.0.0.1:$self->{port}" }
sub port ($self)     { $self->{port} }
sub pid ($self)      { $self->{pid} }
sub dir ($self)      { $self->{dir} }
sub log_file ($self) { $self->{log} }

# Adds a rule (see the top of the file).
sub script ($self, %rule) {
    $rule{match} = "$rule{match}" if ref $rule{match};
    $rule{body_match} = "$rule{body_match}" if ref $rule{body_match};
    $self->_control({ op => 'rule', rule => \%rule });
}

# Drops every rule not used up yet.
sub clear_script ($self) { $self->_control({ op => 'clear' }) }

sub _control ($self, $cmd) {
    open my $fh, '>>', $self->{control} or die "standin: control: $!";
    # one write per line: the child never sees half a command
    syswrite $fh, $JSON->encode($cmd) . "\n" or die "standin: control: $!";
    close $fh;
}

# The recorded requests, in arrival order.  Filters: path => qr//,
# method => 'POST', from => $n (skip the first $n).
sub requests ($self, %f) {
    open my $fh, '<', $self->{log} or return ();
    my (@req, %by_seq);
    while (my $line = <$fh>) {
        last unless $line =~ /\n\z/;        # being written
        my $e = eval { $JSON->decode($line) } or next;
        if ($e->{event} eq 'request') {
            delete $e->{event};
            $e->{json} = eval { $JSON->decode($e->{body}) }
                if length $e->{body};
            push @req, $e;
            $by_seq{ $e->{seq} } = $e;
        } elsif ($e->{event} eq 'response' && $by_seq{ $e->{seq} }) {
            $by_seq{ $e->{seq} }{response} = { status => $e->{status},
                                               t => $e->{t} };
        }
    }
    close $fh;
    @req = @req[ $f{from} .. $#req ] if $f{from};
    @req = grep { $_->{path} =~ $f{path} } @req if $f{path};
    @req = grep { $_->{method} eq $f{method} } @req if $f{method};
    return @req;
}

# Waits until at least $n requests (matching the filters) are recorded or
# $timeout seconds pass; returns the requests seen either way.
sub wait_for_requests ($self, $n, $timeout = 10, %f) {
    my $deadline = time + $timeout;
    while (1) {
        my @r = $self->requests(%f);
        return @r if @r >= $n || time >= $deadline;
        sleep 0.02;
    }
}

sub stop ($self) {
    my $pid = delete $self->{pid} or return;
    return unless $$ == $OWNER;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        return if waitpid($pid, POSIX::WNOHANG()) != 0;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY ($self) { $self->stop if $$ == $OWNER }


# --- child side ------------------------------------------------------------

my %REASON = (100 => 'Continue', 200 => 'OK', 201 => 'Created',
    204 => 'No Content', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 408 => 'Request Timeout',
    413 => 'Payload Too Large', 429 => 'Too Many Requests',
    500 => 'Internal Server Error', 501 => 'Not Implemented',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout');

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
    open my $ctl, '<', $self->{control} or die "control: $!";

    my $st = $self->{state} = {
        log => $log, ctl => $ctl, ctl_buf => '', rules => [],
        conns => {}, timers => [], seq => 0, answered => 0,
        next_id => 1, pending => 0,
    };

    while (1) {
        POSIX::_exit(0) if getppid() != $parent;   # orphaned: go away
        $self->_read_control;
        $self->_fire_timers;

        my $r = IO::Select->new($listen);
        my $w = IO::Select->new;
        for my $c (values %{ $st->{conns} }) {
            $r->add($c->{sock});
            $w->add($c->{sock}) if length $c->{out};
        }
        my $wait = 0.05;
        for my $t (@{ $st->{timers} }) {
            my $d = $t->{due} - time;
            $wait = $d if $d < $wait;
        }
        $wait = 0 if $wait < 0;

        my ($rd, $wr) = IO::Select->select($r, $w, undef, $wait);
        $self->_read_control;

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

sub _read_control ($self) {
    my $st = $self->{state};
    my $buf;
    while (sysread($st->{ctl}, $buf, 65536)) {
        $st->{ctl_buf} .= $buf;
    }
    while ($st->{ctl_buf} =~ s/\A([^\n]*)\n//) {
        my $cmd = eval { $JSON->decode($1) } or next;
        if ($cmd->{op} eq 'rule') {
            push @{ $st->{rules} }, $cmd->{rule};
        } elsif ($cmd->{op} eq 'clear') {
            $st->{rules} = [];
        }
    }
}

sub _accept ($self, $listen) {
    my $st = $self->{state};
    while (my $s = $listen->accept) {
        $s->blocking(0);
        $st->{conns}{ fileno($s) } = {
            sock => $s, id => $st->{next_id}++, in => '', out => '',
            busy => 0, close_after => 0,
        };
    }
}

sub _close ($self, $c) {
    my $st = $self->{state};
    my $fd = fileno($c->{sock}) // return;      # closed already
    delete $st->{conns}{$fd};
    $st->{pending}-- if $c->{busy};
    $st->{timers} = [ grep { $_->{conn} != $c->{id} } @{ $st->{timers} } ];
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
    $self->_parse($c);
}

sub _write ($self, $c) {
    my $n = syswrite($c->{sock}, $c->{out});
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        return $self->_close($c);
    }
    substr($c->{out}, 0, $n) = '';
    return if length $c->{out};
    return $self->_close($c) if $c->{close_after};
    $self->_parse($c) if !$c->{busy};       # a request sent behind it
}

# One request at a time per connection (curl does not pipeline).
sub _parse ($self, $c) {
    return if $c->{busy};
    my $end = index($c->{in}, "\r\n\r\n");
    return if $end < 0;

    my $head = substr($c->{in}, 0, $end);
    my ($line, @hl) = split /\r\n/, $head;
    my ($method, $target) = $line =~ m{^(\S+)\s+(\S+)\s+HTTP/\d\.\d$}
        or return $self->_reply_now($c, 400, 'bad request line', 1);
    my %h;
    for (@hl) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    return $self->_reply_now($c, 501, 'chunked bodies not supported', 1)
        if ($h{'transfer-encoding'} // '') =~ /chunked/i;

    my $len = $h{'content-length'} // 0;
    if (length($c->{in}) < $end + 4 + $len) {
        if (($h{expect} // '') =~ /100-continue/i && !$c->{continued}++) {
            $c->{out} .= "HTTP/1.1 100 Continue\r\n\r\n";
        }
        return;
    }
    my $body = substr($c->{in}, $end + 4, $len);
    substr($c->{in}, 0, $end + 4 + $len) = '';
    $c->{continued} = 0;

    my ($path, $query) = split /\?/, $target, 2;
    my $st = $self->{state};
    my $req = {
        event    => 'request',
        seq      => ++$st->{seq},
        t        => time,
        method   => $method,
        target   => $target,
        path     => $path,
        query    => $query // '',
        headers  => \%h,
        body     => $body,
        answered => $st->{answered},
        inflight => $st->{pending},
    };
    print { $st->{log} } $JSON->encode($req) . "\n";

    $c->{busy} = 1;
    $c->{keep} = ($h{connection} // '') !~ /close/i;
    $st->{pending}++;

    my $res = $self->_choose($req);
    return if $res->{hang};
    if ($res->{close}) {
        $self->_record_response($req->{seq}, 0);
        return $self->_close($c);
    }
    my $delay = $res->{delay} // 0;
    if ($delay > 0) {
        push @{ $st->{timers} }, { due => time + $delay, conn => $c->{id},
                                   req => $req, res => $res };
        return;
    }
    $self->_respond($c, $req, $res);
}

sub _fire_timers ($self) {
    my $st = $self->{state};
    my $now = time;
    my @due = grep { $_->{due} <= $now } @{ $st->{timers} };
    return unless @due;
    $st->{timers} = [ grep { $_->{due} > $now } @{ $st->{timers} } ];
    for my $t (sort { $a->{due} <=> $b->{due} } @due) {
        my ($c) = grep { $_->{id} == $t->{conn} } values %{ $st->{conns} };
        $self->_respond($c, $t->{req}, $t->{res}) if $c;
    }
}

sub _reply_now ($self, $c, $status, $msg, $close) {
    $c->{busy} = 1;
    $self->{state}{pending}++;
    $c->{keep} = !$close;
    $self->_respond($c, { seq => 0 },
                    { status => $status, body => { error => $msg } });
}

sub _record_response ($self, $seq, $status) {
    my $st = $self->{state};
    $st->{answered}++;
    print { $st->{log} } $JSON->encode({ event => 'response', seq => $seq,
                                         status => $status, t => time })
        . "\n" if $seq;
}

sub _respond ($self, $c, $req, $res) {
    my $st = $self->{state};
    my $status = $res->{status} // 200;
    my $body;
    if ($res->{body_bytes}) {
        $body = 'x' x $res->{body_bytes};
    } else {
        # a string body is text: sent UTF-8 encoded
        $body = ref $res->{body} ? $JSON->encode($res->{body})
                                 : Encode::encode('UTF-8', $res->{body} // '');
        $body =~ s/\{\{seq\}\}/$req->{seq}/g;
    }

    my %hdr = (
        'Content-Type' => $body =~ /\A\s*[\[{]/ ? 'application/json'
                                                : 'text/plain',
        %{ $res->{headers} // {} },
    );
    my $close = !$c->{keep} || $res->{no_length};
    $hdr{'Content-Length'} = length $body unless $res->{no_length};
    $hdr{Connection} = $close ? 'close' : 'keep-alive';

    my $out = sprintf "HTTP/1.1 %d %s\r\n", $status,
                      $REASON{$status} // 'Status';
    $out .= "$_: $hdr{$_}\r\n" for sort keys %hdr;
    $c->{out} .= "$out\r\n$body";
    $c->{busy} = 0;
    $c->{close_after} = $close;
    $st->{pending}--;
    $self->_record_response($req->{seq}, $status);
    $self->_write($c);
}

sub _choose ($self, $req) {
    my $st = $self->{state};
    for my $rule (@{ $st->{rules} }) {
        next unless @{ $rule->{responses} // [] };
        next if defined $rule->{match} && $req->{path} !~ /$rule->{match}/;
        next if defined $rule->{method} && $req->{method} ne $rule->{method};
        next if defined $rule->{body_match}
             && $req->{body} !~ /$rule->{body_match}/;
        my $res = @{ $rule->{responses} } == 1 && $rule->{keep}
                ? $rule->{responses}[0] : shift @{ $rule->{responses} };
        return $res if defined $res->{status} || defined $res->{body}
                    || $res->{body_bytes} || $res->{hang} || $res->{close};
        # only timing given: the default answer, that late
        return { %{ $self->_default($req) }, %$res };
    }
    my $d = $self->_default($req);
    $d->{delay} //= $self->{default_delay};
    return $d;
}

# The answers of the real services, enough for a client to be happy.
sub _default ($self, $req) {
    my $kind = $self->{kind};
    my $json = eval { $JSON->decode($req->{body}) } // {};
    $json = {} unless ref $json eq 'HASH';
    my $path = $req->{path};

    if ($kind ne 'llm' && $req->{method} eq 'POST' && $path =~ m{/messages$}) {
        return { status => 200, body => { success => JSON::PP::true } }
            if ($json->{status} // '') eq 'read';
        my $to = $json->{to} // '';
        (my $wa_id = $to) =~ s/^\+//;
        return { status => 200, body => {
            messaging_product => 'whatsapp',
            contacts => [{ input => $to, wa_id => $wa_id }],
            messages => [{ id => "wamid.STANDIN-$self->{port}-$req->{seq}" }],
        } };
    }
    if ($kind ne 'graph' && $req->{method} eq 'POST'
        && $path =~ m{/chat/completions$})
    {
        my @m = @{ $json->{messages} // [] };
        my ($q) = map { $_->{content} }
                  grep { ($_->{role} // '') eq 'user' } reverse @m;
        return { status => 200, body => {
            id      => "chatcmpl-standin-$req->{seq}",
            object  => 'chat.completion',
            created => int time,
            model   => $json->{model} // 'standin',
            choices => [{
                index => 0,
                message => { role => 'assistant',
                             content => 'Stand-in answer to: ' . ($q // '') },
                finish_reason => 'stop',
            }],
            usage => { prompt_tokens => 1, completion_tokens => 1,
                       total_tokens => 2 },
        } };
    }
    if ($kind ne 'graph' && $req->{method} eq 'GET' && $path =~ m{/models$}) {
        return { status => 200, body => { object => 'list',
            data => [{ id => 'standin-model', object => 'model' }] } };
    }
    if ($kind ne 'llm' && $req->{method} eq 'GET' && $path =~ m{/(\d+)$}) {
        return { status => 200, body => {
            id => $1, verified_name => 'Stand-in Shop',
            display_phone_number => '15550783881',
            quality_rating => 'GREEN',
        } };
    }
    return { status => 404, body => { error => {
        message => "stand-in: no route for $req->{method} $path",
        type => 'StandinError', code => 404 } } };
}

1;
