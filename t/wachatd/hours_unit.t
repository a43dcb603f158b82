#!/usr/bin/perl
# Runs the C unit test of the working-hours schedule (build/hours_test, see
# tests/hours_test.c); prove reads its TAP.  WACHAT_HOURS_TEST picks another
# build (ASan).  Runs from the top of the repository.
exec($ENV{WACHAT_HOURS_TEST} || "build/hours_test") or die "exec: $!\n";
