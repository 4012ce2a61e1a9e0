#include "io/cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include <openssl/evp.h>

namespace vstar::io {
namespace fs = std::filesystem;

fs::path CacheRoot() {
  if (const char* v = std::getenv("VSTAR_CACHE"); v && *v) return v;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "vstar";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "vstar";
  return fs::temp_directory_path() / "vstar-cache";
}

namespace {
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 unavailable");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};
}  // namespace

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Hex();
}

std::string Sha256File(const fs::path& file) {
  std::ifstream f(file, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + file.string());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), buf.size());
    h.Update(buf.data(), f.gcount());
  }
  return h.Hex();
}

fs::path CacheDir(std::string_view kind, std::string_view key) {
  std::string hash = Sha256Hex(key);
  return CacheRoot() / std::string(kind) / hash.substr(0, 2) / hash;
}

void WriteFileAtomic(const fs::path& path, std::string_view data) {
  // "conf.svg" has no parent: create_directories("") would throw.
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(getpid()) + "-" + std::to_string(rng());
  // write(2) and close(2) rather than an ofstream: on a full disk the last buffer often fails only
  // when it is flushed at close, which an ofstream's destructor ignores (the truncated file would
  // then be renamed into place), and errno says why (ENOSPC, EDQUOT, EROFS). A failed temp file is
  // removed, so the leftovers of failed writes do not fill the disk further.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  int err = 0;
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  std::error_code ec;
  if (err == 0) fs::rename(tmp, path, ec);
  if (err != 0 || ec) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " +
                             (err != 0 ? std::string(std::strerror(err)) : ec.message()));
  }
}

}  // namespace vstar::io
