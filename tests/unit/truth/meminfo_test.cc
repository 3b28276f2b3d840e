#include "daemon/truth/meminfo.h"

#include <gtest/gtest.h>

#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;
using testing::meminfo_text;

TEST(MemInfo, ReadsSecPageTablesAndPageTablesInBytes) {
  FixtureTree t;
  t.write("proc/meminfo", meminfo_text(true, 16, 2488));
  auto m = read_meminfo(t.paths());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->sec_page_tables_bytes, 16u * 1024);
  EXPECT_EQ(m->page_tables_bytes, 2488u * 1024);
}

// 6.11+: the IOMMU's page tables are in SecPageTables and in vmstat's
// nr_iommu_pages; KVM's part is the difference.  Without the line (older
// kernels) or without vmstat, nothing is taken off.
TEST(MemInfo, IommuPageTablesAreTakenOffSecPageTables) {
  FixtureTree t;
  t.write("proc/meminfo", meminfo_text(true, 40, 2488));
  t.write("proc/vmstat", "nr_free_pages 1000\nnr_iommu_pages 3\nnr_zone_active_anon 5\n");
  auto m = read_meminfo(t.paths());
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->iommu_page_tables_bytes);
  EXPECT_EQ(*m->iommu_page_tables_bytes, 3u * 4096);
  EXPECT_EQ(m->kvm_sec_page_tables_bytes(), 40u * 1024 - 3u * 4096);

  t.write("proc/vmstat", "nr_free_pages 1000\n");
  m = read_meminfo(t.paths());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->iommu_page_tables_bytes);
  EXPECT_EQ(m->kvm_sec_page_tables_bytes(), 40u * 1024);
  EXPECT_FALSE(parse_vmstat_iommu_pages("nr_iommu_pages x\n"));
  EXPECT_FALSE(parse_vmstat_iommu_pages("xnr_iommu_pages 3\n"));
}

TEST(MemInfo, MissingSecPageTablesIsADistinctError) {
  FixtureTree t;
  t.write("proc/meminfo", meminfo_text(false));
  auto m = read_meminfo(t.paths());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().errno_value, kNoSecPageTables);
  EXPECT_NE(m.error().message.find("no SecPageTables line"), std::string::npos);
  EXPECT_NE(m.error().message.find("older than 6.0"), std::string::npos);
}

TEST(MemInfo, MissingFileKeepsErrno) {
  FixtureTree t;
  auto m = read_meminfo(t.paths());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().errno_value, ENOENT);
  EXPECT_NE(m.error().message.find("/proc/meminfo"), std::string::npos);
}

TEST(MemInfo, MalformedValueIsAnErrorNotZero) {
  auto m = parse_meminfo("PageTables: 12 kB\nSecPageTables: lots kB\n", "x");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().errno_value, 0);
  EXPECT_NE(m.error().message.find("SecPageTables"), std::string::npos);
  EXPECT_FALSE(parse_meminfo("PageTables: 12 kB\nSecPageTables: 4 MB\n", "x"));
}

TEST(MemInfo, PageTablesIsNotConfusedWithSecPageTables) {
  auto m = parse_meminfo("SecPageTables: 8 kB\nPageTables: 12 kB\n", "x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sec_page_tables_bytes, 8u * 1024);
  EXPECT_EQ(m->page_tables_bytes, 12u * 1024);
}

}  // namespace
}  // namespace tdpwatch::truth
