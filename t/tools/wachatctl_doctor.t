#!/usr/bin/perl
# wachatctl doctor: each check passes when things are right and says what
# to fix when they are not.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir slurp spew);
use Wachat::Process qw(tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(wh_text);

my $KB = root_dir() . '/t/fixtures/kb/shop.md';

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

sub doctor ($conf, @args) {
    my $out = `@{[wachatctl_binary()]} -c $conf doctor @args 2>&1`;
    return ($? >> 8, $out);
}

# nothing has run yet: no stream, no group
my $d = start_wachatd(redis => $redis, kb => $KB, no_start => 1);
my ($rc, $out) = doctor($d->conf_path);
is($rc, 1, 'doctor fails before anything ran');
like($out, qr/^FAIL.*stream wachat:events does not exist/m, 'says the stream is missing');
like($out, qr/^ok\s+knowledge base .*: \d+ entries/m, 'the KB is checked');
like($out, qr/^warn.*outbound sandbox/m, 'sandbox mode is a warning');

# with wachatd running and one webhook through nginx
$d->start;
is($nginx->post_signed(wh_text(text => 'opening hours'))->{status}, 200, 'a webhook');
outbox_wait($redis, 1);

my $secret_file = $d->dir . '/app_secret';
spew($secret_file, $nginx->secret . "\n", 0600);
my $url = 'http://127.0.0.1:' . $nginx->port . '/whatsapp';

($rc, $out) = doctor($d->conf_path, '--callback', $url, '--app-secret-file', $secret_file);
is($rc, 0, 'doctor passes') or diag $out;
like($out, qr/^ok\s+redis answers/m, 'redis');
like($out, qr/^ok\s+group wachatd: 1 consumers, 0 pending/m, 'group and backlog');
like($out, qr/^ok\s+self-test: a signed POST to \Q$url\E came out of the stream/m,
     'the self-test POST went through nginx into the stream');
like($out, qr/0 problem\(s\)/, 'no problem');

# a wrong secret: the self-test says what 403 means
spew($secret_file, "not-the-secret\n", 0600);
($rc, $out) = doctor($d->conf_path, '--callback', $url, '--app-secret-file', $secret_file);
is($rc, 1, 'a wrong app secret fails');
like($out, qr/^FAIL\s+self-test: POST .* answered 403 .*wachat_app_secret/m,
     'and points at wachat_app_secret');
$d->stop;

# graph mode: the token check against the Graph stand-in
my $graph = Wachat::Standin->start(kind => 'graph');
my $token = $d->dir . '/token';
spew($token, "EAAG-test-token\n", 0600);
my $gconf = $d->dir . '/graph.conf';
my $base = $d->conf_text =~ s/^outbound sandbox\n//mr;
spew($gconf, $base . "outbound graph\ngraph_api_url " . $graph->url
             . "/v25.0\ngraph_token_file $token\n");

($rc, $out) = doctor($gconf, '--phone-number-id', '106540352242922');
like($out, qr/^ok\s+graph: the token is accepted for phone number id 106540352242922/m,
     'graph: the token is accepted') or diag $out;
my @req = $graph->wait_for_requests(1, 10);
is($req[0]{method}, 'GET', 'doctor GETs');
like($req[0]{path}, qr{^/v25\.0/106540352242922$}, '/{phone-number-id}');
is($req[0]{headers}{authorization}, 'Bearer EAAG-test-token', 'with the token');

$graph->script(match => '106540352242922', responses => [{ status => 401,
    body => { error => { message => 'Error validating access token: Session has expired',
                         type => 'OAuthException', code => 190 } } }]);
($rc, $out) = doctor($gconf, '--phone-number-id', '106540352242922');
is($rc, 1, 'an expired token fails');
like($out, qr/^FAIL\s+graph: GET \/106540352242922: HTTP 401, code 190/m,
     'with the code') or diag $out;
like($out, qr/System User/i, 'and says to use a permanent System User token');

$graph->stop;

# backend openai: the LLM endpoint is checked
my $llm = Wachat::Standin->start(kind => 'llm');
my $lconf = $d->dir . '/llm.conf';
spew($lconf, $d->conf_text . "backend openai\nllm_url " . $llm->url
             . "/v1\nllm_model test-model\n");
($rc, $out) = doctor($lconf);
like($out, qr{^ok\s+llm: \Q@{[$llm->url]}\E/v1 answers \(GET /models: HTTP 200\)}m,
     'llm: the endpoint answers') or diag $out;
$llm->stop;
($rc, $out) = doctor($lconf);
like($out, qr{^FAIL\s+llm: .* unreachable: .*fall back to the knowledge base}m,
     'llm down: says so, and that replies fall back to the KB') or diag $out;

# kb_editors: wachatd writes an agent's addition beside the knowledge base
# (a temporary file renamed over it), so doctor, run as wachatd's user,
# checks that the directory is writable.  Not writable is shown as another
# user when this runs as root (root may write anywhere), else by taking
# the write bit off the directory.
my $kbdir = tmpdir('doctor-kb');
chmod 0755, $kbdir;
my $ekb = "$kbdir/kb.md";
spew($ekb, slurp($KB), 0644);
sub kb_conf ($name, $extra) {
    my $path = "$kbdir/$name.conf";
    spew($path, 'redis 127.0.0.1:' . $redis->port . "\nkb $ekb\noutbound sandbox\n$extra", 0644);
    return $path;
}
my $edit = kb_conf('edit', "api_listen unix:$kbdir/api.sock\n");
my $noedit = kb_conf('noedit', "api_listen unix:$kbdir/api.sock\nkb_editors -\n");
my $noapi = kb_conf('noapi', '');
my $me = getpwuid($>);

($rc, $out) = doctor($edit);
like($out, qr/^ok\s+kb_editors: \Q$kbdir\E is writable by \Q$me\E, agents can add to the knowledge base from the console$/m,
     'kb_editors (* by default): the knowledge base\'s directory is writable') or diag $out;

my ($who, @as);
if ($> == 0) {
    ($who, @as) = ('nobody', 'setpriv', '--reuid=nobody', '--regid=' . (getgrnam('nogroup') ? 'nogroup' : 'nobody'),
                   '--clear-groups', '--');
} else {
    ($who, @as) = ($me);
    chmod 0555, $kbdir;
}
SKIP: {
    skip "nobody cannot run @{[wachatctl_binary()]}", 4
        if @as && system(@as, 'test', '-x', wachatctl_binary()) != 0;
    my $as_doctor = sub ($conf) {
        my $o = `@as @{[wachatctl_binary()]} -c $conf doctor 2>&1`;
        return $o;
    };
    $out = $as_doctor->($edit);
    like($out, qr/^warn\s+kb_editors lets agents edit the knowledge base, but \Q$kbdir\E is not writable by \Q$who\E: edits from the console will fail \(Permission denied\)/m,
         "a directory $who may not write: a warning that says edits will fail") or diag $out;
    like($out, qr/kb \/var\/lib\/wachat\/kb\.md/, '... and where the packaged unit lets wachatd write');
    $out = $as_doctor->($noedit);
    ok($out =~ /^ok\s+knowledge base /m && $out !~ /kb_editors/,
       'kb_editors -: nobody edits from the console, nothing to check') or diag $out;
    $out = $as_doctor->($noapi);
    ok($out =~ /^ok\s+knowledge base /m && $out !~ /kb_editors/,
       'no api_listen: no console, nothing to check') or diag $out;
}
chmod 0755, $kbdir;

done_testing();
