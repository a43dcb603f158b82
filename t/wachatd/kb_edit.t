#!/usr/bin/perl
# The improvement loop's second half: a question that got the fallback is
# listed as unanswered; an agent writes the answer through the agent API
# (a new entry, then new phrasings for an existing one); the KB file is
# written atomically, with its comments and order kept and the previous
# one as <kb>.bak; wachatd reloads and the same question is answered from
# the new entry.  A conflicting edit on disk is refused, not overwritten;
# an entry that breaks a KB rule is refused with the parser's reason; an
# agent kb_editors leaves out may not write.  "What would the assistant
# answer?" with the scores of the best entries.
#
# Real redis-server, nginx with the module, wachatd (kb backend, sandbox).

use v5.36;
use utf8;
use lib 't/lib';

use Encode qw(encode_utf8 decode_utf8);
use File::Temp ();
use JSON::PP ();
use Test::More;

use Wachat::Process qw(free_port poll_until);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::HTTP qw(http_request);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatctl_binary);
use Wachat::Webhook qw(wh_text);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $JSON = JSON::PP->new->utf8->canonical;
my $T = 20;

# the KB is a copy the test may write, with a comment to keep
my $dir = File::Temp::tempdir('wachat-kbedit-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $KB = "$dir/kb.md";
my $original = "# Shop FAQ (comments like this one stay)\n\n"
             . slurp(root_dir() . '/t/fixtures/kb/shop.md');
spew($KB, $original, 0644);

my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $api_port = free_port();
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
api_listen 127.0.0.1:$api_port
agent alice alice\@example.com
agent bob bob\@example.com
kb_editors alice
EOF


my $seen = 0;
sub ask_customer ($from, $text) {
    $nginx->post_signed(wh_text(from => $from, text => $text));
    my @e = outbox_wait($redis, $seen + 1, timeout => $T);
    ok(@e > $seen, "$from: '$text' answered");
    return decode_utf8($e[$seen++]{fields}{text} // '');
}

sub uri ($s) { join '', map { /[A-Za-z0-9_.~-]/ ? $_ : sprintf '%%%02X', ord } split //, encode_utf8($s) }

my $SKATE = 'Do you repair skateboards?';
my $ANSWER = 'Yes: we repair skateboards too, bearings and wheels, while you wait.';


# --- the question the KB cannot answer --------------------------------------------

like(ask_customer('4492001', $SKATE), qr/^I'm not sure/, 'the first time: the fallback');
my $u = $d->api('alice', 'GET', 'unanswered')->{json};
is($u->{groups}[0]{text}, $SKATE, 'listed as unanswered');

my $try = $d->api('alice', 'GET', 'kb/ask?q=' . uri($SKATE))->{json};
is($try->{source}, 'fallback', '"what would the assistant answer?": the fallback');
ok(defined $try->{min_score}, 'with the threshold');
ok(ref $try->{hits} eq 'ARRAY', 'and the best entries with their scores');


# --- alice writes the answer ------------------------------------------------------

my $kb = $d->api('alice', 'GET', 'kb')->{json};
like($kb->{version}, qr/^[0-9a-f]{64}$/, 'GET /api/kb: the version (the file\'s SHA-256)');
ok($kb->{editable}, 'alice may edit');
is(scalar @{ $kb->{entries} }, 5, 'the five entries');
ok(!$d->api('bob', 'GET', 'kb')->{json}{editable}, 'bob may read, not edit');

my $r = $d->api('bob', 'POST', 'kb/entries', { question => $SKATE, answer => $ANSWER,
                                            version => $kb->{version} });
is($r->{status}, 403, 'bob (not in kb_editors): 403');
is($r->{json}{error}, 'not_kb_editor', 'not_kb_editor');

$r = $d->api('alice', 'POST', 'kb/entries', { question => 'Skateboards', answer => 'x' x 5000,
                                           version => $kb->{version} });
is($r->{status}, 400, 'an answer over 4096 characters: 400');
like($r->{json}{message}, qr/4096/, 'with the parser\'s reason');
$r = $d->api('alice', 'POST', 'kb/entries', { question => "two\nlines", answer => 'a',
                                           version => $kb->{version} });
is($r->{status}, 400, 'a question of two lines: 400');
$r = $d->api('alice', 'POST', 'kb/entries', { question => 'Hours again', id => 'hours', answer => 'a',
                                           version => $kb->{version} });
is($r->{status}, 400, 'an id that exists: 400');
is(slurp($KB), $original, 'nothing refused touched the file');

$r = $d->api('alice', 'POST', 'kb/entries', { question => $SKATE, id => 'skateboards',
                                           also => ['skateboard repair', 'fix my skateboard'],
                                           answer => $ANSWER, version => $kb->{version} });
is($r->{status}, 201, 'alice adds the entry: 201') or diag $r->{body};
is($r->{json}{id}, 'skateboards', 'with its id');
isnt($r->{json}{version}, $kb->{version}, 'and the new version');

my $now = slurp($KB);
ok(index($now, $original) == 0, 'the file begins as it was: comments and order kept');
like($now, qr/\n## \Q$SKATE\E \{#skateboards\}\nAlso: skateboard repair \| fix my skateboard\n\Q$ANSWER\E\n\z/,
     'the entry appended as Markdown');
is(slurp("$KB.bak"), $original, 'the previous file kept as kb.md.bak');
ok(!glob("$KB.tmp.*"), 'no temporary file left');
ok($d->wait_log(qr/api: agent alice added #skateboards in the knowledge base/, $T), 'logged');

ok(poll_until(sub { $d->api('alice', 'GET', 'kb/ask?q=' . uri($SKATE))->{json}{source} eq 'kb:skateboards' },
              timeout => $T), 'wachatd reloaded: the question now finds the entry');
is(ask_customer('4492002', $SKATE), $ANSWER, 'and a customer asking it gets the answer');


my (undef, $out) = $d->ctl('ask', $SKATE);
like($out, qr/^kb:skateboards\n\Q$ANSWER\E\n/, 'wachatctl ask: the answer and where it comes from');
like($out, qr/^  \d\.\d\d >= #skateboards  \Q$SKATE\E$/m, 'with the best entries and their scores');
(undef, $out) = $d->ctl('ask', 'xyzzy plugh');
like($out, qr/^no confident answer: the fallback\n/, 'wachatctl ask: no confident answer');


# --- new phrasings for an entry ----------------------------------------------------------

$kb = $d->api('alice', 'GET', 'kb')->{json};
my $q = 'when do you guys close up shop';
$r = $d->api('alice', 'POST', 'kb/also', { id => 'hours', also => [$q], version => $kb->{version} });
is($r->{status}, 200, 'alice adds a phrasing to #hours') or diag $r->{body};
like(slurp($KB), qr/\{#hours\}\nAlso: [^\n]*\| \Q$q\E\n/, 'appended to its Also: line');
is($d->api('alice', 'POST', 'kb/also', { id => 'nope', also => ['x'], version => $r->{json}{version} })->{status},
   404, 'an entry that does not exist: 404');
is($d->api('alice', 'POST', 'kb/also', { id => 'hours', also => ['a | b'], version => $r->{json}{version} })->{status},
   400, 'a phrasing with the separator in it: 400');


# --- someone edits the file meanwhile -------------------------------------------------------

$kb = $d->api('alice', 'GET', 'kb')->{json};
my $hand = slurp($KB) . "\n## Do you sell gift cards? {#gift}\nYes, at the counter.\n";
spew($KB, $hand, 0644);
$r = $d->api('alice', 'POST', 'kb/entries', { question => 'Late edit', answer => 'a', version => $kb->{version} });
is($r->{status}, 409, 'an edit against a version the file no longer has: 409');
is($r->{json}{error}, 'kb_changed', 'kb_changed');
is(slurp($KB), $hand, 'the hand edit is kept, not overwritten');


# --- the KB's directory is not wachatd's to write ------------------------------------------

$kb = $d->api('alice', 'GET', 'kb')->{json};
SKIP: {
    skip 'root writes any directory', 2 if $> == 0;
    chmod 0555, $dir;
    $r = $d->api('alice', 'POST', 'kb/entries', { question => 'Q', answer => 'a', version => $kb->{version} });
    chmod 0755, $dir;
    is($r->{status}, 503, 'a directory wachatd cannot write: 503');
    like($r->{json}{message}, qr/cannot write/, 'saying why');
}

ok($d->alive, 'wachatd still runs');
is($d->stop, 0, 'and stops cleanly');

done_testing();
