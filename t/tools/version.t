#!/usr/bin/perl
# One version everywhere it is written: wachatd/lib/version.h (wachatd -v,
# wachatctl -v, the start line), the top entry of debian/changelog (the
# packages' version, and the upgrade's rm_conffile in
# debian/wachat.maintscript compares against it) and the man pages' .TH
# lines.  A bump that misses one is caught here, not on a user's machine.

use v5.36;
use lib 't/lib';

use Test::More;
use Wachat::Files qw(root_dir slurp);

my $root = root_dir();

my ($header) = slurp("$root/wachatd/lib/version.h") =~ /^#define WACHAT_VERSION\s+"([^"]+)"/m;
ok(defined $header, 'version.h defines WACHAT_VERSION') or diag 'not found';

my ($deb) = slurp("$root/debian/changelog") =~ /\Awachat \(([^)]+)\)/;
ok(defined $deb, 'debian/changelog starts with a wachat entry');
is($header, $deb, 'version.h and debian/changelog agree');

for my $man (qw(man/wachatd.8 man/wachatctl.1)) {
    my ($v) = slurp("$root/$man") =~ /^\.TH \S+ \S+ "[^"]*" "wachat ([^"]+)"/m;
    is($v, $deb, "$man names the same version");
}

done_testing();
