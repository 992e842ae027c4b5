#ifndef CANOPY_TESTS_SYSTEM_OVERLAY_H_
#define CANOPY_TESTS_SYSTEM_OVERLAY_H_

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "tests/system/process.h"

namespace canopy::testing {

// Deadline for anything a test waits for on loopback.
inline constexpr absl::Duration kWait = absl::Seconds(30);

// A controller and nodes as real processes on loopback (free ports), plus a
// gRPC stub to the controller. Everything is killed when it goes away.
class Overlay {
 public:
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
  v1::Controller::Stub& stub() { return *stub_; }

 private:
  struct NoController {};
  explicit Overlay(NoController) {}
  bool StartController(const std::string& listen);

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

#endif  // CANOPY_TESTS_SYSTEM_OVERLAY_H_
