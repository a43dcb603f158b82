# shellcheck shell=bash
# bench/lib/common.sh: helpers shared by the benchmarks (sourced, bash).
#
# The caller sets `prog` (its name in messages) before sourcing.  Processes
# are started with start_bg (own process group, PID remembered in PIDS) and
# stopped by PID only, newest first, by stop_all.

die() { echo "${prog:-bench}: $*" >&2; exit 1; }
log() { echo "${prog:-bench}: $*" >&2; }

declare -a PIDS=()

# stop_pid PID [TENTHS]: TERM, wait up to TENTHS/10 s (default 10 s), KILL
stop_pid() {
    local pid=$1 max=${2:-100} n=0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    while kill -0 "$pid" 2>/dev/null && ((n++ < max)); do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

stop_all() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    PIDS=()
}

# forget_pid PID: drop PID from PIDS (after the caller stopped it itself)
forget_pid() {
    local i
    for i in "${!PIDS[@]}"; do [[ ${PIDS[i]} == "$1" ]] && unset 'PIDS[i]'; done
    PIDS=("${PIDS[@]}")
}

# start_bg CMD...: in its own process group, so a Ctrl-C reaches only us;
# stdin from /dev/null.  The PID is ${PIDS[-1]}.
start_bg() {
    perl -e 'setpgrp(0, 0); exec { $ARGV[0] } @ARGV or die "cannot run $ARGV[0]: $!\n"' "$@" </dev/null &
    PIDS+=($!)
}

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Proto => "tcp", Listen => 1) or die "bind: $!\n";
        print $s->sockport, "\n";'
}

# wait_until SECONDS PID CMD...: CMD succeeds (0), PID died or time ran out (1)
wait_until() {
    local secs=$1 pid=$2 n=0; shift 2
    while ! "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((n++ < secs * 10)) || return 1
        sleep 0.1
    done
}

# cpu_ticks PID...: sum of utime+stime (all threads), in clock ticks
cpu_ticks() {
    perl -e '
        my $t = 0;
        for my $p (@ARGV) {
            open my $f, "<", "/proc/$p/stat" or die "no process $p\n";
            my $s = <$f>;
            $s =~ s/^.*\) //s;               # comm may contain spaces
            my @f = split / /, $s;           # $f[0] is field 3 (state)
            $t += $f[11] + $f[12];           # fields 14 utime, 15 stime
        }
        print "$t\n";' "$@"
}

# host_ticks: "busy total" ticks of all CPUs (busy = not idle/iowait)
host_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# children_of PID: direct children (nginx workers)
children_of() {
    perl -e '
        for my $d (glob "/proc/[0-9]*") {
            open my $f, "<", "$d/stat" or next;
            my $s = <$f>; $s =~ s/^.*\) //s;
            my @f = split / /, $s;
            print((split m{/}, $d)[-1], "\n") if $f[1] == $ARGV[0];
        }' "$1"
}

# proc_status_kb PID FIELD: a "kB" field of /proc/PID/status (VmHWM, VmRSS)
proc_status_kb() {
    awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}

# now_s: wall-clock time, seconds with microseconds (the clock of nginx $msec)
now_s() { perl -MTime::HiRes=time -e 'printf "%.6f\n", time'; }

# proc_syscalls PID: "reads writes", the read and write system calls the
# process made so far (/proc/PID/io syscr, syscw)
proc_syscalls() {
    awk '$1 == "syscr:" { r = $2 } $1 == "syscw:" { w = $2 } END { print r + 0, w + 0 }' "/proc/$1/io"
}

# summary KEY VALUE: when BENCH_SUMMARY names a file, append "KEY VALUE" to it
# (the machine-readable figures that bench/all gathers into one table)
summary() {
    [[ -z ${BENCH_SUMMARY:-} ]] || printf '%s %s\n' "$1" "$2" >>"$BENCH_SUMMARY"
}
