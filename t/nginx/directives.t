#!/usr/bin/perl

# Directives: nginx -t refuses what cannot work, with a message that names
# the problem; and every directive that is accepted is honoured.

use v5.36;
use lib 't/lib';
use Test::More;
use Time::HiRes ();
use POSIX ();
use File::Temp qw(tempdir);
use Wachat::Files qw(fixture spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(nginx_t start_nginx wachat_location);
use Wachat::Webhook qw(rand_token);
use Wachat::Events qw(expected_events);

my $dir = tempdir('wachat-config-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- nginx -t: accepted ------------------------------------------------------

{
    my ($rc, $out) = nginx_t(locations => wachat_location(token => 't', secret => 's', extra => join "\n",
        'wachat_stream acme:events;', 'wachat_redis_timeout 500ms;', 'wachat_dedup_ttl 7d;',
        'wachat_stream_maxlen 100000;'));
    is($rc, 0, 'a complete configuration passes nginx -t') or diag $out;
    like($out, qr/test is successful/, '... "test is successful"');
}
{
    my ($rc, $out) = nginx_t(redis_directive => 'wachat_redis unix:/run/redis/redis.sock db=2;');
    is($rc, 0, 'wachat_redis unix:<path> db=N passes') or diag $out;
}
{
    my $pw = "$dir/redis-password";
    spew($pw, "secret-pw", 0600);
    my ($rc, $out) = nginx_t(redis_directive => "wachat_redis 127.0.0.1:6399 db=15 password_file=$pw;");
    is($rc, 0, 'wachat_redis host:port db=N password_file=<path> passes') or diag $out;
}

# --- nginx -t: refused, with a clear message ---------------------------------

sub refused ($name, $want, %conf) {
    my ($rc, $out) = nginx_t(%conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/\[emerg\]/, "$name: an [emerg] message");
    like($out, $want, "$name: the message names the problem") or diag $out;
}

refused('wachat without wachat_verify_token', qr/wachat_verify_token/,
        locations => wachat_location(secret => 'sec'));
refused('wachat without wachat_app_secret', qr/wachat_app_secret/,
        locations => wachat_location(token => 'tok'));
refused('wachat_app_secret_file that does not exist', qr{\Q$dir\E/no-such-secret},
        locations => wachat_location(token => 'tok', secret_file => "$dir/no-such-secret"));
refused('wachat_app_secret_file that is a directory', qr{\Q$dir\E},
        locations => wachat_location(token => 'tok', secret_file => $dir));
# a FIFO (a named pipe given by mistake) is refused at once: opening it for
# reading used to wait for a writer, and nginx -t hung
{
    my $fifo = "$dir/secret-fifo";
    POSIX::mkfifo($fifo, 0600) or die "mkfifo: $!";
    my $t0 = Time::HiRes::time();
    refused('wachat_app_secret_file that is a FIFO', qr/secret file "\Q$fifo\E" is not a small regular file/,
            locations => wachat_location(token => 'tok', secret_file => $fifo));
    refused('wachat_redis password_file= that is a FIFO', qr/secret file "\Q$fifo\E" is not a small regular file/,
            redis_directive => "wachat_redis 127.0.0.1:6399 password_file=$fifo;");
    cmp_ok(Time::HiRes::time() - $t0, '<', 20, 'a FIFO secret does not hang nginx -t');
}

# a secret other users may read (or write: then they could sign webhooks)
for my $case ([0644, 'readable by every user'], [0602, 'writable by every user']) {
    my ($mode, $what) = @$case;
    my $f = spew(sprintf("$dir/secret-%04o", $mode), "s3cret\n", $mode);
    refused("wachat_app_secret_file $what", qr/secret file "\Q$f\E" may be read or written by other users \(mode 0\Q${\ sprintf '%o', $mode}\E\); run chmod o-rw on it/,
            locations => wachat_location(token => 'tok', secret_file => $f));
}
refused('wachat_api_secret_file readable by every user', qr/may be read or written by other users/,
        http_extra => '    wachat_api_secret_file '
                      . spew("$dir/api-secret-world", ('a' x 32) . "\n", 0644) . ";\n");
refused('wachat_api_secret_file that does not exist', qr{\Q$dir\E/no-such-api-secret},
        http_extra => "    wachat_api_secret_file $dir/no-such-api-secret;\n");
refused('wachat_redis password_file readable by every user', qr/may be read or written by other users/,
        redis_directive => 'wachat_redis 127.0.0.1:6379 password_file='
                           . spew("$dir/redis-pw-world", "pw\n", 0644) . ';');
{
    my $f = spew("$dir/secret-0640", "s3cret\n", 0640);
    my ($rc, $out) = nginx_t(locations => wachat_location(token => 'tok', secret_file => $f));
    is($rc, 0, 'a secret file its group may read (mode 0640) is accepted') or diag $out;
}

for my $addr ('localhost:notaport', '127.0.0.1:99999', '127.0.0.1:', ':6379', 'unix:',
              '127.0.0.1:6379 db=abc', '127.0.0.1:6379 db=-1', '127.0.0.1:6379 colour=blue') {
    refused("wachat_redis $addr", qr/wachat_redis|\Q$addr\E|notaport|99999|db=|colour/,
            redis_directive => "wachat_redis $addr;");
}
refused('wachat_redis password_file that does not exist', qr{\Q$dir\E/no-such-pw},
        redis_directive => "wachat_redis 127.0.0.1:6379 password_file=$dir/no-such-pw;");
refused('wachat_redis inside a location', qr/wachat_redis.*not allowed|not allowed.*wachat_redis/,
        locations => wachat_location(token => 't', secret => 's',
                                     extra => 'wachat_redis 127.0.0.1:6379;'));

for my $v ('abc', '-5', '1.5') {
    refused("wachat_stream_maxlen $v", qr/wachat_stream_maxlen|invalid|\Q$v\E/,
            locations => wachat_location(token => 't', secret => 's',
                                         extra => "wachat_stream_maxlen $v;"));
}
refused('wachat_redis_timeout soon', qr/wachat_redis_timeout|invalid|soon/,
        locations => wachat_location(token => 't', secret => 's',
                                     extra => 'wachat_redis_timeout soon;'));
refused('wachat_redis_timeout 0', qr/wachat_redis_timeout.*must be more than 0/,
        locations => wachat_location(token => 't', secret => 's',
                                     extra => 'wachat_redis_timeout 0;'));
refused('wachat_dedup_ttl forever', qr/wachat_dedup_ttl|invalid|forever/,
        locations => wachat_location(token => 't', secret => 's',
                                     extra => 'wachat_dedup_ttl forever;'));
refused('wachat at http level', qr/"wachat" directive is not allowed here/,
        http_extra => "    wachat;\n");

# --- honoured at run time ----------------------------------------------------

my $redis = start_redis();

my $file_secret = 'file-secret-' . rand_token(16);
my $secret_file = spew("$dir/app-secret", $file_secret, 0600);

my $locs = join '',
    wachat_location(path => '/file', token => 'tok', secret_file => $secret_file),
    wachat_location(path => '/acme', token => 'tok', secret => 'acme-secret',
                    extra => "wachat_stream acme:inbound;\nwachat_dedup_ttl 1h;"),
    wachat_location(path => '/tagged', token => 'tok', secret => 'acme-secret',
                    extra => qq{wachat_stream "{shop}:events";\nwachat_dedup_ttl 90s;}),
    wachat_location(path => '/trim', token => 'tok', secret => 'acme-secret',
                    extra => "wachat_stream trimmed;\nwachat_stream_maxlen 10;"),
    wachat_location(path => '/notrim', token => 'tok2', secret => 'other-secret',
                    extra => "wachat_stream untrimmed;\nwachat_stream_maxlen 0;");

# $wachat_api_secret: what proxy_set_header sends wachatd, where it applies
my $api_secret = 'api-' . rand_token(32);
my $api_secret_file = spew("$dir/api-secret", "$api_secret\n", 0600);
$locs .= <<"EOF";
        location = /api-secret {
            wachat_api_secret_file $api_secret_file;
            return 200 "[\$wachat_api_secret]";
        }
        location = /no-api-secret {
            return 200 "[\$wachat_api_secret]";
        }
EOF
my $nginx = start_nginx(redis => $redis, locations => $locs);

# wachat_api_secret_file
{
    my $res = $nginx->http(method => 'GET', path => '/api-secret');
    is($res->{body}, "[$api_secret]", '$wachat_api_secret: the file\'s secret, without its newline');
    $res = $nginx->http(method => 'GET', path => '/no-api-secret');
    is($res->{body}, '[]', '$wachat_api_secret: empty where no wachat_api_secret_file applies');
}

# wachat_app_secret_file
{
    my $body = fixture('message_text');
    my $res = $nginx->post_signed($body, path => '/file', secret => $file_secret);
    is($res->{status}, 200, 'wachat_app_secret_file: body signed with the file\'s secret: 200');
    my $bad = $nginx->post_signed($body, path => '/file', secret => 'acme-secret');
    is($bad->{status}, 403, 'wachat_app_secret_file: another secret: 403');
    is($redis->xlen('wachat:events'), 1, 'default stream wachat:events used');
}

# wachat_stream + wachat_dedup_ttl
{
    my $body = fixture('message_image_caption');
    my ($e) = expected_events($body);
    my $res = $nginx->post_signed($body, path => '/acme', secret => 'acme-secret');
    is($res->{status}, 200, 'wachat_stream acme:inbound: 200');
    my @e = $redis->xrange('acme:inbound');
    is(scalar @e, 1, 'the entry is in acme:inbound');
    is($e[0]{fields}{id}, $e->{id}, '... the right one');
    is($redis->xlen('wachat:events'), 1, 'nothing more in the default stream');
    my $key = "{acme:inbound}:seen:$e->{id}";
    is($redis->cmd('EXISTS', $key), 1, "dedup key $key");
    my $ttl = $redis->cmd('TTL', $key);
    ok($ttl > 3500 && $ttl <= 3600, "wachat_dedup_ttl 1h: TTL $ttl in (3500, 3600]");
    is($redis->cmd('EXISTS', "{wachat:events}:seen:$e->{id}"), 0, 'no key under the default stream');
}
{
    my $body = fixture('message_video_caption');
    my ($e) = expected_events($body);
    my $res = $nginx->post_signed($body, path => '/tagged', secret => 'acme-secret');
    is($res->{status}, 200, 'wachat_stream {shop}:events: 200');
    is($redis->xlen('{shop}:events'), 1, 'the entry is in {shop}:events');
    my $key = "{shop}:events:seen:$e->{id}";
    is($redis->cmd('EXISTS', $key), 1, "hash-tagged stream: dedup key $key (no extra braces)");
    my $ttl = $redis->cmd('TTL', $key);
    ok($ttl > 80 && $ttl <= 90, "wachat_dedup_ttl 90s: TTL $ttl in (80, 90]");
}

# wachat_stream_maxlen (approximate trimming: MAXLEN ~ n)
sub statuses_body ($n, $tag) {
    my @s = map {
        sprintf '{"id":"wamid.%s%05d","status":"delivered","timestamp":"1750263773","recipient_id":"16505551234"}',
            $tag, $_
    } 1 .. $n;
    return '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
         . '[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
         . '"15550783881","phone_number_id":"106540352242922"},"statuses":['
         . join(',', @s) . ']},"field":"messages"}]}]}';
}
{
    for my $i (1 .. 3) {
        my $r = $nginx->post_signed(statuses_body(100, "TRIM$i"), path => '/trim', secret => 'acme-secret');
        is($r->{body}, '{"result":"accepted","events":100,"queued":100}', "maxlen 10: batch $i of 100 accepted");
        my $r2 = $nginx->post_signed(statuses_body(100, "KEEP$i"), path => '/notrim', secret => 'other-secret');
        is($r2->{body}, '{"result":"accepted","events":100,"queued":100}', "maxlen 0: batch $i of 100 accepted");
    }
    my $len = $redis->xlen('trimmed');
    ok($len >= 10 && $len <= 110, "wachat_stream_maxlen 10: 300 added, $len kept (10 .. 10 + one node)");
    my @e = $redis->xrange('trimmed');
    is($e[-1]{fields}{id}, 'wamid.TRIM300100', 'the newest entry is kept');
    is($redis->xlen('untrimmed'), 300, 'wachat_stream_maxlen 0: all 300 kept');
}

# per-location tokens
{
    my $g1 = $nginx->get_verify(path => '/notrim', token => 'tok2', challenge => 'c2');
    is($g1->{body}, 'c2', 'each location has its own verify token');
    my $g2 = $nginx->get_verify(path => '/notrim', token => 'tok', challenge => 'c2');
    is($g2->{status}, 403, '... and refuses the other location\'s');
}

unlike($nginx->error_log, qr/\Q$file_secret\E|acme-secret|other-secret/, 'no secret in error.log');

# --- wachat_redis: db=N, password_file, unix socket --------------------------

{
    my $r = start_redis(password => 'pw-' . rand_token(12), unixsocket => 1);
    my $pwf = spew("$dir/pw", $r->{password}, 0600);
    my $bad = spew("$dir/bad-pw", 'wrong-password', 0600);

    my $ok = start_nginx(redis_directive => "wachat_redis 127.0.0.1:${\ $r->port} db=3 password_file=$pwf;",
                         wait_redis => 1);
    my $body = fixture('status_delivered');
    my $res = $ok->post_signed($body);
    is($res->{status}, 200, 'password_file + db=3: 200');
    is(scalar($r->xrange('wachat:events', db => 3)), 1, 'the entry is in db 3');
    is(scalar($r->xrange('wachat:events', db => 0)), 0, 'nothing in db 0');
    $ok->stop;

    my $wrong = start_nginx(redis_directive => "wachat_redis 127.0.0.1:${\ $r->port} password_file=$bad;");
    my $res2 = $wrong->post_signed(fixture('status_read'));
    is($res2->{status}, 503, 'wrong Redis password: 503');
    is($res2->{headers}{'retry-after'}, '1', '... Retry-After: 1');
    like($res2->{body}, qr/^\{"error":"redis_(error|unavailable)"\}$/, '... a redis error body');
    unlike($wrong->error_log, qr/wrong-password/, 'the Redis password is not logged');
    # a refused AUTH backs off (100 ms doubling) instead of reconnecting in
    # a loop: over 2 s one worker tries a handful of times, not 20
    my $t0 = () = $wrong->error_log =~ /AUTH failed/g;
    Time::HiRes::sleep(2);
    my $t1 = () = $wrong->error_log =~ /AUTH failed/g;
    cmp_ok($t1 - $t0, '<=', 6, 'a wrong password does not cause a reconnect storm');
    unlike($wrong->error_log, qr/connected to redis/,
           'and is never reported as connected');
    $wrong->stop;

    # a db= Redis refuses fails the same way: SCRIPT LOAD, pipelined behind
    # the failed SELECT, succeeds, but the link is being dropped
    my $nodb = start_nginx(redis_directive => "wachat_redis 127.0.0.1:${\ $r->port} db=99 password_file=$pwf;");
    my $res4 = $nodb->post_signed(fixture('status_read'));
    is($res4->{status}, 503, 'db= out of Redis\'s range: 503');
    my $s0 = () = $nodb->error_log =~ /SELECT failed/g;
    Time::HiRes::sleep(2);
    my $s1 = () = $nodb->error_log =~ /SELECT failed/g;
    cmp_ok($s1 - $s0, '<=', 6, 'a refused SELECT does not cause a reconnect storm');
    unlike($nodb->error_log, qr/connected to redis/, 'and is never reported as connected');
    $nodb->stop;

    my $unix = start_nginx(redis_directive => "wachat_redis unix:${\ $r->socket_path } password_file=$pwf;",
                           wait_redis => 1);
    my $res3 = $unix->post_signed(fixture('status_sent'));
    is($res3->{status}, 200, 'wachat_redis unix:<path>: 200');
    is($r->new_client->command('XLEN', 'wachat:events'), 1, 'the entry arrived over the unix socket');
    $unix->stop;
}


# --- wachat_redis user=: a Redis 6 ACL user, the default user off ------------
{
    my $pw = 'u-' . rand_token(12);
    my $acl = start_redis(args => ['--user', 'default', 'off',
                                   '--user', 'wachat', 'on', ">$pw", '~*', '&*', '+@all']);
    my $pwf = spew("$dir/acl-pw", $pw, 0600);
    my $ok = start_nginx(redis_directive => "wachat_redis 127.0.0.1:${\ $acl->port} user=wachat password_file=$pwf;",
                         wait_redis => 1);
    my $res = $ok->post_signed(fixture('status_delivered'));
    is($res->{status}, 200, 'user=wachat password_file=: 200 (AUTH wachat <password>)')
        or diag $ok->error_log;
    my $c = $acl->new_client(no_auth => 1);
    $c->command('AUTH', 'wachat', $pw);
    is($c->command('XLEN', 'wachat:events'), 1, '... and the event is in the stream');
    $c->close;
    unlike($ok->error_log, qr/\Q$pw\E/, 'the password is not logged');
    $ok->stop;

    my $anon = start_nginx(redis_directive => "wachat_redis 127.0.0.1:${\ $acl->port} password_file=$pwf;");
    my $res2 = $anon->post_signed(fixture('status_read'));
    is($res2->{status}, 503, 'the same password without user=, the default user off: 503');
    $anon->stop;
}

done_testing;
