// Compact store of one VM's non-root TDP page-table pages.
//
// A page is found by its place in the tree, (as_id, level, gfn), plus its
// identity (pfn or sp) to tell apart the tables of different roots that cover
// the same range.  Every event that names a page carries its place: SPTE
// events by construction, page events through sp->gfn and sp->role.
//
// Memory: a 24-byte record in a chunked slab plus a 4-byte slot in an
// open-addressed index kept 53-80% full, so 29-32 bytes per page.  Records
// never move, so parent/child links are 32-bit slot numbers.
//
// Thread safety: none (the model's thread only).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace tdpwatch::core {

using Slot = std::uint32_t;
inline constexpr Slot kNoSlot = 0xffffffffu;

struct PageRecord {
  // bits 0..47 id (pfn, or the low 48 bits of the sp pointer), 48 id_is_sp,
  // 49..51 level, 52 as_id, 53..58 flags, 59..63 role index.
  std::uint64_t bits;
  std::uint32_t gfn9;  // gfn >> 9: a level-L table's gfn is 512^L aligned
  Slot parent;
  Slot first_child;  // also the free-list link of a free record
  Slot next_sibling;
};
static_assert(sizeof(PageRecord) == 24);

// Per-page flags (6 bits).
enum PageFlag : std::uint8_t {
  kFlagNxDisallowed = 1 << 0,  // sp->nx_huge_page_disallowed
  kFlagNxTracked = 1 << 1,     // on possible_nx_huge_pages[KVM_TDP_MMU]
  kFlagUnlinked = 1 << 2,      // no longer counted; kept for a pending event
  kFlagZombie = 1 << 3,        // removed with an ancestor; its own SPTE event is pending
  kFlagByLinkEvent = 1 << 4,   // linked by TDPW_EV_LINK_SP (not only seen in SPTEs)
  kFlagInUse = 1 << 5,         // record is live in the slab
};

struct PageKey {
  int as_id;
  int level;
  std::uint64_t gfn;
  std::uint64_t pfn;  // 0: unknown
  std::uint64_t sp;   // 0: unknown
};

class PageStore {
 public:
  PageStore();

  // Finds the page at key's place whose identity matches: an exact id match
  // first, else the first page there whose id is of the other kind (pfn vs
  // sp), i.e. not contradicted.  kNoSlot if none.
  Slot find(const PageKey& key) const;
  // Any linked table covering gfn at `level` (for "is the parent known?").
  Slot find_any_live(int as_id, int level, std::uint64_t gfn) const;
  // The only linked table covering gfn at `level`, or kNoSlot when there is
  // none or several: after a root is invalidated, its tables and the new
  // root's cover the same ranges until the old root is zapped, and an SPTE
  // event does not say which root it belongs to.
  Slot find_unique_live(int as_id, int level, std::uint64_t gfn) const;

  Slot insert(const PageKey& key, std::uint8_t role_index, std::uint8_t flags);
  void erase(Slot slot);

  PageRecord& at(Slot s) { return chunks_[s >> kChunkShift][s & kChunkMask]; }
  const PageRecord& at(Slot s) const { return chunks_[s >> kChunkShift][s & kChunkMask]; }

  // Children links (parent must be a live slot).
  void add_child(Slot parent, Slot child);
  void remove_child(Slot parent, Slot child);

  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const;

  // Visits every live record: fn(Slot, const PageRecord&).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (Slot s = 0; s < next_unused_; ++s) {
      const PageRecord& r = at(s);
      if (flags(r) & kFlagInUse) fn(s, r);
    }
  }

  // Field access over the packed bits.
  static std::uint64_t id(const PageRecord& r) { return r.bits & kIdMask; }
  static bool id_is_sp(const PageRecord& r) { return (r.bits >> 48) & 1; }
  static int level(const PageRecord& r) { return static_cast<int>((r.bits >> 49) & 7); }
  static int as_id(const PageRecord& r) { return static_cast<int>((r.bits >> 52) & 1); }
  static std::uint8_t flags(const PageRecord& r) {
    return static_cast<std::uint8_t>((r.bits >> 53) & 0x3f);
  }
  static std::uint8_t role_index(const PageRecord& r) {
    return static_cast<std::uint8_t>(r.bits >> 59);
  }
  static std::uint64_t gfn(const PageRecord& r) { return std::uint64_t{r.gfn9} << 9; }
  static void set_flags(PageRecord& r, std::uint8_t f) {
    r.bits = (r.bits & ~(0x3full << 53)) | (std::uint64_t{f} << 53);
  }
  // Replaces an sp identity by a pfn one once an event tells both.
  static void set_id_pfn(PageRecord& r, std::uint64_t pfn) {
    r.bits = (r.bits & ~(kIdMask | (1ull << 48))) | (pfn & kIdMask);
  }
  static constexpr std::uint64_t kIdMask = (1ull << 48) - 1;
  static constexpr int kMaxRoleIndex = 31;

 private:
  static constexpr Slot kChunkShift = 10;
  static constexpr Slot kChunkMask = (1u << kChunkShift) - 1;

  std::uint64_t hash(int as_id, int level, std::uint64_t gfn) const;
  // Index sizes are not powers of two: map a hash onto [0, size) by
  // multiply-shift, and probe linearly with wrap-around.
  std::size_t home(std::uint64_t h) const { return ((h >> 32) * index_.size()) >> 32; }
  std::size_t next(std::size_t i) const { return i + 1 == index_.size() ? 0 : i + 1; }
  bool same_place(const PageRecord& r, int as_id, int level, std::uint64_t gfn) const;
  void grow_index();
  void index_insert(Slot slot);
  void index_erase(Slot slot);

  std::vector<std::unique_ptr<PageRecord[]>> chunks_;
  Slot next_unused_ = 0;  // slots below this have been handed out once
  Slot free_head_ = kNoSlot;
  std::size_t size_ = 0;
  std::vector<Slot> index_;  // power of two; kNoSlot = empty
};

}  // namespace tdpwatch::core
