# Runs the C unit test of the model's answer guard (build/guard_test, see
# tests/guard_test.c); prove reads its TAP.  WACHAT_GUARD_TEST picks another
# build (ASan).  Runs from the top of the repository.
exec($ENV{WACHAT_GUARD_TEST} || "build/guard_test") or die "exec: $!\n";
