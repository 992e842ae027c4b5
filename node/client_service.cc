#include "node/client_service.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "node/client_link_pumps.h"
#include "proto/grpc_status.h"
#include "proto/source_filter.h"
#include "proto/stripe_source.h"
#include "proto/tls_credentials.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"
#include "wire/client_link.h"

namespace canopy::node {
namespace {

// How often a Subscribe call checks whether its client went away while idle.
constexpr absl::Duration kCancelCheckInterval = absl::Milliseconds(100);

}  // namespace

ClientService::ClientService(ClientServiceOptions options, ForwardingState& state,
                             LocalClients& clients, Relay& relay)
    : options_(std::move(options)), state_(state), clients_(clients), relay_(relay) {}

v1::Delivery ClientService::EventDelivery(const DeliveryItem& event) const {
  v1::Delivery delivery;
  if (event.status != nullptr) {
    *delivery.mutable_status() = *event.status;
    spdlog::info("subscriber told: source {} {}{}", event.status->source(),
                 event.status->reachable() ? "reachable again" : "cut off: ",
                 event.status->reason());
  } else {
    delivery.mutable_joined()->set_node_id(options_.node_id);
  }
  return delivery;
}

grpc::Status ClientService::Subscribe(grpc::ServerContext* context,
                                      const v1::SubscribeRequest* request,
                                      grpc::ServerWriter<v1::Delivery>* writer) {
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  if (absl::Status s = ValidateFilter(request->filter()); !s.ok()) return ToGrpc(s);
  if (AdmitsNothing(request->filter())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "filter INCLUDE {} admits no source; name at least one");
  }
  if (grpc::Status s = TakeSlot(subscriptions_, options_.max_subscriptions, refused_subscriptions_,
                                "subscriptions", "--max-subscriptions");
      !s.ok()) {
    return s;
  }
  absl::Cleanup release = [this] { subscriptions_.fetch_sub(1); };
  auto queue = std::make_shared<SubscriberQueue>(request->group(), request->filter(),
                                                 options_.subscriber_high_watermark_bytes,
                                                 options_.subscriber_low_watermark_bytes);
  clients_.AddSubscriber(queue);
  spdlog::info("subscriber joined group {}{}", request->group(),
               request->frame_link() ? " (client link)" : "");
  // Leave however this call ends.
  absl::Cleanup leave = [&] {
    queue->Close(absl::CancelledError("subscriber left"));
    clients_.RemoveSubscriber(queue);
    spdlog::info("subscriber left group {}", request->group());
  };
  if (request->frame_link()) return SubscribeOverLink(context, writer, queue);

  grpc::Status result = grpc::Status::OK;
  v1::Delivery delivery;
  while (!context->IsCancelled()) {
    std::optional<DeliveryItem> item = queue->Pop(kCancelCheckInterval);
    if (!item) {
      if (queue->closed()) {
        result = ToGrpc(queue->closed_status());
        break;
      }
      continue;
    }
    delivery.Clear();
    if (item->frame == nullptr) {
      delivery = EventDelivery(*item);
    } else {
      v1::Message* m = delivery.mutable_message();
      m->set_group(item->names->group);
      m->set_source(item->names->source);
      m->set_sequence(item->frame->header().sequence);
      m->set_payload(std::string(item->frame->payload()));
    }
    if (!writer->Write(delivery)) break;
  }
  return result;
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
                        refused_client_links_.load()};
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

grpc::Status ClientService::CheckPublisherIdentity(const grpc::ServerContext& context,
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

grpc::Status ClientService::AdmitPublisher(const grpc::ServerContext& context,
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

absl::StatusOr<wire::FrameSocketListener> ClientService::OfferLink(v1::LinkOffer& offer) {
  absl::StatusOr<wire::FrameSocketListener> listener =
      wire::FrameSocketListener::Open(options_.link_host);
  if (!listener.ok()) return listener.status();
  offer.set_port(listener->port());
  offer.set_token(wire::NewClientLinkToken());
  offer.set_max_payload_bytes(options_.max_payload);
  return listener;
}

absl::StatusOr<wire::FrameSocket> ClientService::AcceptLink(wire::FrameSocketListener& listener,
                                                            const v1::LinkOffer& offer,
                                                            grpc::ServerContext* context) {
  wire::ClientLinkTls tls;
  if (options_.link_tls != nullptr) {
    // The link must come from the holder of the call's certificate.
    absl::StatusOr<std::string> pem = AuthenticatedPeerCertificate(*context);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<std::string> der = wire::CertificateDer(*pem);
    if (!der.ok())
      return absl::PermissionDeniedError("the call's client certificate is unreadable");
    tls.context = options_.link_tls;
    tls.peer_der = *std::move(der);
  }
  absl::StatusOr<wire::FrameSocket> link = wire::AcceptClientLink(
      listener, offer.token(), absl::Now() + options_.link_accept_timeout,
      [context] { return context->IsCancelled(); }, tls,
      [this](const absl::Status&) { refused_client_links_.fetch_add(1); });
  if (absl::IsDeadlineExceeded(link.status())) {
    return absl::DeadlineExceededError(
        absl::StrCat("the client did not connect to its link (port ", offer.port(), ") within ",
                     absl::FormatDuration(options_.link_accept_timeout)));
  }
  return link;
}

grpc::Status ClientService::SubscribeOverLink(grpc::ServerContext* context,
                                              grpc::ServerWriter<v1::Delivery>* writer,
                                              const std::shared_ptr<SubscriberQueue>& queue) {
  v1::Delivery offer;
  absl::StatusOr<wire::FrameSocketListener> listener = OfferLink(*offer.mutable_link_offer());
  if (!listener.ok()) return ToGrpc(listener.status());
  if (!writer->Write(offer)) return grpc::Status::OK;  // the client left
  absl::StatusOr<wire::FrameSocket> link = AcceptLink(*listener, offer.link_offer(), context);
  if (!link.ok()) return ToGrpc(link.status());
  spdlog::info("subscriber of group {} on client link from {} ({})", queue->group(), link->peer(),
               link->security());
  // The client's resend requests arrive on the same link.
  std::atomic<bool> done{false};
  std::thread requests([&] {
    absl::Status s = ReadSubscriberRequests(
        *link,
        [&](uint32_t handle, uint32_t id, uint64_t after, uint64_t until) {
          absl::Status r = relay_.ResendToSubscriber(queue, handle, id, after, until);
          if (!r.ok()) spdlog::info("resend for a subscriber: {}", std::string(r.message()));
        },
        [&] { return done.load() || context->IsCancelled(); });
    if (!s.ok() && !absl::IsCancelled(s) && !done) {
      spdlog::warn("subscriber link of group {}: {}", queue->group(), std::string(s.message()));
      link->Shutdown();  // ends the pump's next write
    }
  });
  absl::Status end = PumpToSubscriberLink(
      *queue, *link, [&](const DeliveryItem& event) { return writer->Write(EventDelivery(event)); },
      [context] { return context->IsCancelled(); });
  done = true;
  link->Shutdown();
  requests.join();
  if (absl::IsCancelled(end)) return grpc::Status::OK;  // the client left
  return ToGrpc(end);
}

grpc::Status ClientService::PublishOverLink(grpc::ServerContext* context,
                                            const v1::PublishLinkRequest* request,
                                            grpc::ServerWriter<v1::PublishLinkEvent>* writer) {
  const std::string& group = request->group();
  const std::string& source = request->source();
  std::unique_ptr<PublisherAdmission> admitted;
  if (grpc::Status s = AdmitPublisher(*context, group, source, admitted); !s.ok()) return s;

  v1::PublishLinkEvent offer;
  absl::StatusOr<wire::FrameSocketListener> listener = OfferLink(*offer.mutable_link_offer());
  if (!listener.ok()) return ToGrpc(listener.status());
  if (!writer->Write(offer)) return grpc::Status::OK;  // the client left
  absl::StatusOr<wire::FrameSocket> link = AcceptLink(*listener, offer.link_offer(), context);
  if (!link.ok()) return ToGrpc(link.status());
  spdlog::info("publisher {} of group {} on client link from {} ({})", source, group, link->peer(),
               link->security());

  PublishTally tally;
  absl::Status end = PumpFromPublisherLink(
      *link, options_.max_payload,
      [&](wire::FrameBuffer frame) -> absl::StatusOr<uint64_t> {
        if (absl::Status s = state_.CheckAllowed(group, source); !s.ok()) return s;
        return relay_.PublishFrame(group, source, std::move(frame));
      },
      [context] { return context->IsCancelled(); }, tally);
  link->Shutdown();
  if (!end.ok()) {
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
