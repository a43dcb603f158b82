# Runs the C unit test of the knowledge base (build/kb_test, see
# tests/kb_test.c); prove reads its TAP.  WACHAT_KB_TEST picks another
# build (ASan).  Runs from the top of the repository.
exec($ENV{WACHAT_KB_TEST} || "build/kb_test") or die "exec: $!\n";
