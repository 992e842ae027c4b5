#include "src/node_channel.h"

#include "base/tls_credentials.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/server_kind.h"
#include "wire/frame.h"

namespace canopy {

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateNodeChannel(
    const std::string& address, const std::optional<ClientTlsFiles>& tls) {
  std::optional<TlsFiles> files;
  if (tls) files = TlsFiles{tls->ca, tls->cert, tls->key};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(files);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  // Any payload a node may be configured to take, plus framing; never an
  // unbounded message from the network.
  constexpr int kMessageOverhead = 1 << 20;
  args.SetMaxReceiveMessageSize(static_cast<int>(wire::kMaxPayloadLimit) + kMessageOverhead);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, *credentials, args);
}

absl::Status NodeCallStatus(const grpc::Status& status,
                            const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& address) {
  return ExplainWrongServer(FromGrpc(status), channel, address, CanopyServer::kNode);
}

}  // namespace canopy
