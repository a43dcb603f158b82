#!/usr/bin/perl
# Agents who are reached but not flooded: a presence set from wachatctl
# stays until changed while a console's lapses without heartbeats; an agent
# holds at most its capacity; waiting conversations are assigned when an
# agent comes online or lets one go, the window that closes first first;
# transfer to a colleague; internal notes the customer and the model never
# see; the colleagues' list.
#
# Real redis-server, nginx with the module for the customers' webhooks,
# wachatd with its agent API (reached as nginx does: with the proxy secret).

use v5.36;
use lib 't/lib';

use JSON::PP ();
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_text);

my $JSON = JSON::PP->new->utf8->canonical;
my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T = 20;

my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent_capacity 3
agent alice alice\@example.com name="Alice" capacity=2
agent bob bob\@example.com name="Bob"
agent carol carol\@example.com
backend openai
llm_url @{[$llm->url]}/v1
llm_model stand-in
EOF



sub conv ($wa) { my %c = @{ $redis->cmd('HGETALL', "wachat:conv:{$PNID:$wa}") }; \%c }
sub load ($agent) { $redis->cmd('SCARD', "wachat:agent:$agent:convs") }
sub cid ($wa) { "$PNID:$wa" }
sub path ($wa) { 'conversations/' . cid($wa) =~ s/:/%3A/r }

sub presence ($who) { $d->api($who, 'GET', 'me')->{json}{presence} // '' }

my $seen = 0;
sub outbox_count () { scalar $redis->xrange('wachat:outbox') }
sub wait_outbox ($n) { outbox_wait($redis, $n, timeout => $T) }


# --- presence: wachatctl's stays, a console's needs its heartbeats ---------

my ($rc, $out) = $d->ctl('agent', 'carol', 'online');
is($rc, 0, 'wachatctl agent carol online') or diag $out;
# five minutes without a heartbeat, as the clock would have it
$redis->cmd('HSET', 'wachat:agent:carol', 'heartbeat', time * 1000 - 300_000);
is(presence('carol'), 'online', 'set from wachatctl: still online five minutes later');

is($d->api('bob', 'POST', 'presence', { presence => 'online', console => JSON::PP::true })->{status},
   200, 'bob online from the console');
is(presence('bob'), 'online', 'bob online');
$redis->cmd('HSET', 'wachat:agent:bob', 'heartbeat', time * 1000 - 300_000);
is(presence('bob'), 'offline', "a console's presence lapses without heartbeats");
is($d->api('bob', 'POST', 'heartbeat')->{json}{presence}, 'online', 'a heartbeat brings it back');

is($d->api('bob', 'POST', 'presence', { presence => 'online' })->{status}, 200,
   'bob online through the API without a console');
$redis->cmd('HSET', 'wachat:agent:bob', 'heartbeat', time * 1000 - 300_000);
is(presence('bob'), 'online', 'the API without a console: stays until changed');

# working_hours: a presence set from wachatctl counts only within them
{
    my @days = qw(sun mon tue wed thu fri sat);
    my $today = $days[(gmtime)[6]];
    my $other = $days[((gmtime)[6] + 3) % 7];
    my $port2 = free_port();
    for my $case ([$other, 'offline', 'another day\'s hours: carol counts as offline'],
                  [$today, 'online', 'today all day: online']) {
        my ($day, $want, $what) = @$case;
        my $w = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF2");
api_listen 127.0.0.1:$port2
working_hours "$day 00:00-24:00"
agent carol carol\@example.com
EOF2
        my $res = http_request(port => $port2, method => 'GET', path => '/api/me', timeout => $T,
            headers => ['X-Wachat-Agent' => 'carol', 'X-Wachat-Proxy-Secret' => $w->api_secret]);
        is((eval { $JSON->decode($res->{body}) } // {})->{presence}, $want, "working_hours $day: $what");
        $w->stop;
    }
}

$d->ctl('agent', $_, 'offline') for qw(bob carol);
is(presence($_), 'offline', "$_ offline") for qw(bob carol);


# --- nobody online: three customers wait, ordered by their windows --------

my %ts = (4470101 => time - 3000, 4470102 => time - 1000, 4470103 => time - 2000);
for my $wa (sort keys %ts) {
    $nginx->post_signed(wh_text(from => $wa, ts => $ts{$wa}, text => '/live_agent'));
}
ok(poll_until(sub { $redis->cmd('ZCARD', 'wachat:waiting') == 3 }, timeout => $T),
   'three conversations wait');
wait_outbox(3);
is(conv($_)->{mode}, 'waiting_agent', "$_ waits") for sort keys %ts;


# --- alice comes online: her capacity (2), the oldest windows first -----------

is($d->api('alice', 'POST', 'presence', { presence => 'online', console => JSON::PP::true })->{status},
   200, 'alice online');
is(conv('4470101')->{agent}, 'alice', 'the window that closes first is hers');
is(conv('4470103')->{agent}, 'alice', 'and the next one');
is(conv('4470102')->{mode}, 'waiting_agent', 'the third waits: capacity=2');
is(load('alice'), 2, 'alice holds two');
is($redis->cmd('ZCARD', 'wachat:waiting'), 1, 'one left waiting');
ok($d->wait_log(qr/conversation \Q@{[cid('4470101')]}\E: waited, assigned to agent alice/, $T),
   'the assignment is logged');

# a new customer while the only agent online is full: waits too
$nginx->post_signed(wh_text(from => '4470104', text => '/live_agent'));
ok(poll_until(sub { (conv('4470104')->{mode} // '') eq 'waiting_agent' }, timeout => $T),
   'alice is full: a new request waits');
is(load('alice'), 2, 'alice still holds two');


# --- alice lets one go: the next waiting one comes to her --------------------

is($d->api('alice', 'POST', path('4470101') . '/resolve')->{status}, 200, 'alice resolves one');
is(conv('4470102')->{agent}, 'alice', 'the next waiting conversation is hers');
is(load('alice'), 2, 'back at her capacity');
is(conv('4470104')->{mode}, 'waiting_agent', 'the newest still waits');


# --- transfer --------------------------------------------------------------------

my $r = $d->api('alice', 'POST', path('4470103') . '/transfer', { to => 'nobody' });
is($r->{status}, 400, 'transfer to an agent not in the config: 400');
is($r->{json}{error}, 'bad_target', 'bad_target');
is($d->api('alice', 'POST', path('4470103') . '/transfer', { to => 'alice' })->{status}, 400,
   'transfer to oneself: 400');
$r = $d->api('bob', 'POST', path('4470103') . '/transfer', { to => 'carol' });
is($r->{status}, 403, 'bob cannot transfer what alice holds');
is($r->{json}{error}, 'not_assigned', 'not_assigned');

$r = $d->api('alice', 'POST', path('4470103') . '/transfer', { to => 'bob' });
is($r->{status}, 200, 'alice transfers to bob') or diag $r->{body};
is($r->{json}{agent}, 'bob', 'the answer names bob');
is(conv('4470103')->{agent}, 'bob', 'bob holds it');
ok($redis->cmd('SISMEMBER', 'wachat:agent:bob:convs', cid('4470103')), "in bob's load");
ok(!$redis->cmd('SISMEMBER', 'wachat:agent:alice:convs', cid('4470103')), "out of alice's");
is(conv('4470104')->{agent}, 'alice', 'room again: the last waiting one comes to alice');
is($redis->cmd('ZCARD', 'wachat:waiting'), 0, 'nobody waits');

my @hist = $redis->xrange('wachat:hist:{' . cid('4470103') . '}');
my ($tnote) = grep { ($_->{fields}{dir} // '') eq 'note' } @hist;
ok($tnote, 'the history has a note of the transfer');
is($tnote->{fields}{to}, 'bob', 'to bob');
is($tnote->{fields}{who}, 'agent:alice', 'by alice');

is($d->api('alice', 'POST', path('4470103') . '/reply', { text => 'still me' })->{status}, 403,
   'alice can no longer reply there');
($rc, $out) = $d->ctl('transfer', 'bob', '4470103', 'carol');
is($rc, 0, 'wachatctl transfer') or diag $out;
is(conv('4470103')->{agent}, 'carol', 'carol holds it (offline agents may be given one)');


# --- internal notes ----------------------------------------------------------------

my $before = outbox_count();
$r = $d->api('bob', 'POST', path('4470102') . '/note', { text => 'VIP customer, offer the 10% code' });
is($r->{status}, 201, 'bob notes on a conversation alice holds: 201') or diag $r->{body};
($rc, $out) = $d->ctl('note', 'alice', '4470102', 'called him back');
is($rc, 0, 'wachatctl note') or diag $out;
is($d->api('bob', 'POST', path('4470102') . '/note', { text => '' })->{status}, 400, 'an empty note: 400');
is($d->api('bob', 'POST', 'conversations/' . "$PNID%3A999" . '/note', { text => 'x' })->{status}, 404,
   'a note on no conversation: 404');

my $show = $d->api('alice', 'GET', path('4470102'))->{json};
my @notes = grep { $_->{dir} eq 'note' } @{ $show->{history} // [] };
is(scalar @notes, 2, 'the API shows both notes');
is($notes[0]{text}, 'VIP customer, offer the 10% code', 'with their text');
is($notes[0]{who}, 'agent:bob', 'and who wrote it');
($rc, $out) = $d->ctl('show', '4470102');
like($out, qr/note by agent:alice: called him back/, 'wachatctl show lists the note');

# the customer never gets a note; the model never reads one
$d->api('alice', 'POST', path('4470102') . '/resolve');
my $n_llm = () = $llm->requests;
$nginx->post_signed(wh_text(from => '4470102', text => 'Do you sell bicycles?'));
ok(poll_until(sub { (() = $llm->requests) > $n_llm }, timeout => $T), 'the model is asked');
my $asked = ($llm->requests)[-1]{body} // '';
like($asked, qr/Do you sell bicycles/, 'with the customer\'s question');
unlike($asked, qr/VIP customer|called him back/, 'and without the notes');
my @out = wait_outbox($before + 2);      # the closing text and the answer
unlike(join("\n", map { $_->{fields}{text} // '' } @out), qr/VIP customer|called him back/,
       'no note reached the outbox');


# --- the colleagues ------------------------------------------------------------------

my $agents = $d->api('bob', 'GET', 'agents')->{json}{agents} // [];
my %a = map { $_->{id} => $_ } @$agents;
is_deeply([sort keys %a], [qw(alice bob carol)], 'GET /api/agents lists every agent');
is($a{alice}{capacity}, 2, "alice's own capacity");
is($a{bob}{capacity}, 3, 'agent_capacity for the others');
is($a{alice}{presence}, 'online', 'presence');
is($a{carol}{holds}, 1, 'and how many each holds');

ok($d->alive, 'wachatd still runs');
is($d->stop, 0, 'wachatd stops cleanly');

done_testing();
