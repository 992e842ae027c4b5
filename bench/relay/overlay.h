#ifndef CANOPY_BENCH_RELAY_OVERLAY_H_
#define CANOPY_BENCH_RELAY_OVERLAY_H_

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/relay/child_process.h"
#include "canopy/tls.h"
#include "canopy/v1/controller.grpc.pb.h"

namespace canopy::bench {

// Makes a private CA and certificates with scripts/make-certs in `dir`: the
// controller's, one per node of `nodes`, publisher "bench" and operator
// "bench". Unavailable (with the script's output) if it fails, e.g. for a
// missing openssl tool.
absl::Status MakeCertificates(const std::string& dir, const std::vector<std::string>& nodes);

// A controller and relay nodes as real processes on loopback, on free ports,
// with a temporary directory for the store and the logs. Overlay links are
// static (the controller's --links file), so tree shapes are deterministic:
// a chain is a chain because no other link exists. With `tls_dir` (the
// output of MakeCertificates) every process runs mutual TLS: the gRPC
// connections, the node-to-node links and the SDK's client links. Every
// process is killed when the Overlay goes away.
//
// Thread-compatible.
class RelayOverlay {
 public:
  // Starts canopy-controller with `links` ("A B COST_US" lines) and waits up
  // to `timeout` for its listening line.
  static absl::StatusOr<std::unique_ptr<RelayOverlay>> Start(
      const std::string& links, absl::Duration timeout,
      std::optional<std::string> tls_dir = std::nullopt);
  ~RelayOverlay();

  // Starts canopy-node `id` (max_fanout 0 = unlimited) without waiting.
  absl::Status SpawnNode(const std::string& id, int max_fanout);
  // Waits for every spawned node's listening line and for the controller to
  // list them all.
  absl::Status AwaitNodes(absl::Duration timeout);

  // Waits until the tree of (group, source) reaches exactly `receivers` and
  // every node applied the last table the controller sent. On success
  // returns the tree as "root -> a -> b, root -> c" text.
  absl::StatusOr<std::string> AwaitFlow(const std::string& group, const std::string& source,
                                        const std::vector<std::string>& receivers,
                                        absl::Duration timeout);

  const std::string& client_address(const std::string& id) const { return clients_.at(id); }
  // The TLS files of the SDK's publishers and subscribers (publisher
  // "bench"); empty for a plaintext overlay.
  std::optional<ClientTlsFiles> client_tls() const;
  // Node `id`'s whole stderr.
  std::string NodeLog(const std::string& id) const;
  pid_t node_pid(const std::string& id) const { return nodes_.at(id)->pid(); }
  std::vector<std::string> node_ids() const;

  // stderr tails of the controller and every node, labelled.
  std::string Logs() const;

 private:
  RelayOverlay() = default;
  bool AllTablesApplied();

  // The --tls-* flags of certificate `name`; none for a plaintext overlay.
  std::vector<std::string> TlsFlags(const std::string& name) const;

  std::filesystem::path dir_;
  std::optional<std::string> tls_dir_;
  std::unique_ptr<ChildProcess> controller_;
  std::string controller_address_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  std::map<std::string, std::unique_ptr<ChildProcess>> nodes_;
  std::map<std::string, std::string> clients_;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_OVERLAY_H_
