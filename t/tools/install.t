#!/usr/bin/perl
# make install, without root: every directory pointed into a temp dir, so
# that the unit's ExecStart names a program that is really there.  The files
# land where the variables say, with their modes; the installed wachatd
# reads the installed config by default, whose relative paths name the
# secrets beside it, and the knowledge base in the state directory (a copy
# of the sample, or of the one an older install kept in /etc/wachat); a
# second install keeps the operator's edits; the unit passes
# `systemd-analyze verify` where systemd-analyze exists.  (As root,
# t/tools/package.t compares `make install DESTDIR=` with the packages.)

use v5.36;
use lib 't/lib';

use Test::More;

use Wachat::Files qw(root_dir slurp spew);
use Wachat::Process qw(tmpdir);

plan skip_all => 'WACHAT_SKIP_PACKAGE is set' if $ENV{WACHAT_SKIP_PACKAGE};

my $ROOT = root_dir();
my $T = tmpdir('install');
my %dirs = (
    PREFIX           => "$T/usr",
    SYSCONFDIR       => "$T/etc",
    STATEDIR         => "$T/var/lib/wachat",
    UNITDIR          => "$T/lib/systemd/system",
    NGX_MODULES_DIR  => "$T/usr/lib/nginx/modules",
    NGX_MODULES_CONF => "$T/usr/share/nginx/modules-available",
);
my $vars = join ' ', map { "$_=$dirs{$_}" } sort keys %dirs;

sub make_install {
    my $out = `cd $ROOT && make -j2 install $vars 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = make_install();
is($rc, 0, 'make install with every directory in a temp dir') or diag $out;

my @files = sort map { s{^\Q$T\E}{}r } split /\n/, `find $T ! -type d`;
is_deeply(\@files, [qw(
    /etc/wachat/wachatd.conf
    /lib/systemd/system/wachatd.service
    /usr/bin/wachatctl
    /usr/lib/nginx/modules/ngx_http_wachat_module.so
    /usr/sbin/wachatd
    /usr/share/doc/wachat/README.md
    /usr/share/man/man1/wachatctl.1
    /usr/share/man/man8/wachatd.8
    /usr/share/nginx/modules-available/mod-http-wachat.conf
    /usr/share/wachat/console/app.js
    /usr/share/wachat/console/favicon.svg
    /usr/share/wachat/console/index.html
    /usr/share/wachat/console/style.css
    /usr/share/wachat/kb.md
    /usr/share/wachat/nginx/agent.conf
    /usr/share/wachat/nginx/wachat-site.conf
    /var/lib/wachat/kb.md
)], 'the files, each where its variable says') or diag explain \@files;

for my $f (@files) {
    my $mode = (stat "$T$f")[2] & 07777;
    my $want = $f =~ m{/s?bin/} ? 0755 : $f =~ m{^/var/lib/} ? 0640 : 0644;
    is(sprintf('%o', $mode), sprintf('%o', $want), "$f: mode " . sprintf('%o', $want));
}
is(sprintf('%o', (stat "$T/var/lib/wachat")[2] & 07777), '750', '/var/lib/wachat: mode 750, as the unit makes it');
is(slurp("$T/var/lib/wachat/kb.md"), slurp("$ROOT/conf/kb.md"), 'the knowledge base: a copy of the sample');

my $unit = slurp("$T/lib/systemd/system/wachatd.service");
like($unit, qr/^ExecStart=\Q$T\E\/usr\/sbin\/wachatd$/m, 'the unit runs the installed wachatd');
like($unit, qr/^ExecStartPre=\Q$T\E\/usr\/sbin\/wachatd -t -q$/m, '... after wachatd -t -q');
unlike($unit, qr/@[A-Z]+@/, 'no placeholder left in the unit');
my $site = slurp("$T/usr/share/wachat/nginx/wachat-site.conf");
like($site, qr{password_file=\Q$T\E/etc/wachat/redis\.password;}, 'the site reads the installed Redis password');
like($site, qr{include \Q$T\E/usr/share/wachat/nginx/agent\.conf;}, '... and includes the installed agent.conf');
my $agent = slurp("$T/usr/share/wachat/nginx/agent.conf");
like($agent, qr{alias \Q$T\E/usr/share/wachat/console/;}, 'agent.conf serves the installed console');
like($agent, qr{wachat_api_secret_file \Q$T\E/etc/wachat/api\.secret;}, '... with the installed API secret');
is(slurp("$T/usr/share/nginx/modules-available/mod-http-wachat.conf"),
   "load_module modules/ngx_http_wachat_module.so;\n", 'the load_module snippet');

my $conf = slurp("$T/etc/wachat/wachatd.conf");
like($conf, qr/^redis_password_file redis\.password$/m, 'the installed config needs a Redis password');
like($conf, qr/^api_secret_file\s+api\.secret$/m, '... and the API secret, both beside it');
like($conf, qr/^kb\s+\Q$T\E\/var\/lib\/wachat\/kb\.md$/m,
     '... and the knowledge base in the state directory, where the unit lets wachatd write');
like($conf, qr/^media_dir\s+\Q$T\E\/var\/lib\/wachat\/media$/m, '... as the media');

# the installed programs read the installed config without -c
like(`$T/usr/sbin/wachatd -h`, qr/\Q$T\E\/etc\/wachat\/wachatd\.conf/, 'wachatd\'s default config is the installed one');
my $t = `cd / && env -u WACHAT_CONF $T/usr/sbin/wachatd -t -q 2>&1`;
like($t, qr{redis_password_file: cannot open \Q$T\E/etc/wachat/redis\.password}, 'without the secrets -t -q says which file is missing')
    or diag $t;
spew("$T/etc/wachat/$_", ('x' x 32) . "\n", 0600) for qw(redis.password api.secret);
$t = `cd / && env -u WACHAT_CONF $T/usr/sbin/wachatd -t -q 2>&1`;
is($? >> 8, 0, 'with them, wachatd -t -q passes from /') or diag $t;
is($t, '', '... silently');

# a second install keeps what the operator changed
spew("$T/var/lib/wachat/kb.md", "## Edited {#edited}\nKept.\n", 0640);
($rc, $out) = make_install();
is($rc, 0, 'make install again');
is(slurp("$T/var/lib/wachat/kb.md"), "## Edited {#edited}\nKept.\n", '... keeps the edited knowledge base');

# an install before the knowledge base moved kept it in /etc/wachat: copied
unlink "$T/var/lib/wachat/kb.md";
spew("$T/etc/wachat/kb.md", "## Older {#older}\nFrom /etc.\n", 0644);
($rc, $out) = make_install();
is($rc, 0, 'make install over an older install');
is(slurp("$T/var/lib/wachat/kb.md"), "## Older {#older}\nFrom /etc.\n",
   '... copies its /etc/wachat/kb.md to the state directory');
like($out, qr{make install: set "kb \Q$T\E/var/lib/wachat/kb\.md" in \Q$T\E/etc/wachat/wachatd\.conf}, '... and says to name it in wachatd.conf')
    or diag $out;
unlink "$T/etc/wachat/kb.md";

SKIP: {
    skip 'no systemd-analyze', 2 unless -x '/usr/bin/systemd-analyze';
    my $v = `systemd-analyze verify $T/lib/systemd/system/wachatd.service 2>&1`;
    is($? >> 8, 0, 'systemd-analyze verify passes on the unit') or diag $v;
    my $s = `systemd-analyze security --offline=true $T/lib/systemd/system/wachatd.service 2>&1`;
    my ($score) = $s =~ /Overall exposure level for wachatd\.service: ([\d.]+)/;
    ok(defined $score && $score <= 2.0, 'systemd-analyze security: ' . ($score // '?') . ' (<= 2.0)')
        or diag $s;
}

system("cd $ROOT && make uninstall $vars >/dev/null 2>&1");
my @left = sort map { s{^\Q$T\E}{}r } split /\n/, `find $T ! -type d`;
is_deeply(\@left, [qw(/etc/wachat/api.secret /etc/wachat/redis.password /etc/wachat/wachatd.conf
                      /var/lib/wachat/kb.md)],
          'make uninstall leaves only /etc/wachat and the knowledge base, the operator\'s') or diag explain \@left;

done_testing();
