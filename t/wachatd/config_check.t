#!/usr/bin/perl
# wachatd -t -c <conf>: the config and the knowledge base are tested like
# nginx -t.  Good ones exit 0 and print the effective config with secrets
# shown by where they come from, never by value; bad ones exit 1 with one
# exact "wachatd: file:line: reason" line on stderr.  And a wachatd whose
# Redis cannot be reached exits non-zero at once, saying so, while one whose
# Redis is still loading its dataset waits for it.

use v5.36;
use utf8;
use lib 't/lib';

use POSIX ();
use File::Copy ();
use Test::More;
use Time::HiRes qw(time);

use Wachat::Process qw(free_port poll_until reaped tmpdir);
use Wachat::Files qw(root_dir slurp spew);
use Wachat::Redis qw(start_redis);
use Wachat::Webhook qw(rand_token);
use Wachat::Daemon qw(start_wachatd wachatd_binary);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $ROOT = root_dir();
my $FIX = "$ROOT/t/fixtures/kb";
my $SHOP = "$FIX/shop.md";
my $DIR = tmpdir('consumer-config');

# Runs build/wachatd with @args, in $o{cwd} (default the repository), with
# extra environment $o{env}; stdout and stderr apart.  Bounded: killed
# after $o{timeout} seconds.  Returns { status, exit, out, err, took }.
my $RUNS = 0;
sub wachatd (%o) {
    my $n = ++$RUNS;
    my ($out, $err) = ("$DIR/run$n.out", "$DIR/run$n.err");
    my $t0 = time;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        chdir($o{cwd} // $ROOT) or POSIX::_exit(126);
        delete @ENV{qw(WACHAT_T_GRAPH_TOKEN WACHAT_T_LLM_KEY)};
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        my @argv = (wachatd_binary(), @{ $o{args} });
        { no warnings qw(exec); exec { $argv[0] } @argv; }
        POSIX::_exit(127);
    }
    my $status = poll_until(sub {
        my $s = reaped($pid);
        defined $s ? [$s] : undef;
    }, timeout => $o{timeout} // 10);
    unless ($status) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $status = [-1];
    }
    my $r = { status => $status->[0], took => time - $t0,
              out => slurp($out), err => slurp($err) };
    utf8::decode($r->{out});
    utf8::decode($r->{err});
    $r->{exit} = $r->{status} == -1 ? 'timeout'
               : $r->{status} & 127 ? 'signal ' . ($r->{status} & 127)
               : $r->{status} >> 8;
    return $r;
}

my $CONFS = 0;
sub conf_file ($text, $mode = 0644) {
    my $path = "$DIR/c" . ++$CONFS . '.conf';
    spew($path, $text);
    chmod $mode, $path;
    return $path;
}

sub secret_file ($name, $value, $mode) {
    my $path = "$DIR/$name";
    spew($path, "$value\n");
    chmod $mode, $path or die "chmod $path: $!";
    return $path;
}

# the 1-based line of a file that matches $re
sub line_of ($path, $re) {
    my $text = slurp($path);
    utf8::decode($text);
    my @l = split /\n/, $text;
    for my $i (0 .. $#l) { return $i + 1 if $l[$i] =~ $re }
    die "$path: no line matches $re";
}

# A bad config: exit 1, nothing on stdout, exactly this line on stderr.
sub refused ($what, $conf, $line, $reason, %o) {
    my $r = wachatd(args => ['-t', '-c', $conf], %o);
    my $want = "wachatd: $conf:" . (defined $line ? "$line: " : ' ') . "$reason\n";
    subtest $what => sub {
        is($r->{exit}, 1, 'exit status 1');
        is($r->{err}, $want, 'stderr: file:line: reason');
        is($r->{out}, '', 'nothing on stdout');
    };
    return $r;
}

sub accepted ($what, $conf, %o) {
    my $r = wachatd(args => ['-t', '-c', $conf], %o);
    ok($r->{exit} eq '0' && $r->{out} =~ /\Qwachatd: the configuration file $conf syntax is ok\E\n\Qwachatd: configuration file $conf test is successful\E\n\z/,
       "$what: accepted") or diag "exit $r->{exit}\nstdout: $r->{out}\nstderr: $r->{err}";
    return $r;
}

my $BASE = "kb $SHOP\noutbound sandbox\n";      # lines 1 and 2 of most confs


# --- the shipped example ------------------------------------------------------

{
    my $r = wachatd(args => ['-t', '-c', 'conf/wachatd.conf']);
    is($r->{exit}, 0, 'conf/wachatd.conf (the shipped example) passes -t')
        or diag $r->{err};
    is($r->{err}, '', '... with nothing on stderr');
    like($r->{out}, qr/^# wachatd config from conf\/wachatd\.conf\n/, '... names the file');
    like($r->{out}, qr/\n# knowledge base \Q$ROOT\E\/conf\/kb\.md: [1-9]\d* entries\n/,
         '... and the knowledge base it loaded, with its entry count');
    like($r->{out}, qr/\nwachatd: the configuration file conf\/wachatd\.conf syntax is ok\n/,
         '... says the syntax is ok');
    like($r->{out}, qr/\nwachatd: configuration file conf\/wachatd\.conf test is successful\n\z/,
         '... and that the test is successful, last (as nginx -t)');

    # the effective config: every documented key, with its value
    my %dump;
    for (split /\n/, $r->{out}) {
        if (/^([a-z_]+)\s+(.*?)\s*$/) { $dump{$1} = $2 }
        elsif (/^# ([a-z_]+): (.*)$/) { $dump{"#$1"} = $2 }
    }
    my @missing;
    for (split /\n/, slurp("$ROOT/docs/config.md")) {
        next unless /^\| `([a-z_]+)`(?: \/ `([a-z_]+)`)? \|/;
        my ($key, $alt) = ($1, $2);
        if ($alt) {             # a secret: <name>_file / <name>_env
            (my $name = $key) =~ s/_file$//;
            push @missing, $key unless exists $dump{$key} || exists $dump{$alt}
                                    || exists $dump{"#$name"};
        } else {
            push @missing, $key unless exists $dump{$key} || exists $dump{"#$key"};
        }
    }
    is(scalar @missing, 0, 'every key of docs/config.md is in the printed config')
        or diag "missing: @missing";
    is($dump{outbound}, 'sandbox', 'outbound sandbox, as shipped');
    is($dump{backend}, 'kb', 'backend kb, as shipped');
    is($dump{claim_idle}, '1m', 'claim_idle 60s shown as its effective value');
    is($dump{'#graph_token'}, '<not set>', 'an unset secret says so');
}


# --- secrets: from a file or the environment, never shown ---------------------

{
    my $token = 'EAAGtestTOKEN0123456789abcdef';
    my $key = 'sk-test-LLMKEY-9876543210';
    my $pw = 'redis-PASSWORD-42';
    my $tf = secret_file('graph_token', $token, 0600);
    my $pf = secret_file('redis_password', $pw, 0400);       # read-only is fine
    my $conf = conf_file(<<"EOF");
kb $SHOP
outbound graph
graph_token_file $tf
redis_password_file $pf
backend openai
llm_url http://127.0.0.1:9/v1
llm_model test-model
llm_key_env WACHAT_T_LLM_KEY
EOF
    my $r = accepted('graph + openai with secrets from a file and the environment',
                     $conf, env => { WACHAT_T_LLM_KEY => $key });
    like($r->{out}, qr/^graph_token_file\s+\Q$tf\E\s+# <secret from file \Q$tf\E>$/m,
         'the Graph token shown by its file');
    like($r->{out}, qr/^redis_password_file\s+\Q$pf\E\s+# <secret from file \Q$pf\E>$/m,
         'the Redis password shown by its file');
    like($r->{out}, qr/^llm_key_env\s+WACHAT_T_LLM_KEY\s+# <secret from env WACHAT_T_LLM_KEY>$/m,
         'the LLM key shown by its variable');
    for ([token => $token], [key => $key], [password => $pw]) {
        my ($n, $v) = @$_;
        unlike($r->{out} . $r->{err}, qr/\Q$v\E/, "the ${n}'s value is printed nowhere");
    }

    # the same with the variable unset
    refused('a secret variable that is not set', $conf, 8,
            'llm_key_env: environment variable WACHAT_T_LLM_KEY is not set');
}


# --- bad configs: file:line: reason -------------------------------------------

refused('unknown key, with a suggestion', conf_file("${BASE}claim_idel 2s\n"), 3,
        'unknown key "claim_idel" (did you mean "claim_idle"?)');
refused('unknown key, another suggestion', conf_file("${BASE}fallback_txt hi\n"), 3,
        'unknown key "fallback_txt" (did you mean "fallback_text"?)');
refused('bad duration', conf_file("${BASE}claim_idle 2x\n"), 3,
        'claim_idle: "2x" is not a duration (use 500ms, 20s, 2m)');
refused('duration out of range', conf_file("${BASE}shutdown_timeout 2h\n"), 3,
        'shutdown_timeout: "2h" is out of range (0s..1h)');
refused('duration without a value', conf_file("${BASE}claim_idle\n"), 3,
        'claim_idle: missing value');
refused('a key set twice', conf_file("${BASE}# comment\nclaim_idle 2s\nclaim_idle 3s\n"), 5,
        'claim_idle: already set at line 4 (each key may appear once)');
refused('bad redis address', conf_file("${BASE}redis 127.0.0.1\n"), 3,
        'redis: "127.0.0.1" is not host:port or unix:/path');
refused('sentinels without master=', conf_file("${BASE}redis sentinel=127.0.0.1:26379\n"), 3,
        'redis: sentinel= and master= go together');
refused('an address and sentinels',
        conf_file("${BASE}redis 127.0.0.1:6379 sentinel=127.0.0.1:26379 master=w\n"), 3,
        'redis: an address or sentinel=, not both');
refused('a bad sentinel address', conf_file("${BASE}redis sentinel=127.0.0.1:26379,x master=w\n"), 3,
        'redis: sentinel "x" is not host:port');
refused('bad enum', conf_file("${BASE}verbosity loud\n"), 3,
        'verbosity: "loud" is not one of debug, info, notice, warning');
refused('unterminated quote', conf_file(qq{${BASE}fallback_text "oops\n}), 3,
        'unterminated quoted value');

# required keys
refused('outbound graph without a token', conf_file("kb $SHOP\n\noutbound graph\n"), 3,
        'outbound graph needs graph_token_file or graph_token_env '
        . '(or use "outbound sandbox" to try without Meta)');
refused('backend openai without llm_url', conf_file("${BASE}backend openai\nllm_model m\n"), 3,
        'backend openai needs llm_url (the base URL of an OpenAI-compatible API)');

# secrets inline: refused
refused('inline Graph token', conf_file("kb $SHOP\noutbound graph\ngraph_token EAAGinline\n"), 3,
        'graph_token: secrets are not accepted inline; use graph_token_file <path> '
        . 'or graph_token_env <VARIABLE>');
refused('inline LLM key', conf_file("${BASE}llm_key sk-inline\n"), 3,
        'llm_key: secrets are not accepted inline; use llm_key_file <path> '
        . 'or llm_key_env <VARIABLE>');
{
    my $r = wachatd(args => ['-t', '-c', conf_file("kb $SHOP\noutbound graph\ngraph_token EAAGinline\n")]);
    unlike($r->{out} . $r->{err}, qr/EAAGinline/, 'the refused inline secret is not echoed');
}

# a secret file every user may read: refused
{
    my $tf = secret_file('graph_token_world', 'EAAGworld', 0644);
    refused('world-readable token file', conf_file("kb $SHOP\noutbound graph\ngraph_token_file $tf\n"), 3,
            "graph_token_file: $tf is readable or writable by every user (mode 0644); run chmod go-rwx on it");
    my $kf = secret_file('llm_key_world', 'sk-world', 0604);
    refused('world-readable LLM key file', conf_file("${BASE}llm_key_file $kf\n"), 3,
            "llm_key_file: $kf is readable or writable by every user (mode 0604); run chmod go-rwx on it");
}

# a secret its group may read, or others may write: refused too (issue 11)
{
    my $gf = secret_file('graph_token_group', 'EAAGgroup', 0640);
    refused('group-readable token file', conf_file("kb $SHOP\noutbound graph\ngraph_token_file $gf\n"), 3,
            "graph_token_file: $gf is readable or writable by its group (mode 0640); run chmod go-rwx on it");
    my $wf = secret_file('graph_token_ow', 'EAAGow', 0602);
    refused('world-writable token file', conf_file("kb $SHOP\noutbound graph\ngraph_token_file $wf\n"), 3,
            "graph_token_file: $wf is readable or writable by every user (mode 0602); run chmod go-rwx on it");
}

# a config or a knowledge base every user may write: refused
{
    my $conf = conf_file("kb $SHOP\noutbound sandbox\n");
    chmod 0666, $conf or die "chmod: $!";
    my $r = wachatd(args => ['-t', '-c', $conf]);
    is($r->{exit}, 1, 'a world-writable config: wachatd -t exits 1');
    like($r->{err}, qr/\Q$conf\E: writable by every user \(mode 0666\); run chmod o-w on it/,
         'a world-writable config: says so, with the mode and the fix');

    my $kb = "$DIR/kb-world-writable.md";
    File::Copy::copy($SHOP, $kb) or die "copy: $!";
    chmod 0646, $kb or die "chmod: $!";
    $r = wachatd(args => ['-t', '-c', conf_file("kb $kb\noutbound sandbox\n")]);
    is($r->{exit}, 1, 'a world-writable KB: wachatd -t exits 1');
    like($r->{err}, qr/\Q$kb\E: writable by every user \(mode 0646\); run chmod o-w on it/,
         'a world-writable KB: says so, with the mode and the fix');
}

# files that are not there
{
    my $r = wachatd(args => ['-t', '-c', "$DIR/no-such.conf"]);
    is($r->{exit}, 1, 'a missing config file: exit 1');
    is($r->{err}, "wachatd: cannot open $DIR/no-such.conf: No such file or directory\n",
       'a missing config file: said so');
    my $conf = conf_file("kb $DIR/no-such-kb.md\noutbound sandbox\n");
    $r = wachatd(args => ['-t', '-c', $conf]);
    is($r->{exit}, 1, 'a missing knowledge base: exit 1');
    is($r->{err}, "wachatd: $DIR/no-such-kb.md: cannot read: No such file or directory\n",
       'a missing knowledge base: named');
}


# --- knowledge bases: file:line: reason ----------------------------------------
# (the KB unit's fixtures; the line is found in the fixture, the reason exact)

sub kb_refused ($name, $line_re, $reason) {
    my $kb = "$FIX/$name.md";
    my $conf = conf_file("kb $kb\noutbound sandbox\n");
    my $r = wachatd(args => ['-t', '-c', $conf]);
    my $line = line_of($kb, $line_re);
    subtest "KB $name.md refused" => sub {
        is($r->{exit}, 1, 'exit status 1');
        is($r->{err}, "wachatd: $kb:$line: $reason\n", 'stderr: file:line: reason');
        is($r->{out}, '', 'nothing on stdout');
    };
}

kb_refused('too_many_buttons', qr/^\[.*\]\(#.*\[.*\]\(#.*\[.*\]\(#.*\[/, '4 buttons, at most 3');
kb_refused('title_too_long', qr/^\[Talk to a real person\]/,
           'button title "Talk to a real person" is 21 characters, at most 20');
kb_refused('title_too_long_chinese', qr/^\[真人客服/,
           'button title "真人客服真人客服真人客服真人客服真人客服喔" is 21 characters, at most 20');
kb_refused('missing_link', qr/^\[See prices\]/,
           'button "See prices" links to missing entry "prices"');
{
    # a duplicate id names both lines
    my $kb = "$FIX/duplicate_id.md";
    my @l = split /\n/, slurp($kb);
    my @at = grep { $l[$_ - 1] =~ /\{#hours\}/ } 1 .. @l;
    my $r = wachatd(args => ['-t', '-c', conf_file("kb $kb\noutbound sandbox\n")]);
    is($r->{exit}, 1, 'KB duplicate_id.md: exit 1');
    is($r->{err}, "wachatd: $kb:$at[1]: duplicate id \"hours\", first at line $at[0]\n",
       'KB duplicate_id.md: both lines named');
}

# at the limits: accepted
for my $name (qw(title_20_chinese id_200)) {
    my $r = accepted("KB $name.md (at the limit)", conf_file("kb $FIX/$name.md\noutbound sandbox\n"));
}

# a KB error inside an otherwise good config with a bad line later: the
# config is read first, its error wins
refused('config errors come before KB errors',
        conf_file("kb $FIX/too_many_buttons.md\noutbound sandbox\nclaim_idel 2s\n"), 3,
        'unknown key "claim_idel" (did you mean "claim_idle"?)');


# --- Redis unreachable: wachatd exits non-zero, saying why --------------------

{
    my $port = free_port();
    my $conf = conf_file("redis 127.0.0.1:$port\nkb $SHOP\noutbound sandbox\n");
    my $r = wachatd(args => ['-c', $conf], timeout => 15);
    isnt($r->{exit}, 0, 'redis refused: wachatd exits non-zero');
    isnt($r->{exit}, 'timeout', 'redis refused: it does not hang (exits by itself)');
    like($r->{err}, qr/error: cannot start: redis 127\.0\.0\.1:$port: Connection refused$/m,
         'redis refused: the address and the reason') or diag $r->{err};
    cmp_ok($r->{took}, '<', 10, sprintf 'redis refused: exits promptly (%.1f s)', $r->{took});

    my $sock = "$DIR/no-redis.sock";
    $conf = conf_file("redis unix:$sock\nkb $SHOP\noutbound sandbox\n");
    $r = wachatd(args => ['-c', $conf], timeout => 15);
    isnt($r->{exit}, 0, 'redis socket missing: wachatd exits non-zero');
    like($r->{err}, qr/error: cannot start: redis unix:\Q$sock\E: No such file or directory$/m,
         'redis socket missing: the socket path (no ":0" port after it) and the reason')
        or diag $r->{err};
}

# a Redis that wants a password it is not given
{
    my $redis = start_redis(password => 'pw-' . rand_token(8));
    my $conf = conf_file("redis 127.0.0.1:${\ $redis->port}\nkb $SHOP\noutbound sandbox\n");
    my $r = wachatd(args => ['-c', $conf], timeout => 15);
    isnt($r->{exit}, 0, 'redis without the password: exits non-zero');
    isnt($r->{exit}, 'timeout', 'redis without the password: does not hang');
    like($r->{err}, qr/cannot start: .*NOAUTH/, 'redis without the password: says NOAUTH')
        or diag $r->{err};
    $redis->stop;
}

# a Redis still loading its dataset (LOADING): wachatd waits, then starts
{
    my $redis = start_redis();
    my $n = 20000;
    is($redis->cmd('MSET', map { ("load:$_", "v$_") } 1 .. $n), 'OK', "$n keys written");
    is($redis->cmd('SAVE'), 'OK', 'saved to dump.rdb');
    $redis->stop;
    # ~100 us per key while loading, client events served every 1 KB read
    $redis->{args} = ['--key-load-delay', 100,
                      '--loading-process-events-interval-bytes', 1024];
    $redis->restart;
    my $info = $redis->new_client(timeout => 5)->command('PING');
    like("$info", qr/^LOADING/, 'redis answers LOADING while it loads');

    my $d = start_wachatd(redis => $redis);
    my $log = $d->log_text;
    like($log, qr/warning: waiting for redis to finish loading its dataset: LOADING/,
         'loading: wachatd says it waits') or diag $log;
    like($log, qr/notice: redis finished loading after \d+ ms\n(?s:.*)started/,
         'loading: then it starts');
    is($redis->cmd('DBSIZE') >= $n ? 1 : 0, 1, 'the dataset is loaded');
    my $groups = $redis->cmd('XINFO', 'GROUPS', 'wachat:events');
    is(ref $groups eq 'ARRAY' ? scalar @$groups : -1, 1,
       'loading: its consumer group was created after the wait');
    is($d->stop, 0, 'loading: wachatd stops cleanly');
    $redis->stop;
}

done_testing();
