// The OpenAI-compatible client against the built-in engine served on an ephemeral
// loopback port (real HTTP), and request parsing.
#include "generator/openai.h"

#include <gtest/gtest.h>

#include "generator/engine.h"
#include "tests/generator/test_data.h"

namespace dstc::generator {
namespace {

TEST(OpenAIRequest, RoundTripsParams) {
  SamplingParams p;
  p.n = 3;
  p.temperature = 0.7;
  p.top_p = 0.9;
  p.top_k = 20;
  p.max_new_tokens = 33;
  p.seed = 99;
  p.stop = {"\n\n", "```"};
  p.stop_token_ids = {5};
  p.ignore_eos = true;
  Json body = completions_request({Prompt::from_ids({1, 2}), Prompt::from_ids({3})}, p, "m");
  EXPECT_EQ(body["max_tokens"], 33);
  auto parsed = parse_completions_request(body);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  const auto& [prompts, q] = *parsed;
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[0].ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(q.n, 3);
  EXPECT_DOUBLE_EQ(q.temperature, 0.7);
  EXPECT_DOUBLE_EQ(q.top_p, 0.9);
  EXPECT_EQ(q.top_k, 20);
  EXPECT_EQ(q.seed, 99u);
  EXPECT_EQ(q.stop, p.stop);
  EXPECT_EQ(q.stop_token_ids, p.stop_token_ids);
  EXPECT_TRUE(q.ignore_eos);
  // Single string prompt and single id-list prompt.
  auto one = parse_completions_request(Json{{"prompt", "hi"}, {"stop", "x"}});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->first[0].text, "hi");
  EXPECT_EQ(one->second.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(one->second.max_new_tokens, 16);
  auto ids = parse_completions_request(Json{{"prompt", {4, 5}}});
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(ids->first.size(), 1u);
  EXPECT_EQ(ids->first[0].ids, (std::vector<int32_t>{4, 5}));
  // Errors name the field.
  auto bad = parse_completions_request(Json{{"prompt", "x"}, {"top_p", 0}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("top_p"), std::string::npos);
  EXPECT_FALSE(parse_completions_request(Json{{"n", 2}}).has_value());
}

TEST(OpenAIIntegration, ClientTalksToServedEngine) {
  auto engine = LocalEngine::load(data_dir("tiny-qwen2"));
  ASSERT_TRUE(engine.has_value()) << engine.error().message();
  OpenAIServer server(**engine, "tiny-qwen2");
  ASSERT_TRUE(server.start("127.0.0.1", 0).has_value());
  ASSERT_GT(server.port(), 0);
  OpenAIClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  auto client = OpenAIClient::create(o);
  ASSERT_TRUE(client.has_value()) << client.error().message();

  std::vector<Prompt> prompts = {Prompt::from_ids({1, 161, 84, 73, 141}), Prompt::from_ids({1, 9})};
  SamplingParams p;
  p.n = 2;
  p.temperature = 0.8;
  p.top_p = 0.9;
  p.seed = 7;
  p.max_new_tokens = 8;
  p.ignore_eos = true;
  auto remote = (*client)->generate(prompts, p);
  ASSERT_TRUE(remote.has_value()) << remote.error().message();
  auto local = (*engine)->generate(prompts, p);
  ASSERT_TRUE(local.has_value());
  ASSERT_EQ(remote->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ((*remote)[i].size(), 2u);
    for (size_t s = 0; s < 2; ++s) {
      EXPECT_EQ((*remote)[i][s].ids, (*local)[i][s].ids);
      EXPECT_EQ((*remote)[i][s].ids.size(), 8u);
      EXPECT_EQ((*remote)[i][s].finish_reason, "length");
    }
  }
  // Greedy through HTTP equals the golden continuation of tiny-qwen2's batch0 case.
  SamplingParams g;
  g.greedy = true;
  g.max_new_tokens = 16;
  g.ignore_eos = true;
  auto greedy = (*client)->generate({prompts[0]}, g);
  ASSERT_TRUE(greedy.has_value());
  EXPECT_EQ((*greedy)[0][0].ids, (std::vector<int32_t>{58, 87, 226, 41, 33, 203, 169, 114, 226, 114,
                                                       226, 287, 107, 114, 226, 287}));
  // A server-side error comes back as a clear client error (text prompt, no tokenizer).
  auto err = (*client)->generate({Prompt::from_text("def f():")}, g);
  ASSERT_FALSE(err.has_value());
  EXPECT_NE(err.error().message().find("HTTP 400"), std::string::npos) << err.error().message();
  server.stop();
  // Nobody listening: an error naming the URL.
  auto down = (*client)->generate(prompts, p);
  ASSERT_FALSE(down.has_value());
  EXPECT_NE(down.error().message().find("127.0.0.1"), std::string::npos);
}

TEST(OpenAIClient, RejectsBadUrls) {
  OpenAIClientOptions o;
  o.base_url = "https://example.com/v1";
  EXPECT_FALSE(OpenAIClient::create(o).has_value());
  o.base_url = "localhost:8000";
  EXPECT_FALSE(OpenAIClient::create(o).has_value());
}

}  // namespace
}  // namespace dstc::generator
