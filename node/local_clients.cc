#include "node/local_clients.h"

#include <algorithm>

#include "proto/source_filter.h"

namespace canopy::node {

LocalClients::LocalClients(std::function<void()> on_change, absl::Duration source_linger,
                           std::function<absl::Time()> now)
    : on_change_(std::move(on_change)), source_linger_(source_linger), now_(std::move(now)) {}

void LocalClients::AddSubscriber(std::shared_ptr<SubscriberQueue> subscriber) {
  {
    absl::MutexLock lock(&mu_);
    subscriber->SetCutOff(CutOffFor(*subscriber));
    const std::string group = subscriber->group();
    by_group_[group].push_back(std::move(subscriber));
    PublishList(group);
  }
  on_change_();
}

void LocalClients::PublishList(const std::string& group) {
  auto list = lists_.find(group);
  auto current = by_group_.find(group);
  if (list == lists_.end()) {
    if (current == by_group_.end()) return;
    list = lists_.emplace(group, std::make_shared<GroupSubscribers>()).first;
  }
  list->second->Store(std::make_shared<const GroupSubscribers::List>(
      current == by_group_.end() ? GroupSubscribers::List() : current->second));
}

std::shared_ptr<GroupSubscribers> LocalClients::GroupOf(const std::string& group) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = lists_.try_emplace(group);
  if (inserted) {
    it->second = std::make_shared<GroupSubscribers>();
    PublishList(group);
  }
  return it->second;
}

void LocalClients::PruneGroups() {
  absl::MutexLock lock(&mu_);
  for (auto it = lists_.begin(); it != lists_.end();) {
    const bool unused = it->second.use_count() == 1 && !by_group_.contains(it->first);
    it = unused ? lists_.erase(it) : std::next(it);
  }
}

std::map<std::string, std::string> LocalClients::CutOffFor(
    const SubscriberQueue& subscriber) const {
  std::map<std::string, std::string> out;
  for (auto it = cut_off_.lower_bound({subscriber.group(), ""});
       it != cut_off_.end() && it->first.first == subscriber.group(); ++it) {
    if (Admits(subscriber.filter(), it->first.second)) out[it->first.second] = it->second;
  }
  return out;
}

void LocalClients::SetCutOffs(std::map<std::pair<std::string, std::string>, std::string> cut_off) {
  absl::MutexLock lock(&mu_);
  if (cut_off == cut_off_) return;
  cut_off_ = std::move(cut_off);
  for (const auto& [group, subscribers] : by_group_) {
    for (const auto& subscriber : subscribers) subscriber->SetCutOff(CutOffFor(*subscriber));
  }
}

void LocalClients::RemoveSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber) {
  {
    absl::MutexLock lock(&mu_);
    auto it = by_group_.find(subscriber->group());
    if (it == by_group_.end()) return;
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), subscriber), list.end());
    if (list.empty()) by_group_.erase(it);
    PublishList(subscriber->group());
  }
  on_change_();
}

std::vector<std::shared_ptr<SubscriberQueue>> LocalClients::Subscribers(
    const std::string& group) const {
  absl::MutexLock lock(&mu_);
  auto it = by_group_.find(group);
  if (it == by_group_.end()) return {};
  return it->second;
}

void LocalClients::AddSource(const std::string& group, const std::string& source) {
  bool added;
  {
    absl::MutexLock lock(&mu_);
    const auto key = std::make_pair(group, source);
    const bool was_lingering = lingering_.erase(key) > 0;  // then still reported
    added = ++sources_[key] == 1 && !was_lingering;
  }
  if (added) on_change_();
}

void LocalClients::RemoveSource(const std::string& group, const std::string& source) {
  bool removed = false;
  {
    absl::MutexLock lock(&mu_);
    const auto key = std::make_pair(group, source);
    auto it = sources_.find(key);
    if (it == sources_.end() || it->second == 0) return;
    if (--it->second == 0) {
      if (source_linger_ > absl::ZeroDuration()) {
        lingering_[key] = now_() + source_linger_;
      } else {
        sources_.erase(it);
        removed = true;
      }
    }
  }
  if (removed) on_change_();
}

void LocalClients::ExpireLingeringSources() {
  bool expired = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = now_();
    for (auto it = lingering_.begin(); it != lingering_.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      sources_.erase(it->first);
      it = lingering_.erase(it);
      expired = true;
    }
  }
  if (expired) on_change_();
}

v1::MembershipReport LocalClients::NextMembershipReport() {
  absl::MutexLock lock(&mu_);
  v1::MembershipReport report;
  report.set_report_seq(++report_seq_);
  for (const auto& [group, subscribers] : by_group_) {
    std::vector<v1::SourceFilter> filters;
    filters.reserve(subscribers.size());
    for (const auto& s : subscribers) {
      filters.push_back(s->filter());
      s->set_join_report_seq(report_seq_);
    }
    v1::SourceFilter merged = MergeFilters(filters);
    if (AdmitsNothing(merged)) continue;
    v1::GroupMembership* m = report.add_groups();
    m->set_group(group);
    *m->mutable_filter() = std::move(merged);
  }
  return report;
}

v1::SourceReport LocalClients::SourceSnapshot() const {
  absl::MutexLock lock(&mu_);
  v1::SourceReport report;
  for (const auto& [key, count] : sources_) {
    v1::SourceKey* k = report.add_sources();
    k->set_group(key.first);
    k->set_source(key.second);
  }
  return report;
}

void LocalClients::Acknowledge(uint64_t report_seq) {
  absl::MutexLock lock(&mu_);
  for (const auto& [group, subscribers] : by_group_) {
    for (const auto& s : subscribers) {
      const uint64_t seq = s->join_report_seq();
      if (seq != 0 && seq <= report_seq) s->MarkJoined();
    }
  }
}

std::map<std::string, LocalClients::GroupCounts> LocalClients::CountsByGroup() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, GroupCounts> counts;
  for (const auto& [group, subscribers] : by_group_) {
    counts[group].subscribers = static_cast<int>(subscribers.size());
  }
  for (const auto& [key, publishers] : sources_) counts[key.first].publishers += publishers;
  return counts;
}

}  // namespace canopy::node
