#!/usr/bin/perl

# wachatd/clients (http, graph, llm) against the stand-in server.  Each
# scenario starts a fresh stand-in, scripts its answers, runs
# `build/http_test <scenario>` (which checks what the client reports; its TAP is relayed
# here), then checks what the server received: request bodies, headers,
# and ordering evidence (see Wachat::Standin: "answered" / "inflight" are
# taken when a request arrives, so no assertion rests on wall-clock time).

use v5.36;
use utf8;
use lib 't/lib';
use Encode qw(encode);
use JSON::PP;
use Test::More;
use Wachat::Standin;

my $BIN = $ENV{WACHAT_HTTP_TEST} // 'build/http_test';
die "$BIN is not built: make $BIN\n" unless -x $BIN;

my $PHONE = '106540352242922';
my $TOKEN = 'EAAGtestTOKEN123';

# Runs one scenario of the C program, relays its TAP as our own tests.
sub run_c ($scenario, $standin = undef) {
    local $ENV{WACHAT_STANDIN_URL} = $standin ? $standin->url : '';
    open my $fh, '-|', $BIN, $scenario or die "run $BIN: $!";
    my ($plan, $n) = (undef, 0);
    while (my $line = <$fh>) {
        chomp $line;
        if ($line =~ /^1\.\.(\d+)$/) {
            $plan = $1;
        } elsif ($line =~ /^(not )?ok \d+(?: - (.*))?$/) {
            $n++;
            ok(!$1, "$scenario: " . ($2 // ''));
        } elsif ($line =~ /^#\s?(.*)$/) {
            my $text = $1;
            # the details of a failure are shown, the rest is a note
            ($text =~ /^\s*(got|expected)|missing/ ? \&diag : \&note)->($text);
        } else {
            diag "$scenario: $line";
        }
    }
    close $fh;
    is($? >> 8, 0, "$scenario: exit status 0") or diag "wait status $?";
    is($n, $plan // -1, "$scenario: all planned tests ran");
}

sub standin (@rules) { Wachat::Standin->start(rules => \@rules) }

sub graph_error ($code, $message, %o) {
    return { error => {
        message => $message, type => 'OAuthException', code => $code,
        ($o{details} ? (error_data => { messaging_product => 'whatsapp',
                                        details => $o{details} }) : ()),
        ($o{subcode} ? (error_subcode => $o{subcode}) : ()),
        fbtrace_id => $o{trace} // 'AbCdEf',
    } };
}


# --- pure unit tests ---------------------------------------------------------

run_c('unit');


# --- 10 requests, each answered after 1 s, run at once ---------------------

{
    my $s = standin({ match => '^/slow/', responses => [{ delay => 1 }],
                      keep => 1 });
    run_c('concurrency', $s);
    my @r = $s->requests(path => qr{^/slow/});
    is(scalar @r, 10, 'concurrency: the stand-in got 10 requests');
    is(scalar(grep { $_->{answered} == 0 } @r), 10,
       'concurrency: all 10 arrived before the first answer was sent');
    is((sort { $b <=> $a } map { $_->{inflight} } @r)[0], 9,
       'concurrency: the last one arrived with the 9 others pending');
    is(scalar(grep { ($_->{response}{status} // 0) == 200 } @r), 10,
       'concurrency: 10 answers sent');
    $s->stop;
}


# --- 8 requests, 3 slots ---------------------------------------------------

{
    my $s = standin({ match => '^/queue/', responses => [{ delay => 0.5 }],
                      keep => 1 });
    run_c('queue', $s);
    my @r = $s->requests(path => qr{^/queue/});
    is(scalar @r, 8, 'queue: 8 requests');
    ok(!(grep { $_->{inflight} > 2 } @r),
       'queue: never more than 3 requests in flight at the server');
    is_deeply([sort map { $_->{headers}{'x-seq'} } @r[0 .. 2]], [0, 1, 2],
              'queue: the first 3 to arrive are the first 3 submitted');
    my @late = grep { $_->{headers}{'x-seq'} >= 3 } @r;
    my @bad = grep { $_->{answered} < $_->{headers}{'x-seq'} - 2 } @late;
    ok(!@bad, 'queue: request i >= 3 arrived only after i - 2 answers'
              . ' (FIFO, one slot per finished request)')
        or diag explain [map { [$_->{headers}{'x-seq'}, $_->{answered}] }
                         @bad];
    $s->stop;
}


# --- requests made from done callbacks -------------------------------------

{
    my $s = standin({ match => '^/chain/', responses => [{ status => 200 }],
                      keep => 1 });
    run_c('chain', $s);
    is(join(',', sort map { $_->{path} } $s->requests),
       '/chain/0,/chain/1,/chain/1,/chain/2,/chain/2,/chain/2,/chain/2',
       'chain: 1 + 2 + 4 requests received');
    $s->stop;
}


# --- timeout ---------------------------------------------------------------

{
    my $s = standin(
        { match => '^/hang', responses => [{ hang => 1 }], keep => 1 },
        { match => '^/fast', responses => [{ status => 200, body => 'fast' }],
          keep => 1 },
    );
    run_c('timeout', $s);
    my ($hang) = $s->requests(path => qr{^/hang});
    ok($hang && !$hang->{response}, 'timeout: /hang received, never answered');
    $s->stop;
}


# --- the loop held up past the deadline while the answer came (own server) --

run_c('stall');


# --- the 1 MB bound ----------------------------------------------------------

{
    my $MB = 1024 * 1024;
    my $s = standin(
        { match => '^/big/exact$', responses => [{ body_bytes => $MB }],
          keep => 1 },
        { match => '^/big/over$', responses => [{ body_bytes => $MB + 1 }],
          keep => 1 },
        { match => '^/big/stream-ok$',
          responses => [{ body_bytes => 1000, no_length => 1 }], keep => 1 },
        { match => '^/big/stream-over$',
          responses => [{ body_bytes => $MB + 1, no_length => 1 }],
          keep => 1 },
    );
    run_c('size', $s);
    is(scalar $s->requests(path => qr{^/big/}), 4, 'size: 4 requests');
    $s->stop;
}


# --- cancel on free ----------------------------------------------------------

{
    my $s = standin({ match => '^/hang', responses => [{ hang => 1 }],
                      keep => 1 });
    run_c('cancel', $s);
    ok(scalar($s->requests) <= 1,
       'cancel: the queued request was never sent');
    $s->stop;
}


# --- Graph: what goes on the wire ------------------------------------------

{
    my $s = standin();
    run_c('graph_send', $s);
    my @r = $s->wait_for_requests(4, 5);
    is(scalar @r, 4, 'graph: 4 requests');

    my ($check) = grep { $_->{method} eq 'GET' } @r;
    my @post = grep { $_->{method} eq 'POST' } @r;
    my ($read) = grep { ($_->{json}{status} // '') eq 'read' } @post;
    my ($text) = grep { ($_->{json}{type} // '') eq 'text' } @post;
    my ($btn) = grep { ($_->{json}{type} // '') eq 'interactive' } @post;

    is($check->{path}, "/v25.0/$PHONE", 'graph: GET /{phone_number_id}');
    is(scalar(grep { $_->{path} eq "/v25.0/$PHONE/messages" } @post), 3,
       'graph: POST {graph_api_url}/{phone_number_id}/messages, one slash');
    is(scalar(grep { ($_->{headers}{authorization} // '') eq "Bearer $TOKEN" }
              @r), 4, 'graph: Authorization: Bearer <token> on every call');
    is(scalar(grep { ($_->{headers}{'content-type'} // '')
                     eq 'application/json' } @post), 3,
       'graph: Content-Type: application/json');
    ok(!(grep { exists $_->{headers}{expect} } @r), 'graph: no Expect');

    my $text_body = '{"messaging_product":"whatsapp",'
        . '"recipient_type":"individual","to":"16505551234","type":"text",'
        . '"text":{"preview_url":false,'
        . '"body":"We are open 9:00-18:00. 營業時間 😀"},'
        . '"context":{"message_id":"wamid.IN1"}}';
    is($text->{body}, encode('UTF-8', $text_body),
       'graph: text body byte for byte');
    is_deeply($text->{json}, {
        messaging_product => 'whatsapp', recipient_type => 'individual',
        to => '16505551234', type => 'text',
        text => { preview_url => JSON::PP::false,
                  body => 'We are open 9:00-18:00. 營業時間 😀' },
        context => { message_id => 'wamid.IN1' },
    }, 'graph: text JSON as in the Cloud API docs');

    is_deeply($btn->{json}, {
        messaging_product => 'whatsapp', recipient_type => 'individual',
        to => '16505551234', type => 'interactive',
        interactive => {
            type => 'button',
            body => { text => 'Anything else?' },
            action => { buttons => [
                { type => 'reply', reply => { id => 'hours',
                                              title => 'Opening hours' } },
                { type => 'reply', reply => { id => 'prices',
                                              title => '價格' } },
                { type => 'reply', reply => { id => 'live_agent',
                                              title => 'Talk to a person' } },
            ] },
        },
    }, 'graph: reply-button JSON as in the Cloud API docs');
    my @b = @{ $btn->{json}{interactive}{action}{buttons} // [] };
    ok(@b <= 3 && !(grep { length $_->{reply}{title} > 20
                           || length $_->{reply}{id} > 256 } @b),
       'graph: buttons within the limits (3, title 20, id 256)');

    is($read->{body}, '{"messaging_product":"whatsapp","status":"read",'
       . '"message_id":"wamid.IN1","typing_indicator":{"type":"text"}}',
       'graph: mark read + typing indicator body');
    $s->stop;
}


# --- Graph: classification of canned errors ---------------------------------

{
    my $rate = graph_error(130429, '(#130429) Rate limit hit',
        details => 'Message failed to send because there were too many'
                   . ' messages sent from this phone number in a short'
                   . ' period of time',
        subcode => 2494055, trace => 'Az8or2yhqkZfEZ-_4Qn_Bam');
    my %cases = (
        1001 => { status => 429, body => $rate },
        1002 => { status => 400, body => graph_error(131047,
                  '(#131047) Re-engagement message',
                  details => 'Message failed to send because more than 24'
                             . ' hours have passed') },
        1003 => { status => 401, body => graph_error(190,
                  'Error validating access token: Session has expired',
                  subcode => 463) },
        1004 => { status => 400, body => $rate },
        1005 => { status => 200, body => { messaging_product => 'whatsapp',
                  contacts => [{ input => '16505551234',
                                 wa_id => '16505551234' }] } },
        1006 => { status => 503, body => '<html>Service Unavailable</html>' },
        1007 => { status => 400, body => graph_error(131056,
                  '(#131056) (Business Account, Consumer Account) pair'
                  . ' rate limit hit') },
        1008 => { status => 500, body => graph_error(131000,
                  'Something went wrong') },
        1009 => { status => 400, body => graph_error(100,
                  '(#100) Invalid parameter') },
        1010 => { status => 403, body => graph_error(200,
                  '(#200) Permissions error') },
        1011 => { hang => 1 },
        1012 => { close => 1 },
    );
    my $s = standin(
        (map { { match => "^/v25.0/$_/messages\$",
                 responses => [$cases{$_}] } } sort keys %cases),
        { match => '^/v25.0/1020/messages$',
          responses => [{ status => 429, body => $rate }, {}] },
    );
    run_c('graph_errors', $s);
    my @r = $s->requests;
    for my $id (sort keys %cases) {
        is(scalar(grep { $_->{path} eq "/v25.0/$id/messages" } @r), 1,
           "graph errors: $id tried once (no hidden retry in the client)");
    }
    my @again = grep { $_->{path} eq '/v25.0/1020/messages' } @r;
    is(scalar @again, 2, 'graph errors: 429 then 200 = two requests');
    is(join(',', map { $_->{response}{status} // '-' } @again), '429,200',
       'graph errors: answered 429, then 200');
    ok(@again == 2 && $again[0]{body} eq $again[1]{body},
       'graph errors: the retry sends the same body');
    $s->stop;
}


# --- LLM: request shape ------------------------------------------------------

{
    my $s = standin();
    run_c('llm', $s);
    my @r = $s->wait_for_requests(2, 5);
    is(scalar @r, 2, 'llm: 2 requests');
    my ($full, $bare) = @r;

    is($full->{path}, '/v1/chat/completions',
       'llm: POST {llm_url}/chat/completions');
    is($full->{method}, 'POST', 'llm: POST');
    is($full->{headers}{authorization}, 'Bearer sk-test-key',
       'llm: Authorization: Bearer <key>');
    is($full->{headers}{'content-type'}, 'application/json',
       'llm: JSON content type');
    my $j = $full->{json};
    is($j->{model}, 'test-model', 'llm: model');
    is($j->{max_tokens}, 300, 'llm: max_tokens');
    ok(abs(($j->{temperature} // -1) - 0.2) < 1e-9, 'llm: temperature 0.2');
    ok(defined $j->{stream} && !$j->{stream}, 'llm: stream false');

    my @m = @{ $j->{messages} // [] };
    is(join(',', map { $_->{role} } @m),
       'system,system,user,assistant,user,user',
       'llm: prompt, passages, history (oldest first), question');
    is($m[0]{content}, 'You answer for Lucky Shrub.',
       'llm: system prompt first');
    my $p = $m[1]{content} // '';
    my @at = map { index($p, $_) } 'What are your opening hours?',
        'We are open Monday to Friday, 9:00 to 18:00.', '營業時間',
        '星期一至五 9:00 至 18:00。';
    ok(!(grep { $_ < 0 } @at) && $at[0] < $at[1] && $at[1] < $at[2]
       && $at[2] < $at[3],
       'llm: both passages, titles and texts, in rank order')
        or diag $p;
    is_deeply([map { $_->{content} } @m[2 .. 5]],
              ['hi', 'Hello! How can I help?', 'do you deliver?',
               'when are you open on Saturday?'],
              'llm: history turns, then the customer message last');

    is($bare->{path}, '/plain/chat/completions', 'llm: bare base URL');
    ok(!exists $bare->{headers}{authorization},
       'llm: no key, no Authorization header');
    ok(!exists $bare->{json}{max_tokens} && !exists $bare->{json}{temperature},
       'llm: max_tokens and temperature left to the server when unset');
    is(join(',', map { $_->{role} } @{ $bare->{json}{messages} }),
       'system,user', 'llm: no prompt, no history: passages note + question');
    $s->stop;
}


# --- LLM: failures -----------------------------------------------------------

{
    my $s = standin(
        { match => '^/e500/', responses => [{ status => 500, body => {
            error => { message => 'model overloaded',
                       type => 'server_error' } } }] },
        { match => '^/e401/', responses => [{ status => 401, body => {
            error => { message => 'Incorrect API key provided' } } }] },
        { match => '^/badjson/', responses => [{ status => 200,
            body => 'this is not json' }] },
        { match => '^/empty/', responses => [{ status => 200, body => {
            choices => [{ index => 0, finish_reason => 'stop',
                          message => { role => 'assistant',
                                       content => '' } }] } }] },
        { match => '^/nochoices/', responses => [{ status => 200,
            body => { choices => [] } }] },
        { match => '^/hang/', responses => [{ hang => 1 }] },
    );
    run_c('llm_errors', $s);
    is(scalar(grep { $_->{path} =~ m{^/\w+/chat/completions$} }
              $s->requests), 6, 'llm errors: 6 requests received');
    $s->stop;
}

done_testing;
