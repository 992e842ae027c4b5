#ifndef CANOPY_CLIENT_SDK_SRC_VERSION_TAP_H_
#define CANOPY_CLIENT_SDK_SRC_VERSION_TAP_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "canopy/subscriber.h"
#include "src/object_codec.h"
#include "src/version_codec.h"

namespace canopy {

// The version a receiver holds, as the tap needs to know it.
struct HeldVersion {
  uint64_t stream = 0;
  uint64_t version = 0;
};

// Sits between a subscription and the ObjectReceiver of a VersionReceiver.
// It takes the versions messages (VERSION records, ANNOUNCEs) out of the
// stream, and passes on only the object messages of objects the receiver
// can use now: a whole version newer than the one held, or a delta on the
// one held. When an ANNOUNCE names a version the receiver does not hold,
// it asks the local node for the next object of the announced chain
// (Subscriber::RequestResend), one object at a time; the node serves it
// from its replay ring or from further up the tree, to this subscriber
// alone.
//
// Thread-compatible (one receive at a time), except Cancel().
class VersionTap final : public Subscriber {
 public:
  // REQUIRES: `inner` outlives the tap.
  explicit VersionTap(Subscriber& inner) : inner_(inner) {}

  absl::Status WaitJoined(absl::Duration timeout) override { return inner_.WaitJoined(timeout); }
  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) override;
  absl::Status RequestResend(const std::string& source, uint64_t first, uint64_t last) override {
    return inner_.RequestResend(source, first, last);
  }
  absl::Status Acknowledge(const std::string& source, uint64_t object_id) override {
    return inner_.Acknowledge(source, object_id);
  }
  void Cancel() override { inner_.Cancel(); }

  // What the receiver holds now (nullopt: nothing, or a version being
  // written over).
  void SetHeld(std::optional<HeldVersion> held) { held_ = held; }
  // Whether an object is being received (0 = none): no fetch is asked for
  // meanwhile, and only that object's chunks go on.
  void SetAssembling(uint64_t object_id) { assembling_ = object_id; }

  // The record of the object whose MANIFEST was passed on last.
  const VersionRecord* LastStarted() const;
  const std::string& LastStartedSource() const { return last_manifest_.first; }

  // Asks for the next object the latest announcement says is missing, if
  // one is due, kWindowBytes at a time, the next window once the one before
  // came: a node's link to this receiver then stays below its high
  // watermark, where the relay would detach it. DataLoss once a window was
  // asked for kMaxFetches times without arriving (no node holds it any
  // more).
  absl::Status MaybeFetch();

  // True if the announcement followed names a version of the held stream
  // newer than the one held, or a message of an object the receiver can
  // use now is already waiting (a receive then goes on to it rather than
  // return a version that is already outdated). A receiver that has heard
  // no announcement of the held stream yet waits for one until `deadline`,
  // at most kConfirmWait.
  bool Behind(absl::Time deadline);

  // The error MaybeFetch() gave up with, if any; cleared, so a later
  // receive tries again.
  absl::Status TakeFetchError();

  // What a receive is waiting for, for a timeout's message.
  std::string Waiting() const;

 private:
  struct Latest {
    std::string source;
    Announcement announcement;
    uint64_t sequence = 0;  // of the ANNOUNCE
  };
  // The chain entry being fetched: messages first..last of `source`, asked
  // for a window at a time up to `asked_to`; `seen_to` is the highest of
  // them that came back.
  struct Fetch {
    uint64_t object_id = 0;
    uint64_t version = 0;
    std::string source;
    uint64_t first = 0, last = 0;
    uint64_t asked_to = 0, seen_to = 0;
    uint64_t window = 1;  // messages asked for at a time
    absl::Time at;
    int times = 0;  // windows asked again after a silence
  };

  // Records a versions message; false if `m` is not one.
  bool TakeVersionsMessage(const ReceivedMessage& m);
  // Whether the object messages of `record` go on to the receiver.
  bool Admit(const VersionRecord& record);
  // Asks for fetch_'s next window, or for the current one again after a
  // silence.
  absl::Status ContinueFetch(absl::Time now);
  absl::Status Ask(uint64_t first, absl::Time now);

  // Takes what the subscription already holds, without waiting, until a
  // message to pass on turns up (kept in peeked_). True if one did.
  bool PeekPassable();
  // Takes one message, waiting until `until`, keeping it in peeked_ if it
  // goes on.
  void TakeOne(absl::Time until);
  // The message Next() passes on; nullopt for one that stays here.
  std::optional<ReceivedMessage> Filter(ReceivedMessage m);
  // Asks for the object that message `m` (a chunk or END of it) belongs to
  // from its MANIFEST to its END.
  void RestartObject(const ReceivedMessage& m, const VersionRecord& r, ObjectMessageKind kind);

  Subscriber& inner_;
  std::optional<ReceivedMessage> peeked_;
  std::optional<HeldVersion> held_;
  uint64_t assembling_ = 0;
  // Objects whose chunks came while no object was being received: asked
  // for again from their MANIFEST (once each).
  std::set<uint64_t> restarted_;
  // VERSION records by (source, object id), the oldest dropped first.
  std::map<std::pair<std::string, uint64_t>, VersionRecord> records_;
  std::deque<std::pair<std::string, uint64_t>> record_order_;
  std::set<uint64_t> admitted_;  // object ids
  std::pair<std::string, uint64_t> last_manifest_;
  // The latest announcement of each stream's publisher; which one is
  // followed: that of the stream held, else the last one heard.
  std::map<uint64_t, Latest> latest_;
  uint64_t last_heard_stream_ = 0;
  Fetch fetch_;
  absl::Time last_passed_ = absl::InfinitePast();
  absl::Time last_arrival_ = absl::InfinitePast();  // of any message
  absl::Status fetch_error_;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_VERSION_TAP_H_
