// The project's one wrapper around OpenSSL (libcrypto): SHA-256, Ed25519 key pairs, signatures and
// key files, plus hex encoding. No OpenSSL type or header appears here, so only crypto.cc depends
// on OpenSSL.
//
// Keys are small value types holding raw key bytes (32 bytes each, RFC 8032); an OpenSSL key object
// is made for each signature or verification, which costs tens of microseconds and is fine for the
// log's checkpoints (a few per second at most).
//
// Thread-safety: Sha256 is a non-shared object (one per thread); everything else is a free function
// or an immutable value, safe to use from many threads.
#ifndef FAULTLINE_HISTORY_CRYPTO_H_
#define FAULTLINE_HISTORY_CRYPTO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace faultline::history {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// Incremental SHA-256 through EVP. The message digest is fetched once per object, so reusing one
// object for many short messages (Reset, Update, Finish) avoids per-message allocations.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Starts a new message; Finish also leaves the object ready for the next one.
  void Reset();
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  Sha256Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot SHA-256.
Sha256Digest Sha256Of(std::string_view data);

// SHA-256(prev || record): one link of a hash chain. This is the log's hot path (a few hundred
// bytes per call, millions of calls), so it uses OpenSSL's direct SHA-256 functions, which share
// the SHA-NI code with EVP but skip its per-message provider dispatch (about 85 ns, a third of
// the cost of verifying a 165-byte record).
Sha256Digest ChainHash(const Sha256Digest& prev, std::string_view record);

// Lowercase hex of bytes, two characters per byte.
std::string HexEncode(std::span<const uint8_t> bytes);
// Writes 2 * bytes.size() lowercase hex characters to out.
// REQUIRES: out points to at least 2 * bytes.size() characters.
void HexEncodeTo(std::span<const uint8_t> bytes, char* out);
// Decodes exactly out.size() bytes from 2 * out.size() hex characters (either case); false if the
// text has another length or a non-hex character.
[[nodiscard]] bool HexDecode(std::string_view hex, std::span<uint8_t> out);

inline constexpr size_t kEd25519KeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;

// An Ed25519 public key: all a CI job needs to check a log's signatures.
class PublicKey {
 public:
  static PublicKey FromRaw(const std::array<uint8_t, kEd25519KeySize>& raw) {
    PublicKey k;
    k.raw_ = raw;
    return k;
  }
  // Parses a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block holding an Ed25519 key.
  static Result<PublicKey> FromPem(std::string_view pem);

  const std::array<uint8_t, kEd25519KeySize>& raw() const { return raw_; }
  std::string Hex() const { return HexEncode(raw_); }
  // The first 16 hex characters of SHA-256 of the raw key, for messages.
  std::string Fingerprint() const;
  Result<std::string> ToPem() const;

  // True when signature is a valid Ed25519 signature of message by this key.
  bool Verify(std::string_view message, std::span<const uint8_t> signature) const;

  bool operator==(const PublicKey&) const = default;

 private:
  std::array<uint8_t, kEd25519KeySize> raw_{};
};

// An Ed25519 private key (its 32-byte seed) with its public key.
class PrivateKey {
 public:
  // A new key from the system's random generator.
  static Result<PrivateKey> Generate();
  // Parses a PEM "PRIVATE KEY" (PKCS#8, unencrypted) block holding an Ed25519 key.
  static Result<PrivateKey> FromPem(std::string_view pem);

  const PublicKey& public_key() const { return public_; }
  Result<std::string> ToPem() const;
  Result<Ed25519Signature> Sign(std::string_view message) const;

 private:
  std::array<uint8_t, kEd25519KeySize> seed_{};
  PublicKey public_;
};

// Key files as written by `faultline audit keygen DIR`.
inline constexpr std::string_view kPrivateKeyFileName = "faultline.key";
inline constexpr std::string_view kPublicKeyFileName = "faultline.pub";

struct KeyPairPaths {
  std::string private_key;  // DIR/faultline.key, mode 0600
  std::string public_key;   // DIR/faultline.pub, mode 0644
};

// Generates a key pair and writes both PEM files into dir (created if missing). Refuses to
// overwrite an existing key file (kInvalidArgument naming it).
Result<KeyPairPaths> GenerateKeyPairFiles(const std::string& dir);
Result<PrivateKey> LoadPrivateKey(const std::string& path);
Result<PublicKey> LoadPublicKey(const std::string& path);

}  // namespace faultline::history

#endif  // FAULTLINE_HISTORY_CRYPTO_H_
