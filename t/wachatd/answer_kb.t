#!/usr/bin/perl
# End to end: a signed webhook through nginx + module into Redis, answered
# by wachatd from the knowledge base into the sandbox outbox.

use v5.36;
use utf8;
use lib 't/lib';

use JSON::PP ();
use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers outbox_wait start_wachatd wachatctl_binary);
use Wachat::Webhook qw(wh_button wh_status wh_text);

my $JSON = JSON::PP->new->utf8;
my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';

# the answers, read from the KB itself
my %answer = %{ (kb_answers($KB))[0] };

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB);

my $seen = 0;
sub next_reply ($what) {
    my @e = outbox_wait($redis, $seen + 1);
    ok(@e >= $seen + 1, "$what: a reply reached the outbox") or do {
        diag $d->log_text;
        return {};
    };
    return $e[$seen++]{fields};
}

sub post ($body, $what) {
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

# 1. an English question answered from its entry, to the right number
post(wh_text(from => '16505551234', name => 'Sheena Nelson',
             text => 'What are your opening hours?'), 'hours');
my $r = next_reply('hours');
is($r->{to}, '16505551234', 'reply addressed to the customer');
is($r->{phone_number_id}, $PNID, 'sent from the business number that got it');
is($r->{text}, $answer{hours}, 'the hours entry answered');
my $req = eval { $JSON->decode($r->{graph_request}) } // {};
is($req->{messaging_product}, 'whatsapp', 'Graph request: messaging_product');
like($req->{biz_opaque_callback_data} // '', qr/^wachat:\d+-\d+$/,
     'Graph request: tagged with the reply\'s history id, as it would go to Meta');
is($req->{type}, 'interactive', 'an entry with buttons is an interactive message');
my @buttons = @{ $req->{interactive}{action}{buttons} // [] };
is(scalar @buttons, 2, 'both buttons of the entry');
ok(!grep({ length($_->{reply}{title}) > 20 } @buttons), 'titles within 20 characters');
is_deeply([map { $_->{reply}{id} } @buttons], ['prices', 'live_agent'],
          'button postback ids are the target entries');
is($req->{interactive}{body}{text}, $answer{hours}, 'body text is the answer');

# 2. Chinese, with Meta's \u escapes on the wire
post(wh_text(from => '447700900001', name => '陳小明', text => '請問營業時間？'), 'zh');
$r = next_reply('zh');
is($r->{to}, '447700900001', 'zh: right customer');
is($r->{text}, $answer{'hours-zh'}, 'zh: answered from the Chinese entry');
$req = eval { $JSON->decode($r->{graph_request}) } // {};
is($req->{type}, 'text', 'an entry without buttons is a text message');

# 3. a button reply routes to the entry it names
post(wh_button(from => '16505551234', payload => 'prices', title => 'See prices'),
     'button');
$r = next_reply('button');
is($r->{text}, $answer{prices}, 'button payload answered with its entry');

# 4. nonsense: the fallback, offering a person
post(wh_text(from => '16505551234', text => 'xyzzy plugh frobnicate'), 'nonsense');
$r = next_reply('nonsense');
isnt($r->{text}, $answer{hours}, 'nonsense is not answered with a guess');
$req = eval { $JSON->decode($r->{graph_request}) } // {};
is($req->{interactive}{action}{buttons}[0]{reply}{id}, 'live_agent',
   'the fallback offers a person');

# 5. a redelivered stream event (as after a crash) is not answered twice:
# replay the first message's entry straight into the stream, then a new
# message of the same conversation; its reply comes next, nothing between.
my ($first) = $redis->xrange('wachat:events');
$redis->cmd('XADD', 'wachat:events', '*', %{ $first->{fields} });
post(wh_text(from => '16505551234', text => 'How much does delivery cost?'),
     'after replay');
$r = next_reply('after replay');
is($r->{text}, $answer{delivery}, 'the replayed event produced no second reply');
ok($d->wait_log(qr/already answered/), 'the duplicate was recognised');

# 6. delivery statuses, out of order, update the history monotonically
my $conv = "$PNID:16505551234";
my %st = @{ $redis->cmd('HGETALL', "wachat:st:{$conv}") };
my ($wamid) = grep { !/^h:/ && !/^(accepted|sent)/ } map { $st{$_} } grep { /^h:/ } keys %st;
ok($wamid, 'the first reply got a wamid') or diag explain \%st;
post(wh_status(id => $wamid, status => 'read'), 'read');
post(wh_status(id => $wamid, status => 'delivered'), 'delivered late');
post(wh_status(id => $wamid, status => 'sent'), 'sent later');
ok(poll_until(sub {
    my $v = $redis->cmd('HGET', "wachat:st:{$conv}", $wamid) // '';
    $v =~ /^read\|/;
}, timeout => 10), 'status is read');
# a later message is processed after the statuses (same conversation)
post(wh_text(from => '16505551234', text => 'return policy'), 'returns');
$r = next_reply('returns');
is($r->{text}, $answer{returns}, 'returns entry');
like($redis->cmd('HGET', "wachat:st:{$conv}", $wamid), qr/^read\|/,
     'delivered and sent arriving after read did not downgrade it');

# 6b. a "failed" status for a reply is surfaced like a send error
my $zconv = "$PNID:447700900001";
my %zst = @{ $redis->cmd('HGETALL', "wachat:st:{$zconv}") };
my ($zwamid) = map { $zst{$_} } grep { /^h:/ } keys %zst;
ok($zwamid, 'the zh reply got a wamid');
post(wh_status(id => $zwamid, status => 'failed', code => 131047,
               recipient => '447700900001'), 'failed');
ok(poll_until(sub { $redis->xlen('wachat:dead') >= 1 }, timeout => 10),
   'a failed delivery lands in the dead-letter stream');
my ($dead) = $redis->xrange('wachat:dead');
is($dead->{fields}{code}, '131047', 'with its code');
is($dead->{fields}{wamid}, $zwamid, 'and the wamid of the reply');
like($redis->cmd('HGET', "wachat:st:{$zconv}", $zwamid), qr/^failed\|131047\|/,
     'the history keeps failed with its code');
ok($d->wait_log(qr/was not delivered, error 131047: .*24 hours/),
   'the log explains the code');

# 7. the conversation as stored: name, mode, history
my %c = @{ $redis->cmd('HGETALL', "wachat:conv:{$conv}") };
is($c{name}, 'Sheena Nelson', 'profile name kept');
is($c{mode}, 'ai', 'mode ai');
my @hist = $redis->xrange("wachat:hist:{$conv}");
my @dirs = map { $_->{fields}{dir} } @hist;
is_deeply(\@dirs, [qw(in out in out in out in out in out)],
          'history: each inbound followed by its reply') or diag explain \@dirs;

# 8. wachatctl shows it
my $out = `@{[wachatctl_binary()]} -c @{[$d->conf_path]} show 16505551234 2>&1`;
is($?, 0, 'wachatctl show exits 0') or diag $out;
like($out, qr/Sheena Nelson/, 'wachatctl show: the customer name');
like($out, qr/\Q$answer{hours}\E/, 'wachatctl show: the reply');
like($out, qr/\(read\)/, 'wachatctl show: the delivery status');
$out = `@{[wachatctl_binary()]} -c @{[$d->conf_path]} conversations 2>&1`;
like($out, qr/\Q$conv\E/, 'wachatctl conversations lists it');

# 8b. the agents' feed is sent without waiting for its reply: a feed key of
# the wrong type makes those XADDs fail, which is logged, and the customer is
# answered all the same
$redis->cmd('DEL', 'wachat:feed');
$redis->cmd('SET', 'wachat:feed', 'not a stream');
post(wh_text(from => '16505551234', text => 'When are you open?'), 'feed broken');
$r = next_reply('feed broken');
is($r->{text}, $answer{hours}, 'feed key of the wrong type: still answered');
ok($d->wait_log(qr/warning: redis: a feed XADD failed: WRONGTYPE/),
   'the failed feed XADD is logged');
$redis->cmd('DEL', 'wachat:feed');
post(wh_text(from => '16505551234', text => 'How much is delivery?'), 'feed back');
$r = next_reply('feed back');
is($r->{text}, $answer{delivery}, 'the next message is answered in order');
ok(poll_until(sub { ($redis->xlen('wachat:feed') // 0) >= 2 }, timeout => 10),
   'feed entries are written again once the key is a stream');

# 9. nothing left behind
ok(poll_until(sub {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    $p->[0] == 0;
}, timeout => 10), 'no stream entry left pending');

# 10. SIGTERM: a clean stop
is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
like($d->log_text, qr/wachatd stopped/, 'and says so');

done_testing();
