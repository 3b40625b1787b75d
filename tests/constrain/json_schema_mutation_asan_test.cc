// tests/constrain/json_schema_mutation_asan_test.cc: json_schema_mutation_test.cc built in the sanitizer tree
// (tools/test.sh builds only *_asan_test there), where a bad read or a leak fails the run.
#include "constrain/json_schema_mutation_test.cc"  // NOLINT(bugprone-suspicious-include): one body, two trees
