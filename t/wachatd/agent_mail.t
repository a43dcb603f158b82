#!/usr/bin/perl
# E-mail notifications to agents, end to end: signed webhooks through nginx
# + module into Redis, wachatd (sandbox outbound) answering and handing
# over, and its mailer talking SMTP to the stand-in (Wachat::SMTP).
#
# Nobody is ever online here, so every /live_agent waits for a person.
# alice has notify=on, bob notify=off: every e-mail goes to alice alone.
# No digests here (t/wachatd/agent_mail_policy.t has them): one e-mail per
# conversation and kind, whatever the count.
# notify_period is 2 s and wachatd looks at waiting conversations every
# second, so the reminder and dedup scenarios stay short.

use v5.36;
use utf8;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time sleep);

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Webhook qw(wh_text);
use Wachat::SMTP qw(parse_message);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $CONSOLE = 'http://console.example/agent/';
my $OFFLINE = qr/^Nobody is available right now/;

my $smtp = Wachat::SMTP->start;
my $port = $smtp->port;
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $MAILCONF = <<"EOF";
smtp_url smtp://127.0.0.1:$port
smtp_from bot\@example.com
notify_period 2s
notify_digest_after 0
console_url $CONSOLE
agent alice alice\@example.com notify=on
agent bob bob\@example.com notify=off
EOF

my $d = start_wachatd(redis => $redis, kb => $KB, conf => $MAILCONF);
ok($d->wait_log(qr/mail: notifying 1 agent through smtp:/, 5),
   'wachatd runs the mailer, for the one agent who opted in')
    or diag "wachatd_start.c must create the mailer (wachat_notify_new) and "
            . "wachatd_events.c tick it:\n" . $d->log_text;


# --- helpers -----------------------------------------------------------------

my $seen = 0;       # outbox entries consumed so far

# posts a text message and returns the customer's next reply from the outbox
sub say_text ($from, $text, %o) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => $text,
                                          name => $o{name} // 'Sheena Nelson'));
    is($res->{status}, 200, "$from: '$text' accepted") or diag $res->{body};
    my @e = outbox_wait($redis, $seen + 1, timeout => $o{timeout} // 20);
    ok(@e > $seen, "$from: '$text' answered") or do {
        diag $d->log_text;
        return {};
    };
    return $e[$seen++]{fields};
}

# the stand-in's messages, parsed, optionally only those whose (decoded)
# subject matches
sub mails ($s, $re = qr//) {
    return grep { $_->{subject} =~ $re }
           map { { %$_, %{ parse_message($_->{data}) } } } $s->messages;
}

sub wait_mails ($s, $n, $re, $timeout = 10) {
    my @m;
    poll_until(sub { (@m = mails($s, $re)) >= $n }, timeout => $timeout,
               interval => 0.05);
    return @m;
}

sub conv_link ($wa_id) { "${CONSOLE}#/c/$PNID%3A$wa_id" }

# back to the AI (no more reminders); the customer gets the closing text
sub resolve ($wa_id) {
    my $ctl = wachatctl_binary();
    my $out = `$ctl -c ${\ $d->conf_path } resolve $wa_id 2>&1`;
    is($?, 0, "$wa_id: wachatctl resolve") or diag $out;
    my @e = outbox_wait($redis, $seen + 1);
    like($e[$seen++]{fields}{text} // '', qr/^Thanks for talking/,
         "$wa_id: the closing text");
}


# --- 1. a new customer: "started a chat" -------------------------------------

my $A = '16505551234';
my $r = say_text($A, 'What are your opening hours?');
like($r->{text}, qr/^We are open/, 'the customer is answered from the KB');

my @m = wait_mails($smtp, 1, qr/started a chat/);
is(scalar @m, 1, 'new chat: one e-mail') or diag explain [mails($smtp)];
my $new = $m[0] // {};
is($new->{subject}, "[wachat] Sheena Nelson (+$A) started a chat",
   'new chat: the subject names the customer and the number');
is_deeply($new->{rcpts}, ['alice@example.com'],
          'new chat: to alice only (bob has notify=off)');
is($new->{from}, 'bot@example.com', 'envelope sender is smtp_from');
like($new->{headers}{from} // '', qr/<bot\@example\.com>/, 'From: header');
is($new->{headers}{to}, '<alice@example.com>', 'To: header');
like($new->{headers}{'content-type'} // '', qr{^text/plain; charset=UTF-8}i,
     'plain text in UTF-8');
like($new->{body}, qr/What are your opening hours\?/, 'new chat: the message');
like($new->{body}, qr/\Q${\ conv_link($A) }\E/, 'new chat: the console link');
ok($d->wait_log(qr/mail: told alice\@example\.com that conversation \Q$PNID:$A\E started a chat/, 5),
   'the delivery is logged');


# --- 2. /live_agent with nobody online: the customer is told, alice mailed ---

$r = say_text($A, '/live_agent');
like($r->{text}, $OFFLINE, 'nobody online: the customer is told when to expect an answer');
is($redis->cmd('HGET', "wachat:conv:{$PNID:$A}", 'mode'), 'waiting_agent',
   'the conversation waits for a person');

@m = wait_mails($smtp, 1, qr/asks for a person/);
my $t_first = $m[0]{t} // time;         # when the stand-in got it
is(scalar @m, 1, 'hand-over: one e-mail');
my $ask = $m[0] // {};
is($ask->{subject}, "[wachat] Sheena Nelson (+$A) asks for a person",
   'hand-over: the subject');
is_deeply($ask->{rcpts}, ['alice@example.com'], 'hand-over: to alice only');
ok(!grep({ grep { $_ eq 'bob@example.com' } @{ $_->{rcpts} } } $smtp->messages),
   'bob (notify=off) never gets one');
my $body = $ask->{body} // '';
like($body, qr/Sheena Nelson/, 'hand-over: the customer\'s name');
like($body, qr/\+$A/, 'hand-over: the number');
like($body, qr/Time left to reply: 2[34] h \d\d min/, 'hand-over: the time left in the 24-hour window');
like($body, qr/\Q${\ conv_link($A) }\E/, 'hand-over: the console link');

# the last messages, oldest first: question, answer, /live_agent, offline text
my @order = map { index($body, $_) } 'What are your opening hours?',
    'We are open Monday', '/live_agent', 'Nobody is available';
ok(!grep({ $_ < 0 } @order), 'hand-over: the last messages, both ways')
    or diag $body;
is_deeply(\@order, [sort { $a <=> $b } @order], 'hand-over: oldest first');
like($body, qr/Sheena Nelson: \/live_agent/, 'the customer\'s lines are labelled with the name');
like($body, qr/Assistant: We are open/, 'the assistant\'s lines are labelled');


# --- 3. a second /live_agent within the period: no second e-mail -------------

$r = say_text($A, '/live_agent');
like($r->{text}, $OFFLINE, 'second /live_agent: the customer is told again');
sleep 0.5;
# (a reminder, should this machine be slow enough for one, says "still")
is(scalar(mails($smtp, qr/\) asks for a person/)), 1,
   'second /live_agent within the period: no second e-mail');
ok($redis->cmd('PTTL', "wachat:mailed:{$PNID:$A}:waiting") > 0,
   'the dedup marker lives in Redis (shared by every wachatd)');


# --- 4. still waiting after the period: one reminder -------------------------

# a second wachatd on the same Redis ticks too: still one reminder per period
my $d2 = start_wachatd(redis => $redis, kb => $KB, conf => $MAILCONF);
note 'the second wachatd started before the reminder was due'
    if time - $t_first < 1.9;

@m = wait_mails($smtp, 2, qr/asks for a person/, 8);
is(scalar @m, 2, 'still waiting after the period: one more e-mail');
my $t_second = $m[1]{t} // 0;
ok($t_second - $t_first >= 1.5, 'the reminder came after the period, not before')
    or diag sprintf 'after %.2f s', $t_second - $t_first;
is($m[1]{subject} // '', "[wachat] Sheena Nelson (+$A) still asks for a person",
   'the reminder says the customer is still waiting');
like($m[1]{body} // '', qr/still waiting for a person/, 'reminder body');
is_deeply($m[1]{rcpts}, ['alice@example.com'], 'reminder: to alice only');

# resolved: no more reminders
resolve($A);
sleep 3.5;
is(scalar(mails($smtp, qr/asks for a person/)), 2,
   'a resolved conversation gets no more reminders, from either wachatd');
$d2->stop;


# --- 5. what customers write cannot break the e-mail -------------------------

my $B = '447700900123';
my $evil = "Eve\r\nBcc: mallory\@example.com\r\nX-Evil: 1 陳";
my $text = ".\n.hidden\n= =?UTF-8?B?QUJD?= naïve 💬\r\nlast";
$r = say_text($B, $text, name => $evil);
ok(exists $r->{text}, 'an odd first message is answered');

@m = wait_mails($smtp, 1, qr/\+$B\) started a chat/);
is(scalar @m, 1, 'odd customer: one "started a chat" e-mail');
my $odd = $m[0] // {};
is_deeply($odd->{rcpts}, ['alice@example.com'], 'no extra recipient smuggled in');
ok(!exists $odd->{headers}{bcc} && !exists $odd->{headers}{'x-evil'},
   'no header smuggled in through the name') or diag $odd->{data};
my ($head) = split /\r\n\r\n/, $odd->{data} // '', 2;
ok(!grep({ /^(?:Bcc|X-Evil):/i } split /\r\n/, $head), 'raw headers: none injected');
like($head, qr/^Subject: =\?UTF-8\?B\?/m, 'a non-ASCII subject is RFC 2047 encoded');
ok(!grep({ length > 78 } split /\r\n/, $head), 'header lines within 78 characters');
is($odd->{subject}, "[wachat] Eve  Bcc: mallory\@example.com  X-Evil: 1 陳 (+$B) started a chat",
   'the decoded subject: the name on one line');
is(lc($odd->{headers}{'content-transfer-encoding'} // ''), 'quoted-printable',
   'the body is quoted-printable');
ok(!grep({ length > 76 } split /\r\n/, $odd->{body_raw}), 'body lines within 76 characters');
like($odd->{body}, qr/: \.\n    \.hidden\n    = =\?UTF-8\?B\?QUJD\?= naïve 💬\n    last\n/,
     'the text arrives intact (dots, =, UTF-8, line breaks), lines indented')
    or diag $odd->{body};

# a first message that asks for a person: one e-mail, the hand-over's
my $C = '33612345678';
$r = say_text($C, '/live_agent', name => '陳小明');
like($r->{text}, $OFFLINE, 'first message /live_agent: the customer is told');
@m = wait_mails($smtp, 1, qr/\+$C\)/);
sleep 0.5;
@m = mails($smtp, qr/\+$C\)/);
is(scalar @m, 1, 'a first message that asks for a person: one e-mail, not two');
is($m[0]{subject} // '', "[wachat] 陳小明 (+$C) asks for a person",
   'a Chinese name in the subject');
resolve($C);        # its reminders would meet the stand-ins below


# --- 6. 451, then OK: delivered after a retry --------------------------------

$smtp->stop;
$smtp = Wachat::SMTP->start(port => $port, fail_first => 1, fail_code => 451);
my $D = '4915112345678';
say_text($D, 'How much does delivery cost?');
@m = wait_mails($smtp, 1, qr/\+$D\) started a chat/, 10);
is(scalar @m, 1, '451 then OK: the e-mail arrives');
is(scalar($smtp->rejected), 1, 'after one temporary failure');
ok($d->wait_log(qr/mail: told alice\@example\.com that conversation \Q$PNID:$D\E started a chat \(after a retry\)/, 5),
   'the log says it took a retry');

# 421 at the greeting: the same
$smtp->stop;
$smtp = Wachat::SMTP->start(port => $port, fail_first => 1, fail_code => 421);
my $E = '4915112345679';
say_text($E, 'How much does delivery cost?');
@m = wait_mails($smtp, 1, qr/\+$E\) started a chat/, 10);
is(scalar @m, 1, '421 then OK: the e-mail arrives');
is(scalar($smtp->rejected), 1, 'after one refused session');


# --- 7. a reload switches to an authenticated server -------------------------

$smtp->stop;
$smtp = Wachat::SMTP->start(port => $port, starttls => 1,
                            auth => { user => 'wachat', password => 's3cret pw' });
my $pwfile = spew($d->dir . '/smtp.pw', "s3cret pw\n", 0600);
spew($d->conf_path, $d->conf_text . "smtp_user wachat\nsmtp_password_file $pwfile\n");
my $reloads = () = $d->log_text =~ /reloaded/g;
$d->hup;
ok(poll_until(sub { (() = $d->log_text =~ /reloaded/g) > $reloads }, timeout => 10),
   'SIGHUP: reloaded with smtp_user and a password file') or diag $d->log_text;
my $F = '4915112345680';
say_text($F, 'Can I return an item?');
@m = wait_mails($smtp, 1, qr/\+$F\) started a chat/, 10);
is(scalar @m, 1, 'after the reload: delivered through the authenticated server');
is($m[0]{auth}, 'wachat', 'logged in as smtp_user');
unlike($d->log_text, qr/s3cret/, 'the password never reaches the log');


# --- 8. SMTP stuck, then down: conversations go on, the failure is logged ----

$smtp->stop;
$smtp = Wachat::SMTP->start(port => $port, hang => 1);
my $G = '4915112345681';
my $t0 = time;
$r = say_text($G, 'What are your prices?');
like($r->{text}, qr/^Coffee/, 'SMTP stuck: the customer is answered');
$r = say_text($G, 'How much does delivery cost?');
like($r->{text}, qr/^Delivery costs/, 'SMTP stuck: and again, at once');
ok(time - $t0 < 10, 'a stuck mail server holds up no conversation (its timeout is 30 s)');
ok(poll_until(sub { $smtp->events > 0 }, timeout => 5), 'the mailer did try');

$smtp->stop;        # SMTP down
my $H = '4915112345682';
$r = say_text($H, 'Can I return an item?');
like($r->{text}, qr/^Yes, within 14 days/, 'SMTP down: the customer is answered');
$r = say_text($H, '/live_agent');
like($r->{text}, $OFFLINE, 'SMTP down: the hand-over still tells the customer');
is($redis->cmd('HGET', "wachat:conv:{$PNID:$H}", 'mode'), 'waiting_agent',
   'SMTP down: the conversation waits for a person as usual');
ok($d->wait_log(qr/mail: e-mail to alice\@example\.com about conversation \Q$PNID:$H\E \(asks for a person\) failed after 3 attempts: .*connect/i, 15),
   'SMTP down: the log says the e-mail failed, and why') or diag $d->log_text;
my $fails = () = $d->log_text =~ /conversation \Q$PNID:$H\E \(asks for a person\) failed/g;
is($fails, 1, 'one failure line per e-mail, not one per attempt');
ok($d->alive, 'wachatd is still running');

$d->stop;
is(scalar(() = $d->log_text =~ /ERROR|AddressSanitizer|runtime error/), 0,
   'no errors, no sanitizer reports') or diag $d->log_text;

done_testing;
