#!/usr/bin/perl
# /live_agent: hand-over to an online agent (least loaded, round robin),
# the AI silent while an agent holds the conversation, agent replies sent
# like AI replies, resolve back to the AI; nobody online: the customer is
# told; heartbeat and idle timeouts; an agent taking a conversation while
# the model prepares an answer never sees that answer sent.

use v5.36;
use utf8;
use lib 't/lib';

use Encode qw(encode_utf8);

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir slurp);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';

my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => encode_utf8(<<"EOF"));
agent alice alice\@example.com name="Alice"
agent bob bob\@example.com name="Bob"
handoff_commands /live_agent 人工客服
EOF


my $seen = 0;
sub next_reply ($what) {
    my @e = outbox_wait($redis, $seen + 1);
    ok(@e >= $seen + 1, "$what: a message reached the outbox") or return {};
    return $e[$seen++]{fields};
}

sub conv ($wa) { my %c = @{ $redis->cmd('HGETALL', "wachat:conv:{$PNID:$wa}") }; \%c }

sub committed ($wa, $wamid) {
    poll_until(sub {
        grep { ($_->{fields}{id} // '') eq $wamid }
            $redis->xrange("wachat:hist:{$PNID:$wa}");
    }, timeout => 10);
}

my $cfg = slurp($d->conf_path);
my $online_text = 'Connecting you to a person';

# 1. alice online: /live_agent is handed to her, the customer is told
my ($rc, $out) = $d->ctl('agent', 'alice', 'online');
is($rc, 0, 'wachatctl agent alice online') or diag $out;
$nginx->post_signed(wh_text(from => '4470001', name => 'Ann', text => '/live_agent'));
my $r = next_reply('handoff');
is($r->{to}, '4470001', 'the customer is told');
like($r->{text}, qr/^\Q$online_text\E/, 'that a person is coming');
is(conv('4470001')->{mode}, 'agent', 'mode agent');
is(conv('4470001')->{agent}, 'alice', 'held by alice');
ok($redis->cmd('SISMEMBER', 'wachat:agent:alice:convs', "$PNID:4470001"),
   "in alice's load");

# 2. the AI stays silent; the agent's reply is sent
my $wamid = new_wamid();
$nginx->post_signed(wh_text(from => '4470001', id => $wamid, text => 'What are your opening hours?'));
ok(committed('4470001', $wamid), 'the customer message is recorded');
is(conv('4470001')->{unread}, 2, 'unread for the agent: the request and the question');
($rc, $out) = $d->ctl('reply', 'alice', '4470001', 'Hi Ann, Alice here.');
is($rc, 0, 'alice replies') or diag $out;
$r = next_reply('agent reply');
is($r->{text}, 'Hi Ann, Alice here.', "the next message out is alice's, not the AI's");
is($r->{to}, '4470001', 'to the customer');
my @hist = $redis->xrange("wachat:hist:{$PNID:4470001}");
is($hist[-1]{fields}{who}, 'agent:alice', 'recorded as alice');
is(conv('4470001')->{unread}, 0, 'a reply clears unread');

# asking again while alice holds it: told again, never silence; and bob,
# online and holding less (the agent a new hand-over would go to), is not
# credited with it: no load, no "handed over" in the feed or the log
($rc, $out) = $d->ctl('agent', 'bob', 'online');
is($rc, 0, 'bob online, holding none') or diag $out;
my ($feed_at) = map { $_->[0] } @{ $redis->cmd('XREVRANGE', 'wachat:feed', '+', '-', 'COUNT', 1) };
$nginx->post_signed(wh_text(from => '4470001', text => '/live_agent'));
$r = next_reply('asked again');
like($r->{text}, qr/^\Q$online_text\E/, 'asking again: the customer is told a person is coming');
is(conv('4470001')->{agent}, 'alice', 'still with alice');
# the reply reached the outbox: the commit and what follows it are done
ok(!$redis->cmd('SISMEMBER', 'wachat:agent:bob:convs', "$PNID:4470001"),
   "not in bob's load");
is($redis->cmd('SCARD', 'wachat:agent:bob:convs'), 0, 'bob holds nothing');
ok($redis->cmd('SISMEMBER', 'wachat:agent:alice:convs', "$PNID:4470001"),
   "still in alice's load");
my @handed = grep { ($_->{fields}{type} // '') eq 'mode' && ($_->{fields}{agent} // '') eq 'bob' }
             grep { $_->{id} gt ($feed_at // '0') } $redis->xrange('wachat:feed');
is(scalar @handed, 0, 'the feed says nothing of bob') or diag explain \@handed;
unlike($d->log_text, qr/4470001: handed over to agent bob/, 'nor does the log');
($rc, $out) = $d->ctl('agent', 'bob', 'offline');
is($rc, 0, 'bob offline again') or diag $out;

# 3. bob may not reply in alice's conversation; taking it lets him
($rc, $out) = $d->ctl('reply', 'bob', '4470001', 'Bob here');
is($rc, 1, "bob cannot reply in alice's conversation");
like($out, qr/not_assigned: another agent holds this conversation/, 'and is told why');
($rc, $out) = $d->ctl('take', 'bob', '4470001');
is($rc, 0, 'bob takes it');
is(conv('4470001')->{agent}, 'bob', 'now bob');
ok(!$redis->cmd('SISMEMBER', 'wachat:agent:alice:convs', "$PNID:4470001"),
   "no longer in alice's load");

# 4. resolve: back to the AI, with the closing text
($rc, $out) = $d->ctl('resolve', '4470001');
is($rc, 0, 'resolve') or diag $out;
$r = next_reply('closing');
like($r->{text}, qr/assistant again/, 'the closing text');
is(conv('4470001')->{mode}, 'ai', 'mode ai');
$nginx->post_signed(wh_text(from => '4470001', text => 'How much does delivery cost?'));
$r = next_reply('ai again');
like($r->{text}, qr/Delivery costs/, 'the AI answers again');

# 5. nobody online: the customer is told when to expect an answer
$d->ctl('agent', 'alice', 'offline');
$nginx->post_signed(wh_text(from => '4470002', text => '人工客服'));
$r = next_reply('offline');
like($r->{text}, qr/Nobody is available right now/, 'a configured phrase works; nobody online');
is(conv('4470002')->{mode}, 'waiting_agent', 'waiting');
ok(defined $redis->cmd('ZSCORE', 'wachat:waiting', "$PNID:4470002"), 'listed as waiting');
($rc, $out) = $d->ctl('conversations', '--mode', 'waiting_agent');
like($out, qr/\Q$PNID\E:4470002/, 'wachatctl conversations --mode waiting_agent');
unlike($out, qr/\Q$PNID\E:4470001/, 'only the waiting ones');

# 6. least loaded first: alice holds one, bob none -> bob
$d->ctl('agent', 'alice', 'online');
$d->ctl('agent', 'bob', 'online');
$d->ctl('take', 'alice', '4470002');
$seen = () = $redis->xrange('wachat:outbox');
$nginx->post_signed(wh_text(from => '4470003', text => '/live_agent'));
next_reply('least loaded');
is(conv('4470003')->{agent}, 'bob', 'the least loaded agent gets it');
# equal load: both are used, in turn
$nginx->post_signed(wh_text(from => '4470004', text => '/live_agent'));
next_reply('tie 1');
$nginx->post_signed(wh_text(from => '4470005', text => '/live_agent'));
next_reply('tie 2');
my %got = map { conv($_)->{agent} => 1 } '4470004', '4470005';
is_deeply([sort keys %got], ['alice', 'bob'], 'equal load: round robin');

# 7. a console that stopped its heartbeat counts as offline (a presence
# set from wachatctl has no heartbeat to miss: t/wachatd/agent_routing.t)
$redis->cmd('HSET', "wachat:agent:$_", 'heartbeat', '1000', 'via', 'console')
    for qw(alice bob);
$nginx->post_signed(wh_text(from => '4470006', text => '/live_agent'));
$r = next_reply('stale heartbeat');
like($r->{text}, qr/Nobody is available/, 'stale heartbeats: nobody online');

# 8. idle timeout: a held conversation without messages goes back to the AI
$redis->cmd('ZADD', 'wachat:assigned', '1000', "$PNID:4470003");
ok(poll_until(sub { (conv('4470003')->{mode} // '') eq 'ai' }, timeout => 15),
   'idle for agent_idle_timeout: back to the AI');
$r = next_reply('idle closing');
is($r->{to}, '4470003', 'the customer gets the closing text');

# 9. outside the 24-hour window the agent is told, nothing is queued
$d->ctl('agent', 'alice', 'online');
$d->ctl('take', 'alice', '4470002');
$redis->cmd('HSET', "wachat:conv:{$PNID:4470002}", 'last_in_ts', time - 2 * 86400);
($rc, $out) = $d->ctl('reply', 'alice', '4470002', 'too late');
is($rc, 1, 'a reply outside the window is refused');
like($out, qr/outside_window: more than 24 hours/, 'with the reason');
is($redis->cmd('LLEN', "wachat:outq:{$PNID:4470002}"), 0, 'nothing queued');

done_testing();
