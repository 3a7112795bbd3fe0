// torch.distributed: TCPStore rendezvous, process groups (Gloo on CPU; NCCL on CUDA when built with it),
// collectives returning Work handles, and the data-parallel gradient reducer.
//
// Handles: PtStore, PtGroup, PtWork, PtDdp are owned by C# SafeHandles and freed once with their pt_*_free.
// A failed collective is diagnosed before it is reported: every rank bumps a heartbeat counter in the store,
// so the survivor can say which rank is lost (a counter that stopped, or the store host itself unreachable).
#include "shim.h"

#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace {
// 2.x moved the collectives from ProcessGroup to Backend (which Gloo/NCCL now derive from); both have
// the same allreduce/broadcast/allgather/barrier signatures.
#if TORCH_VERSION_MAJOR >= 2
using PgBase = c10d::Backend;
#else
using PgBase = c10d::ProcessGroup;
#endif

using ms = std::chrono::milliseconds;

std::string heartbeat_key(int rank) { return "pipeline/heartbeat/" + std::to_string(rank); }

// Bumps this rank's counter in the store every interval on its own store connection (TCPStore clients
// are not shared across threads); stops quietly when the store goes away.
class Heartbeat {
 public:
  Heartbeat(c10::intrusive_ptr<c10d::Store> store, int rank, ms interval)
      : store_(std::move(store)), key_(heartbeat_key(rank)), interval_(interval), thread_([this] { run(); }) {}
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
        store_->add(key_, 1);
      } catch (...) {
        return;  // the store host is gone: the collectives report it
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  std::string key_;
  ms interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

c10::intrusive_ptr<c10d::TCPStore> make_store(const std::string& host, int port, bool server, c10::optional<std::size_t> workers,
                                             ms timeout) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = server;
  opts.numWorkers = workers;
  opts.waitWorkers = workers.has_value();
  opts.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}
}  // namespace

struct PtStoreImpl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  std::string host;
  int port;
  ms timeout;
};
typedef PtStoreImpl* PtStore;

struct Group {
  std::string backend;
  int rank = 0;
  int size = 1;
  ms timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<PgBase> pg;
  std::unique_ptr<Heartbeat> heartbeat;
  ms heartbeat_interval{250};
  std::mutex lost_mu;
  std::vector<int> lost;

  ~Group() {
    heartbeat.reset();
    pg.reset();  // joins Gloo's worker threads before the store goes
  }

  // Which peers are gone: their heartbeat counters stand still for a few intervals, or the store (on
  // rank 0) cannot be reached at all. Ends once every peer's counter moved (about one interval when all
  // are alive); at most max(1.5 s, 6 intervals), capped by the group's timeout, when one is gone.
  std::string diagnose(std::vector<int>& lost_out) {
    lost_out.clear();
    if (size <= 1) return {};
    std::vector<int64_t> first(static_cast<size_t>(size), -1);
    std::vector<bool> moved(static_cast<size_t>(size), false);
    moved[static_cast<size_t>(rank)] = true;
    const auto window = std::min<ms>(std::max<ms>(ms(1500), heartbeat_interval * 6), timeout);
    const auto deadline = std::chrono::steady_clock::now() + window;
    try {
      for (int r = 0; r < size; ++r)
        if (r != rank) first[static_cast<size_t>(r)] = store->add(heartbeat_key(r), 0);
      while (std::chrono::steady_clock::now() < deadline &&
             !std::all_of(moved.begin(), moved.end(), [](bool b) { return b; })) {
        std::this_thread::sleep_for(heartbeat_interval / 2);
        for (int r = 0; r < size; ++r)
          if (!moved[static_cast<size_t>(r)] && store->add(heartbeat_key(r), 0) != first[static_cast<size_t>(r)])
            moved[static_cast<size_t>(r)] = true;
      }
    } catch (const std::exception& e) {
      if (rank != 0) {
        lost_out.push_back(0);
        return "rank 0 is lost (the TCPStore it hosts is unreachable: " + std::string(e.what()) + ")";
      }
      return "the TCPStore cannot be read (" + std::string(e.what()) + ")";
    }
    for (int r = 0; r < size; ++r)
      if (!moved[static_cast<size_t>(r)]) lost_out.push_back(r);
    if (lost_out.empty()) return "every peer still has a heartbeat";
    std::ostringstream text;
    text << (lost_out.size() == 1 ? "rank " : "ranks ");
    for (size_t k = 0; k < lost_out.size(); ++k) text << (k ? ", " : "") << lost_out[k];
    text << (lost_out.size() == 1 ? " is" : " are") << " lost (no heartbeat for " << window.count() << " ms)";
    return text.str();
  }

  // The message for a failed collective: what failed, where, who is lost, and the backend's own error.
  std::string failure(const std::string& what, const std::string& cause) {
    std::vector<int> now_lost;
    auto diagnosis = diagnose(now_lost);
    {
      std::lock_guard<std::mutex> lock(lost_mu);
      lost = now_lost;
    }
    std::ostringstream text;
    text << backend << " " << what << " failed on rank " << rank << " of " << size;
    if (!diagnosis.empty()) text << ": " << diagnosis;
    text << "; cause: " << cause;
    return text.str();
  }
};

struct PtGroupImpl {
  std::shared_ptr<Group> group;
};
typedef PtGroupImpl* PtGroup;

namespace {
std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// Waits for a backend's work; a failure comes back diagnosed, as a std::runtime_error.
void wait_or_throw(Group& group, const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (...) {
    throw std::runtime_error(group.failure(what, message_of(std::current_exception())));
  }
}

template <typename F>
auto launch_or_throw(Group& group, const std::string& what, F&& launch) -> decltype(launch()) {
  try {
    return launch();
  } catch (...) {
    throw std::runtime_error(group.failure(what, message_of(std::current_exception())));
  }
}

// AVG is SUM then a division (Gloo has no AVG; one code path for both backends).
c10d::ReduceOp reduce_op(int32_t op) {
  switch (op) {
    case 0: case 1: return c10d::ReduceOp::SUM;
    case 2: return c10d::ReduceOp::MAX;
    case 3: return c10d::ReduceOp::MIN;
    default: TORCH_CHECK(false, "unknown reduce op ", op, " (0 sum, 1 avg, 2 max, 3 min)");
  }
}
}  // namespace

// An issued collective; wait() finishes it (the AVG division, the all_gather copies).
struct PtWorkImpl {
  std::shared_ptr<Group> group;
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  std::function<void()> finish;
  bool done = false;
};
typedef PtWorkImpl* PtWork;

// ---- store ----

PT_API PtStore pt_store_new(const char* host, int32_t port, int32_t is_server, int32_t world_size, int64_t timeout_ms) {
  PT_TRY
  TORCH_CHECK(port > 0 && port < 65536, "TCPStore port must be in 1..65535, got ", port);
  TORCH_CHECK(world_size >= 1, "world_size must be at least 1, got ", world_size);
  auto timeout = ms(timeout_ms);
  try {
    auto store = make_store(host, port, is_server != 0, static_cast<std::size_t>(world_size), timeout);
    return new PtStoreImpl{store, host, port, timeout};
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("TCPStore ") + (is_server ? "server" : "client") + " on " + host + ":" +
                             std::to_string(port) + " failed (world size " + std::to_string(world_size) + ", timeout " +
                             std::to_string(timeout_ms) + " ms): " + e.what());
  }
  PT_CATCH(nullptr)
}
PT_API void pt_store_free(PtStore s) { delete s; }

PT_API int32_t pt_store_set(PtStore s, const char* key, const uint8_t* value, int32_t length) {
  PT_TRY s->store->set(key, std::vector<uint8_t>(value, value + length)); return 0; PT_CATCH(-1)
}

// Copies the value (waiting up to the store's timeout for the key) into buf; returns its full length.
PT_API int32_t pt_store_get(PtStore s, const char* key, uint8_t* buf, int32_t capacity) {
  PT_TRY
  auto value = s->store->get(key);
  std::memcpy(buf, value.data(), std::min(value.size(), static_cast<size_t>(std::max(capacity, 0))));
  return static_cast<int32_t>(value.size());
  PT_CATCH(-1)
}

PT_API int32_t pt_store_add(PtStore s, const char* key, int64_t delta, int64_t* result) {
  PT_TRY *result = s->store->add(key, delta); return 0; PT_CATCH(-1)
}

// ---- process group ----

// backend 0 = gloo (CPU tensors), 1 = nccl (CUDA tensors). For Gloo, the device binds to `iface` when
// given, else to `hostname` when given, else to the host's resolved name (loopback as a fallback).
PT_API PtGroup pt_pg_new(PtStore s, int32_t backend, int32_t rank, int32_t size, int64_t timeout_ms, const char* iface,
                         const char* hostname) {
  PT_TRY
  TORCH_CHECK(rank >= 0 && rank < size, "rank ", rank, " is outside world size ", size);
  auto group = std::make_shared<Group>();
  group->rank = rank;
  group->size = size;
  group->timeout = ms(timeout_ms);
  group->store = s->store;
  group->heartbeat_interval = std::max(ms(20), std::min(ms(250), group->timeout / 8));
  if (backend == 0) {
    group->backend = "gloo";
    auto opts = c10d::ProcessGroupGloo::Options::create(group->timeout);
    if (iface && *iface) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    } else if (hostname && *hostname) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    try {
      group->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, rank, size, opts);
    } catch (...) {
      // No heartbeats yet to diagnose with: report the rendezvous itself.
      throw std::runtime_error("gloo rendezvous failed on rank " + std::to_string(rank) + " of " + std::to_string(size) +
                               " (timeout " + std::to_string(timeout_ms) + " ms; did every rank start, with the same store address?): " +
                               message_of(std::current_exception()));
    }
  } else if (backend == 1) {
#ifdef USE_C10D_NCCL
    group->backend = "nccl";
    // NCCL honours the timeout only with blocking wait / async error handling (TORCH_NCCL_* env vars).
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = group->timeout;
    group->pg = c10::intrusive_ptr<PgBase>(c10::make_intrusive<c10d::ProcessGroupNCCL>(group->store, rank, size, opts));
#else
    TORCH_CHECK(false, "this build of the shim has no NCCL backend (libtorch without CUDA, or ProcessGroupNCCL.hpp/nccl.h not found)");
#endif
  } else {
    TORCH_CHECK(false, "unknown backend ", backend, " (0 gloo, 1 nccl)");
  }
  if (size > 1) {
    auto hb_store = make_store(s->host, s->port, false, c10::nullopt, group->timeout);
    group->store->add(heartbeat_key(rank), 1);
    group->heartbeat = std::make_unique<Heartbeat>(hb_store, rank, group->heartbeat_interval);
  }
  return new PtGroupImpl{group};
  PT_CATCH(nullptr)
}
PT_API void pt_pg_free(PtGroup g) { delete g; }
PT_API int32_t pt_pg_rank(PtGroup g) { return g->group->rank; }
PT_API int32_t pt_pg_size(PtGroup g) { return g->group->size; }

// The ranks the last failed collective found lost; returns how many (copies up to capacity).
PT_API int32_t pt_pg_lost_ranks(PtGroup g, int32_t* buf, int32_t capacity) {
  std::lock_guard<std::mutex> lock(g->group->lost_mu);
  const auto& lost = g->group->lost;
  for (size_t k = 0; k < lost.size() && static_cast<int32_t>(k) < capacity; ++k) buf[k] = lost[k];
  return static_cast<int32_t>(lost.size());
}

namespace {
PtWork issue(const std::shared_ptr<Group>& group, const std::string& what, const std::function<c10::intrusive_ptr<c10d::Work>()>& launch,
             std::function<void()> finish = {}) {
  auto work = launch_or_throw(*group, what, launch);
  return new PtWorkImpl{group, work, what, std::move(finish)};
}
}  // namespace

PT_API PtWork pt_pg_all_reduce(PtGroup g, PtTensor t, int32_t op) {
  PT_TRY
  auto group = g->group;
  auto reduce = reduce_op(op);
  at::Tensor tensor = *t;
  TORCH_CHECK(op != 1 || at::isFloatingType(tensor.scalar_type()), "all_reduce AVG needs a floating-point tensor, got ", tensor.scalar_type());
  std::function<void()> finish;
  if (op == 1) finish = [tensor, size = group->size]() mutable { at::NoGradGuard ng; tensor.div_(size); };
  return issue(group, "all_reduce", [&] {
    std::vector<at::Tensor> list{tensor};
    c10d::AllreduceOptions opts;
    opts.reduceOp = reduce;
    return group->pg->allreduce(list, opts);
  }, std::move(finish));
  PT_CATCH(nullptr)
}

PT_API PtWork pt_pg_broadcast(PtGroup g, PtTensor t, int32_t root) {
  PT_TRY
  auto group = g->group;
  TORCH_CHECK(root >= 0 && root < group->size, "broadcast root ", root, " is outside world size ", group->size);
  at::Tensor tensor = *t;
  return issue(group, "broadcast", [&] {
    std::vector<at::Tensor> list{tensor};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    return group->pg->broadcast(list, opts);
  });
  PT_CATCH(nullptr)
}

// outputs: world-size tensors shaped like input, filled in rank order once the work is waited on.
PT_API PtWork pt_pg_all_gather(PtGroup g, PtTensor const* outputs, int32_t n, PtTensor input) {
  PT_TRY
  auto group = g->group;
  TORCH_CHECK(n == group->size, "all_gather needs one output tensor per rank (", group->size, "), got ", n);
  std::vector<at::Tensor> out = pt::tensors(outputs, n);
  at::Tensor in = *input;
  for (const auto& o : out)
    TORCH_CHECK(o.sizes() == in.sizes() && o.scalar_type() == in.scalar_type(), "all_gather outputs must match the input's shape and dtype");
  return issue(group, "all_gather", [&] {
    std::vector<std::vector<at::Tensor>> outs{out};
    std::vector<at::Tensor> ins{in};
    return group->pg->allgather(outs, ins, c10d::AllgatherOptions());
  });
  PT_CATCH(nullptr)
}

PT_API PtWork pt_pg_barrier(PtGroup g) {
  PT_TRY
  auto group = g->group;
  return issue(group, "barrier", [&] { return group->pg->barrier(c10d::BarrierOptions()); });
  PT_CATCH(nullptr)
}

PT_API int32_t pt_work_wait(PtWork w) {
  PT_TRY
  if (w->done) return 0;
  wait_or_throw(*w->group, w->work, w->what);
  w->done = true;
  if (w->finish) w->finish();
  return 0;
  PT_CATCH(-1)
}
PT_API int32_t pt_work_is_completed(PtWork w) { PT_TRY return w->work->isCompleted() ? 1 : 0; PT_CATCH(-1) }
PT_API void pt_work_free(PtWork w) { delete w; }

namespace {
// Broadcasts tensors from root with one collective per device: their bytes, whatever their dtypes, go
// into one flat buffer (a broadcast copies, so bytes are exact), and come back into each tensor.
void broadcast_coalesced(Group& group, const std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  at::NoGradGuard no_grad;
  std::map<std::string, std::vector<at::Tensor>> by_device;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0) by_device[t.device().str()].push_back(t);
  auto bytes_of = [](const at::Tensor& t) { return t.detach().contiguous().reshape(-1).view(at::kByte); };
  for (auto& [device, list] : by_device) {
    std::vector<at::Tensor> parts;
    for (const auto& t : list) parts.push_back(bytes_of(t));
    std::vector<at::Tensor> bucket{at::cat(parts)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    auto work = launch_or_throw(group, what, [&] { return group.pg->broadcast(bucket, opts); });
    wait_or_throw(group, work, what);
    int64_t offset = 0;
    for (auto& t : list) {
      const int64_t n = t.numel() * static_cast<int64_t>(t.element_size());
      auto received = bucket[0].narrow(0, offset, n);
      if (t.is_contiguous()) {
        t.detach().view({-1}).view(at::kByte).copy_(received);
      } else {
        // A byte slice may sit at an offset the wider dtype cannot view: clone it to offset 0 first.
        t.detach().copy_(received.clone().view(t.scalar_type()).view(t.sizes()));
      }
      offset += n;
    }
  }
}
}  // namespace

PT_API int32_t pt_pg_broadcast_coalesced(PtGroup g, PtTensor const* tensors, int32_t n, int32_t root) {
  PT_TRY broadcast_coalesced(*g->group, pt::tensors(tensors, n), root, "broadcast"); return 0; PT_CATCH(-1)
}

// ---- data-parallel gradient reducer ----
//
// Parameters go into buckets (reverse registration order, one dtype/device per bucket, up to cap bytes).
// A post-hook on each parameter's gradient accumulator copies the accumulated .grad into its bucket;
// a full bucket is divided by the world size and all-reduced asynchronously, buckets strictly in order
// (every rank issues the same collectives in the same order). An engine callback at the end of backward
// fills in the gradients of parameters that got none (zeros), launches what is left, waits, and copies
// the averages back into .grad.
namespace {
struct Bucket {
  std::vector<size_t> members;
  std::vector<int64_t> offsets;
  at::Tensor flat;
  int64_t bytes = 0;
  size_t pending = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

struct Reducer : std::enable_shared_from_this<Reducer> {
  std::shared_ptr<Group> group;
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<size_t> slot_of;
  std::vector<bool> ready;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  bool overlap = true;
  bool sync_enabled = true;
  bool callback_queued = false;
  bool any_ready = false;
  size_t next_launch = 0;
  std::string launch_error;
  std::mutex mu;

  void reset() {
    std::fill(ready.begin(), ready.end(), false);
    for (auto& b : buckets) {
      b.pending = b.members.size();
      b.work.reset();
    }
    next_launch = 0;
    callback_queued = false;
    any_ready = false;
    launch_error.clear();
  }

  // Under mu. Copies param k's gradient (zeros when it has none) into its bucket slot.
  void mark_ready_locked(size_t k) {
    if (ready[k]) return;
    ready[k] = true;
    any_ready = true;
    auto& bucket = buckets[bucket_of[k]];
    const auto& p = params[k];
    auto slot = bucket.flat.narrow(0, bucket.offsets[slot_of[k]], p.numel());
    const auto& grad = p.grad();
    if (grad.defined()) {
      slot.copy_(grad.reshape(-1));
    } else {
      slot.zero_();
    }
    --bucket.pending;
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) launch_locked(next_launch++);
  }

  void launch_locked(size_t index) {
    if (!launch_error.empty()) return;
    auto& bucket = buckets[index];
    try {
      bucket.flat.div_(group->size);
      std::vector<at::Tensor> list{bucket.flat};
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10d::ReduceOp::SUM;
      bucket.work = group->pg->allreduce(list, opts);
    } catch (...) {
      launch_error = message_of(std::current_exception());
    }
  }

  // Called from the accumulator post-hook, during backward.
  void on_grad_ready(size_t k) {
    std::lock_guard<std::mutex> lock(mu);
    if (!sync_enabled) return;
    if (!callback_queued) {
      callback_queued = true;
      std::weak_ptr<Reducer> weak = shared_from_this();
      torch::autograd::Engine::get_default_engine().queue_callback([weak] {
        if (auto self = weak.lock()) self->finalize();
      });
    }
    if (overlap) mark_ready_locked(k);
  }

  // Waits for every bucket and writes the averaged gradients; throws a diagnosed error on failure.
  void finalize() {
    std::lock_guard<std::mutex> lock(mu);
    at::NoGradGuard no_grad;
    struct ResetOnExit {
      Reducer* r;
      ~ResetOnExit() { r->reset(); }
    } guard{this};
    for (size_t k = 0; k < params.size(); ++k) mark_ready_locked(k);
    if (!launch_error.empty()) throw std::runtime_error(group->failure("gradient all_reduce", launch_error));
    for (auto& bucket : buckets) wait_or_throw(*group, bucket.work, "gradient all_reduce");
    for (auto& bucket : buckets) {
      for (size_t s = 0; s < bucket.members.size(); ++s) {
        auto& p = params[bucket.members[s]];
        auto averaged = bucket.flat.narrow(0, bucket.offsets[s], p.numel()).view(p.sizes());
        if (p.grad().defined()) {
          p.mutable_grad().copy_(averaged);
        } else {
          p.mutable_grad() = averaged.clone();
        }
      }
    }
  }
};

struct ReadyHook : torch::autograd::FunctionPostHook {
  ReadyHook(std::weak_ptr<Reducer> reducer, size_t index) : reducer(std::move(reducer)), index(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto r = reducer.lock()) r->on_grad_ready(index);
    return outputs;
  }
  std::weak_ptr<Reducer> reducer;
  size_t index;
};
}  // namespace

struct PtDdpImpl {
  std::shared_ptr<Reducer> reducer;
};
typedef PtDdpImpl* PtDdp;

// params: the module's parameters in registration order (those without requires_grad are left out);
// buffers are broadcast with the parameters from rank 0 first.
PT_API PtDdp pt_ddp_new(PtGroup g, PtTensor const* params, int32_t n, PtTensor const* buffers, int32_t nbuf, int64_t bucket_cap_bytes,
                        int32_t overlap) {
  PT_TRY
  auto group = g->group;
  auto all_params = pt::tensors(params, n);
  auto state = all_params;
  for (const auto& b : pt::tensors(buffers, nbuf)) state.push_back(b);
  broadcast_coalesced(*group, state, 0, "initial broadcast of parameters and buffers");

  auto r = std::make_shared<Reducer>();
  r->group = group;
  r->overlap = overlap != 0;
  for (const auto& p : all_params)
    if (p.requires_grad()) r->params.push_back(p);
  const size_t count = r->params.size();
  r->bucket_of.assign(count, 0);
  r->slot_of.assign(count, 0);
  r->ready.assign(count, false);

  // Reverse registration order approximates the order gradients arrive in backward.
  std::map<std::pair<int, std::string>, size_t> open;  // dtype/device -> open bucket index
  for (size_t i = count; i-- > 0;) {
    const auto& p = r->params[i];
    TORCH_CHECK(p.is_leaf(), "DistributedDataParallel needs leaf parameters");
    auto kind = std::make_pair(static_cast<int>(p.scalar_type()), p.device().str());
    auto it = open.find(kind);
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (it == open.end() || r->buckets[it->second].bytes + bytes > bucket_cap_bytes) {
      r->buckets.emplace_back();
      open[kind] = r->buckets.size() - 1;
      it = open.find(kind);
    }
    auto& bucket = r->buckets[it->second];
    int64_t offset = bucket.offsets.empty() ? 0 : bucket.offsets.back() + r->params[bucket.members.back()].numel();
    r->bucket_of[i] = it->second;
    r->slot_of[i] = bucket.members.size();
    bucket.members.push_back(i);
    bucket.offsets.push_back(offset);
    bucket.bytes += bytes;
  }
  for (auto& bucket : r->buckets) {
    const auto& last = r->params[bucket.members.back()];
    bucket.flat = at::zeros({bucket.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
  r->reset();

  std::weak_ptr<Reducer> weak = r;
  for (size_t i = 0; i < count; ++i) {
    auto acc = torch::autograd::impl::grad_accumulator(r->params[i]);
    acc->add_post_hook(std::make_unique<ReadyHook>(weak, i));
    r->accumulators.push_back(std::move(acc));
  }
  return new PtDdpImpl{r};
  PT_CATCH(nullptr)
}
PT_API void pt_ddp_free(PtDdp d) { delete d; }

// no_sync(): while off, backward leaves gradients local (they accumulate); the next synced backward
// reduces the accumulated .grad.
PT_API int32_t pt_ddp_set_sync(PtDdp d, int32_t on) {
  PT_TRY
  std::lock_guard<std::mutex> lock(d->reducer->mu);
  d->reducer->sync_enabled = on != 0;
  return 0;
  PT_CATCH(-1)
}

PT_API int32_t pt_ddp_bucket_count(PtDdp d) { return static_cast<int32_t>(d->reducer->buckets.size()); }
