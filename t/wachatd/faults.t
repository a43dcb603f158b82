#!/usr/bin/perl
# wachatd under faults: two consumers sharing the group keep each
# conversation's order (a live burst, a backlog both take on at once, and
# one consumer frozen while it holds read events); kill -9 in the middle of
# a burst, then another consumer takes over, answers everything exactly
# once, in order; SIGHUP reloads the KB and the config without dropping
# work, and a reload that fails keeps the old ones; SIGTERM with a backlog
# exits 0 in time and the next start answers the rest, exactly once.
#
# Every part runs on its own redis-server + nginx (with the module); replies
# go to the sandbox outbox (wachat:outbox), whose entries carry "to" and
# "reply_to" (the inbound wamid).
#
# WACHAT_REAL_LEASES=1 makes part b wait for the dead consumer's leases to
# expire by themselves (WACHAT_ENGINE_LEASE_MS, 60 s: conversation/engine.h) instead of
# expiring them early; the file then takes over a minute.
# WACHAT_FAULTS_ONLY=a,c runs only those parts.

use v5.36;
use lib 't/lib';

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use Wachat::Process qw(poll_until reaped tmpdir);
use Wachat::Files qw(fixture root_dir slurp spew);
use Wachat::Redis qw(start_redis);
use Wachat::Nginx qw(start_nginx);
use Wachat::Daemon qw(outbox_wait start_wachatd);
use Wachat::Webhook qw(wh_text);

my $PNID = '106540352242922';
my $KB = root_dir() . '/t/fixtures/kb/faults_sequence.md';
my @WORD = qw(alpha bravo charlie delta echo foxtrot golf hotel india juliet);
my $STREAM = 'wachat:events';
my $GROUP = 'wachatd';
my $OUTBOX = 'wachat:outbox';

# the question of entry $k (0..9) and the token its answer carries
sub question ($k) { "What is the $WORD[$k] code?" }
sub token ($k)    { sprintf 'ANSWER-%02d', $k + 1 }


# --- helpers ---------------------------------------------------------------

# A burst plan: $nconv conversations x $nmsg messages.  Conversation $c
# asks the entries in the order ($c + 3i) mod 10 (a permutation: 3 and 10
# are coprime), so neighbouring conversations expect different sequences.
sub burst_plan (%o) {
    my ($tag, $nconv, $nmsg) = @o{qw(tag nconv nmsg)};
    my @convs;
    for my $c (0 .. $nconv - 1) {
        my $from = sprintf '%s%05d', $o{prefix}, $c;
        my @msgs;
        for my $i (0 .. $nmsg - 1) {
            my $k = ($c + 3 * $i) % 10;
            push @msgs, { id => "wamid.$tag.$$.c$c.m$i", k => $k,
                          body => wh_text(from => $from, name => "Customer $c",
                                          id => "wamid.$tag.$$.c$c.m$i",
                                          text => question($k)) };
        }
        push @convs, { from => $from, msgs => \@msgs };
    }
    return \@convs;
}

# Posts a plan through nginx from $nposters forked children; child $p posts
# the conversations c with c % $nposters == $p, each POST answered before
# the next, so the order of one conversation's messages in the stream is
# the order they were sent, while conversations interleave.  $order:
# "rounds" (message i of each conversation, then message i+1) or "runs"
# (each conversation's messages back to back: neighbours in the stream, so
# consecutive XREADGROUP batches of two consumers split conversations).
# Returns the PIDs; wait_posters() reaps.
sub start_posters ($nginx, $convs, $nposters, $order = 'rounds') {
    my @pids;
    for my $p (0 .. $nposters - 1) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $bad = 0;
            my $deadline = time + 60;
            my @mine = grep { $_ % $nposters == $p } 0 .. $#$convs;
            my $nmsg = @{ $convs->[0]{msgs} };
            my @seq = $order eq 'runs'
                ? map { my $c = $_; map { [$c, $_] } 0 .. $nmsg - 1 } @mine
                : map { my $i = $_; map { [$_, $i] } @mine } 0 .. $nmsg - 1;
            for my $ci (@seq) {
                last if time > $deadline;
                my $res = eval { $nginx->post_signed($convs->[$ci->[0]]{msgs}[$ci->[1]]{body}) };
                $bad++ unless $res && $res->{status} == 200;
            }
            $bad = 250 if time > $deadline;
            POSIX::_exit($bad > 255 ? 255 : $bad);    # no END blocks, no DESTROY
        }
        push @pids, $pid;
    }
    return @pids;
}

# Waits for the posters; returns how many of them failed (0 = every POST 200).
sub wait_posters (@pids) {
    my %status;
    poll_until(sub {
        for my $pid (@pids) {
            next if exists $status{$pid};
            my $s = reaped($pid);
            $status{$pid} = $s if defined $s;
        }
        keys %status == @pids;
    }, timeout => 90, interval => 0.01);
    for my $pid (grep { !exists $status{$_} } @pids) {     # bounded: give up
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $status{$pid} = -1;
    }
    return scalar grep { $_ != 0 } values %status;
}

sub post_all ($nginx, $convs, $nposters, $order = q{rounds}) {
    return wait_posters(start_posters($nginx, $convs, $nposters, $order));
}

sub outbox_len ($redis) { $redis->cmd('XLEN', $OUTBOX) // 0 }

sub pending ($redis) {
    my $p = $redis->cmd('XPENDING', $STREAM, $GROUP);
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

# Nothing left to do anywhere: no stream entry pending, every inbox and
# outbound queue of the plan empty.  After this no reply can still come.
sub quiet ($redis, $convs) {
    return 0 unless pending($redis) == 0;
    for my $cv (@$convs) {
        my $id = "$PNID:$cv->{from}";
        return 0 if $redis->cmd('ZCARD', "wachat:inbox:{$id}");
        return 0 if $redis->cmd('LLEN', "wachat:outq:{$id}");
    }
    return 1;
}

# Checks the outbox against a plan: every inbound wamid answered exactly
# once, and each conversation's replies (outbox order, filtered by "to") in
# the order its messages were sent, with the answers expected.
sub check_replies ($what, $redis, $convs) {
    my @out = $redis->xrange($OUTBOX);
    my (%count, %by_to);
    for my $e (@out) {
        my $f = $e->{fields};
        $count{ $f->{reply_to} // '' }++;
        push @{ $by_to{ $f->{to} // '' } }, $f;
    }

    my $total = 0;
    my (@missing, @twice);
    for my $cv (@$convs) {
        for my $m (@{ $cv->{msgs} }) {
            $total++;
            my $n = $count{ $m->{id} } // 0;
            push @missing, $m->{id} if $n == 0;
            push @twice, "$m->{id} ($n)" if $n > 1;
        }
    }
    is(scalar @out, $total, "$what: $total replies in the outbox");
    is(scalar @missing, 0, "$what: every inbound wamid answered")
        or diag "not answered: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]";
    is(scalar @twice, 0, "$what: no wamid answered twice")
        or diag "answered more than once: @twice[0 .. ($#twice > 9 ? 9 : $#twice)]";

    my @bad;
    for my $cv (@$convs) {
        my @got = @{ $by_to{ $cv->{from} } // [] };
        my @want_ids = map { $_->{id} } @{ $cv->{msgs} };
        my @got_ids = map { $_->{reply_to} } @got;
        my @want_tok = map { token($_->{k}) } @{ $cv->{msgs} };
        my @got_tok = map { ($_->{text} // '') =~ /(ANSWER-\d\d)/ ? $1 : '?' } @got;
        next if "@got_ids" eq "@want_ids" && "@got_tok" eq "@want_tok"
             && !grep { $_->{phone_number_id} ne $PNID } @got;
        push @bad, "$cv->{from}: replies to [@got_ids] answers [@got_tok], "
                 . "sent [@want_ids] expecting [@want_tok]";
    }
    is(scalar @bad, 0, "$what: every conversation's replies in the order of its messages")
        or diag join "\n", @bad[0 .. ($#bad > 4 ? 4 : $#bad)];
}

sub answered_lines ($d) { scalar(() = $d->log_text =~ /: \S+ answered from /g) }

# the "answered N" of the last stats line (logged at exit)
sub stats_answered ($d) {
    my @n = $d->log_text =~ /stats: .*?answered (\d+)/g;
    return @n ? $n[-1] : undef;
}

sub leases_of ($redis, $owner) {
    my $keys = $redis->cmd('KEYS', 'wachat:lease:*') // [];
    return grep { ($redis->cmd('GET', $_) // '') eq $owner } @$keys;
}

# under make test-asan: a sanitizer report in a wachatd log fails the part
sub no_sanitizer_report (@d) {
    my @bad = grep { $_->log_text =~ /AddressSanitizer|LeakSanitizer|runtime error:/ } @d;
    is(scalar @bad, 0, 'no sanitizer report in the wachatd logs')
        or diag join "\n", map { $_->log_text } @bad;
}

sub elapsed ($t0) { sprintf '%.1f s', time - $t0 }

my %ONLY = map { $_ => 1 } split /,/, $ENV{WACHAT_FAULTS_ONLY} // q{};
sub part ($letter, $name, $code) {
    return if %ONLY && !$ONLY{$letter};
    subtest "$letter. $name" => $code;
}


# --- a. two consumers, 50 conversations x 10 messages: order kept ------------

part('a', 'two consumers keep each conversation in order', sub {
    my $t0 = time;
    my $redis = start_redis();
    my $nginx = start_nginx(redis => $redis);
    my $d1 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-a-one');
    my $d2 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-a-two');

    # 1. live: 50 conversations x 10 messages posted while both consume
    my $live = burst_plan(tag => 'A1', prefix => '1555', nconv => 50, nmsg => 10);
    my $tp = time;
    is(post_all($nginx, $live, 5), 0, 'live: all 500 webhooks accepted by nginx');
    note sprintf 'live: posted 500 in %.2f s', time - $tp;
    ok(poll_until(sub { outbox_len($redis) >= 500 }, timeout => 30),
       'live: 500 replies reached the outbox') or diag "outbox: " . outbox_len($redis);

    # 2. a backlog both take on at the same moment: 50 more conversations,
    # each one's messages back to back, posted while both are stopped
    # (SIGSTOP), then SIGCONT: their 64-entry reads split conversations
    my $backlog = burst_plan(tag => 'A2', prefix => '1666', nconv => 50, nmsg => 10);
    kill 'STOP', $d1->pid, $d2->pid;
    my $posted = post_all($nginx, $backlog, 5, 'runs');
    kill 'CONT', $d1->pid, $d2->pid;
    is($posted, 0, 'backlog: all 500 webhooks accepted by nginx');
    ok(poll_until(sub { outbox_len($redis) >= 1000 }, timeout => 30),
       'backlog: 1000 replies in the outbox') or diag "outbox: " . outbox_len($redis);

    # 3. a consumer stalls between reading events and moving them to their
    # inboxes: consumer one is stopped while blocked in XREADGROUP, so the
    # first events posted are handed to it and stay pending there while
    # consumer two gets the later messages of the same conversations; they
    # must wait (claim_idle 2s, then consumer two reclaims), and when
    # consumer one resumes and moves its stale copy, nothing is answered twice
    my $stall = burst_plan(tag => 'A3', prefix => '1777', nconv => 10, nmsg => 10);
    # (first every lease given back: one held by the stopped consumer would
    # hold its conversation for the whole lease)
    ok(poll_until(sub { !@{ $redis->cmd('KEYS', 'wachat:lease:*') // [] } }, timeout => 10),
       'stall: both consumers idle, no lease held');
    my $ts = time;
    kill 'STOP', $d1->pid;
    $posted = post_all($nginx, $stall, 1, 'runs');
    note sprintf 'stall: posted in %.2f s', time - $ts;
    my $held = $redis->cmd('XPENDING', $STREAM, $GROUP, '-', '+', 100, 'faults-a-one');
    $held = ref $held eq 'ARRAY' ? scalar @$held : 0;
    note "stalled consumer holds $held entries";
    is($posted, 0, 'stall: all 100 webhooks accepted by nginx');
    ok(poll_until(sub { outbox_len($redis) >= 1100 }, timeout => 20),
       'stall: the other consumer answered all 100') or diag "outbox: " . outbox_len($redis);
    my $dups = sub { scalar(() = ($d1->log_text . $d2->log_text) =~ /already answered/g) };
    kill 'CONT', $d1->pid;
    ok(poll_until(sub { $dups->() >= $held }, timeout => 10),
       "stall: the resumed consumer's stale events recognised as answered ($held)");

    my $convs = [@$live, @$backlog, @$stall];
    ok(poll_until(sub { quiet($redis, $convs) }, timeout => 10),
       'nothing pending, every inbox and queue empty');
    check_replies('two consumers', $redis, $convs);

    my ($n1, $n2) = (answered_lines($d1), answered_lines($d2));
    note "answered: faults-a-one $n1, faults-a-two $n2";
    ok($n1 > 0, "consumer one answered messages ($n1)");
    ok($n2 > 0, "consumer two answered messages ($n2)");
    is($n1 + $n2, 1100, 'each message answered by exactly one of them');

    is($d1->stop, 0, 'consumer one exits 0');
    is($d2->stop, 0, 'consumer two exits 0');
    is((stats_answered($d1) // -1) + (stats_answered($d2) // -1), 1100,
       'their exit stats add up to 1100 answered');
    unlike($d1->log_text . $d2->log_text, qr/\b(error|lease lost)\b/,
           'no error and no lost lease in the logs');
    no_sanitizer_report($d1, $d2);
    $nginx->stop;
    $redis->stop;
    note 'part a: ' . elapsed($t0);
});


# --- b. kill -9 in the middle of a burst --------------------------------------

part('b', 'kill -9 mid-burst, another consumer takes over', sub {
    my $t0 = time;
    my $redis = start_redis();
    my $nginx = start_nginx(redis => $redis);
    my $d1 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-b-dead');

    my $convs = burst_plan(tag => 'B', prefix => '4477', nconv => 20, nmsg => 10);
    my @posters = start_posters($nginx, $convs, 4);

    my $at = poll_until(sub { my $n = outbox_len($redis); $n >= 30 ? $n : 0 },
                        timeout => 30, interval => 0.002);
    ok($at, 'the outbox got 30 replies') or diag $d1->log_text;
    # frozen first (SIGSTOP), killed once the burst is all posted: its
    # outstanding XREADGROUP is served meanwhile, so it dies holding read,
    # unacknowledged events as well as leases
    kill 'STOP', $d1->pid;
    my $at_kill = outbox_len($redis);
    is(wait_posters(@posters), 0, 'all 200 webhooks accepted by nginx');
    $d1->kill9;
    note "killed at $at_kill replies";
    my $events = $redis->xlen($STREAM);
    is($events, 200, '200 events in the stream');
    cmp_ok($at_kill, '<', 200, 'the kill came before the end of the burst');

    # what the dead consumer holds: stream entries read and not moved to an
    # inbox (XAUTOCLAIM after claim_idle 2s), and conversation leases
    my $dead_pending = $redis->cmd('XPENDING', $STREAM, $GROUP, '-', '+', 1000,
                                   'faults-b-dead');
    my @leases = leases_of($redis, 'faults-b-dead');
    note sprintf 'dead consumer: %d entries pending, %d leases',
        scalar @$dead_pending, scalar @leases;

    my %leased = map { /\{\Q$PNID\E:(\d+)\}/ ? ($1 => 1) : () } @leases;
    my $leased_replies = sub {
        scalar grep { $leased{ $_->{fields}{to} } } $redis->xrange($OUTBOX);
    };
    my $before = $leased_replies->();

    my $d2 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-b-next');

    ok(poll_until(sub {
        my $p = $redis->cmd('XPENDING', $STREAM, $GROUP, '-', '+', 1000, 'faults-b-dead');
        ref $p eq 'ARRAY' && !@$p;
    }, timeout => 15), "the dead consumer's pending entries were reclaimed")
        or diag $d2->log_text;

    # a live lease is respected: its conversations wait for it
    is($leased_replies->(), $before,
       'no reply yet in the conversations whose lease the dead consumer holds')
        if @leases;

    # The leases expire WACHAT_ENGINE_LEASE_MS (60 s) after their last renewal:
    # expire them now unless asked to wait for real.
    my $wait = 30;
    if ($ENV{WACHAT_REAL_LEASES}) {
        $wait = 90;
    } else {
        for my $k (@leases) {
            $redis->cmd('PEXPIRE', $k, 1) if ($redis->cmd('GET', $k) // '') eq 'faults-b-dead';
        }
    }

    ok(poll_until(sub { outbox_len($redis) >= 200 }, timeout => $wait),
       'the new consumer answered the rest') or diag "outbox: " . outbox_len($redis);
    ok(poll_until(sub { quiet($redis, $convs) }, timeout => 10),
       'nothing pending, every inbox and queue empty');
    is(pending($redis), 0, "XPENDING $STREAM $GROUP ends at 0");
    check_replies('after kill -9', $redis, $convs);

    is($d2->stop, 0, 'the new consumer exits 0');
    no_sanitizer_report($d1, $d2);
    $nginx->stop;
    $redis->stop;
    note 'part b: ' . elapsed($t0);
});


# --- c. SIGHUP: reload the KB and the config; a bad reload keeps the old -----

part('c', 'SIGHUP reloads; a failed reload keeps the old KB and config', sub {
    my $t0 = time;
    my $redis = start_redis();
    my $nginx = start_nginx(redis => $redis);
    my $dir = tmpdir('faults-hup');
    my $kb = "$dir/kb.md";
    my $orig = slurp($KB);
    spew($kb, $orig);

    my $d = start_wachatd(redis => $redis, kb => $kb, name => 'faults-c',
                          conf => qq{fallback_text "FALLBACK-OLD, ask a person?"\n});
    my $conf_good = $d->conf_text;
    my $from = '3361234567';
    my $seen = 0;
    my $wait = 15;     # 2 once a reply failed to come: the file stays short

    my $ask = sub ($text, $what) {
        my $res = $nginx->post_signed(wh_text(from => $from, text => $text));
        is($res->{status}, 200, "$what: webhook accepted");
        my @e = outbox_wait($redis, $seen + 1, timeout => $wait);
        ok(@e > $seen, "$what: answered") or do { $wait = 2; return '' };
        return $e[$seen++]{fields}{text} // '';
    };
    my $reloads = sub ($re) { scalar(() = $d->log_text =~ /$re/g) };
    my $hup_and_wait = sub ($re, $what) {
        my $n = $reloads->($re);
        ok($d->hup, "$what: SIGHUP sent");
        ok(poll_until(sub { $reloads->($re) > $n }, timeout => 10), "$what: logged")
            or diag $d->log_text;
    };

    is($ask->(question(0), 'before'), 'The alpha code is ANSWER-01.', 'the KB answers');
    like($ask->('xyzzy plugh', 'nonsense'), qr/^FALLBACK-OLD/, 'the configured fallback');

    # new answer text, new fallback, then HUP
    (my $changed = $orig) =~ s/The alpha code is ANSWER-01\./The alpha code is now ANSWER-01-NEW./
        or die 'fixture changed';
    spew($kb, $changed);
    (my $conf_new = $conf_good) =~ s/FALLBACK-OLD/FALLBACK-NEW/ or die;
    spew($d->conf_path, $conf_new);
    $hup_and_wait->(qr/reloaded \Q${\ $d->conf_path }\E: 10 KB entries/, 'reload');

    is($ask->(question(0), 'after reload'), 'The alpha code is now ANSWER-01-NEW.',
       'the reloaded KB answers');
    like($ask->('xyzzy plugh', 'nonsense after reload'), qr/^FALLBACK-NEW/,
         'the reloaded config applies');

    # a burst with reloads in the middle: nothing dropped, nothing doubled
    my $convs = burst_plan(tag => 'C', prefix => '3399', nconv => 6, nmsg => 5);
    my $base = outbox_len($redis);
    my @posters = start_posters($nginx, $convs, 2);
    for my $i (1 .. 3) {
        poll_until(sub { outbox_len($redis) >= $base + 8 * $i }, timeout => $wait / 3,
                   interval => 0.002);
        $d->hup;
    }
    is(wait_posters(@posters), 0, 'burst during reloads: 30 webhooks accepted');
    ok(poll_until(sub { outbox_len($redis) >= $base + 30 }, timeout => $wait),
       'burst during reloads: 30 replies');
    ok(poll_until(sub { quiet($redis, $convs) }, timeout => $wait), 'burst: all done');
    my %n;
    $n{ $_->{fields}{reply_to} }++ for $redis->xrange($OUTBOX);
    my @ids = map { $_->{id} } map { @{ $_->{msgs} } } @$convs;
    is(scalar(grep { ($n{$_} // 0) == 1 } @ids), 30,
       'burst during reloads: each message answered exactly once');
    $seen = outbox_len($redis);

    # a broken KB: 4 buttons on the alpha entry
    my @lines = split /\n/, $changed, -1;
    my ($at) = grep { $lines[$_] =~ /ANSWER-01-NEW/ } 0 .. $#lines;
    splice @lines, $at + 1, 0,
        '[Bravo](#code02) [Charlie](#code03) [Delta](#code04) [Echo](#code05)';
    spew($kb, join "\n", @lines);
    my $bad_line = $at + 2;
    $hup_and_wait->(qr/reload failed/, 'reload with a broken KB');
    like($d->log_text,
         qr/reload failed, keeping the running config and knowledge base: \Q$kb\E:$bad_line: 4 buttons, at most 3/,
         "the log names the KB file and line ($bad_line) and the reason");
    ok($d->alive, 'wachatd still runs');
    is($ask->(question(0), 'after a failed reload'), 'The alpha code is now ANSWER-01-NEW.',
       'the running KB keeps answering');
    like($ask->('xyzzy plugh', 'nonsense after failed reload'), qr/^FALLBACK-NEW/,
         'the running config is kept');

    # a broken config (with a good KB): the same
    spew($kb, $changed);
    my $conf_bad = $conf_new . "fallback_txt oops\n";
    spew($d->conf_path, $conf_bad);
    my $conf_line = () = $conf_bad =~ /\n/g;
    $hup_and_wait->(qr/reload failed/, 'reload with a broken config');
    like($d->log_text,
         qr/reload failed, keeping [^\n]*: \Q${\ $d->conf_path }\E:$conf_line: unknown key "fallback_txt" \(did you mean "fallback_text"\?\)/,
         "the log names the config file and line ($conf_line) and the reason");
    like($ask->('xyzzy plugh', 'nonsense after bad config'), qr/^FALLBACK-NEW/,
         'the running config is kept');

    # and a good one again
    spew($kb, $orig);
    spew($d->conf_path, $conf_good);
    $hup_and_wait->(qr/reloaded /, 'reload back');
    is($ask->(question(0), 'after reload back'), 'The alpha code is ANSWER-01.',
       'the original answer is back');

    is($d->stop, 0, 'exits 0');
    unlike($d->log_text, qr/lease lost|commit failed/, 'no lost lease, no failed commit');
    no_sanitizer_report($d);
    $nginx->stop;
    $redis->stop;
    note 'part c: ' . elapsed($t0);
});


# --- d. SIGTERM with a backlog ------------------------------------------------

part('d', 'SIGTERM with work in flight: exits 0 in time, nothing lost', sub {
    my $t0 = time;
    my $redis = start_redis();
    my $nginx = start_nginx(redis => $redis);

    # the backlog first, then the consumer: it has 400 messages to go
    my $convs = burst_plan(tag => 'D', prefix => '8613', nconv => 40, nmsg => 10);
    is(post_all($nginx, $convs, 4), 0, 'all 400 webhooks accepted by nginx');
    is($redis->xlen($STREAM), 400, '400 events waiting in the stream');

    my $d1 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-d-first');
    ok(poll_until(sub { outbox_len($redis) >= 10 }, timeout => 15, interval => 0.002),
       'it started answering');
    my $ts = time;
    my $status = $d1->stop(15);
    my $took = time - $ts;
    my $done = outbox_len($redis);
    note sprintf 'stopped in %.2f s with %d of 400 answered', $took, $done;
    is($status, 0, 'SIGTERM: exit status 0');
    cmp_ok($took, '<', 5 + 1, 'SIGTERM: exited within shutdown_timeout (5s)');
    like($d1->log_text, qr/stopping: finishing .*\n(?s:.*)wachatd stopped/,
         'it logged the drain and the stop');
    cmp_ok($done, '<', 400, 'work was left when it stopped');

    # the leases were given back: the next consumer goes on at once (not
    # after the 60 s a dead consumer's leases last)
    my @held = leases_of($redis, 'faults-d-first');
    is(scalar @held, 0, 'the stopped consumer holds no lease') or diag "@held";

    my $d2 = start_wachatd(redis => $redis, kb => $KB, name => 'faults-d-second');
    ok(poll_until(sub { outbox_len($redis) >= 400 }, timeout => 20),
       'the next consumer answered the rest') or diag "outbox: " . outbox_len($redis);
    ok(poll_until(sub { quiet($redis, $convs) }, timeout => 10),
       'nothing pending, every inbox and queue empty');
    check_replies('after SIGTERM', $redis, $convs);
    is($d2->stop, 0, 'the next consumer exits 0');
    no_sanitizer_report($d1, $d2);
    is((stats_answered($d1) // -1) + (stats_answered($d2) // -1), 400,
       'the two runs answered 400 together');
    $nginx->stop;
    $redis->stop;
    note 'part d: ' . elapsed($t0);
});

done_testing();
