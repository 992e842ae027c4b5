#ifndef CANOPY_CLI_JSON_H_
#define CANOPY_CLI_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "google/protobuf/message.h"

namespace canopy::cli {

enum class JsonStyle {
  kPretty,   // indented, several lines
  kOneLine,  // compact, a single line (JSON Lines)
};

// Protobuf's canonical JSON of `message` (its JSON printer) with the
// .proto field names (snake_case), enums by name and fields at their default
// value printed too, so scripts always find every key; map keys sorted, so
// the output is deterministic. Ends with exactly one newline. Fails only if
// the printer does (e.g. an Any of an unknown type).
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, JsonStyle style);

// One line of `canopyctl watch --format json`:
// {"time":"<RFC 3339 UTC, ms>","update":N,"tree":<GetTreeResponse JSON>}\n
absl::StatusOr<std::string> WatchJsonLine(absl::Time time, int update,
                                          const v1::GetTreeResponse& response);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_JSON_H_
