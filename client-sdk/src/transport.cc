#include "canopy/transport.h"

namespace canopy {

std::optional<Transport> ParseTransport(absl::string_view name) {
  if (name == "auto") return Transport::kAuto;
  if (name == "shm") return Transport::kSharedMemory;
  if (name == "link") return Transport::kClientLink;
  if (name == "grpc") return Transport::kGrpcStream;
  return std::nullopt;
}

absl::string_view TransportName(Transport transport) {
  switch (transport) {
    case Transport::kAuto:
      return "auto";
    case Transport::kSharedMemory:
      return "shm";
    case Transport::kClientLink:
      return "link";
    case Transport::kGrpcStream:
      return "grpc";
  }
  return "auto";
}

}  // namespace canopy
