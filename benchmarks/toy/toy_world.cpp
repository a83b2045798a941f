// Toy task templates and their generation (see toy_world.h for the design).
#include "benchmarks/toy/toy_world.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "common/hash.h"

namespace dstc::toy {

// ---- values ---------------------------------------------------------------------------

Value Value::of_int(int64_t v) {
  Value x;
  x.kind = Kind::kInt;
  x.i = v;
  return x;
}
Value Value::of_bool(bool v) {
  Value x;
  x.kind = Kind::kBool;
  x.i = v;
  return x;
}
Value Value::of_str(std::string v) {
  Value x;
  x.kind = Kind::kStr;
  x.s = std::move(v);
  return x;
}
Value Value::of_list(std::vector<int64_t> v) {
  Value x;
  x.kind = Kind::kList;
  x.list = std::move(v);
  return x;
}

std::string Value::repr() const {
  switch (kind) {
    case Kind::kInt:
      return std::to_string(i);
    case Kind::kBool:
      return i ? "True" : "False";
    case Kind::kStr:
      return "'" + s + "'";
    case Kind::kList: {
      std::string out = "[";
      for (size_t n = 0; n < list.size(); ++n) {
        if (n) out += ", ";
        out += std::to_string(list[n]);
      }
      return out + "]";
    }
  }
  return "?";
}

std::string_view split_name(Split split) {
  switch (split) {
    case Split::kPretrain:
      return "pretrain";
    case Split::kTrain:
      return "train";
    case Split::kEval:
      return "eval";
  }
  return "?";
}

Result<Split> parse_split(std::string_view name) {
  for (Split s : {Split::kPretrain, Split::kTrain, Split::kEval})
    if (split_name(s) == name) return s;
  return fail(ErrorCode::kInvalidArgument,
              "unknown split '" + std::string(name) + "'; choose pretrain, train or eval");
}

namespace {

// SplitMix64 (Steele, Lea, Flood 2014): the same numbers on every platform and compiler,
// unlike std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return (next() >> 11) * (1.0 / 9007199254740992.0) < p; }

 private:
  uint64_t state_;
};

int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
int64_t py_floordiv(int64_t a, int64_t b) { return (a - py_mod(a, b)) / b; }

// Letters for string inputs come from a small alphabet so a char-level or BPE model sees
// each often; punctuation for separators never needs escaping in a repr.
std::string letter(int64_t p) { return std::string(1, static_cast<char>('a' + py_mod(p, 26))); }
constexpr std::string_view kSeps = "-+.:*#@!=";
std::string sep(int64_t p) {
  return std::string(1, kSeps[py_mod(p, static_cast<int64_t>(kSeps.size()))]);
}
std::string word(Rng& rng, int64_t min_len, int64_t max_len, int letters) {
  std::string s;
  for (int64_t n = rng.uniform(min_len, max_len); n > 0; --n)
    s += static_cast<char>('a' + rng.uniform(0, letters - 1));
  return s;
}
std::vector<int64_t> ints(Rng& rng, int64_t min_len, int64_t max_len, int64_t lo, int64_t hi) {
  std::vector<int64_t> v;
  for (int64_t n = rng.uniform(min_len, max_len); n > 0; --n) v.push_back(rng.uniform(lo, hi));
  return v;
}
std::string num(int64_t v) { return std::to_string(v); }

using P = std::vector<int64_t>;
using Args = std::vector<Value>;

struct Template {
  std::string name;
  std::string category;
  std::string args;  // parameter list of the signature
  std::function<P(Rng&)> params;
  std::function<std::string(const P&)> statement;  // one docstring sentence
  std::function<std::string(const P&)> body;       // indented body lines, each ending "\n"
  std::function<Args(Rng&, const P&)> input;
  std::function<Value(const P&, const Args&)> eval;
};

Value I(int64_t v) { return Value::of_int(v); }
Value B(bool v) { return Value::of_bool(v); }
Value S(std::string v) { return Value::of_str(std::move(v)); }
Value L(std::vector<int64_t> v) { return Value::of_list(std::move(v)); }

std::vector<Template> make_templates() {
  std::vector<Template> t;
  // ---- arithmetic ----
  t.push_back(
      {"affine", "arithmetic", "x",
       [](Rng& r) {
         return P{r.uniform(2, 9), r.uniform(1, 20)};
       },
       [](const P& p) { return "Return x times " + num(p[0]) + " plus " + num(p[1]) + "."; },
       [](const P& p) { return "    return x * " + num(p[0]) + " + " + num(p[1]) + "\n"; },
       [](Rng& r, const P&) { return Args{I(r.uniform(-10, 10))}; },
       [](const P& p, const Args& a) { return I(a[0].i * p[0] + p[1]); }});
  t.push_back(
      {"sub_mul", "arithmetic", "x",
       [](Rng& r) {
         return P{r.uniform(1, 9), r.uniform(2, 5)};
       },
       [](const P& p) { return "Return x minus " + num(p[0]) + ", times " + num(p[1]) + "."; },
       [](const P& p) { return "    return (x - " + num(p[0]) + ") * " + num(p[1]) + "\n"; },
       [](Rng& r, const P&) { return Args{I(r.uniform(0, 15))}; },
       [](const P& p, const Args& a) { return I((a[0].i - p[0]) * p[1]); }});
  t.push_back({"floor_div", "arithmetic", "x",
               [](Rng& r) {
                 return P{r.uniform(2, 9), r.uniform(0, 9)};
               },
               [](const P& p) {
                 return "Return x divided by " + num(p[0]) + ", rounded down, plus " + num(p[1]) +
                        ".";
               },
               [](const P& p) { return "    return x // " + num(p[0]) + " + " + num(p[1]) + "\n"; },
               [](Rng& r, const P&) { return Args{I(r.uniform(0, 60))}; },
               [](const P& p, const Args& a) { return I(py_floordiv(a[0].i, p[0]) + p[1]); }});
  t.push_back(
      {"sum_to", "arithmetic", "n", [](Rng& r) { return P{r.uniform(0, 9)}; },
       [](const P& p) { return "Return the sum of the integers from " + num(p[0]) + " to n."; },
       [](const P& p) { return "    return sum(range(" + num(p[0]) + ", n + 1))\n"; },
       [](Rng& r, const P& p) { return Args{I(r.uniform(p[0], p[0] + 15))}; },
       [](const P& p, const Args& a) {
         int64_t s = 0;
         for (int64_t v = p[0]; v <= a[0].i; ++v) s += v;
         return I(s);
       }});
  t.push_back(
      {"digit_sum", "arithmetic", "n", [](Rng& r) { return P{r.uniform(0, 9)}; },
       [](const P& p) { return "Return the sum of the digits of n, plus " + num(p[0]) + "."; },
       [](const P& p) { return "    return sum(int(d) for d in str(n)) + " + num(p[0]) + "\n"; },
       [](Rng& r, const P&) { return Args{I(r.uniform(0, 999))}; },
       [](const P& p, const Args& a) {
         int64_t s = 0;
         for (char c : std::to_string(a[0].i)) s += c - '0';
         return I(s + p[0]);
       }});
  t.push_back({"square_add", "arithmetic", "x", [](Rng& r) { return P{r.uniform(1, 20)}; },
               [](const P& p) { return "Return the square of x plus " + num(p[0]) + "."; },
               [](const P& p) { return "    return x * x + " + num(p[0]) + "\n"; },
               [](Rng& r, const P&) { return Args{I(r.uniform(-9, 9))}; },
               [](const P& p, const Args& a) { return I(a[0].i * a[0].i + p[0]); }});
  // ---- conditionals ----
  t.push_back(
      {"clamp", "conditional", "x",
       [](Rng& r) {
         int64_t lo = r.uniform(-10, 5);
         return P{lo, lo + r.uniform(2, 15)};
       },
       [](const P& p) {
         return "Return x limited to the range " + num(p[0]) + " to " + num(p[1]) + ".";
       },
       [](const P& p) { return "    return min(max(x, " + num(p[0]) + "), " + num(p[1]) + ")\n"; },
       [](Rng& r, const P& p) {
         // A third of the inputs sit on or next to a bound, so that examples and hidden
         // tests tell off-by-one bounds apart.
         if (r.chance(0.33)) return Args{I(p[r.uniform(0, 1)] + r.uniform(-1, 1))};
         return Args{I(r.uniform(p[0] - 10, p[1] + 10))};
       },
       [](const P& p, const Args& a) { return I(std::min(std::max(a[0].i, p[0]), p[1])); }});
  t.push_back({"sign_map", "conditional", "x",
               [](Rng& r) {
                 return P{r.uniform(1, 9), r.uniform(1, 9)};
               },
               [](const P& p) {
                 return "Return " + num(p[0]) + " if x is positive, -" + num(p[1]) +
                        " if x is negative, and 0 otherwise.";
               },
               [](const P& p) {
                 return "    if x > 0:\n        return " + num(p[0]) +
                        "\n    if x < 0:\n        return -" + num(p[1]) + "\n    return 0\n";
               },
               [](Rng& r, const P&) { return Args{I(r.chance(0.2) ? 0 : r.uniform(-20, 20))}; },
               [](const P& p, const Args& a) {
                 return I(a[0].i > 0 ? p[0] : a[0].i < 0 ? -p[1] : 0);
               }});
  t.push_back(
      {"is_multiple", "conditional", "x",
       [](Rng& r) {
         return P{r.uniform(2, 9), r.uniform(0, 9)};
       },
       [](const P& p) {
         return "Return True if x plus " + num(p[1]) + " is a multiple of " + num(p[0]) + ".";
       },
       [](const P& p) { return "    return (x + " + num(p[1]) + ") % " + num(p[0]) + " == 0\n"; },
       [](Rng& r, const P& p) {
         if (r.chance(0.5)) {  // balance True and False
           int64_t x = p[0] * r.uniform(1, 6) - p[1];
           return Args{I(std::max<int64_t>(x, 0))};
         }
         return Args{I(r.uniform(0, 40))};
       },
       [](const P& p, const Args& a) { return B(py_mod(a[0].i + p[1], p[0]) == 0); }});
  t.push_back(
      {"in_range", "conditional", "x",
       [](Rng& r) {
         int64_t lo = r.uniform(-5, 10);
         return P{lo, lo + r.uniform(1, 10)};
       },
       [](const P& p) {
         return "Return True if x is between " + num(p[0]) + " and " + num(p[1]) + ", inclusive.";
       },
       [](const P& p) { return "    return " + num(p[0]) + " <= x <= " + num(p[1]) + "\n"; },
       [](Rng& r, const P& p) {
         if (r.chance(0.33)) return Args{I(p[r.uniform(0, 1)] + r.uniform(-1, 1))};
         return Args{I(r.chance(0.5) ? r.uniform(p[0], p[1]) : r.uniform(p[0] - 6, p[1] + 6))};
       },
       [](const P& p, const Args& a) { return B(p[0] <= a[0].i && a[0].i <= p[1]); }});
  t.push_back({"max_plus", "conditional", "x, y", [](Rng& r) { return P{r.uniform(1, 20)}; },
               [](const P& p) { return "Return the larger of x and y, plus " + num(p[0]) + "."; },
               [](const P& p) { return "    return max(x, y) + " + num(p[0]) + "\n"; },
               [](Rng& r, const P&) {
                 return Args{I(r.uniform(-20, 20)), I(r.uniform(-20, 20))};
               },
               [](const P& p, const Args& a) { return I(std::max(a[0].i, a[1].i) + p[0]); }});
  t.push_back({"abs_diff", "conditional", "x, y", [](Rng& r) { return P{r.uniform(1, 5)}; },
               [](const P& p) {
                 return "Return the absolute difference of x and y, times " + num(p[0]) + ".";
               },
               [](const P& p) { return "    return abs(x - y) * " + num(p[0]) + "\n"; },
               [](Rng& r, const P&) {
                 return Args{I(r.uniform(0, 20)), I(r.uniform(0, 20))};
               },
               [](const P& p, const Args& a) {
                 return I((a[0].i > a[1].i ? a[0].i - a[1].i : a[1].i - a[0].i) * p[0]);
               }});
  // ---- strings ----
  t.push_back(
      {"repeat_join", "string", "s",
       [](Rng& r) {
         return P{r.uniform(0, 8), r.uniform(2, 4)};
       },
       [](const P& p) {
         return "Return " + num(p[1]) + " copies of s joined by '" + sep(p[0]) + "'.";
       },
       [](const P& p) { return "    return '" + sep(p[0]) + "'.join([s] * " + num(p[1]) + ")\n"; },
       [](Rng& r, const P&) { return Args{S(word(r, 1, 3, 8))}; },
       [](const P& p, const Args& a) {
         std::string out;
         for (int64_t n = 0; n < p[1]; ++n) out += (n ? sep(p[0]) : "") + a[0].s;
         return S(out);
       }});
  t.push_back(
      {"wrap", "string", "s",
       [](Rng& r) {
         return P{r.uniform(0, 8), r.uniform(0, 8)};
       },
       [](const P& p) {
         return "Return s with '" + sep(p[0]) + "' added at the start and '" + sep(p[1]) +
                "' at the end.";
       },
       [](const P& p) { return "    return '" + sep(p[0]) + "' + s + '" + sep(p[1]) + "'\n"; },
       [](Rng& r, const P&) { return Args{S(word(r, 0, 4, 8))}; },
       [](const P& p, const Args& a) { return S(sep(p[0]) + a[0].s + sep(p[1])); }});
  t.push_back(
      {"count_char", "string", "s", [](Rng& r) { return P{r.uniform(0, 5)}; },
       [](const P& p) { return "Return how many times '" + letter(p[0]) + "' appears in s."; },
       [](const P& p) { return "    return s.count('" + letter(p[0]) + "')\n"; },
       [](Rng& r, const P&) { return Args{S(word(r, 2, 8, 6))}; },
       [](const P& p, const Args& a) {
         return I(std::count(a[0].s.begin(), a[0].s.end(), letter(p[0])[0]));
       }});
  t.push_back({"first_n", "string", "s", [](Rng& r) { return P{r.uniform(1, 4)}; },
               [](const P& p) { return "Return the first " + num(p[0]) + " characters of s."; },
               [](const P& p) { return "    return s[:" + num(p[0]) + "]\n"; },
               [](Rng& r, const P&) { return Args{S(word(r, 0, 7, 8))}; },
               [](const P& p, const Args& a) {
                 return S(a[0].s.substr(0, static_cast<size_t>(std::max<int64_t>(p[0], 0))));
               }});
  t.push_back({"replace_char", "string", "s",
               [](Rng& r) {
                 int64_t c = r.uniform(0, 5);
                 return P{c, (c + r.uniform(1, 5)) % 6};
               },
               [](const P& p) {
                 return "Return s with every '" + letter(p[0]) + "' replaced by '" + letter(p[1]) +
                        "'.";
               },
               [](const P& p) {
                 return "    return s.replace('" + letter(p[0]) + "', '" + letter(p[1]) + "')\n";
               },
               [](Rng& r, const P&) { return Args{S(word(r, 2, 6, 6))}; },
               [](const P& p, const Args& a) {
                 std::string s = a[0].s;
                 for (char& c : s)
                   if (c == letter(p[0])[0]) c = letter(p[1])[0];
                 return S(s);
               }});
  t.push_back({"ends_with", "string", "s",
               [](Rng& r) {
                 return P{r.uniform(0, 5), r.uniform(1, 4)};
               },
               [](const P& p) {
                 return "Return True if s ends with '" + letter(p[0]) + "' and is longer than " +
                        num(p[1]) + " characters.";
               },
               [](const P& p) {
                 return "    return s.endswith('" + letter(p[0]) + "') and len(s) > " + num(p[1]) +
                        "\n";
               },
               [](Rng& r, const P& p) {
                 std::string s = r.chance(0.4) ? word(r, p[1] - 1, p[1], 6) : word(r, 0, 6, 6);
                 if (r.chance(0.5)) s += letter(p[0]);
                 return Args{S(s)};
               },
               [](const P& p, const Args& a) {
                 const std::string& s = a[0].s;
                 return B(!s.empty() && s.back() == letter(p[0])[0] &&
                          static_cast<int64_t>(s.size()) > p[1]);
               }});
  t.push_back({"rev_add", "string", "s", [](Rng& r) { return P{r.uniform(0, 8)}; },
               [](const P& p) { return "Return s reversed, followed by '" + sep(p[0]) + "'."; },
               [](const P& p) { return "    return s[::-1] + '" + sep(p[0]) + "'\n"; },
               [](Rng& r, const P&) { return Args{S(word(r, 1, 5, 8))}; },
               [](const P& p, const Args& a) {
                 return S(std::string(a[0].s.rbegin(), a[0].s.rend()) + sep(p[0]));
               }});
  // ---- lists ----
  t.push_back({"add_each", "list", "xs", [](Rng& r) { return P{r.uniform(1, 9)}; },
               [](const P& p) {
                 return "Return a list with " + num(p[0]) + " added to each element of xs.";
               },
               [](const P& p) { return "    return [x + " + num(p[0]) + " for x in xs]\n"; },
               [](Rng& r, const P&) { return Args{L(ints(r, 0, 4, 0, 9))}; },
               [](const P& p, const Args& a) {
                 auto v = a[0].list;
                 for (auto& x : v) x += p[0];
                 return L(v);
               }});
  t.push_back(
      {"count_gt", "list", "xs", [](Rng& r) { return P{r.uniform(0, 9)}; },
       [](const P& p) {
         return "Return how many elements of xs are greater than " + num(p[0]) + ".";
       },
       [](const P& p) { return "    return len([x for x in xs if x > " + num(p[0]) + "])\n"; },
       [](Rng& r, const P& p) {
         auto v = ints(r, 0, 6, 0, 12);  // the threshold itself is a likely off-by-one
         if (!v.empty() && r.chance(0.5)) v[r.uniform(0, v.size() - 1)] = p[0];
         return Args{L(v)};
       },
       [](const P& p, const Args& a) {
         return I(std::count_if(a[0].list.begin(), a[0].list.end(),
                                [&](int64_t x) { return x > p[0]; }));
       }});
  t.push_back(
      {"keep_lt", "list", "xs", [](Rng& r) { return P{r.uniform(1, 9)}; },
       [](const P& p) { return "Return the elements of xs that are less than " + num(p[0]) + "."; },
       [](const P& p) { return "    return [x for x in xs if x < " + num(p[0]) + "]\n"; },
       [](Rng& r, const P& p) {
         auto v = ints(r, 0, 5, 0, 12);  // the threshold itself is a likely off-by-one
         if (!v.empty() && r.chance(0.5)) v[r.uniform(0, v.size() - 1)] = p[0];
         return Args{L(v)};
       },
       [](const P& p, const Args& a) {
         std::vector<int64_t> v;
         for (auto x : a[0].list)
           if (x < p[0]) v.push_back(x);
         return L(v);
       }});
  t.push_back(
      {"max_add", "list", "xs", [](Rng& r) { return P{r.uniform(1, 20)}; },
       [](const P& p) { return "Return the largest element of xs plus " + num(p[0]) + "."; },
       [](const P& p) { return "    return max(xs) + " + num(p[0]) + "\n"; },
       [](Rng& r, const P&) { return Args{L(ints(r, 1, 5, -9, 20))}; },
       [](const P& p, const Args& a) {
         return I(*std::max_element(a[0].list.begin(), a[0].list.end()) + p[0]);
       }});
  t.push_back(
      {"sum_first", "list", "xs", [](Rng& r) { return P{r.uniform(1, 4)}; },
       [](const P& p) { return "Return the sum of the first " + num(p[0]) + " elements of xs."; },
       [](const P& p) { return "    return sum(xs[:" + num(p[0]) + "])\n"; },
       [](Rng& r, const P&) { return Args{L(ints(r, 0, 6, 0, 9))}; },
       [](const P& p, const Args& a) {
         int64_t s = 0;
         for (size_t n = 0; n < a[0].list.size() && static_cast<int64_t>(n) < p[0]; ++n)
           s += a[0].list[n];
         return I(s);
       }});
  t.push_back({"has_value", "list", "xs", [](Rng& r) { return P{r.uniform(0, 9)}; },
               [](const P& p) { return "Return True if " + num(p[0]) + " is in xs."; },
               [](const P& p) { return "    return " + num(p[0]) + " in xs\n"; },
               [](Rng& r, const P& p) {
                 auto v = ints(r, 0, 5, 0, 9);
                 if (r.chance(0.4)) v.insert(v.begin() + r.uniform(0, v.size()), p[0]);
                 return Args{L(v)};
               },
               [](const P& p, const Args& a) {
                 return B(std::find(a[0].list.begin(), a[0].list.end(), p[0]) != a[0].list.end());
               }});
  t.push_back(
      {"scale", "list", "xs", [](Rng& r) { return P{r.uniform(2, 5)}; },
       [](const P& p) { return "Return a list of the elements of xs times " + num(p[0]) + "."; },
       [](const P& p) { return "    return [x * " + num(p[0]) + " for x in xs]\n"; },
       [](Rng& r, const P&) { return Args{L(ints(r, 0, 4, -5, 9))}; },
       [](const P& p, const Args& a) {
         auto v = a[0].list;
         for (auto& x : v) x *= p[0];
         return L(v);
       }});
  return t;
}

// A plausible wrong body per template: the kind of slip a code model picks up from noisy
// training code (an off-by-one, swapped arguments, a missing step). The SFT data may use
// it instead of the canonical body at a per-template rate (`dstc toy export --bug-rates`),
// which gives the base model systematic, template-level mistakes that its own samples
// sometimes avoid: the headroom DSTC can recover. Every bug changes the result on most
// inputs, so the docstring examples and the hidden tests usually expose it. Templates
// whose natural slips only show at a boundary (in_range, count_char, has_value) have none.
const std::map<std::string, std::function<std::string(const P&)>>& bug_bodies() {
  static const std::map<std::string, std::function<std::string(const P&)>> bugs = {
      {"affine",
       [](const P& p) { return "    return (x + " + num(p[1]) + ") * " + num(p[0]) + "\n"; }},
      {"sub_mul",
       [](const P& p) { return "    return x - " + num(p[0]) + " * " + num(p[1]) + "\n"; }},
      {"floor_div",
       [](const P& p) { return "    return x // (" + num(p[0]) + " + " + num(p[1]) + ")\n"; }},
      {"sum_to", [](const P& p) { return "    return sum(range(" + num(p[0]) + ", n))\n"; }},
      {"digit_sum", [](const P& p) { return "    return len(str(n)) + " + num(p[0]) + "\n"; }},
      {"square_add", [](const P& p) { return "    return x * 2 + " + num(p[0]) + "\n"; }},
      {"clamp",
       [](const P& p) { return "    return max(min(x, " + num(p[0]) + "), " + num(p[1]) + ")\n"; }},
      {"sign_map",
       [](const P& p) {
         return "    if x > 0:\n        return " + num(p[0]) + "\n    if x < 0:\n        return " +
                num(p[1]) + "\n    return 0\n";
       }},
      {"is_multiple",
       [](const P& p) { return "    return x + " + num(p[1]) + " % " + num(p[0]) + " == 0\n"; }},
      {"max_plus", [](const P& p) { return "    return min(x, y) + " + num(p[0]) + "\n"; }},
      {"abs_diff", [](const P& p) { return "    return (x - y) * " + num(p[0]) + "\n"; }},
      {"repeat_join",
       [](const P& p) { return "    return (s + '" + sep(p[0]) + "') * " + num(p[1]) + "\n"; }},
      {"wrap",
       [](const P& p) { return "    return '" + sep(p[1]) + "' + s + '" + sep(p[0]) + "'\n"; }},
      {"first_n", [](const P& p) { return "    return s[:" + num(p[0]) + " + 1]\n"; }},
      {"replace_char",
       [](const P& p) {
         return "    return s.replace('" + letter(p[1]) + "', '" + letter(p[0]) + "')\n";
       }},
      {"ends_with",
       [](const P& p) {
         return "    return s.startswith('" + letter(p[0]) + "') and len(s) > " + num(p[1]) + "\n";
       }},
      {"rev_add", [](const P& p) { return "    return s + '" + sep(p[0]) + "'\n"; }},
      {"add_each", [](const P& p) { return "    return [x * " + num(p[0]) + " for x in xs]\n"; }},
      {"count_gt",
       [](const P& p) { return "    return len([x for x in xs if x >= " + num(p[0]) + "])\n"; }},
      {"keep_lt",
       [](const P& p) { return "    return [x for x in xs if x <= " + num(p[0]) + "]\n"; }},
      {"max_add", [](const P& p) { return "    return xs[-1] + " + num(p[0]) + "\n"; }},
      {"sum_first", [](const P& p) { return "    return sum(xs[1:" + num(p[0]) + "])\n"; }},
      {"scale", [](const P& p) { return "    return [x + " + num(p[0]) + " for x in xs]\n"; }},
  };
  return bugs;
}

const std::vector<Template>& templates() {
  static const std::vector<Template> all = make_templates();
  return all;
}

const Template& template_named(std::string_view name) {
  for (const auto& t : templates())
    if (t.name == name) return t;
  throw std::invalid_argument("unknown toy template '" + std::string(name) + "'");
}

Example make_example(const Template& t, const P& p, Args inputs) {
  Example e;
  e.result = t.eval(p, inputs);
  e.output = e.result.repr();
  for (size_t n = 0; n < inputs.size(); ++n) e.args += (n ? ", " : "") + inputs[n].repr();
  e.inputs = std::move(inputs);
  return e;
}

// Draws `n` examples whose inputs differ from each other and from `taken` (by repr).
std::vector<Example> draw_examples(const Template& t, const P& p, Rng& rng, int n,
                                   std::set<std::string>& taken) {
  std::vector<Example> out;
  for (int tries = 0; static_cast<int>(out.size()) < n; ++tries) {
    if (tries > 2000) throw std::logic_error("toy template " + t.name + ": input space too small");
    Example e = make_example(t, p, t.input(rng, p));
    if (taken.insert(e.args).second) out.push_back(std::move(e));
  }
  return out;
}

std::string build_prompt(const Template& t, const P& p, const std::vector<Example>& examples) {
  std::string s = "def " + t.name + "(" + t.args + "):\n    \"\"\"" + t.statement(p) + "\n";
  for (const auto& e : examples) {
    s += "    >>> " + t.name + "(" + e.args + ")\n    " + e.output + "\n";
  }
  return s + "    \"\"\"\n";
}

}  // namespace

const std::vector<std::string>& template_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : templates()) n.push_back(t.name);
    return n;
  }();
  return names;
}

std::vector<std::string> templates_with_bugs() {
  std::vector<std::string> names;
  for (const auto& t : templates()) {
    if (bug_bodies().count(t.name)) names.push_back(t.name);
  }
  return names;
}

Split split_of_prompt(std::string_view template_name, std::string_view prompt) {
  // 60% pretrain, 25% train, 15% eval of the prompt space.
  uint64_t h = fnv1a64(prompt, fnv1a64(template_name)) % 20;
  return h < 12 ? Split::kPretrain : h < 17 ? Split::kTrain : Split::kEval;
}

std::vector<ToyTask> generate_tasks(Split split, size_t count, uint64_t seed,
                                    const ToyOptions& options) {
  if (options.min_examples < 1 || options.max_examples < options.min_examples ||
      options.hidden_tests < 1 || options.extra_tests < 0) {
    throw std::invalid_argument(
        "toy options: need 1 <= min_examples <= max_examples, "
        "hidden_tests >= 1, extra_tests >= 0");
  }
  const auto& all = templates();
  std::vector<ToyTask> tasks;
  tasks.reserve(count);
  std::set<std::string> seen;
  for (size_t i = 0; i < count; ++i) {
    const Template& t = all[i % all.size()];
    for (uint64_t attempt = 0;; ++attempt) {
      const std::string key = std::to_string(seed) + "/" + std::string(split_name(split)) + "/" +
                              std::to_string(i) + "/" + std::to_string(attempt);
      Rng rng(fnv1a64(key));
      P p = t.params(rng);
      std::set<std::string> taken;
      int n_examples = static_cast<int>(rng.uniform(options.min_examples, options.max_examples));
      std::vector<Example> examples = draw_examples(t, p, rng, n_examples, taken);
      std::string prompt = build_prompt(t, p, examples);
      if (split_of_prompt(t.name, prompt) != split) continue;
      // Distinct prompts within a call while the template still has fresh ones.
      if (seen.count(prompt) && attempt < 500) continue;
      seen.insert(prompt);

      ToyTask task;
      task.task_id = "Toy/" + std::string(split_name(split)) + "/" + std::to_string(seed) + "/" +
                     std::to_string(i);
      task.template_name = t.name;
      task.category = t.category;
      task.entry_point = t.name;
      task.params = p;
      task.prompt = std::move(prompt);
      task.canonical_solution = t.body(p);
      task.solution = "def " + t.name + "(" + t.args + "):\n" + task.canonical_solution;
      if (auto bug = bug_bodies().find(t.name); bug != bug_bodies().end()) {
        task.buggy_solution = "def " + t.name + "(" + t.args + "):\n" + bug->second(p);
      }
      task.examples = std::move(examples);
      task.hidden = draw_examples(t, p, rng, options.hidden_tests, taken);
      task.extra = draw_examples(t, p, rng, options.extra_tests, taken);
      task.test = "def check(candidate):\n";
      for (const auto& h : task.hidden)
        task.test += "    assert candidate(" + h.args + ") == " + h.output + "\n";
      tasks.push_back(std::move(task));
      break;
    }
  }
  return tasks;
}

std::string code_query(const ToyTask& task) { return task.prompt + std::string(kCodeTag); }
std::string test_query(const ToyTask& task) { return task.prompt + std::string(kTestTag); }

std::string test_response(std::string_view entry_point, const Example& example) {
  return "assert " + std::string(entry_point) + "(" + example.args + ") == " + example.output +
         "\n";
}

std::vector<std::string> sft_test_responses(const ToyTask& task) {
  std::vector<std::string> out;
  for (const auto& e : task.examples) out.push_back(test_response(task.entry_point, e));
  for (const auto& e : task.extra) out.push_back(test_response(task.entry_point, e));
  return out;
}

std::string strip_trailing_tests(std::string_view response) {
  size_t pos = 0;
  while (pos < response.size()) {
    if (response.compare(pos, 7, "assert ") == 0) {
      size_t end = pos;
      while (end > 0 && response[end - 1] == '\n') --end;
      return std::string(response.substr(0, end)) + "\n";
    }
    size_t nl = response.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return std::string(response);
}

std::string hidden_test_program(const ToyTask& task, std::string_view code) {
  return std::string(code) + "\n\n" + task.test + "\n\ncheck(" + task.entry_point + ")\n";
}

Json task_to_json(const ToyTask& task) {
  Json examples = Json::array();
  Json example_tests = Json::array();
  for (const auto& e : task.examples) {
    examples.push_back({{"args", e.args}, {"output", e.output}});
    example_tests.push_back(test_response(task.entry_point, e));
  }
  return Json{{"task_id", task.task_id},
              {"prompt", task.prompt},
              {"entry_point", task.entry_point},
              {"canonical_solution", task.canonical_solution},
              {"test", task.test},
              {"solution", task.solution},
              {"buggy_solution", task.buggy_solution},
              {"template", task.template_name},
              {"category", task.category},
              {"examples", examples},
              {"example_tests", example_tests}};
}

namespace {

struct Tally {
  size_t tasks = 0, prompt_chars = 0, solution_chars = 0, max_prompt = 0, max_solution = 0;
  size_t outputs = 0, bool_outputs = 0;
  size_t restate = 0, restate_valid = 0;
  size_t lazy = 0, lazy_valid = 0;
  size_t mutants_wrong = 0, caught_by_examples = 0, caught_by_hidden = 0;

  void add(const Tally& o) {
    tasks += o.tasks;
    prompt_chars += o.prompt_chars;
    solution_chars += o.solution_chars;
    max_prompt = std::max(max_prompt, o.max_prompt);
    max_solution = std::max(max_solution, o.max_solution);
    outputs += o.outputs;
    bool_outputs += o.bool_outputs;
    restate += o.restate;
    restate_valid += o.restate_valid;
    lazy += o.lazy;
    lazy_valid += o.lazy_valid;
    mutants_wrong += o.mutants_wrong;
    caught_by_examples += o.caught_by_examples;
    caught_by_hidden += o.caught_by_hidden;
  }
  Json to_json() const {
    auto r = [](size_t n, size_t d) { return d ? static_cast<double>(n) / d : 0.0; };
    return Json{{"tasks", tasks},
                {"mean_prompt_chars", r(prompt_chars, tasks)},
                {"max_prompt_chars", max_prompt},
                {"mean_solution_chars", r(solution_chars, tasks)},
                {"max_solution_chars", max_solution},
                {"bool_output_fraction", r(bool_outputs, outputs)},
                {"restate_validity", r(restate_valid, restate)},
                {"lazy_validity", r(lazy_valid, lazy)},
                {"mutants_wrong", mutants_wrong},
                {"mutant_caught_by_examples", r(caught_by_examples, mutants_wrong)},
                {"mutant_caught_by_hidden", r(caught_by_hidden, mutants_wrong)}};
  }
};

}  // namespace

Value evaluate(std::string_view template_name, const std::vector<int64_t>& params,
               const std::vector<Value>& inputs) {
  return template_named(template_name).eval(params, inputs);
}

std::vector<Value> draw_input(std::string_view template_name, const std::vector<int64_t>& params,
                              uint64_t seed) {
  Rng rng(seed);
  return template_named(template_name).input(rng, params);
}

std::string args_source(const std::vector<Value>& inputs) {
  std::string out;
  for (size_t n = 0; n < inputs.size(); ++n) out += (n ? ", " : "") + inputs[n].repr();
  return out;
}

Json measure_tasks(const std::vector<ToyTask>& tasks, uint64_t seed) {
  std::map<std::string, Tally> per;
  Rng rng(seed);
  for (const auto& task : tasks) {
    const Template& t = template_named(task.template_name);
    Tally& y = per[t.name];
    ++y.tasks;
    y.prompt_chars += task.prompt.size();
    y.solution_chars += task.solution.size();
    y.max_prompt = std::max(y.max_prompt, task.prompt.size());
    y.max_solution = std::max(y.max_solution, task.solution.size());
    for (const auto* set : {&task.examples, &task.hidden}) {
      for (const auto& e : *set) {
        ++y.outputs;
        y.bool_outputs += e.result.kind == Value::Kind::kBool;
      }
    }
    for (const auto& e : task.examples) {
      ++y.restate;
      y.restate_valid += t.eval(task.params, e.inputs) == e.result;
      // Lazy variation: a fresh input, the example's output copied.
      Args x = t.input(rng, task.params);
      ++y.lazy;
      y.lazy_valid += t.eval(task.params, x) == e.result;
    }
    // A plausible wrong solution: one parameter off by one. Count it when some known case
    // shows it is wrong, then ask whether the docstring examples alone would catch it.
    P mutant = task.params;
    mutant[rng.next() % mutant.size()] += rng.chance(0.5) ? 1 : -1;
    if (t.name == "floor_div" || t.name == "is_multiple")
      mutant[0] = std::max<int64_t>(mutant[0], 1);
    auto differs = [&](const std::vector<Example>& set) {
      for (const auto& e : set)
        if (!(t.eval(mutant, e.inputs) == e.result)) return true;
      return false;
    };
    // Examples and hidden tests never share an input, so "wrong" is judged on both.
    const bool by_examples = differs(task.examples), by_hidden = differs(task.hidden);
    if (by_examples || by_hidden) {
      ++y.mutants_wrong;
      y.caught_by_examples += by_examples;
      y.caught_by_hidden += by_hidden;
    }
  }
  Json by_template = Json::object();
  Tally all;
  for (const auto& [name, y] : per) {
    by_template[name] = y.to_json();
    all.add(y);
  }
  return Json{{"overall", all.to_json()}, {"templates", by_template}};
}

}  // namespace dstc::toy
