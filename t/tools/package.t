#!/usr/bin/perl
# The Debian packages, end to end on this machine: build them from a copy of
# the tree (dpkg-buildpackage, debhelper, dh_nginx), inspect them (contents,
# conffiles, the nginx ABI dependency, the unit), check that `make install
# DESTDIR=...` lays out the same files, install them, then run the installed
# nginx with the module's enabled snippet on a free loopback port (never
# Debian's port 80) and the installed wachatd as the wachat user with the
# unit's own ExecStartPre and ExecStart lines (no systemd here: started by
# hand with setpriv, in a mount namespace where, as under the unit's
# ProtectSystem=strict, only the unit's own directories are writable),
# against a Redis that needs the password postinst made and restricts
# commands with the README's ACL line; one signed webhook must come back as
# a sandbox reply, and an agent's addition to the knowledge base through
# the agent API must be written and answer.  Purging the packages must
# leave the machine as it was.  Then the upgrade from 0.2.0, whose
# /etc/wachat/kb.md was a conffile: the business's edits move to
# /var/lib/wachat/kb.md.  Needs root and the Build-Depends; takes a few
# minutes (WACHAT_SKIP_PACKAGE=1 skips it).

use v5.36;
use lib 't/lib';

use Fcntl qw(:flock);
use File::Basename qw(basename dirname);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);

use Wachat::Files qw(root_dir slurp spew);
use Wachat::HTTP qw(http_request);
use Wachat::Process qw(free_port poll_until reaped spawn stop_pid tmpdir);
use Wachat::Redis qw(start_redis);
use Wachat::Daemon qw(kb_answers outbox_wait);
use Wachat::Webhook qw(rand_token sign_body wh_text);

my $ROOT = root_dir();
my $T0 = time;

plan skip_all => 'WACHAT_SKIP_PACKAGE is set' if $ENV{WACHAT_SKIP_PACKAGE};
plan skip_all => 'installs packages: needs root (CI runs it as root)' if $> != 0;
for my $tool (qw(dpkg-buildpackage dpkg-checkbuilddeps dh dh_nginx setpriv)) {
    plan skip_all => "$tool not found (scripts/install-deps --package)"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}
{
    my $missing = `cd $ROOT && dpkg-checkbuilddeps 2>&1`;
    plan skip_all => "Build-Depends missing (scripts/install-deps --package): $missing" if $?;
}
# one package test per machine at a time (several trees may run the suite)
open my $LOCK, '>', '/run/lock/wachat-package-test.lock' or die "lock file: $!";
plan skip_all => 'another package test is running on this machine'
    unless flock($LOCK, LOCK_EX | LOCK_NB);

for my $p (qw(wachat libnginx-mod-http-wachat)) {
    my $st = `dpkg-query -W -f '\${Status}' $p 2>/dev/null`;
    plan skip_all => "$p is installed here already: not touching it" if $st =~ /installed|config-files/;
}
plan skip_all => 'a wachat user or /etc/wachat exists already: not touching them'
    if getpwnam('wachat') || getgrnam('wachat') || -e '/etc/wachat';

my $DIR = tmpdir('package');
chmod 0755, $DIR;

sub logs (@f) { join '', map { -e $_ ? "--- $_\n" . slurp($_) : "--- $_: none\n" } @f }

sub sh ($cmd) {
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# dpkg, waiting up to a minute for a lock an apt run elsewhere may hold
sub dpkg (@args) {
    my ($rc, $out);
    for (1 .. 60) {
        ($rc, $out) = sh("DEBIAN_FRONTEND=noninteractive dpkg @args");
        last unless $rc && $out =~ /lock/i;
        sleep 1;
    }
    return ($rc, $out);
}

# --- what "the machine as it was" means ----------------------------------
my @WATCH = qw(/etc/nginx /etc/wachat /var/lib/wachat /var/log/wachat /run/wachat
               /usr/share/wachat /usr/lib/nginx/modules /usr/share/nginx/modules-available
               /lib/systemd/system/wachatd.service /etc/systemd/system
               /var/lib/systemd/deb-systemd-helper-enabled /usr/sbin/wachatd /usr/bin/wachatctl
               /usr/share/doc/wachat);
sub machine_state {
    my $files = `find @WATCH -printf '%p %y %m %u:%g %s\n' 2>/dev/null | sort`;
    # (the packages of nginx and wachat: others may come and go meanwhile)
    my $pkgs = join '', sort grep { /nginx|wachat/ }
               `dpkg-query -W -f '\${Package} \${Version} \${Status}\n'`;
    my $users = `getent passwd | sort`;
    my $groups = `getent group | sort`;
    # (only the ports the packages could take: other tests come and go)
    my $listen = `ss -Hltn '( sport = :80 or sport = :443 or sport = :6379 or sport = :8091 )'`;
    return { files => $files, packages => $pkgs, users => $users, groups => $groups,
             listening => $listen };
}
my $before = machine_state();

# --- build -------------------------------------------------------------
my $SRC = "$DIR/wachat-src";
mkdir $SRC or die "mkdir $SRC: $!";
my ($rc, $out) = sh("cd $ROOT && tar --exclude=./build --exclude=./.git --exclude=./debian/build -cf - . | tar -C $SRC -xf -");
is($rc, 0, 'a copy of the tree') or diag $out;
my $t = time;
($rc, $out) = sh("cd $SRC && DEB_BUILD_OPTIONS='noddebs parallel=2' dpkg-buildpackage -us -uc -b > $DIR/build.log 2>&1");
is($rc, 0, sprintf('dpkg-buildpackage -us -uc -b (%.0f s)', time - $t))
    or BAIL_OUT("package build failed:\n" . join "\n", (split /\n/, slurp("$DIR/build.log"))[-40 .. -1]);

my ($VERSION) = slurp("$ROOT/debian/changelog") =~ /^wachat \(([^)]+)\)/;
my $ARCH = `dpkg --print-architecture`; chomp $ARCH;
my $MOD_DEB = "$DIR/libnginx-mod-http-wachat_${VERSION}_$ARCH.deb";
my $APP_DEB = "$DIR/wachat_${VERSION}_$ARCH.deb";
ok(-f $MOD_DEB && -f $APP_DEB, 'two packages: ' . join ' ', map { basename $_ } $MOD_DEB, $APP_DEB);

# --- inspect -----------------------------------------------------------
SKIP: {
    skip 'no lintian (scripts/install-deps package)', 1 unless -x '/usr/bin/lintian';
    my ($changes) = glob "$DIR/wachat_*.changes";
    my $tags = `lintian --info $changes 2>&1`;
    my @bad = grep { /^[EW]: / } split /\n/, $tags;
    is(scalar @bad, 0, 'lintian: no error, no warning (debian/wachat.lintian-overrides says why for the rest)')
        or diag $tags;
}

sub deb_files ($deb) {
    return sort map { (split ' ', $_, 6)[5] =~ s{^\.}{}r =~ s{ -> .*}{}r }
           grep { !/^d/ } split /\n/, `dpkg-deb -c $deb`;
}
my @mod_files = deb_files($MOD_DEB);
my @app_files = deb_files($APP_DEB);
is_deeply([grep { !m{^/usr/share/doc/} } @mod_files],
          ['/usr/lib/nginx/modules/ngx_http_wachat_module.so',
           '/usr/share/nginx/modules-available/mod-http-wachat.conf'],
          'libnginx-mod-http-wachat: the module and its load_module snippet');
is(`dpkg-deb --fsys-tarfile $MOD_DEB | tar -xOf - ./usr/share/nginx/modules-available/mod-http-wachat.conf`,
   "load_module modules/ngx_http_wachat_module.so;\n", '... which loads it from nginx\'s modules path');
for my $f (qw(/usr/sbin/wachatd /usr/bin/wachatctl /lib/systemd/system/wachatd.service
              /etc/wachat/wachatd.conf /usr/share/wachat/kb.md /usr/share/wachat/console/index.html
              /usr/share/wachat/nginx/wachat-site.conf /usr/share/wachat/nginx/agent.conf)) {
    ok((grep { $_ eq $f } @app_files), "wachat holds $f");
}
ok(!(grep { m{^/etc/wachat/.*(secret|password)} } @app_files), 'no secret in the package');
ok(!(grep { m{^/(etc|var)/.*kb\.md$} } @app_files),
   'no knowledge base in /etc or /var: the sample is a seed, postinst copies it');

my $conffiles = `dpkg-deb -I $APP_DEB conffiles`;
is($conffiles, "/etc/wachat/wachatd.conf\n",
   'wachat: the config is the only conffile (the knowledge base is data wachatd writes)');
my $pkg_conf = `dpkg-deb --fsys-tarfile $APP_DEB | tar -xOf - ./etc/wachat/wachatd.conf`;
my ($KB) = $pkg_conf =~ /^kb\s+(\S+)$/m;
is($KB, '/var/lib/wachat/kb.md', 'the packaged config reads the knowledge base from the state directory');

my ($abi) = slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars') =~ /^nginx:abi=(\S+)/m;
my $mod_depends = `dpkg-deb -f $MOD_DEB Depends`;
like($mod_depends, qr/(^|, )\Q$abi\E(,|$)/m, "the module depends on the nginx ABI it was built for ($abi)");
like(`dpkg-query -W -f '\${Provides}' nginx`, qr/\Q$abi\E/, '... which the installed nginx provides');
like(`dpkg-deb -f $APP_DEB Depends`, qr/\badduser\b/, 'wachat depends on adduser (postinst)');

my $unit = `dpkg-deb --fsys-tarfile $APP_DEB | tar -xOf - ./lib/systemd/system/wachatd.service`;
like($unit, qr/^Type=notify$/m, 'unit: Type=notify');
like($unit, qr/^User=wachat$/m, 'unit: runs as wachat');
like($unit, qr/^ExecStartPre=\/usr\/sbin\/wachatd -t -q$/m, 'unit: ExecStartPre=wachatd -t -q');
like($unit, qr/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, 'unit: ExecReload sends SIGHUP');
like($unit, qr/^Restart=on-failure$/m, 'unit: restarts on failure');
like($unit, qr/^After=.*redis-server\.service/m, 'unit: after redis-server');
like($unit, qr/^Wants=.*redis-server\.service/m, '... and wanting it');
like($unit, qr/^$_$/m, "unit: $_") for ('NoNewPrivileges=yes', 'ProtectSystem=strict',
    'ProtectHome=yes', 'PrivateTmp=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'CapabilityBoundingSet=');
my ($exec_pre) = $unit =~ /^ExecStartPre=(.*)$/m;
my ($exec) = $unit =~ /^ExecStart=(.*)$/m;

# What the unit lets wachatd write: under ProtectSystem=strict, its own
# directories (StateDirectory= is under /var/lib, ...) and ReadWritePaths=.
my %UNIT_BASE = (StateDirectory => '/var/lib', RuntimeDirectory => '/run',
                 LogsDirectory => '/var/log', CacheDirectory => '/var/cache');
my @WRITABLE;
while ($unit =~ /^(StateDirectory|RuntimeDirectory|LogsDirectory|CacheDirectory|ReadWritePaths)=(.*)$/mg) {
    my ($key, $value) = ($1, $2);
    for my $d (split ' ', $value) {
        $d =~ s/^-//;                   # ReadWritePaths=-/path: if it exists
        $d =~ s/:.*//;                  # StateDirectory=name:symlink
        push @WRITABLE, $UNIT_BASE{$key} ? "$UNIT_BASE{$key}/$d" : $d;
    }
}
ok((grep { dirname($KB) eq $_ || index(dirname($KB), "$_/") == 0 } @WRITABLE),
   'the knowledge base\'s directory is one the unit lets wachatd write (' . join(' ', @WRITABLE) . ')')
    or diag "$KB: not in any of @WRITABLE";

# make install lays out the same files (the build tree is the package's)
my $STAGE = "$DIR/stage";
($rc, $out) = sh("cd $SRC && make BUILD=debian/build PREFIX=/usr DESTDIR=$STAGE install");
is($rc, 0, 'make install DESTDIR=... PREFIX=/usr') or diag $out;
my @staged = sort map { s{^\Q$STAGE\E}{}r } split /\n/, `find $STAGE ! -type d`;
my @packaged = sort map { m{^/usr/share/man/} ? s/\.gz$//r : $_ }
               grep { !m{^/usr/share/doc/[^/]+/(changelog\.gz|copyright)$}
                      && !m{^/usr/share/lintian/} } @mod_files, @app_files;
is_deeply(\@staged, \@packaged, 'make install lays out the files of the two packages')
    or diag explain { staged => \@staged, packaged => \@packaged };

# --- install -------------------------------------------------------------
# whatever happens next, the test leaves the machine without the packages
my ($INSTALLED, $tconf, $dpid, $npid) = (0, '/etc/wachat/package-test.conf');
END {
    if ($INSTALLED && $$ == $INSTALLED) {
        stop_pid($_) for grep { $_ } $npid, $dpid;
        unlink $tconf;
        dpkg(qw(--purge wachat libnginx-mod-http-wachat));
    }
}
$INSTALLED = $$;
($rc, $out) = dpkg('-i', $MOD_DEB, $APP_DEB);
is($rc, 0, 'dpkg -i both packages') or diag $out;
my @pw = getpwnam('wachat');
ok(@pw && $pw[2] < 1000, 'a wachat system user') or diag explain \@pw;
is($pw[7], '/var/lib/wachat', '... whose home is the state directory');
like($pw[8] // '', qr/nologin$/, '... with no login shell');
for my $f ('/etc/wachat/api.secret', '/etc/wachat/redis.password') {
    my @st = stat $f;
    ok(@st && ($st[2] & 07777) == 0600 && $st[4] == $pw[2], "$f: made by postinst, 0600, owned by wachat")
        or diag sprintf '%o uid %s', $st[2] // 0, $st[4] // '?';
    like(-e $f ? slurp($f) : '', qr/^[0-9a-f]{64}\n\z/, '... 32 random bytes in hex');
}
my @st = stat '/var/lib/wachat';
ok(@st && ($st[2] & 07777) == 0750 && $st[4] == $pw[2], '/var/lib/wachat: 0750, owned by wachat');
@st = stat $KB;
ok(@st && ($st[2] & 07777) == 0640 && $st[4] == $pw[2] && $st[5] == $pw[3],
   "$KB: made by postinst, 0640, owned by wachat:wachat")
    or diag sprintf '%o uid %s gid %s', $st[2] // 0, $st[4] // '?', $st[5] // '?';
is(-e $KB ? slurp($KB) : '', slurp('/usr/share/wachat/kb.md'), '... a copy of the sample');
ok(!-e '/etc/wachat/kb.md' && !-l '/etc/wachat/kb.md', '... and nothing in /etc/wachat');
is(system(qw(setpriv --reuid=wachat --regid=wachat --init-groups -- test -w), dirname($KB)), 0,
   dirname($KB) . ' is writable by wachat (console edits write a file beside the knowledge base)');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-wachat.conf'),
   '/usr/share/nginx/modules-available/mod-http-wachat.conf', 'the module snippet is enabled (dh_nginx)');
is(machine_state()->{listening}, $before->{listening}, 'nothing new listens: no service was started');

SKIP: {
    skip 'no systemd-analyze', 2 unless -x '/usr/bin/systemd-analyze';
    ($rc, $out) = sh('systemd-analyze verify /lib/systemd/system/wachatd.service');
    is($rc, 0, 'systemd-analyze verify passes on the installed unit') or diag $out;
    ($rc, $out) = sh('systemd-analyze security --offline=true /lib/systemd/system/wachatd.service');
    my ($score) = $out =~ /Overall exposure level for wachatd\.service: ([\d.]+)/;
    ok(defined $score && $score <= 2.0, "systemd-analyze security: exposure $score (<= 2.0)")
        or diag $out;
}

# --- run -----------------------------------------------------------------
# Redis with the password postinst made and the README's ACL line
my $pass = slurp('/etc/wachat/redis.password') =~ s/\n\z//r;
my ($acl) = slurp("$ROOT/README.md") =~ /^\s*(user default on >\S+ .*)$/m;
ok($acl, 'the README shows the ACL line') or diag 'no "user default on >..." line in README.md';
my @acl = split ' ', ($acl // 'user default on') =~ s/>\S+/>$pass/r;
shift @acl;
my $redis = start_redis(password => $pass, args => ['--user', @acl]);
my $anon = eval { $redis->new_client(no_auth => 1)->command('PING') };
like("${\ ($anon // $@)}", qr/NOAUTH/, 'the test Redis refuses a client without the password');
my $flush = $redis->cmd('FLUSHALL');
like("$flush", qr/NOPERM/, '... and FLUSHALL with it (the ACL line)');

# the installed wachatd.conf with this Redis's port, a free API port and
# an agent, beside it so that its relative paths (redis.password,
# api.secret) resolve to the installed files
my $api_port = free_port();
my $text = slurp('/etc/wachat/wachatd.conf');
$text =~ s/^redis\s.*$/redis               127.0.0.1:${\ $redis->port}/m or die 'no redis line';
$text =~ s/^api_listen\s.*$/api_listen          127.0.0.1:$api_port/m or die 'no api_listen line';
$text .= "agent alice alice\@example.com\n";
spew($tconf, $text, 0644);
my @as_wachat = ('setpriv', '--reuid=wachat', '--regid=wachat', '--init-groups', '--');

# The unit's ProtectSystem=strict, PrivateTmp=yes without systemd: in a
# mount namespace, the unit's own directories (those that exist) bound on
# themselves, / remounted read-only over them, a fresh /tmp and /var/tmp.
# Where the kernel refuses a mount namespace, commands run as they are.
sub shq (@w) { join ' ', map { "'" . s/'/'\\''/gr . "'" } @w }
my $PROTECT = join ' && ', (map { "{ [ ! -d $_ ] || mount --bind $_ $_; }" } @WRITABLE),
    'mount -o remount,bind,ro /', 'mount -t tmpfs tmpfs /tmp', 'mount -t tmpfs tmpfs /var/tmp',
    'exec "$@"';
my @PROTECT = ('unshare', '--mount', '--propagation', 'private', 'sh', '-c', $PROTECT, 'sh');
(undef, $out) = sh(shq(@PROTECT, 'sh', '-c', 'touch /etc/wachat/.probe; echo etc=$?; '
                   . 'touch /var/lib/wachat/.probe; echo state=$?; rm -f /var/lib/wachat/.probe'));
unlink '/etc/wachat/.probe';
my $SANDBOX = $out =~ /^etc=[1-9]/m && $out =~ /^state=0$/m;
@PROTECT = () unless $SANDBOX;
diag $SANDBOX ? 'wachatd runs with the file system read-only but for ' . join(' ', @WRITABLE)
              : "no mount namespace here: the unit's ProtectSystem=strict is not reproduced ($out)";

($rc, $out) = sh("cd / && WACHAT_CONF=$tconf " . shq(@PROTECT, @as_wachat, split ' ', $exec_pre));
is($rc, 0, "ExecStartPre as wachat: $exec_pre") or diag $out;
is($out, '', '... quiet');

my $dlog = spew("$DIR/wachatd.log", '');
$dpid = spawn(['sh', '-c', 'cd / && exec "$@"', 'sh', @PROTECT, @as_wachat, split ' ', $exec],
              out => $dlog, env => { WACHAT_CONF => $tconf });
my $up = poll_until(sub {
    return 'dead' if defined reaped($dpid);
    slurp($dlog) =~ /started/ ? 'up' : undef;
}, timeout => 20);
is($up, 'up', "ExecStart as wachat: $exec") or diag logs($dlog, $redis->log_file);
unlike(slurp($dlog), qr/running as root/, '... and not as root');

# nginx: the packaged binary, the enabled module snippet, the webhook on a
# free loopback port (Debian's default site and port 80 are left alone).
# Its own prefix stays Debian's (load_module modules/... is relative to
# it); everything it writes is under $NGX.
my $port = free_port();
my $NGX = "$DIR/nginx";
mkdir $NGX; mkdir "$NGX/logs";
my $app_secret = rand_token(32);
spew("$NGX/app.secret", "$app_secret\n", 0600);
my $token = rand_token(16);
spew("$NGX/nginx.conf", <<"EOF");
include /etc/nginx/modules-enabled/*.conf;
user www-data;
worker_processes 1;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log info;
events { worker_connections 64; }
http {
    client_body_temp_path $NGX/body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;
    access_log $NGX/logs/access.log;
    wachat_redis 127.0.0.1:${\ $redis->port} password_file=/etc/wachat/redis.password;
    server {
        listen 127.0.0.1:$port;
        location = /whatsapp {
            wachat;
            wachat_verify_token "$token";
            wachat_app_secret_file $NGX/app.secret;
            client_max_body_size 3m;
        }
        include /usr/share/wachat/nginx/agent.conf;
    }
}
EOF
($rc, $out) = sh("/usr/sbin/nginx -t -c $NGX/nginx.conf");
is($rc, 0, 'nginx -t: the installed module (modules-enabled) and the packaged agent.conf') or diag $out;
$npid = spawn(['/usr/sbin/nginx', '-c', "$NGX/nginx.conf"], out => "$NGX/logs/stderr.log");
my $listening = poll_until(sub {
    return 'dead' if defined reaped($npid);
    my $r = eval { http_request(port => $port, path => "/whatsapp?hub.mode=subscribe&hub.verify_token=$token&hub.challenge=42") };
    $r && $r->{status} == 200 ? 'up' : undef;
}, timeout => 15);
is($listening, 'up', 'nginx answers the verification GET') or diag logs("$NGX/logs/error.log", "$NGX/logs/stderr.log");

my $body = wh_text(text => 'what are your opening hours?');
my $res = http_request(port => $port, method => 'POST', path => '/whatsapp',
    headers => ['Content-Type' => 'application/json',
                'X-Hub-Signature-256' => sign_body($body, $app_secret)],
    body => $body);
is($res->{status}, 200, 'a signed webhook: 200') or diag $res->{body} . logs("$NGX/logs/error.log");
my @replies = eval { outbox_wait($redis, 1, timeout => 20) };
is(scalar @replies, 1, 'wachatd (as wachat) answered it into the sandbox outbox')
    or diag slurp($dlog);
my ($answer) = kb_answers($KB);
like($replies[0]{fields}{text}, qr/^\Q$answer->{hours}\E/, '... with the installed knowledge base\'s opening hours')
    if @replies;

my $api = http_request(port => $api_port, path => '/api/conversations');
is($api->{status}, 403, 'the agent API refuses a request that does not come through nginx');

# An agent adds a phrasing from the console (POST /api/kb/also, what nginx
# passes on): wachatd, as wachat and sandboxed, writes the knowledge base
# and answers from it.  (With the knowledge base in /etc/wachat, this was
# 503 kb_unwritable.)
my $JSON = JSON::PP->new->utf8->canonical;
my @agent = ('X-Wachat-Agent' => 'alice',
             'X-Wachat-Proxy-Secret' => slurp('/etc/wachat/api.secret') =~ s/\n\z//r);
my $PHRASE = 'flumox wibble';
$res = http_request(port => $api_port, path => '/api/kb', headers => \@agent);
my $kbv = eval { $JSON->decode($res->{body}) } // {};
ok($kbv->{editable}, 'GET /api/kb: alice may edit the knowledge base (kb_editors *)') or diag $res->{body};
$res = http_request(port => $api_port, method => 'POST', path => '/api/kb/also',
    headers => [@agent, 'Content-Type' => 'application/json'],
    body => $JSON->encode({ id => 'hours', also => [$PHRASE], version => $kbv->{version} // '' }));
is($res->{status}, 200, "POST /api/kb/also: a new phrasing of #hours is written") or diag $res->{body} . logs($dlog);
like(slurp($KB), qr/^Also: .*\Q$PHRASE\E/m, "... into $KB");
@st = stat $KB;
ok(@st && $st[4] == $pw[2], '... which wachat still owns');
ok(-e "$KB.bak", '... with the previous one beside it (kb.md.bak)');
ok(poll_until(sub { slurp($dlog) =~ /api: agent alice rephrased #hours in the knowledge base \Q$KB\E/ }, timeout => 10),
   '... logged') or diag slurp($dlog);
$body = wh_text(from => '4479990077', text => $PHRASE);
$res = http_request(port => $port, method => 'POST', path => '/whatsapp',
    headers => ['Content-Type' => 'application/json',
                'X-Hub-Signature-256' => sign_body($body, $app_secret)],
    body => $body);
@replies = eval { outbox_wait($redis, 2, timeout => 20) };
like(@replies == 2 ? $replies[1]{fields}{text} : '', qr/^\Q$answer->{hours}\E/,
     "a customer who writes '$PHRASE' gets the opening hours: wachatd reloaded it") or diag slurp($dlog);

($rc, $out) = sh("cd / && WACHAT_CONF=$tconf " . shq(@PROTECT, @as_wachat, '/usr/bin/wachatctl', 'doctor'));
like($out, qr/^ok\s+running as wachat \(uid \d+\), not root/m, 'wachatctl doctor as wachat: not root');
like($out, qr/^ok\s+redis refuses clients without a password/m, '... Redis needs the password');
like($out, qr/^ok\s+group wachatd: 1 consumers/m, '... the group has its consumer') or diag $out;
like($out, qr/^ok\s+kb_editors: \/var\/lib\/wachat is writable by wachat/m,
     '... the console\'s edits of the knowledge base can be written') or diag $out;

stop_pid($npid);
stop_pid($dpid);
like(slurp($dlog), qr/wachatd stopped/, 'wachatd stopped on SIGTERM');
unlink $tconf;

# --- upgrade and remove, as the README tells them ------------------------------
my $secret = slurp('/etc/wachat/api.secret');
open my $kb, '>>', $KB or die "$KB: $!";
print {$kb} "\n## Edited here {#edited-here}\nKept across upgrades.\n";
close $kb;
($rc, $out) = dpkg('-i', $MOD_DEB, $APP_DEB);
is($rc, 0, 'installing the packages again (the upgrade path)') or diag $out;
like(slurp($KB), qr/\{#edited-here\}/, "... keeps the edited knowledge base ($KB)");
like(slurp($KB), qr/^Also: .*\Q$PHRASE\E/m, '... and the agent\'s phrasing');
is(slurp('/etc/wachat/api.secret'), $secret, '... and the secret postinst made');

($rc, $out) = dpkg(qw(--remove wachat libnginx-mod-http-wachat));
is($rc, 0, 'dpkg --remove both') or diag $out;
ok(!-e '/usr/sbin/wachatd' && !-e '/usr/lib/nginx/modules/ngx_http_wachat_module.so',
   '... the programs and the module are gone');
ok(-e '/etc/wachat/wachatd.conf' && -e '/etc/wachat/api.secret' && getpwnam('wachat'),
   '... the config, the secrets and the user stay');
like(-e $KB ? slurp($KB) : '', qr/\{#edited-here\}/, '... and the knowledge base');
ok(!-e '/etc/nginx/modules-enabled/50-mod-http-wachat.conf'
   && -l '/etc/nginx/modules-enabled/50-mod-http-wachat.conf.removed',
   '... the module\'s link is set aside (.removed), as dh_nginx does');

# --- purge -----------------------------------------------------------------
sub purge_as_before ($what) {
    my ($rc, $out) = dpkg(qw(--purge wachat libnginx-mod-http-wachat));
    is($rc, 0, "$what: dpkg --purge both") or diag $out;
    $INSTALLED = 0;
    my $after = machine_state();
    for my $k (sort keys %$before) {
        is($after->{$k}, $before->{$k}, "$what: after the purge, $k as before")
            or diag explain { before => [split /\n/, $before->{$k}], after => [split /\n/, $after->{$k}] };
    }
}
purge_as_before('installed, run, upgraded, removed');

# --- the upgrade from 0.2.0 --------------------------------------------------
# 0.2.0 shipped the knowledge base as the conffile /etc/wachat/kb.md, and
# its wachatd.conf said "kb kb.md".  Rebuilt here from this package: the
# version, that conffile and that line put back.  (Its maintainer scripts
# are this package's, whose postinst also copies the knowledge base to
# /var/lib/wachat: removed after the install, as 0.2.0 never made it.)
my $OLD_VERSION = '0.2.0';
is(system('dpkg', '--compare-versions', $OLD_VERSION, 'lt', $VERSION), 0, "$OLD_VERSION is older than $VERSION");
my $OLD = "$DIR/old";
($rc, $out) = sh("dpkg-deb -R $APP_DEB $OLD");
is($rc, 0, "wachat $OLD_VERSION: unpacked from $VERSION") or diag $out;
spew("$OLD/DEBIAN/control", slurp("$OLD/DEBIAN/control") =~ s/^Version: .*$/Version: $OLD_VERSION/mr);
spew("$OLD/DEBIAN/conffiles", "/etc/wachat/kb.md\n" . slurp("$OLD/DEBIAN/conffiles"));
chmod 0644, "$OLD/DEBIAN/control", "$OLD/DEBIAN/conffiles";
spew("$OLD/etc/wachat/kb.md", slurp("$OLD/usr/share/wachat/kb.md"), 0644);
spew("$OLD/etc/wachat/wachatd.conf",
     slurp("$OLD/etc/wachat/wachatd.conf") =~ s/^kb\s.*$/kb                  kb.md/mr, 0644);
my $OLD_DEB = "$DIR/wachat_${OLD_VERSION}_$ARCH.deb";
($rc, $out) = sh("dpkg-deb --root-owner-group -b $OLD $OLD_DEB");
is($rc, 0, "wachat $OLD_VERSION: built") or diag $out;

sub install_old () {
    $INSTALLED = $$;
    my ($rc, $out) = dpkg('-i', $MOD_DEB, $OLD_DEB);
    unlink $KB;
    return ($rc, $out);
}

# the business edited the knowledge base and the config, and keeps its
# config when dpkg asks (--force-confold answers for it)
($rc, $out) = install_old();
is($rc, 0, "edited: wachat $OLD_VERSION installed") or diag $out;
like(`dpkg-query -W -f '\${Conffiles}' wachat`, qr{^ /etc/wachat/kb\.md [0-9a-f]{32}$}m,
     '... with /etc/wachat/kb.md a conffile');
open $kb, '>>', '/etc/wachat/kb.md' or die "/etc/wachat/kb.md: $!";
print {$kb} "\n## Edited in 0.2.0 {#edited-old}\nMoved on the upgrade.\n";
close $kb;
open my $conf, '>>', '/etc/wachat/wachatd.conf' or die "wachatd.conf: $!";
print {$conf} "agent bob bob\@example.com\n";
close $conf;
my $edited = slurp('/etc/wachat/kb.md');
($rc, $out) = dpkg('--force-confold', '-i', $MOD_DEB, $APP_DEB);
is($rc, 0, "edited: the upgrade to $VERSION, keeping the config") or diag $out;
is(-e $KB ? slurp($KB) : '', $edited, "... copies the edited knowledge base to $KB");
@st = stat $KB;
@pw = getpwnam('wachat');
ok(@st && ($st[2] & 07777) == 0640 && $st[4] == $pw[2], '... 0640, owned by wachat');
is(-e '/etc/wachat/kb.md.dpkg-bak' ? slurp('/etc/wachat/kb.md.dpkg-bak') : '', $edited,
   '... keeps the old one as /etc/wachat/kb.md.dpkg-bak (rm_conffile)');
like($out, qr/Obsolete conffile \/etc\/wachat\/kb\.md has been modified by you/, '... and says so');
is(readlink('/etc/wachat/kb.md'), $KB, "... /etc/wachat/kb.md, which the kept config names, is a link to $KB");
like($out, qr/wachatd\.conf still names \/etc\/wachat\/kb\.md, now a link to \Q$KB\E: set "kb \Q$KB\E" there/,
     '... and postinst says to change the config') or diag $out;
unlike(`dpkg-query -W -f '\${Conffiles}' wachat`, qr{^ /etc/wachat/kb\.md [0-9a-f]+$}m,
       '... which is no longer a conffile');
($rc, $out) = sh("cd / && " . shq(@PROTECT, @as_wachat, split ' ', $exec_pre));
is($rc, 0, '... the kept config still passes ExecStartPre: wachatd starts') or diag $out;
$text = slurp('/etc/wachat/wachatd.conf');
like($text, qr/^kb\s+kb\.md$/m, '... (the config was kept)');
# (postinst made a new Redis password: a Redis of its own for doctor)
my $redis2 = start_redis(password => slurp('/etc/wachat/redis.password') =~ s/\n\z//r);
$text =~ s/^redis\s.*$/redis               127.0.0.1:${\ $redis2->port}/m;
$text =~ s/^api_listen\s.*$/api_listen          127.0.0.1:$api_port/m;
spew($tconf, $text, 0644);
($rc, $out) = sh("cd / && WACHAT_CONF=$tconf " . shq(@PROTECT, @as_wachat, '/usr/bin/wachatctl', 'doctor'));
like($out, qr/^warn\s+kb_editors lets agents edit the knowledge base, but \/etc\/wachat is not writable by wachat: edits from the console will fail/m,
     '... and wachatctl doctor warns that the console cannot edit it') or diag $out;
unlink $tconf;
$redis2->stop;
purge_as_before('edited, upgraded from 0.2.0');

# nothing edited: dpkg replaces the config, the sample is copied afresh
($rc, $out) = install_old();
is($rc, 0, "untouched: wachat $OLD_VERSION installed") or diag $out;
($rc, $out) = dpkg('-i', $MOD_DEB, $APP_DEB);
is($rc, 0, "untouched: the upgrade to $VERSION") or diag $out;
is(-e $KB ? slurp($KB) : '', slurp('/usr/share/wachat/kb.md'), "... $KB is the sample");
ok(!-e '/etc/wachat/kb.md' && !-l '/etc/wachat/kb.md' && !-e '/etc/wachat/kb.md.dpkg-bak',
   '... nothing is left of /etc/wachat/kb.md');
like(slurp('/etc/wachat/wachatd.conf'), qr/^kb\s+\Q$KB\E$/m, "... and the new config names $KB");
purge_as_before('untouched, upgraded from 0.2.0');

diag sprintf 'package test: %.0f s', time - $T0;
done_testing();
