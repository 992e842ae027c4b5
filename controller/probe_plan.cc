#include "controller/probe_plan.h"

#include <algorithm>
#include <limits>
#include <utility>

// The whole of Boost.Geometry: the R-tree needs its algorithms and
// strategies for 8-dimensional points, which the narrower headers miss.
#include "boost/geometry.hpp"
#include "boost/geometry/index/rtree.hpp"

namespace canopy::controller {
namespace {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

using Point = bg::model::point<double, kCoordinateDimensions, bg::cs::cartesian>;

// A newcomer replaces a current nearest peer only if estimated this much
// nearer.
constexpr double kKeepFactor = 0.9;
// Nearest() looks at this many nodes by position before ranking by RTT.
constexpr unsigned kNearestSearch = 64;

template <size_t... I>
Point ToPointImpl(const NetworkCoordinate& c, std::index_sequence<I...>) {
  Point p;
  (bg::set<I>(p, c.vec[I]), ...);
  return p;
}

Point ToPoint(const NetworkCoordinate& c) {
  return ToPointImpl(c, std::make_index_sequence<kCoordinateDimensions>());
}

bool Contains(const std::vector<std::string>& sorted, const std::string& id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

void InsertSorted(std::vector<std::string>& sorted, const std::string& id) {
  sorted.insert(std::lower_bound(sorted.begin(), sorted.end(), id), id);
}

}  // namespace

class ProbePlan::Index {
 public:
  using Value = std::pair<Point, uint32_t>;

  void Insert(const Point& p, uint32_t slot) { tree_.insert(Value{p, slot}); }
  void Remove(const Point& p, uint32_t slot) { tree_.remove(Value{p, slot}); }

  // Slots of up to `k` values nearest to `p` by position that `accept` admits.
  std::vector<uint32_t> Nearest(const Point& p, unsigned k,
                                const std::function<bool(uint32_t)>& accept) const {
    std::vector<Value> found;
    tree_.query(bgi::nearest(p, k) && bgi::satisfies([&](const Value& v) { return accept(v.second); }),
                std::back_inserter(found));
    std::vector<uint32_t> out;
    out.reserve(found.size());
    for (const Value& v : found) out.push_back(v.second);
    return out;
  }

 private:
  bgi::rtree<Value, bgi::rstar<16>> tree_;
};

ProbePlan::ProbePlan(ProbePlanOptions options)
    : options_(options), random_(options.seed), index_(std::make_unique<Index>()) {}

ProbePlan::~ProbePlan() = default;

bool ProbePlan::full_mesh() const {
  const int limit = options_.full_mesh_max_nodes > 0 ? options_.full_mesh_max_nodes
                                                     : options_.nearest + options_.random + 1;
  return nodes_.size() <= static_cast<size_t>(limit);
}

std::vector<std::string> ProbePlan::AddNode(const std::string& id) {
  const bool was_full_mesh = full_mesh();
  nodes_.try_emplace(id);
  position_[id] = ids_.size();
  ids_.push_back(id);
  std::vector<std::string> changed;
  if (full_mesh() || was_full_mesh) {
    if (!full_mesh()) AssignAll();
    for (const auto& [node, state] : nodes_) changed.push_back(node);
    return changed;
  }
  Fill(id);
  return {id};
}

std::vector<std::string> ProbePlan::RemoveNode(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return {};
  const bool was_full_mesh = full_mesh();
  std::set<std::string> changed;
  if (!was_full_mesh) {
    if (auto by = probed_by_.find(id); by != probed_by_.end()) {
      const std::set<std::string> froms = by->second;
      for (const std::string& from : froms) {
        Node& f = nodes_.at(from);
        std::erase(f.nearest, id);
        std::erase(f.random, id);
        changed.insert(from);
      }
      probed_by_.erase(id);
    }
    for (const std::string& to : PeerSet(it->second)) Unlink(id, to);
  }
  if (it->second.indexed) {
    index_->Remove(ToPoint(*it->second.coordinate), it->second.slot);
    free_slots_.push_back(it->second.slot);
  }
  // Swap-remove from the uniform-pick vector.
  const size_t pos = position_.at(id);
  position_[ids_.back()] = pos;
  std::swap(ids_[pos], ids_.back());
  ids_.pop_back();
  position_.erase(id);
  nodes_.erase(it);
  if (full_mesh()) {
    probed_by_.clear();
    std::vector<std::string> all;
    for (auto& [node, state] : nodes_) {
      state.nearest.clear();
      state.random.clear();
      all.push_back(node);
    }
    return all;
  }
  for (const std::string& from : changed) Fill(from);
  return {changed.begin(), changed.end()};
}

bool ProbePlan::SetCoordinate(const std::string& id, const NetworkCoordinate& coordinate) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return false;
  Node& node = it->second;
  if (node.indexed) {
    index_->Remove(ToPoint(*node.coordinate), node.slot);
  } else {
    if (free_slots_.empty()) {
      node.slot = static_cast<uint32_t>(slot_ids_.size());
      slot_ids_.push_back(id);
    } else {
      node.slot = free_slots_.back();
      free_slots_.pop_back();
      slot_ids_[node.slot] = id;
    }
    node.indexed = true;
  }
  node.coordinate = coordinate;
  index_->Insert(ToPoint(coordinate), node.slot);
  ++node.reports;
  if (full_mesh() || node.reports < node.next_selection) return false;
  node.next_selection = node.reports < 8 ? node.reports * 2 : node.reports + 16;
  const std::vector<std::string> before = node.nearest;
  SelectNearest(id);
  return node.nearest != before;
}

std::vector<std::string> ProbePlan::PeersOf(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return {};
  if (!full_mesh()) {
    std::set<std::string> peers = PeerSet(it->second);
    return {peers.begin(), peers.end()};
  }
  std::vector<std::string> out;
  auto next = std::next(it);
  for (size_t k = 1; k < nodes_.size() && out.size() < static_cast<size_t>(kMaxProbePeers); ++k) {
    if (next == nodes_.end()) next = nodes_.begin();
    out.push_back(next->first);
    ++next;
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ProbePlan::Probes(const std::string& from, const std::string& to) const {
  if (from == to) return false;
  auto it = nodes_.find(from);
  if (it == nodes_.end() || !nodes_.contains(to)) return false;
  if (full_mesh()) return true;
  return Contains(it->second.nearest, to) || Contains(it->second.random, to);
}

void ProbePlan::ForEachLink(
    const std::function<void(const std::string&, const std::string&)>& fn) const {
  for (const auto& [id, node] : nodes_) {
    for (const std::vector<std::string>* list : {&node.nearest, &node.random}) {
      for (const std::string& peer : *list) {
        // Each pair once: from its lower end, or from the higher end when
        // the lower one does not probe it.
        if (id < peer) {
          fn(id, peer);
        } else if (!Probes(peer, id)) {
          fn(peer, id);
        }
      }
    }
  }
}

const NetworkCoordinate* ProbePlan::CoordinateOf(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second.coordinate) return nullptr;
  return &*it->second.coordinate;
}

std::optional<std::string> ProbePlan::Nearest(
    const NetworkCoordinate& c, const std::function<bool(const std::string&)>& accept) const {
  const std::vector<uint32_t> found = index_->Nearest(
      ToPoint(c), kNearestSearch, [&](uint32_t slot) { return accept(slot_ids_[slot]); });
  std::optional<std::string> best;
  double best_rtt = std::numeric_limits<double>::infinity();
  for (uint32_t slot : found) {
    const std::string& id = slot_ids_[slot];
    const double rtt = EstimatedRttUs(c, *nodes_.at(id).coordinate);
    if (rtt < best_rtt || (rtt == best_rtt && best && id < *best)) {
      best = id;
      best_rtt = rtt;
    }
  }
  return best;
}

void ProbePlan::AssignAll() {
  probed_by_.clear();
  for (auto& [id, node] : nodes_) {
    node.nearest.clear();
    node.random.clear();
  }
  for (const auto& [id, node] : nodes_) Fill(id);
}

void ProbePlan::Fill(const std::string& id) {
  Node& node = nodes_.at(id);
  const int others = static_cast<int>(nodes_.size()) - 1;
  const int want_random = std::min(options_.random, others);
  while (static_cast<int>(node.random.size()) < want_random) {
    std::optional<std::string> peer = RandomOther(id, PeerSet(node));
    if (!peer) break;
    InsertSorted(node.random, *peer);
    Link(id, *peer);
  }
  if (node.indexed) SelectNearest(id);
  const int want_nearest = std::min(options_.nearest, others - static_cast<int>(node.random.size()));
  while (static_cast<int>(node.nearest.size()) < want_nearest) {
    std::optional<std::string> peer = RandomOther(id, PeerSet(node));
    if (!peer) break;
    InsertSorted(node.nearest, *peer);
    Link(id, *peer);
  }
}

void ProbePlan::SelectNearest(const std::string& id) {
  Node& node = nodes_.at(id);
  const NetworkCoordinate& here = *node.coordinate;
  // Candidates: twice as many as needed by position, plus the current
  // peers, ranked by estimated RTT (heights included); current peers get
  // the hysteresis bonus.
  const std::vector<uint32_t> near = index_->Nearest(
      ToPoint(here), static_cast<unsigned>(2 * options_.nearest), [&](uint32_t slot) {
        const std::string& other = slot_ids_[slot];
        return other != id && !Contains(node.random, other);
      });
  std::vector<std::pair<double, std::string>> ranked;
  std::set<std::string> seen;
  auto consider = [&](const std::string& other) {
    if (!seen.insert(other).second) return;
    const NetworkCoordinate* c = CoordinateOf(other);
    double score = c == nullptr ? std::numeric_limits<double>::max() : EstimatedRttUs(here, *c);
    if (Contains(node.nearest, other) && c != nullptr) score *= kKeepFactor;
    ranked.emplace_back(score, other);
  };
  for (uint32_t slot : near) consider(slot_ids_[slot]);
  for (const std::string& other : node.nearest) consider(other);
  std::sort(ranked.begin(), ranked.end());
  const int others = static_cast<int>(nodes_.size()) - 1;
  const size_t want = static_cast<size_t>(
      std::min(options_.nearest, others - static_cast<int>(node.random.size())));
  std::vector<std::string> chosen;
  for (const auto& [score, other] : ranked) {
    if (chosen.size() >= want) break;
    chosen.push_back(other);
  }
  std::sort(chosen.begin(), chosen.end());
  for (const std::string& old : node.nearest) {
    if (!Contains(chosen, old)) Unlink(id, old);
  }
  for (const std::string& peer : chosen) {
    if (!Contains(node.nearest, peer)) Link(id, peer);
  }
  node.nearest = std::move(chosen);
}

std::optional<std::string> ProbePlan::RandomOther(const std::string& id,
                                                  const std::set<std::string>& exclude) {
  if (ids_.size() <= 1) return std::nullopt;
  auto ok = [&](const std::string& other) { return other != id && !exclude.contains(other); };
  // Rejection sampling: lists are small next to the overlay.
  for (int attempt = 0; attempt < 32; ++attempt) {
    const std::string& pick = ids_[std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(random_)];
    if (ok(pick)) return pick;
  }
  const size_t start = std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(random_);
  for (size_t i = 0; i < ids_.size(); ++i) {
    const std::string& pick = ids_[(start + i) % ids_.size()];
    if (ok(pick)) return pick;
  }
  return std::nullopt;
}

void ProbePlan::Link(const std::string& from, const std::string& to) {
  probed_by_[to].insert(from);
}

void ProbePlan::Unlink(const std::string& from, const std::string& to) {
  auto it = probed_by_.find(to);
  if (it == probed_by_.end()) return;
  it->second.erase(from);
  if (it->second.empty()) probed_by_.erase(it);
}

std::set<std::string> ProbePlan::PeerSet(const Node& node) const {
  std::set<std::string> peers(node.nearest.begin(), node.nearest.end());
  peers.insert(node.random.begin(), node.random.end());
  return peers;
}

}  // namespace canopy::controller
