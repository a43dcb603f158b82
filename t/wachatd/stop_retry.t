#!/usr/bin/perl
# SIGTERM while a reply's Graph call is in flight, and that call then fails
# in a way to retry later (here: the token refused, retried every 60 s).  The
# reply must stay first in its queue, and the conversation be given back at
# once: another wachatd goes on with it now, not after the stopped one's
# lease (60 s).  Before the fix the failed call scheduled its retry past
# shutdown_timeout, wachatd waited out shutdown_timeout ("1 conversations in
# flight") and left its lease held; a shorter retry was sent while stopping.

use v5.36;
use lib 't/lib';

use Test::More;
use Time::HiRes qw(time);

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid wh_text);

my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $WA   = '16505590404';
my $CONV = "$PNID:$WA";

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $CONF = $graph->wachatd_conf
         . "graph_timeout 5s\n"
         . "graph_max_retries 5\n";

sub sends () {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $WA }
        $graph->requests(method => 'POST', path => qr{/messages$});
}

my $d1 = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => $CONF);

# the first call is answered late, and refused for its token: a reply kept
# and retried every 60 s (the operator is to fix graph_token_file)
$graph->script(method => 'POST', match => '/messages$', body_match => "\"to\":\"$WA\"",
               responses => [{ delay => 1.5, status => 401, body => { error => {
                   message => 'Error validating access token', type => 'OAuthException',
                   code => 190 } } }]);
my $res = $nginx->post_signed(wh_text(from => $WA, id => new_wamid(),
                                      text => 'What are your opening hours?'));
is($res->{status}, 200, 'webhook accepted');
ok(poll_until(sub { sends() >= 1 }, timeout => 20), 'the reply went to the Graph API')
    or diag $d1->log_text;

my $t0 = time;
ok($d1->alive, 'SIGTERM while the call is in flight');
my $status = $d1->stop(20);     # one SIGTERM (a second one stops at once)
my $took = time - $t0;
is($status, 0, 'wachatd exits 0');
cmp_ok($took, "<", 4, sprintf("it exits once the call has failed (%.1f s), not at shutdown_timeout (5 s)", $took));
is(scalar(sends()), 1, 'nothing sent again while stopping');
unlike($d1->log_text, qr/shutdown_timeout reached/, 'no conversation left in flight');
is($redis->cmd('EXISTS', "wachat:lease:{$CONV}"), 0, 'the conversation was given back: no lease held');
is($redis->cmd('LLEN', "wachat:outq:{$CONV}"), 1, 'the reply is still first in its queue');

# another process goes on with it now
my $d2 = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph', conf => $CONF);
ok(poll_until(sub { grep { ($_->{response}{status} // 0) == 200 } sends() }, timeout => 20),
   'another wachatd sends it, well within the old lease (60 s)') or diag $d2->log_text;
is(scalar(sends()), 2, 'two calls in all: the refused one and this one');

is($d2->stop, 0, 'wachatd exits 0 on SIGTERM');
unlike($d1->log_text . $d2->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
       'no sanitizer report in the wachatd logs');

done_testing();
