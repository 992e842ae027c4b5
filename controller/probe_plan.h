#ifndef CANOPY_CONTROLLER_PROBE_PLAN_H_
#define CANOPY_CONTROLLER_PROBE_PLAN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "proto/network_coordinate.h"

namespace canopy::controller {

// A node probes at most this many peers (ProbePeers; node/peer_prober.h).
inline constexpr int kMaxProbePeers = 256;

struct ProbePlanOptions {
  // Each node probes its `nearest` nearest nodes by network coordinates
  // plus `random` nodes picked at random (the long links that keep the
  // overlay a small world). While the overlay has at most
  // nearest + random + 1 nodes (or full_mesh_max_nodes) every node probes
  // every other: a full mesh.
  // REQUIRES: nearest >= 1, random >= 0, nearest + random <= kMaxProbePeers.
  // The defaults: 32 probes per node. At 1,000 nodes, 12 + 4 gave trees as
  // cheap as the full mesh's but 1.37x its mean delay; 16 + 16 gives
  // 1.13x (bench-planner, docs/scale.md): long links matter most.
  int nearest = 16;
  int random = 16;
  // Overlays of at most this many nodes are a full mesh: every pair is a
  // link, and each node probes the up to kMaxProbePeers nodes that follow
  // it in id order. 0 = nearest + random + 1, where the lists would name
  // everyone anyway. Larger values trade probe traffic for tree quality
  // (and let a benchmark plan the full mesh as its yardstick).
  int full_mesh_max_nodes = 0;
  // Seed of the random choices (the same sequence of calls gives the same
  // plan).
  uint64_t seed = 1;
};

// Who measures whom: a bounded set of probe peers per node, so probe traffic
// per node stays constant however large the overlay grows, and the overlay
// the planner works on has O(n·(nearest + random)) links.
//
// A node that has reported no coordinate yet probes `nearest + random`
// random nodes. Once it reports coordinates its nearest peers are chosen by
// estimated RTT (an R-tree query, Boost.Geometry): at its 1st, 2nd, 4th and
// 8th report and then every 16th (the coordinates of the others move too).
// A re-selection keeps a current peer unless a newcomer is estimated at
// least 10 % nearer, so lists do not flap. Random peers stay until they
// leave. A departed peer is replaced at once.
//
// Thread-compatible.
class ProbePlan {
 public:
  explicit ProbePlan(ProbePlanOptions options);
  ~ProbePlan();
  ProbePlan(const ProbePlan&) = delete;
  ProbePlan& operator=(const ProbePlan&) = delete;

  // Adds node `id` (replacing nothing: REQUIRES it is not in the plan).
  // Returns the nodes whose peer lists changed, sorted: the new node, or
  // every node when the overlay outgrows the full mesh.
  std::vector<std::string> AddNode(const std::string& id);

  // Removes node `id` (if present). Returns the nodes whose peer lists
  // changed (those that probed it got a replacement), sorted.
  std::vector<std::string> RemoveNode(const std::string& id);

  // Records `id`'s latest coordinate (one report). Returns true if its peer
  // list changed. Unknown ids are ignored.
  bool SetCoordinate(const std::string& id, const NetworkCoordinate& coordinate);

  // True while every node probes every other.
  bool full_mesh() const;

  // The peers `id` should probe, sorted by id: in a full mesh the up to
  // kMaxProbePeers nodes that follow it in id order (wrapping), else its
  // nearest and random peers. Empty for an unknown id.
  std::vector<std::string> PeersOf(const std::string& id) const;

  // True if `from` should probe `to` (in a full mesh: both are nodes).
  bool Probes(const std::string& from, const std::string& to) const;

  // Calls `fn(a, b)` once for every pair where one probes the other, a < b.
  // REQUIRES: !full_mesh() (a full mesh is every pair).
  void ForEachLink(const std::function<void(const std::string&, const std::string&)>& fn) const;

  // The node's last coordinate; nullptr if it reported none (or is unknown).
  const NetworkCoordinate* CoordinateOf(const std::string& id) const;

  // The node with a coordinate nearest to `c` by estimated RTT among those
  // `accept` admits (searching the 64 nearest by position); nullopt if none.
  std::optional<std::string> Nearest(const NetworkCoordinate& c,
                                     const std::function<bool(const std::string&)>& accept) const;

  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    std::optional<NetworkCoordinate> coordinate;
    uint32_t slot = 0;                 // index in the R-tree's values
    bool indexed = false;              // in the R-tree
    std::vector<std::string> nearest;  // sorted
    std::vector<std::string> random;   // sorted
    int reports = 0;
    int next_selection = 1;  // report count at which nearest is chosen again
  };
  class Index;  // the R-tree of coordinates

  // Picks peers for every node (the overlay outgrew the full mesh).
  void AssignAll();
  // Fills `id`'s random and nearest lists up to their sizes.
  void Fill(const std::string& id);
  // Chooses `id`'s nearest peers by coordinates (with hysteresis).
  void SelectNearest(const std::string& id);
  // A random node that is not `id` and not in `exclude`; nullopt if none.
  std::optional<std::string> RandomOther(const std::string& id,
                                         const std::set<std::string>& exclude);
  void Link(const std::string& from, const std::string& to);
  void Unlink(const std::string& from, const std::string& to);
  std::set<std::string> PeerSet(const Node& node) const;

  const ProbePlanOptions options_;
  std::mt19937_64 random_;
  std::map<std::string, Node> nodes_;
  std::vector<std::string> ids_;                     // for uniform picks
  std::map<std::string, size_t> position_;           // id → index in ids_
  std::map<std::string, std::set<std::string>> probed_by_;  // to → froms (not full mesh)
  std::vector<std::string> slot_ids_;                // R-tree slot → id
  std::vector<uint32_t> free_slots_;
  std::unique_ptr<Index> index_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_PROBE_PLAN_H_
