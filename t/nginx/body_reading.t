#!/usr/bin/perl

# Reading the body: in memory, spilled to nginx's temp file, kept in a file
# (client_body_in_file_only), chunked, or arriving in pieces.  The HMAC and
# the parser must see exactly the bytes that were sent in every case.

use v5.36;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use Wachat::Process qw(poll_until);
use Wachat::Files qw(fixture slurp);
use Wachat::HTTP qw(http_read http_send write_all);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);
use Wachat::Webhook qw(sign_body);
use Wachat::Events qw(expected_events sort_events);

my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $tok    = 'tok-body';
my $sec    = 'sec-body';
my $nginx  = start_nginx(redis => $redis, locations => join '',
    wachat_location(token => $tok, secret => $sec),
    wachat_location(path => '/buffered', token => $tok, secret => $sec,
                    extra => "client_body_buffer_size 1k;\nclient_max_body_size 4m;"),
    wachat_location(path => '/infile', token => $tok, secret => $sec,
                    extra => 'client_body_in_file_only on;'),
    wachat_location(path => '/infile-clean', token => $tok, secret => $sec,
                    extra => 'client_body_in_file_only clean;'));
$nginx->{token}  = $tok;
$nginx->{secret} = $sec;

my $temp_dir = $nginx->prefix . '/client_body_temp';

# A signed text message whose body is about $size bytes.
my $seq = 0;
sub text_body ($size) {
    $seq++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.BODY$seq"/ or die;
    my $pad = $size - length($b);
    $pad = 40 if $pad < 40;
    my $text = "big body $seq:";
    my $i = 0;
    $text .= ' word' . ++$i while length($text) < $pad;
    $text = substr($text, 0, $pad);
    $b =~ s/Does it come in another color\?/$text/;
    return $b;
}

sub check_ingested ($name, $body, %post) {
    $redis->cmd('FLUSHALL');
    my $res = $nginx->post_signed($body, %post);
    is($res->{status}, 200, "$name: 200");
    my @want = expected_events($body);
    is($res->{body}, '{"result":"accepted","events":' . @want . ',"queued":' . @want . '}',
       "$name: all events queued");
    my @got = sort_events(map { $_->{fields} } $redis->xrange($STREAM));
    is_deeply(\@got, [sort_events(@want)], "$name: stream entries match the body byte for byte");
    return $res;
}

sub files_in ($d) {
    opendir my $dh, $d or return ();
    return map { "$d/$_" } grep { !/^\./ } readdir $dh;
}

# --- in memory -----------------------------------------------------------------

check_ingested('small body in memory', text_body(600));

# --- spilled to a temp file: client_body_buffer_size 1k, body 5 KB+ ------------

{
    my $before = length $nginx->error_log;
    my $b = text_body(6000);
    cmp_ok(length $b, '>', 5 * 1024, 'body is over 5 KB');
    check_ingested('5 KB+ body, buffer 1k (temp file)', $b, path => '/buffered');
    like(substr($nginx->error_log, $before), qr/a client request body is buffered to a temporary file/,
         'nginx reports that the body went to a temporary file');

    my $bad = $nginx->post_signed($b, path => '/buffered', secret => 'not-the-secret');
    is($bad->{status}, 403, 'spilled body with a wrong signature: 403');

    check_ingested('1 MB body, buffer 1k', text_body(1024 * 1024), path => '/buffered');
    check_ingested('batch fixture through the temp file', fixture('batch_two_entries_messages_statuses'),
                   path => '/buffered');
}

# --- client_body_in_file_only on: the body is only in the file ----------------

{
    my @before = files_in($temp_dir);
    my $b = text_body(3000);
    check_ingested('client_body_in_file_only on', $b, path => '/infile');
    my @new = grep { my $f = $_; !grep { $_ eq $f } @before } files_in($temp_dir);
    is(scalar @new, 1, 'one body file kept in client_body_temp');
    is(@new ? slurp($new[0]) : undef, $b, '... holding exactly the body that was read');

    my $small = text_body(300);
    check_ingested('client_body_in_file_only on, small body', $small, path => '/infile');

    my $bad = $nginx->post_signed($small, path => '/infile', secret => 'nope');
    is($bad->{status}, 403, 'body in a file with a wrong signature: 403');
}
{
    my %before = map { $_ => 1 } files_in($temp_dir);
    check_ingested('client_body_in_file_only clean', text_body(3000), path => '/infile-clean');
    my $gone = poll_until(sub { !grep { !$before{$_} } files_in($temp_dir) }, timeout => 5);
    ok($gone, 'clean: the body file is removed afterwards');
}

# --- chunked, and a body that arrives in pieces --------------------------------

{
    $redis->cmd('FLUSHALL');
    my $b = text_body(4000);
    my @pieces = unpack '(a700)*', $b;
    my $chunked = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @pieces) . "0\r\n\r\n";
    my $res = $nginx->http(method => 'POST', path => '/whatsapp', body => $chunked, headers => [
        'Content-Type'        => 'application/json',
        'X-Hub-Signature-256' => sign_body($b, $sec),
        'Transfer-Encoding'   => 'chunked',
    ]);
    is($res->{status}, 200, 'chunked body: 200 (HMAC over the de-chunked bytes)');
    my @e = $redis->xrange($STREAM);
    is(scalar @e, 1, 'chunked body: one entry');
    my ($want) = expected_events($b);
    is($e[0]{fields}{raw}, $want->{raw}, 'chunked body: raw intact');

    my $res2 = $nginx->http(method => 'POST', path => '/buffered', body => $chunked, headers => [
        'Content-Type'        => 'application/json',
        'X-Hub-Signature-256' => sign_body($b, $sec),
        'Transfer-Encoding'   => 'chunked',
    ]);
    is($res2->{status}, 200, 'chunked body into a temp file: 200');
}
{
    $redis->cmd('FLUSHALL');
    my $b = text_body(3000);
    my $req = $nginx->signed_request($b);
    my $c = http_send(port => $nginx->port, raw => substr($req, 0, 200));
    # a slow client: the rest in pieces (the pauses are the point, not sync)
    for my $piece (unpack '(a500)*', substr($req, 200)) {
        sleep 0.05;
        write_all($c->{sock}, $piece);
    }
    my $res = http_read($c);
    is($res->{status}, 200, 'body arriving in pieces: 200');
    my ($want) = expected_events($b);
    my @e = $redis->xrange($STREAM);
    is($e[0]{fields}{text}, $want->{text}, 'body arriving in pieces: text intact');
}

# Content-Length larger than what is sent, then the client gives up: no
# answer is owed, nothing is queued, and the worker keeps serving.
{
    $redis->cmd('FLUSHALL');
    my $b = text_body(2000);
    my $req = $nginx->signed_request($b);
    my $n = () = $nginx->access_lines;
    my $c = http_send(port => $nginx->port, raw => substr($req, 0, length($req) - 500));
    close $c->{sock};
    my @l = $nginx->wait_access_lines($n + 1);
    like(@l > $n ? join(' ', @{ $l[$n] }) : '', qr/^\d+ - -$/,
         'the truncated upload is logged as not parsed ($wachat_result -)');
    my $res = $nginx->post_signed(text_body(500));
    is($res->{status}, 200, 'after a truncated upload the next POST is served');
    is($redis->xlen($STREAM), 1, 'the truncated body queued nothing');
}

unlike($nginx->error_log, qr/\Q$sec\E|\Q$tok\E/, 'no secret or token in error.log');
unlike($nginx->error_log, qr/word1 word2/, 'no message text in error.log');

done_testing;
