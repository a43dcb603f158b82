#!/usr/bin/perl
# Customers' media, downloaded into the local store: signed webhook ->
# nginx + module -> Redis -> wachatd -> GET /v25.0/<media id> and the URL it
# gives (both with the bearer token) on the Graph stand-in -> media_dir.
#
#   (a) a picture with a caption: kept (bytes, sha256, size checked; file
#       0600 in a 0700 directory), its history entry says so, the caption
#       is answered, and the agent API serves it with its type
#   (b) a download that fails twice (500, then a 404: the URL expired) and
#       then succeeds: three fetches of the bytes, the item ends viewable
#   (c) an id that expired (Graph error 100): recorded as failed with the
#       reason, the message kept and not met with silence
#   (d) bytes whose sha256 is not the announced one: failed, not kept
#   (e) the store stays under media_max_bytes: the oldest go first
#   (f) a document: served as a download with its file name; ids that are
#       no file name are refused

use v5.36;
use utf8;
use lib 't/lib';

use Digest::SHA qw(sha256_hex);
use Encode ();
use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid rand_token wh_message);

my $JSON = JSON::PP->new->utf8->canonical;
my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T    = 20;
my $CAP  = 256 * 1024;

my ($answer) = kb_answers($KB, decode => 1);

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $secrets = tempdir('wachat-media-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{WACHAT_KEEP_TMP});
my $TOKEN = 'EAAG' . rand_token(40);
spew("$secrets/graph_token", "$TOKEN\n", 0600);

my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => "graph_api_url " . $graph->url . "/v25.0\n"
                            . "graph_token_file $secrets/graph_token\n"
                            . "graph_timeout 2s\n"
                            . "media_max_bytes 256kb\n"
                            . "media_attempts 3\n"
                            . "api_listen 127.0.0.1:$api_port\n"
                            . "agent alice alice\@example.com\n");
my $MEDIA = $d->dir . '/media';


# --- helpers ---------------------------------------------------------------

my $N = 0;
sub customer () { sprintf '1650555%04d', ++$N }

# random bytes of a "picture"
sub picture ($n) { join '', map { chr int rand 256 } 1 .. $n }

sub send_media ($from, $type, %content) {
    my $wamid = new_wamid();
    my $res = $nginx->post_signed(wh_message(from => $from, id => $wamid,
                                             type => $type,
                                             content => \%content));
    is($res->{status}, 200, "$type from $from: webhook accepted")
        or diag $res->{body};
    return $wamid;
}

# the inbound history entry of a wamid, once committed
sub entry ($from, $wamid) {
    my $e;
    poll_until(sub {
        ($e) = map { $_->{fields} }
               grep { ($_->{fields}{id} // '') eq $wamid }
               $redis->xrange("wachat:hist:{$PNID:$from}");
        $e;
    }, timeout => $T);
    return $e // {};
}

sub replies_to ($from) {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $from }
        $graph->requests(method => 'POST', path => qr{/messages$});
}

sub api_media ($id) {
    return http_request(port => $api_port, method => 'GET',
                        path => "/api/media/$id",
                        headers => ['X-Wachat-Agent' => 'alice',
                                    'X-Wachat-Proxy-Secret' => $d->api_secret],
                        timeout => $T);
}

sub show ($from) {
    my $res = http_request(port => $api_port, method => 'GET',
                           path => "/api/conversations/$PNID:$from",
                           headers => ['X-Wachat-Agent' => 'alice',
                                       'X-Wachat-Proxy-Secret' => $d->api_secret],
                           timeout => $T);
    return eval { $JSON->decode($res->{body}) } // {};
}

sub mode_of ($path) { sprintf '%04o', (stat $path)[2] & 07777 }

sub store_bytes () {
    my $n = 0;
    opendir my $dh, $MEDIA or return 0;
    $n += -s "$MEDIA/$_" for grep { !/^\./ } readdir $dh;
    return $n;
}


# --- (a) a picture with a caption ------------------------------------------

{
    my $from = customer();
    my $bytes = picture(40_000);
    $graph->add_media(id => '7001', bytes => $bytes, mime => 'image/jpeg');
    my $wamid = send_media($from, 'image', id => '7001',
                           mime_type => 'image/jpeg',
                           caption => 'What are your opening hours?');

    my $e = entry($from, $wamid);
    is($e->{media_state}, 'stored', '(a) the picture is kept')
        or diag explain $e, $d->log_text;
    is($e->{media_id}, '7001', '(a) its media id is in the history');
    is($e->{media_mime}, 'image/jpeg', '(a) its type');
    is($e->{media_size}, 40_000, '(a) its size');
    is($e->{media_sha256}, sha256_hex($bytes), '(a) its sha256');
    is($e->{text}, 'What are your opening hours?', '(a) its caption');
    is($e->{type}, 'image', '(a) a picture');

    my $file = "$MEDIA/7001";
    ok(-f $file, '(a) the bytes are in media_dir');
    is(-s $file, 40_000, '(a) all of them');
    is(mode_of($file), '0600', '(a) the file is 0600');
    is(mode_of($MEDIA), '0700', '(a) media_dir is 0700');

    my @get = $graph->requests(method => 'GET');
    my ($meta) = grep { $_->{path} eq '/v25.0/7001' } @get;
    my ($bget) = grep { $_->{path} eq '/media-bytes/7001' } @get;
    is($meta->{headers}{authorization}, "Bearer $TOKEN",
       '(a) GET /{media-id} with the bearer token');
    is($bget->{headers}{authorization}, "Bearer $TOKEN",
       '(a) the download URL with the bearer token too');

    my @r;
    poll_until(sub { (@r = replies_to($from)) >= 1 }, timeout => $T);
    is(scalar @r, 1, '(a) the caption is answered');
    is($r[0]{json}{interactive}{body}{text} // $r[0]{json}{text}{body},
       $answer->{hours}, '(a) from the knowledge base') if @r;

    my $res = api_media('7001');
    is($res->{status}, 200, '(a) the agent API serves it');
    is($res->{body}, $bytes, '(a) byte for byte');
    like($res->{headers}{'content-type'} // '', qr{^image/jpeg$},
         '(a) as image/jpeg');
    is($res->{headers}{'x-content-type-options'}, 'nosniff', '(a) nosniff');

    my $conv = show($from);
    my ($in) = grep { ($_->{dir} // '') eq 'in' } @{ $conv->{history} // [] };
    is($in->{media}{state}, 'stored', '(a) the conversation shows it stored');
    is($in->{media}{url}, 'api/media/7001', '(a) with where to fetch it');
}


# --- (b) fails twice, then succeeds -----------------------------------------

{
    my $from = customer();
    my $bytes = picture(30_000);
    $graph->add_media(id => '7002', bytes => $bytes, mime => 'image/png');
    $graph->script(method => 'GET', match => '^/media-bytes/7002$',
                   responses => [ { status => 500, body => 'oops' },
                                  { status => 404, body => 'expired' } ]);
    my $wamid = send_media($from, 'image', id => '7002',
                           mime_type => 'image/png');

    my $e = entry($from, $wamid);
    is($e->{media_state}, 'stored', '(b) kept after two failures')
        or diag explain $e, $d->log_text;
    my @b = $graph->requests(method => 'GET', path => qr{^/media-bytes/7002$});
    is(scalar @b, 3, '(b) three downloads: two failed, one whole');
    my @m = $graph->requests(method => 'GET', path => qr{^/v25\.0/7002$});
    is(scalar @m, 3, '(b) a new URL asked for before each');
    my $res = api_media('7002');
    is($res->{status}, 200, '(b) viewable');
    is($res->{body}, $bytes, '(b) byte for byte');

    # no caption: the customer is not met with silence
    my @r;
    poll_until(sub { (@r = replies_to($from)) >= 1 }, timeout => $T);
    is(scalar @r, 1, '(b) a picture without a caption gets a reply');
}


# --- (c) an expired id ------------------------------------------------------

{
    my $from = customer();
    $graph->add_media(id => '7003', bytes => picture(100), expired => 1);
    my $wamid = send_media($from, 'image', id => '7003',
                           mime_type => 'image/jpeg');

    my $e = entry($from, $wamid);
    is($e->{media_state}, 'failed', '(c) an expired id: failed')
        or diag explain $e;
    like($e->{media_error} // '', qr/does not exist/,
         '(c) with Graph\'s reason');
    my @m = $graph->requests(method => 'GET', path => qr{^/v25\.0/7003$});
    is(scalar @m, 1, '(c) not retried: an expired id stays expired');
    ok(!-e "$MEDIA/7003", '(c) nothing kept');
    is(api_media('7003')->{status}, 404, '(c) nothing served');

    my $conv = show($from);
    my ($in) = grep { ($_->{dir} // '') eq 'in' } @{ $conv->{history} // [] };
    is($in->{media}{state}, 'failed', '(c) the console is told it failed');
    ok(!exists $in->{media}{url}, '(c) and offered nothing to open');
}


# --- (d) a sha256 that does not match ---------------------------------------

{
    my $from = customer();
    $graph->add_media(id => '7004', bytes => picture(1000),
                      sha256 => sha256_hex('something else'));
    my $wamid = send_media($from, 'image', id => '7004',
                           mime_type => 'image/jpeg', caption => 'hello?');
    my $e = entry($from, $wamid);
    is($e->{media_state}, 'failed', '(d) a sha256 mismatch: failed')
        or diag explain $e;
    like($e->{media_error} // '', qr/sha256 mismatch/, '(d) says why');
    ok(!-e "$MEDIA/7004", '(d) nothing kept');
}


# --- (e) the store stays under its cap --------------------------------------

{
    my $from = customer();
    my @ids = map { '' . (7100 + $_) } 1 .. 5;
    for my $id (@ids) {
        $graph->add_media(id => $id, bytes => picture(90_000));
        my $wamid = send_media($from, 'image', id => $id,
                               mime_type => 'image/jpeg');
        my $e = entry($from, $wamid);
        is($e->{media_state}, 'stored', "(e) $id kept") or diag explain $e;
        ok(store_bytes() <= $CAP, "(e) the store under 256kb after $id")
            or diag store_bytes();
    }
    ok(-e "$MEDIA/$ids[-1]", '(e) the newest is there');
    ok(!-e "$MEDIA/$ids[0]", '(e) the oldest went first');
    ok(!-e "$MEDIA/7001", '(e) and the older ones of other customers');
}


# --- (f) a document, and ids that are no file names --------------------------

{
    my $from = customer();
    my $bytes = "%PDF-1.4\n" . picture(500);
    $graph->add_media(id => '7200', bytes => $bytes,
                      mime => 'application/pdf');
    my $wamid = send_media($from, 'document', id => '7200',
                           mime_type => 'application/pdf',
                           filename => 'invoice "May" é.pdf',
                           caption => 'Can I return an item?');
    my $e = entry($from, $wamid);
    is($e->{media_state}, 'stored', '(f) the document is kept');
    is(Encode::decode('UTF-8', $e->{media_name} // ''), 'invoice "May" é.pdf',
       '(f) with its file name');

    my $res = api_media('7200');
    is($res->{status}, 200, '(f) served');
    like($res->{headers}{'content-type'} // '', qr{^application/pdf$},
         '(f) as application/pdf');
    like($res->{headers}{'content-disposition'} // '',
         qr/^attachment; filename="invoice _May_ __\.pdf"; filename\*=UTF-8''invoice%20%22May%22%20%C3%A9\.pdf$/,
         '(f) as a download with its file name');

    for my $bad ('..', '.meta', '7200.meta', '%2e%2e', 'a%2Fb', 'x' x 200) {
        is(api_media($bad)->{status}, 404, "(f) id \"$bad\" refused");
    }
}

# --- the counters ---------------------------------------------------------------

{
    my $res = http_request(port => $api_port, method => 'GET', path => '/metrics',
                           headers => ['Authorization' => 'Bearer ' . $d->api_secret],
                           timeout => $T);
    my ($kept) = $res->{body} =~ /^wachatd_media_total\{outcome="kept"\} (\d+)$/m;
    my ($failed) = $res->{body} =~ /^wachatd_media_total\{outcome="failed"\} (\d+)$/m;
    my ($retried) = $res->{body} =~ /^wachatd_media_total\{outcome="retried"\} (\d+)$/m;
    is($kept, 8, '/metrics: 8 items kept');
    is($failed, 2, '/metrics: 2 failed for good (expired id, sha256)');
    ok(($retried // 0) >= 4, '/metrics: the retries counted')
        or diag $res->{body};
}

done_testing();
