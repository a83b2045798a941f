// `dstc serve`: long-running services. `serve model` puts the built-in LibTorch engine
// behind an OpenAI-compatible /v1/completions API (generator/openai.h), so anything that
// talks to vLLM or SGLang can talk to it. Other `serve` subcommands may be added here.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "common/json.h"
#include "generator/engine.h"
#include "generator/openai.h"
#include "generator/text/tokenizer.h"

namespace dstc::cli {
namespace {

using namespace dstc::generator;

// Adapts generator/text's Tokenizer to the engine's TextCodec. Prompts may contain the
// chat template's special tokens (parse_special); decoding drops special tokens.
class TokenizerCodec : public TextCodec {
 public:
  explicit TokenizerCodec(Tokenizer tok) : tok_(std::move(tok)) {}
  std::vector<int32_t> encode(const std::string& text) const override {
    return tok_.encode(text, /*add_special=*/false, /*parse_special=*/true);
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    return tok_.decode(ids, /*skip_special=*/true);
  }

 private:
  Tokenizer tok_;
};

struct ServeModelArgs {
  std::string model;
  std::string listen = "127.0.0.1:8000";
  std::string name;
  std::string device = "cpu", dtype = "auto";
  int threads = 1;
  int64_t max_batch = 16;
};

Result<std::pair<std::string, int>> parse_listen(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return fail(ErrorCode::kInvalidArgument, "--listen '" + s + "': expected HOST:PORT");
  try {
    size_t used = 0;
    int port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range(s);
    return std::make_pair(s.substr(0, colon), port);
  } catch (const std::exception&) {
    return fail(ErrorCode::kInvalidArgument, "--listen '" + s + "': bad port");
  }
}

Status run_serve_model(const ServeModelArgs& a) {
  DSTC_TRY(auto hp, parse_listen(a.listen));
  EngineOptions eo;
  eo.device = a.device;
  eo.dtype = a.dtype;
  eo.num_threads = a.threads;
  eo.max_batch = a.max_batch;
  DSTC_TRY(auto engine, LocalEngine::load(a.model, eo));
  std::string tok_path = (std::filesystem::path(a.model) / "tokenizer.json").string();
  if (std::filesystem::exists(tok_path)) {
    DSTC_TRY(Tokenizer tok, Tokenizer::from_file(tok_path));
    engine->set_codec(std::make_shared<TokenizerCodec>(std::move(tok)));
  }
  std::string name = a.name.empty()
                         ? std::filesystem::path(a.model).lexically_normal().filename().string()
                         : a.name;
  if (name.empty()) name = "model";
  // Block SIGINT/SIGTERM before the server threads start, then wait for them here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  OpenAIServer server(*engine, name);
  DSTC_CHECK_OK(server.start(hp.first, hp.second));
  std::string url = "http://" + hp.first + ":" + std::to_string(server.port()) + "/v1";
  std::printf("%s\n", Json{{"listening", url}, {"model", name}}.dump().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "dstc: serving %s on %s (Ctrl-C to stop)\n", a.model.c_str(), url.c_str());
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  return {};
}

void register_serve(CLI::App& app, Globals&, Action& action) {
  auto* serve = app.add_subcommand("serve", "Run a long-lived service");
  serve->require_subcommand(1);

  auto a = std::make_shared<ServeModelArgs>();
  auto* model = serve->add_subcommand(
      "model", "Serve the built-in engine behind an OpenAI-compatible /v1/completions API");
  model->add_option("--model", a->model, "model folder (tokenizer.json inside enables text)")
      ->required();
  model->add_option("--listen", a->listen, "HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  model->add_option("--name", a->name, "model name reported by the API (default: folder name)");
  model->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  model->add_option("--dtype", a->dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  model->add_option("--threads", a->threads, "intra-op threads")->capture_default_str();
  model->add_option("--max-batch", a->max_batch, "rows decoded together")->capture_default_str();
  model->callback([a, &action] { action = [a] { return run_serve_model(*a); }; });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(serve, dstc::cli::register_serve);
