#!/usr/bin/perl
# Message templates, the only thing WhatsApp takes after the 24-hour window:
# wachatd lists the account's approved templates (GET
# /v25.0/<waba_id>/message_templates, every page) into a cache; wachatctl
# templates prints them; wachatctl send-template checks the parameters
# against the template before the call and queues it like a reply.
#
#   (a) the list, fetched at start over two pages, printed with bodies
#   (b) a customer who wrote two days ago: a free-form reply is refused,
#       a template with two body variables reaches the Graph stand-in with
#       both parameters, in order; the history shows it filled in
#   (c) the wrong number of parameters, an unknown language: refused
#       before any call, saying what the template takes
#   (d) Meta refuses it (132001): dead-lettered with the explanation
#   (e) the agent API lists them and sends one
#   (f) without waba_id: the account is learnt from the webhooks' entry[].id

use v5.36;
use utf8;
use lib 't/lib';

use Encode ();
use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(rand_token wh_text);

my $JSON = JSON::PP->new->utf8->canonical;
my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $WABA = '102290129340398';
my $T    = 20;

my $graph = Wachat::Standin->start(kind => 'graph');
$graph->add_template(name => 'order_update', language => 'en_US',
                     body => 'Hi {{1}}, your order {{2}} is ready for pickup.');
$graph->add_template(name => 'order_update', language => 'es',
                     body => 'Hola {{1}}, tu pedido {{2}} está listo.');
$graph->add_template(name => 'hello_world', language => 'en_US',
                     body => 'Hello! Thanks for writing to us.',
                     category => 'MARKETING');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $dir = tempdir('wachat-tpl-XXXXXX', TMPDIR => 1,
                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
spew("$dir/graph_token", 'EAAG' . rand_token(40) . "\n", 0600);

my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => "graph_api_url " . $graph->url . "/v25.0\n"
                            . "graph_token_file $dir/graph_token\n"
                            . "graph_timeout 2s\n"
                            . "waba_id $WABA\n"
                            . "api_listen 127.0.0.1:$api_port\n"
                            . "agent alice alice\@example.com\n");
my $ctl = wachatctl_binary() . ' -c ' . $d->conf_path;


# --- helpers ---------------------------------------------------------------

sub wachatctl (@args) {
    my $cmd = join ' ', $ctl, map { "'" . s/'/'\\''/gr . "'" } @args;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, Encode::decode('UTF-8', $out));
}

my $N = 0;
# a customer who last wrote two days ago, held by alice
sub old_customer () {
    my $wa = sprintf '1650558%04d', ++$N;
    $nginx->post_signed(wh_text(from => $wa, text => 'Is my order ready?',
                                ts => time - 2 * 86400));
    poll_until(sub {
        ($redis->cmd('HGET', "wachat:conv:{$PNID:$wa}", 'last_in_id') // '') ne '';
    }, timeout => $T);
    my ($rc, $out) = wachatctl('take', 'alice', $wa);
    is($rc, 0, "alice takes $wa") or diag $out;
    return $wa;
}

sub templates_to ($wa) {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $wa
           && ($_->{json}{type} // '') eq 'template' }
        $graph->requests(method => 'POST', path => qr{/messages$});
}

sub api ($method, $path, $body = undef) {
    my $res = http_request(port => $api_port, method => $method,
                           path => "/api/$path",
                           headers => ['X-Wachat-Agent' => 'alice',
                                       'X-Wachat-Proxy-Secret' => $d->api_secret,
                                       $body ? ('Content-Type' => 'application/json') : ()],
                           body => $body ? $JSON->encode($body) : undef,
                           timeout => $T);
    $res->{json} = eval { $JSON->decode($res->{body}) } // {};
    return $res;
}


# --- (a) the list ---------------------------------------------------------------

{
    ok(poll_until(sub { defined $redis->cmd('GET', 'wachat:templates') }, timeout => $T),
       '(a) wachatd fetched the templates at start') or diag $d->log_text;
    my @get = $graph->requests(method => 'GET', path => qr{/message_templates$});
    is(scalar @get, 2, '(a) over two pages (paging.next followed)');
    is($get[0]{path}, "/v25.0/$WABA/message_templates", '(a) of the configured WABA');
    like($get[0]{query}, qr/status=APPROVED/, '(a) approved ones');
    like($get[0]{headers}{authorization} // '', qr/^Bearer EAAG/, '(a) with the token');

    my ($rc, $out) = wachatctl('templates');
    is($rc, 0, '(a) wachatctl templates') or diag $out;
    like($out, qr/^3 approved template\(s\) of WABA $WABA/m, '(a) all three');
    like($out, qr/^order_update  en_US  UTILITY\n  Hi \{\{1\}\}, your order \{\{2\}\} is ready for pickup\.$/m,
         '(a) name, language, category and the body with its variables');
    like($out, qr/^order_update  es  UTILITY\n  Hola \{\{1\}\}, tu pedido \{\{2\}\} está listo\.$/m,
         '(a) each language');

    ($rc, $out) = wachatctl('templates', '--refresh');
    is($rc, 0, '(a) --refresh asks again') or diag $out;
    is(scalar(() = $graph->requests(method => 'GET', path => qr{/message_templates$})), 4,
       '(a) two more pages');
}


# --- (b) outside the window, a template with two variables -----------------------

{
    my $wa = old_customer();
    my ($rc, $out) = wachatctl('reply', 'alice', $wa, 'Yes it is!');
    isnt($rc, 0, '(b) free text two days later is refused');
    like($out, qr/outside_window/, '(b) outside the window');

    ($rc, $out) = wachatctl('send-template', 'alice', $wa, 'order_update', 'en_US',
                            'Ana', '#4821');
    is($rc, 0, '(b) send-template queues it') or diag $out;

    my @s;
    poll_until(sub { (@s = templates_to($wa)) >= 1 }, timeout => $T);
    is(scalar @s, 1, '(b) one template message reaches the Graph API') or diag $d->log_text;
    like($s[0]{json}{biz_opaque_callback_data} // '', qr/^wachat:\d+-\d+$/,
         '(b) tagged with its history id, for Meta to echo in its statuses');
    is_deeply($s[0]{json}, {
        messaging_product => 'whatsapp', recipient_type => 'individual',
        to => $wa, type => 'template',
        template => {
            name => 'order_update', language => { code => 'en_US' },
            components => [{ type => 'body', parameters => [
                { type => 'text', text => 'Ana' },
                { type => 'text', text => '#4821' } ] }],
        },
        biz_opaque_callback_data => $s[0]{json}{biz_opaque_callback_data},
    }, '(b) with both body parameters, in order, as Meta documents')
        or diag explain $s[0]{json};

    my ($e) = grep { ($_->{fields}{type} // '') eq 'template' }
              $redis->xrange("wachat:hist:{$PNID:$wa}");
    is($e->{fields}{text}, 'Hi Ana, your order #4821 is ready for pickup.',
       '(b) the history shows it filled in');
    is($e->{fields}{template}, 'order_update', '(b) and which template');
    ok(poll_until(sub {
        ($redis->cmd('HGET', "wachat:st:{$PNID:$wa}", "h:$e->{id}") // '') =~ /^wamid\./;
    }, timeout => $T), '(b) its wamid recorded');
}


# --- (c) refused before the call ---------------------------------------------------

{
    my $wa = old_customer();
    my $before = () = templates_to($wa);
    my ($rc, $out) = wachatctl('send-template', 'alice', $wa, 'order_update', 'en_US', 'Ana');
    isnt($rc, 0, '(c) one parameter for two variables: refused');
    like($out, qr/template "order_update" takes 2 body parameters \(\{\{1\}\}\.\.\{\{n\}\}\), 1 given/,
         '(c) saying what it takes') or diag $out;
    ($rc, $out) = wachatctl('send-template', 'alice', $wa, 'order_update', 'fr', 'A', 'B');
    isnt($rc, 0, '(c) a language it does not have: refused');
    like($out, qr/no approved template "order_update" in language fr/, '(c) says so');
    ($rc, $out) = wachatctl('send-template', 'alice', $wa, 'hello_world', 'en_US', 'extra');
    isnt($rc, 0, '(c) a parameter for a template without variables: refused');
    is($redis->cmd('LLEN', "wachat:outq:{$PNID:$wa}"), 0, '(c) nothing queued');
}


# --- (d) Meta refuses it -----------------------------------------------------------

{
    my $wa = old_customer();
    $graph->script(method => 'POST', match => '/messages$', body_match => '"template"',
                   responses => [ { status => 404, body => { error => {
                       message => '(#132001) Template name does not exist in the translation',
                       type => 'OAuthException', code => 132001 } } } ]);
    my ($rc, $out) = wachatctl('send-template', 'alice', $wa, 'hello_world', 'en_US');
    is($rc, 0, '(d) queued') or diag $out;
    my @dead;
    poll_until(sub {
        @dead = grep { ($_->{fields}{conv} // '') eq "$PNID:$wa" } $redis->xrange('wachat:dead');
    }, timeout => $T);
    is(scalar @dead, 1, '(d) dead-lettered');
    like($dead[0]{fields}{reason} // '', qr/132001.*the template does not exist in this language or is not approved/,
         '(d) with what 132001 means') or diag explain \@dead;
}


# --- (e) the agent API -------------------------------------------------------------

{
    my $res = api('GET', 'templates');
    is($res->{status}, 200, '(e) GET /api/templates');
    is(scalar @{ $res->{json}{templates} // [] }, 3, '(e) lists the three');
    my ($t) = grep { $_->{name} eq 'order_update' && $_->{language} eq 'es' }
              @{ $res->{json}{templates} // [] };
    is($t->{params}, 2, '(e) with their number of variables');

    my $wa = old_customer();
    $res = api('POST', "conversations/$PNID:$wa/template",
               { name => 'order_update', language => 'es', params => ['Ana'] });
    is($res->{status}, 400, '(e) the wrong count: 400');
    like($res->{json}{message} // '', qr/takes 2 body parameters/, '(e) saying why');

    $res = api('POST', "conversations/$PNID:$wa/template",
               { name => 'order_update', language => 'es', params => ['Ana', '#77'] });
    is($res->{status}, 202, '(e) a template from the console: 202') or diag $res->{body};
    my @s;
    poll_until(sub { (@s = templates_to($wa)) >= 1 }, timeout => $T);
    is_deeply([ map { $_->{text} } @{ $s[0]{json}{template}{components}[0]{parameters} // [] } ],
              ['Ana', '#77'], '(e) sent with both parameters');

    $res = api('POST', 'templates/refresh', {});
    is($res->{status}, 202, '(e) POST /api/templates/refresh');
    ok(poll_until(sub {
        my @g = $graph->requests(method => 'GET', path => qr{/message_templates$});
        @g >= 6;
    }, timeout => $T), '(e) wachatd asks the Graph API again');
}

# --- (f) no waba_id: learnt from the webhooks' entry[].id -----------------------

{
    $d->stop;
    $redis->cmd('DEL', 'wachat:templates', 'wachat:waba_id');
    my $n0 = () = $graph->requests(method => 'GET', path => qr{/message_templates$});
    my $d2 = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                           conf => "graph_api_url " . $graph->url . "/v25.0\n"
                                 . "graph_token_file $dir/graph_token\n"
                                 . "agent alice alice\@example.com\n");
    $nginx->post_signed(wh_text(from => '16505558888', text => 'Hello?'));
    ok(poll_until(sub { ($redis->cmd('GET', 'wachat:waba_id') // '') eq $WABA }, timeout => $T),
       '(f) the WABA id of the webhook\'s entry is remembered') or diag $d2->log_text;
    ok(poll_until(sub { defined $redis->cmd('GET', 'wachat:templates') }, timeout => $T),
       '(f) and its templates listed');
    my @g = $graph->requests(method => 'GET', path => qr{/message_templates$});
    is($g[$n0]{path}, "/v25.0/$WABA/message_templates", '(f) from that account');
    like($d2->log_text, qr/the webhooks name WhatsApp Business Account $WABA/,
         '(f) the log says so');
    $d2->stop;
}

done_testing();
