#!/usr/bin/perl
# llm_vision: with the openai backend and llm_vision on, a customer's
# picture goes to the model with the question, as an OpenAI-compatible
# image_url content part (a data: URL of the bytes wachatd kept).
#
#   (a) a picture with a caption: the user message is [text, image_url]
#   (b) a picture without a caption: asked all the same, not met with
#       media_reply_text
#   (c) llm_vision off (a second daemon): the caption alone, as a string

use v5.36;
use utf8;
use lib 't/lib';

use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64);
use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(start_wachatd);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid rand_token wh_message);

my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $T    = 20;

my $graph = Wachat::Standin->start(kind => 'graph');
my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $dir = tempdir('wachat-vision-XXXXXX', TMPDIR => 1,
                  CLEANUP => !$ENV{WACHAT_KEEP_TMP});
spew("$dir/graph_token", 'EAAG' . rand_token(40) . "\n", 0600);

sub daemon ($vision) {
    return start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                         conf => "graph_api_url " . $graph->url . "/v25.0\n"
                               . "graph_token_file $dir/graph_token\n"
                               . "backend openai\n"
                               . "llm_url " . $llm->url . "/v1\n"
                               . "llm_model vision-model\n"
                               . "llm_vision $vision\n");
}

my $PIC = "\xff\xd8\xff\xe0" . join '', map { chr int rand 256 } 1 .. 3000;
$graph->add_media(id => '9501', bytes => $PIC, mime => 'image/jpeg');

my $N = 0;
sub picture ($caption) {
    my $from = sprintf '1650559%04d', ++$N;
    my %c = (id => '9501', mime_type => 'image/jpeg');
    $c{caption} = $caption if defined $caption;
    my $res = $nginx->post_signed(wh_message(from => $from, type => 'image',
                                             content => \%c));
    is($res->{status}, 200, 'webhook accepted');
    return $from;
}

# the last user message the model got for this customer's question
sub asked ($n) {
    my @r = $llm->wait_for_requests($n, $T, path => qr{/chat/completions$});
    return @r >= $n ? $r[$n - 1]{json}{messages}[-1] : undef;
}

sub reply_to ($from) {
    my @r;
    poll_until(sub {
        @r = grep { ($_->{json}{to} // '') eq $from }
             $graph->requests(method => 'POST', path => qr{/messages$});
    }, timeout => $T);
    return $r[0];
}

my $d = daemon('yes');

# --- (a) with a caption -----------------------------------------------------------

{
    my $from = picture('Is this the right charger?');
    my $m = asked(1);
    ok($m, '(a) the model was asked') or diag $d->log_text;
    is($m->{role}, 'user', '(a) as the customer');
    is(ref $m->{content}, 'ARRAY', '(a) in content parts');
    is_deeply($m->{content}[0], { type => 'text', text => 'Is this the right charger?' },
              '(a) the caption as the text part');
    is($m->{content}[1]{type}, 'image_url', '(a) the picture as an image_url part');
    is($m->{content}[1]{image_url}{url}, 'data:image/jpeg;base64,' . encode_base64($PIC, ''),
       '(a) a data: URL of the bytes wachatd kept');
    my $r = reply_to($from);
    like($r->{json}{text}{body} // $r->{json}{interactive}{body}{text} // '',
         qr/^Stand-in answer to: Is this the right charger\?/, '(a) the model\'s answer is sent');
}

# --- (b) without a caption --------------------------------------------------------

{
    my $from = picture(undef);
    my $m = asked(2);
    is($m->{content}[0]{text}, '(a picture, without a caption)',
       '(b) a picture without a caption goes to the model too');
    is($m->{content}[1]{type}, 'image_url', '(b) with the picture');
    ok(reply_to($from), '(b) and is answered');
}

$d->stop;

# --- (c) llm_vision off -----------------------------------------------------------

{
    $d = daemon('no');
    picture('Is this the right charger?');
    my $m = asked(3);
    is($m->{content}, 'Is this the right charger?', '(c) without llm_vision: the caption alone');
}

done_testing();
