// core/progress.h: what a long step reports as it goes (done of total, in bytes or items) and the callback it
// reports through. The layers below the CLI report; only the CLI (or the server) decides how to show it.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace strata {

struct Progress {
  std::string_view stage;   // "loading", "synth", "bench", "profile": the line's label
  std::string_view detail;  // optional: the file or item being worked on
  uint64_t done = 0;
  uint64_t total = 0;      // 0: unknown
  bool bytes = false;      // done/total count bytes (shown with a rate and time left); else items
  bool finished = false;   // the last report of this stage
};

// May be empty (no one is listening). Called from the thread doing the work; a sink that is shared between
// threads guards itself.
using ProgressFn = std::function<void(const Progress&)>;

inline Progress bytes_progress(std::string_view stage, std::string_view detail, uint64_t done, uint64_t total,
                               bool finished = false) {
  return Progress{stage, detail, done, total, true, finished};
}
inline Progress items_progress(std::string_view stage, std::string_view detail, uint64_t done, uint64_t total,
                               bool finished = false) {
  return Progress{stage, detail, done, total, false, finished};
}

inline void report(const ProgressFn& fn, const Progress& p) {
  if (fn) fn(p);
}

}  // namespace strata
