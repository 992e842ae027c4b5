/* The datagram payload of the legacy multicast test programs (plain C).
 *
 *   "CANOPY-LEGACY seq=NNNNNNNNNN "   29 bytes, the sequence number in decimal
 *   'a' + (i % 26) for every later byte i (i counts from the payload's start)
 *
 * so a receiver can check that a datagram arrived whole and unchanged.
 */
#ifndef CANOPY_TESTS_SYSTEM_LEGACY_PAYLOAD_H_
#define CANOPY_TESTS_SYSTEM_LEGACY_PAYLOAD_H_

#include <stdio.h>
#include <string.h>

enum { kLegacyHeaderSize = 29, kLegacyMinSize = 32, kLegacyMaxSize = 65507 };

/* Writes the payload of datagram `seq` into buf[0..size). REQUIRES:
 * kLegacyMinSize <= size <= kLegacyMaxSize. Returns size. */
static inline size_t legacy_payload(unsigned long seq, char* buf, size_t size) {
  char head[kLegacyHeaderSize + 1];
  snprintf(head, sizeof head, "CANOPY-LEGACY seq=%010lu ", seq % 10000000000UL);
  memcpy(buf, head, kLegacyHeaderSize);
  for (size_t i = kLegacyHeaderSize; i < size; ++i) buf[i] = (char)('a' + i % 26);
  return size;
}

/* Returns 1 and sets *seq if buf[0..n) is a whole, unchanged payload; else 0. */
static inline int legacy_parse(const char* buf, size_t n, unsigned long* seq) {
  static const char kPrefix[] = "CANOPY-LEGACY seq=";
  const size_t prefix = sizeof kPrefix - 1;
  if (n < kLegacyMinSize || memcmp(buf, kPrefix, prefix) != 0) return 0;
  unsigned long v = 0;
  for (size_t i = prefix; i < prefix + 10; ++i) {
    if (buf[i] < '0' || buf[i] > '9') return 0;
    v = v * 10 + (unsigned long)(buf[i] - '0');
  }
  if (buf[kLegacyHeaderSize - 1] != ' ') return 0;
  for (size_t i = kLegacyHeaderSize; i < n; ++i) {
    if (buf[i] != (char)('a' + i % 26)) return 0;
  }
  *seq = v;
  return 1;
}

#endif /* CANOPY_TESTS_SYSTEM_LEGACY_PAYLOAD_H_ */
