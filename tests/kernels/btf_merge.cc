// tdpw_btf_merge BASE SPLIT OUT: writes ONE self-contained BTF file holding
// the types of BASE (a kernel's vmlinux BTF) followed by those of SPLIT (a
// module's split BTF built against that BASE, e.g. kvm.ko's .BTF section).
//
// Why: libbpf's bpf_object_open_opts.btf_custom_path takes a single file and,
// when it is set, looks for CO-RE candidates in that file only, never in
// module BTF.  KVM is a module in Debian's kernels, so its types must be in
// the same file as vmlinux's.
//
// How: split BTF numbers its types from base's count + 1 and its string
// offsets from base's string size, so copying base whole, then each split
// type in order, keeps every type ID valid without remapping.  libbpf's
// btf__add_btf() refuses split sources (libbpf 1.1), hence btf__add_type(),
// which re-interns the strings and leaves type IDs as they are; the ID it
// returns is checked against the split's own.  BASE and SPLIT may be raw BTF
// or ELF files with a .BTF section (btf__parse handles both).
#include <bpf/btf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

int fail(const std::string& what, int err) {
  std::fprintf(stderr, "tdpw_btf_merge: %s: %s\n", what.c_str(), std::strerror(err < 0 ? -err : err));
  return 1;
}

// libbpf returns NULL and sets errno on failure.
BtfPtr checked(btf* b, int& err) {
  err = b ? 0 : errno;
  return BtfPtr(b);
}

bool write_file(const char* path, const void* data, std::size_t size) {
  const std::string tmp = std::string(path) + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    return false;
  }
  return std::rename(tmp.c_str(), path) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BASE.btf SPLIT.btf OUT.btf\n", argv[0]);
    return 2;
  }
  const char* base_path = argv[1];
  const char* split_path = argv[2];
  const char* out_path = argv[3];
  int err = 0;

  BtfPtr base = checked(btf__parse(base_path, nullptr), err);
  if (!base) return fail(std::string("parse base ") + base_path, err);
  BtfPtr split = checked(btf__parse_split(split_path, base.get()), err);
  if (!split) return fail(std::string("parse split ") + split_path + " on " + base_path, err);
  BtfPtr out = checked(btf__new_empty(), err);
  if (!out) return fail("btf__new_empty", err);

  const __u32 base_cnt = btf__type_cnt(base.get());  // types + 1 (VOID)
  const __u32 split_cnt = btf__type_cnt(split.get());
  if (int id = btf__add_btf(out.get(), base.get()); id != 1)
    return fail("append base types (first id " + std::to_string(id) + ")", id < 0 ? id : EPROTO);
  for (__u32 id = base_cnt; id < split_cnt; ++id) {
    const btf_type* t = btf__type_by_id(split.get(), id);
    const int got = btf__add_type(out.get(), split.get(), t);
    if (got < 0) return fail("append split type " + std::to_string(id), got);
    if (static_cast<__u32>(got) != id)
      return fail("split type " + std::to_string(id) + " landed at " + std::to_string(got), EPROTO);
  }

  __u32 size = 0;
  const void* raw = btf__raw_data(out.get(), &size);
  if (!raw) return fail("btf__raw_data", errno);
  if (!write_file(out_path, raw, size)) return fail(std::string("write ") + out_path, errno);

  // Read it back: same number of types, and the last split type by name.
  BtfPtr check = checked(btf__parse(out_path, nullptr), err);
  if (!check) return fail(std::string("re-parse ") + out_path, err);
  if (btf__type_cnt(check.get()) != split_cnt)
    return fail(std::string("re-parsed ") + out_path + " has a different type count", EPROTO);
  if (split_cnt > base_cnt) {
    const char* want = btf__name_by_offset(split.get(), btf__type_by_id(split.get(), split_cnt - 1)->name_off);
    const char* have = btf__name_by_offset(check.get(), btf__type_by_id(check.get(), split_cnt - 1)->name_off);
    if (!want || !have || std::strcmp(want, have) != 0)
      return fail(std::string("re-parsed ") + out_path + ": last type's name differs", EPROTO);
  }

  std::printf("tdpw_btf_merge: %s: %u base types (%s) + %u split types (%s) = %u types, %u bytes\n", out_path,
              base_cnt - 1, base_path, split_cnt - base_cnt, split_path, split_cnt - 1, size);
  return 0;
}
