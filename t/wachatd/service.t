#!/usr/bin/perl
# wachatd and wachatctl as a service runs them: relative paths of the config
# start at the config file's directory (whatever the working directory),
# WACHAT_CONF names the config when -c does not, `wachatd -t -q` prints
# errors only, `wachatctl -v` and `wachatctl help` need no config, a
# wachatd started as root says so, log lines written to the journal carry
# "<N>" priorities and no time of their own, systemd hears READY=1 once
# wachatd answers (Type=notify), and `wachatctl doctor` warns about root
# and about a Redis that needs no password.

use v5.36;
use lib 't/lib';

use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(time sleep);

use Wachat::Process qw(free_port poll_until reaped spawn stop_pid tmpdir);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::Redis qw(start_redis);
use Wachat::Daemon qw(start_wachatd wachatd_binary wachatctl_binary);

my $ROOT = root_dir();
my $DIR = tmpdir('service');
my $WACHATD = wachatd_binary();
my $WACHATCTL = wachatctl_binary();

# Runs a program in $o{cwd} (default /) with $o{env} added and WACHAT_CONF
# removed unless given; returns { exit, out, err }.
my $RUNS = 0;
sub run (%o) {
    my $n = ++$RUNS;
    my ($out, $err) = ("$DIR/run$n.out", "$DIR/run$n.err");
    if ($o{journal}) {      # stderr's own device:inode stand for the journal
        spew($err, '');
        my @st = stat $err;
        $o{env}{JOURNAL_STREAM} = "$st[0]:$st[1]";
    }
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        chdir($o{cwd} // '/') or POSIX::_exit(126);
        delete $ENV{WACHAT_CONF};
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        { no warnings qw(exec); exec { $o{argv}[0] } @{ $o{argv} }; }
        POSIX::_exit(127);
    }
    my $st = poll_until(sub { my $s = reaped($pid); defined $s ? [$s] : undef },
                        timeout => $o{timeout} // 15);
    unless ($st) { kill 'KILL', $pid; waitpid($pid, 0); $st = [-1] }
    return { exit => $st->[0] == -1 ? 'timeout' : $st->[0] >> 8,
             out => slurp($out), err => slurp($err) };
}

my $redis = start_redis();
my $port = $redis->port;
my $api_port = free_port();

# A config directory as the packages lay it out: the config, its knowledge
# base and the API secret side by side, all named relatively.
my $etc = "$DIR/etc";
mkdir $etc or die "mkdir $etc: $!";
spew("$etc/kb.md", slurp("$ROOT/conf/kb.md"));
spew("$etc/api.secret", ('s' x 40) . "\n", 0600);
my $conf = spew("$etc/wachatd.conf", <<"EOF");
redis 127.0.0.1:$port
kb kb.md
outbound sandbox
api_listen 127.0.0.1:$api_port
api_secret_file ./api.secret
consumer service-t
EOF

subtest 'relative paths start at the config file, not at the working directory' => sub {
    my $r = run(argv => [$WACHATD, '-t', '-c', $conf]);
    is($r->{exit}, 0, 'wachatd -t from / accepts kb kb.md') or diag $r->{err};
    like($r->{out}, qr/^kb\s+\Q$etc\E\/kb\.md$/m, 'kb is the one beside the config (absolute in the dump)');
    like($r->{out}, qr/^api_secret_file\s+\Q$etc\E\/api\.secret\s/m, '... and so is a secret file (./ dropped)');
    like($r->{out}, qr/^media_dir\s+\Q$etc\E\/media\s*$/m, '... and the media store (its default, media, beside the config)');
    like($r->{out}, qr/\nwachatd: the configuration file \Q$conf\E syntax is ok\n/, 'syntax is ok');
    like($r->{out}, qr/\nwachatd: configuration file \Q$conf\E test is successful\n\z/, 'test is successful, last, as nginx -t');

    my $rel = run(argv => [$WACHATD, '-t', '-c', 'etc/wachatd.conf'], cwd => $DIR);
    is($rel->{exit}, 0, 'a config named relatively works too') or diag $rel->{err};
    like($rel->{out}, qr/^kb\s+\Q$etc\E\/kb\.md$/m, '... with the same absolute kb');

    my $miss = run(argv => [$WACHATD, '-t', '-c', $conf], cwd => $ROOT);
    is($miss->{exit}, 0, 'from the repository (which has conf/kb.md, not kb.md) too');
};

subtest 'wachatd -t -q: errors only' => sub {
    my $r = run(argv => [$WACHATD, '-t', '-q', '-c', $conf]);
    is($r->{exit}, 0, 'a good config: exit 0');
    is($r->{out} . $r->{err}, '', '... and not a byte of output');

    my $bad = spew("$etc/bad.conf", "kb kb.md\noutbound sandbox\nstrem x\n");
    $r = run(argv => [$WACHATD, '-t', '-q', '-c', $bad]);
    is($r->{exit}, 1, 'a bad config: exit 1');
    is($r->{out}, '', '... nothing on stdout');
    is($r->{err}, "wachatd: $bad:3: unknown key \"strem\" (did you mean \"stream\"?)\n",
       '... the error on stderr');

    $r = run(argv => [$WACHATD, '-t', '-q', '-c', $bad], journal => 1);
    is($r->{err}, "<3>wachatd: $bad:3: unknown key \"strem\" (did you mean \"stream\"?)\n",
       '... with stderr the journal, as an error (<3>), so journalctl -p err shows it');

    my $nokb = spew("$etc/nokb.conf", "kb nothere.md\noutbound sandbox\n");
    $r = run(argv => [$WACHATD, '-t', '-q', '-c', $nokb]);
    is($r->{exit}, 1, 'a missing knowledge base: exit 1');
    like($r->{err}, qr/\Q$etc\E\/nothere\.md/, '... naming it by its absolute path');
};

subtest 'WACHAT_CONF names the config of both programs' => sub {
    my $r = run(argv => [$WACHATD, '-t'], env => { WACHAT_CONF => $conf });
    is($r->{exit}, 0, 'wachatd -t without -c reads $WACHAT_CONF') or diag $r->{err};
    like($r->{out}, qr/^# wachatd config from \Q$conf\E$/m, '... and names it');

    $r = run(argv => [$WACHATD, '-t', '-c', "$etc/bad.conf"], env => { WACHAT_CONF => $conf });
    is($r->{exit}, 1, '-c wins over $WACHAT_CONF');

    $r = run(argv => [$WACHATCTL, 'conversations'], env => { WACHAT_CONF => $conf });
    is($r->{exit}, 0, 'wachatctl conversations without -c reads $WACHAT_CONF') or diag $r->{err};
    like($r->{out}, qr/^CONVERSATION\s+NAME/, '... and lists (none yet)');

    $r = run(argv => [$WACHATCTL, 'conversations']);
    is($r->{exit}, 1, 'without either, wachatctl looks for the built-in default');
    like($r->{err}, qr/^wachatctl: cannot open \S*wachatd\.conf: No such file/, '... and says it is not there');
};

subtest 'wachatctl -v and help need no config and no Redis' => sub {
    my $r = run(argv => [$WACHATCTL, '-v']);
    is($r->{exit}, 0, 'wachatctl -v: exit 0');
    like($r->{out}, qr/^wachatctl \d+\.\d+\.\d+\n\z/, '... the version');

    my $d = run(argv => [$WACHATD, '-v']);
    ($d->{out} =~ /^wachatd (\S+)/ && $r->{out} =~ /^wachatctl (\S+)/)
        ? is((split ' ', $r->{out})[1], (split ' ', $d->{out})[1], 'the same version as wachatd')
        : fail('wachatd -v prints a version');

    $r = run(argv => [$WACHATCTL, 'help'], env => { WACHAT_CONF => '/nonexistent/x.conf' });
    is($r->{exit}, 0, 'wachatctl help with an unreadable config: exit 0');
    like($r->{out}, qr/^usage: wachatctl /, '... the usage');
    like($r->{out}, qr/^  doctor /m, '... every command, doctor included');
    is($r->{err}, '', '... nothing on stderr');
};

# Starts wachatd with $conf, stdout and stderr into $log; %env added.
sub start_raw ($log, %env) {
    my $pid = spawn([$WACHATD, '-c', $conf], out => $log, env => \%env);
    my $ok = poll_until(sub {
        return 'dead' if defined reaped($pid);
        -e $log && slurp($log) =~ /started/ ? 'up' : undef;
    }, timeout => 15);
    is($ok, 'up', 'wachatd started') or diag slurp($log);
    return $pid;
}

subtest 'root and the journal' => sub {
    my $log = "$DIR/plain.log";
    my $pid = start_raw($log, JOURNAL_STREAM => '1:1');
    stop_pid($pid);
    my $text = slurp($log);
    like($text, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \d+ notice: wachatd \S+ started/m,
         'JOURNAL_STREAM naming another stream: plain lines with time and pid');
    if ($> == 0) {
        like($text, qr/ warning: running as root: run wachatd as an unprivileged user/,
             'as root: a warning at start');
    } else {
        unlike($text, qr/running as root/, 'not root: no warning');
    }

    # stderr is a file here: its own device and inode stand for the journal
    my $jlog = "$DIR/journal.log";
    spew($jlog, '');
    my @st = stat $jlog;
    $pid = start_raw($jlog, JOURNAL_STREAM => "$st[0]:$st[1]");
    kill 'HUP', $pid;
    poll_until(sub { slurp($jlog) =~ /reloaded/ }, timeout => 10);
    stop_pid($pid);
    my @lines = split /\n/, slurp($jlog);
    ok(@lines >= 3, 'lines in the journal') or diag slurp($jlog);
    is(scalar(grep { !/^<[3-7]>(debug|info|notice|warning|error): / } @lines), 0,
       'every line starts with <N>level:, and no time') or diag slurp($jlog);
    ok((grep { /^<5>notice: wachatd \S+ started: consumer service-t/ } @lines),
       'notice is priority 5');
    ok((grep { /^<5>notice: reloaded / } @lines), 'the reload too');
    ok(!($> == 0) || (grep { /^<4>warning: running as root/ } @lines),
       'warning is priority 4 (journalctl -p warning shows it)');
};

SKIP: {
    my $ldd = `ldd $WACHATD 2>/dev/null`;
    skip 'wachatd built without libsystemd (no libsystemd-dev): no sd_notify', 1
        unless $ldd =~ /libsystemd/;

    subtest 'sd_notify: READY=1 once it answers, RELOADING=1 / READY=1, STOPPING=1' => sub {
        my $path = "$DIR/notify.sock";
        my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
            or die "notify socket: $!";
        my $log = "$DIR/notify.log";
        my $t0 = time;
        my $pid = start_raw($log, NOTIFY_SOCKET => $path);
        my @got;
        my $recv = sub ($want) {
            poll_until(sub {
                my $rin = '';
                vec($rin, fileno($sock), 1) = 1;
                while (select(my $r = $rin, undef, undef, 0) > 0) {
                    my $buf;
                    $sock->recv($buf, 4096);
                    push @got, $buf;
                }
                grep { /$want/ } @got;
            }, timeout => 10);
        };
        ok($recv->(qr/^READY=1$/m), 'READY=1') or diag explain \@got;
        like(slurp($log), qr/started: consumer service-t of group wachatd/,
             '... sent once started (Redis up, group created)');
        @got = ();
        kill 'HUP', $pid;
        ok($recv->(qr/^READY=1$/m), 'SIGHUP: READY=1 again after the reload');
        is($got[0], 'RELOADING=1', '... after RELOADING=1');
        @got = ();
        kill 'TERM', $pid;
        ok($recv->(qr/^STOPPING=1$/m), 'SIGTERM: STOPPING=1');
        stop_pid($pid);
    };
}

subtest 'doctor: root, and a Redis that needs no password' => sub {
    my $r = run(argv => [$WACHATCTL, '-c', $conf, 'doctor']);
    like($r->{out}, qr/^warn\s+redis answers clients without a password/m,
         'a Redis without password: warned') or diag $r->{out};
    if ($> == 0) {
        like($r->{out}, qr/^warn\s+running as root/m, 'as root: warned');
    } else {
        like($r->{out}, qr/^ok\s+running as \S+ \(uid \d+\), not root/m, 'not root: ok');
    }

    my $pw = 'p' . join '', map { int rand 10 } 1 .. 20;
    my $locked = start_redis(password => $pw);
    spew("$etc/redis.password", "$pw\n", 0600);
    my $lport = $locked->port;
    my $lconf = spew("$etc/locked.conf", <<"EOF");
redis 127.0.0.1:$lport
redis_password_file redis.password
kb kb.md
outbound sandbox
EOF
    $r = run(argv => [$WACHATCTL, '-c', $lconf, 'doctor']);
    like($r->{out}, qr/^ok\s+redis answers$/m, 'with redis_password_file (beside the config): redis answers')
        or diag $r->{out} . $r->{err};
    like($r->{out}, qr/^ok\s+redis refuses clients without a password/m, '... and refuses strangers');
    unlike($r->{out}, qr/\Q$pw\E/, 'the password is printed nowhere');
};

# Redis 6 ACLs: the default user off, wachat a user of its own. redis_user
# must reach AUTH on both links: the synchronous one (wachatctl doctor,
# wachatd's scripts) and the async one (wachatd's stream reader).
subtest 'redis_user: an ACL user, the default user off' => sub {
    my $pw = 'u' . join '', map { int rand 10 } 1 .. 20;
    my $acl = start_redis(args => ['--user', 'default', 'off',
                                   '--user', 'wachat', 'on', ">$pw", '~*', '&*', '+@all']);
    spew("$etc/acl.password", "$pw\n", 0600);
    my $aport = $acl->port;
    my $aapi = free_port();
    my $aconf = spew("$etc/acl.conf", <<"EOF");
redis 127.0.0.1:$aport
redis_user wachat
redis_password_file acl.password
kb kb.md
outbound sandbox
api_listen 127.0.0.1:$aapi
api_secret_file ./api.secret
consumer acl-t
EOF
    my $r = run(argv => [$WACHATCTL, '-c', $aconf, 'doctor']);
    like($r->{out}, qr/^ok\s+redis answers$/m, 'wachatctl doctor: AUTH wachat <password> answers')
        or diag $r->{out} . $r->{err};
    like($r->{out}, qr/^ok\s+redis refuses clients without a password/m,
         '... and the default user is refused');
    unlike($r->{out} . $r->{err}, qr/\Q$pw\E/, 'the password is printed nowhere');

    my $log = spew("$DIR/acl-wachatd.log", '');
    my $pid = spawn([$WACHATD, '-c', $aconf], out => $log);
    my $up = poll_until(sub {
        return 'dead' if defined reaped($pid);
        slurp($log) =~ /started/ ? 'up' : undef;
    }, timeout => 20);
    is($up, 'up', 'wachatd starts as the ACL user') or diag slurp($log);
    my $group = poll_until(sub {
        my $c = eval { $acl->new_client(no_auth => 1, timeout => 2) } or return;
        my $info = eval { $c->command('AUTH', 'wachat', $pw);
                          $c->command('XINFO', 'GROUPS', 'wachat:events') };
        $c->close;
        ref $info eq 'ARRAY' && @$info ? 'group' : undef;
    }, timeout => 20);
    is($group, 'group', '... and its stream reader (the async link) made its consumer group')
        or diag slurp($log);
    unlike(slurp($log), qr/NOAUTH|WRONGPASS|AUTH failed/, '... no AUTH error logged');
    stop_pid($pid);
};

done_testing();
