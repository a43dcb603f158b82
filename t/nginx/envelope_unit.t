# Runs the C unit test of the envelope parser (make build/envelope_test).
# prove reads its TAP; WACHAT_ENVELOPE_TEST picks another build (ASan).
exec($ENV{WACHAT_ENVELOPE_TEST} || "build/envelope_test") or die "exec: $!\n";
