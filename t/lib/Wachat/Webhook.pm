package Wachat::Webhook;

# Webhook bodies as Meta sends them (whatsapp-cloud-api.md section 3), built
# from parameters: non-ASCII escaped as \uXXXX, like real deliveries; the
# X-Hub-Signature-256 Meta puts on them; random tokens and secrets (verify
# tokens, app secrets, Graph tokens, passwords) for the configs of a test.

use v5.36;

use Exporter qw(import);
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP ();

our @EXPORT_OK = qw(wh_text wh_button wh_status wh_envelope wh_message
                    new_wamid sign_body rand_token);

my $JSON = JSON::PP->new->ascii->canonical;
my $SEQ = 0;

# The X-Hub-Signature-256 value of $body under the app secret $secret.
sub sign_body ($body, $secret) { 'sha256=' . hmac_sha256_hex($body, $secret) }

sub rand_token ($len = 24) {
    my @c = ('a' .. 'z', 'A' .. 'Z', '0' .. '9');
    return join '', map { $c[int rand @c] } 1 .. $len;
}

sub new_wamid { sprintf 'wamid.TEST%d.%d.%d', $$, time, ++$SEQ }

sub wh_envelope ($value) {
    return $JSON->encode({
        object => 'whatsapp_business_account',
        entry  => [{ id => '102290129340398', changes => [{
            field => 'messages',
            value => {
                messaging_product => 'whatsapp',
                metadata => { display_phone_number => '15550783881',
                              phone_number_id => $value->{pnid} // '106540352242922' },
                %{ $value->{body} },
            },
        }] }],
    });
}

# %o: from, name, pnid, text, id, ts
sub wh_text (%o) {
    my $from = $o{from} // '16505551234';
    my $msg = { from => $from, id => $o{id} // new_wamid(),
                timestamp => '' . ($o{ts} // time), type => 'text',
                text => { body => $o{text} } };
    return wh_envelope({ pnid => $o{pnid}, body => {
        contacts => [{ profile => { name => $o{name} // 'Sheena Nelson' }, wa_id => $from }],
        messages => [$msg] } });
}

# Any message type, its object given as is: type => 'image',
# content => { id => '1001', mime_type => 'image/jpeg', caption => '...' }.
# %o: from, name, pnid, id, ts, type, content
sub wh_message (%o) {
    my $from = $o{from} // '16505551234';
    my $msg = { from => $from, id => $o{id} // new_wamid(),
                timestamp => '' . ($o{ts} // time), type => $o{type},
                $o{type} => $o{content} // {} };
    return wh_envelope({ pnid => $o{pnid}, body => {
        contacts => [{ profile => { name => $o{name} // 'Sheena Nelson' }, wa_id => $from }],
        messages => [$msg] } });
}

# %o: from, name, pnid, payload, title, id
sub wh_button (%o) {
    my $from = $o{from} // '16505551234';
    my $msg = { from => $from, id => $o{id} // new_wamid(), timestamp => '' . time,
                type => 'interactive',
                context => { from => '15550783881', id => 'wamid.PREVIOUS' },
                interactive => { type => 'button_reply',
                                 button_reply => { id => $o{payload}, title => $o{title} // 'Button' } } };
    return wh_envelope({ pnid => $o{pnid}, body => {
        contacts => [{ profile => { name => $o{name} // 'Sheena Nelson' }, wa_id => $from }],
        messages => [$msg] } });
}

# %o: recipient, pnid, id (wamid), status, code, callback (biz_opaque_callback_data)
sub wh_status (%o) {
    my $st = { id => $o{id}, status => $o{status}, timestamp => '' . time,
               recipient_id => $o{recipient} // '16505551234' };
    $st->{errors} = [{ code => $o{code}, title => 'failed' }] if $o{code};
    # what the send put in biz_opaque_callback_data, echoed as Meta does
    $st->{biz_opaque_callback_data} = $o{callback} if defined $o{callback};
    return wh_envelope({ pnid => $o{pnid}, body => { statuses => [$st] } });
}

1;
