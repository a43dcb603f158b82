#!/usr/bin/perl

# The remaining rows of docs/http.md: 405 (+ Allow), 413 (nginx's own, via
# client_max_body_size), 415, 400 bad_json, 400 too_many_events, and the
# 200 body format.  Each case: status, exact body, access log line, and that a
# rejected body queued nothing.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Files qw(fixture);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);
use Wachat::Webhook qw(sign_body);

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis, locations =>
      wachat_location(token => 'tok-statuses', secret => 'sec-statuses')
    . wachat_location(path => '/small', token => 'tok-statuses', secret => 'sec-statuses',
                      extra => 'client_max_body_size 1k;'));
$nginx->{token}  = 'tok-statuses';
$nginx->{secret} = 'sec-statuses';

sub with_line ($code) { $nginx->with_access_line($code) }

sub stream_len { $redis->cmd('XLEN', 'wachat:events') }

# --- 405 -------------------------------------------------------------------

for my $m (qw(PUT DELETE PATCH OPTIONS)) {
    my ($res, $line) = with_line(sub {
        $nginx->http(method => $m, path => '/whatsapp', body => fixture('message_text'),
                     headers => ['Content-Type' => 'application/json',
                                 'X-Hub-Signature-256' => sign_body(fixture('message_text'),
                                                                    'sec-statuses')]);
    });
    is($res->{status}, 405, "$m: 405");
    is($res->{headers}{allow}, 'GET, POST', "$m: Allow: GET, POST");
    is($res->{body}, '{"error":"method_not_allowed"}', "$m: body");
    is($line, '405 method_not_allowed -', "$m: access log");
}
{
    my ($res, $line) = with_line(sub { $nginx->http(method => 'HEAD', path => '/whatsapp') });
    is($res->{status}, 405, 'HEAD: 405');
    is($res->{headers}{allow}, 'GET, POST', 'HEAD: Allow: GET, POST');
    is($line, '405 method_not_allowed -', 'HEAD: access log');
}
is($redis->cmd('DBSIZE'), 0, 'a signed PUT queued nothing');

# --- 413 -------------------------------------------------------------------

{
    my $big = fixture('message_text');
    $big =~ s/Does it come in another color\?/'x' x 2048/e;
    my ($res, $line) = with_line(sub { $nginx->post_signed($big, path => '/small') });
    is($res->{status}, 413, 'signed body over client_max_body_size: 413');
    like($res->{body}, qr/413 Request Entity Too Large/, "413 is nginx's own page");
    is($line, '413 - -', 'access log: 413 - -');
    is($redis->cmd('DBSIZE'), 0, 'the oversized body queued nothing');

    my $ok = $nginx->post_signed(fixture('message_text'), path => '/small');
    is($ok->{status}, 200, 'a body under the limit in the same location: 200');
    $redis->cmd('FLUSHALL');
}

# --- 415 -------------------------------------------------------------------

for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'application/jsonp',
            'application/json-patch+json', 'text/json', 'multipart/form-data; boundary=x',
            undef) {
    my $name = defined $ct ? "Content-Type $ct" : 'no Content-Type';
    my ($res, $line) = with_line(sub {
        $nginx->post_signed(fixture('message_text'), content_type => $ct);
    });
    is($res->{status}, 415, "$name: 415");
    is($res->{body}, '{"error":"bad_content_type"}', "$name: body");
    is($line, '415 bad_content_type -', "$name: access log");
}
is($redis->cmd('DBSIZE'), 0, '415s queued nothing');

for my $ct ('application/json; charset=utf-8', 'application/json;charset=UTF-8') {
    my $b = fixture('message_text');
    my $res = $nginx->post_signed($b, content_type => $ct);
    is($res->{status}, 200, "Content-Type '$ct': 200");
    $redis->cmd('FLUSHALL');
}

# --- 400 bad_json ----------------------------------------------------------

my %bad_json = (
    'not JSON at all'             => 'hello',
    'empty body'                  => '',
    'truncated object'            => substr(fixture('message_text'), 0, 100),
    'trailing junk'               => fixture('message_text') . 'x',
    'two documents'               => fixture('message_text') . fixture('status_read'),
    'single quotes'               => q({'object':'whatsapp_business_account'}),
    'invalid UTF-8 in a string'   => qq({"object":"whatsapp_business_account","entry":[],"x":"\xff\xfe"}),
    'overlong UTF-8 encoding'     => qq({"x":"\xc0\xaf"}),
    'UTF-16 surrogate raw bytes'  => qq({"x":"\xed\xa0\x80"}),
    'nesting 65 deep'             => ('[' x 65) . (']' x 65),
    'objects nested 65 deep'      => ('{"a":' x 64) . '{}' . ('}' x 64),
);
for my $name (sort keys %bad_json) {
    my ($res, $line) = with_line(sub { $nginx->post_signed($bad_json{$name}) });
    is($res->{status}, 400, "$name: 400");
    is($res->{body}, '{"error":"bad_json"}', "$name: body bad_json");
    is($line, '400 bad_json -', "$name: access log");
}
is($redis->cmd('DBSIZE'), 0, 'bad JSON queued nothing');

{
    $redis->cmd('FLUSHALL');
    my $deep = ('[' x 64) . (']' x 64);
    my $res = $nginx->post_signed($deep);
    is($res->{status}, 200, 'nesting exactly 64 deep is JSON: 200');
    is($res->{body}, '{"result":"accepted","events":1,"queued":1}', '... queued as one other event');
    my @e = $redis->xrange('wachat:events');
    is($e[0]{fields}{raw}, $deep, '... whose raw is the whole body');
    $redis->cmd('FLUSHALL');
}

# --- 400 too_many_events ---------------------------------------------------

sub statuses_body ($n, $tag) {
    my @s = map {
        sprintf '{"id":"wamid.%s%05d","status":"sent","timestamp":"1750263773","recipient_id":"16505551234"}',
            $tag, $_
    } 1 .. $n;
    return '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
         . '[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
         . '"15550783881","phone_number_id":"106540352242922"},"statuses":['
         . join(',', @s) . ']},"field":"messages"}]}]}';
}

{
    my ($res, $line) = with_line(sub { $nginx->post_signed(statuses_body(4097, 'TOOMANY'), timeout => 30) });
    is($res->{status}, 400, '4097 events: 400');
    is($res->{body}, '{"error":"too_many_events"}', '4097 events: body too_many_events');
    like($line // '', qr/^400 too_many_events /, '4097 events: access log');
    is($redis->cmd('DBSIZE'), 0, '4097 events: nothing queued');

    ($res, $line) = with_line(sub { $nginx->post_signed(statuses_body(4096, 'MAX'), timeout => 30) });
    is($res->{status}, 200, '4096 events: 200');
    is($res->{body}, '{"result":"accepted","events":4096,"queued":4096}', '4096 events: all queued');
    is($line, '200 accepted 4096', '4096 events: access log');
    is(stream_len(), 4096, '4096 stream entries');
    $redis->cmd('FLUSHALL');
}

# --- 200: the answer's format ----------------------------------------------

{
    my $res = $nginx->post_signed(fixture('batch_two_entries_messages_statuses'));
    is($res->{status}, 200, 'batch: 200');
    like($res->{headers}{'content-type'} // '', qr{^application/json\b}, '200 is application/json');
    is($res->{body}, '{"result":"accepted","events":9,"queued":9}', 'batch: events 9, queued 9');
}

done_testing;
