#include "node/client_service.h"

#include <atomic>
#include <deque>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "base/stripe_source.h"
#include "base/tls_credentials.h"
#include "boost/asio/post.hpp"
#include "node/client_links.h"
#include "proto/source_filter.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"
#include "wire/ack_frames.h"
#include "wire/tls_context.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {
// Deliveries waiting to be written to one gRPC-transport subscriber; more
// wait in its SubscriberQueue, where back pressure applies.
constexpr size_t kStreamOutbox = 8;
// Acknowledgement totals waiting to be written to one publisher; older
// ones are dropped (each carries running totals).
constexpr size_t kAcksOutbox = 64;

// The name acknowledgements give a subscriber that named itself not: the
// call's peer address ("ipv4:10.0.0.7:51234" → "10.0.0.7:51234"), in the
// characters a member name may have.
std::string MemberFromPeer(absl::string_view peer) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "unix:"}) {
    if (absl::StartsWith(peer, scheme)) peer.remove_prefix(scheme.size());
  }
  std::string out;
  for (char c : peer.substr(0, kMaxIdBytes)) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    absl::string_view("._:@/-").find(c) != absl::string_view::npos;
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? std::string("subscriber") : out;
}

// The acknowledgement totals of a flow as a publisher gets them.
v1::DeliveryAcks AcksEvent(const wire::AckSummary& s) {
  v1::DeliveryAcks acks;
  acks.set_object_id(s.object_id);
  acks.set_receivers(s.receivers);
  acks.set_acked(s.acked);
  acks.set_missing_count(s.missing);
  for (const wire::AckMissing& m : s.names) {
    switch (m.kind) {
      case wire::AckMissingKind::kPending:
        acks.add_missing(absl::StrCat(m.member, "@", m.node));
        break;
      case wire::AckMissingKind::kLeft:
        acks.add_missing(absl::StrCat(m.member, "@", m.node, " (left)"));
        break;
      case wire::AckMissingKind::kSilent:
        acks.add_missing(absl::StrCat(m.node, " (no answer)"));
        break;
      case wire::AckMissingKind::kGone:
        acks.add_missing(m.member.empty()
                             ? absl::StrCat(m.node, " (left the tree)")
                             : absl::StrCat(m.member, "@", m.node, " (its node left the tree)"));
        break;
    }
  }
  return acks;
}
}  // namespace

// One Subscribe call: the join, the subscription's queue, and the way its
// messages and events go out — the gRPC stream itself, or a client link
// (SubscriberLink) with the events on the stream. Callbacks that may come
// after the call ended (queue notifications, the link) reach it only
// while it is alive, through `shared_`.
class ClientService::SubscribeReactor final : public grpc::ServerWriteReactor<v1::Delivery> {
 public:
  SubscribeReactor(ClientService& service, grpc::CallbackServerContext* context,
                   const v1::SubscribeRequest& request)
      : service_(service), context_(context), shared_(std::make_shared<Shared>()) {
    absl::MutexLock lock(&shared_->mu);
    shared_->reactor = this;
    Start(request);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&shared_->mu);
    writing_ = false;
    if (!outbox_.empty()) outbox_.pop_front();
    if (!ok) {
      EndLocked(grpc::Status::OK);  // the client is gone
      return;
    }
    if (!link_mode_ && !finish_) PumpStreamLocked();
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&shared_->mu);
    EndLocked(grpc::Status::OK);
  }

  void OnDone() override {
    std::string token;
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->reactor = nullptr;
      if (link_ != nullptr) link_->Stop();
      token = std::move(token_);
    }
    if (!token.empty()) service_.links_.Withdraw(token);
    if (queue_ != nullptr) {
      queue_->Close(absl::CancelledError("subscriber left"));
      service_.clients_.RemoveSubscriber(queue_);
      spdlog::info("subscriber left group {}", queue_->group());
    }
    if (slot_) service_.subscriptions_.fetch_sub(1);
    delete this;
  }

 private:
  struct Shared {
    absl::Mutex mu;
    SubscribeReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };

  void Start(const v1::SubscribeRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    if (absl::Status s = ValidateGroupName(request.group()); !s.ok()) return EndLocked(ToGrpc(s));
    if (absl::Status s = ValidateFilter(request.filter()); !s.ok()) return EndLocked(ToGrpc(s));
    if (!request.member().empty()) {
      if (absl::Status s = ValidateMemberName(request.member()); !s.ok()) {
        return EndLocked(ToGrpc(s));
      }
    }
    if (AdmitsNothing(request.filter())) {
      return EndLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "filter INCLUDE {} admits no source; name at least one"));
    }
    if (grpc::Status s =
            TakeSlot(service_.subscriptions_, service_.options_.max_subscriptions,
                     service_.refused_subscriptions_, "subscriptions", "--max-subscriptions");
        !s.ok()) {
      return EndLocked(s);
    }
    slot_ = true;
    link_mode_ = request.frame_link();
    queue_ = std::make_shared<SubscriberQueue>(
        request.group(), request.filter(), service_.options_.subscriber_high_watermark_bytes,
        service_.options_.subscriber_low_watermark_bytes,
        request.member().empty() ? MemberFromPeer(context_->peer()) : request.member());
    service_.clients_.AddSubscriber(queue_);
    spdlog::info("subscriber joined group {}{}", request.group(),
                 link_mode_ ? " (client link)" : "");
    if (!link_mode_) {
      PumpStreamLocked();
      WriteNextLocked();
      return;
    }
    v1::Delivery offer;
    absl::Status offered = service_.OfferLink(
        *context_, *offer.mutable_link_offer(),
        [shared = shared_](absl::StatusOr<std::shared_ptr<wire::Connection>> link) {
          absl::MutexLock lock(&shared->mu);
          if (shared->reactor == nullptr) {
            if (link.ok()) (*link)->Close();
            return;
          }
          shared->reactor->OnLinkLocked(std::move(link));
        });
    if (!offered.ok()) return EndLocked(ToGrpc(offered));
    token_ = offer.link_offer().token();
    SendLocked(std::move(offer));
  }

  void OnLinkLocked(absl::StatusOr<std::shared_ptr<wire::Connection>> link)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    token_.clear();
    if (!link.ok()) return EndLocked(ToGrpc(link.status()));
    spdlog::info("subscriber of group {} on client link from {} ({})", queue_->group(),
                 (*link)->remote(), (*link)->security());
    std::weak_ptr<Shared> weak = shared_;
    Relay& relay = service_.relay_;
    link_ = std::make_shared<SubscriberLink>(
        *std::move(link), queue_,
        [weak, this](const DeliveryItem& event) {
          std::shared_ptr<Shared> shared = weak.lock();
          if (shared == nullptr) return false;
          absl::MutexLock lock(&shared->mu);
          if (shared->reactor == nullptr || finish_) return false;
          SendLocked(service_.EventDelivery(event));
          return true;
        },
        [&relay, queue = queue_](uint32_t handle, uint32_t id, uint64_t after, uint64_t until) {
          absl::Status r = relay.ResendToSubscriber(queue, handle, id, after, until);
          if (!r.ok()) spdlog::info("resend for a subscriber: {}", std::string(r.message()));
        },
        [weak, this](const absl::Status& status) {
          std::shared_ptr<Shared> shared = weak.lock();
          if (shared == nullptr) return;
          absl::MutexLock lock(&shared->mu);
          if (shared->reactor == nullptr) return;
          if (!status.ok() && !absl::IsCancelled(status)) {
            spdlog::warn("subscriber link of group {}: {}", queue_->group(),
                         std::string(status.message()));
          }
          EndLocked(absl::IsCancelled(status) ? grpc::Status::OK : ToGrpc(status));
        },
        [&relay, queue = queue_](uint32_t handle, uint32_t id, uint64_t object) {
          return relay.acks().OnLocalAck(*queue, handle, id, object);
        });
    link_->Start();
  }

  // Takes messages and events from the queue while few wait to be written
  // (gRPC transport), or arranges to be called when some arrive.
  void PumpStreamLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    while (!finish_ && outbox_.size() < kStreamOutbox) {
      std::vector<DeliveryItem> items =
          queue_->PopBatch(absl::ZeroDuration(), kStreamOutbox - outbox_.size(), 4u << 20);
      if (items.empty()) {
        if (queue_->closed()) return EndLocked(ToGrpc(queue_->closed_status()));
        std::weak_ptr<Shared> weak = shared_;
        queue_->NotifyWhenNonEmpty([weak, &io = service_.links_.io()] {
          asio::post(io, [weak] {
            std::shared_ptr<Shared> shared = weak.lock();
            if (shared == nullptr) return;
            absl::MutexLock lock(&shared->mu);
            if (shared->reactor == nullptr) return;
            shared->reactor->PumpStreamLocked();
            shared->reactor->WriteNextLocked();
          });
        });
        return;
      }
      for (const DeliveryItem& item : items) {
        if (item.frame == nullptr) {
          outbox_.push_back(service_.EventDelivery(item));
          continue;
        }
        v1::Delivery delivery;
        v1::Message* m = delivery.mutable_message();
        m->set_group(item.names->group);
        m->set_source(item.names->source);
        m->set_sequence(item.frame->header().sequence);
        m->set_payload(std::string(item.frame->payload()));
        outbox_.push_back(std::move(delivery));
      }
    }
  }

  void SendLocked(v1::Delivery delivery) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    if (finish_) return;
    outbox_.push_back(std::move(delivery));
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    if (writing_ || finished_) return;
    if (!outbox_.empty()) {
      writing_ = true;
      StartWrite(&outbox_.front());
      return;
    }
    if (finish_) {
      finished_ = true;
      Finish(*finish_);
    }
  }

  // Ends the call with `status` once what is queued for the stream went out
  // (at once if the client is gone).
  void EndLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    if (finish_) return;
    finish_ = std::move(status);
    if (link_ != nullptr) link_->Stop();
    if (queue_ != nullptr) queue_->Close(absl::CancelledError("subscription ended"));
    if (context_->IsCancelled()) outbox_.clear();
    if (!writing_) outbox_.clear();  // nothing in flight: no partial stream
    WriteNextLocked();
  }

  ClientService& service_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<Shared> shared_;
  std::shared_ptr<SubscriberQueue> queue_;
  std::shared_ptr<SubscriberLink> link_ ABSL_GUARDED_BY(shared_->mu);
  std::deque<v1::Delivery> outbox_ ABSL_GUARDED_BY(shared_->mu);
  std::string token_ ABSL_GUARDED_BY(shared_->mu);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(shared_->mu);
  bool writing_ ABSL_GUARDED_BY(shared_->mu) = false;
  bool finished_ ABSL_GUARDED_BY(shared_->mu) = false;
  bool slot_ = false;
  bool link_mode_ = false;
};

ClientService::ClientService(ClientServiceOptions options, ForwardingState& state,
                             LocalClients& clients, Relay& relay, wire::ClientLinkServer& links)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      relay_(relay),
      links_(links) {}

ClientService::~ClientService() = default;

grpc::ServerWriteReactor<v1::Delivery>* ClientService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  return new SubscribeReactor(*this, context, *request);
}

v1::Delivery ClientService::EventDelivery(const DeliveryItem& event) const {
  v1::Delivery delivery;
  if (event.status != nullptr) {
    *delivery.mutable_status() = *event.status;
    spdlog::info(
        "subscriber told: source {} {}{}", event.status->source(),
        event.status->reachable() ? "reachable again" : "cut off: ", event.status->reason());
  } else {
    delivery.mutable_joined()->set_node_id(options_.node_id);
  }
  return delivery;
}

grpc::Status ClientService::Publish(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::Publication>* reader,
                                    v1::PublishSummary* summary) {
  v1::Publication publication;
  if (!reader->Read(&publication)) return grpc::Status::OK;  // empty stream
  if (publication.announce() && !publication.payload().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "an announcing Publication carries no payload; send it in the next one");
  }
  const std::string group = publication.group();
  const std::string source = publication.source();
  std::unique_ptr<PublisherAdmission> admitted;
  if (grpc::Status s = AdmitPublisher(*context, group, source, admitted); !s.ok()) return s;

  if (publication.announce()) {
    // The opening only named the flow; messages follow.
    if (context->IsCancelled() || !reader->Read(&publication)) return grpc::Status::OK;
  }
  do {
    if (publication.announce()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "only the first Publication may be an announcement");
    }
    if ((!publication.group().empty() && publication.group() != group) ||
        (!publication.source().empty() && publication.source() != source)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("a publish stream may not change its group or "
                                       "source (started as ",
                                       source, " on ", group, ")"));
    }
    if (publication.payload().size() > options_.max_payload) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("payload of ", publication.payload().size(),
                                       " bytes exceeds the limit of ", options_.max_payload));
    }
    if (absl::Status s = state_.CheckAllowed(group, source); !s.ok()) return ToGrpc(s);
    const uint64_t sequence = relay_.PublishLocal(group, source, publication.payload());
    if (summary->messages() == 0) summary->set_first_sequence(sequence);
    summary->set_last_sequence(sequence);
    summary->set_messages(summary->messages() + 1);
    summary->set_bytes(summary->bytes() + publication.payload().size());
  } while (!context->IsCancelled() && reader->Read(&publication));
  return grpc::Status::OK;
}

grpc::Status ClientService::TakeSlot(std::atomic<int>& in_use, int limit,
                                     std::atomic<uint64_t>& refused, const char* what,
                                     const char* flag) {
  if (in_use.fetch_add(1) < limit) return grpc::Status::OK;
  in_use.fetch_sub(1);
  if (refused.fetch_add(1) % 1000 == 0) {
    spdlog::warn("refusing a call: this node serves at most {} {} ({})", limit, what, flag);
  }
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("this node serves at most ", limit, " ", what,
                                   " at once (canopy-node ", flag, ")"));
}

ClientRefusals ClientService::refusals() const {
  return ClientRefusals{refused_subscriptions_.load(), refused_publishers_.load(),
                        links_.refused()};
}

// A publisher slot and the registration of (group, source) as a local
// source, both given back when destroyed.
class ClientService::PublisherAdmission {
 public:
  PublisherAdmission(ClientService& service, std::string group, std::string source)
      : service_(service), group_(std::move(group)), source_(std::move(source)) {
    service_.clients_.AddSource(group_, source_);
  }
  ~PublisherAdmission() {
    service_.clients_.RemoveSource(group_, source_);
    service_.state_.ClearRejection(group_, source_);
    service_.publishers_.fetch_sub(1);
  }
  PublisherAdmission(const PublisherAdmission&) = delete;
  PublisherAdmission& operator=(const PublisherAdmission&) = delete;

 private:
  ClientService& service_;
  const std::string group_;
  const std::string source_;
};

grpc::Status ClientService::CheckPublisherIdentity(const grpc::ServerContextBase& context,
                                                   const std::string& source) const {
  if (!options_.certified_sources) return grpc::Status::OK;
  absl::StatusOr<CertificateSubject> peer = AuthenticatedPeer(context);
  if (!peer.ok()) return ToGrpc(peer.status());
  const absl::string_view base = BaseSourceId(source);
  if (peer->unit == kRolePublisher && peer->common_name == base) return grpc::Status::OK;
  const std::string presented =
      absl::StrCat("OU=", peer->unit.empty() ? "(none)" : peer->unit, ", CN=", peer->common_name);
  spdlog::warn("refusing publisher of source {} from {}: certificate {}", source, context.peer(),
               presented);
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("publishing as source '", source,
                                   "' needs a certificate with OU=publisher, CN=", base,
                                   "; this one has ", presented));
}

grpc::Status ClientService::AdmitPublisher(const grpc::ServerContextBase& context,
                                           const std::string& group, const std::string& source,
                                           std::unique_ptr<PublisherAdmission>& admitted) {
  if (absl::Status s = ValidateGroupName(group); !s.ok()) return ToGrpc(s);
  if (absl::Status s = ValidateSourceId(source); !s.ok()) return ToGrpc(s);
  if (grpc::Status s = CheckPublisherIdentity(context, source); !s.ok()) return s;
  if (absl::Status s = state_.CheckAllowed(group, source); !s.ok()) return ToGrpc(s);
  if (grpc::Status s = TakeSlot(publishers_, options_.max_publishers, refused_publishers_,
                                "publishers", "--max-publishers");
      !s.ok()) {
    return s;
  }
  admitted = std::make_unique<PublisherAdmission>(*this, group, source);
  return AwaitTree(group, source);
}

grpc::Status ClientService::AwaitTree(const std::string& group, const std::string& source) {
  switch (state_.AwaitFlow(group, source, options_.tree_wait)) {
    case ForwardingState::FlowReadiness::kRejected:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          state_.Rejection(group, source).value_or("source refused"));
    case ForwardingState::FlowReadiness::kTimedOut:
      spdlog::warn(
          "no tree for source {} of group {} after {}; delivering locally "
          "until the controller answers",
          source, group, absl::FormatDuration(options_.tree_wait));
      break;
    case ForwardingState::FlowReadiness::kReady:
      break;
  }
  return grpc::Status::OK;
}

absl::Status ClientService::OfferLink(const grpc::ServerContextBase& context, v1::LinkOffer& offer,
                                      wire::ClientLinkServer::LinkHandler on_link) {
  std::string peer_der;
  if (links_.tls()) {
    // The link must come from the holder of the call's certificate.
    absl::StatusOr<std::string> pem = AuthenticatedPeerCertificate(context);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<std::string> der = wire::CertificateDer(*pem);
    if (!der.ok())
      return absl::PermissionDeniedError("the call's client certificate is unreadable");
    peer_der = *std::move(der);
  }
  offer.set_port(links_.bound().port);
  offer.set_token(wire::NewClientLinkToken());
  offer.set_max_payload_bytes(options_.max_payload);
  offer.set_local_socket(links_.local_name());
  links_.Offer(offer.token(), std::move(peer_der), absl::Now() + options_.link_accept_timeout,
               std::move(on_link));
  return absl::OkStatus();
}

grpc::Status ClientService::PublishOverLink(grpc::ServerContext* context,
                                            const v1::PublishLinkRequest* request,
                                            grpc::ServerWriter<v1::PublishLinkEvent>* writer) {
  const std::string& group = request->group();
  const std::string& source = request->source();
  std::unique_ptr<PublisherAdmission> admitted;
  if (grpc::Status s = AdmitPublisher(*context, group, source, admitted); !s.ok()) return s;

  // What the link brings, handed over from the link server's thread.
  struct Outcome {
    absl::Mutex mu;
    std::optional<absl::StatusOr<std::shared_ptr<wire::Connection>>> link ABSL_GUARDED_BY(mu);
    std::optional<absl::Status> end ABSL_GUARDED_BY(mu);
    PublishTally tally ABSL_GUARDED_BY(mu);
    // Acknowledgement totals of the flow, to be written (the newest kept).
    std::deque<v1::DeliveryAcks> acks ABSL_GUARDED_BY(mu);
  };
  auto outcome = std::make_shared<Outcome>();
  const uint64_t watch =
      relay_.acks().Watch(group, source, [outcome](const wire::AckSummary& summary) {
        absl::MutexLock lock(&outcome->mu);
        if (outcome->acks.size() >= kAcksOutbox) outcome->acks.pop_front();
        outcome->acks.push_back(AcksEvent(summary));
      });
  absl::Cleanup unwatch = [this, watch] { relay_.acks().Unwatch(watch); };
  v1::PublishLinkEvent offer;
  if (absl::Status s = OfferLink(*context, *offer.mutable_link_offer(),
                                 [outcome](absl::StatusOr<std::shared_ptr<wire::Connection>> link) {
                                   absl::MutexLock lock(&outcome->mu);
                                   outcome->link = std::move(link);
                                 });
      !s.ok()) {
    return ToGrpc(s);
  }
  const std::string token = offer.link_offer().token();
  absl::Cleanup withdraw = [this, &token] { links_.Withdraw(token); };
  if (!writer->Write(offer)) return grpc::Status::OK;  // the client left
  // Waits for the link, checking now and then whether the client left.
  constexpr absl::Duration kCancelCheck = absl::Milliseconds(100);
  std::shared_ptr<wire::Connection> connection;
  {
    absl::MutexLock lock(&outcome->mu);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(outcome->mu) {
      return outcome->link.has_value();
    };
    while (!outcome->mu.AwaitWithTimeout(absl::Condition(&arrived), kCancelCheck)) {
      if (context->IsCancelled()) return grpc::Status::OK;
    }
    if (!outcome->link->ok()) return ToGrpc(outcome->link->status());
    connection = **outcome->link;
  }
  spdlog::info("publisher {} of group {} on client link from {} ({})", source, group,
               connection->remote(), connection->security());
  auto link = std::make_shared<PublisherLink>(
      connection, options_.max_payload,
      [this, group, source](wire::FrameBuffer frame,
                            std::function<void()> resume) -> absl::StatusOr<uint64_t> {
        if (absl::Status s = state_.CheckAllowed(group, source); !s.ok()) return s;
        return relay_.intake().PublishFrameAsync(group, source, std::move(frame),
                                                 std::move(resume));
      },
      [outcome](const absl::Status& status, const PublishTally& tally) {
        absl::MutexLock lock(&outcome->mu);
        outcome->end = status;
        outcome->tally = tally;
      });
  link->Start();
  absl::Status end;
  PublishTally tally;
  auto ended_or_acks = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(outcome->mu) {
    return outcome->end.has_value() || !outcome->acks.empty();
  };
  bool stopping = false;  // the link was told to end; its end is awaited
  while (true) {
    // Acknowledgement totals go out as they come, written outside the lock.
    std::deque<v1::DeliveryAcks> acks;
    {
      absl::MutexLock lock(&outcome->mu);
      outcome->mu.AwaitWithTimeout(absl::Condition(&ended_or_acks), kCancelCheck);
      acks = std::exchange(outcome->acks, {});
      if (acks.empty() && outcome->end.has_value()) {
        end = *outcome->end;
        tally = outcome->tally;
        break;
      }
    }
    // A policy that stops allowing the source ends the call within
    // kCancelCheck, also while the publisher sends nothing.
    if (!stopping) {
      if (context->IsCancelled()) {
        link->Stop();
        stopping = true;
      } else if (absl::Status s = state_.CheckAllowed(group, source); !s.ok()) {
        link->Stop(std::move(s));
        stopping = true;
      }
    }
    for (const v1::DeliveryAcks& a : acks) {
      v1::PublishLinkEvent event;
      *event.mutable_acks() = a;
      if (!writer->Write(event) && !stopping) {  // the client left
        link->Stop();
        stopping = true;
      }
    }
  }
  connection->Close();
  if (!end.ok()) {
    if (absl::IsCancelled(end)) return grpc::Status::OK;  // the client left
    spdlog::warn("publisher {} of group {}: {}", source, group, std::string(end.message()));
    return ToGrpc(end);
  }
  v1::PublishLinkEvent done;
  v1::PublishSummary* summary = done.mutable_summary();
  summary->set_messages(tally.messages);
  summary->set_bytes(tally.bytes);
  summary->set_first_sequence(tally.first_sequence);
  summary->set_last_sequence(tally.last_sequence);
  writer->Write(done);
  return grpc::Status::OK;
}

}  // namespace canopy::node
