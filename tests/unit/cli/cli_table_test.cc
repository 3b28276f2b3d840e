// The table renderer and the list view built on it.
#include <gtest/gtest.h>

#include "cli/list_render.h"
#include "cli/table.h"

namespace tdpwatch::cli {
namespace {

using Align = Table::Align;

TEST(CliTable, PadsColumnsAlignsNumbersAndTrimsTrailingBlanks) {
  Table t({{"NAME"}, {"PAGES", Align::kRight}, {"NOTE"}});
  t.add_row({"a", "5", ""});
  t.add_row({"longer-name", "12345", "x"});
  EXPECT_EQ(t.render(),
            "NAME         PAGES  NOTE\n"
            "a                5\n"
            "longer-name  12345  x\n");
}

TEST(CliTable, MissingCellsAreBlankAndWidthCuts) {
  Table t({{"A"}, {"B", Align::kRight}});
  t.add_row({"only"});
  EXPECT_EQ(t.render(), "A     B\nonly\n");
  EXPECT_EQ(t.render(3), "A  \nonl\n");
}

ojson vm(const std::string& name, int pid, int pages, int shadow, int events) {
  ojson v;
  v["vm"] = {{"name", name}, {"pid", pid}, {"comm", "c"}, {"key", pid * 10}};
  v["model"] = {{"page_table_pages", pages},
                {"tdp_pages", {{"total", pages - shadow}}},
                {"shadow_pages", shadow},
                {"counters", {{"events", events}}}};
  return v;
}

std::vector<std::string> names(const ojson& vms) {
  std::vector<std::string> out;
  for (const ojson& v : vms) out.push_back(v["vm"]["name"]);
  return out;
}

TEST(CliListSort, EveryKeyOrdersAsDocumented) {
  ojson vms = ojson::array({vm("b", 2, 10, 0, 7), vm("a", 3, 30, 5, 1), vm("c", 1, 20, 20, 9)});
  sort_vms(vms, "pid");
  EXPECT_EQ(names(vms), (std::vector<std::string>{"c", "b", "a"}));
  sort_vms(vms, "name");
  EXPECT_EQ(names(vms), (std::vector<std::string>{"a", "b", "c"}));
  sort_vms(vms, "pages");
  EXPECT_EQ(names(vms), (std::vector<std::string>{"a", "c", "b"}));
  sort_vms(vms, "shadow");
  EXPECT_EQ(names(vms), (std::vector<std::string>{"c", "a", "b"}));
  sort_vms(vms, "events");
  EXPECT_EQ(names(vms), (std::vector<std::string>{"c", "b", "a"}));
  sort_vms(vms, "tdp");  // a 25, b 10, c 0
  EXPECT_EQ(names(vms), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(CliListRender, AbsentKernelFiguresShowAsDashAndRatesAppear) {
  ojson vms = ojson::array({vm("a", 3, 30, 5, 1)});
  const std::map<std::int64_t, Rates> rates = {{30, {2.5, 100}}};
  const std::string text = render_list(vms, &rates);
  EXPECT_NE(text.find("PAGES/S  EVENTS/S"), std::string::npos) << text;
  EXPECT_NE(text.find("2.5     100.0"), std::string::npos) << text;
  // KERNEL SHADOW is absent in this document: "-".
  EXPECT_NE(text.find("  5              -"), std::string::npos) << text;
}

}  // namespace
}  // namespace tdpwatch::cli
