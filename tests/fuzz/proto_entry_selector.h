#ifndef CANOPY_TESTS_FUZZ_PROTO_ENTRY_SELECTOR_H_
#define CANOPY_TESTS_FUZZ_PROTO_ENTRY_SELECTOR_H_

#include <cstdint>

namespace canopy::fuzz {

// The first byte of a proto_entry_fuzzer input (modulo kSelectorCount): which
// request the rest of the input is. Shared with gen_proto_corpus.
enum ProtoEntrySelector : uint8_t {
  kAttachFirst,      // NodeReport: the first report of an Attach stream
  kAttachLater,      // NodeReport: a later report of an attached node
  kListNodes,        // ListNodesRequest
  kListGroups,       // ListGroupsRequest
  kGetTree,          // GetTreeRequest to GetTree
  kWatchTree,        // GetTreeRequest to WatchTree
  kGetPolicy,        // GetPolicyRequest
  kSetPolicy,        // GroupPolicy to SetPolicy
  kListMembers,      // ListMembersRequest
  kGetStats,         // GetStatsRequest
  kSubscribe,        // SubscribeRequest (Node)
  kPublish,          // Publication, the first of a Publish stream (Node)
  kPublishOverLink,  // PublishLinkRequest (Node)
  kPolicyFile,       // JSON text of a --policies file, not protobuf
  kSelectorCount
};

}  // namespace canopy::fuzz

#endif  // CANOPY_TESTS_FUZZ_PROTO_ENTRY_SELECTOR_H_
