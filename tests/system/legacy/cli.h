/* Command-line helpers shared by the legacy multicast test programs (plain C).
 * A bad command line prints one line "PROGRAM: WHY (see --help)" on stderr and
 * exits 2. */
#ifndef CANOPY_TESTS_SYSTEM_LEGACY_CLI_H_
#define CANOPY_TESTS_SYSTEM_LEGACY_CLI_H_

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline void legacy_usage(const char* program, const char* msg) {
  fprintf(stderr, "%s: %s (see --help)\n", program, msg);
  exit(2);
}

/* legacy_usage with `format` containing one %.100s for `arg`. */
static inline void legacy_usage_arg(const char* program, const char* format, const char* arg) {
  char msg[160];
  snprintf(msg, sizeof msg, format, arg);
  legacy_usage(program, msg);
}

/* The decimal number `s` in [lo, hi]; exits via legacy_usage otherwise. */
static inline long legacy_parse_long(const char* program, const char* s, long lo, long hi,
                                     const char* what) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    char msg[128];
    snprintf(msg, sizeof msg, "bad %s '%s' (%ld..%ld)", what, s, lo, hi);
    legacy_usage(program, msg);
  }
  return v;
}

#endif /* CANOPY_TESTS_SYSTEM_LEGACY_CLI_H_ */
