#!/usr/bin/perl
# Agents send files: wachatctl send-file <agent> <wa_id> <path> [caption]
# -> checked against WhatsApp's types and sizes -> media_dir -> the reply
# queue -> wachatd uploads it (POST /v25.0/<pnid>/media, multipart) to the
# Graph stand-in and sends it by the media id it got.
#
#   (a) a PDF with a caption: uploaded (messaging_product, type, the file
#       byte for byte), then sent as a document with its id, caption and
#       file name; recorded in the history with its wamid
#   (b) a 6 MB image: refused before any upload, with WhatsApp's limit
#   (c) a type WhatsApp does not take: refused, nothing uploaded
#   (d) an upload answered 500 once: uploaded again, then sent
#   (e) not the agent's conversation: refused, nothing kept

use v5.36;
use utf8;
use lib 't/lib';

use File::Temp qw(tempdir);
use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(rand_token wh_text);

my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T    = 20;

my $graph = Wachat::Standin->start(kind => 'graph');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $dir = tempdir('wachat-media-out-XXXXXX', TMPDIR => 1,
                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
spew("$dir/graph_token", 'EAAG' . rand_token(40) . "\n", 0600);

my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => "graph_api_url " . $graph->url . "/v25.0\n"
                            . "graph_token_file $dir/graph_token\n"
                            . "graph_timeout 2s\n"
                            . "agent alice alice\@example.com\n"
                            . "agent bob bob\@example.com\n");
my $ctl = wachatctl_binary() . ' -c ' . $d->conf_path;


# --- helpers ---------------------------------------------------------------

# runs wachatctl; (exit code, stdout + stderr)
sub wachatctl (@args) {
    my $cmd = join ' ', $ctl, map { "'" . s/'/'\\''/gr . "'" } @args;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

my $N = 0;
# a customer who wrote, held by alice
sub held_customer () {
    my $wa = sprintf '1650557%04d', ++$N;
    $nginx->post_signed(wh_text(from => $wa, text => 'Can I return an item?'));
    poll_until(sub {
        ($redis->cmd('HGET', "wachat:conv:{$PNID:$wa}", 'last_in_id') // '') ne '';
    }, timeout => $T);
    my ($rc, $out) = wachatctl('take', 'alice', $wa);
    is($rc, 0, "alice takes $wa") or diag $out;
    return $wa;
}

sub uploads () { $graph->requests(method => 'POST', path => qr{/media$}) }

sub sends_to ($wa) {
    grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $wa
           && ($_->{json}{type} // '') ne 'text'
           && ($_->{json}{type} // '') ne 'interactive' }
        $graph->requests(method => 'POST', path => qr{/messages$});
}


# --- (a) a PDF with a caption -------------------------------------------------

{
    my $wa = held_customer();
    my $pdf = "%PDF-1.4\n" . join('', map { chr int rand 256 } 1 .. 5000);
    spew("$dir/invoice-May.pdf", $pdf);
    my ($rc, $out) = wachatctl('send-file', 'alice', $wa, "$dir/invoice-May.pdf",
                               'Your invoice for May');
    is($rc, 0, '(a) send-file queues it') or diag $out;
    like($out, qr/queued/, '(a) and says so');

    my @u;
    poll_until(sub { (@u = uploads()) >= 1 }, timeout => $T);
    is(scalar @u, 1, '(a) one upload') or diag $d->log_text;
    my $u = $u[0] // {};
    is($u->{path}, "/v25.0/$PNID/media", '(a) to {phone-number-id}/media');
    like($u->{headers}{authorization} // '', qr/^Bearer EAAG/, '(a) with the token');
    is($u->{form}{messaging_product}, 'whatsapp', '(a) messaging_product=whatsapp');
    is($u->{form}{type}, 'application/pdf', '(a) type=application/pdf');
    is($u->{form}{file}{bytes}, $pdf, '(a) the file, byte for byte');
    is($u->{form}{file}{filename}, 'invoice-May.pdf', '(a) under its name');
    is($u->{form}{file}{type}, 'application/pdf', '(a) with its type');

    my @s;
    poll_until(sub { (@s = sends_to($wa)) >= 1 }, timeout => $T);
    is(scalar @s, 1, '(a) then one message');
    like($s[0]{json}{biz_opaque_callback_data} // '', qr/^wachat:\d+-\d+$/,
         '(a) tagged with its history id, for Meta to echo in its statuses');
    my $media_id = 'standin-media-' . ($u->{seq} // 0);
    is_deeply($s[0]{json}, {
        messaging_product => 'whatsapp', recipient_type => 'individual',
        to => $wa, type => 'document',
        document => { id => $media_id, caption => 'Your invoice for May',
                      filename => 'invoice-May.pdf' },
        biz_opaque_callback_data => $s[0]{json}{biz_opaque_callback_data},
    }, '(a) a document by the id the upload gave, caption and file name')
        or diag explain $s[0]{json};

    my ($e) = grep { ($_->{fields}{who} // '') eq 'agent:alice' }
              $redis->xrange("wachat:hist:{$PNID:$wa}");
    my $f = $e->{fields} // {};
    is($f->{type}, 'document', '(a) the history has it as a document');
    is($f->{media_name}, 'invoice-May.pdf', '(a) with its name');
    is($f->{text}, 'Your invoice for May', '(a) and caption');
    my $local = $f->{media_id} // '';
    like($local, qr/^out-[0-9a-f]{32}$/, '(a) kept under a local id');
    ok(-f $d->dir . "/media/$local", '(a) in media_dir, for the console');
    ok(poll_until(sub {
        ($redis->cmd('HGET', "wachat:st:{$PNID:$wa}", "h:$e->{id}") // '')
            =~ /^wamid\./;
    }, timeout => $T), '(a) its wamid recorded, as any reply');
}


# --- (b) a 6 MB image ---------------------------------------------------------

{
    my $wa = held_customer();
    my $before = () = uploads();
    spew("$dir/big.jpg", "\xff\xd8\xff\xe0" . ("\0" x (6 * 1024 * 1024)));
    my ($rc, $out) = wachatctl('send-file', 'alice', $wa, "$dir/big.jpg");
    isnt($rc, 0, '(b) a 6 MB image is refused');
    like($out, qr{bad_media: an image \(image/jpeg\) may be 5 MB at most; this one is 6\.0 MB},
         '(b) with WhatsApp\'s limit') or diag $out;
    is($redis->cmd('LLEN', "wachat:outq:{$PNID:$wa}"), 0, '(b) nothing queued');
    # a text the agent sends after it goes out: the refused file never went
    wachatctl('reply', 'alice', $wa, 'Could you send a smaller picture?');
    poll_until(sub {
        grep { ($_->{json}{to} // '') eq $wa }
            $graph->requests(method => 'POST', path => qr{/messages$});
    }, timeout => $T);
    is(scalar(() = uploads()), $before, '(b) and nothing uploaded');
}


# --- (c) a type WhatsApp does not take ------------------------------------------

{
    my $wa = held_customer();
    spew("$dir/setup.exe", "MZ" . ("\0" x 100));
    my ($rc, $out) = wachatctl('send-file', 'alice', $wa, "$dir/setup.exe");
    isnt($rc, 0, '(c) an .exe is refused');
    like($out, qr/WhatsApp does not take files of type unknown/, '(c) says why')
        or diag $out;
}


# --- (d) an upload answered 500 once -----------------------------------------------

{
    my $wa = held_customer();
    $graph->script(method => 'POST', match => '/media$', responses => [
        { status => 500, body => { error => { message => 'Service unavailable',
                                              code => 2 } } },
    ]);
    my $png = "\x89PNG\r\n\x1a\n" . ('p' x 2000);
    spew("$dir/photo.png", $png);
    my $before = () = uploads();
    my ($rc, $out) = wachatctl('send-file', 'alice', $wa, "$dir/photo.png",
                               'The part you need');
    is($rc, 0, '(d) queued') or diag $out;
    my @s;
    poll_until(sub { (@s = sends_to($wa)) >= 1 }, timeout => $T);
    is(scalar @s, 1, '(d) sent in the end') or diag $d->log_text;
    is(scalar(() = uploads()) - $before, 2, '(d) after a second upload');
    is($s[0]{json}{type}, 'image', '(d) as an image');
    is($s[0]{json}{image}{caption}, 'The part you need', '(d) with its caption');
    ok(!exists $s[0]{json}{image}{filename}, '(d) no file name for an image');
}


# --- (e) not the agent's conversation ------------------------------------------------

{
    my $wa = held_customer();
    spew("$dir/note.txt", "hello\n");
    opendir my $dh, $d->dir . '/media';
    my $files = grep { !/^\./ } readdir $dh;
    my ($rc, $out) = wachatctl('send-file', 'bob', $wa, "$dir/note.txt");
    isnt($rc, 0, '(e) bob cannot send into alice\'s conversation');
    like($out, qr/not_assigned/, '(e) not_assigned') or diag $out;
    opendir $dh, $d->dir . '/media';
    is(scalar(grep { !/^\./ } readdir $dh), $files, '(e) nothing left in media_dir');
}

done_testing();
