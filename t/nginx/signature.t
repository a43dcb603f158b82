#!/usr/bin/perl

# POST authentication: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(app
# secret, raw body).  401 without the header (before the body is read), 403
# for any mismatch; nothing that fails is parsed or queued (docs/http.md).

use v5.36;
use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use Wachat::Files qw(fixture);
use Wachat::HTTP qw(http_read http_send);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);

my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis);
my $secret = $nginx->secret;
my $body   = fixture('message_text');
my $good   = 'sha256=' . hmac_sha256_hex($body, $secret);

sub check_post ($name, $want_status, $want_body, $want_result, $b, %o) {
    my ($res, $line) = $nginx->with_access_line(sub { $nginx->post_signed($b, %o) });
    is($res->{status}, $want_status, "$name: status $want_status");
    is($res->{body}, $want_body, "$name: body");
    is($line, "$want_status $want_result -", "$name: access log");
    return $res;
}

my $no_sig  = '{"error":"no_signature"}';
my $bad_sig = '{"error":"bad_signature"}';

# --- 401: no header --------------------------------------------------------

check_post('no X-Hub-Signature-256', 401, $no_sig, 'no_signature', $body, signature => undef);
check_post('no signature and a wrong content type: 401 first', 401, $no_sig, 'no_signature',
           $body, signature => undef, content_type => 'text/plain');
check_post('no signature, body not JSON: 401', 401, $no_sig, 'no_signature', 'not json',
           signature => undef);
check_post('only the legacy X-Hub-Signature (sha1)', 401, $no_sig, 'no_signature', $body,
           signature => undef,
           headers => ['X-Hub-Signature' => 'sha1=' . Digest::SHA::hmac_sha1_hex($body, $secret)]);

# The header is looked at before the body is read: announce a body, send
# only the headers, and the 401 must still come.
{
    my ($res, $line) = $nginx->with_access_line(sub {
        my $c = http_send(port => $nginx->port, method => 'POST', path => '/whatsapp', partial => 1,
                          headers => ['Content-Type' => 'application/json'], body => $body);
        http_read($c, timeout => 5);
    });
    is($res->{status}, 401, '401 sent while the announced body was never sent');
    is($res->{body}, $no_sig, '... with the no_signature body');
    is($line, '401 no_signature -', '... access log');
}

# --- 403: header present but wrong ----------------------------------------

my %bad = (
    'HMAC with another secret'        => 'sha256=' . hmac_sha256_hex($body, "x$secret"),
    'HMAC with the verify token'      => 'sha256=' . hmac_sha256_hex($body, $nginx->token),
    'signature of a different body'   => 'sha256=' . hmac_sha256_hex(fixture('status_read'), $secret),
    'signature of the body plus "\n"' => 'sha256=' . hmac_sha256_hex("$body\n", $secret),
    'uppercase prefix SHA256='        => 'SHA256=' . substr($good, 7),
    'prefix sha1='                    => 'sha1=' . substr($good, 7),
    'no prefix, hex only'             => substr($good, 7),
    '63 hex digits'                   => substr($good, 0, -1),
    '65 hex digits'                   => $good . '0',
    '128 hex digits'                  => $good . substr($good, 7),
    'non-hex digit'                   => substr($good, 0, -1) . 'g',
    'prefix only'                     => 'sha256=',
    'all zeros'                       => 'sha256=' . ('0' x 64),
    'space after ='                   => 'sha256= ' . substr($good, 8),
);
for my $name (sort keys %bad) {
    check_post($name, 403, $bad_sig, 'bad_signature', $body, signature => $bad{$name});
}

# a body changed after signing (one byte) does not pass
{
    (my $tampered = $body) =~ s/another color/another colour/;
    check_post('body altered after signing', 403, $bad_sig, 'bad_signature', $tampered,
               signature => $good);
}

# the signature is checked before the content type and before parsing
check_post('bad signature and text/plain: 403, not 415', 403, $bad_sig, 'bad_signature', $body,
           signature => $bad{'all zeros'}, content_type => 'text/plain');
check_post('bad signature and invalid JSON: 403, not 400', 403, $bad_sig, 'bad_signature',
           '{"object":', signature => 'sha256=' . hmac_sha256_hex('{"object"', $secret));

# a correct signature and a wrong content type: 415, so the HMAC came first
check_post('good signature, text/plain, invalid JSON: 415', 415, '{"error":"bad_content_type"}',
           'bad_content_type', 'not json', content_type => 'text/plain');

# --- nothing was queued by any of that ----------------------------------

is($redis->cmd('EXISTS', 'wachat:events'), 0, 'no stream after rejected POSTs');
is($redis->cmd('DBSIZE'), 0, 'no key at all (no dedup key either) after rejected POSTs');

# --- the right signature is accepted -------------------------------------

{
    my ($res, $line) = $nginx->with_access_line(sub { $nginx->post_signed($body) });
    is($res->{status}, 200, 'correctly signed POST: 200');
    is($res->{body}, '{"result":"accepted","events":1,"queued":1}', 'accepted, 1 event queued');
    is($line, '200 accepted 1', 'access log: 200 accepted 1');
    is($redis->xlen('wachat:events'), 1, 'one stream entry');
}

# header names are case-insensitive
{
    my $b2 = fixture('status_read');
    my $res = $nginx->post_signed($b2, signature => undef,
        headers => ['x-hub-signature-256' => 'sha256=' . hmac_sha256_hex($b2, $secret)]);
    is($res->{status}, 200, 'lowercase header name accepted');
}

# The HMAC covers the raw bytes: a body with escapes (\u00e9, \/) signed as
# received passes; the same text signed after decoding does not.
{
    my $b3 = fixture('message_text_unicode_escapes');
    my $res = $nginx->post_signed($b3);
    is($res->{status}, 200, 'escaped unicode body signed over its raw bytes: 200');

    my $decoded = $b3;
    $decoded =~ s/\\u00e9/\xc3\xa9/g;
    my $res2 = $nginx->post_signed($b3, signature => 'sha256=' . hmac_sha256_hex($decoded, $secret));
    is($res2->{status}, 403, 'signature of the decoded text: 403');
}

my $log = $nginx->error_log;
like($log, qr/\[warn\][^\n]*wachat:/, 'signature mismatch logged at warn, prefixed wachat:');
like($log, qr/\[info\][^\n]*wachat:/, 'missing signature logged at info, prefixed wachat:');
unlike($log, qr/\Q$secret\E/, 'app secret not in error.log');
unlike($log, qr/another colou?r/, 'message text not in error.log');

done_testing;
