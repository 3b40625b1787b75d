// planner/plan_search.cc: finds a low-cost assignment: greedy by read density, price sweeps, local search.
//
// The decode cost is nearly linear in the bytes each tier serves, so the value of holding an item in a
// fast tier is proportional to its bytes read per token per byte held ("density": 1 for dense weights,
// k/n for experts, ~0 for an embedding); greedy in density order is the fractional-knapsack answer. A
// second start prices memory per byte (Lagrangian sweeps), weighing every item against what it
// displaces. Local search from both repairs what whole tensors, overlap (max) terms and the staging
// slot (a max over layers) break; the best result is kept. docs/planner.md describes each stage and
// tests/planner/planner_bruteforce_test.cc checks the result against exhaustive search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "planner/planner.h"

namespace strata::planner {

namespace {

// From least to most memory-hungry: the greedy starts everything at the first allowed option here.
constexpr Option kLowToHigh[] = {Option::DiskCpu, Option::DiskGpu,   Option::RamCpu, Option::RamGpu,
                                 Option::PinnedCpu, Option::PinnedGpu, Option::GpuGpu};
constexpr int kMaxRounds = 40;
constexpr size_t kSwapLimit = 64;   // pair swaps are O(n²): only on small problems
constexpr size_t kChainLimit = 48;  // ejection chains are O(n³)
constexpr size_t kDiskSwapLimit = 60000;  // streamed x held pairs tried per round on big problems

bool better(double candidate, double current) { return candidate < current - 1e-12 * std::max(1.0, current); }

class Search {
 public:
  explicit Search(const Problem& p) : p_(p), state_(p) {
    // Density order: bytes read per token per byte held, highest first; ties in execution order.
    order_.resize(p_.items.size());
    std::iota(order_.begin(), order_.end(), size_t{0});
    auto density = [&](size_t i) {
      const Item& it = p_.items[i];
      return it.decode_bytes / std::max<double>(1.0, static_cast<double>(it.size_bytes));
    };
    // Ties go role by role (every layer's q, then every layer's k, ...): what ends up streamed is then
    // spread over the layers, which keeps the staging slot (the largest layer's streamed bytes) small.
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
      const double da = density(a), db = density(b);
      if (da != db) return da > db;
      return p_.items[a].group < p_.items[b].group;
    });
    // Blocks for group moves: each layer, and each role across the layers.
    std::vector<std::vector<size_t>> by_layer(p_.n_layer + 1);
    std::map<int, std::vector<size_t>> by_role;
    for (size_t i = 0; i < p_.items.size(); ++i) {
      const int l = p_.items[i].layer;
      by_layer[l >= 0 && l < p_.n_layer ? l : p_.n_layer].push_back(i);
      by_role[p_.items[i].group].push_back(i);
    }
    for (auto& b : by_layer)
      if (b.size() >= 2) blocks_.push_back(std::move(b));
    for (auto& [group, b] : by_role)
      if (b.size() >= 2) blocks_.push_back(std::move(b));
  }

  std::vector<Option> run() {
    // Start 1: greedy fill in density order, then local search.
    start_low();
    greedy();
    local_search();
    keep_best();
    // Start 2: prices on memory (Lagrangian sweeps), then local search. Greedy by density misjudges
    // items whose alternative is far worse than their density says (an expert that would otherwise
    // stream); per-byte prices weigh every item against what it displaces.
    start_low();
    price_sweeps();
    load(best_);
    local_search();
    keep_best();
    // Start 3: caps on the staging slot. The pool holds (depth + 1) slots of the largest layer's
    // streamed bytes, a max that no single move lowers; searching under a cap spreads the streamed
    // tensors over the layers, then an uncapped pass polishes.
    const Evaluation e = evaluate_assignment(p_, best_);
    if (e.slot_bytes > 0) {
      for (double f : {0.85, 0.7, 0.55, 0.4, 0.25}) {
        slot_cap_ = f * static_cast<double>(e.slot_bytes);
        load(best_);
        local_search();
        slot_cap_ = std::numeric_limits<double>::infinity();
        cost_ = score(state_.evaluate());
        local_search();
        keep_best();
      }
    }
    // Polish the winner: streamed-for-held swaps (the packing repair on big problems), then moves.
    load(best_);
    for (int round = 0; round < kMaxRounds && p_.items.size() > kSwapLimit && disk_swaps(); ++round) local_search();
    prefer_resident();
    return state_.assignment();
  }

 private:
  // The search's objective: the true one, plus a penalty while the staging slot exceeds the cap
  // (weighted above memory overflow, so trading slot bytes for a memory overflow is progress).
  double score(const Evaluation& e) const {
    const double base = objective(e);
    if (static_cast<double>(e.slot_bytes) <= slot_cap_) return base;
    const double excess = static_cast<double>(e.slot_bytes) - slot_cap_;
    return (base < 1e6 ? 1e6 : base) + 1e6 + 10 * excess / 1e6;
  }

  void start_low() {
    for (size_t i = 0; i < p_.items.size(); ++i)
      for (Option o : kLowToHigh)
        if (p_.items[i].allowed & option_bit(o)) {
          state_.set(i, o);
          break;
        }
    cost_ = score(state_.evaluate());
  }

  void load(const std::vector<Option>& a) {
    for (size_t i = 0; i < a.size(); ++i) state_.set(i, a[i]);
    cost_ = score(state_.evaluate());
  }

  void keep_best() {
    const double c = objective(state_.evaluate());  // the true objective: no slot cap
    if (best_.empty() || c < best_cost_) {
      best_cost_ = c;
      best_ = state_.assignment();
    }
  }

  void local_search() {
    for (int round = 0; round < kMaxRounds; ++round) {
      bool improved = single_moves();
      improved |= block_moves();
      if (p_.items.size() <= kSwapLimit) improved |= pair_swaps();
      if (!improved && p_.items.size() <= kChainLimit) improved |= ejection_chains();
      if (!improved) break;
    }
  }

  // Each sweep sets every item to the option with the least time plus priced memory; prices rise on
  // a budget that overflows and decay on one with room. Every feasible state met is remembered.
  void price_sweeps() {
    const Machine& m = p_.machine;
    // Prices in seconds per byte held; they move in log space, by a factor that halves (in log terms)
    // each time the budget flips between over and under, as a bisection does.
    struct Price {
      double value = 0, factor = 8;
      int last_sign = 0;
      void update(bool over, double floor) {
        const int sign = over ? 1 : -1;
        if (last_sign != 0 && sign != last_sign) factor = std::max(1.05, std::sqrt(factor));
        last_sign = sign;
        if (over) value = value > 0 ? value * factor : floor;
        else value /= factor;
      }
    };
    const double floor = 1e-3 / std::max({m.cpu_bw, m.gpu_bw, m.disk_bw, 1.0});
    Price gpu, ram, pinned;
    const int sweeps = p_.items.size() > 256 ? 24 : 48;
    for (int sweep = 0; sweep < sweeps; ++sweep) {
      auto priced = [&](const Evaluation& e) {
        const double host = m.unified ? static_cast<double>(e.gpu_used + e.host_used) : static_cast<double>(e.host_used);
        return e.seconds + gpu.value * static_cast<double>(e.gpu_used) + ram.value * host +
               pinned.value * static_cast<double>(e.pinned_used);
      };
      for (size_t i : order_) {
        const Option begin = state_.get(i);
        Option best = begin;
        double best_value = priced(state_.evaluate());
        for (int k = 0; k < kOptionCount; ++k) {
          const Option o = static_cast<Option>(k);
          if (o == begin || !(p_.items[i].allowed & option_bit(o))) continue;
          state_.set(i, o);
          const double v = priced(state_.evaluate());
          if (v < best_value) {
            best_value = v;
            best = o;
          }
        }
        state_.set(i, best);
      }
      const Evaluation e = state_.evaluate();
      keep_best();
      gpu.update(e.gpu_over > 0, floor);
      ram.update(e.ram_over > 0, floor);
      pinned.update(e.pinned_over > 0, floor);
    }
  }

  // Tries every allowed option for item i; keeps the best. Returns true when the cost fell.
  bool best_option(size_t i) {
    const Option start = state_.get(i);
    Option best = start;
    for (int k = 0; k < kOptionCount; ++k) {
      const Option o = static_cast<Option>(k);
      if (o == start || !(p_.items[i].allowed & option_bit(o))) continue;
      state_.set(i, o);
      const double c = score(state_.evaluate());
      if (better(c, cost_)) {
        cost_ = c;
        best = o;
      }
    }
    state_.set(i, best);
    return best != start;
  }

  void greedy() {
    for (size_t i : order_) best_option(i);
  }

  bool single_moves() {
    bool any = false;
    for (size_t i = 0; i < p_.items.size(); ++i) any |= best_option(i);
    return any;
  }

  // Moves a whole block (a layer, or one role in every layer) to one option at once: escapes the
  // handoff penalty that single moves pay when only part of a layer has switched device, and moves
  // the staging slot (the largest layer's streamed bytes), which no single move can lower.
  bool block_moves() {
    bool any = false;
    std::vector<Option> saved;
    for (const auto& members : blocks_) {
      for (int k = 0; k < kOptionCount; ++k) {
        const Option o = static_cast<Option>(k);
        saved.clear();
        bool changed = false;
        for (size_t i : members) {
          saved.push_back(state_.get(i));
          if (p_.items[i].allowed & option_bit(o)) {
            changed |= state_.get(i) != o;
            state_.set(i, o);
          }
        }
        if (!changed) continue;
        const double c = score(state_.evaluate());
        if (better(c, cost_)) {
          cost_ = c;
          any = true;
        } else {
          for (size_t j = 0; j < members.size(); ++j) state_.set(members[j], saved[j]);
        }
      }
    }
    return any;
  }

  // Ejection chains, the knapsack repair for whole tensors: move one item to a hungrier option even if
  // a budget overflows, evict others (cheapest time per byte freed) until it fits, refill what was
  // freed with single moves and swaps, and keep the result only if the whole chain lowered the cost.
  bool ejection_chains() {
    bool any = false;
    const size_t n = p_.items.size();
    for (size_t i = 0; i < n; ++i) {
      for (int k = 0; k < kOptionCount; ++k) {
        const Option o = static_cast<Option>(k);
        if (o == state_.get(i) || !(p_.items[i].allowed & option_bit(o))) continue;
        const std::vector<Option> saved = state_.assignment();
        const double saved_cost = cost_;
        state_.set(i, o);
        Evaluation e = state_.evaluate();
        for (size_t step = 0; !e.feasible && step < n; ++step) {
          const double over = static_cast<double>(e.gpu_over + e.ram_over + e.pinned_over);
          size_t best_j = n;
          Option best_o = o;
          double best_score = 0;
          bool best_fits = false;
          for (size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const Option cur = state_.get(j);
            for (int kk = 0; kk < kOptionCount; ++kk) {
              const Option oj = static_cast<Option>(kk);
              if (oj == cur || !(p_.items[j].allowed & option_bit(oj))) continue;
              state_.set(j, oj);
              const Evaluation ej = state_.evaluate();
              state_.set(j, cur);
              const double freed = over - static_cast<double>(ej.gpu_over + ej.ram_over + ej.pinned_over);
              if (freed <= 0) continue;
              // Prefer a move that makes it fit (least time); otherwise the least time per byte freed.
              const double score = ej.feasible ? ej.seconds : (ej.seconds - e.seconds) / freed;
              if (best_j == n || (ej.feasible && !best_fits) || (ej.feasible == best_fits && score < best_score)) {
                best_j = j;
                best_o = oj;
                best_score = score;
                best_fits = ej.feasible;
              }
            }
          }
          if (best_j == n) break;
          state_.set(best_j, best_o);
          e = state_.evaluate();
        }
        cost_ = score(e);
        if (e.feasible) {  // refill what was freed: single moves, and swaps (a small item in for a smaller one)
          single_moves();
          if (n <= kSwapLimit) pair_swaps();
        }
        if (better(cost_, saved_cost)) {
          any = true;
        } else {
          load(saved);
          cost_ = saved_cost;
        }
      }
    }
    return any;
  }

  // On big problems, swaps only between a streamed item and a held one: the packing repair that lets
  // a large streamed tensor in by letting a smaller one out.
  bool disk_swaps() {
    std::vector<size_t> streamed, held;
    for (size_t i = 0; i < p_.items.size(); ++i)
      (option_tier(state_.get(i)) == Tier::Disk ? streamed : held).push_back(i);
    if (streamed.empty() || streamed.size() * held.size() > kDiskSwapLimit) return false;
    bool any = false;
    for (size_t i : streamed) {
      for (size_t j : held) {
        const Option oi = state_.get(i), oj = state_.get(j);
        if (option_tier(oi) != Tier::Disk || option_tier(oj) == Tier::Disk) continue;  // moved earlier
        if (!(p_.items[i].allowed & option_bit(oj)) || !(p_.items[j].allowed & option_bit(oi))) continue;
        state_.set(i, oj);
        state_.set(j, oi);
        const double c = score(state_.evaluate());
        if (better(c, cost_)) {
          cost_ = c;
          any = true;
          break;  // i is held now
        }
        state_.set(i, oi);
        state_.set(j, oj);
      }
    }
    return any;
  }

  // Exchanges the options of two items (a knapsack repair: a big tensor out, a small one in).
  bool pair_swaps() {
    bool any = false;
    const size_t n = p_.items.size();
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        const Option oi = state_.get(i), oj = state_.get(j);
        if (oi == oj || !(p_.items[i].allowed & option_bit(oj)) || !(p_.items[j].allowed & option_bit(oi))) continue;
        state_.set(i, oj);
        state_.set(j, oi);
        const double c = score(state_.evaluate());
        if (better(c, cost_)) {
          cost_ = c;
          any = true;
        } else {
          state_.set(i, oi);
          state_.set(j, oj);
        }
      }
    }
    return any;
  }

  // Ties go to the faster tier: a tensor that can be held closer to where it is computed at no extra
  // predicted cost is moved there (a cache covering every streamed or copied slice costs the same as
  // holding them, but adds a pool, copies and risk).
  void prefer_resident() {
    constexpr Option kCloser[] = {Option::GpuGpu, Option::PinnedGpu, Option::RamGpu, Option::RamCpu};
    auto rank = [](Option o) {
      switch (option_tier(o)) {
        case Tier::Gpu: return 3;
        case Tier::PinnedRam: return 2;
        case Tier::Ram: return 1;
        case Tier::Disk: return 0;
      }
      return 0;
    };
    for (size_t i = 0; i < p_.items.size(); ++i) {
      const Option start = state_.get(i);
      for (Option o : kCloser) {
        if (rank(o) <= rank(start) || !(p_.items[i].allowed & option_bit(o))) continue;
        state_.set(i, o);
        const double c = objective(state_.evaluate());
        if (c <= cost_ * (1 + 1e-12)) {
          cost_ = std::min(cost_, c);
          break;
        }
        state_.set(i, start);
      }
    }
  }

  const Problem& p_;
  CostState state_;
  std::vector<size_t> order_;
  std::vector<std::vector<size_t>> blocks_;
  double cost_ = 0;
  std::vector<Option> best_;
  double best_cost_ = 0;
  double slot_cap_ = std::numeric_limits<double>::infinity();
};

}  // namespace

std::vector<Option> search_assignment(const Problem& problem) { return Search(problem).run(); }

}  // namespace strata::planner
