// tests/chat/jinja_mutation_asan_test.cc: the mutation tests of jinja_mutation_test.cc, built in the
// sanitizer tree (tools/test.sh builds only *_asan_test there), so a damaged template that reads out of
// bounds or leaks fails even when it happens not to crash.
#include "chat/jinja_mutation_test.cc"  // NOLINT(bugprone-suspicious-include): one body, two trees
