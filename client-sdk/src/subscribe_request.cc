#include "src/subscribe_request.h"

namespace canopy {

v1::SubscribeRequest MakeSubscribeRequest(const SubscriberOptions& options, bool frame_link) {
  v1::SubscribeRequest request;
  request.set_group(options.group);
  request.mutable_filter()->set_mode(
      options.mode == FilterMode::kInclude ? v1::FILTER_MODE_INCLUDE : v1::FILTER_MODE_EXCLUDE);
  for (const std::string& s : options.sources) request.mutable_filter()->add_sources(s);
  request.set_frame_link(frame_link);
  request.set_member(options.member);
  return request;
}

}  // namespace canopy
