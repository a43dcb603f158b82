# Runs the C unit test of the envelope parser (make build/envelope_test, one
# binary from tests/envelope_*.c: every case is in it).
# prove reads its TAP; WACHAT_ENVELOPE_TEST picks another build (ASan).
exec($ENV{WACHAT_ENVELOPE_TEST} || "build/envelope_test") or die "exec: $!\n";
