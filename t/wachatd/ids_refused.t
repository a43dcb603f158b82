#!/usr/bin/perl
# Ids are checked where wachatd reads events (issue 11, finding 5): two
# (phone_number_id, from) pairs that would join into the same
# "pnid:from" conversation id, and a from carrying an escaped NUL, are
# never answered and never become keys: they are set aside in wachat:other
# with the reason.  A well-formed message after them is answered as usual.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text wh_status);

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis);

my @bad = (
    [{ pnid => '1000001',   from => '1:2' },        qr/^from is not 1-32 digits$/,
     'a from with a colon'],
    [{ pnid => '1000001:1', from => '2' },          qr/^phone_number_id is not 1-32 digits$/,
     'a phone_number_id with a colon (same joined id as the one before)'],
    [{ pnid => '1000001',   from => "1555\x{0}999" }, qr/^from is not 1-32 digits$/,
     'a from with an escaped NUL'],
    [{ pnid => '1000001',   from => ('9' x 33) },   qr/^from is not 1-32 digits$/,
     'a from of 33 digits'],
);

for my $case (@bad) {
    my ($o, $re, $what) = @$case;
    my $res = $nginx->post_signed(wh_text(%$o, text => 'What are your opening hours?'));
    is($res->{status}, 200, "$what: accepted by nginx (Meta must not retry it)");
}

# a status whose recipient is not a wa_id is refused the same way
my $res = $nginx->post_signed(wh_status(recipient => '1555{x}', pnid => '1000001',
                                        id => 'wamid.X', status => 'read'));
is($res->{status}, 200, 'a status with a brace in its recipient: accepted by nginx');

my @other;
ok(poll_until(sub { @other = $redis->xrange('wachat:other'); @other >= 5 }, timeout => 10),
   'all five are set aside in wachat:other') or diag $d->log_text;

my @reasons = map { $_->{fields}{reason} // '' } @other;
for my $i (0 .. $#bad) {
    like($reasons[$i], $bad[$i][1], "$bad[$i][2]: with the reason");
}
like($reasons[4], qr/^recipient is not 1-32 digits$/, 'the status: with the reason');
is($other[2]{fields}{from}, "1555\x{0}999", 'the set-aside copy keeps the id as it came');

ok($d->wait_log(qr/warning: stream: message event \S+ \(v=1, type=text\) is not for a conversation, from is not 1-32 digits: kept in wachat:other/),
   'each is logged as a warning with its reason');

# the pipeline goes on: a good message is answered, and it alone
$res = $nginx->post_signed(wh_text(pnid => '1000001', from => '1555', text => 'What are your opening hours?'));
is($res->{status}, 200, 'a well-formed message: accepted');
my @out = outbox_wait($redis, 1);
is(scalar @out, 1, 'it is answered');
is($out[0]{fields}{to} // '', '1555', 'to its sender');
ok(!poll_until(sub { $redis->xlen('wachat:outbox') > 1 }, timeout => 2),
   'no reply went to any of the refused ids');

my $keys = $redis->cmd('KEYS', 'wachat:*{1000001*');
is_deeply([sort grep { !/\{1000001:1555\}/ && $_ ne 'wachat:rate:{1000001}' } @$keys], [],
          'no key was made from a refused id') or diag explain $keys;
ok(poll_until(sub {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    ref $p eq 'ARRAY' && $p->[0] == 0;
}, timeout => 10), 'nothing left pending');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');

done_testing();
