// SPDX-License-Identifier: Apache-2.0
#include "common/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <span>
#include <stdexcept>

#include "common/hex.h"

namespace hfm::common {

struct Digest::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(Algorithm algorithm) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = algorithm == Algorithm::kSha256 ? EVP_sha256() : EVP_sha1();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1) {
    throw std::bad_alloc();  // libcrypto fails here only when out of memory
  }
}

Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::update(const void* data, std::size_t size) {
  if (size > 0) {
    EVP_DigestUpdate(impl_->ctx, data, size);
  }
}

std::string Digest::finishHex() {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  return toHex(std::span<const std::uint8_t>(out.data(), len));
}

Digest::Digest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Digest Digest::clone() const {
  auto copy = std::make_unique<Impl>();
  copy->ctx = EVP_MD_CTX_new();
  if (copy->ctx == nullptr || EVP_MD_CTX_copy_ex(copy->ctx, impl_->ctx) != 1) {
    throw std::bad_alloc();
  }
  return Digest(std::move(copy));
}

std::string Digest::peekHex() const { return clone().finishHex(); }

std::string sha256Hex(std::string_view data) {
  Digest d(Digest::Algorithm::kSha256);
  d.update(data);
  return d.finishHex();
}

std::string sha1Hex(std::string_view data) {
  Digest d(Digest::Algorithm::kSha1);
  d.update(data);
  return d.finishHex();
}

Digest gitBlobDigest(std::uint64_t size) {
  Digest d(Digest::Algorithm::kSha1);
  std::string header = "blob " + std::to_string(size);
  d.update(header.data(), header.size() + 1);  // the terminating NUL is part of the object
  return d;
}

std::string gitBlobOid(std::string_view content) {
  Digest d = gitBlobDigest(content.size());
  d.update(content);
  return d.finishHex();
}

std::string hmacSha256Hex(std::string_view key, std::string_view message) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return toHex(std::span<const std::uint8_t>(out.data(), len));
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hfm::common
