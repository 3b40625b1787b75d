// tests/server/http_json_fuzz_asan_test.cc: http_json_fuzz_test.cc built in the sanitizer tree (tools/test.sh
// builds only *_asan_test there), where a bad read, an overflow or a leak fails the run.
#include "server/http_json_fuzz_test.cc"  // NOLINT(bugprone-suspicious-include): one body, two trees
