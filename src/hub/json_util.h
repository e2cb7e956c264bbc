// SPDX-License-Identifier: Apache-2.0
#pragma once

// The small JSON helpers the hub layer's parsers share (hub_json.cpp, xet_json.cpp): reading a
// body, looking up a field, range-checked integers, and the "error" of an LFS batch object.
// Internal to src/hub: only .cpp files include it, so nlohmann::json stays out of every other
// header. All functions are thread-safe (pure).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "hub/http_util.h"
#include "hub/hub_error.h"

namespace hfm::hub::detail {

// A kBadResponse with `reason` (no request context: the caller adds it).
inline common::Unexpected<HubError> bad(std::string reason) {
  return hubError(HubErrorKind::kBadResponse, std::move(reason));
}

// `body` parsed, or nullopt when it is not JSON (never throws).
inline std::optional<nlohmann::json> parseJson(std::string_view body) {
  nlohmann::json parsed =
      nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return std::nullopt;
  }
  return parsed;
}

// Member `name` of `object` (which must be a JSON object), or nullptr when absent.
inline const nlohmann::json* field(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// A non-negative JSON integer no larger than `max`; floats, negatives and strings are refused.
inline std::optional<std::uint64_t> unsignedValue(const nlohmann::json* value, std::uint64_t max) {
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_unsigned()) {
    auto v = value->get<std::uint64_t>();
    return v <= max ? std::optional<std::uint64_t>(v) : std::nullopt;
  }
  if (value->is_number_integer()) {
    auto v = value->get<std::int64_t>();
    return v >= 0 && static_cast<std::uint64_t>(v) <= max
               ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(v))
               : std::nullopt;
  }
  return std::nullopt;
}

// The "error" of one object of an LFS batch answer, as the HubError its code maps to (a code
// outside 100-599 counts as 400); kBadResponse when it lacks an integer "code" and a string
// "message"; nullopt when the object has no (or a null) "error".
inline std::optional<common::Unexpected<HubError>> batchObjectError(const nlohmann::json& object) {
  const nlohmann::json* error = field(object, "error");
  if (error == nullptr || error->is_null()) {
    return std::nullopt;
  }
  const nlohmann::json* code = error->is_object() ? field(*error, "code") : nullptr;
  const nlohmann::json* message = error->is_object() ? field(*error, "message") : nullptr;
  if (code == nullptr || !code->is_number_integer() || message == nullptr ||
      !message->is_string()) {
    return bad("object \"error\" without an integer code and a string message");
  }
  auto status = code->get<std::int64_t>();
  return common::Unexpected<HubError>(
      errorFromStatus(status >= 100 && status <= 599 ? static_cast<int>(status) : 400, "",
                      message->get_ref<const std::string&>(), "object refused"));
}

}  // namespace hfm::hub::detail
