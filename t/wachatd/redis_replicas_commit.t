#!/usr/bin/perl
# redis_replicas and what follows a commit: a COMMIT script that ran on the
# primary but whose WAIT fell short has done its writes (the message is
# out of the inbox, in the history and the done set) and will not run
# again; what wachatd does after it outside the script (here the e-mail
# about a new chat) must be done all the same, while the reply still waits
# for a replica.
#
# A real primary and replica; the replica is frozen (SIGSTOP) while the
# model is writing the answer, after the step that took the message was
# replicated, so the first script to meet the frozen replica is the commit.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir);
use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::SMTP;
use Wachat::Webhook qw(new_wamid wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $A = '16505557001';

my $primary = start_redis();
my $replica = start_redis(args => ['--replicaof', '127.0.0.1', $primary->port]);

sub in_sync () {
    poll_until(sub {
        my $info = eval { $primary->cmd('INFO', 'replication') } // '';
        my ($at) = $info =~ /^master_repl_offset:(\d+)/m;
        return scalar grep { defined $at && $_ >= $at }
                      $info =~ /^slave\d+:.*state=online.*offset=(\d+)/mg;
    }, timeout => 30);
}
ok(in_sync(), 'the replica is in sync with the primary');

my $llm = Wachat::Standin->start(kind => 'llm');
my $smtp = Wachat::SMTP->start;
my $nginx = start_nginx(redis => $primary);
my $d = start_wachatd(redis => $primary, kb => $KB, conf => <<"EOF");
redis_replicas 1
redis_replicas_timeout 100ms
backend openai
llm_url @{[$llm->url]}/v1
llm_model stand-in
llm_timeout 20s
smtp_url @{[$smtp->url]}
smtp_from bot\@example.com
notify_digest_after 5
agent alice alice\@example.com notify=all
EOF

# the model takes its time: the window in which the replica freezes
$llm->script(match => 'chat/completions$', responses => [{ delay => 4 }]);

my $wamid = new_wamid();
my $res = $nginx->post_signed(wh_text(from => $A, id => $wamid, name => 'Ann',
                                      text => 'Do you ship abroad?'));
is($res->{status}, 200, 'a new customer writes');

ok(scalar $llm->wait_for_requests(1, 15, path => qr{/chat/completions$}),
   'the model is asked (the step that took the message is on the replica)')
    or diag $d->log_text;
kill 'STOP', $replica->pid;

my $short = qr/conversation \S*$A: commit\b[^\n]*redis: written, but 0 of redis_replicas 1/;
ok($d->wait_log($short, 15), 'the commit ran, its WAIT fell short, and the log says so')
    or diag $d->log_text;
ok(scalar(grep { ($_->{fields}{id} // '') eq $wamid }
              $primary->xrange("wachat:hist:{$PNID:$A}")),
   'the message is committed on the primary');
is($primary->cmd('ZCARD', "wachat:inbox:{$PNID:$A}"), 0,
   'and out of the inbox: the commit will not run again');

# what follows the commit: the new-chat e-mail (nobody online, notify=all;
# with notify_digest_after, its gate is a script of its own on the same
# link, run before wachatd decides whether the commit may go on)
ok(scalar $smtp->wait_for_messages(1, 10),
   'the e-mail about the new chat goes out all the same')
    or diag $d->log_text;
is(scalar(grep { $_->{data} =~ /started a chat/ } $smtp->messages), 1,
   'one e-mail, about the chat that started');

# the reply still waits for a replica
is($primary->cmd("XLEN", "wachat:outbox"), 0, 'nothing sent while no replica has the step');

kill 'CONT', $replica->pid;
ok(poll_until(sub { $primary->cmd('XLEN', 'wachat:outbox') >= 1 }, timeout => 15),
   'the replica thawed: the answer goes out') or diag $d->log_text;
ok(in_sync(), 'the replica caught up');
is($primary->cmd('XLEN', 'wachat:outbox'), 1, 'answered once');
is(scalar $smtp->messages, 1, 'and mailed once');
unlike($d->log_text, qr/\[(error|crit)\]/i, 'no error lines');

done_testing();
