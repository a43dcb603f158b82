#!/usr/bin/perl
# wachatd's own metrics on the agent API listener: counters move exactly
# with the work done, gauges show the shared state in Redis; only a scraper
# with the API secret (a bearer token) or nginx (its header) reads them.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB,
                      conf => "api_listen 127.0.0.1:$port\nagent alice alice\@example.com\n");

# as Prometheus does with credentials_file: the API's secret as a bearer token
sub metrics (%o) {
    my $res = http_request(port => $port, method => 'GET', path => '/metrics',
        headers => [Authorization => 'Bearer ' . ($o{token} // $d->api_secret)]);
    my %m;
    for (split /\n/, $res->{body} // '') {
        next if /^#/;
        my ($k, $v) = /^(\S+) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return ($res, \%m);
}

my ($res, $m) = metrics(token => 'x' x 64);
is($res->{status}, 403, 'GET /metrics with a wrong token: refused');
$res = http_request(port => $port, method => 'GET', path => '/metrics');
is($res->{status}, 403, 'GET /metrics without a token: refused');
unlike($res->{body}, qr/wachatd_/, 'and no metric in the answer');
$res = http_request(port => $port, method => 'GET', path => '/metrics',
                    headers => ['X-Wachat-Proxy-Secret' => $d->api_secret]);
is($res->{status}, 200, 'GET /metrics through nginx (its secret header)');

($res, $m) = metrics();
is($res->{status}, 200, 'GET /metrics with the bearer token, no agent identity');
like($res->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'Prometheus text');
like($res->{body}, qr/^# TYPE wachatd_messages_total counter$/m, 'with TYPE lines');
is($m->{'wachatd_messages_total{outcome="answered"}'}, 0, 'nothing answered yet');

# two questions, a replayed event, a hand-over with nobody online
$nginx->post_signed(wh_text(from => '4479990001', text => 'What are your opening hours?'));
$nginx->post_signed(wh_text(from => '4479990002', text => 'xyzzy plugh'));
outbox_wait($redis, 2);
my ($first) = $redis->xrange('wachat:events');
$redis->cmd('XADD', 'wachat:events', '*', %{ $first->{fields} });
$nginx->post_signed(wh_text(from => '4479990003', text => '/live_agent'));
outbox_wait($redis, 3);
ok($d->wait_log(qr/already answered/), 'the replay was seen');

ok(poll_until(sub { ((metrics())[1]{'wachatd_graph_calls_total{result="sandbox"}'} // 0) == 3 },
              timeout => 10), 'three replies delivered to the sandbox');
($res, $m) = metrics();
is($m->{'wachatd_messages_total{outcome="answered"}'}, 2, 'two answered');
is($m->{'wachatd_messages_total{outcome="duplicate"}'}, 1, 'one duplicate');
is($m->{'wachatd_messages_total{outcome="handoff"}'}, 1, 'one hand-over');
is($m->{'wachatd_replies_total{source="kb"}'}, 1, 'one from the KB');
is($m->{'wachatd_replies_total{source="fallback"}'}, 1, 'one fallback');
is($m->{'wachatd_sends_total{outcome="sent"}'}, 3, 'three sent');
is($m->{'wachat_conversations{mode="waiting_agent"}'}, 1, 'one waiting for a person');
is($m->{'wachat_stream_backlog{state="pending"}'}, 0, 'nothing pending');
is($m->{'wachat_stream_backlog{state="unread"}'}, 0, 'nothing unread');
is($m->{'wachat_agents_online'}, 0, 'no agent online');
is($m->{'wachatd_llm_seconds_count'}, 0, 'no model calls (kb backend)');

# asked for a person again while alice holds it: one more hand-over asked
# for, credited to nobody (every message committed has an outcome)
my ($rc, $out) = $d->ctl('agent', 'alice', 'online');
is($rc, 0, 'alice online') or diag $out;
$nginx->post_signed(wh_text(from => '4479990004', text => '/live_agent'));
outbox_wait($redis, 4);
$nginx->post_signed(wh_text(from => '4479990004', text => '/live_agent'));
outbox_wait($redis, 5);
ok(poll_until(sub { ((metrics())[1]{'wachatd_messages_total{outcome="handoff"}'} // 0) == 3 },
              timeout => 10), 'three hand-overs asked for: the held one counts too')
    or diag explain [ grep { /messages_total/ } %{ (metrics())[1] } ];

my $post = http_request(port => $port, method => 'POST', path => '/metrics',
                         headers => [Authorization => 'Bearer ' . $d->api_secret]);
is($post->{status}, 405, 'POST /metrics: 405');

is($d->stop, 0, 'wachatd stops cleanly');
done_testing();
