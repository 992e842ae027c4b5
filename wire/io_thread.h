#ifndef CANOPY_WIRE_IO_THREAD_H_
#define CANOPY_WIRE_IO_THREAD_H_

#include <thread>

#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"

namespace canopy::wire {

// An io_context and the one thread that runs it, from construction until
// Stop() (or destruction).
//
// Thread-safe.
class IoThread {
 public:
  IoThread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread() { Stop(); }

  boost::asio::io_context& io() { return io_; }

  // Stops the loop (work still queued is dropped) and joins the thread.
  // Idempotent.
  void Stop() {
    if (!thread_.joinable()) return;
    work_.reset();
    boost::asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_IO_THREAD_H_
