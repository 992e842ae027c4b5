// VersionPublisher and VersionReceiver of the _canopy extension.

#include "canopy/versions.h"

#include <pybind11/stl.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client-sdk/python/src/buffers.h"
#include "client-sdk/python/src/callbacks.h"
#include "client-sdk/python/src/clients.h"
#include "client-sdk/python/src/status.h"

namespace py = pybind11;

namespace canopy::python {
namespace {

py::dict InfoDict(const VersionInfo& i) {
  py::dict d;
  d["source"] = i.source;
  d["stream"] = i.stream;
  d["version"] = i.version;
  d["size"] = i.size;
  d["chunk_bytes"] = i.chunk_bytes;
  d["sha256"] = i.sha256_hex;
  d["table"] = py::bytes(i.table);
  d["delta"] = i.delta;
  d["base_version"] = i.base_version;
  return d;
}

class PyVersionPublisher {
 public:
  PyVersionPublisher(const std::string& node, const std::string& group, const std::string& source,
                     const std::string& transport, const TlsTuple& tls, uint32_t chunk_bytes,
                     double announce_every, int max_chain, uint64_t max_chain_bytes) {
    PublisherOptions po = MakePublisherOptions(node, group, source, transport, tls);
    VersionPublisherOptions vo;
    vo.chunk_bytes = chunk_bytes;
    vo.announce_every = absl::Seconds(announce_every);
    vo.max_chain = max_chain;
    vo.max_chain_bytes = max_chain_bytes;
    absl::StatusOr<std::unique_ptr<Publisher>> p;
    {
      BlockingCall call(*interrupt_);
      p = Publisher::Open(std::move(po));
      call.Finish();
    }
    auto wrapped = std::make_unique<InterruptiblePublisher>(ValueOr(std::move(p)), interrupt_);
    publisher_ = ValueOr(VersionPublisher::Open(std::move(wrapped), vo));
  }

  py::dict Push(py::handle data, std::optional<uint64_t> version, const std::string& name,
                const py::bytes& table, bool whole, int wait_for, std::optional<double> timeout,
                py::object on_progress) {
    BufferView view(data, /*writable=*/false, "data");
    PushOptions o;
    o.version = version;
    o.name = name;
    o.table = std::string(table);
    o.whole = whole;
    o.wait_for = wait_for;
    o.timeout = Timeout(timeout);
    Interrupt& interrupt = *interrupt_;
    if (!on_progress.is_none()) {
      o.on_progress = [on_progress, &interrupt](uint64_t sent) {
        CallPython(on_progress, interrupt, sent);
      };
    }
    absl::StatusOr<PushedVersion> r;
    {
      BlockingCall call(interrupt);
      r = publisher_->Push(view.bytes(), o);
      call.Finish();
    }
    PushedVersion v = ValueOr(std::move(r));
    py::dict d;
    d["version"] = v.version;
    d["size"] = v.size;
    d["sent_bytes"] = v.sent_bytes;
    d["chunks_sent"] = v.chunks_sent;
    d["delta"] = v.delta;
    d["seconds"] = v.seconds;
    d["sha256"] = v.sha256_hex;
    d["receivers"] = v.acks ? py::cast(v.acks->acked) : py::none();
    return d;
  }

  void Close() {
    absl::Status s;
    {
      BlockingCall call(*interrupt_);
      s = publisher_->Close();
      call.Finish();
    }
    Check(s);
  }

  uint64_t version() const { return publisher_->version(); }

 private:
  std::shared_ptr<Interrupt> interrupt_ = std::make_shared<Interrupt>();
  std::unique_ptr<VersionPublisher> publisher_;
};

// A VersionReceiver over a Python Subscriber. Keeps the buffers the held
// version lives in exported (so they cannot move) until another version
// replaces it.
class PyVersionReceiver {
 public:
  explicit PyVersionReceiver(py::object subscriber)
      : owner_(subscriber),
        sub_(subscriber.cast<PySubscriber*>()),
        receiver_(*sub_->subscriber) {}

  py::dict Receive(py::object destination, std::optional<double> timeout, py::object on_verified,
                   py::object on_write) {
    Interrupt& interrupt = *sub_->interrupt;
    std::vector<std::unique_ptr<BufferView>> views;
    ReceiveVersionOptions o;
    o.timeout = Timeout(timeout);
    o.destination = [&](const VersionInfo& info) -> absl::StatusOr<std::vector<Segment>> {
      std::vector<Segment> segments;
      bool ok = true;
      CallPythonWith(interrupt, [&] {
        ok = false;
        views.clear();
        py::list parts = destination(InfoDict(info));
        uint64_t at = 0;
        for (py::handle part : parts) {
          if (py::isinstance<py::int_>(part)) {
            const uint64_t n = part.cast<uint64_t>();
            segments.push_back({at, nullptr, n});
            at += n;
            continue;
          }
          views.push_back(std::make_unique<BufferView>(part, /*writable=*/true, "a destination"));
          segments.push_back({at, views.back()->data(), views.back()->size()});
          at += views.back()->size();
        }
        ok = true;
      });
      if (!ok || interrupt.Check()) return absl::CancelledError("the destination callback failed");
      return segments;
    };
    if (!on_verified.is_none()) {
      o.on_verified = [&](uint64_t offset, uint64_t size) {
        CallPython(on_verified, interrupt, offset, size);
      };
    }
    if (!on_write.is_none()) {
      o.on_write = [&](uint64_t offset, absl::string_view bytes) {
        CallPythonWith(interrupt, [&] {
          on_write(offset, py::memoryview::from_memory(bytes.data(),
                                                       static_cast<ssize_t>(bytes.size())));
        });
      };
    }
    absl::StatusOr<ReceivedVersion> r;
    {
      BlockingCall call(interrupt);
      r = receiver_.Receive(o);
      call.Finish();
    }
    if (!r.ok()) {
      if (!receiver_.held()) held_views_.clear();
      Raise(r.status());
    }
    held_views_ = std::move(views);
    py::dict d = InfoDict(r->info);
    d["received_bytes"] = r->received_bytes;
    d["seconds"] = r->seconds;
    return d;
  }

  py::object Held() const {
    std::optional<VersionInfo> h = receiver_.held();
    if (!h) return py::none();
    return InfoDict(*h);
  }

 private:
  py::object owner_;
  PySubscriber* sub_;
  VersionReceiver receiver_;
  std::vector<std::unique_ptr<BufferView>> held_views_;
};

}  // namespace

void BindVersions(py::module_& m) {
  py::class_<PyVersionPublisher>(m, "VersionPublisher")
      .def(py::init<const std::string&, const std::string&, const std::string&,
                    const std::string&, const TlsTuple&, uint32_t, double, int, uint64_t>(),
           py::arg("node"), py::arg("group"), py::arg("source"), py::arg("transport"),
           py::arg("tls"), py::arg("chunk_bytes"), py::arg("announce_every"),
           py::arg("max_chain"), py::arg("max_chain_bytes"))
      .def("push", &PyVersionPublisher::Push, py::arg("data"), py::arg("version"),
           py::arg("name"), py::arg("table"), py::arg("whole"), py::arg("wait_for"),
           py::arg("timeout"), py::arg("on_progress"))
      .def("close", &PyVersionPublisher::Close)
      .def_property_readonly("version", &PyVersionPublisher::version);
  py::class_<PyVersionReceiver>(m, "VersionReceiver")
      .def(py::init<py::object>(), py::arg("subscriber"))
      .def("receive", &PyVersionReceiver::Receive, py::arg("destination"), py::arg("timeout"),
           py::arg("on_verified"), py::arg("on_write"))
      .def_property_readonly("held", &PyVersionReceiver::Held);
}

}  // namespace canopy::python
