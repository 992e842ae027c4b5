// send_object, send_file and ObjectReceiver of the _canopy extension.

#include <pybind11/stl.h>

#include <vector>

#include "canopy/object.h"
#include "client-sdk/python/src/buffers.h"
#include "client-sdk/python/src/callbacks.h"
#include "client-sdk/python/src/clients.h"
#include "client-sdk/python/src/status.h"

namespace py = pybind11;

namespace canopy::python {
namespace {

py::dict InfoDict(const ObjectInfo& info) {
  py::dict d;
  d["name"] = info.name;
  d["size"] = info.size;
  d["chunk_bytes"] = info.chunk_bytes;
  d["chunk_count"] = info.chunk_count;
  d["sha256"] = info.sha256_hex;
  return d;
}

py::dict SentDict(const SentObject& s) {
  py::dict d = InfoDict(s.info);
  d["seconds"] = s.seconds;
  d["receivers"] = s.acks ? py::cast(s.acks->acked) : py::none();
  return d;
}

py::dict ReceivedDict(const ReceivedObject& r) {
  py::dict d = InfoDict(r.info);
  d["source"] = r.source;
  d["seconds"] = r.seconds;
  d["first_byte_seconds"] = r.first_byte_seconds;
  return d;
}

// The publishers to send through (one, or the stripes of one source) and
// the interrupt of the first.
std::vector<Publisher*> Stripes(const std::vector<PyPublisher*>& pubs) {
  if (pubs.empty()) Raise(absl::InvalidArgumentError("no publisher to send through"));
  std::vector<Publisher*> out;
  for (PyPublisher* p : pubs) out.push_back(p->publisher.get());
  return out;
}

SendObjectOptions SendOptions(uint32_t chunk_bytes, py::object on_progress, Interrupt& interrupt,
                              uint32_t wait_for, std::optional<double> timeout) {
  SendObjectOptions o;
  o.chunk_bytes = chunk_bytes;
  o.min_receivers = wait_for;
  o.ack_timeout = Timeout(timeout);
  if (!on_progress.is_none()) {
    o.on_progress = [on_progress, &interrupt](uint64_t sent) {
      CallPython(on_progress, interrupt, sent);
    };
  }
  return o;
}

py::dict SendObjectPy(const std::vector<PyPublisher*>& pubs, const std::string& name,
                      py::handle data, uint32_t chunk_bytes, py::object on_progress,
                      uint32_t wait_for, std::optional<double> timeout) {
  std::vector<Publisher*> stripes = Stripes(pubs);
  Interrupt& interrupt = *pubs[0]->interrupt;
  BufferView view(data, /*writable=*/false, "data");
  SendObjectOptions o =
      SendOptions(chunk_bytes, std::move(on_progress), interrupt, wait_for, timeout);
  absl::StatusOr<SentObject> sent;
  {
    BlockingCall call(interrupt);
    sent = SendObject(absl::MakeConstSpan(stripes), name, view.bytes(), o);
    call.Finish();
  }
  return SentDict(ValueOr(std::move(sent)));
}

py::dict SendFilePy(const std::vector<PyPublisher*>& pubs, const std::string& path,
                    const std::string& name, uint32_t chunk_bytes, py::object on_progress,
                    uint32_t wait_for, std::optional<double> timeout) {
  std::vector<Publisher*> stripes = Stripes(pubs);
  Interrupt& interrupt = *pubs[0]->interrupt;
  SendObjectOptions o =
      SendOptions(chunk_bytes, std::move(on_progress), interrupt, wait_for, timeout);
  absl::StatusOr<SentObject> sent;
  {
    BlockingCall call(interrupt);
    sent = SendFile(absl::MakeConstSpan(stripes), path, name, o);
    call.Finish();
  }
  return SentDict(ValueOr(std::move(sent)));
}

// An ObjectReceiver over a Python Subscriber, which it keeps alive.
class PyObjectReceiver {
 public:
  explicit PyObjectReceiver(py::object subscriber)
      : owner_(subscriber),
        sub_(subscriber.cast<PySubscriber*>()),
        receiver_(*sub_->subscriber) {}

  py::dict ReceiveInto(py::handle buffer, std::optional<double> timeout, py::object on_chunk,
                       py::object on_progress) {
    BufferView view(buffer, /*writable=*/true, "the receive buffer");
    ReceiveObjectOptions o = Options(timeout, on_chunk, on_progress);
    absl::StatusOr<ReceivedObject> r;
    {
      BlockingCall call(*sub_->interrupt);
      r = receiver_.ReceiveInto(view.span(), o);
      call.Finish();
    }
    return ReceivedDict(ValueOr(std::move(r)));
  }

  py::dict ReceiveChunks(py::object on_chunk, std::optional<double> timeout,
                         py::object on_progress) {
    if (on_chunk.is_none()) Raise(absl::InvalidArgumentError("receive_chunks needs on_chunk"));
    ReceiveObjectOptions o = Options(timeout, on_chunk, on_progress);
    absl::StatusOr<ReceivedObject> r;
    {
      BlockingCall call(*sub_->interrupt);
      r = receiver_.ReceiveChunks(o);
      call.Finish();
    }
    return ReceivedDict(ValueOr(std::move(r)));
  }

  py::tuple Receive(std::optional<double> timeout, py::object on_chunk, py::object on_progress) {
    ReceiveObjectOptions o = Options(timeout, on_chunk, on_progress);
    absl::StatusOr<std::pair<ReceivedObject, std::string>> r;
    {
      BlockingCall call(*sub_->interrupt);
      r = receiver_.Receive(o);
      call.Finish();
    }
    auto got = ValueOr(std::move(r));
    return py::make_tuple(ReceivedDict(got.first), py::bytes(got.second));
  }

 private:
  ReceiveObjectOptions Options(std::optional<double> timeout, py::object on_chunk,
                               py::object on_progress) {
    ReceiveObjectOptions o;
    o.timeout = Timeout(timeout);
    total_ = 0;
    received_ = 0;
    o.on_start = [this](const ObjectInfo& info) {
      total_ = info.size;
      return absl::OkStatus();
    };
    if (!on_chunk.is_none() || !on_progress.is_none()) {
      Interrupt& interrupt = *sub_->interrupt;
      o.on_chunk = [this, on_chunk, on_progress, &interrupt](uint64_t offset,
                                                             absl::string_view bytes) {
        received_ += bytes.size();
        CallPythonWith(interrupt, [&] {
          if (!on_chunk.is_none()) {
            on_chunk(offset, py::memoryview::from_memory(bytes.data(),
                                                         static_cast<ssize_t>(bytes.size())));
          }
          if (!on_progress.is_none()) on_progress(received_, total_);
        });
      };
    }
    return o;
  }

  py::object owner_;
  PySubscriber* sub_;
  ObjectReceiver receiver_;
  uint64_t total_ = 0, received_ = 0;
};

}  // namespace

void BindObjects(py::module_& m) {
  m.def("send_object", &SendObjectPy, py::arg("publishers"), py::arg("name"), py::arg("data"),
        py::arg("chunk_bytes"), py::arg("on_progress"), py::arg("wait_for") = 0,
        py::arg("timeout") = py::none());
  m.def("send_file", &SendFilePy, py::arg("publishers"), py::arg("path"), py::arg("name"),
        py::arg("chunk_bytes"), py::arg("on_progress"), py::arg("wait_for") = 0,
        py::arg("timeout") = py::none());
  py::class_<PyObjectReceiver>(m, "ObjectReceiver")
      .def(py::init<py::object>(), py::arg("subscriber"))
      .def("receive_into", &PyObjectReceiver::ReceiveInto, py::arg("buffer"), py::arg("timeout"),
           py::arg("on_chunk"), py::arg("on_progress"))
      .def("receive_chunks", &PyObjectReceiver::ReceiveChunks, py::arg("on_chunk"),
           py::arg("timeout"), py::arg("on_progress"))
      .def("receive", &PyObjectReceiver::Receive, py::arg("timeout"), py::arg("on_chunk"),
           py::arg("on_progress"));
}

}  // namespace canopy::python
