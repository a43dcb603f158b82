#!/usr/bin/perl
# Nothing a customer sends is met with silence: wachatd with the Graph
# stand-in and a transcription stand-in (OpenAI-compatible
# /audio/transcriptions, which "hears" the text after SPEECH: in the file).
#
#   (a) a voice note: downloaded, transcribed (multipart file + model), the
#       transcript answered from the knowledge base and kept beside the
#       audio in the history
#   (b) the transcription fails: voice_text, and the conversation goes the
#       hand-over way (waiting for a person, nobody online)
#   (c) a sticker and a location: media_reply_text; the location's
#       coordinates in the history
#   (d) a reaction: no reply, and its target in the history
#   (e) a contact card: media_reply_text, the card in the history
#   (f) a transcript the knowledge base cannot answer is listed by
#       wachatctl unanswered like a typed question

use v5.36;
use utf8;
use lib 't/lib';

use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;

use Wachat::Process qw(poll_until);
use Wachat::Files qw(root_dir spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(kb_answers start_wachatd wachatctl_binary);
use Wachat::Standin;
use Wachat::Webhook qw(new_wamid rand_token wh_message wh_text);

my $KB   = root_dir() . '/t/fixtures/kb/shop.md';
my $PNID = '106540352242922';
my $T    = 20;
my $MEDIA_REPLY = 'Thanks! I read text only: type your question, please.';
my $VOICE_TEXT = 'A person will listen to your voice note.';

my ($answer) = kb_answers($KB, decode => 1);

my $graph = Wachat::Standin->start(kind => 'graph');
my $stt = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);

my $secrets = tempdir('wachat-media-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{WACHAT_KEEP_TMP});
spew("$secrets/graph_token", 'EAAG' . rand_token(40) . "\n", 0600);
spew("$secrets/stt_key", "stt-" . rand_token(20) . "\n", 0600);

my $d = start_wachatd(redis => $redis, kb => $KB, outbound => 'graph',
                      conf => "graph_api_url " . $graph->url . "/v25.0\n"
                            . "graph_token_file $secrets/graph_token\n"
                            . "stt_url " . $stt->url . "/v1\n"
                            . "stt_model whisper-test\n"
                            . "stt_key_file $secrets/stt_key\n"
                            . "media_attempts 2\n"
                            . "media_reply_text \"$MEDIA_REPLY\"\n"
                            . "voice_text \"$VOICE_TEXT\"\n");


# --- helpers ---------------------------------------------------------------

my $N = 0;
sub customer () { sprintf '1650556%04d', ++$N }

sub send_msg ($from, $type, %content) {
    my $wamid = new_wamid();
    my $res = $nginx->post_signed(wh_message(from => $from, id => $wamid,
                                             type => $type,
                                             content => \%content));
    is($res->{status}, 200, "$type: webhook accepted") or diag $res->{body};
    return $wamid;
}

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

sub replies_to ($from, $n = 1) {
    my @r;
    poll_until(sub {
        @r = grep { ref $_->{json} eq 'HASH'
                    && ($_->{json}{to} // '') eq $from }
             $graph->requests(method => 'POST', path => qr{/messages$});
        @r >= $n;
    }, timeout => $T);
    return @r;
}

sub shown ($req) {
    my $j = $req->{json} // {};
    return $j->{text}{body} // $j->{interactive}{body}{text};
}


# --- (a) a voice note, transcribed and answered ------------------------------

{
    my $from = customer();
    my $audio = "OggS\0\x02fake-opus-frames SPEECH:What are your opening hours?";
    $graph->add_media(id => '8001', bytes => $audio,
                      mime => 'audio/ogg; codecs=opus');
    my $wamid = send_msg($from, 'audio', id => '8001', voice => JSON::PP::true,
                         mime_type => 'audio/ogg; codecs=opus');

    my ($req) = $stt->wait_for_requests(1, $T, path => qr{/audio/transcriptions$});
    ok($req, '(a) the voice note went to the transcription API')
        or diag $d->log_text;
    $req //= {};
    is($req->{path}, '/v1/audio/transcriptions', '(a) {stt_url}/audio/transcriptions');
    like($req->{headers}{authorization} // '', qr/^Bearer stt-/,
         '(a) with the key of stt_key_file');
    is($req->{form}{model}, 'whisper-test', '(a) model: stt_model');
    is($req->{form}{file}{bytes}, $audio, '(a) file: the audio, byte for byte');
    is($req->{form}{file}{type}, 'audio/ogg', '(a) as audio/ogg');
    like($req->{form}{file}{filename} // '', qr/\.ogg$/, '(a) named *.ogg');

    my @r = replies_to($from);
    is(scalar @r, 1, '(a) the voice note is answered');
    is(shown($r[0]), $answer->{hours}, '(a) from the knowledge base') if @r;

    my $e = entry($from, $wamid);
    is($e->{transcript}, 'What are your opening hours?',
       '(a) the transcript is kept beside the audio');
    is($e->{voice}, '1', '(a) marked as a voice note');
    is($e->{media_state}, 'stored', '(a) the audio is kept');

    my $out = qx{@{[wachatctl_binary()]} -c @{[$d->conf_path]} show $from 2>&1};
    like($out, qr{\[audio audio/ogg; codecs=opus, \d+ bytes, media_dir/8001\]},
         '(a) wachatctl show: the voice note, where it is kept');
    like($out, qr/transcript: What are your opening hours\?/,
         '(a) wachatctl show: its transcript');
}


# --- (b) the transcription fails ---------------------------------------------

{
    my $from = customer();
    $stt->script(match => '/audio/transcriptions$', responses => [
        { status => 500, body => { error => { message => 'model crashed' } } },
    ]);
    $graph->add_media(id => '8002', bytes => 'OggS SPEECH:anything',
                      mime => 'audio/ogg; codecs=opus');
    my $wamid = send_msg($from, 'audio', id => '8002', voice => JSON::PP::true,
                         mime_type => 'audio/ogg; codecs=opus');

    my @r = replies_to($from);
    is(scalar @r, 1, '(b) not met with silence');
    is(shown($r[0]), $VOICE_TEXT, '(b) voice_text') if @r;
    my $e = entry($from, $wamid);
    ok(!exists $e->{transcript}, '(b) no transcript');
    my $mode;
    poll_until(sub {
        $mode = $redis->cmd('HGET', "wachat:conv:{$PNID:$from}", 'mode');
        ($mode // '') eq 'waiting_agent';
    }, timeout => $T);
    is($mode, 'waiting_agent', '(b) the conversation waits for a person');
    like($d->log_text, qr/voice note 8002 not transcribed: transcription: HTTP 500/,
         '(b) the log says why');
}


# --- (c) a sticker and a location ---------------------------------------------

{
    my $from = customer();
    $graph->add_media(id => '8003', bytes => 'RIFF....WEBP', mime => 'image/webp');
    my $s = send_msg($from, 'sticker', id => '8003', mime_type => 'image/webp',
                     animated => JSON::PP::false);
    my @r = replies_to($from, 1);
    is(scalar @r, 1, '(c) a sticker is not met with silence');
    is(shown($r[0]), $MEDIA_REPLY, '(c) media_reply_text') if @r;
    is(entry($from, $s)->{media_state}, 'stored', '(c) the sticker is kept');

    my $l = send_msg($from, 'location', latitude => 37.483307,
                     longitude => -122.148981, name => 'Main Street Beach',
                     address => '1 Hacker Way, Menlo Park');
    @r = replies_to($from, 2);
    is(scalar @r, 2, '(c) a location is not met with silence');
    is(shown($r[1]), $MEDIA_REPLY, '(c) media_reply_text') if @r > 1;
    my $e = entry($from, $l);
    is($e->{lat}, '37.483307', '(c) its latitude in the history');
    is($e->{lon}, '-122.148981', '(c) its longitude');
    is($e->{place}, 'Main Street Beach', '(c) its name');
}


# --- (d) a reaction ----------------------------------------------------------

{
    my $from = customer();
    my $q = new_wamid();
    $nginx->post_signed(wh_text(from => $from, id => $q,
                                text => 'How much does delivery cost?'));
    my @r = replies_to($from, 1);
    my $react = send_msg($from, 'reaction', message_id => 'wamid.SOMEREPLY',
                         emoji => "\x{1f44d}");
    my $e = entry($from, $react);
    is($e->{react_to}, 'wamid.SOMEREPLY', '(d) the reaction\'s target is kept');

    # a question after it: its answer comes, and none came for the reaction
    $nginx->post_signed(wh_text(from => $from, text => 'Can I return an item?'));
    @r = replies_to($from, 2);
    is(scalar @r, 2, '(d) the next question is answered');
    is(shown($r[1]), $answer->{returns}, '(d) the reply is the question\'s')
        if @r > 1;
    # one conversation's messages are handled in order: the reaction came
    # before the second question, so its reply would be there by now
    is(scalar(grep { ($_->{json}{context}{message_id} // '') eq $react } @r),
       0, '(d) the reaction got no reply');
}


# --- (e) a contact card ----------------------------------------------------------

{
    my $from = customer();
    my $wamid = new_wamid();
    my $res = $nginx->post_signed(wh_message(from => $from, id => $wamid,
        type => 'contacts', content => [{
            name => { formatted_name => 'Barbara J. Johnson',
                      first_name => 'Barbara' },
            phones => [{ phone => '+1 (415) 555-0123', type => 'CELL',
                         wa_id => '14155550123' },
                       { phone => '+1 (415) 555-0199', type => 'WORK' }],
        }]));
    is($res->{status}, 200, '(e) webhook accepted');
    my @r = replies_to($from, 1);
    is(scalar @r, 1, '(e) a contact card is not met with silence');
    is(shown($r[0]), $MEDIA_REPLY, '(e) media_reply_text') if @r;
    my $e = entry($from, $wamid);
    is($e->{contact}, 'Barbara J. Johnson', '(e) the card\'s name in the history');
    is($e->{phones}, '+1 (415) 555-0123, +1 (415) 555-0199', '(e) its phones');
}

# --- (f) a voice note the knowledge base cannot answer -------------------------

{
    my $from = customer();
    $graph->add_media(id => '8009', bytes => 'OggS SPEECH:Do you repair skateboards?',
                      mime => 'audio/ogg; codecs=opus');
    send_msg($from, 'audio', id => '8009', voice => JSON::PP::true,
             mime_type => 'audio/ogg; codecs=opus');
    my @r = replies_to($from);
    is(scalar @r, 1, '(f) answered');
    my $out = qx{@{[wachatctl_binary()]} -c @{[$d->conf_path]} unanswered 2>&1};
    like($out, qr/Do you repair skateboards\?/,
         '(f) its transcript is listed among the unanswered questions') or diag $out;
}

done_testing();
