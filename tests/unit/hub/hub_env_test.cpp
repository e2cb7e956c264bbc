// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_env.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

namespace hfm::hub {
namespace {

EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("hub_env_test." + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::filesystem::path& rel, const std::string& content) const {
    std::filesystem::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << content;
  }

 private:
  std::filesystem::path path_;
};

TEST(HubEnvTest, EndpointDefaultsToHuggingFace) {
  EXPECT_EQ(endpointFromEnv(fakeEnv({})), "https://huggingface.co");
  EXPECT_EQ(endpointFromEnv(fakeEnv({{"HF_ENDPOINT", ""}})), "https://huggingface.co");
}

TEST(HubEnvTest, EndpointStripsTrailingSlashes) {
  EXPECT_EQ(endpointFromEnv(fakeEnv({{"HF_ENDPOINT", "http://hub.internal:8080/"}})),
            "http://hub.internal:8080");
  EXPECT_EQ(endpointFromEnv(fakeEnv({{"HF_ENDPOINT", "http://h//"}})), "http://h");
}

TEST(HubEnvTest, TokenPathPrecedence) {
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"}})), "/home/u/.cache/huggingface/token");
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}})),
            "/xdg/huggingface/token");
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}, {"HF_HOME", "/hf"}})),
            "/hf/token");
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"},
                               {"XDG_CACHE_HOME", "/xdg"},
                               {"HF_HOME", "/hf"},
                               {"HF_TOKEN_PATH", "/secrets/tok"}})),
            "/secrets/tok");
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"}, {"HF_HOME", "~/hf"}})), "/home/u/hf/token");
  EXPECT_EQ(tokenPath(fakeEnv({{"HOME", "/home/u"}, {"HF_TOKEN_PATH", "~/t"}})), "/home/u/t");
}

TEST(HubEnvTest, TokenFromEnvironmentWinsAndIsCleaned) {
  TempDir dir;
  dir.write("token", "from-file\n");
  auto base = std::map<std::string, std::string>{{"HF_TOKEN_PATH", (dir.path() / "token").string()}};
  auto env = base;
  env["HF_TOKEN"] = "  hf_abc\r\n";
  EXPECT_EQ(tokenFromEnv(fakeEnv(env)), "hf_abc");
  env = base;
  env["HUGGING_FACE_HUB_TOKEN"] = "legacy";
  EXPECT_EQ(tokenFromEnv(fakeEnv(env)), "legacy");
  env["HF_TOKEN"] = "";  // empty falls through to the legacy name
  EXPECT_EQ(tokenFromEnv(fakeEnv(env)), "legacy");
  env = base;
  env["HF_TOKEN"] = " \r\n ";  // blank falls through to the file
  EXPECT_EQ(tokenFromEnv(fakeEnv(env)), "from-file");
}

TEST(HubEnvTest, TokenFromFile) {
  TempDir dir;
  dir.write("hf/token", "\r\n  hf_secret \n");
  EXPECT_EQ(tokenFromEnv(fakeEnv({{"HF_HOME", (dir.path() / "hf").string()}})), "hf_secret");
  dir.write("cache/huggingface/token", "xdg-token");
  EXPECT_EQ(tokenFromEnv(fakeEnv({{"XDG_CACHE_HOME", (dir.path() / "cache").string()}})), "xdg-token");
  dir.write("home/.cache/huggingface/token", "home-token");
  EXPECT_EQ(tokenFromEnv(fakeEnv({{"HOME", (dir.path() / "home").string()}})), "home-token");
}

TEST(HubEnvTest, MissingOrEmptyTokenIsNullopt) {
  TempDir dir;
  EXPECT_EQ(tokenFromEnv(fakeEnv({{"HF_TOKEN_PATH", (dir.path() / "none").string()}})), std::nullopt);
  dir.write("empty", " \n\r\n");
  EXPECT_EQ(tokenFromEnv(fakeEnv({{"HF_TOKEN_PATH", (dir.path() / "empty").string()}})), std::nullopt);
  EXPECT_EQ(cleanToken(""), std::nullopt);
  EXPECT_EQ(cleanToken("a\nb"), "ab");
  EXPECT_EQ(cleanToken("\thf_x \t"), "hf_x");
}

}  // namespace
}  // namespace hfm::hub
