#!/usr/bin/perl
# Agents who are reached but not flooded, by e-mail: notify=all gets new
# chats only while nobody is online, notify=handoff only hand-overs,
# notify=off nothing; past notify_digest_after e-mails in a period the rest
# come as one digest; times are in the configured time zone.
#
# Signed webhooks through nginx + module, wachatd (sandbox outbound) and
# its mailer talking SMTP to the stand-in (Wachat::SMTP).

use v5.36;
use utf8;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Webhook qw(wh_text);
use Wachat::SMTP qw(parse_message);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T = 20;

my $smtp = Wachat::SMTP->start;
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
smtp_url smtp://127.0.0.1:@{[$smtp->port]}
smtp_from bot\@example.com
console_url http://console.example/agent/
notify_digest_after 2
notify_digest_period 4s
timezone Asia/Tokyo
agent alice alice\@example.com notify=all
agent bob bob\@example.com notify=handoff
agent carol carol\@example.com notify=off
EOF


sub mails (%f) {
    return grep { !$f{to} || grep { $_ eq $f{to} } @{ $_->{rcpts} } }
           grep { !$f{subject} || $_->{subject} =~ $f{subject} }
           map { { %$_, %{ parse_message($_->{data}) } } } $smtp->messages;
}

sub wait_mails ($n, %f) {
    my @m;
    poll_until(sub { (@m = mails(%f)) >= $n }, timeout => $T, interval => 0.05);
    return @m;
}

my $seen = 0;
sub customer_writes ($from, $text) {
    my $res = $nginx->post_signed(wh_text(from => $from, text => $text));
    is($res->{status}, 200, "$from: '$text' accepted");
    my @e = outbox_wait($redis, $seen + 1, timeout => $T);
    ok(@e > $seen, "$from: answered") and $seen++;
}


# --- a new chat while somebody is online: nobody is mailed ------------------

my ($rc, $out) = $d->ctl('agent', 'carol', 'online');
is($rc, 0, 'carol online (she gets no e-mail anyway)') or diag $out;
customer_writes('4480001', 'What are your opening hours?');

($rc, $out) = $d->ctl('agent', 'carol', 'offline');
is($rc, 0, 'carol offline: now nobody is online');
customer_writes('4480002', 'Do you deliver?');

my @m = wait_mails(1, subject => qr/started a chat/);
is(scalar @m, 1, 'one "started a chat" e-mail') or diag explain [mails()];
like($m[0]{subject} // '', qr/\+4480002/, 'for the chat begun while nobody was online');
is_deeply($m[0]{rcpts}, ['alice@example.com'], 'to alice (notify=all) only');
ok(!grep({ $_->{subject} =~ /\+4480001/ } mails()),
   'none for the chat begun while carol was online');
like($m[0]{body}, qr/notify=all is set for agent alice/, 'the e-mail says why alice gets it');
like($m[0]{body}, qr/\d\d:\d\d JST/, 'times in the configured zone (Asia/Tokyo)');
unlike($m[0]{body}, qr/UTC/, 'not in UTC');


# --- a burst of hand-overs: two e-mails each, then one digest ------------------

# a new period for everybody (the chat above counted for alice)
ok(poll_until(sub { !$redis->cmd('EXISTS', 'wachat:mailcount:alice') }, timeout => $T),
   "alice's period is over");

my @burst = map { 4480100 + $_ } 1 .. 5;
customer_writes($_, '/live_agent') for @burst;

for my $who (qw(alice bob)) {
    my @single = wait_mails(2, to => "$who\@example.com", subject => qr/asks for a person/);
    is(scalar @single, 2, "$who: two hand-over e-mails (notify_digest_after 2)");
    my @digest = wait_mails(1, to => "$who\@example.com",
                            subject => qr/^\[wachat\] 3 more conversations need a person$/);
    is(scalar @digest, 1, "$who: then one digest for the other three") or diag explain [mails(to => "$who\@example.com")];
    my %in_single = map { /\+(\d+)/ ? ($1 => 1) : () } map { $_->{subject} } @single;
    my @listed = grep { ($digest[0]{body} // '') =~ /\+$_\b/ } @burst;
    is(scalar @listed, 3, "$who: the digest lists three customers");
    ok(!grep({ $in_single{$_} } @listed), "$who: none of them had an e-mail of its own");
    like($digest[0]{body} // '', qr{http://console\.example/agent/#/c/\Q$PNID\E%3A448010\d},
         "$who: with links to the console");
}
is(scalar(mails(to => 'alice@example.com', subject => qr/asks for a person/)), 2,
   'alice: no single e-mail beyond the two');
ok(!grep({ grep { $_ eq 'carol@example.com' } @{ $_->{rcpts} } } $smtp->messages),
   'carol (notify=off) never gets one');
ok(!grep({ grep { $_ eq 'bob@example.com' } @{ $_->{rcpts} } }
         mails(subject => qr/started a chat/)),
   'bob (notify=handoff) never gets a new-chat e-mail');
ok($d->wait_log(qr/mail: conversation \Q$PNID\E:448010\d goes into the digest of agent alice/, 5),
   'what goes into a digest is logged');


# --- a bad time zone is refused at load ---------------------------------------

my $bad = eval { start_wachatd(redis => $redis, kb => $KB, conf => "timezone Mars/Olympus\n") };
ok(!$bad, 'timezone Mars/Olympus refused');
like($@, qr/timezone: "Mars\/Olympus" is not a time zone of this machine/, 'with a clear error');

ok($d->alive, 'wachatd still runs');
is($d->stop, 0, 'and stops cleanly');

done_testing();
