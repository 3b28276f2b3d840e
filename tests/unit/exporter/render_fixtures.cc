// Writes each fixture's rendered metrics to <dir>/<name>.prom, for
// `promtool check metrics` (promtool_check.sh).
#include <cstdio>
#include <fstream>

#include "exporter/metrics.h"
#include "tests/unit/exporter/fixtures.h"

int main(int argc, char** argv) {
  using namespace tdpwatch::exporter;
  if (argc != 2) {
    std::fprintf(stderr, "usage: exporter_render_fixtures DIR\n");
    return 2;
  }
  MetricsCollectable m(nullptr, default_collectors());
  auto all = fixtures::all();
  all.emplace_back("synthetic_20", fixtures::synthetic(20));
  for (auto& [name, snapshot] : all) {
    std::ofstream out(std::string(argv[1]) + "/" + name + ".prom");
    out << serialize(m.render(&snapshot));
    if (!out.flush()) return 1;
  }
  return 0;
}
