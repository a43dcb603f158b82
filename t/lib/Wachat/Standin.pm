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
#   lost        as hang, but recorded as a 200 response ("lost": true): the
#               request was taken (as Meta takes a message) and its answer
#               lost on the way
#   close       close the connection without answering
#   body_bytes  a body of this many "x"
#   raw         bytes sent as they are (not JSON, not re-encoded)
#   no_length   no Content-Length: the body ends when the connection closes
# A rule: match (regex string on the path), method, body_match (regex on the
# body), responses (array), keep.
#
# Media (whatsapp-cloud-api.md 4.4): add_media(id => '1001', bytes => $b,
# mime => 'image/jpeg') makes GET /<version>/1001 answer Meta's metadata
# (mime_type, sha256 hex, file_size as a string, and a url on the stand-in
# itself, /media-bytes/1001?mid=...), and that url answer the bytes; both
# want "Authorization: Bearer ..." (401 without).  sha256 / file_size
# override what is announced; expired => 1 makes the id answer Graph's
# error 100, as Meta does once an id has expired (7 days).
#
# Upload: POST /<version>/<phone number id>/media, multipart/form-data with
# messaging_product=whatsapp and file, answers {"id": "standin-media-<seq>"}
# (400, Graph's error 100, without them).
#
# Transcription (kind llm or any): POST .../audio/transcriptions takes
# multipart/form-data with "file" and "model" and answers {"text": ...}:
# the text after "SPEECH:" in the file, so a test's fake voice note says
# what it is heard to say.  requests() gives a multipart request's parts
# as {form}: { model => ..., file => { filename, type, bytes } }.
#
# Embeddings (kind llm or any): POST .../embeddings answers OpenAI's
# {"data": [{"index": i, "embedding": [...]}]} for every text of "input",
# from the deterministic stand-in model of Wachat::Embed.
#
# The LLM's default answer is "Stand-in answer to: <the last user message>",
# except that, like a model that follows the customer's instructions, it
# obeys two of them: a message starting "SAY:" is answered with the rest of
# it, and one asking to "repeat your instructions" with every system
# message of the prompt (the system prompt and the KB passages).
#
# One process with a select loop and timers: a delayed or hung answer never
# holds up another connection.  Rules and commands reach the child through
# an append-only control file it reads on every loop turn (at least every
# 50 ms, and always before it looks at a newly arrived request).

use v5.36;

use parent 'Wachat::Server';

use Digest::SHA ();
use File::Temp ();
use Wachat::Embed ();
use Wachat::Files ();
use Wachat::Webhook ();
use Encode ();
use JSON::PP;
use Time::HiRes qw(time);

# UTF-8 on the wire and in files; Perl strings are characters.  A recorded
# body is the raw bytes received; its {json} is decoded text.
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;


# --- parent side -----------------------------------------------------------

sub _tag ($class) { 'standin' }

# start(kind => 'graph' | 'llm' | 'any', rules => [...], default_delay => s,
#       dir => $dir)
sub start ($class, %o) {
    my $dir = $o{dir} // $class->_new_dir;
    my $self = bless {
        kind          => $o{kind} // 'any',
        dir           => $dir,
        log           => "$dir/requests.jsonl",
        control       => "$dir/control.jsonl",
        default_delay => $o{default_delay} // 0,
    }, $class;

    $self->_touch($self->{log}, $self->{control});
    $self->script(%$_) for @{ $o{rules} // [] };
    return $self->_launch(backlog => 256);
}

sub url ($self) { "http://127.0.0.1:$self->{port}" }

# The lines of a wachatd config that send to this stand-in as the Graph
# API, with a token file of its own (0600, removed at exit).
sub wachatd_conf ($self) {
    my $dir = File::Temp::tempdir('wachat-graph-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
    Wachat::Files::spew("$dir/graph_token", 'EAAG' . Wachat::Webhook::rand_token(40) . "\n", 0600);
    return "graph_api_url " . $self->url . "/v25.0\ngraph_token_file $dir/graph_token\n";
}

# port, pid, dir, log_file and stop are Wachat::Server's.

# Adds a rule (see the top of the file).
sub script ($self, %rule) {
    $rule{match} = "$rule{match}" if ref $rule{match};
    $rule{body_match} = "$rule{body_match}" if ref $rule{body_match};
    $self->_control({ op => 'rule', rule => \%rule });
}

# A media item the Graph stand-in serves (see the top of the file).
sub add_media ($self, %m) {
    my $bytes = delete $m{bytes} // '';
    $m{hex} = unpack 'H*', $bytes;
    $m{sha256} //= Digest::SHA::sha256_hex($bytes);
    $m{file_size} //= '' . length $bytes;
    $m{mime} //= 'image/jpeg';
    $self->_control({ op => 'media', media => \%m });
}

# A message template of the account (whatsapp-cloud-api.md 4.5):
# add_template(name => 'order_update', language => 'en_US',
#              body => 'Hi {{1}}, order {{2}} is ready', category => 'UTILITY',
#              status => 'APPROVED').  GET /<version>/<waba id>/message_templates
# answers them two per page (paging.next on the stand-in, with an after
# cursor), as Meta does with more.
sub add_template ($self, %t) {
    $t{category} //= 'UTILITY';
    $t{status} //= 'APPROVED';
    $self->_control({ op => 'template', template => \%t });
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
    my (@req, %by_seq);
    for my $e ($self->events) {
        if ($e->{event} eq 'request') {
            delete $e->{event};
            $e->{json} = eval { $JSON->decode($e->{body}) }
                if length $e->{body};
            $e->{form} = _form($e)
                if ($e->{headers}{'content-type'} // '') =~ m{^multipart/};
            push @req, $e;
            $by_seq{ $e->{seq} } = $e;
        } elsif ($e->{event} eq 'response' && $by_seq{ $e->{seq} }) {
            $by_seq{ $e->{seq} }{response} = { status => $e->{status},
                                               t => $e->{t} };
        }
    }
    @req = @req[ $f{from} .. $#req ] if $f{from};
    @req = grep { $_->{path} =~ $f{path} } @req if $f{path};
    @req = grep { $_->{method} eq $f{method} } @req if $f{method};
    return @req;
}

# Waits until at least $n requests (matching the filters) are recorded or
# $timeout seconds pass; returns the requests seen either way.
sub wait_for_requests ($self, $n, $timeout = 10, %f) {
    $self->_wait_for($n, $timeout, 0.02, sub { $self->requests(%f) });
}


# --- child side ------------------------------------------------------------

my %REASON = (100 => 'Continue', 200 => 'OK', 201 => 'Created',
    204 => 'No Content', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 408 => 'Request Timeout',
    413 => 'Payload Too Large', 429 => 'Too Many Requests',
    500 => 'Internal Server Error', 501 => 'Not Implemented',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout');

sub _state ($self) {
    open my $ctl, '<', $self->{control} or die "control: $!";
    return (ctl => $ctl, ctl_buf => '', rules => [], timers => [], seq => 0,
            answered => 0, next_id => 1, pending => 0, media => {},
            templates => []);
}

# Rules and due timers first; the select waits no longer than the next
# timer, and at most 50 ms for the control file.
sub _turn ($self) {
    $self->_read_control;
    $self->_fire_timers;
    my $wait = 0.05;
    for my $t (@{ $self->{state}{timers} }) {
        my $d = $t->{due} - time;
        $wait = $d if $d < $wait;
    }
    return $wait < 0 ? 0 : $wait;
}

# rules written before a request arrived apply to it
sub _selected ($self) { $self->_read_control }

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
        } elsif ($cmd->{op} eq 'media') {
            my $m = $cmd->{media};
            $m->{bytes} = pack 'H*', delete $m->{hex};
            $st->{media}{ $m->{id} } = $m;
        } elsif ($cmd->{op} eq 'template') {
            push @{ $st->{templates} }, $cmd->{template};
        } elsif ($cmd->{op} eq 'clear') {
            $st->{rules} = [];
        }
    }
}

sub _connected ($self, $c) {
    $c->{id} = $self->{state}{next_id}++;
    $c->{busy} = 0;
}

sub _closed ($self, $c) {
    my $st = $self->{state};
    $st->{pending}-- if $c->{busy};
    $st->{timers} = [ grep { $_->{conn} != $c->{id} } @{ $st->{timers} } ];
}

sub _input ($self, $c)   { $self->_parse($c) }
sub _drained ($self, $c) { $self->_parse($c) }     # a request sent behind it

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
    $self->_record(%$req);

    $c->{busy} = 1;
    $c->{keep} = ($h{connection} // '') !~ /close/i;
    $st->{pending}++;

    my $res = $self->_choose($req);
    # Meta took it, the answer never arrives: a 200 on the record, nothing sent
    $self->_record(event => 'response', seq => $req->{seq}, status => 200, lost => 1)
        if $res->{lost};
    return if $res->{hang} || $res->{lost};
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
    $self->_record(event => 'response', seq => $seq, status => $status)
        if $seq;
}

sub _respond ($self, $c, $req, $res) {
    my $st = $self->{state};
    my $status = $res->{status} // 200;
    my $body;
    if ($res->{body_bytes}) {
        $body = 'x' x $res->{body_bytes};
    } elsif (defined $res->{raw}) {
        $body = $res->{raw};
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
                    || $res->{body_bytes} || $res->{hang} || $res->{close}
                    || defined $res->{raw};
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
        # content parts (a picture with it: llm_vision): the text parts
        my ($q) = map { ref $_->{content} eq 'ARRAY'
                        ? join(' ', map { $_->{text} // () } @{ $_->{content} })
                        : $_->{content} }
                  grep { ($_->{role} // '') eq 'user' } reverse @m;
        my $content = 'Stand-in answer to: ' . ($q // '');
        if (($q // '') =~ /\ASAY:\s*(.*)\z/s) {
            $content = $1;
        } elsif (($q // '') =~ /repeat your instructions/i) {
            $content = join "\n\n", 'Sure! My instructions are:',
                map { $_->{content} // '' }
                grep { ($_->{role} // '') eq 'system' } @m;
        }
        return { status => 200, body => {
            id      => "chatcmpl-standin-$req->{seq}",
            object  => 'chat.completion',
            created => int time,
            model   => $json->{model} // 'standin',
            choices => [{
                index => 0,
                message => { role => 'assistant', content => $content },
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
    my $media = $self->_media($req);
    return $media if $media;
    if ($kind ne 'llm' && $req->{method} eq 'GET'
        && $path =~ m{^(.*/\d+/message_templates)$})
    {
        return $self->_templates($req, $1);
    }
    if ($kind ne 'llm' && $req->{method} eq 'POST' && $path =~ m{/\d+/media$}) {
        my $f = _form($req);
        return { status => 400, body => { error => {
            message => '(#100) The parameter messaging_product is required.',
            type => 'OAuthException', code => 100 } } }
            unless ($f->{messaging_product} // '') eq 'whatsapp' && ref $f->{file};
        return { status => 200, body => { id => "standin-media-$req->{seq}" } };
    }
    if ($kind ne 'graph' && $req->{method} eq 'POST'
        && $path =~ m{/audio/transcriptions$})
    {
        return $self->_transcribe($req);
    }
    if ($kind ne 'graph' && $req->{method} eq 'POST'
        && $path =~ m{/embeddings$})
    {
        my $in = $json->{input} // [];
        $in = [$in] unless ref $in eq 'ARRAY';
        my $i = 0;
        return { status => 200, body => {
            object => 'list', model => $json->{model} // 'standin',
            data => [ map { { object => 'embedding', index => $i++,
                              embedding => Wachat::Embed::embed_vector($_) } }
                      @$in ],
        } };
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

# GET /<version>/<media id>, and the bytes at the url it gives
sub _media ($self, $req) {
    return undef if $self->{kind} eq 'llm' || $req->{method} ne 'GET';
    my $all = $self->{state}{media};
    my ($m, $bytes);
    if ($req->{path} =~ m{^/media-bytes/([^/]+)$}) {
        $m = $all->{$1} or return { status => 404, body => 'no such media' };
        $bytes = 1;
    } elsif ($req->{path} =~ m{/([^/]+)$} && $all->{$1}) {
        $m = $all->{$1};
    } else {
        return undef;
    }
    return { status => 401, body => { error => {
        message => 'An access token is required to request this resource.',
        type => 'OAuthException', code => 104 } } }
        unless ($req->{headers}{authorization} // '') =~ /^Bearer \S+/;
    return { status => 200, raw => $m->{bytes},
             headers => { 'Content-Type' => $m->{mime} } } if $bytes;
    return { status => 400, body => { error => {
        message => "Unsupported get request. Object with ID '$m->{id}' does "
                 . 'not exist, cannot be loaded due to missing permissions, '
                 . 'or does not support this operation.',
        type => 'GraphMethodException', code => 100, error_subcode => 33 } } }
        if $m->{expired};
    return { status => 200, body => {
        messaging_product => 'whatsapp',
        url => "http://127.0.0.1:$self->{port}/media-bytes/$m->{id}"
             . "?mid=$m->{id}&ext=" . (int(time) + 300) . '&hash=standin',
        mime_type => $m->{mime}, sha256 => $m->{sha256},
        file_size => $m->{file_size}, id => $m->{id},
    } };
}

sub _templates ($self, $req, $path) {
    return { status => 401, body => { error => {
        message => 'An access token is required to request this resource.',
        type => 'OAuthException', code => 104 } } }
        unless ($req->{headers}{authorization} // '') =~ /^Bearer \S+/;
    my ($after) = $req->{query} =~ /(?:^|&)after=(\d+)/;
    $after //= 0;
    my @all = @{ $self->{state}{templates} };
    my @page = grep { defined } @all[$after .. $after + 1];
    my $body = { data => [ map { {
        name => $_->{name}, language => $_->{language},
        status => $_->{status}, category => $_->{category},
        id => "tpl-$_->{name}-$_->{language}",
        components => [ { type => 'BODY', text => $_->{body} } ],
    } } @page ] };
    if ($after + 2 < @all) {
        my $next = $after + 2;
        $body->{paging} = { cursors => { after => $next },
            next => "http://127.0.0.1:$self->{port}$path?after=$next&limit=2" };
    }
    return { status => 200, body => $body };
}

# multipart/form-data parts: { name => value or { filename, type, bytes } }
sub _form ($req) {
    my ($boundary) = ($req->{headers}{'content-type'} // '')
                     =~ /boundary="?([^";]+)"?/ or return {};
    my %f;
    for my $part (split /--\Q$boundary\E(?:--)?\r\n/, $req->{body}) {
        my ($head, $body) = split /\r\n\r\n/, $part, 2;
        next unless defined $body;
        $body =~ s/\r\n\z//;
        my ($name) = $head =~ /name="([^"]*)"/ or next;
        my ($file) = $head =~ /filename="([^"]*)"/;
        my ($type) = $head =~ /Content-Type:\s*(\S+)/i;
        $f{$name} = defined $file
                  ? { filename => $file, type => $type, bytes => $body }
                  : $body;
    }
    return \%f;
}

sub _transcribe ($self, $req) {
    my $f = _form($req);
    return { status => 400, body => { error => {
        message => 'file and model are required' } } }
        unless ref $f->{file} && defined $f->{model};
    my ($text) = $f->{file}{bytes} =~ /SPEECH:(.*)\z/s;
    $text = Encode::decode('UTF-8', $text // '');
    return { status => 200, body => { text => " $text" } };
}

1;
