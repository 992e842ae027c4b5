#ifndef CANOPY_TESTS_SYSTEM_NUMBERED_STREAM_H_
#define CANOPY_TESTS_SYSTEM_NUMBERED_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {

// What a subscriber's output says about a numbered stream.
struct StreamVerdict {
  uint64_t published = 0;
  uint64_t delivered = 0;
  // Missing messages a gap line declared (exactly what was lost).
  uint64_t declared_lost = 0;
  // Missing messages no gap line declared, messages out of order or
  // twice, payloads that do not match their sequence, and gap lines that
  // do not match the jump they announce.
  uint64_t undeclared_lost = 0;
  uint64_t out_of_order = 0;
  uint64_t corrupted = 0;
  uint64_t false_gaps = 0;
  // Exactly once, in order, or told.
  bool ok() const {
    return undeclared_lost == 0 && out_of_order == 0 && corrupted == 0 && false_gaps == 0 &&
           delivered + declared_lost == published;
  }
  std::string ToString() const;
};

// A `reliable` stream of numbered messages: canopy-pub at one node (source
// "src") feeding canopy-sub --with-source at another. Message i is
// "m%06d" of i and, the publisher being the flow's only source from its
// start, travels as sequence i.
class NumberedStream {
 public:
  NumberedStream(Overlay& overlay, std::string publisher_node, std::string subscriber_node,
                 std::string group);

  // Joins (waits for canopy-sub's "joined" line), then starts the
  // publisher. False if the subscriber did not join.
  bool Start();
  // Hands the publisher `n` more messages.
  void Publish(int n);
  // Waits until the last published message was delivered (or a later
  // stderr line declared it lost); false at the deadline.
  bool AwaitDelivered(absl::Duration timeout = kWait);
  // Ends the publisher (EOF) and returns its exit code.
  std::optional<int> FinishPublisher();
  // Reads the subscriber's output.
  StreamVerdict Verdict() const;

  uint64_t published() const { return published_; }
  Process& subscriber() { return *subscriber_; }
  Process& publisher() { return *publisher_; }
  static std::string Message(uint64_t i);

 private:
  Overlay& overlay_;
  const std::string publisher_node_, subscriber_node_, group_;
  std::unique_ptr<Process> subscriber_, publisher_;
  uint64_t published_ = 0;
};

// canopy-pub's input for numbered messages of `bytes` bytes each: the
// lines "m<i>-xx…x" for i in [first, first + count), each ending in '\n'
// (not counted in `bytes`).
std::string NumberedLines(int first, int count, size_t bytes);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_NUMBERED_STREAM_H_
