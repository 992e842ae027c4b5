#include "tests/system/numbered_stream.h"

#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace canopy::testing {

std::string StreamVerdict::ToString() const {
  return absl::StrCat("published ", published, ", delivered ", delivered, ", declared lost ",
                      declared_lost, ", undeclared lost ", undeclared_lost, ", out of order ",
                      out_of_order, ", corrupted ", corrupted, ", false gap lines ", false_gaps);
}

NumberedStream::NumberedStream(Overlay& overlay, std::string publisher_node,
                               std::string subscriber_node, std::string group)
    : overlay_(overlay),
      publisher_node_(std::move(publisher_node)),
      subscriber_node_(std::move(subscriber_node)),
      group_(std::move(group)) {}

std::string NumberedStream::Message(uint64_t i) { return absl::StrFormat("m%06d", i); }

bool NumberedStream::Start() {
  subscriber_ = overlay_.StartSubscriber(subscriber_node_, {"--group", group_, "--with-source"});
  if (!subscriber_->WaitForStderr("joined", kWait)) return false;
  publisher_ = overlay_.StartPublisher(publisher_node_, group_, "src");
  return true;
}

void NumberedStream::Publish(int n) {
  std::string lines;
  for (int i = 0; i < n; ++i) absl::StrAppend(&lines, Message(++published_), "\n");
  publisher_->WriteStdin(lines);
}

bool NumberedStream::AwaitDelivered(absl::Duration timeout) {
  return subscriber_->WaitForStdout(" " + Message(published_), timeout).has_value();
}

std::optional<int> NumberedStream::FinishPublisher() {
  publisher_->CloseStdin();
  return publisher_->Wait(kWait);
}

StreamVerdict NumberedStream::Verdict() const {
  StreamVerdict v;
  v.published = published_;
  // "canopy-sub: gap: N message(s) of S lost before sequence Q"
  static const std::regex gap_line(
      "gap: ([0-9]+) message\\(s\\) of src lost before sequence ([0-9]+)");
  std::map<uint64_t, uint64_t> gaps;  // Q → N
  std::istringstream err(subscriber_->Stderr());
  for (std::string line; std::getline(err, line);) {
    std::smatch m;
    if (std::regex_search(line, m, gap_line)) gaps[std::stoull(m[2])] = std::stoull(m[1]);
  }
  uint64_t expected = 1;
  for (const std::string& line : subscriber_->StdoutLines()) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    uint64_t seq = 0;
    if (fields.size() != 3 || fields[0] != "src" || !absl::SimpleAtoi(fields[1], &seq)) {
      ++v.corrupted;
      continue;
    }
    if (fields[2] != Message(seq)) ++v.corrupted;
    if (seq < expected) {
      ++v.out_of_order;
      continue;
    }
    if (seq > expected) {
      const uint64_t missing = seq - expected;
      auto declared = gaps.find(seq);
      if (declared == gaps.end()) {
        v.undeclared_lost += missing;
      } else {
        v.declared_lost += missing;
        if (declared->second != missing) ++v.false_gaps;
        gaps.erase(declared);
      }
    }
    ++v.delivered;
    expected = seq + 1;
  }
  v.false_gaps += gaps.size();  // gap lines that matched no jump
  if (expected <= published_) v.undeclared_lost += published_ - expected + 1;
  return v;
}

std::string NumberedLines(int first, int count, size_t bytes) {
  std::string input;
  for (int i = first; i < first + count; ++i) {
    std::string line = absl::StrCat("m", i, "-");
    line.resize(bytes, 'x');
    input += line + "\n";
  }
  return input;
}

}  // namespace canopy::testing
