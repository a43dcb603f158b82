#!/usr/bin/perl

# Deduplication (docs/events.md): Meta retries and duplicates deliveries; an
# event is queued once per dedup key {stream}:seen:<wamid> / <wamid>:<status> /
# other:<sha256 of raw>, set NX EX ttl atomically with the XADD.

use v5.36;
use lib 't/lib';
use Test::More;
use Digest::SHA qw(sha256_hex);
use Wachat::Files qw(fixture);
use Wachat::HTTP qw(http_read http_send);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Events qw(expected_events dedup_key);

my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis, worker_processes => 2);

sub post ($body) { $nginx->with_access_line(sub { $nginx->post_signed($body) }) }

sub accepted ($n, $m) { qq({"result":"accepted","events":$n,"queued":$m}) }

# --- a retried delivery is queued once ------------------------------------

{
    my $body = fixture('message_text');
    my ($r1, $l1) = post($body);
    is($r1->{body}, accepted(1, 1), 'first delivery: queued 1');
    is($l1, '200 accepted 1', 'first delivery: $wachat_events 1');

    my ($r2, $l2) = post($body);
    is($r2->{status}, 200, 'retried delivery: 200 (Meta must stop retrying)');
    is($r2->{body}, accepted(1, 0), 'retried delivery: events 1, queued 0');
    is($l2, '200 accepted 0', 'retried delivery: $wachat_events 0');
    is($redis->xlen($STREAM), 1, 'one stream entry after two deliveries');

    my ($e) = expected_events($body);
    my $key = dedup_key($STREAM, $e);
    is($key, '{wachat:events}:seen:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
       'message dedup key is {stream}:seen:<wamid>');
    is($redis->cmd('EXISTS', $key), 1, 'dedup key exists');
    my $ttl = $redis->cmd('TTL', $key);
    cmp_ok($ttl, '>', 0, "dedup key has an expiry (TTL $ttl)");

    # the key is what deduplicates: without it the event is new again
    $redis->cmd('DEL', $key);
    my ($r3) = post($body);
    is($r3->{body}, accepted(1, 1), 'after deleting the dedup key the delivery is queued again');
    is($redis->xlen($STREAM), 2, 'two entries now');
}

# --- a batch delivered twice --------------------------------------------

{
    $redis->cmd('FLUSHALL');
    my $body = fixture('batch_two_entries_messages_statuses');
    my ($r1, $l1) = post($body);
    is($r1->{body}, accepted(9, 9), 'batch: 9 queued');
    my ($r2, $l2) = post($body);
    is($r2->{body}, accepted(9, 0), 'batch retried: 0 queued');
    is($l2, '200 accepted 0', 'batch retried: access log');
    is($redis->xlen($STREAM), 9, 'batch: 9 entries in all');
    for my $e (expected_events($body)) {
        is($redis->cmd('EXISTS', dedup_key($STREAM, $e)), 1,
           "batch: dedup key " . dedup_key($STREAM, $e));
    }
}

# --- statuses: one key per (wamid, status) ------------------------------

{
    $redis->cmd('FLUSHALL');
    my $sent = fixture('status_sent');
    (my $delivered = $sent) =~ s/"status":"sent"/"status":"delivered"/ or die;
    (my $read = $sent) =~ s/"status":"sent"/"status":"read"/ or die;

    is((post($sent))[0]{body}, accepted(1, 1), 'sent: queued');
    is((post($delivered))[0]{body}, accepted(1, 1), 'delivered of the same wamid: queued');
    is((post($read))[0]{body}, accepted(1, 1), 'read of the same wamid: queued');
    is((post($delivered))[0]{body}, accepted(1, 0), 'delivered again: not queued');
    is($redis->xlen($STREAM), 3, 'three statuses of one message, three entries');
    my ($e) = expected_events($sent);
    is($redis->cmd('EXISTS', "{wachat:events}:seen:$e->{id}:sent"), 1, 'key <wamid>:sent');
    is($redis->cmd('EXISTS', "{wachat:events}:seen:$e->{id}:read"), 1, 'key <wamid>:read');
}

# --- a message and a status never share a key ---------------------------

{
    $redis->cmd('FLUSHALL');
    my $msg = fixture('message_text');
    my ($m) = expected_events($msg);
    my $status = sprintf '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"%s","status":"read","timestamp":"1749416390","recipient_id":"16505551234"}]}}]}]}', $m->{id};
    is((post($msg))[0]{body}, accepted(1, 1), 'message queued');
    is((post($status))[0]{body}, accepted(1, 1), 'a status with the same wamid is still queued');
}

# --- duplicates inside one body, and partly new bodies ------------------

{
    $redis->cmd('FLUSHALL');
    my $one = fixture('status_read');
    my ($s) = $one =~ /"statuses":\[(\{.*?\})\]/ or die;
    (my $twice = $one) =~ s/"statuses":\[\Q$s\E\]/"statuses":[$s,$s]/ or die;
    my ($r, $l) = post($twice);
    is($r->{body}, accepted(2, 1), 'the same status twice in one body: events 2, queued 1');
    is($l, '200 accepted 1', '... access log');
    is($redis->xlen($STREAM), 1, '... one entry');

    (my $new = $s) =~ s/"id":"wamid\.([^"]+)"/"id":"wamid.NEW$1"/ or die;
    (my $mixed = $one) =~ s/"statuses":\[\Q$s\E\]/"statuses":[$s,$new]/ or die;
    ($r, $l) = post($mixed);
    is($r->{body}, accepted(2, 1), 'one known and one new status: events 2, queued 1');
    is($redis->xlen($STREAM), 2, '... one more entry');
}

# --- other events: key other:<sha256 of raw> ------------------------------

{
    $redis->cmd('FLUSHALL');
    my $body = fixture('account_update');
    my ($e) = expected_events($body);
    is((post($body))[0]{body}, accepted(1, 1), 'account_update queued');
    is((post($body))[0]{body}, accepted(1, 0), 'account_update retried: not queued');
    my $key = '{wachat:events}:seen:other:' . sha256_hex($e->{raw});
    is($redis->cmd('EXISTS', $key), 1, 'key other:<sha256 hex of the change bytes>');

    my $unknown = '{"object":"page","entry":[]}';
    is((post($unknown))[0]{body}, accepted(1, 1), 'unknown envelope queued');
    is((post($unknown))[0]{body}, accepted(1, 0), 'unknown envelope retried: not queued');
    is($redis->cmd('EXISTS', '{wachat:events}:seen:other:' . sha256_hex($unknown)), 1,
       'key other:<sha256 hex of the whole body>');
}

# --- concurrent duplicates: atomic, queued exactly once --------------------

{
    $redis->cmd('FLUSHALL');
    my $body = fixture('message_image_caption');
    my $req  = $nginx->signed_request($body);
    my $n    = 50;
    my @c    = map { http_send(port => $nginx->port, raw => $req) } 1 .. $n;
    my @res  = map { http_read($_, timeout => 30) } @c;
    is(scalar(grep { $_->{status} == 200 } @res), $n, "$n simultaneous copies: all 200");
    my $queued = 0;
    for (@res) { $queued += $1 if $_->{body} =~ /"queued":(\d+)/ }
    is($queued, 1, "$n simultaneous copies: queued adds up to 1");
    is($redis->xlen($STREAM), 1, "$n simultaneous copies: one entry");
    my @zero = grep { $_->{body} eq accepted(1, 0) } @res;
    is(scalar @zero, $n - 1, 'every other copy answered queued 0');
}

done_testing;
