package Wachat::SMTP;

# An SMTP stand-in: enough ESMTP for a mail client under test, in a forked
# child on a 127.0.0.1 port.  Core Perl only.
#
#   my $s = Wachat::SMTP->start;                    # any free port
#   ... point the program under test at $s->url (smtp://127.0.0.1:<port>) ...
#   my @m = $s->wait_for_messages(1, 10);   # [{ from, rcpts, data, ... }]
#   my $p = parse_message($m[0]{data});     # { headers, subject, body }
#   $s->stop;                               # now "SMTP is down"
#   $s = Wachat::SMTP->start(port => $s->port, fail_first => 1);
#
# Options of start():
#   port        listen on this port (e.g. the one a stopped stand-in had)
#   fail_first  answer the first N messages with a temporary failure
#   fail_code   its code: 451 (default: after DATA, "try again later") or
#               421 (the greeting, then the connection is closed)
#   auth        { user => ..., password => ... }: offer AUTH PLAIN and
#               LOGIN, and require it before MAIL FROM
#   starttls    offer STARTTLS and refuse it (454): a client that only
#               *tries* TLS goes on in clear, one that insists gives up
#   hang        accept connections and never say a word (a stuck server:
#               the client's timeout is all that ends the session)
#
# Commands: EHLO, HELO, MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET,
# NOOP, QUIT, AUTH PLAIN / LOGIN, STARTTLS (refused), VRFY (252).
#
# Every event is one JSON line in $s->log_file, written as it happens:
#   { event => 'message', seq, t, helo, auth, from, rcpts, data }
#   { event => 'rejected', seq, t, code, from, rcpts }   (fail_first)
#   { event => 'session', t, peer }                      (a connection)
# data is the message as received after dot-unstuffing: bytes, CRLF lines.
#
# One process, one select loop, any number of connections at once (the
# process, the loop and the log are Wachat::Server's).

use v5.36;

use parent 'Wachat::Server';

use Encode ();
use Exporter qw(import);
use MIME::Base64 qw(decode_base64);
use MIME::QuotedPrint qw(decode_qp);

our @EXPORT_OK = qw(parse_message);


# --- parent side -----------------------------------------------------------

sub _tag ($class) { 'smtp' }

sub start ($class, %o) {
    my $dir = $o{dir} // $class->_new_dir;
    my $self = bless {
        dir        => $dir,
        log        => "$dir/smtp.jsonl",
        fail_first => $o{fail_first} // 0,
        fail_code  => $o{fail_code} // 451,
        auth       => $o{auth},
        starttls   => $o{starttls} // 0,
        hang       => $o{hang} // 0,
    }, $class;

    $self->_touch($self->{log});
    return $self->_launch(port => $o{port}, backlog => 64);
}

sub url ($self) { "smtp://127.0.0.1:$self->{port}" }

# port, pid, dir, log_file, events (every event, in order) and stop (the
# port is closed afterwards: "SMTP down") are Wachat::Server's.

sub messages ($self) { grep { $_->{event} eq 'message' } $self->events }
sub rejected ($self) { grep { $_->{event} eq 'rejected' } $self->events }

# Waits until at least $n messages arrived or $timeout seconds passed;
# returns the messages either way.
sub wait_for_messages ($self, $n, $timeout = 10) {
    $self->_wait_for($n, $timeout, 0.05, sub { $self->messages });
}


# A message's raw data as a test wants it: headers (lower-case names,
# unfolded; a repeated header keeps its values in order under
# all_headers), the Subject decoded (RFC 2047) to characters, and the body
# decoded (quoted-printable or base64, then UTF-8) to characters.
sub parse_message ($raw) {
    my ($head, $body) = split /\r?\n\r?\n/, $raw, 2;
    $body //= '';
    $head =~ s/\r?\n([ \t])/$1/g;               # unfold
    my (%h, %all);
    for my $line (split /\r?\n/, $head) {
        my ($name, $value) = $line =~ /^([^:\s]+):\s*(.*)\z/s or next;
        $name = lc $name;
        $h{$name} //= $value;
        push @{ $all{$name} }, $value;
    }
    my $cte = lc($h{'content-transfer-encoding'} // '7bit');
    my $bytes = $cte eq 'quoted-printable' ? decode_qp($body)
              : $cte eq 'base64'           ? decode_base64($body)
              : $body;
    my $text = eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK) }
               // $bytes;
    $text =~ s/\r\n/\n/g;
    my $subject = $h{subject} // '';
    # adjacent encoded words are one run of text (RFC 2047 section 6.2)
    $subject =~ s/\?=\s+=\?/?==?/g;
    $subject =~ s{=\?([^?]+)\?([BbQq])\?([^?]*)\?=}{
        _decode_word($1, $2, $3)
    }ge;
    return { headers => \%h, all_headers => \%all, subject => $subject,
             body => $text, body_raw => $body };
}

sub _decode_word ($charset, $enc, $text) {
    my $bytes;
    if (uc $enc eq 'B') {
        $bytes = decode_base64($text);
    } else {
        ($bytes = $text) =~ tr/_/ /;
        $bytes = decode_qp($bytes);
    }
    return Encode::decode($charset, $bytes);
}


# --- child side ------------------------------------------------------------

sub _state ($self) { (seq => 0, failed => 0, sessions => 0) }

sub _connected ($self, $c) {
    my $st = $self->{state};
    $c->{mode} = 'cmd';
    $self->_record(event => 'session', peer => $c->{sock}->peerhost // '');
    $self->_reset($c);
    return if $self->{hang};

    # 421 at the greeting: "not now", and the connection goes
    if ($self->{fail_code} == 421 && $st->{failed} < $self->{fail_first}) {
        $st->{failed}++;
        $self->_record(event => 'rejected', seq => 0, code => 421,
                       at => 'greeting');
        $c->{close_after} = 1;
        $self->_reply($c, '421 4.3.2 standin: service not available, '
                          . 'closing channel');
        return;
    }
    $self->_reply($c, '220 standin.example ESMTP wachat stand-in');
}

sub _reset ($self, $c) {
    $c->{from} = undef;
    $c->{rcpts} = [];
    $c->{data} = '';
}

sub _reply ($self, $c, @lines) {
    $c->{out} .= "$_\r\n" for @lines;
    $self->_write($c);
}

sub _input ($self, $c) {
    return if $self->{hang};

    # one line at a time: a client that pipelines is served in order
    while (!$c->{close_after} && $c->{in} =~ s/\A([^\n]*)\n//) {
        my $line = $1;
        $line =~ s/\r\z//;
        if ($c->{mode} eq 'data') {
            $self->_data_line($c, $line);
        } elsif ($c->{mode} eq 'auth') {
            $self->_auth_step($c, $line);
        } else {
            $self->_command($c, $line);
        }
    }
}

sub _command ($self, $c, $line) {
    my ($verb, $arg) = $line =~ /\A(\S*)\s*(.*)\z/s;
    $verb = uc($verb // '');
    $arg //= '';

    if ($verb eq 'EHLO') {
        $c->{helo} = $arg;
        my @ext = ('8BITMIME', 'SIZE 10485760');
        push @ext, 'STARTTLS' if $self->{starttls};
        push @ext, 'AUTH PLAIN LOGIN' if $self->{auth};
        push @ext, 'HELP';
        my @lines = ('standin.example greets ' . $arg);
        push @lines, @ext;
        $self->_reply($c, map({ "250-$lines[$_]" } 0 .. $#lines - 1),
                      "250 $lines[-1]");
    } elsif ($verb eq 'HELO') {
        $c->{helo} = $arg;
        $self->_reply($c, '250 standin.example');
    } elsif ($verb eq 'STARTTLS') {
        $self->_reply($c, '454 4.7.0 TLS not available in the stand-in');
    } elsif ($verb eq 'AUTH') {
        $self->_auth_start($c, $arg);
    } elsif ($verb eq 'MAIL') {
        $self->_mail($c, $arg);
    } elsif ($verb eq 'RCPT') {
        $self->_rcpt($c, $arg);
    } elsif ($verb eq 'DATA') {
        if (!@{ $c->{rcpts} }) {
            $self->_reply($c, '503 5.5.1 RCPT first');
            return;
        }
        $c->{mode} = 'data';
        $self->_reply($c, '354 End data with <CR><LF>.<CR><LF>');
    } elsif ($verb eq 'RSET') {
        $self->_reset($c);
        $self->_reply($c, '250 2.0.0 OK');
    } elsif ($verb eq 'NOOP') {
        $self->_reply($c, '250 2.0.0 OK');
    } elsif ($verb eq 'VRFY') {
        $self->_reply($c, '252 2.1.5 cannot verify, will try');
    } elsif ($verb eq 'QUIT') {
        $self->_reply($c, '221 2.0.0 bye');
        $c->{close_after} = 1;
        $self->_write($c);
    } else {
        $self->_reply($c, '500 5.5.2 unknown command');
    }
}

sub _mail ($self, $c, $arg) {
    my ($addr) = $arg =~ /\AFROM:\s*<([^>]*)>/i;
    if (!defined $addr) {
        $self->_reply($c, '501 5.5.4 syntax: MAIL FROM:<address>');
    } elsif (!defined $c->{helo}) {
        $self->_reply($c, '503 5.5.1 EHLO first');
    } elsif ($self->{auth} && !$c->{authed}) {
        $self->_reply($c, '530 5.7.0 authentication required');
    } else {
        $self->_reset($c);
        $c->{from} = $addr;
        $self->_reply($c, '250 2.1.0 OK');
    }
}

sub _rcpt ($self, $c, $arg) {
    my ($addr) = $arg =~ /\ATO:\s*<([^>]*)>/i;
    if (!defined $addr) {
        $self->_reply($c, '501 5.5.4 syntax: RCPT TO:<address>');
    } elsif (!defined $c->{from}) {
        $self->_reply($c, '503 5.5.1 MAIL first');
    } else {
        push @{ $c->{rcpts} }, $addr;
        $self->_reply($c, '250 2.1.5 OK');
    }
}

sub _data_line ($self, $c, $line) {
    if ($line ne '.') {
        $line =~ s/\A\.//;                      # dot-unstuffing
        $c->{data} .= "$line\r\n";
        return;
    }

    my $st = $self->{state};
    $c->{mode} = 'cmd';
    my %m = (seq => ++$st->{seq}, from => $c->{from}, rcpts => $c->{rcpts});

    if ($self->{fail_code} != 421 && $st->{failed} < $self->{fail_first}) {
        $st->{failed}++;
        my $code = $self->{fail_code};
        $self->_record(event => 'rejected', %m, code => $code, at => 'data');
        $self->_reset($c);
        $self->_reply($c, "$code 4.3.0 standin: try again later");
        return;
    }

    $self->_record(event => 'message', %m, helo => $c->{helo},
                   auth => $c->{auth_user}, data => $c->{data});
    $self->_reset($c);
    $self->_reply($c, "250 2.0.0 OK queued as $m{seq}");
}

sub _auth_start ($self, $c, $arg) {
    my ($mech, $initial) = split ' ', $arg, 2;
    $mech = uc($mech // '');
    if (!$self->{auth}) {
        $self->_reply($c, '503 5.5.1 AUTH not offered');
    } elsif ($mech eq 'PLAIN') {
        $c->{auth_mech} = 'PLAIN';
        if (defined $initial && $initial ne '=') {
            $self->_auth_plain($c, $initial);
        } else {
            $c->{mode} = 'auth';
            $self->_reply($c, '334 ');
        }
    } elsif ($mech eq 'LOGIN') {
        $c->{auth_mech} = 'LOGIN';
        $c->{mode} = 'auth';
        if (defined $initial) {
            $c->{auth_name} = decode_base64($initial);
            $self->_reply($c, '334 UGFzc3dvcmQ6');        # "Password:"
        } else {
            $self->_reply($c, '334 VXNlcm5hbWU6');        # "Username:"
        }
    } else {
        $self->_reply($c, '504 5.5.4 mechanism not supported');
    }
}

sub _auth_step ($self, $c, $line) {
    if ($line eq '*') {
        $c->{mode} = 'cmd';
        $self->_reply($c, '501 5.0.0 authentication cancelled');
    } elsif ($c->{auth_mech} eq 'PLAIN') {
        $self->_auth_plain($c, $line);
    } elsif (!defined $c->{auth_name}) {
        $c->{auth_name} = decode_base64($line);
        $self->_reply($c, '334 UGFzc3dvcmQ6');
    } else {
        $self->_auth_check($c, $c->{auth_name}, decode_base64($line));
    }
}

sub _auth_plain ($self, $c, $b64) {
    my (undef, $user, $pass) = split /\0/, decode_base64($b64), 3;
    $self->_auth_check($c, $user // '', $pass // '');
}

sub _auth_check ($self, $c, $user, $pass) {
    $c->{mode} = 'cmd';
    delete $c->{auth_name};
    if ($user eq $self->{auth}{user} && $pass eq $self->{auth}{password}) {
        $c->{authed} = 1;
        $c->{auth_user} = $user;
        $self->_reply($c, '235 2.7.0 authenticated');
    } else {
        $self->_reply($c, '535 5.7.8 bad credentials');
    }
}

1;
