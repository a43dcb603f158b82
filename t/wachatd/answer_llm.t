#!/usr/bin/perl
# backend openai: the model answers from the best KB passages and the recent
# turns; when it fails or is too slow, the KB answers; a slow model holds up
# only its own conversation.

use v5.36;
use utf8;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers outbox_wait start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';

my %answer = %{ (kb_answers($KB))[0] };

my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
backend openai
llm_url @{[$llm->url]}/v1
llm_model test-model
llm_timeout 2s
llm_history 4
llm_passages 2
agent alice alice\@example.com
EOF

my $seen = 0;
sub next_reply ($what) {
    my @e = outbox_wait($redis, $seen + 1);
    ok(@e >= $seen + 1, "$what: a reply reached the outbox") or do {
        diag $d->log_text;
        return {};
    };
    return $e[$seen++]{fields};
}

# 1. the model's answer is sent; the prompt carries passages and question
$nginx->post_signed(wh_text(from => '16505551234', text => 'What are your opening hours?'));
my $r = next_reply('llm');
my @req = $llm->wait_for_requests(1, 10);
my $json = $req[0]{json} // {};
is($req[0]{path}, '/v1/chat/completions', 'POST {llm_url}/chat/completions');
is($json->{model}, 'test-model', 'the configured model');
my $all = join "\n", map { $_->{content} // '' } @{ $json->{messages} // [] };
like($all, qr/\Q$answer{hours}\E/, 'the best KB passage is in the prompt');
is($json->{messages}[-1]{role}, 'user', 'the question comes last, as the user');
is($json->{messages}[-1]{content}, 'What are your opening hours?', 'the question itself');
like($r->{text}, qr/^Stand-in answer to: What are your opening hours\?/,
     "the model's answer is the reply");
unlike($r->{text}, qr/^\Q$answer{hours}\E$/, 'not the KB answer');

# 2. history: the second question carries the first turn and its answer
$nginx->post_signed(wh_text(from => '16505551234', text => 'and delivery cost?'));
$r = next_reply('history');
@req = $llm->wait_for_requests(2, 10);
my @msgs = @{ $req[1]{json}{messages} // [] };
my @roles = map { $_->{role} } @msgs;
ok((grep { $_->{role} eq 'assistant' && $_->{content} =~ /Stand-in answer to: What are/ } @msgs),
   'the previous reply is an assistant turn') or diag explain \@roles;
ok((grep { $_->{role} eq 'user' && $_->{content} eq 'What are your opening hours?' } @msgs[0 .. $#msgs - 1]),
   'the previous question is a user turn');

# 3. the model fails: the KB answers, never silence
$llm->script(match => 'chat/completions$', responses => [{ status => 500, body => 'boom' }]);
$nginx->post_signed(wh_text(from => '447700900002', text => 'How much does delivery cost?'));
$r = next_reply('llm 500');
is($r->{text}, $answer{delivery}, 'a 500 from the model: the KB answer');
ok($d->wait_log(qr/model did not answer/), 'and the log says why');

# 4. the model is too slow: the KB answers after llm_timeout
$llm->script(match => 'chat/completions$', responses => [{ hang => 1 }]);
$nginx->post_signed(wh_text(from => '447700900003', text => 'return policy'));
$r = next_reply('llm timeout');
is($r->{text}, $answer{returns}, 'a hung model: the KB answer after the timeout');

# 5. a slow model holds up only its own conversation: A's call hangs for
# longer than B's whole exchange; B's reply comes first
$llm->script(match => 'chat/completions$', body_match => 'SLOW-A',
             responses => [{ delay => 1.5 }]);
my $before = () = $llm->requests;
$nginx->post_signed(wh_text(from => '447700900004', text => 'SLOW-A opening hours'));
$llm->wait_for_requests($before + 1, 10);
$nginx->post_signed(wh_text(from => '447700900005', text => 'FAST-B prices'));
my @two = (next_reply('first of two'), next_reply('second of two'));
is($two[0]{to}, '447700900005', "B's reply went out while A's model call was pending");
is($two[1]{to}, '447700900004', "then A's");
like($two[1]{text}, qr/SLOW-A/, "A got the model's answer, late but not replaced");

# 6. an agent takes the conversation while the model prepares its answer:
# that answer is never sent (the mode is checked when the reply commits)
my $pnid = '106540352242922';
my $race = new_wamid();
$before = () = $llm->requests;
$llm->script(match => 'chat/completions$', body_match => 'RACE-C',
             responses => [{ delay => 3 }]);
$nginx->post_signed(wh_text(from => '447700900005', id => $race,
                            text => 'RACE-C do you deliver?'));
$llm->wait_for_requests($before + 1, 10);
my $ctl = wachatctl_binary() . ' -c ' . $d->conf_path;
my $out = `$ctl take alice 447700900005 2>&1`;
is($?, 0, 'alice takes the conversation while the model is busy') or diag $out;
ok(poll_until(sub {
    grep { ($_->{fields}{id} // '') eq $race }
        $redis->xrange("wachat:hist:{$pnid:447700900005}");
}, timeout => 15), 'the message is committed once the model answered');
is($redis->cmd('LLEN', "wachat:outq:{$pnid:447700900005}"), 0,
   'no AI reply queued');
ok(!grep({ ($_->{fields}{reply_to} // '') eq $race } $redis->xrange('wachat:outbox')),
   'and none sent: the AI did not talk over the agent');
my %c = @{ $redis->cmd('HGETALL', "wachat:conv:{$pnid:447700900005}") };
is($c{agent}, 'alice', 'alice still holds it');

is($d->stop, 0, 'wachatd stops cleanly');
$llm->stop;
done_testing();
