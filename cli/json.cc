#include "cli/json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/render_text.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace canopy::cli {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

}  // namespace

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, JsonStyle style) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = style == JsonStyle::kPretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  // MessageToJsonString prints map entries in hash order, which protobuf
  // randomises per process; a deterministic serialisation sorts map keys, so
  // the same message always prints the same JSON.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!message.SerializeToCodedStream(&coded)) {
      return absl::InternalError(absl::StrCat("cannot serialise ", message.GetTypeName()));
    }
  }
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kTypeUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
  std::string json;
  auto status = google::protobuf::util::BinaryToJsonString(
      resolver, absl::StrCat(kTypeUrlPrefix, "/", message.GetDescriptor()->full_name()), binary,
      &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print ", message.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  json.push_back('\n');
  return json;
}

absl::StatusOr<std::string> WatchJsonLine(absl::Time time, int update,
                                          const v1::GetTreeResponse& response) {
  absl::StatusOr<std::string> tree = ToJson(response, JsonStyle::kOneLine);
  if (!tree.ok()) return tree.status();
  tree->pop_back();  // the newline
  return absl::StrCat("{\"time\":\"", FormatTimestamp(time), "\",\"update\":", update,
                      ",\"tree\":", *tree, "}\n");
}

}  // namespace canopy::cli
