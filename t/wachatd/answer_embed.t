#!/usr/bin/perl
# Hybrid retrieval (embed_url, issue 15): the KB's entries are embedded at
# load by an OpenAI-compatible /embeddings endpoint and cached in Redis by
# content, so a restart embeds nothing again and a reload only the entry
# that changed; every question is embedded on the event loop and ranked by
# words and meaning together.  A paraphrase the words miss is recovered
# (the kb backend's answer, the openai backend's passages); whatever the
# endpoint does (HTTP 500, broken JSON, a vector of another dimension, no
# answer, not running at all) the customer is answered, by words alone,
# logged once and counted.  And wachatd -t refuses the bad values.
#
# The endpoint is Wachat::Standin with the deterministic model of
# Wachat::Embed: it knows that "my chain squeaks" is a repair and "money
# back" a return, which the KB's words do not say.

use v5.36;
use lib 't/lib';

use IO::Socket::INET;
use POSIX ();
use Test::More;

use Wachat::Process qw(free_port poll_until reaped tmpdir);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers outbox_wait start_wachatd wachatd_binary);
use Wachat::Standin;
use Wachat::Webhook qw(wh_text);

sub uri_escape ($t) { (my $e = $t) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge; $e }

my $FIXTURE = root_dir() . '/t/fixtures/kb/embed_bikes.md';
my $DIR = tmpdir('answer-embed');
my $KB = "$DIR/kb.md";
spew($KB, slurp($FIXTURE));
my %answer = %{ (kb_answers($KB))[0] };

my $MONEY = 'can i get my money back on an item';      # words: 0.40 < 0.45
my $CHAIN = 'my chain squeaks and the wheel wobbles';  # words: nothing

my $emb = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $port = free_port();

my $EMBED = <<"EOF";
embed_url @{[$emb->url]}/v1
embed_model stand-in-embed
embed_timeout 1s
embed_kb_boost 0.1
api_listen 127.0.0.1:$port
agent alice alice\@example.com
EOF

my $d = start_wachatd(redis => $redis, kb => $KB, conf => $EMBED);

my $seen = 0;
sub next_reply ($what) {
    my @e = outbox_wait($redis, $seen + 1);
    ok(@e >= $seen + 1, "$what: a reply reached the outbox") or do {
        diag $d->log_text;
        return {};
    };
    return $e[$seen++]{fields};
}

my $customers = 0;
sub ask ($text) {
    $nginx->post_signed(wh_text(
        from => '4477009' . sprintf('%05d', ++$customers), text => $text));
}

# every text the stand-in was asked to embed: KB entries carry a newline
# (question, phrasings, answer), the customers' questions here none
sub inputs (%o) {
    my @in = map { @{ $_->{json}{input} // [] } }
             grep { $_->{path} =~ m{/embeddings$} } $emb->requests;
    return $o{kb} ? grep { /\n/ } @in : grep { !/\n/ } @in;
}

sub metrics () {
    my $res = http_request(port => $port, method => 'GET', path => '/metrics',
        headers => [Authorization => 'Bearer ' . $d->api_secret]);
    my %m;
    for (split /\n/, $res->{body} // '') {
        my ($k, $v) = /^([^#\s]\S*) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return \%m;
}

my $Q_FAILED = 'wachatd_embed_calls_total{what="question",outcome="failed"}';
my $Q_OK = 'wachatd_embed_calls_total{what="question",outcome="ok"}';
my $LEXICAL = 'wachatd_embed_lexical_total';

# 1. at load: every entry embedded, in one call, and cached in Redis
ok($d->wait_log(qr/knowledge base vectors: 5 entries, 0 from the cache, 5 embedded \(256 dimensions/),
   'at start the 5 entries are embedded') or diag $d->log_text;
is(scalar(inputs(kb => 1)), 5, 'the stand-in was asked for 5 entry texts');
is($redis->cmd('HLEN', 'wachat:kbvec'), 5, 'wachat:kbvec caches 5 vectors');
my @fields = @{ $redis->cmd('HKEYS', 'wachat:kbvec') };
is(scalar(grep { /\A[0-9a-f]{64}\z/ } @fields), 5, 'named by their SHA-256');
is(length($redis->cmd('HGET', 'wachat:kbvec', $fields[0])), 256 * 4,
   'each 256 floats');
my ($kbtext) = grep { /^Can I return an item\?/ } inputs(kb => 1);
like($kbtext, qr/\AC.*\nreturn policy\nYes, within 14 days/s,
     "an entry's text: its question, Also phrasings and answer");

# 2. a paraphrase the words rank below kb_min_score: the meaning recovers it
ask($MONEY);
my $r = next_reply('money back');
is($r->{text}, $answer{returns}, '"money back": the returns entry, through the vectors');
is_deeply([inputs()], [$MONEY], 'the question itself was embedded');
ask('when are you open');
is(next_reply('hours')->{text}, $answer{hours}, 'a plain question: still right');

# 2b. wachatctl ask ranks as the daemon does: by words and meaning
my ($rc, $out) = $d->ctl('ask', $MONEY);
is($rc, 0, 'wachatctl ask with embed_url');
like($out, qr/\Akb:returns\n/, '  gives the returns entry, as the customer got it') or diag $out;
like($out, qr/ranked by words and meaning: stand-in-embed/, '  and says how it ranked');
$emb->script(match => 'embeddings$', body_match => 'money back',
             responses => [{ status => 500, body => 'boom' }]);
($rc, $out) = $d->ctl('ask', $MONEY);
like($out, qr/embeddings failed: embeddings: HTTP 500; ranked by words alone/,
     '  the endpoint failing: by words alone, and says why') or diag $out;
like($out, qr/no confident answer: the fallback/, '  the fallback, as the daemon would give');

# 2c. the console's "what would the assistant answer?" ranks the same way
my $q = 'kb/ask?q=' . uri_escape($MONEY);
my $res = $d->api('alice', 'GET', $q);
is($res->{status}, 200, 'GET /api/kb/ask with embed_url');
is($res->{json}{source}, 'kb:returns', '  the returns entry, as the customer got it');
is($res->{json}{ranking}, 'words and meaning', '  ranked by words and meaning');
$emb->script(match => 'embeddings$', body_match => 'money back',
             responses => [{ status => 500, body => 'boom' }]);
$res = $d->api('alice', 'GET', $q);
is($res->{json}{source}, 'fallback', '  the endpoint failing: the fallback, by words alone');
is($res->{json}{ranking}, 'words', '  ranked by words');
like($res->{json}{ranking_note} // '', qr/HTTP 500/, '  and why');
# the agent leaves while the question is being embedded (a hung endpoint)
$emb->script(match => 'embeddings$', body_match => 'money back', responses => [{ hang => 1 }]);
my $n0 = () = $emb->requests(path => qr/embeddings$/);
my $asked = () = $d->log_text =~ m{api: alice GET /api/kb/ask: 200}g;
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET /api/$q HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nX-Wachat-Agent: alice\r\n"
           . 'X-Wachat-Proxy-Secret: ' . $d->api_secret . "\r\n\r\n";
    ok(poll_until(sub { my $n = () = $emb->requests(path => qr/embeddings$/); $n > $n0 },
                  timeout => 10), '  an ask whose question is being embedded');
    close $s;
}
# when the endpoint gives up, the ask is let go (libevent saw the agent
# leave) or answered into a closed connection (it did not): either way
# logged, and nothing of the request is touched after it is gone
ok(poll_until(sub {
    my $answered = () = $d->log_text =~ m{api: alice GET /api/kb/ask: 200}g;
    $d->log_text =~ m{api: alice left before /api/kb/ask was answered} || $answered > $asked;
}, timeout => 10), '  when the endpoint gives up, the ask is let go or answered, and logged')
    or diag $d->log_text;
$res = $d->api('alice', 'GET', 'kb/ask?q=' . uri_escape('when are you open'));
is($res->{json}{source}, 'kb:hours', '  the agent who left: wachatd goes on, the next ask is answered');
ok($d->alive, '  and wachatd is alive');

# 3. a restart reads every vector from the cache: nothing embedded again
is($d->stop, 0, 'wachatd stops');
$d->start;
ok($d->wait_log(qr/5 entries, 5 from the cache, 0 embedded/),
   'after a restart: 5 vectors from the cache, none embedded')
    or diag $d->log_text;
is(scalar(inputs(kb => 1)), 5, 'the stand-in was asked for no entry again');

# 4. a reload after one entry changed embeds only that one; the old vector goes
my $kb = slurp($KB);
$kb =~ s/for 5 EUR\./for 6 EUR./ or die 'fixture changed';
spew($KB, $kb);
$d->hup;
ok($d->wait_log(qr/5 entries, 4 from the cache, 1 embedded/),
   'a reload: 4 from the cache, 1 embedded') or diag $d->log_text;
my @kbin = inputs(kb => 1);
is(scalar(@kbin), 6, 'one more entry text asked for');
like($kbin[-1], qr/for 6 EUR/, 'the changed one');
ok(poll_until(sub { $redis->cmd('HLEN', 'wachat:kbvec') == 5 }, timeout => 5),
   'the cache still holds 5 vectors: the stale one was deleted');

# 5. the endpoint fails on the question: answered by words alone, logged once
my $m0 = metrics();
my @failures = (
    [ 'HTTP 500'         => { status => 500, body => 'boom' } ],
    [ 'malformed JSON'   => { status => 200, raw => '{"data": [{"index": 0, "embedding": [0.1, 0.2' } ],
    [ 'wrong dimension'  => { status => 200, body => { data => [{ index => 0, embedding => [1, 2, 3] }] } } ],
    [ 'a hung endpoint'  => { hang => 1 } ],
);
for my $f (@failures) {
    my ($what, $res) = @$f;
    $emb->script(match => 'embeddings$', body_match => 'money back',
                 responses => [$res]);
    ask($MONEY);
    $r = next_reply($what);
    like($r->{text}, qr/not sure/, "$what: the customer is answered, by words alone (the fallback)");
}
my @warned = $d->log_text =~ /the question could not be embedded/g;
is(scalar(@warned), 1, 'the failure is logged once, not per question')
    or diag $d->log_text;
like($d->log_text, qr/could not be embedded \(embeddings: HTTP 500\)/, 'with the first reason');
my $m1 = metrics();
is($m1->{$Q_FAILED} - ($m0->{$Q_FAILED} // 0), 4, '/metrics: 4 failed question calls');
is($m1->{$LEXICAL} - ($m0->{$LEXICAL} // 0), 4, '/metrics: 4 questions ranked by words alone');
ask($MONEY);
is(next_reply('recovered')->{text}, $answer{returns}, 'the endpoint answers again: the vectors are back');
ok($d->wait_log(qr/the embeddings endpoint answers again/), 'and the log says so');
is(metrics()->{$Q_OK} - $m1->{$Q_OK}, 1, '/metrics: one more question embedded');
is($d->stop, 0, 'wachatd stops cleanly');

# 5b. the model behind the same embed_model name changes its size: the cache
# holds 128-number vectors, the endpoint now gives 256
for my $f (@{ $redis->cmd('HKEYS', 'wachat:kbvec') }) {
    $redis->cmd('HSET', 'wachat:kbvec', $f, pack('f*', map { 1 + $_ % 7 } 1 .. 128));
}
$d->start;
ok($d->wait_log(qr/5 entries, 5 from the cache, 0 embedded \(128 dimensions/),
   'a cache of another size read as it is') or diag $d->log_text;
ask($MONEY);
like(next_reply('sizes differ')->{text}, qr/not sure/,
     'a question of another size: ranked by words alone');
unlike($d->log_text, qr/embedding every entry again/,
       '  once is not enough to embed the KB again (a broken answer)');
ask($MONEY);
like(next_reply('sizes differ again')->{text}, qr/not sure/, '  nor is the second');
ok($d->wait_log(qr/the model now gives 256 dimensions, the knowledge base's have 128: embedding every entry again/),
   'twice the same other size: the KB is embedded again') or diag $d->log_text;
ok($d->wait_log(qr/5 entries, 0 from the cache, 5 embedded \(256 dimensions/),
   '  all five, at the new size') or diag $d->log_text;
ask($MONEY);
is(next_reply('sizes agree again')->{text}, $answer{returns},
   'the next question is ranked by meaning again');
is(length($redis->cmd('HGET', 'wachat:kbvec', ($redis->cmd('HKEYS', 'wachat:kbvec'))->[0])),
   256 * 4, 'the cache holds the new size');
is($d->stop, 0, 'wachatd stops cleanly');

# 6. the endpoint is not running at all (another model: nothing cached)
my $dead = free_port();
my $d2 = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
embed_url http://127.0.0.1:$dead/v1
embed_model another-model
embed_timeout 1s
EOF
ok($d2->wait_log(qr/knowledge base vectors: embeddings: .*ranking by words alone/),
   'endpoint down at start: the KB vectors fail, logged') or diag $d2->log_text;
ask('when are you open');
is(next_reply('endpoint down')->{text}, $answer{hours}, 'the customer is answered by words');
ask($MONEY);
like(next_reply('endpoint down, paraphrase')->{text}, qr/not sure/,
     'and the paraphrase gets the fallback, not a guess');
is($d2->stop, 0, 'wachatd stops cleanly with the KB calls failing');

# 7. backend openai: the passages come from the fused ranking
my $d3 = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
backend openai
llm_url @{[$emb->url]}/v1
llm_model test-model
llm_passages 2
embed_url @{[$emb->url]}/v1
embed_model stand-in-embed
embed_timeout 1s
EOF
ok($d3->wait_log(qr/5 entries, 5 from the cache, 0 embedded/), 'openai: vectors from the cache');
sub prompt_for ($text) {
    my ($req) = grep { ($_->{json}{messages}[-1]{content} // '') eq $text }
                grep { $_->{path} =~ m{/chat/completions$} } $emb->requests;
    return join "\n", map { $_->{content} // '' } @{ $req->{json}{messages} // [] };
}
ask($CHAIN);
like(next_reply('openai')->{text}, qr/^Stand-in answer to: \Q$CHAIN\E/, "the model's answer");
like(prompt_for($CHAIN), qr/\Q$answer{repair}\E/,
     'a question sharing no word with the KB: the repair entry is a passage');
$emb->script(match => 'embeddings$', body_match => 'wheel wobbles',
             responses => [{ status => 500 }]);
my $CHAIN2 = "$CHAIN!";
ask($CHAIN2);
next_reply('openai, no vector');
unlike(prompt_for($CHAIN2), qr/\Q$answer{repair}\E/,
       'by words alone, the same question gets no such passage');
is($d3->stop, 0, 'wachatd stops cleanly');

# 8. wachatd -t refuses bad values
sub check_conf ($text) {
    my $path = "$DIR/check" . ++$customers . '.conf';
    spew($path, "kb $KB\noutbound sandbox\n$text");
    my $out = "$path.out";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings qw(exec); exec { wachatd_binary() } wachatd_binary(), "-t", "-c", $path; }
        POSIX::_exit(127);
    }
    my $st = poll_until(sub { my $s = reaped($pid); defined $s ? [$s] : undef },
                        timeout => 10);
    unless ($st) { kill 'KILL', $pid; waitpid($pid, 0); $st = [-1] }
    return ($st->[0] == -1 ? -1 : $st->[0] >> 8, slurp($out), $path);
}
my @bad = (
    [ "embed_url http://127.0.0.1:1/v1\n", qr/:3: embed_url needs embed_model/ ],
    [ "embed_model m\n",                   qr/:3: embed_model needs embed_url/ ],
    [ "embed_url ftp://x\nembed_model m\n", qr/:3: .*embed_url/ ],
    [ "embed_url http://127.0.0.1:1\nembed_model m\nembed_timeout 0\n", qr/:5: .*embed_timeout/ ],
    [ "embed_url http://127.0.0.1:1\nembed_model m\nembed_key_file $DIR/none\n", qr/:5: .*embed_key/ ],
);
for my $b (@bad) {
    my ($status, $out) = check_conf($b->[0]);
    is($status, 1, "wachatd -t refuses: " . ($b->[0] =~ s/\n/; /gr));
    like($out, $b->[1], '... saying why, with the line') or diag $out;
}
spew("$DIR/embed.key", "sk-test-0123\n");
chmod 0600, "$DIR/embed.key";
(my $status, $out) = check_conf("embed_url http://127.0.0.1:1/v1\nembed_model m\nembed_key_file $DIR/embed.key\nembed_timeout 2s\n");
is($status, 0, 'wachatd -t accepts a full embed_* config') or diag $out;
like($out, qr/^embed_model\s+m$/m, 'the dump shows embed_model');
unlike($out, qr/sk-test-0123/, 'and never the key');

$emb->stop;
done_testing();
