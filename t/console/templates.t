#!/usr/bin/perl
# Templates in the agent console, in a real browser (headless Chromium, as
# t/console/browser.t): a customer wrote two days ago; alice opens the
# conversation, takes it, and is offered the account's approved templates
# instead of the reply box; she picks one with two variables, fills them
# in (the preview follows), sends it, and it reaches the Graph stand-in
# with both parameters.
#
# Skipped only when chromium / chromedriver are not installed.

use v5.36;
use utf8;
use lib 't/lib';

use JSON::PP ();
use Test::More;

use Wachat::Console;       # skips the test without a headless browser
use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Standin;
use Wachat::Webhook qw(wh_text);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);
my $ROOT = root_dir();
my $KB = "$ROOT/t/fixtures/kb/shop.md";
my $PNID = '106540352242922';
my $T = 20;
my $CUSTOMER = '16505559999';
my $WABA = '102290129340398';
my $CONV = "$PNID:$CUSTOMER";



# --- servers ------------------------------------------------------------------

my $graph = Wachat::Standin->start(kind => 'graph');
$graph->add_template(name => 'order_update', language => 'en_US',
                     body => 'Hi {{1}}, your order {{2}} is ready for pickup.');
$graph->add_template(name => 'hello_world', language => 'en_US',
                     body => 'Hello! Thanks for writing to us.');

# redis, wachatd (alice, the account's waba_id, so it fetches the templates
# at start), nginx with the agent snippet
my $console = Wachat::Console->start(name => 'templates', kb => $KB, graph => $graph,
                                     conf => "waba_id $WABA\n");
my ($redis, $d, $nginx) = map { $console->$_ } qw(redis daemon nginx);


# --- helpers ------------------------------------------------------------------

my $b;


# --- a customer who wrote two days ago ------------------------------------------

my $res = $nginx->post_signed(wh_text(from => $CUSTOMER, name => 'Ana Lima',
                                      text => 'Is my order ready?',
                                      ts => time - 2 * 86400));
is($res->{status}, 200, 'an old message: webhook accepted');
$console->need(poll_until(sub { defined $redis->cmd('HGET', "wachat:conv:{$CONV}", 'last_in_id') },
                          timeout => $T), 'the conversation is there');
$console->need(poll_until(sub { defined $redis->cmd('GET', 'wachat:templates') }, timeout => $T),
               'wachatd fetched the templates');


# --- alice sends a template -----------------------------------------------------------

$b = $console->browser(width => 1366, height => 900);
$b->get('about:blank');
$b->set_viewport(1366, 768);
$b->get($console->login_url("#/c/" . ($CONV =~ s/:/%3A/r)));
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T),
               'the console loaded');
$console->need($b->wait_for('#conv-name', timeout => $T, check => sub ($el) { $b->text($el) eq 'Ana Lima' }),
               'the conversation is open');
ok($b->js('return document.getElementById("templates").hidden'),
   'no templates before alice holds it');
$b->click_css('#take');
$console->need($b->wait_js('return !document.getElementById("templates").hidden', timeout => $T),
               'taken after the window: the templates are offered');
like($b->text($b->find('#conv-notice')), qr/only a template message.*Pick one below/,
     'the notice says why');
ok($b->js('return document.getElementById("reply").disabled'), 'the reply box stays closed');

$console->need($b->wait_js('return document.querySelectorAll("#tpl-select option").length === 2', timeout => $T),
               'both approved templates are listed');
$b->js('const s = document.getElementById("tpl-select");'
       . 's.value = [...s.options].find((o) => o.text.startsWith("order_update")).value;'
       . 's.dispatchEvent(new Event("change")); return 1');
$console->need($b->wait_js('return document.querySelectorAll("#tpl-params input").length === 2', timeout => $T),
               'order_update asks for its two variables');
my @inputs = $b->find_all('#tpl-params input');
$b->type($inputs[0], 'Ana');
$b->type($inputs[1], '#4821');
is($b->text($b->find('#tpl-preview')), 'Hi Ana, your order #4821 is ready for pickup.',
   'the preview shows it filled in');
$b->click_css('#tpl-send');

my $sent;
poll_until(sub {
    ($sent) = grep { ($_->{json}{type} // '') eq 'template' }
              $graph->requests(method => 'POST', path => qr{/messages$});
    $sent;
}, timeout => $T);
$console->need($sent, 'the template reaches the Graph API', $b->text($b->find('#tpl-error')));
is($sent->{json}{to}, $CUSTOMER, 'to the customer');
is($sent->{json}{template}{name}, 'order_update', 'the template picked');
is($sent->{json}{template}{language}{code}, 'en_US', 'in its language');
is_deeply([ map { $_->{text} } @{ $sent->{json}{template}{components}[0]{parameters} // [] } ],
          ['Ana', '#4821'], 'with both parameters, in order');
ok($b->wait_js('return [...document.querySelectorAll(".msg.agent .text")]'
               . '.some((e) => e.textContent === "Hi Ana, your order #4821 is ready for pickup.")',
               timeout => $T), 'the conversation shows it as sent');

my @severe = grep { /SEVERE/ && !/favicon|401/ } $b->console_log;
is_deeply(\@severe, [], 'no errors in the browser console');

$b->quit;
done_testing();
