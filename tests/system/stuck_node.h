#ifndef CANOPY_TESTS_SYSTEM_STUCK_NODE_H_
#define CANOPY_TESTS_SYSTEM_STUCK_NODE_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "canopy/v1/controller.grpc.pb.h"

namespace canopy::testing {

// A node that attaches to a controller, joins and publishes to `groups`
// groups (changing one now and then, so new tables keep coming), sends
// heartbeats (it is alive) — and never reads its stream, accepting at most
// 1 KiB of it unread. Its reports go on for at most a minute, or until the
// controller drops the stream.
//
// Thread-compatible.
class StuckNode {
 public:
  StuckNode(const std::string& controller, const std::string& id, int groups);
  StuckNode(const StuckNode&) = delete;
  StuckNode& operator=(const StuckNode&) = delete;
  ~StuckNode();

  // True once the controller ended the stream (a write failed).
  bool dropped() const { return dropped_.load(); }

 private:
  void Run();

  const std::string id_;
  const int groups_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::NodeReport, v1::NodeInstruction>> stream_;
  std::atomic<bool> done_{false};
  std::atomic<bool> dropped_{false};
  std::thread writer_;
};

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_STUCK_NODE_H_
