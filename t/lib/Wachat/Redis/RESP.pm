package Wachat::Redis::RESP;

# A minimal Redis client (RESP2): one blocking connection, commands sent as
# arrays of bulk strings, replies parsed into Perl values:
#
#   +OK / :1 / $bulk   -> scalar ($-1 nil -> undef)
#   *array             -> array ref (nested arrays kept; *-1 -> undef)
#   -ERR ...           -> Wachat::Redis::RESP::Error (stringifies to the text)
#
# Every read has a deadline (timeout => seconds); a timeout dies "timeout".

use v5.36;

use Errno qw(EINTR EAGAIN);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Time::HiRes qw(time);


sub new ($class, %o) {
    my $sock;
    if (defined $o{path}) {
        $sock = IO::Socket::UNIX->new(Type => IO::Socket::UNIX::SOCK_STREAM(), Peer => $o{path})
            or die "redis connect unix:$o{path}: $!";
    } else {
        $sock = IO::Socket::INET->new(
            PeerAddr => $o{host} // '127.0.0.1',
            PeerPort => $o{port},
            Proto    => 'tcp',
            Timeout  => $o{timeout} // 10,
        ) or die "redis connect $o{port}: $!";
    }
    binmode $sock;
    my $self = bless { sock => $sock, buf => '', timeout => $o{timeout} // 10 }, $class;
    if (defined $o{password}) {
        my $r = $self->command('AUTH', $o{password});
        die "AUTH: $r" if is_error($r);
    }
    if (defined $o{db}) {
        my $r = $self->command('SELECT', $o{db});
        die "SELECT: $r" if is_error($r);
    }
    return $self;
}

sub is_error ($v) { ref $v eq 'Wachat::Redis::RESP::Error' }

sub connected ($self) { $self->{sock} ? 1 : 0 }

sub close ($self) {
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
}

sub encode (@args) {
    my $out = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = "$a";
        utf8::encode($b) if utf8::is_utf8($b);
        $out .= '$' . length($b) . "\r\n$b\r\n";
    }
    return $out;
}

# Sends without waiting for the reply (read it later with read_reply).
sub send ($self, @args) {
    my $data = encode(@args);
    my $sock = $self->{sock} or die "redis: not connected";
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $self->close;
            die "redis write: $!";
        }
        $off += $n;
    }
    return 1;
}

sub command ($self, @args) {
    $self->send(@args);
    return $self->read_reply;
}

sub read_reply ($self, $timeout = undef) {
    local $self->{deadline} = time + ($timeout // $self->{timeout});
    return $self->_reply;
}

sub _reply ($self) {
    my $line = $self->_line;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+';
    return 0 + $rest if $t eq ':';
    return bless \(my $e = $rest), 'Wachat::Redis::RESP::Error' if $t eq '-';
    if ($t eq '$') {
        return undef if $rest < 0;
        my $data = $self->_bytes($rest + 2);
        return substr($data, 0, $rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [map { $self->_reply } 1 .. $rest];
    }
    $self->close;
    die "redis: bad reply line '$line'";
}

sub _fill ($self) {
    my $sock = $self->{sock} or die "redis: not connected";
    my $sel = IO::Select->new($sock);
    while (1) {
        my $left = $self->{deadline} - time;
        die "redis: timeout\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($sock, $self->{buf}, 65536, length $self->{buf});
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $self->close;
            die "redis read: $!";
        }
        if ($n == 0) {
            $self->close;
            die "redis: connection closed\n";
        }
        return;
    }
}

sub _line ($self) {
    while ((my $i = index($self->{buf}, "\r\n")) < 0) { $self->_fill }
    my $i = index($self->{buf}, "\r\n");
    my $line = substr($self->{buf}, 0, $i);
    substr($self->{buf}, 0, $i + 2, '');
    return $line;
}

sub _bytes ($self, $n) {
    $self->_fill while length($self->{buf}) < $n;
    return substr($self->{buf}, 0, $n, '');
}


package Wachat::Redis::RESP::Error;

use overload '""' => sub { ${ $_[0] } }, fallback => 1;

1;
