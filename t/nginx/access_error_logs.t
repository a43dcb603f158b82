#!/usr/bin/perl

# Logging (docs/http.md): $wachat_result / $wachat_events in the access log for
# every outcome; every rejection logged once in error_log, prefixed "wachat:",
# at info (internet noise), warn (misconfiguration) or error (Redis); never the
# app secret, the verify token or message bodies.

use v5.36;
use lib 't/lib';
use Test::More;
use List::Util qw(uniq);
use Time::HiRes qw(time);
use Wachat::Process qw(poll_until);
use Wachat::Files qw(fixture);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx wachat_location);
use Wachat::Webhook qw(rand_token);

my $TOKEN  = 'vtok-' . rand_token(20);
my $SECRET = 'asec-' . rand_token(32);
my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis, token => $TOKEN, secret => $SECRET, locations =>
      wachat_location(token => $TOKEN, secret => $SECRET)
    . wachat_location(path => '/slow', token => $TOKEN, secret => $SECRET,
                      extra => 'wachat_redis_timeout 300ms;')
    . wachat_location(path => '/small', token => $TOKEN, secret => $SECRET,
                      extra => 'client_max_body_size 1k;'));

my @TEXTS;      # message texts that must never show up in error.log
my $seq = 0;
sub body_with_text ($text) {
    push @TEXTS, $text;
    $seq++;
    my $b = fixture('message_text');
    $b =~ s/"id":"wamid\.[^"]+"/"id":"wamid.LOGS$seq"/ or die;
    $b =~ s/Does it come in another color\?/$text/ or die;
    return $b;
}

# Runs one request; returns (response, access log line, new error.log text).
sub run ($code) {
    my $at = length $nginx->error_log;
    my ($res, $line) = $nginx->with_access_line($code);
    return ($res, $line, substr($nginx->error_log, $at));
}

sub wachat_lines ($log) { grep { /wachat:/ } split /\n/, $log }

# The lines a request logs carry its connection number ("*12 wachat: ...");
# connection-level lines of the Redis link do not.
sub request_lines (@w) { grep { /\*\d+ wachat:/ } @w }

# case: name, request, status, access line (regex), log level(s) or undef
# (no wachat: warning or error at all)
sub case ($name, $code, $status, $line_re, $levels) {
    my ($res, $line, $log) = run($code);
    is($res->{status}, $status, "$name: $status");
    like($line // '', $line_re, "$name: access log '" . ($line // '') . "'");
    my @w = wachat_lines($log);
    if (!defined $levels) {
        ok(!grep({ /\[(warn|error|crit|alert|emerg)\]/ } @w), "$name: no wachat: warning or error")
            or diag join "\n", @w;
        return;
    }
    my @r = request_lines(@w);
    is(scalar @r, 1, "$name: logged once for the request, prefixed wachat:") or diag $log;
    my $lv = join '|', @$levels;
    like($r[0] // '', qr/\[(?:$lv)\]/, "$name: at " . join(' or ', @$levels));
    return @w;
}

my $get = sub (%q) { sub { $nginx->get_verify(%q) } };
my $post = sub ($body, %o) { sub { $nginx->post_signed($body, %o) } };

case('verified', $get->(challenge => 'abc123'), 200, qr/^200 verified -$/, undef);
case('bad_request', $get->(mode => undef), 400, qr/^400 bad_request -$/, ['info', 'warn']);
case('bad_challenge', $get->(challenge => 'x' x 129), 400, qr/^400 bad_challenge -$/, ['info']);
case('bad_challenge (characters)', $get->(challenge => '<svg>'), 400, qr/^400 bad_challenge -$/, ['info']);
case('bad_verify_token', $get->(token => 'guess'), 403, qr/^403 bad_verify_token -$/, ['warn']);
case('method_not_allowed', sub { $nginx->http(method => 'DELETE', path => '/whatsapp') }, 405,
     qr/^405 method_not_allowed -$/, ['info']);
case('no_signature', $post->(body_with_text('no signature text 1'), signature => undef), 401,
     qr/^401 no_signature -$/, ['info']);
case('bad_signature', $post->(body_with_text('bad signature text 2'), secret => 'nope'), 403,
     qr/^403 bad_signature -$/, ['warn']);
case('bad_content_type', $post->(body_with_text('content type text 3'), content_type => 'text/plain'),
     415, qr/^415 bad_content_type -$/, ['info', 'warn']);
push @TEXTS, 'SENSITIVE-BODY-MARKER';
case('bad_json', $post->('{"text":"SENSITIVE-BODY-MARKER"'), 400, qr/^400 bad_json -$/, ['warn']);
case('413', $post->(body_with_text('x' x 2000), path => '/small'), 413, qr/^413 - -$/, undef);
case('accepted', $post->(body_with_text('accepted text 4')), 200, qr/^200 accepted 1$/, undef);
case('accepted (Meta example)', $post->(fixture('message_text')), 200,
     qr/^200 accepted 1$/, undef);
case('accepted again (dedup)', $post->(fixture('message_text')), 200, qr/^200 accepted 0$/, undef);
case('accepted, other', $post->(fixture('account_update')), 200, qr/^200 accepted 1$/, undef);

{
    my $many = '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"statuses":['
        . join(',', map { qq({"id":"wamid.M$_","status":"sent","timestamp":"1","recipient_id":"1"}) } 1 .. 4097)
        . ']}}]}]}';
    case('too_many_events', $post->($many), 400, qr/^400 too_many_events [-0-9]+$/, ['info', 'warn', 'error']);
}

# Redis errors
$redis->cmd('SET', 'wachat:events', 'wrong type');
case('redis_error', $post->(body_with_text('redis error text 5')), 503, qr/^503 redis_error [-0]$/, ['error']);
$redis->cmd('DEL', 'wachat:events');

{
    is($redis->cmd('CLIENT', 'PAUSE', 2000, 'ALL'), 'OK', 'Redis paused');
    my ($res, $line, $log) = run($post->(body_with_text('redis timeout text 6'), path => '/slow'));
    is($res->{status}, 503, 'redis_timeout: 503');
    like($line // '', qr/^503 redis_timeout [-0]$/, 'redis_timeout: access log');
    my @w = request_lines(wachat_lines($log));
    is(scalar @w, 1, 'redis_timeout: logged once for the request') or diag $log;
    like($w[0] // '', qr/\[error\]/, 'redis_timeout: at error');
    my $c = $redis->new_client(timeout => 10);
    is($c->command('PING'), 'PONG', 'pause over');
    $c->close;
}
{
    $redis->stop;
    my ($res, $line, $log) = run($post->(body_with_text('redis down text 7')));
    is($res->{status}, 503, 'Redis down: 503');
    like($line // '', qr/^503 redis_(unavailable|error) [-0]$/, 'Redis down: access log');
    ($res, $line, $log) = run($post->(body_with_text('redis down text 8')));
    like($line // '', qr/^503 redis_unavailable [-0]$/, 'Redis still down: 503 redis_unavailable');
    my @w = request_lines(wachat_lines($log));
    is(scalar @w, 1, 'redis_unavailable: logged once for the request') or diag $log;
    like($w[0] // '', qr/\[error\]/, 'redis_unavailable: at error');
    $redis->restart;
    ok(poll_until(sub { $nginx->post_signed(body_with_text('back text 9'))->{status} == 200 },
                  timeout => 20, interval => 0.1), 'Redis back: 200');
}

# --- what must never be in error.log ----------------------------------------

my $log = $nginx->error_log;
unlike($log, qr/\Q$SECRET\E/, 'the app secret is not in error.log');
unlike($log, qr/\Q$TOKEN\E/, 'the verify token is not in error.log')
    or diag join "\n", grep { /\Q$TOKEN\E/ } split /\n/, $log;
# (each text once: the "Redis back" poll above posts one text as often as it
# takes, which made the number of tests depend on timing)
for my $t (uniq(@TEXTS, 'Does it come in another color', 'ACCOUNT_VIOLATION')) {
    my $short = length $t > 40 ? substr($t, 0, 40) . '...' : $t;
    unlike($log, qr/\Q$t\E/, "message body text '$short' not in error.log");
}

# the access log format is exactly "$status $wachat_result $wachat_events"
my @lines = $nginx->access_lines;
my %results = map { $_->[1] => 1 } @lines;
for my $r (qw(verified bad_request bad_challenge bad_verify_token no_signature bad_signature
              bad_content_type bad_json too_many_events accepted redis_unavailable redis_timeout
              redis_error method_not_allowed -)) {
    ok($results{$r}, "access log has \$wachat_result '$r'");
}
ok(!grep({ @$_ != 3 || $_->[0] !~ /^\d{3}$/ || $_->[2] !~ /^(-|\d+)$/ } @lines),
   'every access log line is "<status> <result> <events>"');

done_testing;
