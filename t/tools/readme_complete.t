#!/usr/bin/perl
# The README documents every nginx directive the module declares and every
# wachatd config key the parser knows (docs/config.md is generated from the
# parser's table and checked against it by t/wachatd/config_unit.t).

use v5.36;
use lib 't/lib';

use Test::More;
use Wachat::Files qw(root_dir slurp);

my $readme = slurp(root_dir() . '/README.md');
my $module = slurp(root_dir() . '/ngx_wachat_module/ngx_http_wachat_module.c');
my $config = slurp(root_dir() . '/docs/config.md');

my ($table) = $module =~ /ngx_http_wachat_commands\[\] = \{(.*?)ngx_null_command/s;
my @directives = ($table // '') =~ /\{\s*ngx_string\("(wachat[a-z_]*)"\)/g;
cmp_ok(scalar @directives, '>=', 8, 'directives found in the module');
for my $d (@directives) {
    like($readme, qr/`\Q$d\E[ ;]/, "README documents the directive $d");
}

my @vars = $module =~ /\{\s*ngx_string\("(wachat_(?:result|events))"\),\s*NULL/g;
for my $v (@vars) {
    like($readme, qr/`\$\Q$v\E`/, "README documents the variable \$$v");
}

my @keys = $config =~ /^\| `([a-z_]+)`/mg;
cmp_ok(scalar @keys, '>=', 30, 'config keys found in docs/config.md');
for my $k (@keys) {
    like($readme, qr/^\| `\Q$k\E`/m, "README documents the config key $k");
}

for my $cmd ('make run', 'make test', 'scripts/wachat-simulate') {
    like($readme, qr/\Q$cmd\E/, "README shows $cmd");
}

done_testing();
