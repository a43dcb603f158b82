#!/usr/bin/perl
# Not sure, the assistant offers the nearest entries (kb_suggestions): a
# customer who asked in words the KB does not have is one tap from the
# answer, and the tap teaches the business the words customers use.
#
#   1. a question below kb_min_score, near two entries: suggest_text, the
#      two entries as buttons titled by their short phrasings, the person
#      last; the history says which were offered;
#   2. the tap answers the entry;
#   3. wachatctl ask and GET /api/kb/ask show the buttons;
#   4. GET /api/unanswered and wachatctl unanswered: the question, and the
#      entry customers picked (a stale tap that gets the fallback again is
#      not counted as the question asked twice); the console's action adds
#      the question as a phrasing of it (POST /api/kb/also), after which it
#      is answered;
#   5. a question near nothing: the plain fallback, only the person;
#   6. a tap on an entry that is gone (the KB changed since): its title is
#      the question, never an error;
#   7. kb_suggestions 0: the plain fallback; wachatd -t refuses values out
#      of range, and a suggest_text longer than WhatsApp's 1024 characters;
#   8. an entry titled as the person button ("Talk to a person") is not
#      suggested beside it: Graph refuses two buttons of one title; the
#      tools show the buttons the customer gets.
#
# Real redis-server, nginx with the module, wachatd (kb backend, sandbox).

use v5.36;
use utf8;
use lib 't/lib';

use Encode qw(encode_utf8);
use POSIX ();
use Test::More;

use Wachat::Process qw(free_port poll_until reaped tmpdir);
use Wachat::Files qw(slurp spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_reply outbox_wait start_wachatd wachatd_binary);
use Wachat::Webhook qw(wh_button wh_text);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $PNID = '106540352242922';
my $T = 20;
my $DIR = tmpdir('answer-suggest');
my $KB = "$DIR/kb.md";

my $KB_TEXT = <<'EOF';
# Riverside Cycles

## How much does it cost to rent a bike for a day? {#prices}
Also: rental prices | day hire | 租車價錢

City bike: HK$40 per hour, HK$150 per day.

## Do you repair bikes? {#repair}
Also: bike repair | fix a bent wheel | 單車維修

Yes, repairs from HK$50, most done the same day.

## What are your opening hours? {#hours}
Also: when are you open | 營業時間

Every day 9:00 to 19:00.
EOF
spew($KB, encode_utf8($KB_TEXT));

my $PUNCTURE = 'how much to fix a puncture';
my $SUGGEST = "I'm not sure I understood — is it one of these? Or shall I connect you to a person?";

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com
EOF

my $seen = 0;
sub reply_to ($body, $what) {
    is($nginx->post_signed($body)->{status}, 200, "$what: webhook accepted");
    my @e = outbox_wait($redis, $seen + 1, timeout => $T);
    ok(@e > $seen, "$what: answered") or do { diag $d->log_text; return {} };
    return outbox_reply($e[$seen++]{fields});
}
sub ids ($r) { [ map { $_->{id} } @{ $r->{buttons} } ] }
sub titles ($r) { [ map { $_->{title} } @{ $r->{buttons} } ] }


# 1. near two entries, confident of neither
my $r = reply_to(wh_text(from => '4492001', text => $PUNCTURE), 'puncture');
is($r->{text}, $SUGGEST, 'not sure: suggest_text');
is_deeply(ids($r), ['repair', 'prices', 'live_agent'],
          'the two nearest entries, the nearest first, then the person') or diag explain $r;
is_deeply(titles($r), ['Do you repair bikes', 'Rental prices', 'Talk to a person'],
          'titled by the heading that fits, else the first Also phrasing that does');
my $conv = "$PNID:4492001";
my ($out) = grep { ($_->{fields}{dir} // '') eq 'out' } $redis->xrange("wachat:hist:{$conv}");
is($out->{fields}{source}, 'fallback', 'the history: a fallback');
is($out->{fields}{context}, 'repair,prices', '... that offered #repair and #prices');

# 2. the tap answers the entry
$r = reply_to(wh_button(from => '4492001', payload => 'repair', title => 'Do you repair bikes'), 'tap');
is($r->{text}, 'Yes, repairs from HK$50, most done the same day.', 'the tap: the entry it names');

# 3. the tools show the buttons, as sent
my ($rc, $text) = $d->ctl('ask', 'chain slipping, what would it cost');
is($rc, 0, 'wachatctl ask');
like($text, qr/\Ano confident answer: the fallback\n\Q$SUGGEST\E\n\[Rental prices\] #prices  \[Talk to a person\] #live_agent\n/,
     '... shows the text and the buttons, as sent') or diag $text;
my $res = $d->api('alice', 'GET', 'kb/ask?q=chain%20slipping%2C%20what%20would%20it%20cost');
is_deeply($res->{json}{buttons}, [ { id => 'prices', title => 'Rental prices' },
                                   { id => 'live_agent', title => 'Talk to a person' } ],
          'GET /api/kb/ask: the buttons') or diag explain $res->{json};
$res = $d->api('alice', 'GET', 'kb/ask?q=when%20are%20you%20open');
is_deeply($res->{json}{buttons}, [], 'an answer without buttons: none');

# another customer asks about the same in about the same words, picks the same
$r = reply_to(wh_text(from => '4492002', text => 'How much to fix a puncture?'), 'puncture again');
is_deeply(ids($r), ['repair', 'prices', 'live_agent'], 'the same suggestions');
reply_to(wh_button(from => '4492002', payload => 'repair', title => 'Do you repair bikes'), 'tap again');

# a third picks the other; a fourth types on instead of tapping
reply_to(wh_text(from => '4492003', text => 'how much to fix a puncture pls'), 'puncture 3');
reply_to(wh_button(from => '4492003', payload => 'prices', title => 'Rental prices'), 'tap prices');
reply_to(wh_text(from => '4492004', text => 'how much to fix a puncture??'), 'puncture 4');
reply_to(wh_text(from => '4492004', text => 'when are you open'), 'typed on');

# a fifth taps a button the fallback did not offer (an older message's, or
# a crafted one): the entry answers, but it is no pick of this question
reply_to(wh_text(from => '4492005', text => 'how much to fix a puncture?!'), 'puncture 5');
$r = reply_to(wh_button(from => '4492005', payload => 'hours', title => 'Opening hours'),
              'tap an entry not offered');
is($r->{text}, 'Every day 9:00 to 19:00.', '... answers the entry it names');

# a sixth taps a button of an entry gone since, whose title falls short
# too: a second fallback, but a tap is no new question; then she taps what
# that one offered, a pick of the question she asked
reply_to(wh_text(from => '4492011', text => 'how much to fix a puncture !'), 'puncture 6');
$r = reply_to(wh_button(from => '4492011', payload => 'gone-entry', title => 'Fix my puncture'),
              'a stale tap that falls short');
is($r->{text}, $SUGGEST, '... the fallback again, with suggestions') or diag explain $r;
is(ids($r)->[0], 'repair', '... #repair first');
$r = reply_to(wh_button(from => '4492011', payload => 'repair', title => 'Do you repair bikes'),
              'tap what the second fallback offered');
is($r->{text}, 'Yes, repairs from HK$50, most done the same day.', '... answers #repair');

# 4. the improvement loop: what customers picked
$res = $d->api('alice', 'GET', 'unanswered?since=1d');
is($res->{status}, 200, 'GET /api/unanswered');
my ($g) = grep { $_->{text} =~ /puncture/ } @{ $res->{json}{groups} // [] };
ok($g, 'the puncture question is among the unanswered') or diag explain $res->{json};
is($g->{count}, 6, 'asked six times: the stale tap that fell short is not counted again');
is_deeply($g->{picked}, [ { id => 'repair', count => 3 }, { id => 'prices', count => 1 } ],
          'picked: #repair three times (once after the second fallback), #prices once, '
          . 'the most picked first; typing on, or tapping an entry the fallback did not '
          . 'offer, is no pick')
    or diag explain $g;

($rc, $text) = $d->ctl('unanswered', '--since', '1d');
is($rc, 0, 'wachatctl unanswered');
like($text, qr/puncture.*\n.*\n.*\n\s+then picked #repair \(3\), #prices \(1\)\n/,
     '... says what customers then picked') or diag $text;

# the console's "Add as a phrasing of #repair": the question joins the entry
my $kb = $d->api('alice', 'GET', 'kb');
$res = $d->api('alice', 'POST', 'kb/also', { id => 'repair', also => [$PUNCTURE],
                                              version => $kb->{json}{version} });
is($res->{status}, 200, 'the question added as a phrasing of #repair') or diag $res->{body};
ok(poll_until(sub { ($d->api('alice', 'GET', 'kb/ask?q=how%20much%20to%20fix%20a%20puncture')
                        ->{json}{source} // '') eq 'kb:repair' },
              timeout => $T), 'wachatd took the edited KB') or diag $d->log_text;
$r = reply_to(wh_text(from => '4492005', text => $PUNCTURE), 'after the edit');
is($r->{text}, 'Yes, repairs from HK$50, most done the same day.',
   'now the question is answered from #repair');

# 5. near nothing: the plain fallback
$r = reply_to(wh_text(from => '4492006', text => 'do you sell helmets'), 'helmets');
is($r->{text}, "I'm not sure — shall I connect you to a person?", 'near nothing: fallback_text');
is_deeply(ids($r), ['live_agent'], 'only the person');

# 6. a tap on an entry the KB no longer has: its title is asked
$r = reply_to(wh_button(from => '4492007', payload => 'gone-entry', title => 'When are you open'),
              'stale tap');
is($r->{text}, 'Every day 9:00 to 19:00.', 'a stale tap: its title answered as a question');

is($d->stop, 0, 'wachatd stops cleanly');

# 7. kb_suggestions 0: as before the suggestions
my $d0 = start_wachatd(redis => $redis, kb => $KB, conf => "kb_suggestions 0\n");
$r = reply_to(wh_text(from => '4492008', text => 'chain slipping, what would it cost'), 'no suggestions');
is($r->{text}, "I'm not sure — shall I connect you to a person?", 'kb_suggestions 0: fallback_text');
is_deeply(ids($r), ['live_agent'], '... and only the person');
is($d0->stop, 0, 'wachatd stops cleanly');

my $n = 0;
for my $bad ([ 'kb_suggestions 3', qr/kb_suggestions/ ],
             [ 'kb_suggestions -1', qr/kb_suggestions/ ],
             [ 'kb_suggest_min_score 1.5', qr/kb_suggest_min_score/ ],
             [ 'suggest_text ""', qr/suggest_text/ ],
             [ 'suggest_text "' . ('x' x 1025) . '"',
               qr/suggest_text: "x+\.\.\." is longer than 1024 characters/ ]) {
    my $path = "$DIR/bad" . ++$n . '.conf';
    spew($path, "kb $KB\noutbound sandbox\n$bad->[0]\n");
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$path.out" or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings qw(exec); exec { wachatd_binary() } wachatd_binary(), '-t', '-c', $path; }
        POSIX::_exit(127);
    }
    my $st = poll_until(sub { my $s = reaped($pid); defined $s ? [$s] : undef }, timeout => 10);
    is($st && $st->[0] >> 8, 1, 'wachatd -t refuses ' . substr($bad->[0], 0, 40));
    like(slurp("$path.out"), qr/:3: .*$bad->[1]/, '... naming the line and the key')
        or diag slurp("$path.out");
}

# 8. an entry titled "Talk to a person" beside the button to a person
my $KB_PERSON = "$DIR/kb-person.md";
spew($KB_PERSON, encode_utf8($KB_TEXT . <<'EOF'));

## Can I talk to a person? {#human}
Also: 真人客服 | talk to a person

Yes: tap "Talk to a person" below, or write /live_agent.
EOF
my $dp = start_wachatd(redis => $redis, kb => $KB_PERSON,
                       conf => encode_utf8("handoff_button_title.zh \"真人客服\"\n"));
$r = reply_to(wh_text(from => '4492009', text => 'how much to talk to a mechanic'), 'person entry');
is($r->{text}, $SUGGEST, 'near #prices and #human: suggest_text');
is_deeply(titles($r), ['Rental prices', 'Talk to a person'],
          '#human, titled as the person button, is not suggested beside it') or diag explain $r;
is_deeply(ids($r), ['prices', 'live_agent'], '... #prices is, and the person');
($rc, $text) = $dp->ctl('ask', 'how much to talk to a mechanic');
like($text, qr/^\[Rental prices\] #prices  \[Talk to a person\] #live_agent$/m,
     'wachatctl ask shows the same buttons') or diag $text;

# a Chinese customer, who then writes words that tell no language: the
# person button has the remembered language's title, and so has #human
# (its first phrasing that fits, none being in the language told)
$r = reply_to(wh_text(from => '4492010', text => '你們有賣滑板嗎？'), 'in Chinese');
is_deeply(titles($r), ['真人客服'], 'the person button in Chinese');
$r = reply_to(wh_text(from => '4492010', text => 'talk puncture cost'), 'no language told');
is_deeply(titles($r), ['Rental prices', '真人客服'],
          'the remembered language\'s person title: #human, titled the same, is not suggested')
    or diag explain $r;
is_deeply(ids($r), ['prices', 'live_agent'], '... #prices is, and the person');

is($dp->stop, 0, 'wachatd stops cleanly');

done_testing;
