#include "tcp_store.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pd {
namespace {
enum : uint8_t { kSet = 1, kGet = 2, kAdd = 3 };
enum : uint8_t { kOk = 0, kTimedOut = 1, kBadRequest = 2 };
using clock = std::chrono::steady_clock;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Sends all bytes (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
void send_all(int fd, const void* data, size_t n) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw std::runtime_error(errno_text("send"));
    p += k;
    n -= static_cast<size_t>(k);
  }
}

// Receives exactly n bytes by the deadline; false when the peer closed before the first byte (server side).
bool recv_all(int fd, void* data, size_t n, clock::time_point deadline, bool eof_ok = false) {
  auto p = static_cast<char*>(data);
  size_t got = 0;
  while (got < n) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock::now()).count();
    if (left <= 0) throw std::runtime_error("timed out waiting for the store's reply");
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(errno_text("poll"));
    if (r == 0) continue;
    ssize_t k = ::recv(fd, p + got, n - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k == 0) {
      if (eof_ok && got == 0) return false;
      throw std::runtime_error("the connection was closed");
    }
    if (k < 0) throw std::runtime_error(errno_text("recv"));
    got += static_cast<size_t>(k);
  }
  return true;
}

const auto kForever = clock::time_point::max() - std::chrono::hours(24 * 365);

template <typename T>
void put(std::vector<char>& out, T v) {
  auto p = reinterpret_cast<const char*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
}  // namespace

// ---- server ----

StoreServer::StoreServer(const std::string& host, int port) {
  // Bound to the rendezvous address alone: the store answers no one on the machine's other interfaces.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) throw std::runtime_error("store server: cannot resolve '" + host + "': " + ::gai_strerror(gai));
  std::string last = "no address";
  listen_fd_ = -1;
  for (addrinfo* ai = res; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = errno_text("socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      last = errno_text(("store server on " + host + ":" + std::to_string(port)).c_str());
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) throw std::runtime_error(last);
  acceptor_ = std::thread([this] { accept_loop(); });
}

StoreServer::~StoreServer() {
  stop_ = true;
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);  // wakes the workers blocked in recv
  }
  changed_.notify_all();  // and those waiting for a key
  for (auto& t : workers_) t.join();
  for (int fd : connections_) ::close(fd);
  ::close(listen_fd_);
}

void StoreServer::accept_loop() {
  while (!stop_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    connections_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

// Request: u8 op, u32 key length, key, u64 value length, value. Reply: u8 status, u64 length, bytes.
// get's value is its wait in ms (int64); add's is the delta (int64).
void StoreServer::serve(int fd) {
  try {
    for (;;) {
      uint8_t op;
      if (!recv_all(fd, &op, 1, kForever, true)) return;
      uint32_t klen;
      recv_all(fd, &klen, sizeof klen, kForever);
      if (klen > (1u << 20)) return;
      std::string key(klen, '\0');
      recv_all(fd, key.data(), klen, kForever);
      uint64_t vlen;
      recv_all(fd, &vlen, sizeof vlen, kForever);
      if (vlen > (1ull << 30)) return;
      std::vector<char> value(vlen);
      recv_all(fd, value.data(), vlen, kForever);

      uint8_t status = kOk;
      std::vector<char> reply;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (op == kSet) {
          data_[key] = std::move(value);
          changed_.notify_all();
        } else if (op == kGet && vlen == sizeof(int64_t)) {
          int64_t wait_ms;
          std::memcpy(&wait_ms, value.data(), sizeof wait_ms);
          bool found = changed_.wait_for(lock, ms(wait_ms), [&] { return stop_ || data_.count(key) > 0; });
          if (stop_) return;
          if (found) reply = data_[key];
          else status = kTimedOut;
        } else if (op == kAdd && vlen == sizeof(int64_t)) {
          int64_t delta, now = 0;
          std::memcpy(&delta, value.data(), sizeof delta);
          auto& slot = data_[key];
          if (slot.size() == sizeof now) std::memcpy(&now, slot.data(), sizeof now);
          now += delta;
          slot.assign(reinterpret_cast<char*>(&now), reinterpret_cast<char*>(&now) + sizeof now);
          reply = slot;
          changed_.notify_all();
        } else {
          status = kBadRequest;
        }
      }
      std::vector<char> out;
      put<uint8_t>(out, status);
      put<uint64_t>(out, reply.size());
      out.insert(out.end(), reply.begin(), reply.end());
      send_all(fd, out.data(), out.size());
    }
  } catch (...) {
    // A client went away mid-request: its connection ends, the store goes on.
  }
}

// ---- client ----

StoreClient::StoreClient(std::string host, int port, ms timeout)
    : where_(host + ":" + std::to_string(port)), timeout_(timeout) {
  const auto deadline = clock::now() + timeout;
  std::string last = "no attempt";
  while (fd_ < 0) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (gai != 0) {
      last = std::string("cannot resolve ") + host + ": " + gai_strerror(gai);
    } else {
      for (auto* a = res; a && fd_ < 0; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          fd_ = fd;
        } else {
          last = errno_text("connect");
          ::close(fd);
        }
      }
      ::freeaddrinfo(res);
    }
    if (fd_ >= 0) break;
    if (clock::now() >= deadline)
      throw std::runtime_error("cannot reach the store at " + where_ + " within " + std::to_string(timeout.count()) + " ms (" + last + ")");
    std::this_thread::sleep_for(ms(50));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

StoreClient::~StoreClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<char> StoreClient::request(uint8_t op, const std::string& key, const std::vector<char>& value, ms reply_within) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) throw std::runtime_error("store at " + where_ + ": the connection broke in an earlier request");
  std::vector<char> out;
  put<uint8_t>(out, op);
  put<uint32_t>(out, static_cast<uint32_t>(key.size()));
  out.insert(out.end(), key.begin(), key.end());
  put<uint64_t>(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
  try {
    send_all(fd_, out.data(), out.size());
    const auto deadline = clock::now() + reply_within;
    uint8_t status;
    uint64_t length;
    recv_all(fd_, &status, 1, deadline);
    recv_all(fd_, &length, sizeof length, deadline);
    std::vector<char> reply(length);
    recv_all(fd_, reply.data(), length, deadline);
    if (status == kTimedOut) throw std::runtime_error("key '" + key + "' did not appear in time");
    if (status != kOk) throw std::runtime_error("the store refused the request");
    return reply;
  } catch (const std::exception& e) {
    broken_ = true;
    throw std::runtime_error("store at " + where_ + ": " + e.what());
  }
}

void StoreClient::set(const std::string& key, const std::vector<char>& value) { request(kSet, key, value, timeout_); }

// The server answers a get when the key comes or its wait ends: the reply may take the wait plus the timeout.
std::vector<char> StoreClient::get(const std::string& key, ms timeout) {
  std::vector<char> wait;
  put<int64_t>(wait, timeout.count());
  return request(kGet, key, wait, timeout + timeout_);
}

int64_t StoreClient::add(const std::string& key, int64_t delta) { return add(key, delta, timeout_); }

int64_t StoreClient::add(const std::string& key, int64_t delta, ms limit) {
  std::vector<char> value;
  put<int64_t>(value, delta);
  auto reply = request(kAdd, key, value, limit);
  int64_t now;
  std::memcpy(&now, reply.data(), sizeof now);
  return now;
}

void GlooStore::wait(const std::vector<std::string>& keys) { wait(keys, gloo::rendezvous::Store::kDefaultTimeout); }

void GlooStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  const auto deadline = clock::now() + timeout;
  for (const auto& key : keys) {
    auto left = std::max(ms(0), std::chrono::duration_cast<ms>(deadline - clock::now()));
    client_.get(prefix_ + key, left);
  }
}
}  // namespace pd
