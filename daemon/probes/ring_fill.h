// How full the probes' ring buffer is: bytes reserved by the producer (the
// BPF programs) and not yet consumed, read from the ring's two position pages
// mapped read-only (Debian 12's libbpf 1.1 has no ring__avail_data_size()).
//
// Ownership: owns the two mappings (not the map fd).  Move-only.  Thread
// safety: used() may be called from any thread; it reads two positions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "daemon/common/result.h"

namespace tdpwatch::probes {

class RingFill {
 public:
  static Result<RingFill> map(int ringbuf_map_fd);
  ~RingFill();
  RingFill(RingFill&& other) noexcept;
  RingFill& operator=(RingFill&&) = delete;
  RingFill(const RingFill&) = delete;
  RingFill& operator=(const RingFill&) = delete;

  // producer_pos - consumer_pos: bytes written (or reserved) and not consumed.
  std::uint64_t used() const;

 private:
  RingFill(void* consumer, void* producer, std::size_t page)
      : consumer_(consumer), producer_(producer), page_(page) {}
  void* consumer_ = nullptr;
  void* producer_ = nullptr;
  std::size_t page_ = 0;
};

}  // namespace tdpwatch::probes
