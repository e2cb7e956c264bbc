// SPDX-License-Identifier: Apache-2.0
#pragma once

// Endpoint and token lookup from the environment, in the places and order huggingface_hub uses,
// so that `hf auth login` and HF_TOKEN work unchanged. The environment accessor is injectable so
// tests never touch the real environment.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace hfm::hub {

// Returns the value of an environment variable, nullopt when unset. An empty value counts as
// unset everywhere below.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

// The process environment (std::getenv). Safe to call concurrently with other readers; the
// process must not modify its environment while it runs (nothing in hf-mount does).
EnvLookup processEnv();

// HF_ENDPOINT, default "https://huggingface.co", trailing '/' stripped.
std::string endpointFromEnv(const EnvLookup& env);

// HF_TOKEN_PATH, else $HF_HOME/token, else ($XDG_CACHE_HOME or ~/.cache)/huggingface/token.
// A leading '~' is expanded with HOME.
std::filesystem::path tokenPath(const EnvLookup& env);

// HF_TOKEN (then the legacy HUGGING_FACE_HUB_TOKEN), else the file at tokenPath(env). The value
// is cleaned as huggingface_hub does ('\r' and '\n' removed, surrounding whitespace trimmed); an
// empty result is nullopt. An unreadable token file is treated as absent.
std::optional<std::string> tokenFromEnv(const EnvLookup& env);

// The cleaning step on its own.
std::optional<std::string> cleanToken(std::string_view raw);

}  // namespace hfm::hub
