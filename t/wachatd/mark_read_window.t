#!/usr/bin/perl
# Graph mode details: mark_read shows the customer the message read (and
# typing) in one Graph call before the answer; a message older than the
# 24-hour window, by its own timestamp (a late retried delivery), is
# recorded but never answered: wachatd never starts a conversation.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $dir = File::Temp::tempdir('wachat-rw-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $token = spew("$dir/token", "EAAG-read-window\n", 0600);
my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => <<"EOF");
graph_api_url @{[$graph->url]}/v25.0
graph_token_file $token
mark_read yes
EOF

# 1. mark as read + typing, then the answer
my $wamid = new_wamid();
is($nginx->post_signed(wh_text(from => '4475550001', id => $wamid,
                                text => 'What are your opening hours?'))->{status},
   200, 'a message');
my @req = $graph->wait_for_requests(2, 15);
is(scalar @req, 2, 'two Graph calls');
my ($read) = grep { ($_->{json}{status} // '') eq 'read' } @req;
ok($read, 'one marks the message read') or diag explain \@req;
is($read->{json}{message_id}, $wamid, 'the inbound wamid');
is($read->{json}{messaging_product}, 'whatsapp', 'messaging_product');
is($read->{json}{typing_indicator}{type}, 'text', 'with the typing indicator');
like($read->{path}, qr{^/v25\.0/\Q$PNID\E/messages$}, 'on the business number');
my ($answer) = grep { ($_->{json}{to} // '') eq '4475550001' } @req;
ok($answer, 'the other is the answer');
# (both leave at once on their own connections: their arrival order is not
# something to assert)

# 2. older than the window by its own timestamp: recorded, not answered
my $old = new_wamid();
my $before = () = $graph->requests;
$nginx->post_signed(wh_text(from => '4475550002', id => $old, ts => time - 25 * 3600,
                            text => 'What are your opening hours?'));
ok(poll_until(sub {
    grep { ($_->{fields}{id} // '') eq $old } $redis->xrange("wachat:hist:{$PNID:4475550002}");
}, timeout => 10), 'the late message is recorded in the history');
ok($d->wait_log(qr/\Q$old\E is older than the customer service window, not answered/),
   'the log says why it is not answered');
# a fresh message of another customer is answered: its Graph call comes,
# and nothing was sent to the late one meanwhile
$nginx->post_signed(wh_text(from => '4475550003', text => 'How much does delivery cost?'));
ok(poll_until(sub { grep { ($_->{json}{to} // '') eq '4475550003' } $graph->requests },
              timeout => 15), 'a fresh message is answered');
is(scalar(grep { ($_->{json}{to} // '') eq '4475550002'
                 || ($_->{json}{message_id} // '') eq $old } $graph->requests),
   0, 'nothing was sent to the customer whose message was too old');

is($d->stop, 0, 'wachatd stops cleanly');

# 3. with embed_url: the message is marked read at once, while its question
# is being embedded (a hung embeddings endpoint), and once
my $emb = Wachat::Standin->start(kind => 'llm');
$d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => <<"EOF");
graph_api_url @{[$graph->url]}/v25.0
graph_token_file $token
mark_read yes
embed_url @{[$emb->url]}/v1
embed_model stand-in-embed
embed_timeout 6s
EOF
ok($d->wait_log(qr/knowledge base vectors: \d+ entries/, 15), 'the KB is embedded')
    or diag $d->log_text;
$emb->script(match => 'embeddings$', body_match => 'slow question', responses => [{ hang => 1 }]);
my $slow = new_wamid();
$nginx->post_signed(wh_text(from => '4475550004', id => $slow,
                            text => 'a slow question about opening hours'));
my $reads = sub { scalar grep { ($_->{json}{message_id} // '') eq $slow
                                && ($_->{json}{status} // '') eq 'read' } $graph->requests };
my $replies = sub { scalar grep { ($_->{json}{to} // '') eq '4475550004' } $graph->requests };
# well within the 6 s the endpoint is given: not after it
ok(poll_until(sub { $reads->() == 1 }, timeout => 3), 'marked read while the question is being embedded');
is($replies->(), 0, '  before any answer');
ok(poll_until(sub { $replies->() == 1 }, timeout => 15),
   'the endpoint gave up: answered by words alone');
is($reads->(), 1, 'marked read once');
is($d->stop, 0, 'wachatd stops cleanly');
$graph->stop;
done_testing();
