#!/usr/bin/perl
# Runs the C unit test of a message's language (build/lang_test, see
# tests/lang_test.c); prove reads its TAP.  WACHAT_LANG_TEST picks another
# build (ASan).  Runs from the top of the repository.
exec($ENV{WACHAT_LANG_TEST} || "build/lang_test") or die "exec: $!\n";
