// tests/cli/progress_cli_test.cc: progress on stderr. Under a pseudo-terminal (`script`, with stdout sent to a
// file) the loading line is redrawn in place and ends with a newline; without a terminal stderr gets plain
// lines and stdout only the generated text; --quiet prints none.
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cli/progress_line.h"
#include "support/test_support.h"

namespace strata {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// A model of ~20 MB: its load is read in several chunks, so progress has several reports.
const std::string& model_path() {
  static const std::string path = [] {
    const std::string p = testing::temp_dir() + "/progress-model.gguf";
    auto r = testing::run_command(testing::strata_binary() +
                                  " synth " + p + " --layers 6 --dim 256 --vocab 512 --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return p;
  }();
  return path;
}

const char* kRunArgs = " run MODEL -p 'Once upon a time' -n 8 --temp 0 --seed 1 --threads 1";

std::string run_args() {
  std::string a = kRunArgs;
  a.replace(a.find("MODEL"), 5, model_path());
  return a;
}

TEST(ProgressCli, TerminalRedrawsTheLineInPlaceAndEndsItClean) {
  if (testing::run_command("command -v script").exit_code != 0) GTEST_SKIP() << "no `script` (util-linux)";
  const std::string dir = testing::temp_dir();
  // stderr is the pseudo-terminal (recorded in the typescript); stdout goes to a file.
  const std::string inner = testing::strata_binary() + run_args() + " > " + dir + "/pty.out";
  auto r = testing::run_command("script -q -e -c \"" + inner + "\" " + dir + "/pty.typescript < /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ts = read_all(dir + "/pty.typescript");
  // Each draw returns to the line's start and erases it; the line is drawn at least twice (start and end).
  const std::string redraw = "\r\x1b[Kloading progress-model.gguf";
  EXPECT_GE(count(ts, redraw), 2) << ts;
  // The last draw says it is done and ends the line (the terminal turns \n into \r\n) before anything else.
  const size_t last = ts.rfind(redraw);
  ASSERT_NE(last, std::string::npos);
  const size_t eol = ts.find("\r\n", last);
  ASSERT_NE(eol, std::string::npos);
  const std::string final_line = ts.substr(last + 4, eol - last - 4);
  EXPECT_NE(final_line.find("done in"), std::string::npos) << final_line;
  EXPECT_NE(final_line.find("100%"), std::string::npos) << final_line;
  EXPECT_EQ(final_line.find('\r'), std::string::npos) << "nothing else drawn over the final line: " << final_line;
  EXPECT_NE(ts.find("strata: load ", eol), std::string::npos) << "the run's report follows on its own line";
  // stdout has the text only.
  const std::string out = read_all(dir + "/pty.out");
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.find("\x1b[K"), std::string::npos);
  EXPECT_EQ(out.find("loading"), std::string::npos);
}

TEST(ProgressCli, WithoutTerminalPlainLinesOnStderrAndTextOnStdout) {
  // --progress-interval 0: a line per report (the default is one every 5 s), so a fast load shows them all.
  auto r = testing::run_command(testing::strata_binary() + run_args() + " --progress-interval 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> percents;
  std::istringstream lines(r.err);
  const std::regex loading(R"(^strata: loading progress-model\.gguf  .* \((\d+)%\).*)");
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find('\r'), std::string::npos) << "no carriage returns without a terminal";
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << "no escape sequences without a terminal";
    std::smatch m;
    if (std::regex_match(line, m, loading)) percents.push_back(std::stoull(m[1]));
  }
  ASSERT_GE(percents.size(), 3u) << r.err;
  for (size_t i = 1; i < percents.size(); ++i) EXPECT_GE(percents[i], percents[i - 1]);
  EXPECT_EQ(percents.front(), 0u);
  EXPECT_EQ(percents.back(), 100u);
  EXPECT_NE(r.err.find("done in"), std::string::npos);
  // stdout: exactly the text a quiet run prints.
  auto quiet = testing::run_command(testing::strata_binary() + run_args() + " --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(r.out, quiet.out);
  EXPECT_EQ(quiet.err.find("loading"), std::string::npos) << quiet.err;
  EXPECT_EQ(r.out.find("loading"), std::string::npos);
}

TEST(ProgressCli, AStepShorterThanTheIntervalPrintsNoPlainLines) {
  auto r = testing::run_command(testing::strata_binary() + run_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.err, "loading"), 0) << r.err;
}

TEST(ProgressLine, PlainLinesComeOncePerIntervalAndEndWhatTheyStarted) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  {
    cli::ProgressFlags flags;
    flags.interval_seconds = 0.05;
    cli::ProgressLine line(flags, /*terminal=*/false, mem);
    line.report(bytes_progress("loading", "a.gguf", 0, 100));  // too early: nothing
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    line.report(bytes_progress("loading", "a.gguf", 40, 100));  // due
    line.report(bytes_progress("loading", "a.gguf", 50, 100));  // too soon after the last
    line.report(bytes_progress("loading", "a.gguf", 100, 100, /*finished=*/true));  // ends what printed
    line.report(bytes_progress("synth", "b.gguf", 100, 100, /*finished=*/true));    // short: nothing
  }
  std::fclose(mem);
  const std::string drawn(buf, len);
  std::free(buf);
  EXPECT_EQ(count(drawn, "\n"), 2) << drawn;
  EXPECT_NE(drawn.find("strata: loading a.gguf  40 B / 100 B (40%)"), std::string::npos) << drawn;
  EXPECT_NE(drawn.find("done in"), std::string::npos) << drawn;
  EXPECT_EQ(drawn.find("synth"), std::string::npos) << drawn;
}

TEST(ProgressLine, FormatsBytesWithRateAndTimeLeft) {
  Progress p = bytes_progress("loading", "/models/big.gguf", 1ull << 30, 4ull << 30);
  const std::string s = cli::ProgressLine::format(p, 0.5);
  EXPECT_EQ(s, "loading big.gguf  1.00 GiB / 4.00 GiB (25%)  2.15 GB/s  2 s left");
  p.done = p.total;
  p.finished = true;
  EXPECT_EQ(cli::ProgressLine::format(p, 2.0), "loading big.gguf  4.00 GiB / 4.00 GiB (100%)  2.15 GB/s  done in 2.0 s");
  EXPECT_EQ(cli::ProgressLine::format(items_progress("bench", "repetition", 2, 5), 1.0), "bench repetition  2/5");
}

TEST(ProgressLine, TerminalModeRedrawsAndQuietPrintsNothing) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  {
    cli::ProgressLine line(cli::ProgressFlags{}, /*terminal=*/true, mem);
    line.report(bytes_progress("synth", "", 0, 100));
    line.report(bytes_progress("synth", "", 100, 100, /*finished=*/true));
  }
  std::fclose(mem);
  const std::string drawn(buf, len);
  std::free(buf);
  EXPECT_EQ(count(drawn, "\r\x1b[Ksynth"), 2) << drawn;
  EXPECT_EQ(drawn.back(), '\n');

  cli::ProgressFlags quiet;
  quiet.quiet = true;
  cli::ProgressLine silent(quiet, true, stderr);
  EXPECT_FALSE(static_cast<bool>(silent.callback()));
}

}  // namespace
}  // namespace strata
