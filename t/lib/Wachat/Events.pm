package Wachat::Events;

# What docs/events.md says a webhook body becomes, computed independently of
# the module: expected_events($body) returns the stream entries (field =>
# value, UTF-8 bytes) one signed POST of $body must add.  "raw" is cut out of
# the body itself (balanced-brace scan), never re-serialised.

use v5.36;

use Exporter qw(import);
use Digest::SHA qw(sha256_hex);
use JSON::PP ();

our @EXPORT_OK = qw(
    expected_events raw_objects object_at enclosing_object
    dedup_suffix dedup_key event_key sort_events decode_json_bytes json_canon
    entry_fields
);


my $JSON  = JSON::PP->new->utf8->allow_nonref;
my $CANON = JSON::PP->new->utf8->canonical->allow_nonref;

sub decode_json_bytes ($bytes) { $JSON->decode($bytes) }

sub json_canon ($data) { $CANON->encode($data) }


# --- byte spans ------------------------------------------------------------

# Start of the object (or array) that encloses offset $pos: walk back over the
# text, skipping strings (a '"' preceded by an even number of backslashes ends
# or starts one), until an opening bracket is left unmatched.
sub enclosing_object ($text, $pos, $open = '{') {
    my $depth = 0;
    my $in_str = 0;
    for (my $i = $pos - 1; $i >= 0; $i--) {
        my $c = substr($text, $i, 1);
        if ($c eq '"') {
            my $bs = 0;
            $bs++ while $i - $bs - 1 >= 0 && substr($text, $i - $bs - 1, 1) eq '\\';
            $in_str = !$in_str if $bs % 2 == 0;
            next;
        }
        next if $in_str;
        if ($c eq '}' || $c eq ']') { $depth++; next }
        if ($c eq '{' || $c eq '[') {
            if ($depth == 0) {
                return $i if $c eq $open;
                return undef;               # enclosed by an array, not an object
            }
            $depth--;
        }
    }
    return undef;
}

# The bytes of the object or array starting at $start, by a balanced-brace
# scan forward (strings and their escapes skipped).
sub object_at ($text, $start) {
    my $depth = 0;
    my $len = length $text;
    for (my $i = $start; $i < $len; $i++) {
        my $c = substr($text, $i, 1);
        if ($c eq '"') {
            for ($i++; $i < $len; $i++) {
                my $d = substr($text, $i, 1);
                if ($d eq '\\') { $i++; next }
                last if $d eq '"';
            }
            next;
        }
        if ($c eq '{' || $c eq '[') { $depth++; next }
        if ($c eq '}' || $c eq ']') {
            $depth--;
            return substr($text, $start, $i - $start + 1) if $depth == 0;
        }
    }
    die "unbalanced JSON from offset $start";
}

# The objects that directly contain a match of $re (e.g. qr/"id"\s*:\s*"X"/),
# as byte strings, in order of appearance.
sub raw_objects ($text, $re) {
    my @out;
    while ($text =~ /$re/g) {
        my $start = enclosing_object($text, $-[0]) // next;
        push @out, object_at($text, $start);
    }
    return @out;
}

# The raw bytes of one decoded item: among the objects containing $re, the
# one that decodes to the same data.
sub raw_of ($body, $re, $item) {
    my $want = json_canon($item);
    my @hits = grep { json_canon(decode_json_bytes($_)) eq $want } raw_objects($body, $re);
    die "no raw object for $re" unless @hits;
    return $hits[0];
}

sub quote_re ($s) {
    # the string as it may appear in the body: as is, or with "/" escaped
    my $q = quotemeta $s;
    $q =~ s{\\/}{\\\\?/}g;
    return qr/"$q"/;
}


# --- the contract ----------------------------------------------------------

sub str ($v) {
    return undef unless defined $v && !ref $v;
    my $s = "$v";
    utf8::encode($s);
    return $s;
}

sub is_obj ($v) { ref $v eq 'HASH' }
sub is_arr ($v) { ref $v eq 'ARRAY' }

sub whole_body_unknown ($body) {
    return ({ v => '1', kind => 'other', type => 'unknown', raw => $body });
}

sub expected_events ($body) {
    my $doc = eval { decode_json_bytes($body) };
    die "fixture is not JSON: $@" if $@;

    my $ok = is_obj($doc) && ($doc->{object} // '') eq 'whatsapp_business_account'
        && is_arr($doc->{entry});
    if ($ok) {
        for my $e (@{ $doc->{entry} }) {
            $ok = 0, last unless is_obj($e) && is_arr($e->{changes})
                && !grep { !is_obj($_) } @{ $e->{changes} };
        }
    }
    return whole_body_unknown($body) unless $ok;

    my @events;
    for my $entry (@{ $doc->{entry} }) {
        # the entry's id, the WABA's, on every event of it (a string only)
        my $waba = defined $entry->{id} && !ref $entry->{id}
                   && JSON::PP->new->allow_nonref->encode($entry->{id}) =~ /^"/
                 ? str($entry->{id}) : undef;
        for my $change (@{ $entry->{changes} }) {
            push @events, map { defined $waba ? { %$_, waba_id => $waba } : $_ }
                          change_events($body, $change);
        }
    }
    return @events;
}

sub change_raw ($body, $change) {
    my $field = $change->{field} // die "fixture change without field";
    return raw_of($body, qr/"field"\s*:\s*${\ quote_re($field)}/, $change);
}

sub other_event ($type, $raw) {
    return { v => '1', kind => 'other', type => str($type), raw => $raw };
}

sub change_events ($body, $change) {
    my $field = $change->{field};
    my $value = $change->{value};
    if (!defined $field || ref $field || $field ne 'messages') {
        return other_event((defined $field && !ref $field) ? $field : 'unknown',
                           change_raw($body, $change));
    }
    return other_event('messages', change_raw($body, $change)) unless is_obj($value);

    my @msgs  = is_arr($value->{messages}) ? @{ $value->{messages} } : ();
    my @stats = is_arr($value->{statuses}) ? @{ $value->{statuses} } : ();
    return other_event('messages', change_raw($body, $change)) unless @msgs || @stats;

    my $meta     = is_obj($value->{metadata}) ? $value->{metadata} : {};
    my @contacts = grep { is_obj($_) } is_arr($value->{contacts}) ? @{ $value->{contacts} } : ();
    my @events;

    for my $m (@msgs) {
        if (!is_obj($m) || !defined $m->{id} || ref $m->{id}) {
            die "fixture item without id: not supported by this helper";
        }
        my $from = $m->{from};
        my $uid  = $m->{from_user_id};
        my ($contact) = grep { defined $from && defined $_->{wa_id} && $_->{wa_id} eq $from } @contacts;
        ($contact) = grep { defined $uid && defined $_->{user_id} && $_->{user_id} eq $uid } @contacts
            unless $contact;
        $contact = $contacts[0] if !$contact && @contacts == 1;
        $uid //= $contact->{user_id} if $contact;

        my %e = (
            v               => '1',
            kind            => 'message',
            id              => str($m->{id}),
            from            => str($from),
            user_id         => str($uid),
            name            => $contact && is_obj($contact->{profile})
                               ? str($contact->{profile}{name}) : undef,
            phone_number_id => str($meta->{phone_number_id}),
            ts              => str($m->{timestamp}),
            type            => str($m->{type}),
            context         => is_obj($m->{context}) ? str($m->{context}{id}) : undef,
            error_code      => first_error_code($m),
            raw             => raw_of($body, qr/"id"\s*:\s*${\ quote_re($m->{id})}/, $m),
        );
        my ($text, $payload) = message_text($m);
        $e{text}    = str($text);
        $e{payload} = str($payload);
        push @events, prune(\%e);
    }

    for my $s (@stats) {
        if (!is_obj($s) || !defined $s->{id} || ref $s->{id} || !defined $s->{status}) {
            die "fixture status without id/status: not supported by this helper";
        }
        my $rcpt = $s->{recipient_id};
        my $uid  = $s->{recipient_user_id};
        if (!defined $uid) {
            my ($c) = grep { defined $rcpt && defined $_->{wa_id} && $_->{wa_id} eq $rcpt } @contacts;
            $uid = $c->{user_id} if $c;
        }
        my %e = (
            v               => '1',
            kind            => 'status',
            id              => str($s->{id}),
            recipient       => str($rcpt),
            user_id         => str($uid),
            phone_number_id => str($meta->{phone_number_id}),
            ts              => str($s->{timestamp}),
            status          => str($s->{status}),
            error_code      => first_error_code($s),
            raw             => raw_of($body, qr/"id"\s*:\s*${\ quote_re($s->{id})}/, $s),
        );
        push @events, prune(\%e);
    }
    return @events;
}

sub first_error_code ($o) {
    return undef unless is_arr($o->{errors}) && is_obj($o->{errors}[0]);
    return str($o->{errors}[0]{code});
}

# text / payload by message type (docs/events.md)
sub message_text ($m) {
    my $t = $m->{type} // '';
    my $o = $m->{$t};
    return (undef, undef) unless is_obj($o);
    return ($o->{body}, undef) if $t eq 'text';
    return ($o->{caption}, undef) if $t eq 'image' || $t eq 'video' || $t eq 'document';
    return ($o->{text}, $o->{payload}) if $t eq 'button';
    if ($t eq 'reaction') {
        my $emoji = $o->{emoji};
        return ((defined $emoji && length $emoji) ? $emoji : undef, undef);
    }
    if ($t eq 'interactive') {
        for my $k (qw(button_reply list_reply)) {
            return ($o->{$k}{title}, $o->{$k}{id}) if ($o->{type} // '') eq $k && is_obj($o->{$k});
        }
    }
    return (undef, undef);
}

sub prune ($e) {
    delete $e->{$_} for grep { !defined $e->{$_} } keys %$e;
    return $e;
}


# --- dedup keys and ordering -----------------------------------------------

sub dedup_suffix ($e) {
    return $e->{id} if $e->{kind} eq 'message';
    return "$e->{id}:$e->{status}" if $e->{kind} eq 'status';
    return 'other:' . sha256_hex($e->{raw});
}

sub dedup_key ($stream, $e) {
    my $prefix = $stream =~ /\{[^}]+\}/ ? "$stream:seen:" : "{$stream}:seen:";
    return $prefix . dedup_suffix($e);
}

# A stable identity for comparing sets of events regardless of order.
sub event_key ($e) { join "\0", $e->{kind} // '', dedup_suffix($e) }

sub sort_events (@e) { sort { event_key($a) cmp event_key($b) } @e }

# The fields of stream entries from Wachat::Redis::Server::xrange.
sub entry_fields (@entries) { map { $_->{fields} } @entries }

1;
