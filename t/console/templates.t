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

use Digest::SHA qw(sha1_base64);
use File::Temp ();
use JSON::PP ();
use Test::More;

use Wachat::Browser qw(start_browser);
BEGIN {
    if (my $why = Wachat::Browser::missing()) {
        plan skip_all => "headless browser $why";
    }
}

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(agent_snippet start_nginx wachat_location);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(rand_token wh_text);

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
my $redis = start_redis();
my $api_port = free_port();
my $gdir = File::Temp::tempdir('wachat-graph-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $token_file = spew("$gdir/token", "EAAG-console-media\n", 0600);
my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com name="Alice"
graph_api_url @{[$graph->url]}/v25.0
graph_token_file $token_file
waba_id $WABA
EOF

my $auth_dir = File::Temp::tempdir('wachat-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $htpasswd = spew("$auth_dir/htpasswd", 'alice:{SHA}' . sha1_base64('secret') . "=\n");
my $token = 'vt-' . rand_token(20);
my $secret = 'as-' . rand_token(32);
my $console = agent_snippet(htpasswd => $htpasswd, api => "127.0.0.1:$api_port",
                            secret_file => $d->api_secret_file);
my $nginx = start_nginx(redis => $redis, token => $token, secret => $secret,
    locations => wachat_location(token => $token, secret => $secret) . $console);
my $port = $nginx->port;


# --- helpers ------------------------------------------------------------------

my $b;

sub need ($ok, $name, @why) {
    return 1 if ok($ok, $name);
    diag $_ for grep { defined && length } @why;
    if ($b) {
        my $f = "$ROOT/build/console_templates-failure.png";
        mkdir "$ROOT/build";
        eval { $b->screenshot($f); diag "screenshot of the failure: $f" };
    }
    my @log = split /\n/, $d->log_text;
    diag "wachatd log:\n" . join("\n", @log > 30 ? @log[-30 .. -1] : @log);
    done_testing();
    exit 1;
}


# --- a customer who wrote two days ago ------------------------------------------

my $res = $nginx->post_signed(wh_text(from => $CUSTOMER, name => 'Ana Lima',
                                      text => 'Is my order ready?',
                                      ts => time - 2 * 86400));
is($res->{status}, 200, 'an old message: webhook accepted');
need(poll_until(sub { defined $redis->cmd('HGET', "wachat:conv:{$CONV}", 'last_in_id') },
                timeout => $T), 'the conversation is there');
need(poll_until(sub { defined $redis->cmd('GET', 'wachat:templates') }, timeout => $T),
     'wachatd fetched the templates');


# --- alice sends a template -----------------------------------------------------------

$b = start_browser(width => 1366, height => 900);
$b->get('about:blank');
$b->set_viewport(1366, 768);
$b->get("http://alice:secret\@127.0.0.1:$port/agent/#/c/" . ($CONV =~ s/:/%3A/r));
need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T),
     'the console loaded');
need($b->wait_for('#conv-name', timeout => $T, check => sub ($el) { $b->text($el) eq 'Ana Lima' }),
     'the conversation is open');
ok($b->js('return document.getElementById("templates").hidden'),
   'no templates before alice holds it');
$b->click_css('#take');
need($b->wait_js('return !document.getElementById("templates").hidden', timeout => $T),
     'taken after the window: the templates are offered');
like($b->text($b->find('#conv-notice')), qr/only a template message.*Pick one below/,
     'the notice says why');
ok($b->js('return document.getElementById("reply").disabled'), 'the reply box stays closed');

need($b->wait_js('return document.querySelectorAll("#tpl-select option").length === 2', timeout => $T),
     'both approved templates are listed');
$b->js('const s = document.getElementById("tpl-select");'
       . 's.value = [...s.options].find((o) => o.text.startsWith("order_update")).value;'
       . 's.dispatchEvent(new Event("change")); return 1');
need($b->wait_js('return document.querySelectorAll("#tpl-params input").length === 2', timeout => $T),
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
need($sent, 'the template reaches the Graph API', $b->text($b->find('#tpl-error')));
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
