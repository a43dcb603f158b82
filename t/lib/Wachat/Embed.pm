package Wachat::Embed;

# The stand-in embedding model that Wachat::Standin answers
# POST .../embeddings with: deterministic, core Perl, and just clever enough
# to know something the words of a knowledge base do not.
#
# A text's vector is a bag of hashed words: lowercased ASCII words, minus a
# few stopwords, a plural "s" dropped, each word first replaced by its
# meaning when %MEANING has one, then counted in slot md5(word) mod $DIM.
# So "my chain squeaks and the wheel wobbles" is, to this model, "repair
# repair repair repair": close to an entry about repairs that shares no
# word with it.  A constant in the last slot keeps every vector non-zero.

use v5.36;

use Digest::MD5 qw(md5);
use Exporter 'import';

our @EXPORT_OK = qw(embed_vector);

our $DIM = 256;

# what the stand-in "understands": symptoms are repairs, money back a return
my %MEANING = (
    (map { $_ => 'repair' } qw(squeak squeaky creak wobble wobbly chain
                               wheel brake fix broken puncture flat)),
    (map { $_ => 'return' } qw(money back cash refund reimburse)),
);

my %STOP = map { $_ => 1 } qw(a an the my i me you your we our is are do
    does can could to of on and or it in for with at get want what how);

sub embed_vector ($text, $dim = $DIM) {
    my @v = (0) x $dim;
    for my $w (lc($text) =~ /[a-z0-9]+/g) {
        next if $STOP{$w};
        $w =~ s/s\z// if length $w > 3;
        $w = $MEANING{$w} // $w;
        $v[unpack('N', md5($w)) % ($dim - 1)] += 1;
    }
    $v[$dim - 1] += 0.25;
    return \@v;
}

1;
