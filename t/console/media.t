#!/usr/bin/perl
# Customers' media in the agent console, in a real browser (headless
# Chromium, as t/console/browser.t): nginx with conf/nginx-agent.conf in
# front of wachatd, which downloads the media from the Graph stand-in.
#
# Scenario: a customer sends a picture with a caption (answered from the
# caption), reacts to the answer with a thumbs-up, shares a location and
# sends a document with a caption.  alice opens the conversation: the
# picture is shown inline and loads (same origin, through /agent/api/, CSP
# unchanged), the caption under it, the reaction marked on the answer, the
# location a link to OpenStreetMap, the document a download with its file
# name.  Then alice takes it and drops a picture on the conversation: a
# 6 MB one is refused at once, a small one goes with a caption (uploaded,
# then sent by its media id) and shows in the history.
#
# Skipped only when chromium / chromedriver are not installed.

use v5.36;
use utf8;
use lib 't/lib';

use Compress::Zlib ();
use MIME::Base64 qw(encode_base64);
use JSON::PP ();
use Test::More;

use Wachat::Browser;
use Wachat::Console;       # skips the test without a headless browser
use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir);
use Wachat::Daemon qw(kb_answers);
use Wachat::Webhook qw(new_wamid wh_message);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);
my $ROOT = root_dir();
my $KB = "$ROOT/t/fixtures/kb/shop.md";
my $PNID = '106540352242922';
my $T = 20;
my $CUSTOMER = '16505557777';
my $CONV = "$PNID:$CUSTOMER";

my ($answer) = kb_answers($KB, decode => 1);

# A real PNG, 3 x 2 pixels: the browser must decode it to show it.
sub png ($w, $h) {
    my $chunk = sub ($type, $data) {
        return pack('N', length $data) . $type . $data
             . pack('N', Compress::Zlib::crc32($type . $data));
    };
    my $raw = join '', map { "\0" . ("\xff\x00\x00" x $w) } 1 .. $h;
    return "\x89PNG\r\n\x1a\n"
         . $chunk->('IHDR', pack('NNCCCCC', $w, $h, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw))
         . $chunk->('IEND', '');
}


# --- servers ------------------------------------------------------------------

# redis, wachatd (alice), nginx with the agent snippet; media from the stand-in
my $console = Wachat::Console->start(name => 'media', kb => $KB);
my ($graph, $redis, $d, $nginx) = map { $console->$_ } qw(graph redis daemon nginx);
my $port = $console->port;


# --- helpers ------------------------------------------------------------------

my $b;

sub send_msg ($type, %content) {
    my $wamid = new_wamid();
    my $res = $nginx->post_signed(wh_message(from => $CUSTOMER, id => $wamid,
                                             name => 'Sheena Nelson',
                                             type => $type,
                                             content => \%content));
    is($res->{status}, 200, "$type: webhook accepted") or diag $res->{body};
    return $wamid;
}

sub replies ($n) {
    my @r;
    poll_until(sub {
        @r = grep { ref $_->{json} eq 'HASH' && ($_->{json}{to} // '') eq $CUSTOMER }
             $graph->requests(method => 'POST', path => qr{/messages$});
        @r >= $n;
    }, timeout => $T);
    return @r;
}

sub shown ($req) {
    my $j = $req->{json} // {};
    return $j->{text}{body} // $j->{interactive}{body}{text} // '';
}

sub in_history ($wamid) {
    poll_until(sub {
        grep { ($_->{fields}{id} // '') eq $wamid }
            $redis->xrange("wachat:hist:{$CONV}");
    }, timeout => $T);
}


# --- the customer's side ------------------------------------------------------

my $picture = png(3, 2);
$graph->add_media(id => '9001', bytes => $picture, mime => 'image/png');
send_msg('image', id => '9001', mime_type => 'image/png',
         caption => 'What are your opening hours?');
my @r = replies(1);
$console->need(scalar @r == 1, 'the picture with a caption is answered', $d->log_text);
is(shown($r[0]), $answer->{hours}, 'from the caption, by the knowledge base');
my $answer_wamid = 'wamid.STANDIN-' . $graph->port . "-$r[0]{seq}";

my $react = send_msg('reaction', message_id => $answer_wamid, emoji => "\x{1f44d}");
in_history($react);

my $loc = send_msg('location', latitude => 37.483307, longitude => -122.148981,
                   name => 'Main Street Beach', address => '1 Hacker Way');
@r = replies(2);
is(scalar @r, 2, 'the location gets a reply');

$graph->add_media(id => '9002', bytes => "%PDF-1.4 price list",
                  mime => 'application/pdf');
send_msg('document', id => '9002', mime_type => 'application/pdf',
         filename => 'price-list.pdf', caption => 'What are your prices?');
@r = replies(3);
is(scalar @r, 3, 'the document with a caption is answered');
is(shown($r[2]), $answer->{prices}, 'from its caption');


# --- the agent's side -----------------------------------------------------------

$b = $console->browser(width => 1366, height => 900);
$b->get('about:blank');
$b->set_viewport(1366, 768);
$b->get($console->login_url("#/c/" . ($CONV =~ s/:/%3A/r)));
$console->need($b->wait_js('return document.body.dataset.ready === "1"', timeout => $T),
               'the console loaded');
$console->need($b->wait_for('.msg.customer img.media-img', timeout => $T),
               'the picture is in the conversation, inline');
$console->need($b->wait_js('const i = document.querySelector(".msg.customer img.media-img");'
                           . 'return i.complete && i.naturalWidth === 3 && i.naturalHeight === 2',
                           timeout => $T),
               'and the browser loaded it: 3 x 2 pixels, through /agent/api/media/');
like($b->attr($b->find('.msg.customer img.media-img'), 'src') // '',
     qr{^http://127\.0\.0\.1:$port/agent/api/media/9001$}, 'same origin, by media id');
ok($b->wait_js('return [...document.querySelectorAll(".msg.customer .text")]'
               . '.some((e) => e.textContent === "What are your opening hours?")', timeout => $T),
   'the caption is shown with it');

ok($b->wait_js('return [...document.querySelectorAll(".msg.ai .reacted")]'
               . '.some((e) => e.textContent === "\u{1f44d}")', timeout => $T),
   'the reaction is marked on the answer it reacts to');

my $href = $b->js('const a = document.querySelector(".msg.customer a.location");'
                  . 'return a ? a.href : ""');
like($href, qr{^https://www\.openstreetmap\.org/\?mlat=37\.483307&mlon=-122\.148981#map=16/},
     'the location is a link to OpenStreetMap');
like($b->js('const a = document.querySelector(".msg.customer a.location");'
            . 'return a ? a.textContent : ""'), qr/Main Street Beach/, 'named');

$console->need($b->wait_for('.msg.customer a.media-doc', timeout => $T), 'the document is offered');
is($b->attr($b->find('.msg.customer a.media-doc'), 'download'), 'price-list.pdf',
   'for download with its file name');
my $disp = $b->js('return fetch(document.querySelector(".msg.customer a.media-doc").href)'
                  . '.then((r) => r.status + " " + r.headers.get("content-disposition"))');
like($disp // '', qr/^200 attachment; filename="price-list\.pdf"/,
     'which the API serves as an attachment');

# --- alice sends a picture: dropped on the conversation, with a caption ------

$b->click_css('#take');
$console->need($b->wait_js('return !document.getElementById("reply").disabled', timeout => $T),
               'alice took the conversation: the reply box is open');

# a File dropped on the history, as a drag from the desktop would
my $drop = <<'JS';
const [b64, name, type, size] = arguments;
const bytes = b64 ? Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)) : new Uint8Array(size);
const dt = new DataTransfer();
dt.items.add(new File([bytes], name, { type }));
document.getElementById('history').dispatchEvent(
  new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
return 1;
JS

my $uploads_before = () = $graph->requests(method => 'POST', path => qr{/media$});
$b->js($drop, '', 'huge.jpg', 'image/jpeg', 6 * 1024 * 1024);
ok($b->wait_for('#compose-error', timeout => $T,
                check => sub ($el) { $b->text($el) =~ /An image may be 5 MB at most; this one is 6\.0 MB/ }),
   'a 6 MB picture is refused at once, with the limit');
ok($b->js('return document.getElementById("attached").hidden'), 'and not attached');

my $mine = png(4, 4);
$b->js($drop, encode_base64($mine, ''), 'shelf.png', 'image/png', 0);
$console->need($b->wait_for('#attached-name', timeout => $T,
                            check => sub ($el) { $b->text($el) =~ /shelf\.png/ }),
               'the dropped picture is attached');
$b->click_css('#reply');
$b->type($b->find('#reply'), 'This is the shelf you asked about', Wachat::Browser::ENTER());

my $up;
poll_until(sub {
    my @all = $graph->requests(method => 'POST', path => qr{/media$});
    $up = $all[$uploads_before];
}, timeout => $T);
$console->need($up, 'the picture is uploaded to the Graph API', $d->log_text);
is($up->{form}{file}{bytes}, $mine, 'byte for byte');
is($up->{form}{type}, 'image/png', 'as image/png');
my $sent;
poll_until(sub {
    ($sent) = grep { ($_->{json}{type} // '') eq 'image' && ($_->{json}{to} // '') eq $CUSTOMER }
              $graph->requests(method => 'POST', path => qr{/messages$});
    $sent;
}, timeout => $T);
$console->need($sent, 'then sent to the customer as an image');
is($sent->{json}{image}{caption}, 'This is the shelf you asked about', 'with the caption');
is($sent->{json}{image}{id}, "standin-media-$up->{seq}", 'by the id of its upload');
ok($b->wait_js('return [...document.querySelectorAll(".msg.agent img.media-img")]'
               . '.some((i) => i.complete && i.naturalWidth === 4)', timeout => $T),
   "alice's picture shows in the conversation");
ok($b->js('return document.getElementById("attached").hidden'), 'the composer is clear again');

my @severe = grep { /SEVERE/ && !/favicon|401/ } $b->console_log;
is_deeply(\@severe, [], 'no errors in the browser console (CSP included)');

$b->quit;
done_testing();
