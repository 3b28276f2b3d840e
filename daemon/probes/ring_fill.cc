#include "daemon/probes/ring_fill.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace tdpwatch::probes {

Result<RingFill> RingFill::map(int fd) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos, page 1
  // producer_pos, then the data.  Both may be mapped read-only.
  void* consumer = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, 0);
  if (consumer == MAP_FAILED) return errno_error("ring buffer: mmap consumer page", errno);
  void* producer = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(page));
  if (producer == MAP_FAILED) {
    const int err = errno;
    ::munmap(consumer, page);
    return errno_error("ring buffer: mmap producer page", err);
  }
  return RingFill(consumer, producer, page);
}

RingFill::RingFill(RingFill&& o) noexcept
    : consumer_(o.consumer_), producer_(o.producer_), page_(o.page_) {
  o.consumer_ = o.producer_ = nullptr;
}

RingFill::~RingFill() {
  if (consumer_ != nullptr) ::munmap(consumer_, page_);
  if (producer_ != nullptr) ::munmap(producer_, page_);
}

std::uint64_t RingFill::used() const {
  // The kernel and libbpf access the positions with acquire/release semantics.
  const auto* cons = static_cast<const unsigned long*>(consumer_);
  const auto* prod = static_cast<const unsigned long*>(producer_);
  const unsigned long c = __atomic_load_n(cons, __ATOMIC_ACQUIRE);
  const unsigned long p = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
  return p >= c ? p - c : 0;
}

}  // namespace tdpwatch::probes
