// Process groups over Gloo (CPU): rendezvous through the TCP store, in-place collectives on raw buffers, and
// a lost rank named in the error. Every rank bumps a heartbeat counter in the store from its own thread and
// connection; when a collective fails, the survivor watches the counters for a short window and names the
// ranks whose counters stood still (or rank 0, when its store cannot be reached at all).
#include "pipeline_distributed.h"
#include "tcp_store.h"

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <dlfcn.h>
#include <unistd.h>

namespace {
using pd::ms;
thread_local std::string last_error;

std::string heartbeat_key(int rank) { return "pipeline/heartbeat/" + std::to_string(rank); }

// Bumps this rank's counter every interval until stopped; quietly ends when the store goes away.
class Heartbeat {
 public:
  Heartbeat(std::unique_ptr<pd::StoreClient> client, int rank, ms interval)
      : client_(std::move(client)), key_(heartbeat_key(rank)), interval_(interval), thread_([this] { run(); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      try {
        client_->add(key_, 1);
      } catch (...) {
        return;  // the store host is gone: the collectives report it
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  std::unique_ptr<pd::StoreClient> client_;
  std::string key_;
  ms interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// bfloat16 as its bits: Debian's Gloo 0.5 has float16 but no bfloat16, so its reductions are given here
// (element by element through float, rounded to nearest even); Gloo still runs the algorithm.
float bf16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
template <typename F>
void bf16_apply(void* c, const void* a, const void* b, size_t n, F f) {
  auto out = static_cast<uint16_t*>(c);
  auto x = static_cast<const uint16_t*>(a);
  auto y = static_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; ++i) out[i] = float_to_bf16(f(bf16_to_float(x[i]), bf16_to_float(y[i])));
}

size_t element_size(int32_t dtype) {
  switch (dtype) {
    case PD_FLOAT32: return 4;
    case PD_FLOAT64: return 8;
    case PD_BFLOAT16: return 2;
    case PD_INT64: return 8;
    default: throw std::invalid_argument("unknown dtype " + std::to_string(dtype) + " (0 float32, 1 float64, 2 bfloat16, 3 int64)");
  }
}

template <typename T>
gloo::AllreduceOptions::Func typed_reduce(int32_t op) {
  switch (op) {
    case PD_SUM: case PD_AVG: return [](void* c, const void* a, const void* b, size_t n) { gloo::sum<T>(c, a, b, n); };
    case PD_MAX: return [](void* c, const void* a, const void* b, size_t n) { gloo::max<T>(c, a, b, n); };
    case PD_MIN: return [](void* c, const void* a, const void* b, size_t n) { gloo::min<T>(c, a, b, n); };
    default: throw std::invalid_argument("unknown reduce op " + std::to_string(op) + " (0 sum, 1 avg, 2 max, 3 min)");
  }
}

gloo::AllreduceOptions::Func reduce_function(int32_t dtype, int32_t op) {
  switch (dtype) {
    case PD_FLOAT32: return typed_reduce<float>(op);
    case PD_FLOAT64: return typed_reduce<double>(op);
    case PD_INT64: return typed_reduce<int64_t>(op);
    case PD_BFLOAT16:
      switch (op) {
        case PD_SUM: case PD_AVG: return [](void* c, const void* a, const void* b, size_t n) { bf16_apply(c, a, b, n, [](float x, float y) { return x + y; }); };
        case PD_MAX: return [](void* c, const void* a, const void* b, size_t n) { bf16_apply(c, a, b, n, [](float x, float y) { return std::max(x, y); }); };
        case PD_MIN: return [](void* c, const void* a, const void* b, size_t n) { bf16_apply(c, a, b, n, [](float x, float y) { return std::min(x, y); }); };
        default: break;
      }
      throw std::invalid_argument("unknown reduce op " + std::to_string(op) + " (0 sum, 1 avg, 2 max, 3 min)");
    default: element_size(dtype); throw std::logic_error("unreachable");
  }
}

void divide(void* data, int64_t count, int32_t dtype, int size) {
  switch (dtype) {
    case PD_FLOAT32: for (auto p = static_cast<float*>(data), e = p + count; p != e; ++p) *p /= static_cast<float>(size); break;
    case PD_FLOAT64: for (auto p = static_cast<double*>(data), e = p + count; p != e; ++p) *p /= size; break;
    case PD_BFLOAT16: for (auto p = static_cast<uint16_t*>(data), e = p + count; p != e; ++p) *p = float_to_bf16(bf16_to_float(*p) / static_cast<float>(size)); break;
    default: throw std::invalid_argument("all_reduce AVG needs a floating-point dtype");
  }
}
}  // namespace

struct PdGroup {
  int rank = 0;
  int size = 1;
  ms timeout{0};
  ms heartbeat_interval{250};
  std::unique_ptr<pd::StoreServer> server;  // rank 0 only; declared first so it goes last
  std::unique_ptr<pd::StoreClient> store;
  std::shared_ptr<gloo::Context> context;
  std::unique_ptr<Heartbeat> heartbeat;
  std::mutex op_mu;  // one collective at a time: they share tag 0 on the context
  std::mutex lost_mu;
  std::vector<int> lost;

  ~PdGroup() {
    heartbeat.reset();
    context.reset();  // closes Gloo's pairs before the store goes
    store.reset();
  }

  // Which peers are gone: counters that stand still for a window of max(1.5 s, 6 intervals) capped by the
  // timeout (about one interval when every peer is alive), or the store on rank 0 that cannot be reached.
  std::string diagnose(std::vector<int>& out) {
    out.clear();
    if (size <= 1) return {};
    std::vector<int64_t> first(static_cast<size_t>(size), -1);
    std::vector<bool> moved(static_cast<size_t>(size), false);
    moved[static_cast<size_t>(rank)] = true;
    const auto window = std::min<ms>(std::max<ms>(ms(1500), heartbeat_interval * 6), timeout);
    const auto deadline = std::chrono::steady_clock::now() + window;
    try {
      // Each read bounded by the window: a store host that hangs (rather than dies) is named as lost too.
      auto read = [&](int r) { return store->add(heartbeat_key(r), 0, window); };
      for (int r = 0; r < size; ++r)
        if (r != rank) first[static_cast<size_t>(r)] = read(r);
      while (std::chrono::steady_clock::now() < deadline && !std::all_of(moved.begin(), moved.end(), [](bool b) { return b; })) {
        std::this_thread::sleep_for(heartbeat_interval / 2);
        for (int r = 0; r < size; ++r)
          if (!moved[static_cast<size_t>(r)] && read(r) != first[static_cast<size_t>(r)]) moved[static_cast<size_t>(r)] = true;
      }
    } catch (const std::exception& e) {
      if (rank != 0) {
        out.push_back(0);
        return "rank 0 is lost (the store it serves is unreachable: " + std::string(e.what()) + ")";
      }
      return "the store cannot be read (" + std::string(e.what()) + ")";
    }
    for (int r = 0; r < size; ++r)
      if (!moved[static_cast<size_t>(r)]) out.push_back(r);
    if (out.empty()) return "every peer still has a heartbeat";
    std::ostringstream text;
    text << (out.size() == 1 ? "rank " : "ranks ");
    for (size_t k = 0; k < out.size(); ++k) text << (k ? ", " : "") << out[k];
    text << (out.size() == 1 ? " is" : " are") << " lost (no heartbeat for " << window.count() << " ms)";
    return text.str();
  }

  std::string failure(const std::string& what, const std::string& cause) {
    std::vector<int> now_lost;
    auto diagnosis = diagnose(now_lost);
    {
      std::lock_guard<std::mutex> lock(lost_mu);
      lost = now_lost;
    }
    std::ostringstream text;
    text << "gloo " << what << " failed on rank " << rank << " of " << size;
    if (!diagnosis.empty()) text << ": " << diagnosis;
    text << "; cause: " << cause;
    return text.str();
  }

  template <typename F>
  void run(const std::string& what, F&& op) {
    if (!context) throw std::runtime_error("the group is closed");
    std::lock_guard<std::mutex> lock(op_mu);
    try {
      op();
    } catch (const std::exception& e) {
      throw std::runtime_error(failure(what, e.what()));
    }
  }
};

#define PD_TRY try {
#define PD_CATCH(fail)                        \
  }                                           \
  catch (const std::exception& e) {           \
    last_error = e.what();                    \
    return fail;                              \
  }                                           \
  catch (...) {                               \
    last_error = "unknown native error";      \
    return fail;                              \
  }

PD_API const char* pd_last_error(void) { return last_error.c_str(); }

// TorchSharp's libtorch_cpu.so exports ~300 symbols of its own, newer Gloo. The process loads it (and us)
// RTLD_LOCAL, so ours bind to Debian's libgloo; this says where they did bind, and a group refuses to form
// if it is anywhere else.
PD_API const char* pd_gloo_library(void) {
  static std::string path = [] {
    Dl_info info{};
    void (*fn)(const gloo::AllreduceOptions&) = &gloo::allreduce;
    return dladdr(reinterpret_cast<void*>(fn), &info) && info.dli_fname ? std::string(info.dli_fname) : std::string("?");
  }();
  return path.c_str();
}

PD_API int32_t pd_has_backend(int32_t backend) {
#ifdef PD_WITH_NCCL
  return backend == PD_GLOO || backend == PD_NCCL ? 1 : 0;
#else
  return backend == PD_GLOO ? 1 : 0;
#endif
}

PD_API PdGroup* pd_group_new(const char* store_host, int32_t store_port, int32_t rank, int32_t size, int32_t backend,
                             int64_t timeout_ms, const char* iface, const char* bind_host) {
  PD_TRY
  if (size < 1) throw std::invalid_argument("world size must be at least 1, got " + std::to_string(size));
  if (rank < 0 || rank >= size) throw std::invalid_argument("rank " + std::to_string(rank) + " is outside world size " + std::to_string(size));
  if (store_port <= 0 || store_port >= 65536) throw std::invalid_argument("store port must be in 1..65535, got " + std::to_string(store_port));
  if (timeout_ms <= 0) throw std::invalid_argument("timeout must be positive, got " + std::to_string(timeout_ms) + " ms");
  if (backend != PD_GLOO) {
    if (backend == PD_NCCL)
      throw std::runtime_error("this build of libpipeline_distributed has no NCCL backend (nccl.h was not found when it was built)");
    throw std::invalid_argument("unknown backend " + std::to_string(backend) + " (0 gloo, 1 nccl)");
  }
  const std::string gloo_library = pd_gloo_library();
  if (gloo_library.find("libgloo.so") == std::string::npos)
    throw std::runtime_error("Gloo's symbols bound to " + gloo_library + ", not Debian's libgloo.so: was a library loaded RTLD_GLOBAL?");
  auto g = std::make_unique<PdGroup>();
  g->rank = rank;
  g->size = size;
  g->timeout = ms(timeout_ms);
  g->heartbeat_interval = std::max(ms(20), std::min(ms(250), g->timeout / 8));
  const std::string host = store_host ? store_host : "";
  if (rank == 0) g->server = std::make_unique<pd::StoreServer>(host, store_port);
  g->store = std::make_unique<pd::StoreClient>(host, store_port, g->timeout);

  gloo::transport::tcp::attr attr;
  if (iface && *iface) {
    attr.iface = iface;
  } else if (bind_host && *bind_host) {
    attr.hostname = bind_host;
  } else {
    char name[256] = {0};
    ::gethostname(name, sizeof name - 1);
    attr.hostname = name;
  }
  try {
    auto device = gloo::transport::tcp::CreateDevice(attr);
    // A generation per rendezvous on this store: a group re-formed on the same store does not read old keys.
    auto generation = g->store->add("pipeline/generation/" + std::to_string(rank), 1);
    pd::GlooStore prefixed(*g->store, "pipeline/gloo/" + std::to_string(generation) + "/");
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(g->timeout);
    context->connectFullMesh(prefixed, device);
    g->context = context;
  } catch (const std::exception& e) {
    throw std::runtime_error("gloo rendezvous failed on rank " + std::to_string(rank) + " of " + std::to_string(size) + " (store " +
                             host + ":" + std::to_string(store_port) + ", timeout " + std::to_string(timeout_ms) +
                             " ms; did every rank start, with the same store address?): " + e.what());
  }
  if (size > 1) {
    g->store->add(heartbeat_key(rank), 1);
    g->heartbeat = std::make_unique<Heartbeat>(std::make_unique<pd::StoreClient>(host, store_port, g->timeout), rank, g->heartbeat_interval);
  }
  return g.release();
  PD_CATCH(nullptr)
}

PD_API void pd_group_free(PdGroup* group) { delete group; }
PD_API int32_t pd_group_rank(PdGroup* group) { return group->rank; }
PD_API int32_t pd_group_size(PdGroup* group) { return group->size; }

PD_API int32_t pd_all_reduce(PdGroup* group, void* data, int64_t count, int32_t dtype, int32_t op) {
  PD_TRY
  element_size(dtype);
  if (op == PD_AVG && dtype == PD_INT64) throw std::invalid_argument("all_reduce AVG needs a floating-point dtype, got int64");
  auto fn = reduce_function(dtype, op);
  if (count < 0 || (count > 0 && !data)) throw std::invalid_argument("all_reduce needs a buffer of count >= 0 elements");
  if (count == 0) return 0;
  group->run("all_reduce", [&] {
    gloo::AllreduceOptions opts(group->context);
    switch (dtype) {
      case PD_FLOAT32: opts.setOutput(static_cast<float*>(data), static_cast<size_t>(count)); break;
      case PD_FLOAT64: opts.setOutput(static_cast<double*>(data), static_cast<size_t>(count)); break;
      case PD_BFLOAT16: opts.setOutput(static_cast<uint16_t*>(data), static_cast<size_t>(count)); break;
      default: opts.setOutput(static_cast<int64_t*>(data), static_cast<size_t>(count)); break;
    }
    opts.setReduceFunction(fn);
    opts.setTimeout(group->timeout);
    gloo::allreduce(opts);
  });
  if (op == PD_AVG) divide(data, count, dtype, group->size);
  return 0;
  PD_CATCH(-1)
}

PD_API int32_t pd_broadcast(PdGroup* group, void* data, int64_t count, int32_t dtype, int32_t root) {
  PD_TRY
  const size_t bytes = element_size(dtype) * static_cast<size_t>(std::max<int64_t>(count, 0));
  if (root < 0 || root >= group->size) throw std::invalid_argument("broadcast root " + std::to_string(root) + " is outside world size " + std::to_string(group->size));
  if (count < 0 || (count > 0 && !data)) throw std::invalid_argument("broadcast needs a buffer of count >= 0 elements");
  if (bytes == 0) return 0;
  group->run("broadcast", [&] {
    // Bytes are bytes: a broadcast copies, whatever the dtype.
    gloo::BroadcastOptions opts(group->context);
    opts.setOutput(static_cast<uint8_t*>(data), bytes);
    opts.setRoot(root);
    opts.setTimeout(group->timeout);
    gloo::broadcast(opts);
  });
  return 0;
  PD_CATCH(-1)
}

PD_API int32_t pd_barrier(PdGroup* group) {
  PD_TRY
  group->run("barrier", [&] {
    gloo::BarrierOptions opts(group->context);
    opts.setTimeout(group->timeout);
    gloo::barrier(opts);
  });
  return 0;
  PD_CATCH(-1)
}

PD_API int32_t pd_lost_ranks(PdGroup* group, int32_t* buffer, int32_t capacity) {
  std::lock_guard<std::mutex> lock(group->lost_mu);
  for (size_t k = 0; k < group->lost.size() && static_cast<int32_t>(k) < capacity; ++k) buffer[k] = group->lost[k];
  return static_cast<int32_t>(group->lost.size());
}

PD_API int32_t pd_store_set(PdGroup* group, const char* key, const uint8_t* value, int64_t length) {
  PD_TRY group->store->set(std::string("user/") + key, std::vector<char>(value, value + length)); return 0; PD_CATCH(-1)
}

PD_API int64_t pd_store_get(PdGroup* group, const char* key, uint8_t* buffer, int64_t capacity) {
  PD_TRY
  auto value = group->store->get(std::string("user/") + key);
  std::memcpy(buffer, value.data(), std::min<size_t>(value.size(), static_cast<size_t>(std::max<int64_t>(capacity, 0))));
  return static_cast<int64_t>(value.size());
  PD_CATCH(-1)
}

PD_API int32_t pd_store_add(PdGroup* group, const char* key, int64_t delta, int64_t* result) {
  PD_TRY *result = group->store->add(std::string("user/") + key, delta); return 0; PD_CATCH(-1)
}
