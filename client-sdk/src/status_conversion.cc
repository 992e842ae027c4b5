#include "src/status_conversion.h"

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace canopy {

std::shared_ptr<grpc::Channel> CreateNodeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // Payload limit (16 MiB by default) plus framing.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace canopy
