package Wachat::HTTP;

# A raw HTTP/1.1 client over loopback TCP, every read and write with a
# deadline: the request goes out byte for byte as given (or as built from
# method, path, headers and body), the answer is read until the server
# closes or its Content-Length is in.  Core Perl only.
#
#   my $res = http_request(port => $p, method => 'POST', path => '/whatsapp',
#                          headers => [...], body => $bytes);
#   # { status, reason, headers => { lc name => value }, header_list, body,
#   #   raw, elapsed, answered_at }
#   my $c = http_send(port => $p, raw => $bytes);   # ... then later:
#   my $res = http_read($c, timeout => 5);

use v5.36;

use Exporter qw(import);
use Errno qw(EINTR EAGAIN);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

our @EXPORT_OK = qw(http_request http_send http_read request_bytes write_all
                    parse_response);


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

1;
