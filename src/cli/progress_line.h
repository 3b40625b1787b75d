// cli/progress_line.h: progress shown on stderr: one line redrawn in place on a terminal, a plain line every few
// seconds otherwise (nothing for a step that ends sooner), nothing with --quiet. stdout is never touched.
#pragma once

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "core/progress.h"

namespace strata::cli {

// --quiet and the testing aid --progress-interval, shared by every command that does long work.
struct ProgressFlags {
  bool quiet = false;
  double interval_seconds = -1;  // plain-line interval when stderr is not a terminal; < 0: the default (5 s)
};

class ProgressLine {
 public:
  // `terminal`: redraw in place (the CLI passes isatty(stderr)).
  ProgressLine(const ProgressFlags& flags, bool terminal, FILE* out = stderr);
  // From the flags and isatty(fileno(stderr)).
  explicit ProgressLine(const ProgressFlags& flags);
  ~ProgressLine();  // ends an open line so whatever is printed next starts clean
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void report(const Progress& p);
  // A callback for the engine; valid while this object lives.
  ProgressFn callback();
  // Ends an open line (before printing something else on stderr).
  void finish_line();

  // "loading model.gguf  1.2 GiB / 4.0 GiB (30%)  2.1 GB/s  1 s left" (exposed for tests).
  static std::string format(const Progress& p, double elapsed_seconds);

 private:
  using Clock = std::chrono::steady_clock;
  void draw_locked(const Progress& p, Clock::time_point now);

  const bool quiet_;
  const bool terminal_;
  const double interval_seconds_;
  FILE* const out_;
  std::mutex mutex_;  // guards everything below (reports may come from I/O threads)
  std::string stage_;            // the stage being shown
  Clock::time_point stage_start_;
  Clock::time_point last_draw_;
  bool drawn_ = false;           // this stage has drawn at least once
  bool line_open_ = false;       // a terminal line without its newline yet
};

}  // namespace strata::cli
