// Objects end to end through real nodes: bit-exact delivery to several
// receivers, objects back to back, a buffer too small, a corrupted chunk
// repaired, and a receiver killed and restarted mid-transfer.

#include "canopy/object.h"

#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

std::unique_ptr<Subscriber> Join(Overlay& overlay, const std::string& node,
                                 const std::string& group) {
  auto sub = Subscriber::Open({overlay.client_address(node), group});
  EXPECT_TRUE(sub.ok()) << sub.status();
  EXPECT_TRUE((*sub)->WaitJoined(kWait).ok());
  return *std::move(sub);
}

std::unique_ptr<Publisher> Source(Overlay& overlay, const std::string& node,
                                  const std::string& group) {
  auto pub = Publisher::Open({overlay.client_address(node), group, "trainer"});
  EXPECT_TRUE(pub.ok()) << pub.status();
  return *std::move(pub);
}

TEST(ObjectTest, EveryReceiverGetsTheObjectBitExact) {
  Overlay overlay;
  overlay.StartNode("node-a", /*max_fanout=*/1);
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (const char* node : {"node-a", "node-b", "node-c"})
    subs.push_back(Join(overlay, node, "ckpt"));
  auto pub = Source(overlay, "node-a", "ckpt");
  const std::string data = RandomBytes((24 << 20) + 12345, 1);
  SendObjectOptions options;
  options.chunk_bytes = 256 << 10;
  auto sent = SendObject(*pub, "model.safetensors", data, options);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->info.chunk_count, 97u);
  for (auto& sub : subs) {
    std::vector<char> buffer(32 << 20);
    uint64_t chunks = 0;
    ReceiveObjectOptions ro;
    ro.timeout = kWait;
    ro.on_chunk = [&](uint64_t offset, absl::string_view bytes) {
      EXPECT_EQ(bytes.data(), buffer.data() + offset);  // landed in the caller's buffer
      ++chunks;
    };
    ObjectReceiver receiver(*sub);
    auto got = receiver.ReceiveInto(absl::MakeSpan(buffer), ro);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->info.name, "model.safetensors");
    EXPECT_EQ(got->info.size, data.size());
    EXPECT_EQ(got->info.sha256_hex, sent->info.sha256_hex);
    EXPECT_EQ(got->source, "trainer");
    EXPECT_EQ(chunks, 97u);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), buffer.begin()));
  }
}

TEST(ObjectTest, ObjectsBackToBackDoNotMixAndATooSmallBufferIsRefusedUntouched) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  auto sub = Join(overlay, "node-b", "files");
  auto pub = Source(overlay, "node-a", "files");
  const std::string big = RandomBytes(3 << 20, 2), first = RandomBytes(1 << 20, 3),
                    second = RandomBytes((2 << 20) + 7, 4);
  SendObjectOptions options;
  options.chunk_bytes = 64 << 10;
  ASSERT_TRUE(SendObject(*pub, "big", big, options).ok());
  ASSERT_TRUE(SendObject(*pub, "first", first, options).ok());
  ASSERT_TRUE(SendObject(*pub, "second", second, options).ok());

  ObjectReceiver receiver(*sub);
  ReceiveObjectOptions ro;
  ro.timeout = kWait;
  std::vector<char> small(1 << 20, 'S');
  auto refused = receiver.ReceiveInto(absl::MakeSpan(small), ro);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("big"));
  EXPECT_EQ(std::count(small.begin(), small.end(), 'S'), static_cast<long>(small.size()));

  // The refused object's chunks are skipped; the next two arrive whole.
  auto one = receiver.Receive(ro);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->first.info.name, "first");
  EXPECT_TRUE(one->second == first);
  auto two = receiver.Receive(ro);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->first.info.name, "second");
  EXPECT_TRUE(two->second == second);
}

TEST(ObjectTest, ACorruptedChunkIsCaughtAndFetchedAgain) {
  Overlay overlay;
  overlay.StartNode("node-a");
  // node-b damages every 5th message it hands to its subscribers.
  overlay.StartNode("node-b", 0, {"--fault-flip-every", "5"});
  auto sub = Join(overlay, "node-b", "ckpt");
  auto pub = Source(overlay, "node-a", "ckpt");
  const std::string data = RandomBytes(4 << 20, 5);
  SendObjectOptions options;
  options.chunk_bytes = 128 << 10;
  ASSERT_TRUE(SendObject(*pub, "weights", data, options).ok());
  ObjectReceiver receiver(*sub);
  ReceiveObjectOptions ro;
  ro.timeout = kWait;
  std::vector<std::pair<uint64_t, std::string>> delivered;
  ro.on_chunk = [&](uint64_t offset, absl::string_view bytes) {
    // Never a damaged chunk: each one equals the sender's bytes.
    EXPECT_EQ(bytes, absl::string_view(data).substr(offset, bytes.size()));
    delivered.push_back({offset, std::string(bytes)});
  };
  auto got = receiver.ReceiveChunks(ro);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(delivered.size(), 32u);
  EXPECT_THAT(overlay.node("node-b").Stderr(), HasSubstr("fault injection"));
}

TEST(ObjectTest, AStripedObjectTravelsAForestAndArrivesWholeEvenThroughAFaultyRelay) {
  Overlay overlay;
  // A fast source, two fast receivers and two that can hardly upload: the
  // bulk planner gives each stripe its own tree through a fast receiver.
  overlay.StartNode("node-a", 0, {"--upload-bps", "200000000"});
  overlay.StartNode("node-b", 0, {"--upload-bps", "200000000"});
  overlay.StartNode("node-c", 0, {"--upload-bps", "200000000"});
  // node-d also damages every 7th message it hands its subscriber.
  overlay.StartNode("node-d", 0, {"--upload-bps", "20000000", "--fault-flip-every", "7"});
  overlay.StartNode("node-e", 0, {"--upload-bps", "20000000"});
  {
    grpc::ClientContext context;
    v1::GroupPolicy policy, response;
    policy.set_group("ckpt");
    policy.set_profile(v1::TREE_PROFILE_BULK);
    policy.add_allowed_sources("trainer");  // covers its stripes
    ASSERT_TRUE(overlay.stub().SetPolicy(&context, policy, &response).ok());
  }
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (const char* node : {"node-b", "node-c", "node-d", "node-e"})
    subs.push_back(Join(overlay, node, "ckpt"));
  auto stripes = OpenStripedPublishers({overlay.client_address("node-a"), "ckpt", "trainer"}, 2);
  ASSERT_TRUE(stripes.ok()) << stripes.status();
  // Both stripes are planned: each through a different fast receiver, the
  // slow ones relay nothing.
  v1::GetTreeResponse tree;
  auto relays = [](const v1::SourceTree& t) {
    std::set<std::string> parents;
    for (const v1::TreeEdge& e : t.edges()) parents.insert(e.parent());
    parents.erase(t.root());
    return parents;
  };
  ASSERT_TRUE(overlay.AwaitTree(
      "ckpt",
      [&](const v1::GetTreeResponse& r) {
        if (r.trees_size() != 2) return false;
        const std::set<std::string> r0 = relays(r.trees(0)), r1 = relays(r.trees(1));
        return r0.size() == 1 && r1.size() == 1 && r0 != r1 && r.trees(0).edges_size() == 4 &&
               r.trees(1).edges_size() == 4;
      },
      &tree))
      << tree.DebugString();
  for (const v1::SourceTree& t : tree.trees()) {
    EXPECT_THAT(relays(t),
                ::testing::Not(::testing::Contains(::testing::AnyOf("node-d", "node-e"))));
  }
  ASSERT_TRUE(overlay.AwaitTablesApplied());

  std::vector<Publisher*> publishers;
  for (auto& p : *stripes) publishers.push_back(p.get());
  const std::string data = RandomBytes((6 << 20) + 999, 7);
  SendObjectOptions options;
  options.chunk_bytes = 128 << 10;  // 49 chunks: 25 on stripe 0, 24 on stripe 1
  auto sent = SendObject(absl::MakeConstSpan(publishers), "striped.bin", data, options);
  ASSERT_TRUE(sent.ok()) << sent.status();
  for (auto& sub : subs) {
    std::vector<char> buffer(data.size());
    ReceiveObjectOptions ro;
    ro.timeout = kWait;
    uint64_t chunks = 0;
    ro.on_chunk = [&](uint64_t offset, absl::string_view bytes) {
      EXPECT_EQ(bytes, absl::string_view(data).substr(offset, bytes.size()));
      ++chunks;
    };
    ObjectReceiver receiver(*sub);
    auto got = receiver.ReceiveInto(absl::MakeSpan(buffer), ro);
    ASSERT_TRUE(got.ok()) << got.status() << overlay.Logs();
    EXPECT_EQ(got->source, "trainer");
    EXPECT_EQ(got->info.sha256_hex, sent->info.sha256_hex);
    EXPECT_EQ(chunks, 49u);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), buffer.begin()));
  }
  EXPECT_THAT(overlay.node("node-d").Stderr(), HasSubstr("fault injection"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// canopy-recv is SIGKILLed a quarter into a transfer sent over `stripes`
// stripes and started again: it joins mid-object, fetches the beginning
// from the nodes, and writes the whole file.
void KillAndRestartReceiverMidTransfer(int stripe_count) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  const std::string out = overlay.WriteFile("out/.keep", "");
  const std::string dir = out.substr(0, out.rfind('/'));
  auto recv = std::make_unique<Process>(std::vector<std::string>{
      BinaryPath("canopy-recv"), "--node", overlay.client_address("node-b"), "--group", "ckpt",
      "--out", dir, "--timeout-s", "60"});
  ASSERT_TRUE(recv->WaitForStderr("joined", kWait)) << recv->Stderr();
  auto stripes =
      OpenStripedPublishers({overlay.client_address("node-a"), "ckpt", "trainer"}, stripe_count);
  ASSERT_TRUE(stripes.ok()) << stripes.status();
  std::vector<Publisher*> publishers;
  for (auto& p : *stripes) publishers.push_back(p.get());
  const std::string data = RandomBytes(8 << 20, 6);
  SendObjectOptions options;
  options.chunk_bytes = 128 << 10;  // 64 chunks
  std::unique_ptr<Process> again;
  options.on_progress = [&](uint64_t sent) {
    absl::SleepFor(absl::Milliseconds(20));  // pacing: a slow uplink
    if (sent == 16 * (128 << 10)) {
      recv->Signal(SIGKILL);
      recv->Wait(kWait);
      again = std::make_unique<Process>(std::vector<std::string>{
          BinaryPath("canopy-recv"), "--node", overlay.client_address("node-b"), "--group", "ckpt",
          "--out", dir, "--timeout-s", "60"});
      ASSERT_TRUE(again->WaitForStderr("joined", kWait)) << again->Stderr();
    }
  };
  auto sent = SendObject(absl::MakeConstSpan(publishers), "resumed.bin", data, options);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(again->Wait(kWait), 0) << again->Stderr() << overlay.Logs();
  EXPECT_THAT(again->StdoutLines().back(), HasSubstr(sent->info.sha256_hex));
  EXPECT_TRUE(ReadFile(dir + "/resumed.bin") == data);
}

TEST(ObjectTest, AReceiverKilledAndRestartedMidTransferStillGetsTheWholeObject) {
  KillAndRestartReceiverMidTransfer(1);
}

TEST(ObjectTest, AReceiverRestartedMidTransferOfAStripedObjectGetsEveryStripe) {
  KillAndRestartReceiverMidTransfer(3);
}

// The digest of one JSON summary line.
std::string Sha256Of(const std::string& json) {
  const size_t at = json.find("\"sha256\":\"");
  return at == std::string::npos ? "" : json.substr(at + 10, 64);
}

TEST(ObjectTest, ParamBroadcastExampleDeliversTheCheckpointToEveryWorker) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  std::vector<std::unique_ptr<Process>> workers;
  for (const char* node : {"node-b", "node-c"}) {
    workers.push_back(std::make_unique<Process>(std::vector<std::string>{
        BinaryPath("param_broadcast"), "--role", "worker", "--node", overlay.client_address(node),
        "--group", "workers", "--max-mib", "16"}));
    ASSERT_TRUE(workers.back()->WaitForStderr("joined", kWait)) << workers.back()->Stderr();
  }
  Process trainer({BinaryPath("param_broadcast"), "--role", "trainer", "--node",
                   overlay.client_address("node-a"), "--group", "workers", "--tensors", "16",
                   "--tensor-kib", "256"});
  ASSERT_EQ(trainer.Wait(kWait), 0) << trainer.Stderr();
  const std::string sent = trainer.StdoutLines().back();
  EXPECT_THAT(sent, HasSubstr("\"tensors\":16"));
  ASSERT_EQ(Sha256Of(sent).size(), 64u) << sent;
  for (auto& worker : workers) {
    ASSERT_EQ(worker->Wait(kWait), 0) << worker->Stderr();
    const std::string got = worker->StdoutLines().back();
    EXPECT_THAT(got, HasSubstr("\"tensors\":16"));
    EXPECT_EQ(Sha256Of(got), Sha256Of(sent));
  }
}

}  // namespace
}  // namespace canopy::testing
