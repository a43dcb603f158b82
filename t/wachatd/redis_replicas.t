#!/usr/bin/perl
# redis_replicas: wachatd WAITs for a replica after each of its writes, so
# a failover cannot take back a step whose reply Meta already has.  A real
# primary and replica; the replica is frozen (SIGSTOP) to stand for one
# that has not yet got the writes.
#
#   (a) control, redis_replicas 0: a question asked while the replica is
#       frozen is answered at once (the step reached the primary only)
#   (b) redis_replicas 1: the same question is not answered while the
#       replica is frozen (the step is written, WAIT falls short, wachatd
#       logs it once and retries with backoff, counted in /metrics), and
#       is answered once after it thaws
#   (c) wachatctl doctor warns that redis_replicas is above the replicas
#       in sync while the replica is frozen; an agent's action is taken
#       (written once: refused, it would be sent again)
#   (d) the config check refuses what is out of range
#   (e) started while the primary refuses writes (NOREPLICAS), wachatd
#       waits for a replica rather than exiting

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir);
use Wachat::HTTP qw(http_request);
use Wachat::Process qw(free_port poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd wachatd_binary);
use Wachat::Standin;
use Wachat::Webhook qw(rand_token wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';

my $primary = start_redis();
my $replica = start_redis(args => ['--replicaof', '127.0.0.1', $primary->port]);

sub in_sync () {
    poll_until(sub {
        my $info = eval { $primary->cmd('INFO', 'replication') } // '';
        my ($at) = $info =~ /^master_repl_offset:(\d+)/m;
        return scalar grep { defined $at && $_ >= $at }
                      $info =~ /^slave\d+:.*state=online.*offset=(\d+)/mg;
    }, timeout => 30);
}
ok(in_sync(), 'the replica is in sync with the primary');

my $graph = Wachat::Standin->start(kind => 'graph');
my $nginx = start_nginx(redis => $primary);
my $token_file = File::Temp::tempdir('wachat-rr-XXXXXX', TMPDIR => 1, CLEANUP => 1)
               . '/graph_token';
Wachat::Files::spew($token_file, 'EAAG' . rand_token(40) . "\n", 0600);
my $GRAPH = 'graph_api_url ' . $graph->url . "/v25.0\ngraph_token_file $token_file\n";

sub replies_to ($to) {
    return scalar grep { ($_->{json}{to} // '') eq $to }
                  $graph->requests(path => qr{/messages$});
}

sub ask ($from) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => 'What are your opening hours?'));
    is($res->{status}, 200, "webhook from $from accepted");
}

# --- (a) control: no WAIT, the frozen replica does not hold the reply ----------

my $d = start_wachatd(redis => $primary, kb => $KB, outbound => 'graph', conf => $GRAPH);
kill 'STOP', $replica->pid;
ask('16505550101');
ok(poll_until(sub { replies_to('16505550101') == 1 }, timeout => 15),
   '(a) redis_replicas 0: answered while the replica holds none of it');
kill 'CONT', $replica->pid;
ok(in_sync(), 'the replica caught up');
$d->stop;

# --- (b) redis_replicas 1 ------------------------------------------------------

my $port = free_port();
$d = start_wachatd(redis => $primary, kb => $KB, outbound => 'graph',
                   conf => $GRAPH . "redis_replicas 1\nredis_replicas_timeout 100ms\n"
                         . "agent alice alice\@example.com\napi_listen 127.0.0.1:$port\n");

# the failed store scripts wachatd retried (each is logged once, not per try)
sub store_failures () {
    my $res = http_request(port => $port, method => 'GET', path => '/metrics',
        headers => [Authorization => 'Bearer ' . $d->api_secret]);
    return ($res->{body} // '') =~ /^wachatd_store_failures_total\{cause="redis"\} (\d+)$/m
        ? $1 : -1;
}
ask('16505550202');
ok(poll_until(sub { replies_to('16505550202') == 1 }, timeout => 15),
   '(b) with the replica in sync, answered as before');

kill 'STOP', $replica->pid;
ask('16505550303');
# its own WAIT falling short, or another conversation's a moment before
# (then scripts fail at once for a second rather than wait again)
my $short = qr/conversation \S*16505550303: (?:step failed|commit failed|commit ran, not yet on a replica): redis: (?:written, but 0 of redis_replicas 1 replicas acknowledged it within 100 ms|fewer replicas than redis_replicas 1 in sync a moment ago)/;
my $failures = store_failures();
ok($d->wait_log($short, 15), "not written for good: the WAIT fell short, and the log says so")
    or diag "LOG:\n" . $d->log_text;
# a second failed try: half a second or more later, still nothing sent
ok(poll_until(sub { store_failures() >= $failures + 2 }, timeout => 15), 'it tried again')
    or diag $d->log_text;
is(replies_to('16505550303'), 0, 'and sent nothing while no replica has the step');

# --- (c) doctor ------------------------------------------------------------------

my ($rc, $out);
ok(poll_until(sub {
    ($rc, $out) = $d->ctl('doctor');
    $out =~ /redis_replicas 1 but 0 replica\(s\) in sync/;
}, timeout => 15), '(c) wachatctl doctor warns: redis_replicas 1 but 0 replica(s) in sync')
    or diag $out;

# an agent's action is written once, not held for a replica: refusing it
# would have the agent send it again, and it ran already
($rc, $out) = $d->ctl('note', 'alice', '16505550202', 'replica frozen, noted');
is($rc, 0, '(c) an agent\'s note is taken while the replica is frozen') or diag $out;

kill 'CONT', $replica->pid;
ok(poll_until(sub { replies_to('16505550303') >= 1 }, timeout => 15),
   'the replica thawed: the question is answered');
ok(poll_until(sub { $d->log_text =~ /16505550303.*\b(sent|answered)\b/ }, timeout => 10),
   'and the reply recorded');
ask('16505550404');
ok(poll_until(sub { replies_to('16505550404') == 1 }, timeout => 15), 'the next one too');
is(replies_to('16505550303'), 1, 'answered once');
unlike($d->log_text, qr/\[(error|crit)\]/i, 'no error lines');
$d->stop;

# --- (e) a start while the primary takes no write ---------------------------------

# min-replicas-to-write 1 and a replica that stopped acknowledging: the
# primary answers NOREPLICAS, as after a failover before the old host is
# back.  wachatd waits for it rather than exiting.
$primary->cmd('CONFIG', 'SET', 'min-replicas-to-write', '1');
$primary->cmd('CONFIG', 'SET', 'min-replicas-max-lag', '1');
kill 'STOP', $replica->pid;
ok(poll_until(sub { (eval { $primary->cmd('SET', 'wachat:test:w', '1') } // $@) =~ /NOREPLICAS/ },
              timeout => 15), '(e) the primary refuses writes: NOREPLICAS');
$d = start_wachatd(redis => $primary, kb => $KB, conf => "redis_replicas 1
", no_start => 1);
$d->start(wait => 0);
ok($d->wait_log(qr/takes no write until a replica is in sync, waiting to create the group/, 15),
   'wachatd says it waits for a replica') or diag $d->log_text;
ok($d->alive, 'and is still running');
kill 'CONT', $replica->pid;
ok($d->wait_log(qr/started/, 60), 'the replica is back: wachatd started') or diag $d->log_text;
$primary->cmd('CONFIG', 'SET', 'min-replicas-to-write', '0');
$d->stop;

# --- (d) the config check ------------------------------------------------------------

for my $bad (['redis_replicas 17', qr/redis_replicas/], ['redis_replicas -1', qr/redis_replicas/],
             ['redis_replicas_timeout 5s', qr/redis_replicas_timeout/])
{
    my $c = start_wachatd(redis => $primary, kb => $KB, conf => "$bad->[0]\n", no_start => 1);
    my $t = qx{'${\ wachatd_binary()}' -t -c '${\ $c->conf_path}' 2>&1};
    isnt($? >> 8, 0, "(d) wachatd -t refuses \"$bad->[0]\"");
    like($t, $bad->[1], '  and names the key') or diag $t;
}

done_testing();
