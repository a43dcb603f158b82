#!/usr/bin/perl
# The improvement loop's first half: every AI reply records its source
# (the KB entry and score, the model with the entries it was given, or the
# fallback with the nearest entry), shown by the agent API and wachatctl
# show; `wachatctl unanswered` and GET /api/unanswered list the questions
# that got the fallback, or whose answer was followed by a request for a
# person, grouped by their gist, with counts and conversations; --lang.
#
# Real redis-server, nginx with the module, wachatd (kb backend, sandbox).

use v5.36;
use utf8;
use lib 't/lib';

use Encode qw(decode_utf8);
use JSON::PP ();
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Webhook qw(wh_text);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $JSON = JSON::PP->new->utf8->canonical;
my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T = 20;

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com
EOF



my $seen = 0;
sub ask ($from, $text) {
    $nginx->post_signed(wh_text(from => $from, text => $text));
    my @e = outbox_wait($redis, $seen + 1, timeout => $T);
    ok(@e > $seen, "$from: '$text' answered");
    return $e[$seen++]{fields};
}


# --- the customers ------------------------------------------------------------

ask('4490001', 'Do you repair skateboards?');
ask('4490002', 'do u repair skateboards??');
ask('4490003', 'Repair skateboards?');
ask('4490004', '你們有賣滑板嗎？');
ask('4490005', 'What are your opening hours?');
ask('4490005', '/live_agent');                      # the answer did not help
ask('4490006', 'How much does delivery cost?');     # answered, and that is all


# --- the source of each reply ---------------------------------------------------

my $conv = $d->api('alice', 'GET', "conversations/$PNID%3A4490005")->{json};
my ($ai) = grep { ($_->{who} // '') eq 'ai' } @{ $conv->{history} // [] };
is($ai->{source}, 'kb:hours', 'the API shows the source of an AI reply');
ok(defined $ai->{score} && $ai->{score} > 0.4, 'and its score') or diag explain $ai;

$conv = $d->api('alice', 'GET', "conversations/$PNID%3A4490001")->{json};
($ai) = grep { ($_->{who} // '') eq 'ai' } @{ $conv->{history} // [] };
is($ai->{source}, 'fallback', 'a fallback is shown as such');
ok(defined $ai->{score} && $ai->{score} < 0.45, 'with the best score, below kb_min_score');

my ($rc, $out) = $d->ctl('show', '4490005');
like($out, qr/\(answered from #hours, \d\.\d\d\)/, 'wachatctl show: where the answer came from');
($rc, $out) = $d->ctl('show', '4490001');
like($out, qr/\(no confident answer/, 'wachatctl show: no confident answer');


# --- wachatctl unanswered ---------------------------------------------------------------

($rc, $out) = $d->ctl('unanswered');
is($rc, 0, 'wachatctl unanswered') or diag $out;
like($out, qr/^3 questions the assistant fell short on in the last 7d/m,
     'three groups: the skateboards, the Chinese question, the unhelpful answer')
    or diag $out;
like($out, qr/^\s+3x\s+(Do you repair skateboards\?|do u repair skateboards\?\?|Repair skateboards\?)\n\s+no confident answer/m,
     'three wordings of one question are one group, counted 3, listed first');
like($out, qr/\Q$PNID\E:4490001/, 'with its conversations');
like($out, qr/1x\s+你們有賣滑板嗎？\n\s+no confident answer; last [^;]+; zh-Hant/,
     'the Chinese question, in Traditional script');
like($out, qr/1x\s+What are your opening hours\?\n\s+answered from #hours, then asked for a person/,
     'an answer followed by a request for a person');
unlike($out, qr/delivery cost/, 'an answered question that needed nothing more is not listed');

($rc, $out) = $d->ctl('unanswered', '--lang', 'zh');
like($out, qr/^1 question the assistant fell short on/m, '--lang zh: one question');
like($out, qr/你們有賣滑板嗎/, 'the Chinese one');
($rc, $out) = $d->ctl('unanswered', '--lang', 'en');
unlike($out, qr/你們/, '--lang en: not the Chinese one');
($rc, $out) = $d->ctl('unanswered', '--since', 'soon');
is($rc, 2, '--since soon: refused');
like($out, qr/a duration such as 24h or 30d/, 'with the usage');


# --- the same through the agent API ----------------------------------------------------

my $u = $d->api('alice', 'GET', 'unanswered?since=1d')->{json};
is(scalar @{ $u->{groups} // [] }, 3, 'GET /api/unanswered: three groups');
my $top = $u->{groups}[0] // {};
is($top->{count}, 3, 'most asked first');
is($top->{why}, 'fallback', 'why: fallback');
is(scalar @{ $top->{conversations} }, 3, 'its three conversations');
my ($h) = grep { $_->{why} eq 'handoff' } @{ $u->{groups} };
is($h->{answered_by}, 'kb:hours', 'the unhelpful answer names its entry');
is(scalar @{ $d->api('alice', 'GET', 'unanswered?lang=zh-Hans')->{json}{groups} // [] }, 0,
   '?lang=zh-Hans: the Traditional question is not Simplified');
is($d->api('alice', 'GET', 'unanswered?since=forever')->{status}, 400, '?since=forever: 400');

# --- the search of every history, and the canned replies -------------------------------

my $s = $d->api('alice', 'GET', 'search?q=SKATEBOARDS')->{json};
is(scalar(grep { $_->{dir} eq 'in' } @{ $s->{hits} // [] }), 3,
   'GET /api/search: the three customers\' messages, case aside');
ok(!grep({ $_->{text} !~ /skateboards/i } @{ $s->{hits} }), 'and nothing else');
is(scalar @{ $d->api('alice', 'GET', 'search?q=' . '%E6%BB%91%E6%9D%BF')->{json}{hits} // [] }, 1, 'a Chinese word too');
is($d->api('alice', 'GET', 'search?q=a')->{status}, 400, 'a one-letter search: 400');
my @canned = @{ $d->api('alice', 'GET', 'canned')->{json}{canned} // [] };
ok((grep { $_->{from} eq 'kb' && $_->{name} eq 'hours' } @canned), 'GET /api/canned offers the KB answers');

ok($d->alive, 'wachatd still runs');
is($d->stop, 0, 'and stops cleanly');

done_testing();
