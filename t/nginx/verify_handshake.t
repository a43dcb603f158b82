#!/usr/bin/perl

# GET: Meta's subscription handshake (docs/http.md, the GET rows).
# request -> status, body, $wachat_result; no Redis needed for any of it.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Webhook qw(rand_token);

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $tok   = $nginx->token;

# One GET, checked against status, exact body and access log line.
sub check_get ($name, $want_status, $want_body, $want_result, %get) {
    my ($res, $line) = $nginx->with_access_line(sub { $nginx->get_verify(%get) });
    is($res->{status}, $want_status, "$name: status $want_status");
    is($res->{body}, $want_body, "$name: body");
    is($line, "$want_status $want_result -", "$name: access log '$want_status $want_result -'");
    return $res;
}

# --- the handshake Meta sends -------------------------------------------

my $res = check_get('Meta example challenge', 200, '1158201444', 'verified',
                    challenge => '1158201444');
like($res->{headers}{'content-type'} // '', qr{^text/plain\b}, 'challenge answered as text/plain');
is($res->{headers}{'content-length'}, length '1158201444', 'Content-Length is the challenge length');

my $all = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '._~-';
check_get('every allowed challenge character', 200, $all, 'verified', challenge => $all);

my $c128 = substr(('Zq9_' x 40), 0, 128);
check_get('challenge of 128 bytes', 200, $c128, 'verified', challenge => $c128);

my $rand = rand_token(40);
check_get('random challenge echoed byte for byte', 200, $rand, 'verified', challenge => $rand);

# parameter order and extra parameters do not matter
check_get('parameters in another order, plus an extra one', 200, 'xyz-42', 'verified',
          query => "hub.challenge=xyz-42&foo=bar&hub.verify_token=$tok&hub.mode=subscribe");

# a GET carries no signature; one that has a bogus one is still verified
check_get('GET with a stray X-Hub-Signature-256', 200, '777', 'verified', challenge => '777',
          http => { headers => ['X-Hub-Signature-256' => 'sha256=00'] });

# --- 400 bad_request -----------------------------------------------------

my $bad_request = '{"error":"bad_request"}';
check_get('no hub.mode', 400, $bad_request, 'bad_request', mode => undef);
check_get('no hub.verify_token', 400, $bad_request, 'bad_request', token => undef);
check_get('no hub.challenge', 400, $bad_request, 'bad_request', challenge => undef);
check_get('mode unsubscribe', 400, $bad_request, 'bad_request', mode => 'unsubscribe');
check_get('mode Subscribe (case differs)', 400, $bad_request, 'bad_request', mode => 'Subscribe');
check_get('no query string at all', 400, $bad_request, 'bad_request', query => '');
check_get('names with _ instead of . (PHP style)', 400, $bad_request, 'bad_request',
          query => "hub_mode=subscribe&hub_verify_token=$tok&hub_challenge=1");

# --- 400 bad_challenge ---------------------------------------------------

my $bad_challenge = '{"error":"bad_challenge"}';
check_get('challenge of 129 bytes', 400, $bad_challenge, 'bad_challenge',
          challenge => $c128 . 'x');
check_get('challenge of 4 KB', 400, $bad_challenge, 'bad_challenge', challenge => 'a' x 4096);
for my $c ('<script>', 'a%20b', 'a+b', 'a/b', 'a%0d%0aSet-Cookie:%20x=1', "quote'", 'caf%C3%A9',
           'a%00b') {
    check_get("challenge '$c'", 400, $bad_challenge, 'bad_challenge', challenge => $c);
}

# --- 403 bad_verify_token ------------------------------------------------

my $bad_tok = '{"error":"bad_verify_token"}';
check_get('wrong verify token', 403, $bad_tok, 'bad_verify_token', token => 'not-the-token');
check_get('verify token with one extra char', 403, $bad_tok, 'bad_verify_token', token => "${tok}x");
check_get('verify token missing its last char', 403, $bad_tok, 'bad_verify_token',
          token => substr($tok, 0, -1));
check_get('verify token in another case', 403, $bad_tok, 'bad_verify_token', token => uc $tok);
check_get('the app secret as verify token', 403, $bad_tok, 'bad_verify_token',
          token => $nginx->secret);

# --- what the handshake must not touch ----------------------------------

is($redis->cmd('DBSIZE'), 0, 'no GET wrote anything to Redis');

my $log = $nginx->error_log;
unlike($log, qr/\Q$tok\E/, 'error.log does not contain the verify token');
unlike($log, qr/\Q${\ $nginx->secret }\E/, 'error.log does not contain the app secret');
like($log, qr/\[warn\].*wachat:/, 'a verify token mismatch is logged at warn with wachat:');
like($log, qr/\[info\].*wachat:/, 'a bad challenge is logged at info with wachat:');

done_testing;
