#!/usr/bin/perl

# wachat_metrics: Prometheus counters shared by all workers through the
# "wachat_metrics" shared memory zone.  A known mix of requests moves each
# counter by exactly the expected amount, whichever of the two workers
# served it; Redis faults show up as errors, reconnects and the connected
# gauge; the round-trip histogram counts every Redis answer; the counters
# survive nginx -s reload; the metrics location needs no Redis.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Process qw(poll_until);
use Wachat::Files qw(fixture);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);

my $redis = start_redis();

my $metrics_location = <<'CONF';
        location = /metrics {
            wachat_metrics;
        }
CONF

my $locations = wachat_location(token => 'tok-m', secret => 'sec-m')
    . wachat_location(path => '/slow', token => 'tok-m', secret => 'sec-m',
                      extra => 'wachat_redis_timeout 300ms;')
    . $metrics_location;

my $nginx = start_nginx(redis => $redis, worker_processes => 2,
                        server_extra => '        add_header X-Worker $pid always;',
                        locations => $locations);
$nginx->{token}  = 'tok-m';
$nginx->{secret} = 'sec-m';

my %served;         # worker pid => requests it answered

sub scrape (%o) {
    my $res = $nginx->http(method => 'GET', path => '/metrics');
    is($res->{status}, 200, 'metrics: 200') if $o{check};
    $served{ $res->{headers}{'x-worker'} // '?' }++;
    my %m;
    for my $l (split /\n/, $res->{body}) {
        next if $l =~ /^#/;
        my ($k, $v) = $l =~ /^(\S+) (\S+)$/ or do { fail("metrics line: $l"); next };
        $m{$k} = $v;
    }
    return wantarray ? (\%m, $res) : \%m;
}

sub req ($m, $result) { $m->{qq(wachat_requests_total{result="$result"})} }

# Every counter that moved between two scrapes, name => delta.
sub delta ($before, $after) {
    my %d;
    for my $k (keys %$after) {
        next if $k =~ /^wachat_redis_(connected|roundtrip_seconds)/;
        my $d = $after->{$k} - ($before->{$k} // 0);
        $d{$k} = $d if $d;
    }
    return \%d;
}

my $seq = 0;
sub new_body () {
    $seq++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.METRICS$$.$seq"/ or die;
    return $b;
}

sub worker_of ($res) { $served{ $res->{headers}{'x-worker'} // '?' }++; $res }

# --- the text format ------------------------------------------------------------

my ($m0, $res0) = scrape(check => 1);
is($res0->{headers}{'content-type'}, 'text/plain; version=0.0.4', 'Prometheus content type');
like($res0->{body}, qr/^# HELP wachat_requests_total .+\n# TYPE wachat_requests_total counter\n/,
     'HELP and TYPE lines');
for my $t (['wachat_events_queued_total', 'counter'], ['wachat_events_duplicate_total', 'counter'],
           ['wachat_redis_errors_total', 'counter'], ['wachat_redis_reconnects_total', 'counter'],
           ['wachat_redis_connected', 'gauge'], ['wachat_redis_roundtrip_seconds', 'histogram'],
           ['wachat_redis_failovers_total', 'counter'],
           ['wachat_redis_no_primary_seconds_total', 'counter']) {
    like($res0->{body}, qr/^# TYPE $t->[0] $t->[1]$/m, "# TYPE $t->[0] $t->[1]");
}
for my $r (qw(verified bad_request bad_challenge bad_verify_token no_signature bad_signature
              bad_content_type bad_json too_many_events accepted redis_unavailable
              redis_timeout redis_error redis_not_replicated method_not_allowed
              internal_error)) {
    is(req($m0, $r), 0, "requests_total{result=\"$r\"} starts at 0");
}
is($m0->{qq(wachat_redis_errors_total{kind="$_"})}, 0, "redis_errors_total{kind=\"$_\"} 0")
    for qw(unavailable timeout error not_replicated);
ok(poll_until(sub { scrape()->{wachat_redis_connected} == 2 }, timeout => 10),
   'wachat_redis_connected 2: both workers connected');

my $head = $nginx->http(method => 'HEAD', path => '/metrics');
is($head->{status}, 200, 'HEAD /metrics: 200');
is($head->{body}, '', '... no body');
is($nginx->http(method => 'POST', path => '/metrics', body => 'x')->{status}, 405, 'POST /metrics: 405');
is($nginx->http(method => 'PUT', path => '/metrics', body => 'x')->{status}, 405, 'PUT /metrics: 405');

# --- a known mix of requests -------------------------------------------------------

my $m1 = scrape();
my $roundtrips = 0;

is(worker_of($nginx->get_verify(challenge => "c$_"))->{status}, 200, "verify GET $_: 200") for 1 .. 3;
is(worker_of($nginx->get_verify(token => 'wrong'))->{status}, 403, 'wrong verify token: 403');
is(worker_of($nginx->get_verify(query => 'hub.mode=subscribe'))->{status}, 400, 'incomplete verify: 400');

my $accepted = 0;
for my $i (1 .. 10) {
    my $res = worker_of($nginx->post_signed(new_body()));
    $accepted++ if $res->{status} == 200
        && $res->{body} eq '{"result":"accepted","events":1,"queued":1}';
    $roundtrips++;
}
is($accepted, 10, '10 single-event POSTs accepted and queued');

my $batch = fixture('batch_two_entries_messages_statuses');
my $b1 = worker_of($nginx->post_signed($batch));
$roundtrips++;
my ($nev) = $b1->{body} =~ /"events":(\d+),"queued":\1\}$/;
ok($nev && $nev > 1, "batch accepted, all $nev events queued") or diag $b1->{body};
$nev //= 0;

my $b2 = worker_of($nginx->post_signed($batch));
$roundtrips++;
is($b2->{body}, qq({"result":"accepted","events":$nev,"queued":0}), 'the retried delivery: 200, nothing queued');

is(worker_of($nginx->post_signed(new_body(), secret => 'other'))->{status}, 403, 'bad signature: 403') for 1 .. 2;
is(worker_of($nginx->post_signed(new_body(), signature => undef))->{status}, 401, 'no signature: 401');
is(worker_of($nginx->post_signed('{"object":'))->{status}, 400, 'bad json: 400');
is(worker_of($nginx->post_signed(new_body(), content_type => 'text/plain'))->{status}, 415,
   'bad content type: 415');
is(worker_of($nginx->http(method => 'PUT', path => '/whatsapp', body => 'x'))->{status}, 405,
   'PUT /whatsapp: 405');
is(worker_of($nginx->http(method => 'DELETE', path => '/whatsapp'))->{status}, 405,
   'DELETE /whatsapp: 405');

my $m2 = scrape();
is_deeply(delta($m1, $m2), {
    'wachat_requests_total{result="verified"}'           => 3,
    'wachat_requests_total{result="bad_verify_token"}'   => 1,
    'wachat_requests_total{result="bad_request"}'        => 1,
    'wachat_requests_total{result="accepted"}'           => 12,
    'wachat_requests_total{result="bad_signature"}'      => 2,
    'wachat_requests_total{result="no_signature"}'       => 1,
    'wachat_requests_total{result="bad_json"}'           => 1,
    'wachat_requests_total{result="bad_content_type"}'   => 1,
    'wachat_requests_total{result="method_not_allowed"}' => 2,
    'wachat_events_queued_total'                         => 10 + $nev,
    'wachat_events_duplicate_total'                      => $nev,
}, 'the mix moved each counter by exactly the expected amount, and nothing else');

# --- shared across workers ------------------------------------------------------------

# Many more requests: connections spread over both workers, and the sum must
# not depend on which one served each of them (nor on which one answers the
# scrape).
my $n = 60;
my $ok = 0;
for (1 .. $n) {
    $ok++ if worker_of($nginx->post_signed(new_body()))->{status} == 200;
    $roundtrips++;
}
is($ok, $n, "$n more POSTs accepted");

# Scrapes until each worker has answered one (the kernel picks the worker).
my %by_worker;
poll_until(sub {
    my ($m, $res) = scrape();
    $by_worker{ $res->{headers}{'x-worker'} } //= req($m, 'accepted');
    return keys(%by_worker) >= 2;
}, timeout => 20, interval => 0.01);
my @workers = $nginx->workers;
my %live = map { $_ => 1 } @workers;
cmp_ok(scalar(grep { $live{$_} } keys %served), '==', 2, 'both workers served requests')
    or diag explain \%served;
is(scalar(keys %by_worker), 2, 'both workers answered a scrape') or diag explain \%by_worker;
is_deeply([sort values %by_worker], [map { req($m2, 'accepted') + $n } keys %by_worker],
          'every worker reports the same total: accepted + 60');

# --- the round-trip histogram -------------------------------------------------------

sub histogram ($m) {
    my @b = map { [$_ =~ /le="([^"]+)"/, $m->{$_}] }
            grep { /^wachat_redis_roundtrip_seconds_bucket/ } keys %$m;
    return sort { ($a->[0] eq '+Inf' ? 9e9 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 9e9 : $b->[0]) } @b;
}

sub check_histogram ($m, $name) {
    my @b = histogram($m);
    is(join(',', map { $_->[0] } @b),
       '0.0005,0.001,0.002,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,+Inf', "$name: the buckets");
    my $mono = 1;
    $mono &&= $b[$_][1] >= $b[$_ - 1][1] for 1 .. $#b;
    ok($mono, "$name: buckets cumulative, never decreasing");
    is($b[-1][1], $m->{wachat_redis_roundtrip_seconds_count}, "$name: +Inf bucket == _count");
    return @b;
}

my $m3 = scrape();
is($m3->{wachat_redis_roundtrip_seconds_count}, $roundtrips,
   "histogram _count == $roundtrips Redis round trips so far");
check_histogram($m3, 'histogram');
cmp_ok($m3->{wachat_redis_roundtrip_seconds_sum}, '>', 0, '_sum > 0');
cmp_ok($m3->{wachat_redis_roundtrip_seconds_sum}, '<', $roundtrips * 1, '_sum plausible (< 1s a call)');

# A reply that comes after wachat_redis_timeout: 503 redis_timeout, and the
# late answer is still a round trip, in a bucket above 0.25s.
{
    is($redis->cmd('CLIENT', 'PAUSE', 800, 'WRITE'), 'OK', 'Redis paused for 0.8s');
    my $res = worker_of($nginx->post_signed(new_body(), path => '/slow'));
    is($res->{status}, 503, 'POST /slow while Redis pauses: 503');
    is($res->{body}, '{"error":"redis_timeout"}', '... redis_timeout');
    $roundtrips++;
    my $m;
    ok(poll_until(sub { ($m = scrape())->{wachat_redis_roundtrip_seconds_count} == $roundtrips },
                  timeout => 10), 'the late reply is counted as a round trip');
    my %b = map { $_->[0] => $_->[1] } check_histogram($m, 'after the timeout');
    my %b3 = map { $_->[0] => $_->[1] } histogram($m3);
    is($b{'0.25'}, $b3{'0.25'}, '... not in le="0.25"');
    is($b{'+Inf'} - $b3{'+Inf'}, 1, '... but below +Inf');
    is($m->{'wachat_redis_errors_total{kind="timeout"}'}, 1, 'redis_errors_total{kind="timeout"} 1');
    is(req($m, 'redis_timeout'), 1, 'requests_total{result="redis_timeout"} 1');
    $m3 = $m;
}

# --- Redis down ------------------------------------------------------------------------

{
    my $m4 = scrape();
    $redis->stop;
    ok(poll_until(sub { scrape()->{wachat_redis_connected} == 0 }, timeout => 10),
       'Redis stopped: wachat_redis_connected 0');

    my ($m, $res) = scrape();
    is($res->{status}, 200, 'the metrics location answers while Redis is down');

    for (1 .. 3) {
        is(worker_of($nginx->post_signed(new_body()))->{body}, '{"error":"redis_unavailable"}',
           "POST $_ while Redis is down: redis_unavailable");
    }
    is(worker_of($nginx->get_verify(challenge => 'down'))->{status}, 200, 'verify GET still 200');

    my $m5 = scrape();
    is_deeply(delta($m4, $m5), {
        'wachat_requests_total{result="redis_unavailable"}' => 3,
        'wachat_redis_errors_total{kind="unavailable"}'     => 3,
        'wachat_requests_total{result="verified"}'          => 1,
    }, 'Redis down: 3 unavailable, counted once each, nothing else moved');
    is($m5->{wachat_redis_roundtrip_seconds_count}, $roundtrips, 'no round trip without Redis');

    $redis->restart;
    ok(poll_until(sub { scrape()->{wachat_redis_connected} == 2 }, timeout => 20),
       'Redis back: wachat_redis_connected 2');
    my $m6 = scrape();
    is($m6->{wachat_redis_reconnects_total} - $m4->{wachat_redis_reconnects_total}, 2,
       'wachat_redis_reconnects_total +2: each worker reconnected once');

    is(worker_of($nginx->post_signed(new_body()))->{status}, 200, 'POST after the restart: 200');
    $roundtrips++;
}

# --- nginx -s reload keeps the counters --------------------------------------------------

{
    my $before = scrape();
    my @old = $nginx->workers;
    ok($nginx->reload, 'nginx -s reload: new workers up');
    isnt(join(',', sort $nginx->workers), join(',', sort @old), 'new worker processes');

    ok(poll_until(sub { scrape()->{wachat_redis_connected} == 2 }, timeout => 10),
       'after reload: wachat_redis_connected 2 (old workers left the gauge)');
    my $after = scrape();
    is_deeply(delta($before, $after), {}, 'after reload: every counter kept its value');
    is($after->{wachat_redis_roundtrip_seconds_count}, $roundtrips, '... the histogram too');
    cmp_ok(req($after, 'accepted'), '>', 70, '... (accepted is ' . req($after, 'accepted') . ')');

    is($nginx->post_signed(new_body())->{status}, 200, 'POST after reload: 200');
    my $m = scrape();
    is(req($m, 'accepted'), req($after, 'accepted') + 1, 'the new workers count on from there');
    is($m->{wachat_redis_roundtrip_seconds_count}, $roundtrips + 1, '... the histogram too');
}

# --- wachat_metrics alone: no wachat location, no Redis ------------------------------------

{
    my $solo = start_nginx(no_redis => 1, worker_processes => 1, locations => $metrics_location);
    my $res = $solo->http(method => 'GET', path => '/metrics');
    is($res->{status}, 200, 'wachat_metrics without any wachat location nor Redis: 200');
    like($res->{body}, qr/^wachat_requests_total\{result="accepted"\} 0$/m, '... zero counters');
    like($res->{body}, qr/^wachat_redis_connected 0$/m, '... no worker connected');
    $solo->stop;
}

unlike($nginx->error_log, qr/exited on signal|\[alert\]/, 'no worker crashed, no alert');

done_testing;
