// `tdpwatch replay` of the committed recordings from real Debian TDP MMUs
// (tests/nested/fixtures): the documented expected state, and a damaged
// copy that still yields everything before the damage.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cli/replay_document.h"

namespace tdpwatch::cli {
namespace {

ojson replay(const std::string& name, std::optional<bool> root_release = std::nullopt) {
  ReplayOptions o;
  o.file = std::string(TDPW_FIXTURES_DIR) + "/" + name;
  o.root_release_events = root_release;
  auto doc = replay_document(o);
  EXPECT_TRUE(doc) << (doc ? "" : doc.failure().message);
  return doc ? *doc : ojson();
}

// One VM, created and destroyed, every linked table unlinked, clean teardown.
void expect_one_clean_teardown(const ojson& r) {
  EXPECT_EQ(r["schema"], kReplaySchema);
  EXPECT_TRUE(r["complete"].get<bool>());
  EXPECT_TRUE(r["error"].is_null());
  ASSERT_EQ(r["teardowns"].size(), 1u);
  const ojson& t = r["teardowns"][0];
  EXPECT_TRUE(t["clean"].get<bool>());
  EXPECT_TRUE(t["pages"].empty());
  const ojson& c = t["counts_at_teardown"];
  EXPECT_GT(c["counters"]["link_sp"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(c["counters"]["link_sp"], c["counters"]["unlink_sp"]);
  EXPECT_EQ(c["tdp_pages"]["total"], 0);
  EXPECT_TRUE(r["inconsistencies"].empty());
}

TEST(CliReplay, Debian612FentryIsOneCleanLife) {
  const ojson r = replay("fixture-6.12-fentry.tdpwrec");
  EXPECT_EQ(r["recording"]["kernel_era"], "6.2-6.14");
  EXPECT_EQ(r["recording"]["kernel_release"], "6.12.117+deb12-amd64");
  EXPECT_EQ(r["events"], 2076);
  EXPECT_TRUE(r["vms"].empty());
  expect_one_clean_teardown(r);
  const std::string text = render_replay(r);
  EXPECT_NE(text.find("No VM alive at the end of the recording."), std::string::npos) << text;
  EXPECT_NE(text.find("  clean  "), std::string::npos) << text;
}

// Recorded before root_release_events existed: as recorded, its root shows
// as leaked; replayed with --root-release-events no, the life is clean.
TEST(CliReplay, Debian61TracepointOnlyRootNeedsTheOverride) {
  const ojson as_recorded = replay("fixture-6.1-tp.tdpwrec");
  EXPECT_TRUE(as_recorded["replayed_with"]["structure_from_spte"].get<bool>());
  ASSERT_EQ(as_recorded["teardowns"].size(), 1u);
  const ojson& leak = as_recorded["teardowns"][0];
  EXPECT_FALSE(leak["clean"].get<bool>());
  EXPECT_EQ(leak["roots"], 1);
  EXPECT_EQ(leak["linked_pages"], 0);
  ASSERT_EQ(leak["pages"].size(), 1u);
  EXPECT_EQ(leak["pages"][0]["what"], "root");
  EXPECT_EQ(leak["pages"][0]["level"], 4);
  const std::string text = render_replay(as_recorded);
  EXPECT_NE(text.find("LEAK"), std::string::npos);
  EXPECT_NE(text.find("root  0x0      4  level=4 as_id=0 direct"), std::string::npos) << text;

  const ojson fixed = replay("fixture-6.1-tp.tdpwrec", false);
  EXPECT_FALSE(fixed["replayed_with"]["root_release_events"].get<bool>());
  expect_one_clean_teardown(fixed);
}

TEST(CliReplay, Debian61NxFentryTeardownIsClean) {
  const ojson r = replay("fixture-nx-6.1-fentry.tdpwrec");
  EXPECT_EQ(r["recording"]["kernel_era"], "6.1");
  EXPECT_FALSE(r["replayed_with"]["structure_from_spte"].get<bool>());
  expect_one_clean_teardown(r);
  const ojson& c = r["teardowns"][0]["counts_at_teardown"]["counters"];
  EXPECT_GT(c["nx_track"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(c["nx_track"], c["nx_untrack"]);
  // Recorded before the VM-context hooks: 6.1's NX recovery kthread changed
  // the parent SPTE of each recovered table under its own tgid.  Those events
  // are unattributed, and the kthread is no VM: one teardown, nothing alive.
  EXPECT_GT(r["unattributed_events"].get<std::uint64_t>(), 0u);
  EXPECT_TRUE(r["vms"].empty()) << r["vms"].dump();
  EXPECT_NE(render_replay(r).find("of tasks that are no VMM (unattributed)"), std::string::npos);
}

TEST(CliReplay, DamagedFileYieldsEverythingBeforeTheDamage) {
  const std::string src = std::string(TDPW_FIXTURES_DIR) + "/fixture-6.12-fentry.tdpwrec";
  const std::string path = testing::TempDir() + "/truncated.tdpwrec";
  std::filesystem::copy_file(src, path, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(path, 64 + 100 * 64 + 10);  // header, 100 records, a torn one
  ReplayOptions o;
  o.file = path;
  auto doc = replay_document(o);
  ASSERT_TRUE(doc);
  EXPECT_FALSE((*doc)["complete"].get<bool>());
  EXPECT_EQ((*doc)["events"], 100);
  EXPECT_NE((*doc)["error"].get<std::string>().find("record 100"), std::string::npos)
      << (*doc)["error"];
  EXPECT_NE(render_replay(*doc).find("file damaged"), std::string::npos);
}

TEST(CliReplay, NotARecordingIsABadFile) {
  const std::string path = testing::TempDir() + "/not-a-recording";
  std::ofstream(path) << "hello, this is not a recording\n";
  ReplayOptions o;
  o.file = path;
  auto doc = replay_document(o);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.failure().code, kExitBadFile);
  EXPECT_NE(doc.failure().message.find(path), std::string::npos) << doc.failure().message;
}

}  // namespace
}  // namespace tdpwatch::cli
