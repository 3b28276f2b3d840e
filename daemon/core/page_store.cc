#include "daemon/core/page_store.h"

namespace tdpwatch::core {
namespace {

constexpr std::size_t kInitialIndex = 64;

// A level-L table covers 512^L pages: align any gfn inside it to its base.
std::uint64_t table_base(int level, std::uint64_t gfn) {
  const unsigned shift = 9u * static_cast<unsigned>(level);
  return shift >= 64 ? 0 : gfn & ~((1ull << shift) - 1);
}

}  // namespace

PageStore::PageStore() : index_(kInitialIndex, kNoSlot) {}

std::uint64_t PageStore::hash(int as_id, int level, std::uint64_t gfn) const {
  // splitmix64 finaliser over the table's place.
  std::uint64_t x =
      (table_base(level, gfn) >> 9) ^ (std::uint64_t(level) << 56) ^ (std::uint64_t(as_id) << 60);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

bool PageStore::same_place(const PageRecord& r, int as_id_, int level_, std::uint64_t gfn_) const {
  return level(r) == level_ && as_id(r) == as_id_ && gfn(r) == table_base(level_, gfn_);
}

Slot PageStore::find(const PageKey& key) const {
  Slot compatible = kNoSlot;
  for (std::size_t i = home(hash(key.as_id, key.level, key.gfn));; i = next(i)) {
    const Slot s = index_[i];
    if (s == kNoSlot) return compatible;
    const PageRecord& r = at(s);
    if (!same_place(r, key.as_id, key.level, key.gfn)) continue;
    const std::uint64_t want = id_is_sp(r) ? key.sp & kIdMask : key.pfn;
    if (want == 0) {
      if (compatible == kNoSlot) compatible = s;  // the event can't contradict this one
    } else if (want == id(r)) {
      return s;
    }
  }
}

Slot PageStore::find_any_live(int as_id_, int level_, std::uint64_t gfn_) const {
  for (std::size_t i = home(hash(as_id_, level_, gfn_));; i = next(i)) {
    const Slot s = index_[i];
    if (s == kNoSlot) return kNoSlot;
    const PageRecord& r = at(s);
    if (!same_place(r, as_id_, level_, gfn_)) continue;
    if (!(flags(r) & (kFlagUnlinked | kFlagZombie))) return s;
  }
}

Slot PageStore::find_unique_live(int as_id_, int level_, std::uint64_t gfn_) const {
  Slot found = kNoSlot;
  for (std::size_t i = home(hash(as_id_, level_, gfn_));; i = next(i)) {
    const Slot s = index_[i];
    if (s == kNoSlot) return found;
    const PageRecord& r = at(s);
    if (!same_place(r, as_id_, level_, gfn_) || (flags(r) & (kFlagUnlinked | kFlagZombie)))
      continue;
    if (found != kNoSlot) return kNoSlot;
    found = s;
  }
}

Slot PageStore::insert(const PageKey& key, std::uint8_t role_index, std::uint8_t flags_) {
  Slot s;
  if (free_head_ != kNoSlot) {
    s = free_head_;
    free_head_ = at(s).first_child;
  } else {
    s = next_unused_++;
    if ((s >> kChunkShift) >= chunks_.size())
      chunks_.push_back(std::make_unique<PageRecord[]>(std::size_t{1} << kChunkShift));
  }
  const bool by_sp = key.pfn == 0 && key.sp != 0;
  const std::uint64_t id_value = by_sp ? (key.sp & kIdMask) : (key.pfn & kIdMask);
  PageRecord& r = at(s);
  r.bits = id_value | (std::uint64_t{by_sp} << 48) | (std::uint64_t(key.level & 7) << 49) |
           (std::uint64_t(key.as_id & 1) << 52) |
           (std::uint64_t((flags_ | kFlagInUse) & 0x3f) << 53) |
           (std::uint64_t(role_index & kMaxRoleIndex) << 59);
  r.gfn9 = static_cast<std::uint32_t>(table_base(key.level, key.gfn) >> 9);
  r.parent = kNoSlot;
  r.first_child = kNoSlot;
  r.next_sibling = kNoSlot;
  ++size_;
  if ((size_ + 1) * 5 > index_.size() * 4) grow_index();
  index_insert(s);
  return s;
}

void PageStore::erase(Slot s) {
  index_erase(s);
  PageRecord& r = at(s);
  r.bits = 0;  // clears kFlagInUse
  r.first_child = free_head_;
  free_head_ = s;
  --size_;
}

void PageStore::add_child(Slot parent, Slot child) {
  PageRecord& p = at(parent);
  at(child).parent = parent;
  at(child).next_sibling = p.first_child;
  p.first_child = child;
}

void PageStore::remove_child(Slot parent, Slot child) {
  // Sibling lists hold at most 512 entries and unlinks are rare next to
  // SPTE changes, so a singly linked list (no back pointer) is the trade.
  Slot* link = &at(parent).first_child;
  while (*link != kNoSlot && *link != child) link = &at(*link).next_sibling;
  if (*link == child) *link = at(child).next_sibling;
  at(child).parent = kNoSlot;
  at(child).next_sibling = kNoSlot;
}

std::size_t PageStore::memory_bytes() const {
  return chunks_.size() * (sizeof(PageRecord) << kChunkShift) + index_.capacity() * sizeof(Slot) +
         chunks_.capacity() * sizeof(chunks_[0]);
}

void PageStore::grow_index() {
  std::vector<Slot> old;
  old.swap(index_);
  // Growing by 1.5 (not 2) keeps the index between 53% and 80% full.
  index_.assign(old.size() + old.size() / 2, kNoSlot);
  for (Slot s : old)
    if (s != kNoSlot) index_insert(s);
}

void PageStore::index_insert(Slot s) {
  const PageRecord& r = at(s);
  std::size_t i = home(hash(as_id(r), level(r), gfn(r)));
  while (index_[i] != kNoSlot) i = next(i);
  index_[i] = s;
}

void PageStore::index_erase(Slot s) {
  const PageRecord& r = at(s);
  std::size_t i = home(hash(as_id(r), level(r), gfn(r)));
  while (index_[i] != s) i = next(i);
  // Backward-shift deletion keeps probe chains intact without tombstones.
  std::size_t hole = i;
  for (std::size_t j = next(i); index_[j] != kNoSlot; j = next(j)) {
    const PageRecord& m = at(index_[j]);
    const std::size_t h = home(hash(as_id(m), level(m), gfn(m)));
    // Move m into the hole unless its home lies cyclically in (hole, j].
    const bool home_in_range = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!home_in_range) {
      index_[hole] = index_[j];
      hole = j;
    }
  }
  index_[hole] = kNoSlot;
}

}  // namespace tdpwatch::core
