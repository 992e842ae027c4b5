// Writes the seed corpus of frame_decoder_fuzzer: small byte streams as a
// link would receive them, built from frames that wire::Frame::Make encodes.
//
//   gen_frame_corpus <dir>
//
// The committed seeds in tests/fuzz/corpus/frame_decoder/ are this tool's
// output; run_fuzzer.sh regenerates them into the build directory on every
// run and warns when the committed copy differs (e.g. after a format change).

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "wire/frame.h"

namespace {

using canopy::wire::Frame;
using canopy::wire::FrameType;
using canopy::wire::kDefaultMaxPayload;
using canopy::wire::kHeaderSize;

std::string Encode(FrameType type, uint32_t group, uint32_t source, uint64_t seq,
                   const std::string& payload) {
  return std::string(Frame::Make(type, group, source, seq, payload)->bytes());
}

std::string Set(std::string bytes, size_t at, char value) {
  bytes[at] = value;
  return bytes;
}

// Overwrites the big-endian length field (bytes 12..15).
std::string WithLength(std::string bytes, uint32_t length) {
  for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>(length >> (24 - 8 * i));
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gen_frame_corpus <output-dir>\n";
    return 2;
  }
  const std::string dir = argv[1];

  const std::string hello = Encode(FrameType::kHello, 0, 0, 0, "node-a");
  const std::string data = Encode(FrameType::kData, 7, 3, 1, "hello, canopy");
  const std::string data2 = Encode(FrameType::kData, 7, 3, 2, std::string(64, 'x'));
  const std::string empty = Encode(FrameType::kData, 0xFFFFFFFF, 1, UINT64_MAX, "");

  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"valid_hello", hello},
      {"valid_data", data},
      {"valid_data_empty_payload", empty},
      {"valid_stream_hello_data_data", hello + data + data2},
      {"truncated_header", data.substr(0, 20)},
      {"truncated_payload", data.substr(0, data.size() - 3)},
      {"truncated_after_valid_frame", hello + data.substr(0, kHeaderSize + 4)},
      {"bad_magic", Set(data, 0, 0x00)},
      {"bad_version", Set(data, 2, 2)},
      {"bad_type", Set(data, 3, 9)},
      {"valid_resume", Encode(FrameType::kResume, 7, 3, 41, std::string("\0\0\0\0\0\0\0\x50", 8))},
      {"valid_gap", Encode(FrameType::kGap, 7, 3, 42, std::string("\0\0\0\0\0\0\0\x60", 8))},
      {"valid_ping", Encode(FrameType::kPing, 0, 0, 0, std::string(8, '\x11'))},
      {"control_over_limit", Encode(FrameType::kPong, 0, 0, 0, std::string(65, 'p'))},
      {"gap_backwards", Encode(FrameType::kGap, 7, 3, 42, std::string("\0\0\0\0\0\0\0\x01", 8))},
      {"bad_checksum_payload", Set(data, data.size() - 1, '!')},
      {"bad_checksum_header", Set(data, 20, 0x55)},
      {"bad_frame_after_valid_frame", hello + Set(data, 1, 0x71)},
      {"huge_length_max_u32", WithLength(data, 0xFFFFFFFF)},
      {"huge_length_over_limit", WithLength(data, kDefaultMaxPayload + 1)},
      {"huge_length_at_limit", WithLength(data, kDefaultMaxPayload)},
      {"hello_over_hello_limit", Encode(FrameType::kHello, 0, 0, 0, std::string(300, 'n'))},
  };
  for (const auto& [name, bytes] : seeds) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "gen_frame_corpus: cannot write " << path << "\n";
      return 1;
    }
  }
  std::cout << "gen_frame_corpus: wrote " << seeds.size() << " seeds to " << dir << "\n";
  return 0;
}
