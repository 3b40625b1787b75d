// cli/progress_line.cc: formatting a progress report and deciding when to draw it (terminal: in place at most
// ten times a second; otherwise a plain line every few seconds, none for a step shorter than that).
#include "cli/progress_line.h"

#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

#include "core/units.h"

namespace strata::cli {

namespace {
constexpr double kTerminalRedrawSeconds = 0.1;
constexpr double kDefaultPlainSeconds = 5.0;

std::string base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string duration_text(double seconds) {
  if (seconds < 60) return fmt::format("{:.0f} s", std::ceil(seconds));
  if (seconds < 3600) return fmt::format("{:.0f} min {:02.0f} s", std::floor(seconds / 60), std::fmod(seconds, 60));
  return fmt::format("{:.1f} h", seconds / 3600);
}
}  // namespace

ProgressLine::ProgressLine(const ProgressFlags& flags, bool terminal, FILE* out)
    : quiet_(flags.quiet),
      terminal_(terminal),
      interval_seconds_(flags.interval_seconds >= 0 ? flags.interval_seconds : kDefaultPlainSeconds),
      out_(out) {}

ProgressLine::ProgressLine(const ProgressFlags& flags) : ProgressLine(flags, ::isatty(::fileno(stderr)) == 1) {}

ProgressLine::~ProgressLine() { finish_line(); }

ProgressFn ProgressLine::callback() {
  if (quiet_) return {};
  return [this](const Progress& p) { report(p); };
}

void ProgressLine::finish_line() {
  std::lock_guard lock(mutex_);
  if (line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    line_open_ = false;
  }
}

std::string ProgressLine::format(const Progress& p, double elapsed) {
  std::string line(p.stage);
  if (!p.detail.empty()) line += fmt::format(" {}", base_name(p.detail));
  if (!p.bytes) {
    line += p.total ? fmt::format("  {}/{}", p.done, p.total) : fmt::format("  {}", p.done);
    if (p.finished) line += fmt::format("  done in {:.1f} s", elapsed);
    return line;
  }
  line += fmt::format("  {}", format_bytes(p.done));
  if (p.total) line += fmt::format(" / {} ({:.0f}%)", format_bytes(p.total), 100.0 * p.done / p.total);
  const double rate = elapsed > 0 ? p.done / elapsed : 0;  // bytes per second since the stage began
  if (p.finished) return line + fmt::format("  {:.2f} GB/s  done in {:.1f} s", rate / 1e9, elapsed);
  if (rate > 0) {
    line += fmt::format("  {:.2f} GB/s", rate / 1e9);
    if (p.total > p.done) line += fmt::format("  {} left", duration_text((p.total - p.done) / rate));
  }
  return line;
}

void ProgressLine::report(const Progress& p) {
  if (quiet_) return;
  // "All done" arrives twice (the last piece, then the end): draw it once, as the end.
  if (!p.finished && p.total > 0 && p.done >= p.total) return;
  std::lock_guard lock(mutex_);
  const Clock::time_point now = Clock::now();
  if (p.stage != stage_ || !drawn_) {
    if (line_open_) std::fputc('\n', out_);  // the previous stage ended without saying so
    line_open_ = false;
    if (p.stage != stage_) stage_start_ = now;
    stage_ = std::string(p.stage);
    drawn_ = false;
  }
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (terminal_) {
    if (drawn_ && !p.finished && since_draw < kTerminalRedrawSeconds) return;
  } else {
    // Plain lines: none for a step shorter than the interval (scripts keep a quiet stderr), then one per
    // interval, and the end of a step that printed.
    const double since_start = std::chrono::duration<double>(now - stage_start_).count();
    const bool due = drawn_ ? since_draw >= interval_seconds_ : since_start >= interval_seconds_;
    if (!(p.finished ? drawn_ || due : due)) {
      if (p.finished) stage_.clear();
      return;
    }
  }
  draw_locked(p, now);
  if (p.finished) {
    stage_.clear();  // the next report of the same name starts a new stage
    drawn_ = false;
  }
}

void ProgressLine::draw_locked(const Progress& p, Clock::time_point now) {
  const std::string line = format(p, std::chrono::duration<double>(now - stage_start_).count());
  if (terminal_) {
    // Carriage return and erase-line: the line is redrawn in place; the last draw ends it.
    std::fprintf(out_, "\r\x1b[K%s", line.c_str());
    line_open_ = !p.finished;
    if (p.finished) std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "strata: %s\n", line.c_str());
  }
  std::fflush(out_);
  drawn_ = true;
  last_draw_ = now;
}

}  // namespace strata::cli
