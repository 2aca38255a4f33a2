// Tests for the /proc parsing behind the process_* metrics: sample files as Linux writes them,
// malformed ones, and a read of this test's own /proc/self.
#include "http/process_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "http/metrics.h"

namespace cl::http {
namespace {

// A real line of /proc/<pid>/stat, its command name holding a space and a ')'.
constexpr std::string_view kStat =
    "4242 (chain loop) x) S 1 4242 4242 0 -1 4194560 2385 0 12 0 731 269 0 0 20 0 9 0 "
    "123456 734003200 5120 18446744073709551615 1 1 0 0 0 0 0 4096 17131 0 0 0 17 1 0 0 0 0 0 "
    "0 0 0 0 0 0 0 0\n";

TEST(ProcessMetricsTest, ParsesStatAfterTheLastParenthesis) {
  auto s = ParseProcStat(kStat);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->utime_ticks, 731u);
  EXPECT_EQ(s->stime_ticks, 269u);
  EXPECT_EQ(s->start_ticks, 123456u);
  EXPECT_EQ(s->vsize_bytes, 734003200u);
  EXPECT_EQ(s->rss_pages, 5120);
}

TEST(ProcessMetricsTest, RefusesMalformedStat) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("4242 (no closing parenthesis S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("4242 (short) S 1 2 3 4 5\n").has_value());
  EXPECT_FALSE(
      ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0 0 20 0 1 0 5 6 7\n").has_value());
}

TEST(ProcessMetricsTest, ParsesBootTime) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1765000000\nprocesses 9\n"), 1765000000);
  EXPECT_FALSE(ParseBootTime("cpu  1 2 3\n").has_value());
  EXPECT_FALSE(ParseBootTime("btime soon\n").has_value());
}

TEST(ProcessMetricsTest, ParsesTheSoftOpenFilesLimit) {
  constexpr std::string_view kLimits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n"
      "Max locked memory         8388608              8388608              bytes     \n";
  EXPECT_EQ(ParseMaxOpenFiles(kLimits), 1024);
  EXPECT_FALSE(ParseMaxOpenFiles("Max open files            unlimited   unlimited  files\n"));
  EXPECT_FALSE(ParseMaxOpenFiles("Max cpu time 1 1 seconds\n"));
}

TEST(ProcessMetricsTest, ReadsAFakeProcTree) {
  const auto root =
      std::filesystem::temp_directory_path() / ("cl_proc_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "self" / "fd");
  std::ofstream(root / "self" / "stat") << kStat;
  std::ofstream(root / "stat") << "cpu 1\nbtime 1765000000\n";
  std::ofstream(root / "self" / "limits") << "Max open files  2048  4096  files\n";
  for (const char* fd : {"0", "1", "2", "3"}) std::ofstream(root / "self" / "fd" / fd) << "";
  auto s = ReadProcessSample(root.string());
  std::filesystem::remove_all(root);
  ASSERT_TRUE(s.has_value());
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 1000 / ticks);
  EXPECT_DOUBLE_EQ(s->resident_memory_bytes, 5120.0 * ::sysconf(_SC_PAGESIZE));
  EXPECT_DOUBLE_EQ(s->virtual_memory_bytes, 734003200);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1765000000 + 123456 / ticks);
  EXPECT_EQ(s->max_fds, 2048);
  // Four entries, less the one a real listing of /proc/self/fd opens itself.
  EXPECT_EQ(s->open_fds, 3);
}

TEST(ProcessMetricsTest, NothingWithoutProc) {
  EXPECT_FALSE(ReadProcessSample("/nonexistent-proc-root").has_value());
}

TEST(ProcessMetricsTest, ThisProcessIsPublished) {
  // The descriptor count follows a descriptor this test opens.
  auto before = ReadProcessSample();
  ASSERT_TRUE(before.has_value());
  FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  auto during = ReadProcessSample();
  std::fclose(f);
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->open_fds, before->open_fds + 1);
  EXPECT_GT(during->resident_memory_bytes, 0);
  EXPECT_GT(during->max_fds, 0);
  EXPECT_GT(during->start_time_seconds, 1.7e9);

  Metrics m;
  PublishProcessMetrics(m);
  const std::string out = m.RenderPrometheus();
  for (const char* family :
       {"# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n"}) {
    EXPECT_NE(out.find(family), std::string::npos) << family << out;
  }
}

}  // namespace
}  // namespace cl::http
