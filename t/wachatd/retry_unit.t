#!/usr/bin/perl
# Runs the C unit test of the Redis links' reconnect pause (build/retry_test,
# see tests/retry_test.c); prove reads its TAP.  WACHAT_RETRY_TEST picks
# another build (ASan).  Runs from the top of the repository.
exec($ENV{WACHAT_RETRY_TEST} || "build/retry_test") or die "exec: $!\n";
