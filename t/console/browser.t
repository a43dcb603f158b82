#!/usr/bin/perl
# The agent console in a real browser: headless Chromium driven through
# chromedriver (W3C WebDriver), against real redis-server, nginx with the
# module serving console/ and proxying /agent/api/ to wachatd, which sends
# through the Graph API to a local stand-in.
#
# nginx runs conf/nginx-agent.conf, the snippet shipped for production: it
# protects /agent/ with auth_basic (a {SHA} htpasswd written here) and passes
# the agent's id to wachatd in X-Wachat-Agent; the browser logs in with URL
# credentials (http://alice:secret@host/agent/), which is the browser's own
# basic auth, as with its login dialog: the console never sees a password.
#
# Scenario: alice logs in and goes online; a new customer sends /live_agent
# through nginx and the conversation appears in the list without a reload;
# alice opens it, the customer's next message shows up live, she replies
# with Enter and the reply reaches the Graph stand-in addressed to the
# customer; she resolves and the conversation is back with the AI.  The
# screenshot taken on the way goes to build/console.png (docs/console.png is
# refreshed with WACHAT_CONSOLE_SCREENSHOT=docs/console.png; '' for none).
#
# Skipped only when chromium / chromedriver are not installed
# (scripts/install-deps installs them).

use v5.36;
use utf8;
use lib 't/lib';

use File::Temp ();
use MIME::Base64 qw(encode_base64);
use JSON::PP ();
use Test::More;

use Wachat::Browser qw(ENTER SHIFT);
use Wachat::Console;       # skips the test without a headless browser
use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::Webhook qw(wh_button wh_status wh_text);

my $JSON = JSON::PP->new->utf8;
binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);
my $ROOT = root_dir();
# a copy: the console writes an answer into it
my $kbdir = File::Temp::tempdir('wachat-kb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $KB = spew("$kbdir/kb.md", slurp("$ROOT/t/fixtures/kb/shop.md"), 0644);
my $PNID = '106540352242922';
# the docs' picture is refreshed on demand only, so a test run leaves the
# tree clean: WACHAT_CONSOLE_SCREENSHOT=docs/console.png prove t/console/browser.t
my $SHOT = $ENV{WACHAT_CONSOLE_SCREENSHOT} // "$ROOT/build/console.png";
my $T = 20;      # seconds any one step may take (a loaded CI machine)

my $CUSTOMER = '16505551234';
my $CONV = "$PNID:$CUSTOMER";
my $OTHER = '33612345678';
my $WAITING = '4915112345678';

# --- servers ------------------------------------------------------------------

# redis, wachatd (alice, bob, a canned reply), nginx with the agent snippet
my $console = Wachat::Console->start(name => 'browser', kb => $KB, conf => <<'EOF');
agent bob bob@example.com name="Bob"
canned thanks "Thanks for waiting, I am looking into it now."
EOF
my ($graph, $redis, $d, $nginx) = map { $console->$_ } qw(graph redis daemon nginx);
my $port = $console->port;

# --- helpers ------------------------------------------------------------------

my $b;

sub post ($body, $what) {
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, "$what: webhook accepted") or diag $res->{body};
}

sub api_get ($path) {
    my $res = $nginx->http(path => "/agent/api/$path", headers => [
        Authorization => 'Basic ' . encode_base64('alice:secret', '')]);
    return ($res, eval { $JSON->decode($res->{body}) });
}

# the message the Graph stand-in received for $to (with $text, if given)
sub graph_body ($j) {
    return $j->{text}{body} // $j->{interactive}{body}{text} // '';
}

sub sent_find ($to, $text = undef) {
    my $hit;
    poll_until(sub {
        ($hit) = grep { my $j = $_->{json} // {};
                        ($j->{to} // '') eq $to
                        && (!defined $text || graph_body($j) eq $text) }
                 $graph->requests;
        $hit;
    }, timeout => $T);
    return $hit;
}

sub fatal_text { eval { $b->js('const f = document.getElementById("fatal"); return f.hidden ? "" : f.textContent') } // '' }

sub css_q ($s) { (my $q = $s) =~ s/(["\\])/\\$1/g; qq{"$q"} }

# --- the nginx side, without a browser ----------------------------------------

{
    my $res = $nginx->http(path => '/agent/');
    is($res->{status}, 401, 'the console asks for a login');
    like($res->{headers}{'www-authenticate'} // '', qr/^Basic realm="wachat agents"/,
         'with basic auth');
    $res = $nginx->http(path => '/agent/', headers => [
        Authorization => 'Basic ' . encode_base64('alice:secret', '')]);
    is($res->{status}, 200, 'the console page with the right password');
    like($res->{body}, qr/<script src="app.js"/, 'is the console');
    $res = $nginx->http(path => '/agent/app.js', headers => [
        Authorization => 'Basic ' . encode_base64('alice:secret', '')]);
    like($res->{headers}{'content-type'} // '', qr{^text/javascript}, 'app.js as JavaScript');
    $res = $nginx->http(path => '/agent/api/me', headers => [
        Authorization => 'Basic ' . encode_base64('alice:wrong', '')]);
    is($res->{status}, 401, 'the API refuses a wrong password');
}

# a conversation the AI handles, there before alice logs in
post(wh_text(from => $OTHER, name => 'Camille Martin', text => 'What are your opening hours?'),
     'AI conversation');
ok(sent_find($OTHER), 'the AI answered it through the Graph API');

# one who asked for a person while nobody was online
post(wh_text(from => $WAITING, name => 'Jonas Weber', text => '/live_agent'), 'waiting');
ok(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$PNID:$WAITING}", 'mode') // '') eq 'waiting_agent' },
              timeout => $T),
   'nobody online: the customer waits');

# --- the browser ----------------------------------------------------------------

$b = $console->browser(width => 1366, height => 900);
$b->get('about:blank');
$b->set_viewport(1366, 768);      # a common laptop screen

$b->get($console->login_url);
my $ready = $b->wait_js('return document.body.dataset.ready === "1"', timeout => $T);
$console->need($ready, 'the console loaded and reached the agent API', fatal_text());
is($b->text($b->find('#me-name')), 'Alice', "signed in as alice, shown by name");
$console->need($b->wait_for(qq{#conv-list a.conv-item[data-id=${\ css_q("$PNID:$OTHER")}]}, timeout => $T),
               "the AI's conversation is listed");
like($b->text($b->find(qq{#conv-list a.conv-item[data-id=${\ css_q("$PNID:$OTHER")}] .chip})),
     qr/^AI$/, 'in AI mode');
$console->need($b->wait_js('return document.getElementById("conn").dataset.state === "live"', timeout => $T),
               'the live event feed is connected', $b->text($b->find('#conn')));
ok($b->wait_for(qq{#conv-list a.conv-item[data-id=${\ css_q("$PNID:$WAITING")}].waiting}, timeout => $T),
   'the waiting customer is listed as waiting');
ok($b->wait_for('#waiting-count', timeout => $T, check => sub ($el) { $b->text($el) eq '1' }),
   'and counted on the Waiting tab');

# a marker that a page reload would lose
$b->js('window.__wachatPage = "same page"; return 1');

# online
$b->click_css('#presence button[data-presence="online"]');
$console->need($b->wait_js('return document.querySelector(\'#presence button[data-presence="online"]\')'
                           . '.getAttribute("aria-checked") === "true"', timeout => $T),
               'the presence switch shows online', fatal_text());
$console->need(poll_until(sub { ($redis->cmd('HGET', 'wachat:agent:alice', 'presence') // '') eq 'online' },
                          timeout => $T),
               'alice is online in Redis');

# a new customer asks for a person
post(wh_text(from => $CUSTOMER, name => 'Sheena Nelson', text => '/live_agent'), '/live_agent');
my $item_css = qq{#conv-list a.conv-item[data-id=${\ css_q($CONV)}]};
my $item = $b->wait_for($item_css, timeout => $T);
$console->need($item, 'the new conversation appears in the list');
is($b->js('return window.__wachatPage'), 'same page', 'without a page reload');
$console->need($b->wait_for("$item_css .chip", timeout => $T,
                            check => sub ($el) { $b->text($el) eq 'With you' }),
               'handed to alice ("With you")');

# open it
$b->click_css($item_css);
$console->need($b->wait_js('return location.hash', timeout => $T) =~ m{^#/c/}, 'the URL names the conversation');
$console->need($b->wait_for('#conv-name', timeout => $T, check => sub ($el) { $b->text($el) eq 'Sheena Nelson' }),
               'the conversation opens with the customer name');
$console->need($b->wait_for('.msg.customer .text', timeout => $T,
                            check => sub ($el) { $b->text($el) eq '/live_agent' }),
               'the customer message is in the history');
ok($b->wait_for('.msg.system .text', timeout => $T,
                check => sub ($el) { $b->text($el) =~ /^Connecting you to a person/ }),
   'the hand-over text, shown as a system message');
like($b->text($b->find('#conv-window')), qr/24-hour window: 2[34]h \d\dm left/,
     'the 24-hour window is shown');
ok($b->enabled($b->find('#reply')), 'the reply box is open for alice');

# the customer writes again: it arrives in the open conversation
my $question = 'Hi! My parcel has not arrived yet, order 4471. Can you check?';
post(wh_text(from => $CUSTOMER, name => 'Sheena Nelson', text => $question), 'question');
$console->need($b->wait_js('return [...document.querySelectorAll(".msg.customer .text")]'
                           . '.some((e) => e.textContent === arguments[0])', args => [$question], timeout => $T),
               "the customer's new message appears live in the open conversation");

# reply with Enter (Shift+Enter is a new line)
my $reply = "Hi Sheena, this is Alice. Let me check order 4471 for you.";
$b->click_css('#reply');
$b->type($b->find('#reply'), 'Hi Sheena, this is Alice.', SHIFT, ENTER, SHIFT,
         'Let me check order 4471 for you.');
is($b->prop($b->find('#reply'), 'value'),
   "Hi Sheena, this is Alice.\nLet me check order 4471 for you.",
   'Shift+Enter makes a new line, it does not send');
$b->type($b->find('#reply'), ENTER);
$reply = "Hi Sheena, this is Alice.\nLet me check order 4471 for you.";
my $sent = sent_find($CUSTOMER, $reply);
$console->need($sent, 'Enter sends: the reply reaches the Graph API stand-in',
               $b->text($b->find('#compose-error')),
               join("\n", map { "graph: " . ($_->{body} // '') } $graph->requests));
like($sent->{path}, qr{^/v25\.0/\Q$PNID\E/messages$}, 'from the business number');
is($sent->{headers}{authorization}, 'Bearer EAAG-console-test', 'with the token');
ok(poll_until(sub { $b->prop($b->find('#reply'), 'value') eq '' }, timeout => $T),
   'the reply box is empty again');
$console->need($b->wait_for('.msg.agent .text', timeout => $T,
                            check => sub ($el) { $b->text($el) eq $reply }),
               "the reply is in the history as alice's");
like($b->text($b->find('.msg.agent .who')), qr/Alice \(you\)/, 'labelled as alice (you)');
# delivery ticks: queued, accepted by the Graph API, then read by the customer
sub agent_tick { $b->js('const t = document.querySelector(".msg.agent .tick");'
                        . 'return t ? t.dataset.status : "none"') // '' }
ok($b->wait_for('.msg.agent .tick', timeout => $T), 'the reply carries a delivery tick');
my $hid = $b->js('return document.querySelector(".msg.agent").dataset.id');
my $wamid;
ok(poll_until(sub {
    $wamid = $redis->cmd('HGET', "wachat:st:{$CONV}", "h:$hid");
    defined $wamid && length $wamid;
}, timeout => $T), 'the reply was sent with a wamid');
post(wh_status(id => $wamid, status => 'read', recipient => $CUSTOMER), 'read receipt');
ok(poll_until(sub { ($redis->cmd('HGET', "wachat:st:{$CONV}", $wamid) // '') =~ /^read/ },
              timeout => $T), 'the read receipt is recorded');
ok(poll_until(sub { agent_tick() eq 'read' }, timeout => $T),
   'the tick turns to read without a reload') or diag 'tick: ' . agent_tick();
# whatever the feed said, the conversation as the API gives it now
$b->refresh;
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T), 'page reloaded');
ok($b->wait_for('.msg.agent .tick.read', timeout => $T), 'read: the blue double tick')
    or diag 'tick: ' . agent_tick();
like($b->attr($b->find('.msg.agent .tick'), 'title') // '', qr/^Read/, 'with its tooltip');

# the picture for the docs, with the conversation open
if (length $SHOT) {
    $b->js('document.activeElement && document.activeElement.blur();'
           . 'document.getElementById("toast").hidden = true; return 1');
    $b->screenshot($SHOT);
    ok(-s $SHOT > 10_000, "screenshot saved ($SHOT)");
}

# a canned reply: "/" in the reply box offers them (here in a note, which
# needs no open window)
$b->click_css('#as-note');
$b->click_css('#reply');
$b->type($b->find('#reply'), '/tha');
$console->need($b->wait_js('return !document.getElementById("canned").hidden && '
                           . '[...document.querySelectorAll("#canned li b")].some((e) => e.textContent === "/thanks")',
                           timeout => $T), '"/tha" offers the canned reply /thanks');
$b->type($b->find('#reply'), ENTER);
is($b->prop($b->find('#reply'), 'value'), 'Thanks for waiting, I am looking into it now.',
   'Enter puts its text in the box, it does not send');
$b->clear($b->find('#reply'));
$b->click_css('#as-note');

# an internal note: in the history for the agents, never to the customer
my $n_graph = () = $graph->requests;
$b->click_css('#as-note');
$console->need($b->wait_js('return document.getElementById("send").textContent === "Add note"', timeout => $T),
               'ticking Note turns the reply box into a note box');
$b->click_css('#reply');
$b->type($b->find('#reply'), 'Regular customer, VIP code applies', ENTER);
$console->need($b->wait_js('return [...document.querySelectorAll(".msg.note .text")]'
                           . '.some((e) => e.textContent === "Regular customer, VIP code applies")', timeout => $T),
               'the note shows in the history, marked as a note');
is(scalar(() = $graph->requests), $n_graph, 'the note was not sent to the customer');
$b->click_css('#as-note');

# transfer to a colleague, who then holds it; alice takes it back
$b->click_css('#transfer');
$console->need($b->wait_js('return !!document.querySelector(\'#transfer option[value="bob"]\')', timeout => $T),
               'Transfer… lists bob, with his presence and load');
$b->js('const s = document.getElementById("transfer"); s.value = "bob";'
       . ' s.dispatchEvent(new Event("change"));');
$console->need(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$CONV}", 'agent') // '') eq 'bob' }, timeout => $T),
               'transferred: bob holds the conversation');
$console->need($b->wait_js('return [...document.querySelectorAll(".msg.note .text")]'
                           . '.some((e) => e.textContent === "transferred to bob")', timeout => $T),
               'the history shows the transfer as a note');
$console->need($b->wait_for('#take', timeout => $T, check => sub ($el) { $b->text($el) eq 'Take over' }),
               'alice is offered to take it over');
$b->click_css('#take');
$console->need(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$CONV}", 'agent') // '') eq 'alice' }, timeout => $T),
               'alice holds it again');

# resolve: back to the AI
$b->click_css('#resolve');
$console->need($b->wait_for('#conv-mode', timeout => $T,
                            check => sub ($el) { ($b->attr($el, 'data-mode') // '') eq 'ai' }),
               'resolved: the console shows the AI mode', fatal_text());
my (undef, $c) = api_get('conversations/' . ($CONV =~ s/:/%3A/r));
is($c->{mode}, 'ai', 'the API says mode ai');
is(($redis->cmd('HGET', "wachat:conv:{$CONV}", 'mode') // ''), 'ai', 'and so does Redis');
ok($b->wait_for('#take', timeout => $T), 'take is offered again');
ok(!$b->enabled($b->find('#reply')), 'the reply box is closed until alice takes it again');

# a link from an e-mail opens the conversation directly
$b->get('about:blank');
$b->get("http://127.0.0.1:$port/agent/#/c/" . ($CONV =~ s/:/%3A/r));
ok($b->wait_for('#conv-name', timeout => $T, check => sub ($el) { $b->text($el) eq 'Sheena Nelson' }),
   'a #/c/<id> link opens the conversation');

# the improvement view: a question the assistant could not answer
post(wh_text(from => $OTHER, name => 'Pierre', text => 'Do you repair skateboards?'), 'an unknown question');
ok(poll_until(sub { ($redis->cmd('HGET', "wachat:conv:{$PNID:$OTHER}", 'last_in_ts') // 0)
                    && grep { ($_->{fields}{source} // '') eq 'fallback' }
                       $redis->xrange("wachat:hist:{$PNID:$OTHER}") }, timeout => $T),
   'it got the fallback');
$b->click_css('a.insight-link');
$console->need($b->wait_js('return [...document.querySelectorAll("#insight-list .insight-item .q")]'
                           . '.some((e) => e.textContent.includes("Do you repair skateboards?"))', timeout => $T),
               'Unanswered questions lists it', fatal_text());
$b->click_css('#insight-list .insight-item .convs a');
$console->need($b->wait_js('return [...document.querySelectorAll(".msg.ai .source.miss")]'
                           . '.some((e) => e.textContent.startsWith("no confident answer"))', timeout => $T),
               'its conversation opens, the reply marked "no confident answer"');

# ... and its answer written from there into the knowledge base
$b->click_css('a.insight-link[href="#/unanswered"]');
$console->need($b->wait_for('#insight-list button.write-answer', timeout => $T), 'the group offers "Write the answer"');
$b->click_css('#insight-list button.write-answer');
$console->need($b->wait_js('return document.getElementById("kb-add-q").value === "Do you repair skateboards?"'
                           . ' && !document.getElementById("kbview").hidden', timeout => $T),
               'the knowledge base view opens with the question filled in');
$b->click_css('#kb-add-a');
$b->type($b->find('#kb-add-a'), 'Yes, skateboards too: bearings and wheels while you wait.');
$b->click_css('#kb-add-send');
$console->need($b->wait_js('return document.getElementById("kb-add-msg").textContent.startsWith("Added as #")', timeout => $T),
               'added: the console says so', $b->text($b->find('#kb-add-msg')));
like(slurp($KB), qr/\n## Do you repair skateboards\?\n\nYes, skateboards too|\n## Do you repair skateboards\?\nYes, skateboards too/,
     'the entry is in the KB file');
# "what would the assistant answer?" once wachatd has reloaded the file
$b->click_css('#kb-try-q');
$b->type($b->find('#kb-try-q'), 'Do you repair skateboards?');
ok(poll_until(sub {
    $b->click_css('#kb-try button[type=submit]');
    ($b->js('return document.getElementById("kb-try-out").textContent') // '') =~ /^Answered from #/;
}, timeout => $T, interval => 0.5), 'trying the question in the console: answered from the new entry')
    or diag $b->js('return document.getElementById("kb-try-out").textContent');

# another way to ask an entry, added from the knowledge base view
$console->need($b->wait_for('form.kb-also[data-id="hours"] input', timeout => $T), 'entries offer "Add phrasing"');
$b->click_css('form.kb-also[data-id="hours"] input');
$b->type($b->find('form.kb-also[data-id="hours"] input'), 'when do u guys shut', ENTER);
ok(poll_until(sub { slurp($KB) =~ /\{#hours\}\nAlso: [^\n]*\| when do u guys shut\n/ }, timeout => $T),
   'the phrasing is in the entry\'s Also: line');

# not sure, the assistant suggests entries: "what would it answer?" shows the buttons
my $VAGUE = 'can i pay by card for delivery';
$b->clear($b->find('#kb-try-q'));
$b->type($b->find('#kb-try-q'), $VAGUE);
$b->click_css('#kb-try button[type=submit]');
$console->need($b->wait_js('return [...document.querySelectorAll("#kb-try-out .buttons span")].map((e) => e.textContent)'
                           . '.join("|") === "Shipping price|Talk to a person"', timeout => $T),
               'trying a vague question: the fallback with the suggested entry and the person as buttons',
               $b->js('return document.getElementById("kb-try-out").textContent'));

# a customer asks it in two lines, with a "|" (which separates phrasings),
# taps the suggestion; the unanswered view says what was picked and shows
# the question as the one-line phrasing it adds, which is what is added
my $TAPPER = '4915188880000';
my $ASKED = "can i pay by card\nfor delivery | or only cash?";
my $PHRASING = 'can i pay by card for delivery or only cash?';
post(wh_text(from => $TAPPER, name => 'Tom', text => $ASKED), 'a vague question, in two lines, with a "|"');
ok(poll_until(sub { grep { ($_->{fields}{source} // '') eq 'fallback' } $redis->xrange("wachat:hist:{$PNID:$TAPPER}") },
              timeout => $T), 'it got the fallback');
post(wh_button(from => $TAPPER, payload => 'delivery', title => 'Shipping price'), 'the tap on the suggestion');
ok(poll_until(sub { grep { ($_->{fields}{source} // '') eq 'kb:delivery' } $redis->xrange("wachat:hist:{$PNID:$TAPPER}") },
              timeout => $T), 'the tap was answered from #delivery');
$b->click_css('a.insight-link[href="#/unanswered"]');
$console->need($b->wait_js('return [...document.querySelectorAll("#insight-list .insight-item .picked")]'
                           . '.some((e) => e.textContent.includes("#delivery (1×)"))', timeout => $T),
               'Unanswered questions: the customer then picked #delivery', fatal_text());
my $ADD = '#insight-list button.add-picked[data-id="delivery"]';
is($b->text($b->find($ADD)), "Add \x{201c}$PHRASING\x{201d} as a phrasing of #delivery",
   'the button shows the phrasing it adds: one line, the "|" a space');
$b->click_css($ADD);
ok(poll_until(sub { slurp($KB) =~ /\{#delivery\}\nAlso: [^\n]*\| \Q$PHRASING\E\n/ }, timeout => $T),
   '"Add as a phrasing of #delivery": that phrasing is the last of the entry\'s Also: line')
    or diag slurp($KB);

# the search looks through every message on the server, not only the list
$b->get("http://127.0.0.1:$port/agent/#/");
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T), 'back to the list');
$b->click_css('#search');
$b->type($b->find('#search'), 'skateboards');
$console->need($b->wait_js('return !document.getElementById("search-hits").hidden && '
                           . 'document.getElementById("search-hits-list").textContent.includes("Do you repair skateboards?")',
                           timeout => $T), 'searching "skateboards" finds the message, under "In messages"');
$b->clear($b->find('#search'));

# alerts, opted in: a customer who starts waiting is announced
$b->click_css('#notify-toggle');
is($b->js('return localStorage.getItem("wachat.alerts")'), '1', 'alerts switched on (remembered)');
$b->click_css('#presence button[data-presence="away"]');
$console->need(poll_until(sub { ($redis->cmd('HGET', 'wachat:agent:alice', 'presence') // '') eq 'away' },
                          timeout => $T), 'alice away');
post(wh_text(from => '4915199990000', name => 'Uwe', text => '/live_agent'), 'a customer asks for a person');
$console->need($b->wait_js('return Number(document.body.dataset.alerts || 0) >= 1', timeout => $T),
               'the console raised an alert for the waiting customer');

my @severe = grep { /SEVERE/ && !/favicon|401/ } $b->console_log;
is_deeply(\@severe, [], 'no errors in the browser console');

$b->quit;
done_testing();
