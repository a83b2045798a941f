// Host side of the sandbox: starts one zygote per profile (Boost.Process), hands each
// job to it over a private socketpair, and turns the monitor's answer into a Verdict.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.h"
#include "common/thread_pool.h"
#include "sandbox/protocol.h"

#ifndef DSTC_SANDBOX_HELPER_BUILD_PATH
#define DSTC_SANDBOX_HELPER_BUILD_PATH ""
#endif

namespace dstc::sandbox {
namespace bp = boost::process;
namespace {

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= w;
  }
  return true;
}

Verdict sandbox_error(const Job& job, std::string reason) {
  Verdict v;
  v.id = job.id;
  v.status = Status::kSandboxError;
  v.reason = std::move(reason);
  return v;
}

std::string find_helper(const SandboxOptions& options) {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (!options.helper.empty()) return options.helper;
  if (const char* env = std::getenv("DSTC_SANDBOX_HELPER")) candidates.push_back(env);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((self.parent_path() / "dstc-sandbox-zygote").string());
    candidates.push_back((self.parent_path().parent_path() / "dstc-sandbox-zygote").string());
  }
  candidates.push_back(DSTC_SANDBOX_HELPER_BUILD_PATH);
  for (const auto& c : candidates) {
    if (!c.empty() && access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

}  // namespace

// One running helper for one profile.
struct Zygote {
  Profile profile;
  int control = -1;  // host end of the SOCK_SEQPACKET control socket
  std::unique_ptr<bp::child> child;
  std::vector<Layer> layers;

  ~Zygote() {
    if (control >= 0) close(control);  // the zygote exits on EOF
    if (!child) return;
    // Boost 1.74's child::wait_for can spin forever; wait by hand, then kill.
    const pid_t pid = child->id();
    child->detach();
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) != 0) return;
      usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  bool alive() {
    std::error_code ec;
    return child && child->running(ec);
  }
};

struct Sandbox::Impl {
  SandboxOptions options;
  std::string helper;
  std::mutex zygotes_mutex;
  std::map<std::string, std::shared_ptr<Zygote>> zygotes;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::optional<Error>>>
      start_failures;

  std::mutex slot_mutex;
  std::condition_variable slot_cv;
  std::vector<bool> slot_busy;

  Result<std::shared_ptr<Zygote>> start_zygote(const Profile& profile) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return fail(ErrorCode::kIo, std::string("socketpair: ") + std::strerror(errno));
    }
    auto z = std::make_shared<Zygote>();
    z->profile = profile;
    z->control = sv[0];
    const int child_fd = sv[1];
    std::vector<std::string> args = {"--control-fd",    std::to_string(child_fd),
                                     "--profile",       profile_to_json(profile).dump(),
                                     "--cgroup-parent", options.cgroup_parent,
                                     "--uid-base",      std::to_string(options.uid_base)};
    if (!options.use_zygote) args.push_back("--exec");
    try {
      // Only the child's copy loses FD_CLOEXEC, after fork: no other exec inherits it.
      z->child = std::make_unique<bp::child>(
          helper, bp::args(args), bp::std_in < bp::null,
          bp::extend::on_exec_setup = [child_fd](auto&) { fcntl(child_fd, F_SETFD, 0); });
    } catch (const std::exception& e) {
      close(child_fd);
      return fail(ErrorCode::kUnavailable, "starting sandbox helper " + helper + ": " + e.what());
    }
    close(child_fd);
    // The hello message: the layers the helper managed to set up.
    std::string hello(1 << 16, '\0');
    pollfd pfd{z->control, POLLIN, 0};
    if (poll(&pfd, 1, 60000) <= 0) {
      return fail(ErrorCode::kUnavailable, "sandbox helper did not start within 60 s");
    }
    ssize_t n = recv(z->control, hello.data(), hello.size(), 0);
    if (n <= 0) {
      return fail(ErrorCode::kUnavailable,
                  "sandbox helper " + helper + " exited during start-up (see its stderr)");
    }
    hello.resize(n);
    DSTC_TRY(Json h, parse_json(hello, "sandbox helper hello"));
    for (const auto& l : h.value("layers", Json::array())) {
      z->layers.push_back({l.value("name", ""), l.value("active", false), l.value("detail", "")});
    }
    if (!h.value("ok", false)) {
      return fail(ErrorCode::kUnavailable, "sandbox helper: " + h.value("error", std::string()));
    }
    auto logger = log::get("sandbox");
    for (const auto& l : z->layers) {
      if (!l.active) {
        logger->warn("sandbox layer MISSING for profile {}: {}: {}", profile.name, l.name,
                     l.detail);
      }
    }
    return z;
  }

  Result<std::shared_ptr<Zygote>> zygote_for(const Profile& profile, bool restart) {
    std::lock_guard<std::mutex> lock(zygotes_mutex);
    auto it = zygotes.find(profile.name);
    if (it != zygotes.end() && !restart) return it->second;
    if (it != zygotes.end() && restart && it->second->alive()) return it->second;
    // A helper that cannot start is not retried for every job of a batch.
    auto& last = start_failures[profile.name];
    if (last.second && std::chrono::steady_clock::now() - last.first < std::chrono::seconds(5)) {
      return fail(*last.second);
    }
    auto z = start_zygote(profile);
    if (!z) {
      last = {std::chrono::steady_clock::now(), z.error()};
      return fail(z.error());
    }
    last.second.reset();
    zygotes[profile.name] = *z;
    return *z;
  }

  size_t acquire_slot() {
    std::unique_lock<std::mutex> lock(slot_mutex);
    for (;;) {
      for (size_t i = 0; i < slot_busy.size(); ++i) {
        if (!slot_busy[i]) {
          slot_busy[i] = true;
          return i;
        }
      }
      slot_cv.wait(lock);
    }
  }
  void release_slot(size_t i) {
    {
      std::lock_guard<std::mutex> lock(slot_mutex);
      slot_busy[i] = false;
    }
    slot_cv.notify_one();
  }

  // One attempt; `retry` is set when the zygote was found dead before the job started.
  Verdict run_once(const Job& job, const Profile& profile, Zygote& z, size_t slot, bool* retry) {
    *retry = false;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return sandbox_error(job, std::string("socketpair: ") + std::strerror(errno));
    }
    char byte = 'J';
    char cbuf[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    ssize_t sent = sendmsg(z.control, &msg, MSG_NOSIGNAL);
    close(sv[1]);
    if (sent != 1) {
      close(sv[0]);
      *retry = true;
      return sandbox_error(job, "the sandbox zygote is gone");
    }
    const Limits& base = profile.limits;
    proto::RunRequest req;
    req.slot = static_cast<uint32_t>(slot);
    req.program_len = job.program.size();
    req.stdin_len = job.stdin_data.size();
    req.wall_seconds = job.timeout_seconds.value_or(base.wall_seconds);
    req.cpu_seconds = job.timeout_seconds.value_or(base.cpu_seconds);
    req.memory_mb = job.memory_mb.value_or(base.memory_mb);
    req.address_space_mb = base.address_space_mb;
    if (job.memory_mb && base.address_space_mb > 0) {
      req.address_space_mb = std::max<int64_t>(base.address_space_mb, 2 * *job.memory_mb);
    }
    req.max_processes = base.max_processes;
    req.output_bytes = base.output_bytes;
    req.file_size_mb = base.file_size_mb;
    req.tmpfs_mb = base.tmpfs_mb;
    req.open_files = base.open_files;
    // Write the request from another thread for large programs so neither side blocks.
    bool write_ok = true;
    std::thread writer;
    auto do_write = [&] {
      write_ok = write_all(sv[0], &req, sizeof req) &&
                 write_all(sv[0], job.program.data(), job.program.size()) &&
                 write_all(sv[0], job.stdin_data.data(), job.stdin_data.size());
    };
    const bool big = job.program.size() + job.stdin_data.size() > (1 << 16);
    if (big) {
      writer = std::thread(do_write);
    } else {
      do_write();
    }
    proto::RunResponse resp;
    bool got = proto::read_exact(sv[0], &resp, sizeof resp) && resp.magic == proto::kMagic;
    Verdict v;
    v.id = job.id;
    if (got) {
      auto field = [&](uint64_t len, std::string& out) {
        out.resize(len);
        got = got && proto::read_exact(sv[0], out.data(), len);
      };
      field(resp.stdout_len, v.stdout_text);
      field(resp.stderr_len, v.stderr_text);
      field(resp.error_type_len, v.error_type);
      field(resp.error_message_len, v.error_message);
      field(resp.reason_len, v.reason);
    }
    if (big) {
      shutdown(sv[0], SHUT_RDWR);
      writer.join();
    }
    close(sv[0]);
    if (!got) {
      return sandbox_error(job, write_ok ? "the sandbox monitor died without answering"
                                         : "sending the job to the sandbox failed");
    }
    v.status = static_cast<Status>(std::clamp(resp.status, 0, 7));
    v.exit_code = resp.exit_code;
    v.signal = resp.signal;
    v.wall_ms = resp.wall_us / 1000;
    v.cpu_ms = resp.cpu_us / 1000;
    v.peak_rss_kb = resp.peak_rss_kb;
    v.stdout_truncated = resp.stdout_truncated;
    v.stderr_truncated = resp.stderr_truncated;
    return v;
  }
};

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sandbox::~Sandbox() = default;

Result<std::unique_ptr<Sandbox>> Sandbox::create(SandboxOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->helper = find_helper(options);
  if (impl->helper.empty()) {
    return fail(ErrorCode::kUnavailable,
                "sandbox helper dstc-sandbox-zygote not found (build it, or set "
                "DSTC_SANDBOX_HELPER to its path)");
  }
  if (access(options.python.c_str(), X_OK) != 0) {
    return fail(ErrorCode::kUnavailable,
                "sandbox: interpreter " + options.python + " not found (install python3)");
  }
  impl->slot_busy.assign(std::max<size_t>(options.max_slots, 1), false);
  impl->options = std::move(options);
  return std::unique_ptr<Sandbox>(new Sandbox(std::move(impl)));
}

const SandboxOptions& Sandbox::options() const { return impl_->options; }

Verdict Sandbox::run(const Job& job) {
  auto profile = builtin_profile(job.profile);
  if (!profile) return sandbox_error(job, profile.error().message());
  const size_t slot = impl_->acquire_slot();
  Verdict v;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto z = impl_->zygote_for(*profile, /*restart=*/attempt > 0);
    if (!z) {
      v = sandbox_error(job, z.error().message());
      break;
    }
    bool retry = false;
    v = impl_->run_once(job, *profile, **z, slot, &retry);
    if (v.status == Status::kSandboxError && !(*z)->alive()) {
      // The zygote died (killed from outside?): restart it for the next job, and retry
      // this one only if it never started.
      impl_->zygote_for(*profile, /*restart=*/true);
      if (retry) continue;
    }
    break;
  }
  impl_->release_slot(slot);
  return v;
}

std::vector<Verdict> Sandbox::run_batch(const std::vector<Job>& jobs, size_t parallel,
                                        const std::function<void(size_t)>& on_done) {
  std::vector<Verdict> verdicts(jobs.size());
  if (parallel == 0) parallel = std::max(1u, std::thread::hardware_concurrency());
  parallel = std::min({parallel, jobs.size(), impl_->slot_busy.size()});
  if (parallel <= 1) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      verdicts[i] = run(jobs[i]);
      if (on_done) on_done(i);
    }
    return verdicts;
  }
  ThreadPool pool(parallel);
  pool.parallel_for(jobs.size(), [&](size_t i) {
    verdicts[i] = run(jobs[i]);
    if (on_done) on_done(i);
  });
  return verdicts;
}

Result<std::vector<Layer>> Sandbox::layers(const std::string& profile) {
  DSTC_TRY(Profile p, builtin_profile(profile));
  DSTC_TRY(auto z, impl_->zygote_for(p, false));
  return z->layers;
}

}  // namespace dstc::sandbox
