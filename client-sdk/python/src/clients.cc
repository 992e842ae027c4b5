// Publisher and Subscriber of the _canopy extension.

#include "client-sdk/python/src/clients.h"

#include <pybind11/stl.h>

#include "client-sdk/python/src/buffers.h"
#include "client-sdk/python/src/status.h"

namespace py = pybind11;

namespace canopy::python {
namespace {

Transport TransportNamed(const std::string& t) {
  if (std::optional<Transport> transport = ParseTransport(t)) return *transport;
  Raise(absl::InvalidArgumentError("transport must be 'auto', 'shm', 'link' or 'grpc', not '" +
                                   t + "'"));
}

std::optional<ClientTlsFiles> ToTls(const TlsTuple& tls) {
  if (!tls) return std::nullopt;
  return ClientTlsFiles{std::get<0>(*tls), std::get<1>(*tls), std::get<2>(*tls)};
}

std::unique_ptr<PyPublisher> OpenPublisher(const std::string& node, const std::string& group,
                                           const std::string& source,
                                           const std::string& transport, const TlsTuple& tls) {
  PublisherOptions options = MakePublisherOptions(node, group, source, transport, tls);
  auto p = std::make_unique<PyPublisher>();
  absl::StatusOr<std::unique_ptr<Publisher>> opened;
  {
    BlockingCall call(*p->interrupt);
    opened = Publisher::Open(std::move(options));
    call.Finish();
  }
  p->publisher = std::make_unique<InterruptiblePublisher>(ValueOr(std::move(opened)), p->interrupt);
  return p;
}

std::unique_ptr<PySubscriber> OpenSubscriber(const std::string& node, const std::string& group,
                                             const std::string& mode,
                                             const std::vector<std::string>& sources,
                                             const std::string& transport, const TlsTuple& tls,
                                             const std::string& member) {
  SubscriberOptions options;
  options.member = member;
  options.node_address = node;
  options.group = group;
  if (mode == "include") {
    options.mode = FilterMode::kInclude;
  } else if (mode != "exclude") {
    Raise(absl::InvalidArgumentError("mode must be 'include' or 'exclude', not '" + mode + "'"));
  }
  options.sources = sources;
  options.transport = TransportNamed(transport);
  options.tls = ToTls(tls);
  auto s = std::make_unique<PySubscriber>();
  s->subscriber = std::make_unique<InterruptibleSubscriber>(
      ValueOr(Subscriber::Open(std::move(options))), s->interrupt);
  return s;
}

}  // namespace

absl::Duration Timeout(std::optional<double> seconds) {
  if (!seconds) return absl::InfiniteDuration();
  if (*seconds < 0) Raise(absl::InvalidArgumentError("a timeout cannot be negative"));
  return absl::Seconds(*seconds);
}

PublisherOptions MakePublisherOptions(const std::string& node, const std::string& group,
                                      const std::string& source, const std::string& transport,
                                      const TlsTuple& tls) {
  PublisherOptions options;
  options.node_address = node;
  options.group = group;
  options.source = source;
  options.transport = TransportNamed(transport);
  options.tls = ToTls(tls);
  return options;
}

void BindClients(py::module_& m) {
  py::class_<PyPublisher>(m, "Publisher")
      .def(py::init(&OpenPublisher), py::arg("node"), py::arg("group"), py::arg("source"),
           py::arg("transport"), py::arg("tls"))
      .def("send",
           [](PyPublisher& p, py::handle data) {
             BufferView view(data, /*writable=*/false, "data");
             absl::Status s;
             {
               BlockingCall call(*p.interrupt);
               s = p.publisher->Send(view.bytes());
               call.Finish();
             }
             Check(s);
           })
      .def("finish", [](PyPublisher& p) {
        absl::StatusOr<PublishResult> r;
        {
          BlockingCall call(*p.interrupt);
          r = p.publisher->Finish();
          call.Finish();
        }
        PublishResult v = ValueOr(std::move(r));
        return py::make_tuple(v.messages, v.bytes, v.first_sequence, v.last_sequence);
      });

  py::class_<PySubscriber>(m, "Subscriber")
      .def(py::init(&OpenSubscriber), py::arg("node"), py::arg("group"), py::arg("mode"),
           py::arg("sources"), py::arg("transport"), py::arg("tls"), py::arg("member") = "")
      .def("wait_joined",
           [](PySubscriber& s, std::optional<double> timeout) {
             absl::Status st;
             {
               BlockingCall call(*s.interrupt);
               st = s.subscriber->WaitJoined(Timeout(timeout));
               call.Finish();
             }
             Check(st);
           })
      .def("next",
           [](PySubscriber& s, std::optional<double> timeout) {
             absl::StatusOr<ReceivedMessage> r;
             {
               BlockingCall call(*s.interrupt);
               r = s.subscriber->Next(Timeout(timeout));
               call.Finish();
             }
             ReceivedMessage msg = ValueOr(std::move(r));
             return py::make_tuple(msg.group, msg.source, msg.sequence, py::bytes(msg.payload),
                                   msg.missed_before, msg.resent);
           })
      .def("request_resend",
           [](PySubscriber& s, const std::string& source, uint64_t first, uint64_t last) {
             Check(s.subscriber->RequestResend(source, first, last));
           })
      .def("cancel", [](PySubscriber& s) { s.subscriber->Cancel(); });
}

}  // namespace canopy::python
