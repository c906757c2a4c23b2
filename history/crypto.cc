// The direct SHA256_* functions are deprecated in OpenSSL 3.0 but still provided; asking for the
// 1.1.1 API level keeps them declared without deprecation warnings. See ChainHash for why.
#define OPENSSL_API_COMPAT 0x10101000L

#include "history/crypto.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <string>

#include "fmt/core.h"

namespace faultline::history {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MdDeleter {
  void operator()(EVP_MD* m) const { EVP_MD_free(m); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// The text of OpenSSL's most recent error on this thread, emptied from its queue.
std::string OpensslError() {
  unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

// SHA-256 is fetched once per process: EVP_MD_fetch takes a lock and walks the provider tables.
const EVP_MD* Sha256Md() {
  static const std::unique_ptr<EVP_MD, MdDeleter> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

Result<std::string> PkeyToPem(EVP_PKEY* key, bool private_key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return MakeError(ErrorCode::kInternal, "write pem: " + OpensslError());
  int ok = private_key
               ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return MakeError(ErrorCode::kInternal, "write pem: " + OpensslError());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int): OpenSSL's type
  return std::string(data, static_cast<size_t>(size));
}

Result<PkeyPtr> PkeyFromPem(std::string_view pem, bool private_key) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return MakeError(ErrorCode::kInternal, "read pem: " + OpensslError());
  PkeyPtr key(private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                          : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("not a PEM {} key: {}", private_key ? "private" : "public", OpensslError()));
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("not an Ed25519 key: key type is {}", OBJ_nid2sn(EVP_PKEY_get_id(key.get()))));
  }
  return key;
}

Result<std::array<uint8_t, kEd25519KeySize>> RawKey(EVP_PKEY* key, bool private_key) {
  std::array<uint8_t, kEd25519KeySize> raw{};
  size_t size = raw.size();
  int ok = private_key ? EVP_PKEY_get_raw_private_key(key, raw.data(), &size)
                       : EVP_PKEY_get_raw_public_key(key, raw.data(), &size);
  if (ok != 1 || size != raw.size()) {
    return MakeError(ErrorCode::kInternal, "read raw Ed25519 key: " + OpensslError());
  }
  return raw;
}

Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return MakeError(err == ENOENT   ? ErrorCode::kNotFound
                     : err == EACCES ? ErrorCode::kPermissionDenied
                                     : ErrorCode::kInvalidArgument,
                     fmt::format("read {}: {}", path, std::strerror(err)));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("read {}: {}", path, std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) {
      close(fd);
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("read {}: too large for a key file", path));
    }
  }
  close(fd);
  return out;
}

Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("write {}: file exists (remove it to make a new key pair)", path));
    }
    return MakeError(err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kInvalidArgument,
                     fmt::format("write {}: {}", path, std::strerror(err)));
  }
  // The umask may have cleared bits of a public key's mode; the private key's stays 0600.
  (void)fchmod(fd, mode);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("write {}: {}", path, std::strerror(errno)));
  }
  return OkStatus();
}

}  // namespace

struct Sha256::Impl {
  MdCtxPtr ctx{EVP_MD_CTX_new()};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  // Allocation failure of a 200-byte context is not an input event; treat it as fatal.
  assert(impl_->ctx != nullptr);
  Reset();
}

Sha256::~Sha256() = default;

void Sha256::Reset() { EVP_DigestInit_ex2(impl_->ctx.get(), Sha256Md(), nullptr); }

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx.get(), data, size);
}

Sha256Digest Sha256::Finish() {
  Sha256Digest out{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &size);
  Reset();
  return out;
}

Sha256Digest Sha256Of(std::string_view data) {
  Sha256Digest out{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &size, Sha256Md(), nullptr);
  return out;
}

Sha256Digest ChainHash(const Sha256Digest& prev, std::string_view record) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, prev.data(), prev.size());
  SHA256_Update(&ctx, record.data(), record.size());
  Sha256Digest out{};
  SHA256_Final(out.data(), &ctx);
  return out;
}

void HexEncodeTo(std::span<const uint8_t> bytes, char* out) {
  // Two characters per byte from one table lookup: hex encoding sits on the log's hot paths.
  static constexpr auto kPairs = [] {
    std::array<char, 512> t{};
    constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      t[2 * i] = kDigits[i >> 4];
      t[2 * i + 1] = kDigits[i & 0xf];
    }
    return t;
  }();
  for (uint8_t b : bytes) {
    std::memcpy(out, &kPairs[2 * b], 2);
    out += 2;
  }
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2, '\0');
  HexEncodeTo(bytes, out.data());
  return out;
}

bool HexDecode(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  FAULTLINE_ASSIGN_OR_RETURN(PkeyPtr key, PkeyFromPem(pem, /*private_key=*/false));
  FAULTLINE_ASSIGN_OR_RETURN(auto raw, RawKey(key.get(), /*private_key=*/false));
  return FromRaw(raw);
}

std::string PublicKey::Fingerprint() const {
  Sha256Digest d =
      Sha256Of(std::string_view(reinterpret_cast<const char*>(raw_.data()), raw_.size()));
  return HexEncode(std::span<const uint8_t>(d.data(), 8));
}

Result<std::string> PublicKey::ToPem() const {
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw_.data(), raw_.size()));
  if (!key) return MakeError(ErrorCode::kInternal, "public key: " + OpensslError());
  return PkeyToPem(key.get(), /*private_key=*/false);
}

bool PublicKey::Verify(std::string_view message, std::span<const uint8_t> signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw_.data(), raw_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!key || !ctx) {
    ERR_clear_error();
    return false;
  }
  bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

Result<PrivateKey> PrivateKey::Generate() {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw_key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    return MakeError(ErrorCode::kInternal, "generate Ed25519 key: " + OpensslError());
  }
  PkeyPtr key(raw_key);
  PrivateKey out;
  FAULTLINE_ASSIGN_OR_RETURN(out.seed_, RawKey(key.get(), /*private_key=*/true));
  FAULTLINE_ASSIGN_OR_RETURN(auto pub, RawKey(key.get(), /*private_key=*/false));
  out.public_ = PublicKey::FromRaw(pub);
  return out;
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  FAULTLINE_ASSIGN_OR_RETURN(PkeyPtr key, PkeyFromPem(pem, /*private_key=*/true));
  PrivateKey out;
  FAULTLINE_ASSIGN_OR_RETURN(out.seed_, RawKey(key.get(), /*private_key=*/true));
  FAULTLINE_ASSIGN_OR_RETURN(auto pub, RawKey(key.get(), /*private_key=*/false));
  out.public_ = PublicKey::FromRaw(pub);
  return out;
}

Result<std::string> PrivateKey::ToPem() const {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  if (!key) return MakeError(ErrorCode::kInternal, "private key: " + OpensslError());
  return PkeyToPem(key.get(), /*private_key=*/true);
}

Result<Ed25519Signature> PrivateKey::Sign(std::string_view message) const {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  Ed25519Signature sig{};
  size_t size = sig.size();
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      size != sig.size()) {
    return MakeError(ErrorCode::kInternal, "sign with Ed25519 key: " + OpensslError());
  }
  return sig;
}

Result<KeyPairPaths> GenerateKeyPairFiles(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    int err = errno;
    return MakeError(err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kInvalidArgument,
                     fmt::format("keygen: create directory {}: {}", dir, std::strerror(err)));
  }
  KeyPairPaths paths{.private_key = dir + "/" + std::string(kPrivateKeyFileName),
                     .public_key = dir + "/" + std::string(kPublicKeyFileName)};
  for (const std::string* p : {&paths.private_key, &paths.public_key}) {
    if (access(p->c_str(), F_OK) == 0) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("keygen: {}: file exists (remove it to make a new key pair)", *p));
    }
  }
  FAULTLINE_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate());
  FAULTLINE_ASSIGN_OR_RETURN(std::string private_pem, key.ToPem());
  FAULTLINE_ASSIGN_OR_RETURN(std::string public_pem, key.public_key().ToPem());
  if (Status s = WriteNewFile(paths.private_key, private_pem, 0600); !s) {
    return s.error().WithContext("keygen");
  }
  if (Status s = WriteNewFile(paths.public_key, public_pem, 0644); !s) {
    return s.error().WithContext("keygen");
  }
  return paths;
}

Result<PrivateKey> LoadPrivateKey(const std::string& path) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path));
  Result<PrivateKey> key = PrivateKey::FromPem(pem);
  if (!key) return key.error().WithContext("private key " + path);
  return key;
}

Result<PublicKey> LoadPublicKey(const std::string& path) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path));
  Result<PublicKey> key = PublicKey::FromPem(pem);
  if (!key) {
    std::string message = fmt::format("public key {}: {}", path, key.error().message());
    if (pem.find("PRIVATE KEY") != std::string::npos) {
      message += " (this is a private key file; pass the public one, faultline.pub)";
    }
    return MakeError(key.error().code(), std::move(message));
  }
  return key;
}

}  // namespace faultline::history
