#include "bench/relay/relay_flows.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bench/relay/cpu_usage.h"
#include "bench/relay/pacer.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"

namespace canopy::bench {
namespace {

constexpr char kSource[] = "bench";
constexpr absl::Duration kSetupTimeout = absl::Seconds(15);
constexpr absl::Duration kStopTimeout = absl::Seconds(10);

// Subscribers joined and a publisher announced on one flow, with its tree
// planned and applied by every node. Owns the drain threads it starts.
//
// Thread-compatible (Open/Stop from one thread; the counters are atomic).
class FlowSession {
 public:
  // What a drain thread does with each delivered payload.
  using OnMessage = std::function<void(const std::string& payload)>;

  static absl::StatusOr<std::unique_ptr<FlowSession>> Open(testing::Overlay& overlay,
                                                           const FlowSpec& flow) {
    std::unique_ptr<FlowSession> session(new FlowSession(overlay, flow));
    for (const std::string& node : flow.receivers) {
      SubscriberOptions options;
      options.node_address = overlay.client_address(node);
      options.group = flow.group;
      options.tls = overlay.client_tls();
      options.transport = flow.transport;
      auto sub = Subscriber::Open(std::move(options));
      if (!sub.ok()) return sub.status();
      session->subscribers_.push_back(std::move(*sub));
    }
    for (auto& sub : session->subscribers_) {
      if (absl::Status s = sub->WaitJoined(kSetupTimeout); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("subscriber join: ", s.message()));
      }
    }
    PublisherOptions pub_options{overlay.client_address(flow.ingress), flow.group, kSource};
    pub_options.tls = overlay.client_tls();
    pub_options.transport = flow.transport;
    auto pub = Publisher::Open(std::move(pub_options));
    if (!pub.ok()) return pub.status();
    session->publisher_ = std::move(*pub);
    auto tree = overlay.AwaitFlow(flow.group, kSource, flow.receivers, kSetupTimeout);
    if (!tree.ok()) return tree.status();
    session->tree_ = *tree;
    return session;
  }

  ~FlowSession() { Stop().IgnoreError(); }

  // Starts one drain thread per subscriber calling `on_message`.
  void StartDrains(OnMessage on_message) {
    for (auto& sub : subscribers_) {
      drains_.emplace_back([this, s = sub.get(), on_message] {
        while (true) {
          auto m = s->Next();
          if (!m.ok()) break;
          delivered_bytes_.fetch_add(m->payload.size(), std::memory_order_relaxed);
          delivered_messages_.fetch_add(1, std::memory_order_relaxed);
          on_message(m->payload);
        }
      });
    }
  }

  // Runs `body(publisher)` on a publisher thread until it returns or
  // RequestStop() is called (body should poll stop_requested()).
  void StartPublishing(std::function<void(Publisher&, const std::atomic<bool>& stop)> body) {
    publishing_ = std::thread([this, body] {
      body(*publisher_, stop_);
      publisher_.reset();  // cancels the stream (no Finish: nothing to wait for)
      publisher_done_.Notify();
    });
  }

  // Stops the publisher (bounded: kills the ingress node if Send() stays
  // blocked), cancels subscribers and joins every thread.
  absl::Status Stop() {
    absl::Status status;
    stop_ = true;
    if (publishing_.joinable()) {
      if (!publisher_done_.WaitForNotificationWithTimeout(kStopTimeout)) {
        kill(overlay_.node(flow_.ingress).pid(), SIGKILL);
        status = absl::DeadlineExceededError("publisher stuck; killed the ingress node");
      }
      publishing_.join();
    }
    for (auto& sub : subscribers_) sub->Cancel();
    for (auto& t : drains_) t.join();
    drains_.clear();
    subscribers_.clear();
    return status;
  }

  uint64_t delivered_bytes() const { return delivered_bytes_.load(); }
  uint64_t delivered_messages() const { return delivered_messages_.load(); }
  const std::string& tree() const { return tree_; }

 private:
  FlowSession(testing::Overlay& overlay, const FlowSpec& flow) : overlay_(overlay), flow_(flow) {}

  testing::Overlay& overlay_;
  const FlowSpec flow_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::unique_ptr<Publisher> publisher_;
  std::string tree_;
  std::vector<std::thread> drains_;
  std::thread publishing_;
  absl::Notification publisher_done_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> delivered_bytes_{0};
  std::atomic<uint64_t> delivered_messages_{0};
};

std::map<std::string, double> CpuByNode(testing::Overlay& overlay) {
  std::map<std::string, double> cpu;
  for (const std::string& id : overlay.node_ids()) cpu[id] = ProcessCpuSeconds(overlay.node(id).pid());
  return cpu;
}

}  // namespace

absl::StatusOr<ThroughputResult> MeasureThroughput(testing::Overlay& overlay, const FlowSpec& flow,
                                                   size_t message_bytes, absl::Duration warmup,
                                                   absl::Duration window) {
  auto session = FlowSession::Open(overlay, flow);
  if (!session.ok()) return session.status();
  std::atomic<bool> failed{false};
  std::string send_error;
  (*session)->StartDrains([](const std::string&) {});
  (*session)->StartPublishing([&](Publisher& pub, const std::atomic<bool>& stop) {
    const std::string payload(message_bytes, 'm');
    while (!stop) {
      if (absl::Status s = pub.Send(payload); !s.ok()) {
        send_error = s.ToString();
        failed = true;
        return;
      }
    }
  });
  absl::SleepFor(warmup);
  const auto cpu0 = CpuByNode(overlay);
  const double client0 = ProcessCpuSeconds(getpid());
  const uint64_t bytes0 = (*session)->delivered_bytes();
  const int64_t t0 = MonotonicNanos();
  absl::SleepFor(window);
  const uint64_t bytes1 = (*session)->delivered_bytes();
  const int64_t t1 = MonotonicNanos();
  const auto cpu1 = CpuByNode(overlay);
  const double client1 = ProcessCpuSeconds(getpid());
  absl::Status stopped = (*session)->Stop();
  if (failed) return absl::UnavailableError("publisher: " + send_error);
  if (!stopped.ok()) return stopped;

  ThroughputResult result;
  result.delivered_bytes = bytes1 - bytes0;
  result.window_seconds = static_cast<double>(t1 - t0) / 1e9;
  result.delivered_bytes_per_s = static_cast<double>(result.delivered_bytes) / result.window_seconds;
  for (const auto& [id, seconds] : cpu1) result.node_cpu_seconds[id] = seconds - cpu0.at(id);
  result.client_cpu_seconds = client1 - client0;
  result.tree = (*session)->tree();
  return result;
}

namespace {

// A field of /proc/PID/status ("Threads", "VmRSS"): its first number; 0
// if the process or the field is gone.
long ProcStatusField(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    long value = 0;
    std::istringstream(line.substr(field.size() + 1)) >> value;
    return value;
  }
  return 0;
}

}  // namespace

absl::StatusOr<IdleCost> MeasureIdleSubscriptions(testing::Overlay& overlay, const std::string& node,
                                                  const std::string& group, int count,
                                                  Transport transport) {
  const pid_t pid = overlay.node(node).pid();
  IdleCost cost;
  cost.subscriptions = count;
  cost.threads_before = ProcStatusField(pid, "Threads");
  cost.rss_kib_before = ProcStatusField(pid, "VmRSS");
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  subscribers.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("opening idle subscriptions");
    SubscriberOptions options;
    options.node_address = overlay.client_address(node);
    options.group = group;
    options.tls = overlay.client_tls();
    options.transport = transport;
    auto sub = Subscriber::Open(std::move(options));
    if (!sub.ok()) return sub.status();
    subscribers.push_back(*std::move(sub));
  }
  for (auto& sub : subscribers) {
    const absl::Duration left = deadline - absl::Now();
    if (absl::Status s = sub->WaitJoined(std::max(left, absl::ZeroDuration())); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("idle subscriber join: ", s.message()));
    }
  }
  cost.threads_after = ProcStatusField(pid, "Threads");
  cost.rss_kib_after = ProcStatusField(pid, "VmRSS");
  for (auto& sub : subscribers) sub->Cancel();
  subscribers.clear();
  return cost;
}

absl::StatusOr<LatencyResult> MeasureLatency(testing::Overlay& overlay, const FlowSpec& flow,
                                             size_t message_bytes, int count, double rate_per_s) {
  auto session = FlowSession::Open(overlay, flow);
  if (!session.ok()) return session.status();
  // Written by the one drain thread, read after Stop() joined it.
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(count));
  (*session)->StartDrains([&micros](const std::string& payload) {
    const int64_t now = MonotonicNanos();
    int64_t sent = 0;
    std::memcpy(&sent, payload.data(), sizeof(sent));
    micros.push_back(static_cast<double>(now - sent) / 1e3);
  });
  std::atomic<int> sent{0};
  std::atomic<bool> failed{false};
  (*session)->StartPublishing([&](Publisher& pub, const std::atomic<bool>& stop) {
    std::string payload(message_bytes, 'l');
    Pacer pacer(rate_per_s);
    for (int i = 0; i < count && !stop; ++i) {
      pacer.Wait();
      const int64_t now = MonotonicNanos();
      std::memcpy(payload.data(), &now, sizeof(now));
      if (!pub.Send(payload).ok()) {
        failed = true;
        return;
      }
      sent.fetch_add(1);
    }
  });
  // Bounded wait for the last deliveries: the send time plus 5 s.
  const absl::Time deadline = absl::Now() + absl::Seconds(count / rate_per_s + 5);
  while (absl::Now() < deadline && (*session)->delivered_messages() < static_cast<uint64_t>(count) &&
         !failed) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const std::string tree = (*session)->tree();
  absl::Status stopped = (*session)->Stop();
  if (failed) return absl::UnavailableError("latency publisher failed");
  if (!stopped.ok()) return stopped;

  LatencyResult result;
  result.sent = sent.load();
  result.received = static_cast<int>(micros.size());
  result.tree = tree;
  const size_t skip = micros.size() / 10;  // warm-up
  result.micros.assign(micros.begin() + static_cast<std::ptrdiff_t>(skip), micros.end());
  return result;
}

}  // namespace canopy::bench
