# Runs the C unit test of the wachatd config and log (build/config_test, one
# binary from tests/config_*.c: every case is in it).
# prove reads its TAP; WACHAT_CONFIG_TEST picks another build (ASan).
exec($ENV{WACHAT_CONFIG_TEST} || "build/config_test") or die "exec: $!\n";
