// OpenAI-compatible completions over HTTP (cpp-httplib): a Generator that calls any
// /v1/completions server (vLLM, SGLang, `dstc serve model`), and a server that puts any
// Generator behind the same API. Torch-free.
//
// Request fields used: model, prompt (string, [string], [int] or [[int]]), n, temperature,
// top_p, max_tokens, stop (string or [string]), seed; vLLM's extensions top_k, ignore_eos,
// stop_token_ids. Choices are ordered prompt-major (index = prompt * n + sample), as OpenAI
// does. Our server adds "token_ids" to each choice; the client uses them when present.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/json.h"
#include "generator/generator.h"

namespace httplib {
class Server;
}

namespace dstc::generator {

struct OpenAIClientOptions {
  std::string base_url = "http://127.0.0.1:8000";  // with or without a trailing /v1
  std::string model = "default";                   // the "model" field sent
  std::string api_key;                             // sent as "Authorization: Bearer ..." if set
  int timeout_s = 600;
};

class OpenAIClient : public Generator {
 public:
  static Result<std::unique_ptr<OpenAIClient>> create(const OpenAIClientOptions& options);
  Result<std::vector<std::vector<Completion>>> generate(const std::vector<Prompt>& prompts,
                                                        const SamplingParams& params) override;
  std::string describe() const override;

 private:
  explicit OpenAIClient(OpenAIClientOptions options) : options_(std::move(options)) {}
  Result<std::vector<std::vector<Completion>>> request(const std::vector<Prompt>& prompts,
                                                       const SamplingParams& params);
  OpenAIClientOptions options_;
  std::string scheme_host_port_;
  std::string path_;  // ".../v1/completions"
};

// The body of a /v1/completions request for `prompts` (exposed for tests).
Json completions_request(const std::vector<Prompt>& prompts, const SamplingParams& params,
                         const std::string& model);
// Parses a request body into prompts and params; errors name the field (HTTP 400).
Result<std::pair<std::vector<Prompt>, SamplingParams>> parse_completions_request(const Json& body);

// Serves `generator` on host:port (port 0 = an ephemeral port, see port()). Endpoints:
// POST /v1/completions, GET /v1/models, GET /health. Requests run one at a time.
class OpenAIServer {
 public:
  OpenAIServer(Generator& generator, std::string model_name);
  ~OpenAIServer();
  // Binds and starts serving on a background thread.
  Status start(const std::string& host, int port);
  int port() const { return port_; }
  // Serves on the calling thread until stop() (from a signal handler thread or another one).
  Status run(const std::string& host, int port);
  void stop();

 private:
  void install_routes();
  Generator& generator_;
  std::string model_name_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace dstc::generator
