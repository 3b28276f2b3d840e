// Helpers shared by the replay tests: temporary files, a stream that covers
// every event type, and readers that collect what they deliver.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "daemon/replay/format.h"

namespace tdpwatch::replay::testing {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// `n` well-formed events cycling through every type, with fields that vary
// (levels 0..5, both address spaces, both MMU types, all flags).
std::vector<Event> sample_events(std::size_t n);

RecordingInfo sample_info();

// Writes a recording with the Writer; fails the test on any error.
void write_recording(const std::string& path, const RecordingInfo& info,
                     const std::vector<Event>& events);
// The same recording as bytes.
std::vector<std::byte> recording_bytes(const RecordingInfo& info, const std::vector<Event>& events);

std::vector<std::byte> read_bytes(const std::string& path);
void write_bytes(const std::string& path, std::span<const std::byte> bytes);

// What a reader delivered before it stopped.
struct Drained {
  std::optional<RecordingInfo> info;  // empty: the header was refused
  std::vector<Event> events;
  std::optional<Error> error;
};
Drained drain_memory(std::span<const std::byte> bytes, const std::string& name = "<memory>");
Drained drain_file(const std::string& path);

bool same_event(const Event& a, const Event& b);

// Surgery on a recording's bytes: the header and record `index`, copied out
// and back (memcpy, so no aliasing games).
FileHeader get_header(const std::vector<std::byte>& bytes);
void put_header(std::vector<std::byte>& bytes, const FileHeader& header);
Event get_record(const std::vector<std::byte>& bytes, std::size_t index);
void put_record(std::vector<std::byte>& bytes, std::size_t index, const Event& ev);

}  // namespace tdpwatch::replay::testing
