// `dstc sandbox doctor`: what the helper detected at start-up, checked from inside a run.
#include "sandbox/sandbox.h"

namespace dstc::sandbox {
namespace {

// Runs inside the sandbox and prints one JSON object {layer name: [ok, detail]}.
constexpr const char* kProbe = R"PY(
import os, sys, json, resource, errno
r = {}
def check(name, fn):
    try:
        ok, detail = fn()
    except Exception as e:
        ok, detail = False, '%s: %s' % (type(e).__name__, e)
    r[name] = [bool(ok), str(detail)]
check('pid namespace', lambda: (os.getpid() <= 3, 'pid %d, %d processes visible' % (os.getpid(), len([p for p in os.listdir('/proc') if p.isdigit()]))))
check('network namespace', lambda: (sorted(os.listdir('/sys/class/net')) == ['lo'], 'interfaces: %s' % sorted(os.listdir('/sys/class/net'))))
check('uts namespace', lambda: (os.uname().nodename == 'sandbox', 'hostname %s' % os.uname().nodename))
check('unprivileged uid', lambda: (os.getuid() != 0 and os.geteuid() != 0 and not os.getgroups(), 'uid %d gid %d groups %s' % (os.getuid(), os.getgid(), os.getgroups())))
def seccomp():
    s = open('/proc/self/status').read()
    mode = [l.split()[1] for l in s.splitlines() if l.startswith('Seccomp:')][0]
    nnp = [l.split()[1] for l in s.splitlines() if l.startswith('NoNewPrivs:')][0]
    return mode == '2' and nnp == '1', 'Seccomp %s, NoNewPrivs %s' % (mode, nnp)
check('seccomp filter', seccomp)
def rl():
    bad = [n for n in ('RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE') if len(set(resource.getrlimit(getattr(resource, n)))) != 1]
    return not bad and resource.getrlimit(resource.RLIMIT_CORE)[0] == 0, 'soft != hard: %s' % bad if bad else 'soft = hard'
check('rlimits', rl)
def cg(ctrl):
    lines = open('/proc/self/cgroup').read().splitlines()
    mine = [l for l in lines if (':%s:' % ctrl) in l]
    return bool(mine) and '/s' in mine[0], mine[0] if mine else 'not in a %s cgroup' % ctrl
check('cgroup memory', lambda: cg('memory'))
check('cgroup pids', lambda: cg('pids'))
def tmp():
    st = os.statvfs('/tmp')
    size = st.f_blocks * st.f_frsize // (1 << 20)
    return os.getcwd() == '/tmp' and set(os.listdir('.')) == {'main.py'} and size < 100000, 'cwd %s, /tmp %d MB, entries %s' % (os.getcwd(), size, os.listdir('.'))
check('fresh tmpfs working dir and /tmp', tmp)
def ro():
    bad = []
    for p in ('/usr/lib/dstc-probe', '/etc/dstc-probe', '/dstc-probe', '/root/dstc-probe', '/var/dstc-probe'):
        try:
            open(p, 'w').close(); bad.append(p); os.unlink(p)
        except OSError as e:
            pass
    return not bad, 'writable: %s' % bad if bad else 'no write outside /tmp'
check('read-only filesystem', ro)
check('empty environment + allowlist', lambda: ('HOME' in os.environ and not any(k.startswith(('SSH', 'AWS', 'USER', 'SUDO')) for k in os.environ), '%d variables: %s' % (len(os.environ), ' '.join(sorted(os.environ)))))
def tty():
    data = sys.stdin.read()
    try:
        os.ttyname(0); t = True
    except OSError:
        t = False
    return data == '' and not t and os.getsid(0) == os.getpid(), 'stdin empty, no tty, session leader'
check('stdin /dev/null, no tty, new session', tty)
print(json.dumps(r))
)PY";

}  // namespace

Result<std::vector<Layer>> doctor(Sandbox& sandbox) {
  DSTC_TRY(auto layers, sandbox.layers("strict"));
  Job job;
  job.id = "doctor";
  job.program = kProbe;
  job.profile = "strict";
  Verdict v = sandbox.run(job);
  if (v.status != Status::kPassed) {
    return fail(ErrorCode::kUnavailable,
                "the doctor's probe did not pass (" + std::string(status_name(v.status)) + "): " +
                    v.reason + " " + v.error_type + " " + v.error_message + "\n" + v.stderr_text);
  }
  DSTC_TRY(Json probe, parse_json(v.stdout_text, "doctor probe output"));
  for (auto& l : layers) {
    if (!probe.contains(l.name)) continue;
    const bool ok = probe[l.name][0].get<bool>();
    const std::string seen = probe[l.name][1].get<std::string>();
    if (l.active && !ok) {
      l.active = false;
      l.detail += " — BUT the probe inside a run disagrees: " + seen;
    } else {
      l.detail += " [probe: " + seen + "]";
    }
  }
  // Loopback works and nothing else is reachable (bigcodebench allows sockets).
  Job net;
  net.profile = "bigcodebench";
  net.program =
      "import socket, time\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
      "c = socket.create_connection(s.getsockname(), timeout=2); c.close()\n"
      "t = time.time()\n"
      "try:\n"
      "    socket.create_connection(('1.1.1.1', 80), timeout=3); out = 'reachable'\n"
      "except OSError as e:\n"
      "    out = 'unreachable (%s)' % e.__class__.__name__\n"
      "print(out, '%.2f' % (time.time() - t))\n";
  Verdict nv = sandbox.run(net);
  for (auto& l : layers) {
    if (l.name != "network namespace") continue;
    bool ok = nv.status == Status::kPassed && nv.stdout_text.rfind("unreachable", 0) == 0;
    if (l.active && !ok) {
      l.active = false;
      l.detail += " — BUT the network probe disagrees: " + std::string(status_name(nv.status)) +
                  " " + nv.stdout_text + nv.error_message;
    } else {
      std::string seen = nv.stdout_text.substr(0, 60);
      while (!seen.empty() && seen.back() == '\n') seen.pop_back();
      l.detail += " [probe: loopback works, 1.1.1.1:80 " + seen + " s]";
    }
  }
  return layers;
}

}  // namespace dstc::sandbox
