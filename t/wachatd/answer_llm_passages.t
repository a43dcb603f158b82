#!/usr/bin/perl
# backend openai: llm_passages is honoured up to its maximum, 8 (the word
# search ranks that many entries): a prompt carries 8 KB passages when 12
# entries match, and a config asking for more is refused at wachatd -t
# rather than cut short in silence.

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(spew);
use Wachat::Process qw(tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd wachatd_binary);
use Wachat::Standin;
use Wachat::Webhook qw(wh_text);

# twelve entries that all share the question's word, each answer distinct
my $DIR = tmpdir('llm-passages');
my $kb = "# Riverside Cycles\n\n";
$kb .= "## Do you have bike model $_? {#model$_}\n\nAnswer number $_ about bike model $_.\n\n"
    for 1 .. 12;
my $KB = spew("$DIR/kb.md", $kb);

my $bad = spew("$DIR/nine.conf", "kb kb.md\noutbound sandbox\nllm_passages 9\n");
my $out = `@{[wachatd_binary()]} -t -q -c $bad 2>&1`;
isnt($? >> 8, 0, 'llm_passages 9: wachatd -t refuses it');
like($out, qr/llm_passages: "9" is out of range \(1\.\.8\)/, '... and says the range');

my $llm = Wachat::Standin->start(kind => 'llm');
my $redis = start_redis();
my $nginx = start_nginx(redis => $redis);
my $d = start_wachatd(redis => $redis, kb => $KB, conf => <<"EOF");
backend openai
llm_url @{[$llm->url]}/v1
llm_model test-model
llm_timeout 2s
llm_passages 8
EOF

$nginx->post_signed(wh_text(from => '16505559876', text => 'which bike models do you have?'));
my @e = outbox_wait($redis, 1);
ok(@e >= 1, 'a reply reached the outbox') or diag $d->log_text;
my @req = $llm->wait_for_requests(1, 10);
my $all = join "\n", map { $_->{content} // '' } @{ $req[0]{json}{messages} // [] };
my %seen = map { $_ => 1 } $all =~ /Answer number (\d+) about/g;
is(scalar keys %seen, 8, 'llm_passages 8, twelve matching entries: eight passages in the prompt')
    or diag $all;

done_testing();
