#ifndef CANOPY_TESTS_TESTING_OVERLAY_H_
#define CANOPY_TESTS_TESTING_OVERLAY_H_

#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "canopy/tls.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "tests/testing/process.h"

namespace canopy::testing {

// Deadline for anything a test waits for on loopback.
inline constexpr absl::Duration kWait = absl::Seconds(30);

// Makes a private CA and certificates with scripts/make-certs in `dir`: the
// controller's, one per node of `nodes` ("node-ID"), publisher "bench" and
// operator "bench". Unavailable (with the script's output) if it fails, e.g.
// for a missing openssl tool.
absl::Status MakeCertificates(const std::string& dir, const std::vector<std::string>& nodes);

struct OverlayOptions {
  // Added to the controller's command line.
  std::vector<std::string> controller_args;
  // Lines "NODE_A NODE_B COST_US": the overlay has exactly those static
  // links (so a chain is a chain). Empty: the controller's measured mesh.
  std::string links;
  // The output of MakeCertificates: every process runs mutual TLS (gRPC,
  // node-to-node links, client links). None: plaintext.
  std::optional<std::string> tls_dir;
};

// A controller and nodes as real processes on loopback (free ports), plus a
// gRPC stub to the controller; the one overlay harness of tests/ and bench/.
// Everything is killed when it goes away.
//
// Two faces: the constructor and the methods that return an address or a
// bool report what went wrong to GoogleTest (ADD_FAILURE) for tests; Start,
// SpawnNode, AwaitNodes and AwaitFlow return a status for benchmarks.
//
// Thread-compatible.
class Overlay {
 public:
  // Starts the controller (plaintext, no static links unless given) and
  // returns the overlay, or why the controller did not start within kWait.
  static absl::StatusOr<std::unique_ptr<Overlay>> Start(OverlayOptions options);
  // Starts the controller with a fresh store in a temporary directory;
  // `controller_args` are added to its command line. With `links` (lines
  // "NODE_A NODE_B COST_US"), the overlay has exactly those static links.
  explicit Overlay(std::vector<std::string> controller_args = {}, const std::string& links = "");
  // An overlay on controller replicas it does not run: nodes get
  // `--controller controllers` (HOST:PORT,...), the stub talks to `leader`.
  static std::unique_ptr<Overlay> OnReplicas(const std::string& controllers,
                                             const std::string& leader);
  ~Overlay();

  // The stub (and everything that polls the controller) talks to `address`
  // from now on (the leader after a failover).
  void UseController(const std::string& address);

  // Stops the controller (SIGTERM, or `signal`) and starts it again on the
  // same address with the same store. Returns false if it did not come back.
  bool RestartController(int signal = SIGTERM);
  void StopController(int signal = SIGTERM);
  // Starts the controller again after StopController.
  bool StartControllerAgain();

  // Kills node `id` with SIGKILL and waits for it to die.
  void KillNode(const std::string& id);
  // Kills node `id` (SIGKILL) and starts it again (StartNodeAgain).
  std::string RestartNode(const std::string& id, bool await_listed = true);
  // Starts node `id` again after it died, with the same id, client, data and
  // client-links addresses and arguments; waits until the controller lists it (unless
  // `await_listed` is false). Returns its client address.
  std::string StartNodeAgain(const std::string& id, bool await_listed = true);
  // Polls ListNodes until `id` is listed (or no longer listed); false at
  // the deadline.
  bool AwaitNodeListed(const std::string& id, bool listed = true);

  // A file in the overlay's temporary directory with `text` (directories in
  // `name` are created); returns its path.
  std::string WriteFile(const std::string& name, const std::string& text);

  // Starts node `id` (max fan-out 0 = unlimited) and waits until the
  // controller lists it. Returns its client address.
  std::string StartNode(const std::string& id, int max_fanout = 0,
                        std::vector<std::string> extra_args = {});
  // Starts node `id` without waiting (AwaitNodes waits for all of them).
  absl::Status SpawnNode(const std::string& id, int max_fanout,
                         std::vector<std::string> extra_args = {});
  // Waits for every spawned node's listening line and for the controller to
  // list them all.
  absl::Status AwaitNodes(absl::Duration timeout);
  // Waits until the tree of (group, source) reaches exactly `receivers` and
  // every node applied the last table the controller sent. On success
  // returns the tree as text ("root R edges {a->b, ...} receivers {...}").
  absl::StatusOr<std::string> AwaitFlow(const std::string& group, const std::string& source,
                                        const std::vector<std::string>& receivers,
                                        absl::Duration timeout);
  // The TLS files of the SDK's publishers and subscribers (publisher
  // "bench"); none for a plaintext overlay.
  std::optional<ClientTlsFiles> client_tls() const;
  std::vector<std::string> node_ids() const;

  // Starts canopy-sub / canopy-pub against node `id`.
  std::unique_ptr<Process> StartSubscriber(const std::string& node,
                                           std::vector<std::string> extra_args);
  std::unique_ptr<Process> StartPublisher(const std::string& node, const std::string& group,
                                          const std::string& source);

  // Polls the controller until `done(ListGroups)` is true or the deadline.
  bool AwaitGroups(const std::function<bool(const v1::ListGroupsResponse&)>& done);

  // Polls GetTree(group) until `done` holds or the deadline; returns the
  // last response seen (empty if the group was never found).
  bool AwaitTree(const std::string& group,
                 const std::function<bool(const v1::GetTreeResponse&)>& done,
                 v1::GetTreeResponse* last = nullptr);

  // Polls ListNodes until every attached node reports (by heartbeat) that it
  // applied the last table the controller sent it.
  bool AwaitTablesApplied();

  absl::Status SetAllowList(const std::string& group, std::vector<std::string> allowed);

  // Every process's stderr, labelled: attach to failure messages.
  std::string Logs() const;

  const std::string& controller_address() const { return controller_address_; }
  const std::string& client_address(const std::string& node) const { return clients_.at(node); }
  const std::string& data_address(const std::string& node) const { return data_.at(node); }
  // HOST:PORT of the node's /metrics ("" if it serves none).
  const std::string& metrics_address(const std::string& node) const { return metrics_.at(node); }
  Process& node(const std::string& id) { return *nodes_.at(id); }
  const Process& node(const std::string& id) const { return *nodes_.at(id); }
  v1::Controller::Stub& stub() { return *stub_; }

 private:
  struct NoController {};
  explicit Overlay(NoController) {}
  // A temporary directory for the store, links and certificates.
  void MakeDirectory(const std::string& prefix);
  absl::Status StartController(const std::string& listen);
  // The overlay's node `id` started with its addresses (port 0 = any) and
  // node_args_[id]; records its addresses once it listens (if it does
  // within `timeout`).
  absl::Status LaunchNode(const std::string& id, const std::vector<std::string>& addresses,
                          absl::Duration timeout);
  // Reads the listening line of a node started without waiting.
  absl::Status AwaitListening(const std::string& id, absl::Duration timeout);
  bool AllTablesApplied();
  // The ids the controller lists now; none if ListNodes failed.
  std::optional<std::set<std::string>> ListedNodes();
  // The --tls-* flags of certificate `name`; none for a plaintext overlay.
  std::vector<std::string> TlsFlags(const std::string& name) const;
  std::optional<std::string> tls_dir_;

  std::filesystem::path dir_;
  std::vector<std::string> controller_args_;
  std::unique_ptr<Process> controller_;
  std::string controller_address_;
  // What nodes get as --controller: the controller's address, or the
  // replicas'.
  std::string nodes_controller_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  std::map<std::string, std::unique_ptr<Process>> nodes_;
  std::map<std::string, std::string> clients_;
  std::map<std::string, std::string> data_;
  std::map<std::string, std::string> links_;  // each node's client-links endpoint
  std::map<std::string, std::string> metrics_;
  std::map<std::string, std::vector<std::string>> node_args_;  // without addresses
  std::string retired_logs_;
};

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_TESTING_OVERLAY_H_
