#include "bench/controller/sim_node.h"

#include <utility>

#include "absl/time/clock.h"

namespace canopy::bench {

SimulatedNode::SimulatedNode(v1::Controller::Stub* stub, v1::NodeHello hello)
    : id_(hello.node_id()) {
  stub->async()->Attach(&context_, this);
  v1::NodeReport first;
  *first.mutable_hello() = std::move(hello);
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(first));
}

void SimulatedNode::Start() {
  StartRead(&incoming_);
  WriteNext();
  StartCall();
}

void SimulatedNode::Send(v1::NodeReport report) {
  {
    absl::MutexLock lock(&mu_);
    if (done_ || broken_) return;
    queue_.push_back(std::move(report));
  }
  WriteNext();
}

void SimulatedNode::SendMembership(const std::vector<std::string>& groups) {
  v1::NodeReport report;
  v1::MembershipReport* m = report.mutable_membership();
  for (const std::string& g : groups) {
    v1::GroupMembership* gm = m->add_groups();
    gm->set_group(g);
    gm->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);  // every source
  }
  {
    absl::MutexLock lock(&mu_);
    if (done_ || broken_) return;
    m->set_report_seq(++next_seq_);
    sent_[next_seq_] = absl::Now();
    queue_.push_back(std::move(report));
  }
  WriteNext();
}

void SimulatedNode::SendHeartbeat() {
  v1::NodeReport report;
  {
    absl::MutexLock lock(&mu_);
    if (done_ || broken_) return;
    report.mutable_heartbeat()->set_table_version(last_version_);
    queue_.push_back(std::move(report));
  }
  WriteNext();
}

void SimulatedNode::WriteNext() {
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || queue_.empty() || done_ || broken_) return;
    // outgoing_ belongs to the one write in flight (writing_), so it is
    // filled here and read by gRPC without the lock.
    outgoing_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
  }
  // Outside the lock: gRPC may run reactions on this thread.
  StartWrite(&outgoing_);
}

void SimulatedNode::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;  // the stream is ending; OnDone follows
      return;
    }
  }
  WriteNext();
}

void SimulatedNode::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended; OnDone follows
  {
    absl::MutexLock lock(&mu_);
    switch (incoming_.body_case()) {
      case v1::NodeInstruction::kTable:
        ++tables_;
        last_version_ = incoming_.table().version();
        break;
      case v1::NodeInstruction::kMembershipAck: {
        const absl::Time now = absl::Now();
        const uint64_t seq = incoming_.membership_ack().report_seq();
        for (auto it = sent_.begin(); it != sent_.end() && it->first <= seq;) {
          ack_ms_.push_back(absl::ToDoubleMilliseconds(now - it->second));
          it = sent_.erase(it);
        }
        break;
      }
      case v1::NodeInstruction::kProbePeers:
        probe_peers_ = incoming_.probe_peers();
        probed_ = true;
        break;
      default:
        break;
    }
  }
  StartRead(&incoming_);
}

void SimulatedNode::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  done_ = true;
  status_ = status;
}

void SimulatedNode::Cancel() { context_.TryCancel(); }

bool SimulatedNode::WaitDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

bool SimulatedNode::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

bool SimulatedNode::attached() const {
  absl::MutexLock lock(&mu_);
  return probed_;
}

uint64_t SimulatedNode::tables() const {
  absl::MutexLock lock(&mu_);
  return tables_;
}

v1::ProbePeers SimulatedNode::probe_peers() const {
  absl::MutexLock lock(&mu_);
  return probe_peers_;
}

std::vector<double> SimulatedNode::TakeAckLatencies() {
  absl::MutexLock lock(&mu_);
  return std::exchange(ack_ms_, {});
}

size_t SimulatedNode::unacked() const {
  absl::MutexLock lock(&mu_);
  return sent_.size();
}

grpc::Status SimulatedNode::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

}  // namespace canopy::bench
