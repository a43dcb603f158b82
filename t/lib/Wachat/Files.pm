package Wachat::Files;

# The repository a test runs in and the files it reads and writes whole:
# its root, the fixtures of t/fixtures (named after what they show), and
# slurp / spew of raw bytes.  Core Perl only.
#
#   my $body = fixture('message_text');         # t/fixtures/message_text.json
#   my $kb   = root_dir() . '/t/fixtures/kb/shop.md';
#   spew("$dir/token", "secret\n", 0600);

use v5.36;

use Exporter qw(import);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec;

our @EXPORT_OK = qw(root_dir fixture fixture_path slurp spew);


my $ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..', '..'));

sub root_dir { $ROOT }

sub fixture_path ($name) {
    $name .= '.json' unless $name =~ /\.[a-z]+$/;
    return "$ROOT/t/fixtures/$name";
}

# The bytes of a fixture, as they are POSTed.  One trailing newline (editors
# add it) is not part of the body Meta would send.
sub fixture ($name) {
    my $b = slurp(fixture_path($name));
    $b =~ s/\n\z//;
    return $b;
}

sub slurp ($path) {
    open my $fh, '<:raw', $path or die "open $path: $!";
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub spew ($path, $data, $mode = undef) {
    open my $fh, '>:raw', $path or die "open $path: $!";
    print {$fh} $data or die "write $path: $!";
    close $fh or die "close $path: $!";
    chmod $mode, $path if defined $mode;
    return $path;
}

1;
