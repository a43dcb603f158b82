#!/usr/bin/perl
# Every language the customer writes: system texts per language
# (<key>.<lang> in the config, the plain key otherwise), the customer's
# language detected per message and remembered per conversation, the
# "Talk to a person" button title per language (handoff_button_title),
# greetings answered with a menu of the KB's entries in the customer's
# language, thanks with thanks_text; wachatd -t lists the languages; bad
# per-language keys refused.
#
# Real redis-server, nginx with the module, wachatd (kb backend, sandbox).

use v5.36;
use utf8;
use lib 't/lib';

use Encode qw(decode_utf8 encode_utf8);
use Test::More;

use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_reply outbox_wait start_wachatd wachatd_binary);
use Wachat::Webhook qw(wh_text);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T = 20;

my $CONF = <<"EOF";
fallback_text.zh "我不太確定，要幫您轉接真人嗎？"
fallback_text.es "No estoy seguro. ¿Le paso con una persona?"
handoff_button_title.zh "真人客服"
handoff_offline_text.zh "目前沒有客服人員在線，我們會盡快回覆您。"
greeting_text.zh "您好！我是小幫手，請問想了解什麼？"
thanks_text.zh "不客氣！"
EOF

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => encode_utf8($CONF));

my $seen = 0;
sub say_to ($from, $text) {
    $nginx->post_signed(wh_text(from => $from, text => $text));
    my @e = outbox_wait($redis, $seen + 1, timeout => $T);
    ok(@e > $seen, "$from: '$text' answered") or return {};
    return outbox_reply($e[$seen++]{fields});
}

sub titles ($r) { [ map { $_->{title} } @{ $r->{buttons} } ] }


# --- the fallback in the customer's language ----------------------------------

my $r = say_to('4491001', '你們有賣滑板嗎？');
is($r->{text}, '我不太確定，要幫您轉接真人嗎？', 'a Chinese unknown question: the Chinese fallback');
is_deeply(titles($r), ['真人客服'], 'with the Chinese button title');
is($r->{buttons}[0]{id}, 'live_agent', 'which still reaches a person');
is($redis->cmd('HGET', "wachat:conv:{$PNID:4491001}", 'lang'), 'zh-Hant',
   'the language is remembered for the conversation');

$r = say_to('4491001', '/live_agent');
is($r->{text}, '目前沒有客服人員在線，我們會盡快回覆您。',
   'a message that tells no language gets the remembered one');

$r = say_to('4491002', 'Do you repair skateboards?');
like($r->{text}, qr/^I'm not sure/, 'an English unknown question: the plain fallback');
is_deeply(titles($r), ['Talk to a person'], 'and the plain button title');

$r = say_to('4491003', '¿Reparan los monopatines?');
is($r->{text}, 'No estoy seguro. ¿Le paso con una persona?', 'Spanish: fallback_text.es');
is_deeply(titles($r), ['Talk to a person'], 'no title.es: the plain title');

$r = say_to('4491004', '你们卖滑板吗？');
is($r->{text}, '我不太確定，要幫您轉接真人嗎？', 'Simplified Chinese: the zh text serves it too');


# --- Simplified meets Traditional --------------------------------------------------

$r = say_to('4491008', '你们几点开门？');
is($r->{text}, '我們星期一至星期五，上午九點至下午六點營業。',
   'a Simplified question is answered from the Traditional entry (#hours-zh)');
unlike($r->{text}, qr/我不太確定/, 'not the fallback');


# --- greetings and thanks ------------------------------------------------------

$r = say_to('4491005', '你好');
is($r->{text}, '您好！我是小幫手，請問想了解什麼？', '你好: the Chinese greeting');
is_deeply(titles($r), ['你們的營業時間是什麼'], 'with the KB\'s Chinese entry as a button');
is($r->{buttons}[0]{id}, 'hours-zh', 'which answers that entry');

$r = say_to('4491006', 'Hi there! 👋');
like($r->{text}, qr/^Hello! I'm the assistant/, 'Hi there!: the greeting, not the fallback');
my $t = titles($r);
is(scalar @$t, 3, 'a menu of three entries');
ok(!grep({ /[\x{4e00}-\x{9fff}]/ } @$t), 'in English');
ok(!grep({ length > 20 } @$t), 'titles within 20 characters') or diag explain $t;

$r = say_to('4491006', 'thanks!!');
like($r->{text}, qr/^You're welcome/, 'thanks: thanks_text');
$r = say_to('4491005', '謝謝');
is($r->{text}, '不客氣！', '謝謝: thanks_text.zh');

$r = say_to('4491007', 'hi, what are your opening hours?');
unlike($r->{text}, qr/^Hello! I'm the assistant/, 'a greeting with a question is a question');

# --- previewed: wachatctl ask and the console answer as the customer is ----------

for my $case (['你好', qr/\Agreeting\n您好！我是小幫手/, 'a greeting: the Chinese greeting'],
              ['謝謝', qr/\Athanks\n不客氣！/, 'thanks: thanks_text.zh'],
              ['你們有賣滑板嗎？', qr/\Ano confident answer: the fallback\n我不太確定，要幫您轉接真人嗎？/,
               'a Chinese unknown question: the Chinese fallback'],
              ['Do you repair skateboards?', qr/\Ano confident answer: the fallback\nI'm not sure/,
               'an English one: the plain fallback']) {
    my ($rc, $o) = $d->ctl('ask', encode_utf8($case->[0]));
    like($o, $case->[1], "wachatctl ask $case->[0]: $case->[2]") or diag $o;
}


# --- wachatd -t, and what it refuses ----------------------------------------------------

my $bin = wachatd_binary();
my $out = decode_utf8(scalar `$bin -t -c @{[ $d->conf_path ]} 2>&1`);
like($out, qr/^fallback_text\.zh\s+我不太確定/m, 'wachatd -t lists fallback_text.zh');
like($out, qr/^fallback_text\.es\s+/m, 'and fallback_text.es');
like($out, qr/^handoff_button_title\.zh\s+真人客服/m, 'and the title');

for my $case (['fallback_text.x1 "a"', qr/"x1" is not a language/],
              ['redis.zh 127.0.0.1:1', qr/only the system texts may be given per language/],
              ['handoff_button_title.zh "這是一個非常非常非常非常非常非常長的按鈕標題"',
               qr/longer than 20 characters/],
              ["fallback_text.zh \"a\"\nfallback_text.zh \"b\"", qr/fallback_text\.zh is already set at line 1/]) {
    my ($line, $re) = @$case;
    my $bad = eval { start_wachatd(redis => $redis, kb => $KB, conf => encode_utf8("$line\n")) };
    ok(!$bad, "refused: $line");
    like(decode_utf8($@), $re, 'with a clear error');
}

ok($d->alive, 'wachatd still runs');
is($d->stop, 0, 'and stops cleanly');

done_testing();
