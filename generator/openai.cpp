#include "generator/openai.h"

#include <httplib.h>

#include <chrono>
#include <mutex>

namespace dstc::generator {

// ---------------------------------------------------------------------------------------
// Request/response JSON

Json completions_request(const std::vector<Prompt>& prompts, const SamplingParams& params,
                         const std::string& model) {
  Json j;
  j["model"] = model;
  Json p = Json::array();
  for (const auto& pr : prompts) {
    if (pr.has_ids()) {
      p.push_back(pr.ids);
    } else {
      p.push_back(pr.text);
    }
  }
  j["prompt"] = p;
  j["n"] = params.n;
  j["max_tokens"] = params.max_new_tokens;
  j["temperature"] = params.is_greedy() ? 0.0 : params.temperature;
  j["top_p"] = params.top_p;
  if (params.top_k > 0) j["top_k"] = params.top_k;
  j["seed"] = params.seed;
  if (!params.stop.empty()) j["stop"] = params.stop;
  if (!params.stop_token_ids.empty()) j["stop_token_ids"] = params.stop_token_ids;
  if (params.ignore_eos) j["ignore_eos"] = true;
  return j;
}

Result<std::pair<std::vector<Prompt>, SamplingParams>> parse_completions_request(const Json& body) {
  auto bad = [](const std::string& why) { return fail(ErrorCode::kInvalidArgument, why); };
  if (!body.is_object()) return bad("request body must be a JSON object");
  std::vector<Prompt> prompts;
  auto pit = body.find("prompt");
  if (pit == body.end()) return bad("missing field 'prompt'");
  auto is_ids = [](const Json& a) {
    if (!a.is_array() || a.empty()) return false;
    for (const auto& x : a)
      if (!x.is_number_integer()) return false;
    return true;
  };
  if (pit->is_string()) {
    prompts.push_back(Prompt::from_text(pit->get<std::string>()));
  } else if (is_ids(*pit)) {
    prompts.push_back(Prompt::from_ids(pit->get<std::vector<int32_t>>()));
  } else if (pit->is_array() && !pit->empty()) {
    for (const auto& e : *pit) {
      if (e.is_string()) {
        prompts.push_back(Prompt::from_text(e.get<std::string>()));
      } else if (is_ids(e)) {
        prompts.push_back(Prompt::from_ids(e.get<std::vector<int32_t>>()));
      } else {
        return bad("field 'prompt': each element must be a string or a list of token ids");
      }
    }
  } else {
    return bad("field 'prompt' must be a string, a list of strings or token id lists");
  }
  SamplingParams p;
  p.max_new_tokens = 16;  // OpenAI's default
  auto num = [&](const char* key, double& out) -> Status {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_number()) return bad(std::string("field '") + key + "' must be a number");
    out = it->get<double>();
    return {};
  };
  auto integer = [&](const char* key, auto& out) -> Status {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_number_integer()) return bad(std::string("field '") + key + "' must be an integer");
    out = it->get<std::decay_t<decltype(out)>>();
    return {};
  };
  DSTC_CHECK_OK(integer("n", p.n));
  DSTC_CHECK_OK(integer("max_tokens", p.max_new_tokens));
  DSTC_CHECK_OK(num("temperature", p.temperature));
  DSTC_CHECK_OK(num("top_p", p.top_p));
  DSTC_CHECK_OK(integer("top_k", p.top_k));
  if (p.top_k < 0) p.top_k = 0;  // vLLM: -1 = off
  if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) return bad("field 'seed' must be an integer");
    p.seed =
        it->is_number_unsigned() ? it->get<uint64_t>() : static_cast<uint64_t>(it->get<int64_t>());
  }
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      p.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& s : *it) {
        if (!s.is_string()) return bad("field 'stop' must hold strings");
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      return bad("field 'stop' must be a string or a list of strings");
    }
  }
  if (auto it = body.find("stop_token_ids"); it != body.end() && !it->is_null()) {
    if (!is_ids(*it) && !(it->is_array() && it->empty()))
      return bad("field 'stop_token_ids' must be a list of integers");
    p.stop_token_ids = it->get<std::vector<int32_t>>();
  }
  if (auto it = body.find("ignore_eos"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad("field 'ignore_eos' must be a boolean");
    p.ignore_eos = it->get<bool>();
  }
  if (p.n < 1 || p.n > 1024) return bad("field 'n' must be in [1, 1024]");
  if (p.max_new_tokens < 0) return bad("field 'max_tokens' must be >= 0");
  if (p.temperature < 0) return bad("field 'temperature' must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) return bad("field 'top_p' must be in (0, 1]");
  return std::make_pair(std::move(prompts), std::move(p));
}

// ---------------------------------------------------------------------------------------
// Client

Result<std::unique_ptr<OpenAIClient>> OpenAIClient::create(const OpenAIClientOptions& options) {
  std::unique_ptr<OpenAIClient> c(new OpenAIClient(options));
  const std::string& url = options.base_url;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || url.substr(0, scheme_end) != "http")
    return fail(ErrorCode::kInvalidArgument,
                "OpenAI base URL '" + url + "' must start with http:// (https is not supported)");
  size_t path_start = url.find('/', scheme_end + 3);
  c->scheme_host_port_ = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() < 3 || path.compare(path.size() - 3, 3, "/v1") != 0) path += "/v1";
  c->path_ = path + "/completions";
  return c;
}

std::string OpenAIClient::describe() const { return "openai:" + options_.base_url; }

Result<std::vector<std::vector<Completion>>> OpenAIClient::generate(
    const std::vector<Prompt>& prompts, const SamplingParams& params) {
  bool all_ids = true, all_text = true;
  for (const auto& p : prompts) (p.has_ids() ? all_text : all_ids) = false;
  if (prompts.empty()) return std::vector<std::vector<Completion>>{};
  if (all_ids || all_text) return request(prompts, params);
  std::vector<std::vector<Completion>> out;  // mixed kinds: one request per prompt
  for (const auto& p : prompts) {
    DSTC_TRY(auto one, request({p}, params));
    out.push_back(std::move(one[0]));
  }
  return out;
}

Result<std::vector<std::vector<Completion>>> OpenAIClient::request(
    const std::vector<Prompt>& prompts, const SamplingParams& params) {
  httplib::Client cli(scheme_host_port_);
  cli.set_connection_timeout(10);
  cli.set_read_timeout(options_.timeout_s);
  cli.set_write_timeout(options_.timeout_s);
  httplib::Headers headers;
  if (!options_.api_key.empty()) headers.emplace("Authorization", "Bearer " + options_.api_key);
  const std::string where = scheme_host_port_ + path_;
  auto res = cli.Post(path_, headers, completions_request(prompts, params, options_.model).dump(),
                      "application/json");
  if (!res) return fail(ErrorCode::kUnavailable, where + ": " + httplib::to_string(res.error()));
  Json body = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200) {
    std::string msg = res->body.substr(0, 500);
    if (body.is_object() && body.contains("error") && body["error"].is_object() &&
        body["error"].contains("message"))
      msg = body["error"]["message"].dump();
    return fail(res->status == 400 ? ErrorCode::kInvalidArgument : ErrorCode::kUnavailable,
                where + ": HTTP " + std::to_string(res->status) + ": " + msg);
  }
  if (body.is_discarded() || !body.is_object() || !body.contains("choices") ||
      !body["choices"].is_array())
    return fail(ErrorCode::kCorrupt, where + ": response has no 'choices' list");
  const size_t n = static_cast<size_t>(params.n);
  std::vector<std::vector<Completion>> out(prompts.size(), std::vector<Completion>(n));
  size_t seen = 0;
  for (const auto& ch : body["choices"]) {
    if (!ch.is_object() || !ch.contains("index") || !ch["index"].is_number_unsigned())
      return fail(ErrorCode::kCorrupt, where + ": choice without an 'index'");
    size_t idx = ch["index"].get<size_t>();
    if (idx >= prompts.size() * n)
      return fail(ErrorCode::kCorrupt,
                  where + ": choice index " + std::to_string(idx) + " out of range");
    Completion& c = out[idx / n][idx % n];
    if (ch.contains("text") && ch["text"].is_string()) c.text = ch["text"].get<std::string>();
    if (ch.contains("finish_reason") && ch["finish_reason"].is_string())
      c.finish_reason = ch["finish_reason"].get<std::string>();
    if (ch.contains("token_ids") && ch["token_ids"].is_array())
      c.ids = ch["token_ids"].get<std::vector<int32_t>>();
    ++seen;
  }
  if (seen != prompts.size() * n)
    return fail(ErrorCode::kCorrupt, where + ": expected " + std::to_string(prompts.size() * n) +
                                         " choices, got " + std::to_string(seen));
  return out;
}

// ---------------------------------------------------------------------------------------
// Server

OpenAIServer::OpenAIServer(Generator& generator, std::string model_name)
    : generator_(generator),
      model_name_(std::move(model_name)),
      server_(std::make_unique<httplib::Server>()) {
  install_routes();
}

OpenAIServer::~OpenAIServer() { stop(); }

void OpenAIServer::install_routes() {
  auto error_reply = [](httplib::Response& res, int status, const std::string& msg) {
    Json e = {
        {"error",
         {{"message", msg}, {"type", status == 400 ? "invalid_request_error" : "server_error"}}}};
    res.status = status;
    res.set_content(e.dump(), "application/json");
  };
  server_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  server_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Json j = {{"object", "list"},
              {"data", {{{"id", model_name_}, {"object", "model"}, {"owned_by", "dstc"}}}}};
    res.set_content(j.dump(), "application/json");
  });
  server_->Post(
      "/v1/completions", [this, error_reply](const httplib::Request& req, httplib::Response& res) {
        Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
        if (body.is_discarded()) return error_reply(res, 400, "request body is not valid JSON");
        auto parsed = parse_completions_request(body);
        if (!parsed) return error_reply(res, 400, parsed.error().message());
        auto& [prompts, params] = *parsed;
        auto out = generator_.generate(prompts, params);
        if (!out)
          return error_reply(res, out.error().code() == ErrorCode::kInvalidArgument ? 400 : 500,
                             out.error().message());
        Json choices = Json::array();
        int64_t completion_tokens = 0, prompt_tokens = 0;
        for (const auto& p : prompts) prompt_tokens += static_cast<int64_t>(p.ids.size());
        for (size_t i = 0; i < out->size(); ++i)
          for (size_t s = 0; s < (*out)[i].size(); ++s) {
            const Completion& c = (*out)[i][s];
            completion_tokens += static_cast<int64_t>(c.ids.size());
            choices.push_back({{"index", i * (*out)[i].size() + s},
                               {"text", c.text},
                               {"token_ids", c.ids},
                               {"logprobs", nullptr},
                               {"finish_reason", c.finish_reason}});
          }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        Json j = {{"id", "cmpl-" + std::to_string(now)},
                  {"object", "text_completion"},
                  {"created", now},
                  {"model", model_name_},
                  {"choices", choices},
                  {"usage",
                   {{"prompt_tokens", prompt_tokens},
                    {"completion_tokens", completion_tokens},
                    {"total_tokens", prompt_tokens + completion_tokens}}}};
        res.set_content(j.dump(), "application/json");
      });
}

Status OpenAIServer::start(const std::string& host, int port) {
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0)
    return fail(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port) +
                                             " (in use or not local?)");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib 0.11 has no wait_until_ready(); the socket already listens, so this only
  // bounds how long we wait for the accept loop.
  for (int i = 0; i < 2000 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return {};
}

Status OpenAIServer::run(const std::string& host, int port) {
  if (!server_->bind_to_port(host, port))
    return fail(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port));
  port_ = port;
  if (!server_->listen_after_bind())
    return fail(ErrorCode::kIo, "server on " + host + ":" + std::to_string(port) + " failed");
  return {};
}

void OpenAIServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dstc::generator
