#!/usr/bin/perl

# Every fixture in t/fixtures -> one signed POST -> the stream entries of
# docs/events.md, field by field, raw byte-exact with the fixture's bytes.
# Expected entries come from Wachat::Events (docs/events.md computed from the
# decoded fixture; raw cut out of the fixture by a balanced-brace scan), and
# a few are spelled out literally below so the helper cannot be wrong alone.

use v5.36;
use lib 't/lib';
use Test::More;
use Wachat::Files qw(fixture root_dir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Events qw(expected_events dedup_key event_key sort_events);

my $STREAM = 'wachat:events';
my $redis  = start_redis();
my $nginx  = start_nginx(redis => $redis);

my @fixtures = map { m{([^/]+)\.json$} } sort glob(root_dir() . '/t/fixtures/*.json');
cmp_ok(scalar @fixtures, '>=', 25, 'fixtures found');

my %got;    # fixture => [ entries ]

for my $name (@fixtures) {
    subtest $name => sub {
        $redis->cmd('FLUSHALL');
        my $body = fixture($name);
        my @want = expected_events($body);
        my $n = @want;

        my ($res, $line) = $nginx->with_access_line(sub { $nginx->post_signed($body) });
        is($res->{status}, 200, 'status 200');
        is($res->{body}, qq({"result":"accepted","events":$n,"queued":$n}), "accepted, $n events");
        is($line, "200 accepted $n", 'access log');

        my @entries = $redis->xrange($STREAM);
        $got{$name} = \@entries;
        is(scalar @entries, $n, "$n stream entries");

        my @got_f  = sort_events(map { $_->{fields} } @entries);
        my @want_f = sort_events(@want);
        for my $i (0 .. $#want_f) {
            my $w = $want_f[$i];
            my $g = $got_f[$i] // {};
            my $what = "$w->{kind}" . ($w->{id} ? " $w->{id}" : '') . ($w->{status} ? " $w->{status}" : '');
            is_deeply([sort keys %$g], [sort keys %$w], "$what: exactly the documented fields")
                or diag explain { got => [sort keys %$g], want => [sort keys %$w] };
            for my $f (sort keys %$w) {
                is($g->{$f}, $w->{$f}, "$what: $f");
            }
            my $key = dedup_key($STREAM, $w);
            is($redis->cmd('EXISTS', $key), 1, "$what: dedup key $key set");
            cmp_ok($redis->cmd('TTL', $key), '>', 0, "$what: dedup key expires");
        }
    };
}

# --- literal spot checks (independent of Wachat::Events) --------------------

sub only ($name) {
    my $e = $got{$name} // [];
    return @$e == 1 ? $e->[0]{fields} : {};
}

{
    my $f = only('message_text');
    is($f->{v}, '1', 'text: v=1');
    is($f->{kind}, 'message', 'text: kind=message');
    is($f->{id}, 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=', 'text: id');
    is($f->{from}, '16505551234', 'text: from');
    is($f->{name}, 'Sheena Nelson', 'text: name');
    is($f->{phone_number_id}, '106540352242922', 'text: phone_number_id');
    is($f->{ts}, '1749416383', 'text: ts');
    is($f->{type}, 'text', 'text: type');
    is($f->{text}, 'Does it come in another color?', 'text: text');
    is($f->{raw}, '{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}',
       'text: raw is the message object');
}
{
    my $f = only('message_text_unicode_escapes');
    is($f->{text}, "J'ai mang\xc3\xa9 des p\xc3\xa2tes \xf0\x9f\x98\xae 1/2",
       'unicode: text decoded to UTF-8 (\u00e9, surrogate pair \ud83d\ude2e, \/)');
    is($f->{name}, "Jos\xc3\xa9 Mu\xc3\xb1oz", 'unicode: name decoded to UTF-8');
    like($f->{raw} // '', qr/mang\\u00e9 des p\\u00e2tes \\ud83d\\ude2e 1\\\/2/,
         'unicode: raw keeps \u00e9, \ud83d\ude2e and \/ as sent');
}
{
    my $f = only('message_interactive_button_reply');
    is($f->{text}, 'Cancel', 'button_reply: text = title');
    is($f->{payload}, 'cancel-button', 'button_reply: payload = id');
    is($f->{context}, 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA', 'button_reply: context');
    is($f->{type}, 'interactive', 'button_reply: type interactive');
}
{
    my $f = only('message_interactive_list_reply');
    is($f->{text}, 'Priority Mail Express', 'list_reply: text = title');
    is($f->{payload}, 'priority_express', 'list_reply: payload = id');
}
{
    my $f = only('message_button_template_quick_reply');
    is($f->{text}, 'Stop promotions', 'template quick reply: text');
    is($f->{payload}, 'STOP_PROMOTIONS', 'template quick reply: payload');
    is($f->{type}, 'button', 'template quick reply: type button');
}
is(only('message_image_caption')->{text}, 'Here is the broken part', 'image: caption as text');
is(only('message_video_caption')->{text}, 'Unboxing the blue one', 'video: caption as text');
is(only('message_document_caption_filename')->{text}, 'Invoice for May', 'document: caption as text');
is(only('message_reaction')->{text}, "\xf0\x9f\x91\x8d", 'reaction: emoji as text');
ok(!exists only('message_audio_voice')->{text}, 'audio: no text');
ok(!exists only('message_location')->{text}, 'location: no text');
ok(!exists only('message_system_user_changed_number')->{name}, 'system without contacts: no name');
is(only('message_unsupported_131051')->{error_code}, '131051', 'unsupported: error_code 131051');
is(only('status_failed_131049')->{error_code}, '131049', 'failed: error_code 131049');
is(only('status_failed_131049')->{status}, 'failed', 'failed: status');
is(only('status_failed_131049')->{recipient}, '16505551234', 'failed: recipient');
ok(!exists only('status_sent')->{from}, 'status: no from');
{
    my $f = only('message_bsuid_without_from');
    ok(!exists $f->{from}, 'BSUID message: no from');
    is($f->{user_id}, 'US.13491208655302741918', 'BSUID message: user_id = from_user_id');
    is($f->{name}, 'Sheena N.', 'BSUID message: name of the contact with that user_id');
}
is(only('status_sent_bsuid')->{user_id}, 'US.13491208655302741918', 'status: user_id = recipient_user_id');
is(only('message_text_contact_wa_id_differs')->{name}, 'Luis Garza',
   'wa_id differs from from: name of the only contact');
ok(!exists only('message_text_forwarded')->{context}, 'forwarded (context without id): no context');
{
    my $f = only('account_update');
    is($f->{kind}, 'other', 'account_update: kind other');
    is($f->{type}, 'account_update', 'account_update: type = field');
    like($f->{raw} // '', qr/^\{"value":\{"phone_number".*"field":"account_update"\}$/,
         'account_update: raw is the change object');
}
{
    my $f = only('value_errors_only');
    is($f->{kind}, 'other', 'messages change with only value.errors: kind other');
    like($f->{raw} // '', qr/^\{"value":.*"code":130429.*"field":"messages"\}$/,
         '... raw is the change object');
}
{
    my $f = only('not_whatsapp_envelope');
    is($f->{type}, 'unknown', 'not a WABA envelope: type unknown');
    is($f->{raw}, fixture('not_whatsapp_envelope'), '... raw is the whole body');
}
{
    my @e = map { $_->{fields} } @{ $got{batch_two_entries_messages_statuses} // [] };
    is(scalar(grep { $_->{kind} eq 'message' } @e), 3, 'batch: 3 messages');
    is(scalar(grep { $_->{kind} eq 'status' } @e), 5, 'batch: 5 statuses');
    is(scalar(grep { $_->{kind} eq 'other' } @e), 1, 'batch: 1 other');
    my %pn = map { ($_->{phone_number_id} // '-') => 1 } grep { $_->{kind} ne 'other' } @e;
    is_deeply([sort keys %pn], ['106540352242922', '109876543210987'],
              'batch: phone_number_id taken from each change');
    my ($kofi) = grep { ($_->{from} // '') eq '447700900123' } @e;
    is($kofi->{name}, 'Kofi Mensah', 'batch: name matched by wa_id among 2 contacts');
    my @st = sort map { $_->{status} } grep { $_->{kind} eq 'status' } @e;
    is_deeply(\@st, [qw(delivered failed played read sent)], 'batch: every status');
    my ($first) = grep { ($_->{text} // '') eq 'Hi, is the shop open today?' } @e;
    like($first->{raw} // '', qr/^\{\n {16}"from": "16505551234",\n/,
         'batch: raw keeps the pretty-printed whitespace');
}

# --- envelopes of unexpected shape: queued once as other (never 4xx) -------

for my $case (
    ['JSON null',                   'null'],
    ['a JSON number',               '42'],
    ['an empty array',              '[]'],
    ['an empty object',             '{}'],
    ['object, no entry',            '{"object":"whatsapp_business_account"}'],
    ['entry not an array',          '{"object":"whatsapp_business_account","entry":{}}'],
    ['changes not an array',        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":"x"}]}'],
    ['a change that is a string',   '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":["x"]}]}'],
) {
    my ($name, $body) = @$case;
    $redis->cmd('FLUSHALL');
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, "$name: 200");
    is($res->{body}, '{"result":"accepted","events":1,"queued":1}', "$name: one event");
    my @e = $redis->xrange($STREAM);
    is(join(',', map { "$_->{fields}{kind}/$_->{fields}{type}" } @e), 'other/unknown',
       "$name: kind other, type unknown");
    is($e[0]{fields}{raw}, $body, "$name: raw is the whole body");
}

# a well-formed envelope that carries nothing: no event, nothing queued
for my $case (
    ['no entry',        '{"object":"whatsapp_business_account","entry":[]}'],
    ['no change',       '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[]}]}'],
) {
    my ($name, $body) = @$case;
    $redis->cmd('FLUSHALL');
    my ($res, $line) = $nginx->with_access_line(sub { $nginx->post_signed($body) });
    is($res->{status}, 200, "$name: 200");
    is($res->{body}, '{"result":"accepted","events":0,"queued":0}', "$name: events 0, queued 0");
    is($line, '200 accepted 0', "$name: access log");
    is($redis->cmd('DBSIZE'), 0, "$name: nothing written to Redis");
}

# items of messages[] / statuses[] without an id (or status): other, raw = the item
{
    $redis->cmd('FLUSHALL');
    my $body = '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"messages":[{"from":"16505551234","timestamp":"1","type":"text","text":{"body":"no id"}},{"from":"16505551234","id":"wamid.GOODONE","timestamp":"1","type":"text","text":{"body":"with id"}}],"statuses":[{"id":"wamid.NOSTATUS","timestamp":"1","recipient_id":"1"}]}}]}]}';
    my $res = $nginx->post_signed($body);
    is($res->{status}, 200, 'items without id/status: 200');
    is($res->{body}, '{"result":"accepted","events":3,"queued":3}', 'items without id/status: 3 events');
    my @e = map { $_->{fields} } $redis->xrange($STREAM);
    my @other = grep { $_->{kind} eq 'other' } @e;
    is(scalar @other, 2, 'the message without id and the status without status are other');
    is_deeply([sort map { $_->{raw} } @other],
              [sort '{"from":"16505551234","timestamp":"1","type":"text","text":{"body":"no id"}}',
                    '{"id":"wamid.NOSTATUS","timestamp":"1","recipient_id":"1"}'],
              '... each with the item as raw');
    my ($m) = grep { $_->{kind} eq 'message' } @e;
    is($m->{id}, 'wamid.GOODONE', 'the message with an id is a message');
}

done_testing;
