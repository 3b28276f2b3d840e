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
