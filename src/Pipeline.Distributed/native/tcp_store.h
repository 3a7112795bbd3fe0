// A small TCP key-value store for rendezvous across hosts without a shared file system: rank 0 runs the
// server, every rank (rank 0 too) talks to it through clients. Requests: set, get (the server waits for the
// key up to the request's timeout), add (an int64 counter). One request at a time per client.
#pragma once
#include <gloo/rendezvous/store.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pd {
using ms = std::chrono::milliseconds;

class StoreServer {
 public:
  // Listens on `host` (MASTER_ADDR: an address or a name of this machine) only, not on every interface; throws when
  // the address does not resolve to one of this machine's or the port is taken.
  StoreServer(const std::string& host, int port);
  ~StoreServer();                  // stops accepting, closes every connection, joins every thread
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<char>> data_;
  std::vector<int> connections_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

class StoreClient {
 public:
  // Connects, retrying until timeout (the server may not be up yet).
  StoreClient(std::string host, int port, ms timeout);
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  void set(const std::string& key, const std::vector<char>& value);
  std::vector<char> get(const std::string& key, ms timeout);
  std::vector<char> get(const std::string& key) { return get(key, timeout_); }
  int64_t add(const std::string& key, int64_t delta);
  // add, with the reply awaited at most `limit` (a lost-rank diagnosis must not wait a whole timeout per request).
  int64_t add(const std::string& key, int64_t delta, ms limit);
  const std::string& where() const { return where_; }

 private:
  std::vector<char> request(uint8_t op, const std::string& key, const std::vector<char>& value, ms reply_within);

  int fd_ = -1;
  bool broken_ = false;  // a request failed mid-way: a late reply would answer the next one, so no more requests
  std::string where_;
  ms timeout_;
  std::mutex mu_;
};

// Gloo's rendezvous interface over a client, with the keys under a prefix.
class GlooStore : public gloo::rendezvous::Store {
 public:
  GlooStore(StoreClient& client, std::string prefix) : client_(client), prefix_(std::move(prefix)) {}
  void set(const std::string& key, const std::vector<char>& data) override { client_.set(prefix_ + key, data); }
  std::vector<char> get(const std::string& key) override { return client_.get(prefix_ + key); }
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  StoreClient& client_;
  std::string prefix_;
};
}  // namespace pd
