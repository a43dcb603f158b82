#!/usr/bin/perl
# wachatd with "outbound graph" against the Graph API stand-in: signed
# webhook -> nginx + module -> Redis -> wachatd -> POST /v25.0/<pnid>/messages.
#
#   (a) the request as Meta documents it, and the wamid it returns recorded
#       in the conversation's status hash
#   (b) 429 (code 130429) once, then 200: one delivery, two requests
#   (c) 400 (code 131047, outside the window): no retry, a dead letter that
#       wachatctl lists and resends
#   (d) 401 (code 190): a loud log line, the reply kept, delivered after a
#       new token file and SIGHUP
#   (e) a Graph API that hangs past graph_timeout: retried, and another
#       customer's reply goes out meanwhile
#
# One daemon, one stand-in: each case is its own customer, and the stand-in's
# scripted answers pick the case by the "to" of the request body.  (d) starts
# early and finishes last: a reply refused for its token waits on a 60 s retry
# timer, which a reload cuts short; the wait for it allows the full 60 s.

use v5.36;
use utf8;
use lib 't/lib';

use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid rand_token wh_text);

my $JSON = JSON::PP->new->utf8->canonical;
my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T0   = time;

# the answers and buttons, read from the KB itself
my ($answer, $buttons) = kb_answers($KB, decode => 1);
my %answer = %$answer;
my %buttons = %$buttons;
# customers, one per case
my %WA = (a => '16505550101', a_zh => '16505550102', b => '16505550202',
          c => '16505550303', d => '16505550404', e1 => '16505550505',
          e2 => '16505550606');
my %CONV = map { $_ => "$PNID:$WA{$_}" } keys %WA;

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $secrets = tempdir('wachat-graph-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{WACHAT_KEEP_TMP});
my $token_file = "$secrets/graph_token";
my $TOKEN1 = 'EAAG' . rand_token(40);
my $TOKEN2 = 'EAAG' . rand_token(40);
spew($token_file, "$TOKEN1\n", 0600);

my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => "graph_api_url " . $graph->url . "/v25.0\n"
                            . "graph_token_file $token_file\n"
                            . "graph_timeout 1s\n"
                            . "graph_max_retries 5\n");
like($d->log_text, qr/outbound graph/, 'wachatd runs with outbound graph');

my $ctl = wachatctl_binary() . ' -c ' . $d->conf_path;


# --- helpers ---------------------------------------------------------------

sub post ($body, $what) {
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

sub ask ($case, $text) {
    my $wamid = new_wamid();
    post(wh_text(from => $WA{$case}, id => $wamid, text => $text,
                 name => "Customer \U$case"), $case);
    return $wamid;
}

# the stand-in's /messages requests addressed to a customer
sub sends_to ($case) {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $WA{$case} }
        $graph->requests(method => 'POST', path => qr{/messages$});
}

sub wait_sends ($case, $n, $timeout = 15) {
    my @r;
    poll_until(sub { (@r = sends_to($case)) >= $n }, timeout => $timeout);
    return @r;
}

# the same, each of the first $n answered: the stand-in records a request
# when it arrives and its response once sent
sub wait_answered ($case, $n, $timeout = 15) {
    my @r;
    poll_until(sub { (@r = sends_to($case)) >= $n && !grep { !$_->{response} } @r[0 .. $n - 1] },
               timeout => $timeout);
    return @r;
}

# the wamid the stand-in answered with (its default 200 answer)
sub standin_wamid ($req) { 'wamid.STANDIN-' . $graph->port . "-$req->{seq}" }

sub status_hash ($case) {
    my $r = $redis->cmd('HGETALL', "wachat:st:{$CONV{$case}}") // [];
    return { @$r };
}

# the history id of the reply to an inbound wamid
sub reply_hist ($case, $in_wamid) {
    my $id;
    poll_until(sub {
        ($id) = map { $_->{id} }
                grep { ($_->{fields}{dir} // '') eq 'out'
                       && ($_->{fields}{reply_to} // '') eq $in_wamid }
                $redis->xrange("wachat:hist:{$CONV{$case}}");
        $id;
    }, timeout => 10);
    return $id;
}

sub wait_status_field ($case, $field, $re, $timeout = 15) {
    my $v;
    poll_until(sub {
        $v = $redis->cmd('HGET', "wachat:st:{$CONV{$case}}", $field);
        defined $v && $v =~ $re;
    }, timeout => $timeout);
    return $v;
}

sub dead_letters ($case) {
    grep { ($_->{fields}{conv} // '') eq $CONV{$case} }
        $redis->xrange('wachat:dead');
}

# booleans as 0/1, for is_deeply against plain data
sub plain ($v) {
    return ref $v eq 'HASH'  ? { map { $_ => plain($v->{$_}) } keys %$v }
         : ref $v eq 'ARRAY' ? [ map { plain($_) } @$v ]
         : JSON::PP::is_bool($v) ? ($v ? 1 : 0)
         : $v;
}

sub graph_error ($code, $message, %extra) {
    return { error => { message => $message, type => 'OAuthException',
                        code => $code, %extra,
                        fbtrace_id => 'A' . rand_token(22) } };
}

sub for_customer ($case) { '"to":"' . $WA{$case} . '"' }


# --- (a) the request as Meta documents it ---------------------------------

{
    my $in = ask('a', 'What are your opening hours?');
    my ($req) = wait_sends('a', 1);
    ok($req, '(a) the stand-in received the reply') or diag $d->log_text;
    $req //= { headers => {}, json => {} };

    is($req->{method}, 'POST', '(a) POST');
    is($req->{path}, "/v25.0/$PNID/messages",
       '(a) to {graph_api_url}/{phone_number_id}/messages');
    is($req->{headers}{authorization}, "Bearer $TOKEN1",
       '(a) Authorization: Bearer <the token of graph_token_file>');
    like($req->{headers}{'content-type'} // '', qr{^application/json\b},
         '(a) Content-Type: application/json');

    is_deeply(plain($req->{json}), {
        messaging_product => 'whatsapp',
        recipient_type    => 'individual',
        to                => $WA{a},
        type              => 'interactive',
        interactive       => {
            type   => 'button',
            body   => { text => $answer{hours} },
            action => { buttons => [ map { { type => 'reply', reply => $_ } }
                                     @{ $buttons{hours} } ] },
        },
        context => { message_id => $in },
        biz_opaque_callback_data => $req->{json}{biz_opaque_callback_data},
    }, '(a) interactive reply-button message, exactly as documented')
        or diag $req->{body};

    my @b = @{ $req->{json}{interactive}{action}{buttons} // [] };
    ok(@b >= 1 && @b <= 3, '(a) 1 to 3 buttons');
    ok(!grep({ length($_->{reply}{title}) > 20 } @b),
       '(a) button titles within 20 characters');

    my $hist = reply_hist('a', $in);
    ok($hist, '(a) the reply is in the history');
    is($req->{json}{biz_opaque_callback_data}, "wachat:$hist",
       '(a) biz_opaque_callback_data: "wachat:" and the reply\'s history id, for Meta to echo in its statuses');
    my $wamid = standin_wamid($req);
    is(wait_status_field('a', "h:$hist", qr/^wamid\./), $wamid,
       '(a) status hash: h:<hist id> -> the wamid the Graph API returned');
    like($redis->cmd('HGET', "wachat:st:{$CONV{a}}", $wamid) // '',
         qr/^accepted\|/, '(a) status hash: the wamid is recorded as accepted');

    # an entry without buttons: a text message; Chinese arrives as UTF-8
    $in = ask('a_zh', '請問營業時間？');
    ($req) = wait_sends('a_zh', 1);
    $req //= { headers => {}, json => {} };
    is_deeply(plain($req->{json}), {
        messaging_product => 'whatsapp',
        recipient_type    => 'individual',
        to                => $WA{a_zh},
        type              => 'text',
        text              => { preview_url => 0, body => $answer{'hours-zh'} },
        context           => { message_id => $in },
        biz_opaque_callback_data => $req->{json}{biz_opaque_callback_data},
    }, '(a) text message, exactly as documented, Chinese intact')
        or diag $req->{body};
    $hist = reply_hist('a_zh', $in);
    is($req->{json}{biz_opaque_callback_data}, "wachat:$hist",
       '(a) text message: tagged with its history id too');
    is(wait_status_field('a_zh', "h:$hist", qr/^wamid\./), standin_wamid($req),
       '(a) text message: its wamid recorded too');
}


# --- (d) part 1: the token is refused --------------------------------------

my ($d_in, $d_401_at, $d_hup_at);
{
    $graph->script(method => 'POST', match => '/messages$',
                   body_match => for_customer('d'), responses => [
        { status => 401, body => graph_error(190,
            'Error validating access token: Session has expired on Tuesday, '
            . '25-Nov-25 01:00:00 PST.', error_subcode => 463) },
    ]);
    $d_in = ask('d', 'How much does delivery cost?');
    my ($req) = wait_sends('d', 1);
    ok($req, '(d) the stand-in received the reply') or diag $d->log_text;
    $d_401_at = $req->{t} // time;

    ok($d->wait_log(qr/conversation \Q$CONV{d}\E: the Graph API refused the access token \(token: HTTP 401, code 190\b[^\n]*\)\. The reply is kept: fix graph_token_file with a permanent System User token and reload/),
       '(d) a loud log line names the token problem and what to do')
        or diag $d->log_text;
    like($d->log_text, qr/ error: conversation \Q$CONV{d}\E: the Graph API refused/,
         '(d) logged at error level') or diag $d->log_text;
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{d}}"), 1,
       '(d) the reply is kept in the outbound queue');
    is(scalar(dead_letters('d')), 0, '(d) not dead-lettered');
    # the new token and SIGHUP come in part 2, after the other cases: the
    # kept reply waits for its retry timer meanwhile
}


# --- (b) 429 once, then 200 -------------------------------------------------

{
    $graph->script(method => 'POST', match => '/messages$',
                   body_match => for_customer('b'), responses => [
        { status => 429, body => graph_error(130429,
            '(#130429) Rate limit hit',
            error_data => { messaging_product => 'whatsapp',
                details => 'Cloud API message throughput has been reached.' }) },
    ]);
    my $in = ask('b', 'What are your prices?');
    my @r = wait_answered('b', 2);
    is(scalar @r, 2, '(b) two requests: the 429 and its retry')
        or diag $d->log_text;
    is($r[0]{response}{status}, 429, '(b) the first was answered 429');
    is($r[1]{response}{status}, 200, '(b) the retry was answered 200') if @r > 1;
    is($r[1]{body}, $r[0]{body}, '(b) the retry is the same message') if @r > 1;

    my $hist = reply_hist('b', $in);
    my $wamid = @r > 1 ? standin_wamid($r[1]) : 'none';
    is(wait_status_field('b', "h:$hist", qr/^wamid\./), $wamid,
       '(b) the delivery is recorded with the wamid of the 200');
    my $st = status_hash('b');
    is(scalar(grep { /^h:/ } keys %$st), 1, '(b) exactly one delivery recorded')
        or diag explain $st;
    is(scalar(grep { /^wamid\./ } keys %$st), 1, '(b) exactly one wamid recorded')
        or diag explain $st;
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{b}}"), 0,
       '(b) nothing left to send');
    like($d->log_text, qr/conversation \Q$CONV{b}\E: send failed \(retry: HTTP 429, code 130429[^\n]*retry 1\/5/,
         '(b) the retry was logged with its reason');
}


# --- (c) 400 outside the window: dead letter, wachatctl retry --------------

{
    $graph->script(method => 'POST', match => '/messages$',
                   body_match => for_customer('c'), responses => [
        { status => 400, body => graph_error(131047,
            '(#131047) Re-engagement message',
            error_data => { messaging_product => 'whatsapp',
                details => 'Message failed to send because more than 24 hours '
                         . 'have passed since the customer last replied to '
                         . 'this number.' }) },
    ]);
    my $in = ask('c', 'Can I return an item?');
    my @dead;
    poll_until(sub { @dead = dead_letters('c') }, timeout => 15);
    is(scalar @dead, 1, '(c) one dead letter') or diag $d->log_text;
    my $dl = $dead[0] // { id => 'none', fields => {} };
    is($dl->{fields}{code}, '131047', '(c) the dead letter has the Graph code');
    like($dl->{fields}{reason} // '', qr/permanent: HTTP 400, code 131047/,
         '(c) and the reason');
    my $reply = eval { $JSON->decode($dl->{fields}{reply} // '') } // {};
    is($reply->{reply_to}, $in, '(c) and the reply itself');

    # a retry would come within the backoff (at most 2 s for the first)
    my @r = wait_sends('c', 2, 3);
    is(scalar @r, 1, '(c) no retry: exactly one request') or diag $d->log_text;
    my $hist = reply_hist('c', $in);
    like($redis->cmd('HGET', "wachat:st:{$CONV{c}}", "h:$hist") // '',
         qr/^failed\|131047\|/, '(c) the history shows the reply failed, with the code')
        or diag explain { "h:$hist" => 'missing', 'status hash' => status_hash('c') };
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{c}}"), 0,
       '(c) the reply left the outbound queue');

    my $out = `$ctl show $WA{c} 2>&1`;
    like($out, qr/^\s+ai: \Q$answer{returns}\E\s+\(answered from #returns, \d\.\d\d\)\s+\(failed, code 131047\)$/m,
         '(c) wachatctl show: the reply failed, with its code') or diag $out;

    $out = `$ctl dead 2>&1`;
    is($?, 0, '(c) wachatctl dead exits 0') or diag $out;
    like($out, qr/^\Q$dl->{id}\E\s+\Q$CONV{c}\E\s+code 131047\s/m,
         '(c) wachatctl dead lists it with its id, conversation and code')
        or diag $out;

    # the stand-in answers 200 from now on (the 400 rule is used up)
    $out = `$ctl retry $dl->{id} 2>&1`;
    is($?, 0, '(c) wachatctl retry exits 0') or diag $out;
    like($out, qr/requeued \Q$dl->{id}\E/, '(c) wachatctl retry requeues it');
    @r = wait_answered('c', 2, 20);
    is(scalar @r, 2, '(c) the reply was sent again') or diag $d->log_text;
    is($r[1]{body}, $r[0]{body}, '(c) the same message') if @r > 1;
    is($r[1]{response}{status}, 200, '(c) and accepted') if @r > 1;
    is(wait_status_field('c', "h:$hist", qr/^wamid\./),
       @r > 1 ? standin_wamid($r[1]) : 'none',
       '(c) delivered: the history now has its wamid');
    $out = `$ctl dead 2>&1`;
    unlike($out, qr/\Q$dl->{id}\E/, '(c) no longer in wachatctl dead')
        or diag $out;
    is(scalar(dead_letters('c')), 0, '(c) the dead letter is gone');
}


# --- (e) a hanging Graph API holds up no one else ---------------------------

{
    # hangs past graph_timeout (1s) twice, then answers
    $graph->script(method => 'POST', match => '/messages$',
                   body_match => for_customer('e1'),
                   responses => [ { hang => 1 }, { hang => 1 } ]);
    my $in1 = ask('e1', 'What are your opening hours?');
    my ($first) = wait_sends('e1', 1);
    ok($first, '(e) the first customer\'s reply reached the stand-in');
    my $in2 = ask('e2', 'How much does delivery cost?');

    my @r2;
    poll_until(sub { (@r2 = sends_to('e2')) && $r2[0]{response} }, timeout => 15);
    my $r2 = $r2[0] // { seq => 0, t => 0, response => {} };
    is($r2->{response}{status}, 200, '(e) the second customer\'s reply was sent');

    my @r1;
    poll_until(sub { (@r1 = sends_to('e1')) >= 3 && $r1[2]{response} },
               timeout => 20);
    is(scalar @r1, 3, '(e) the first customer\'s reply was retried after '
                      . 'each timeout') or diag $d->log_text;
    ok(!$r1[0]{response} && !($r1[1] // {})->{response},
       '(e) the hanging calls were never answered');

    # the second customer's request arrived while one of the first's was
    # still unanswered, and was answered before the first got through
    my ($hanging) = grep { $_->{seq} < $r2->{seq} } reverse grep { defined } @r1[0, 1];
    ok($hanging, '(e) a hanging call of the first customer came before it');
    cmp_ok($r2->{inflight}, '>=', 1,
           '(e) ... and was still in flight when the second arrived');
    my $ok1 = $r1[2] // { t => 0, response => { t => 0 } };
    cmp_ok($r2->{response}{t}, '<', $ok1->{t},
           '(e) the second customer was answered before the first\'s '
           . 'successful retry even started');

    my $hist1 = reply_hist('e1', $in1);
    is(wait_status_field('e1', "h:$hist1", qr/^wamid\./), standin_wamid($ok1),
       '(e) the first customer\'s reply delivered in the end, once');
    my $hist2 = reply_hist('e2', $in2);
    is(wait_status_field('e2', "h:$hist2", qr/^wamid\./), standin_wamid($r2),
       '(e) the second customer\'s delivery recorded');
    like($d->log_text, qr/conversation \Q$CONV{e1}\E: send failed \(retry: [^\n]*retry 1\//,
         '(e) the timeout was logged as a retry');
    is(scalar(dead_letters('e1')), 0, '(e) nothing dead-lettered');
}


# --- (d) part 2: delivered with the new token -------------------------------

{
    my @r = sends_to('d');
    is(scalar @r, 1, '(d) the kept reply was not resent in a loop meanwhile');
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{d}}"), 1, '(d) and is still kept');

    spew("$token_file.new", "$TOKEN2\n", 0600);
    rename "$token_file.new", $token_file or die "rename: $!";
    $d->hup;
    $d_hup_at = time;
    ok($d->wait_log(qr/reloaded \Q@{[$d->conf_path]}\E/),
       '(d) SIGHUP: wachatd reloaded') or diag $d->log_text;

    # the reload drops no work: a new message is still read and answered
    my $in = ask('a', 'What are your prices?');
    my @a;
    poll_until(sub {
        @a = grep { ($_->{json}{context}{message_id} // '') eq $in } sends_to('a');
    }, timeout => 15);
    is(scalar @a, 1, '(d) after the reload a new message is still answered')
        or diag $d->log_text;
    is(($a[0] // { headers => {} })->{headers}{authorization}, "Bearer $TOKEN2",
       '(d) ... with the new token');

    # the token wait is 60 s after the 401
    my $deadline = $d_401_at + 75 - time;
    @r = wait_sends('d', 2, $deadline > 1 ? $deadline : 1);
    is(scalar @r, 2, '(d) after the reload the reply was sent again')
        or diag $d->log_text;
    my $req = $r[1] // { headers => {}, response => {} };
    is($req->{headers}{authorization}, "Bearer $TOKEN2", '(d) with the new token');
    is($req->{body}, $r[0]{body}, '(d) the same message');
    my $hist = reply_hist('d', $d_in);
    is(wait_status_field('d', "h:$hist", qr/^wamid\./), standin_wamid($req),
       '(d) delivered');
    is($redis->cmd('LLEN', "wachat:outq:{$CONV{d}}"), 0, '(d) nothing left');
    my $at = $req->{t} // time;
    note sprintf '(d) the kept reply went out %.1f s after the reload '
               . '(%.1f s after the 401)', ($at > $d_hup_at ? $at - $d_hup_at : 0),
                 $at - $d_401_at;
}


# --- afterwards -------------------------------------------------------------

is(scalar(sends_to('b')), 2, '(b) still exactly two requests at the end');
is(scalar(sends_to('c')), 2, '(c) still exactly two requests at the end');
for my $case (qw(a b d e1 e2)) {
    is(scalar(dead_letters($case)), 0, "no dead letter left for ($case)");
}
unlike($d->log_text, qr/sent but not recorded|unreadable reply/,
       'no delivery left unrecorded');

ok(poll_until(sub {
    my $p = $redis->cmd('XPENDING', 'wachat:events', 'wachatd');
    ref $p eq 'ARRAY' && $p->[0] == 0;
}, timeout => 10), 'no stream entry left pending');

is($d->stop, 0, 'wachatd exits 0 on SIGTERM');
$graph->stop;
note sprintf 'run time %.1f s', time - $T0;

done_testing();
