#!/usr/bin/perl

# The module's error_log lines cannot be forged (issue 11, finding 7, the
# module's part): bytes a client or Redis chose (the Host header; a Redis
# error text, which may quote a Lua error and so the request) are logged
# quoted and escaped as wachatd logs them: \\ \" \n \r \t, \xNN for C0, DEL
# and bytes that are not UTF-8, \uNNNN for C1 controls, U+2028 and U+2029.
# So a value that holds the text "\n" followed by what looks like a new entry
# cannot pass for an escaped newline, and no byte of it can end the line in
# any reader (NEL, U+2028).
#
# Redis here is a stand-in that speaks just enough RESP: its AUTH fails once
# with forged text, and it answers the queuing script with an error that
# quotes the message text, as a Lua error would.

use v5.36;
use lib 't/lib';

use Test::More;
use JSON::PP;

use Wachat::Files qw(fixture spew);
use Wachat::Process qw(poll_until tmpdir);
use Wachat::Nginx qw(start_nginx);
use Wachat::Server;


# --- a Redis stand-in --------------------------------------------------------

package FakeRedis {
    use v5.36;
    use parent -norequire, 'Wachat::Server';
    use Digest::SHA qw(sha1_hex);

    sub _tag ($class) { 'fakeredis' }

    # start(auth_error => text for the first AUTH, eval_error => sub (args))
    sub start ($class, %o) {
        my $self = bless { %o }, $class;
        $self->{dir} = $class->_new_dir;
        $self->{log} = "$self->{dir}/commands.jsonl";
        $self->_touch($self->{log});
        return $self->_launch(backlog => 16);
    }

    sub _state ($self) { (auths => 0) }

    sub _input ($self, $c) {
        while ($c->{in} =~ /^\*(\d+)\r\n/) {
            my ($n, $pos, @args) = ($1, length "*$1\r\n");
            for (1 .. $n) {
                substr($c->{in}, $pos) =~ /^\$(\d+)\r\n/ or return;
                my $len = $1;
                $pos += length("\$$len\r\n");
                return if length($c->{in}) < $pos + $len + 2;
                push @args, substr($c->{in}, $pos, $len);
                $pos += $len + 2;
            }
            substr($c->{in}, 0, $pos, '');
            $self->_record(command => uc $args[0]);
            $c->{out} .= $self->_answer($c, @args);
        }
    }

    # An error line cannot hold CR or LF: Redis turns them into spaces too.
    sub _error ($text) { $text =~ tr/\r\n/  /; "-$text\r\n" }

    # As Redis with requirepass: nothing but AUTH before a good AUTH.
    sub _answer ($self, $c, $cmd, @args) {
        $cmd = uc $cmd;
        if ($cmd eq 'AUTH') {
            return _error($self->{auth_error}) if $self->{state}{auths}++ == 0;
            $c->{authed} = 1;
            return "+OK\r\n";
        }
        return _error('NOAUTH Authentication required.') unless $c->{authed};
        if ($cmd eq 'SCRIPT') {
            my $sha = sha1_hex($args[1]);
            return "\$40\r\n$sha\r\n";
        }
        return _error($self->{eval_error}->(@args)) if $cmd =~ /^EVAL/;
        return "+OK\r\n";
    }
}


# --- the escape grammar, undone ----------------------------------------------

# Undoes every escape of a logged value, left to right; a backslash that
# starts none is left as it is (and fails the round trip).
sub unescape ($s) {
    $s =~ s{\\(?:([\\"])|([nrt])|x([0-9a-f]{2})|u([0-9a-f]{4}))}{
        defined $1 ? $1
        : defined $2 ? { n => "\n", r => "\r", t => "\t" }->{$2}
        : defined $3 ? chr hex $3
        : do { my $u = chr hex $4; utf8::encode($u); $u }
    }ge;
    return $s;
}

# The first quoted value after "$label: " in $line, still escaped.
sub quoted ($line, $label) {
    return $line =~ /\Q$label\E: "((?:[^"\\]|\\.)*)"/s ? $1 : undef;
}

# A line is safe when it has no control byte, is valid UTF-8 and has no C1
# control nor line or paragraph separator.
sub safe_line ($line) {
    return 0 if $line =~ /[\x00-\x08\x0a-\x1f\x7f]/;
    my $chars = $line;
    return 0 unless utf8::decode($chars);
    return $chars !~ /[\x{80}-\x{9f}\x{2028}\x{2029}]/;
}

# The log as a reader would cut it into entries: at CR, LF, NEL (also as a
# lone Latin-1 byte), U+2028 and U+2029, and at an escaped newline (\n or
# \r after an even run of backslashes), which stands for a line break
# inside one value that its reader may undo.
sub reader_lines ($log) {
    $log =~ s/(?<!\\)((?:\\\\)*)\\[nr]/$1\n/g;
    return split /\r\n|\n|\r|\xc2\x85|\x85|\xe2\x80[\xa8\xa9]/, $log;
}

# An entry nginx would write starts "YYYY/MM/DD HH:MM:SS [level]"; this test
# logs nothing at emerg, so every emerg line is forged.
sub forged_lines ($log) {
    return grep { /^\s*(?:\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?\[emerg\]/ }
           reader_lines($log);
}


# --- setup ---------------------------------------------------------------------

my $FORGED = '2026/12/02 13:00:00 [emerg] 1#1: forged';

# bytes of the message text: a literal backslash-n before a forged entry, a
# quote, U+0085 (NEL), U+2028 and U+2029, each before a forged entry
my $TEXT = "x\\n$FORGED-r1 \"q\" \x{85}$FORGED-r2\x{2028}$FORGED-r3"
         . "\x{2029}$FORGED-r4";
utf8::encode(my $TEXT_BYTES = $TEXT);

# Redis's own bytes after it: a raw 0x85, and bytes that are not UTF-8
my $TAIL = "\x85$FORGED-r5\xff\xc3";

my $AUTH_ERROR = "WRONGPASS \\n$FORGED-a1\x85$FORGED-a2\xe2\x80\xa8$FORGED-a3";

my $redis = FakeRedis->start(
    auth_error => $AUTH_ERROR,
    eval_error => sub (@args) {
        my ($text) = grep { index($_, $TEXT_BYTES) >= 0 } @args;
        return "ERR user_script:1: bad text: " . ($text // 'none') . $TAIL;
    },
);

my $dir = tmpdir('log-escape');
spew("$dir/redis.password", "pw-" . int(rand 1e9) . "\n", 0600);

my $nginx = start_nginx(
    redis_directive => 'wachat_redis 127.0.0.1:' . $redis->port
                     . " password_file=$dir/redis.password;");

sub wachat_lines ($log) { grep { /wachat:/ } split /\n/, $log }


# --- the Redis error texts -----------------------------------------------------

# the first AUTH fails; the link reconnects after its backoff
ok(poll_until(sub { $nginx->error_log =~ /wachat: connected to redis/ }, timeout => 15),
   'the link connects after the failed AUTH') or $nginx->diag_logs;

{
    my ($line) = grep { /AUTH failed/ } wachat_lines($nginx->error_log);
    ok(defined $line, 'the failed AUTH is logged') or $nginx->diag_logs;
    $line //= '';
    my $v = quoted($line, 'AUTH failed');
    is(defined $v ? unescape($v) : undef, $AUTH_ERROR,
       'AUTH error: the logged value undoes to the bytes Redis sent') or diag $line;
    like($line, qr/AUTH failed: "WRONGPASS \\\\n2026\/12\/02 .*-a1\\x852026.*-a2\\u20282026.*-a3"$/,
         'AUTH error: \\ doubled, the lone 0x85 as \\x85, U+2028 as \\u2028') or diag $line;
    ok(safe_line($line), 'AUTH error: the line holds no control, C1 or separator');
}

my $body = fixture('message_text');
my $json_text = JSON::PP->new->ascii->allow_nonref->encode($TEXT);
$json_text =~ s/^"|"$//g;
$body =~ s/Does it come in another color\?/$json_text/ or die;

my $res = $nginx->post_signed($body, headers => [Host => 'hooks.example']);
is($res->{status}, 503, 'the script error answers 503');

{
    my $log;
    poll_until(sub { ($log) = grep { /answered:/ } wachat_lines($nginx->error_log) },
               timeout => 5);
    ok(defined $log, 'the Redis error is logged') or $nginx->diag_logs;
    $log //= '';
    my $v = quoted($log, 'answered');
    is(defined $v ? unescape($v) : undef,
       "ERR user_script:1: bad text: $TEXT_BYTES$TAIL",
       'Redis error: the logged value undoes to the bytes Redis sent') or diag $log;
    like($log, qr/bad text: x\\\\n2026\/12\/02 \S+ \[emerg\] 1#1: forged-r1 \\"q\\" \\u00852026/,
         'Redis error: backslash doubled, quote escaped, NEL as \\u0085') or diag $log;
    like($log, qr/-r2\\u20282026.*-r3\\u20292026.*-r4\\x852026.*-r5\\xff\\xc3"$/,
         'Redis error: U+2028/2029 as \\uNNNN, a lone 0x85 and bad bytes as \\xNN')
        or diag $log;
    ok(safe_line($log), 'Redis error: the line holds no control, C1 or separator');
}


# --- the Host header -----------------------------------------------------------

# nginx refuses a Host with a space, a control, '/' or "..", and cuts it at
# ':'; a backslash, a quote, C1 bytes and bytes that are not UTF-8 get
# through (upper case is made lower).
my $HOST = 'evil\n[emerg]forged-h1"q"\\'
         . "\x85[emerg]forged-h2\xc2\x85[emerg]forged-h3"
         . "\xe2\x80\xa8[emerg]forged-h4\xe2\x80\xa9[emerg]forged-h5\xffz\xc3";

$res = $nginx->http(method => 'DELETE', path => '/whatsapp',
                    headers => [Host => $HOST]);
is($res->{status}, 405, 'a DELETE with that Host: 405');

{
    my $line;
    poll_until(sub { ($line) = grep { /method other than/ } wachat_lines($nginx->error_log) },
               timeout => 5);
    ok(defined $line, 'the 405 is logged with the host') or $nginx->diag_logs;
    $line //= '';
    my $v = quoted($line, 'host');
    is(defined $v ? unescape($v) : undef, $HOST,
       'Host: the logged value undoes to the header sent') or diag $line;
    like($line, qr/host: "evil\\\\n\[emerg\]forged-h1\\"q\\"\\\\\\x85\[emerg\]forged-h2\\u0085/,
         'Host: backslashes doubled, quotes escaped, a lone 0x85 as \\x85, NEL as \\u0085')
        or diag $line;
    like($line, qr/-h3\\u2028\[emerg\]forged-h4\\u2029\[emerg\]forged-h5\\xffz\\xc3"$/,
         'Host: U+2028/2029 as \\uNNNN, bytes that are not UTF-8 as \\xNN') or diag $line;
    ok(safe_line($line), 'Host: the line holds no control, C1 or separator');
}

# a value longer than the line's room is cut before a whole escape, and
# "..." after the closing quote says so
$res = $nginx->http(method => 'DELETE', path => '/whatsapp',
                    headers => [Host => "long" . ("\x85" x 300)]);
is($res->{status}, 405, 'a DELETE with a long Host: 405');
{
    my $line;
    poll_until(sub { ($line) = grep { /host: "long/ } wachat_lines($nginx->error_log) },
               timeout => 5);
    like($line // '', qr/host: "long(?:\\x85)+"\.\.\.$/,
         'a long Host is cut at a whole escape, marked by "..." after the quote')
        or diag $line;
    cmp_ok(length($line // ''), '<', 700, 'the cut line stays short');
}


# --- the whole log ---------------------------------------------------------------

my $log = $nginx->error_log;
my @forged = forged_lines($log);
is(scalar @forged, 0, 'no line of error.log starts with forged content, '
                     . 'even for a reader that breaks at NEL, U+2028 or an escaped newline')
    or diag join "\n", @forged;
ok(!grep({ /wachat:/ && !safe_line($_) } split /\n/, $log),
   'every wachat: line is printable UTF-8 without C1 or separators');

$nginx->stop;
$redis->stop;

done_testing;
