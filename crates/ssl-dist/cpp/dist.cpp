// The C face of libtorch's c10d for `ssl-dist`: stores, a process group (Gloo; NCCL with
// SSL_DIST_NCCL), and the collectives data-parallel training needs. Every function returns NULL
// on success or a heap string describing the error (free it with ssl_dist_string_free): no C++
// exception crosses into Rust.
//
// Tensors are tch's: `at::Tensor*` in, and new tensors handed back as `at::Tensor*` that tch
// owns (and frees with `delete`).

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SSL_DIST_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

template <typename F>
char* guarded(F&& f) {
  try {
    f();
    return nullptr;
  } catch (const c10::Error& e) {
    return copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return copy_string(e.what());
  } catch (...) {
    return copy_string("unknown C++ exception");
  }
}

// libtorch's own log lines below FATAL off while it lives: TCPStore logs every connection retry
// and its final failure with a C++ backtrace, and the caller gets that failure as its error.
struct QuietLogs {
  int saved = FLAGS_caffe2_log_level;
  QuietLogs() { FLAGS_caffe2_log_level = std::max(saved, 3); }
  ~QuietLogs() { FLAGS_caffe2_log_level = saved; }
};

}  // namespace

struct SslStore {
  c10::intrusive_ptr<c10d::Store> store;
};

struct SslGroup {
  c10::intrusive_ptr<c10d::Backend> backend;
  int size;
  std::chrono::milliseconds timeout;
  // Nanoseconds spent in collectives (issuing and waiting, backward passes included).
  std::atomic<uint64_t> nanos{0};

  // Runs `f` (a collective and its wait), adding its duration to `nanos`.
  template <typename F>
  auto timed(F&& f) {
    auto start = std::chrono::steady_clock::now();
    struct Add {
      SslGroup* g;
      std::chrono::steady_clock::time_point start;
      ~Add() {
        g->nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
      }
    } add{this, start};
    return f();
  }
};

extern "C" {

void ssl_dist_string_free(char* s) {
  std::free(s);
}

// A TCP store at host:port; `is_server` hosts it (rank 0 without an agent store), the others
// connect. `world` counts the processes that will connect (server included).
char* ssl_dist_tcp_store(const char* host, uint16_t port, int world, bool is_server, int64_t timeout_ms, const char* prefix, SslStore** out) {
  return guarded([&] {
    c10d::TCPStoreOptions opts;
    opts.port = port;
    opts.isServer = is_server;
    // world = 0: someone else (torchrun's agent) hosts the store and counts the workers.
    if (world > 0) opts.numWorkers = static_cast<std::size_t>(world);
    opts.waitWorkers = world > 0;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    QuietLogs quiet;
    c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), tcp);
    *out = new SslStore{prefixed};
  });
}

// A store in a file that every process opens (one machine or a shared file system).
char* ssl_dist_file_store(const char* path, int world, int64_t timeout_ms, SslStore** out) {
  return guarded([&] {
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::FileStore>(std::string(path), world);
    store->setTimeout(std::chrono::milliseconds(timeout_ms));
    *out = new SslStore{store};
  });
}

void ssl_dist_store_free(SslStore* s) {
  delete s;
}

char* ssl_dist_store_set(SslStore* s, const char* key, const uint8_t* data, size_t len) {
  return guarded([&] { s->store->set(std::string(key), std::vector<uint8_t>(data, data + len)); });
}

// Waits (up to the store's timeout) for `key`, then copies at most `cap` bytes into `data`;
// `len` gets the value's full length.
char* ssl_dist_store_get(SslStore* s, const char* key, uint8_t* data, size_t cap, size_t* len) {
  return guarded([&] {
    auto v = s->store->get(std::string(key));
    *len = v.size();
    std::memcpy(data, v.data(), std::min(cap, v.size()));
  });
}

// A Gloo process group over `store`.
char* ssl_dist_gloo(SslStore* s, int rank, int world, int64_t timeout_ms, SslGroup** out) {
  return guarded([&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto opts = c10d::ProcessGroupGloo::Options::create_default(timeout);
    opts->threads = 1;
    auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, rank, world, opts);
    *out = new SslGroup{backend, world, timeout};
  });
}

// An NCCL process group on cuda:`device`; NULL-with-message when built without NCCL.
char* ssl_dist_nccl(SslStore* s, int rank, int world, int device, int64_t timeout_ms, SslGroup** out) {
#ifdef SSL_DIST_NCCL
  return guarded([&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(s->store, rank, world, opts);
    backend->setBoundDeviceId(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device)));
    *out = new SslGroup{backend, world, timeout};
  });
#else
  (void)s; (void)rank; (void)world; (void)device; (void)timeout_ms; (void)out;
  return copy_string("this build has no NCCL: rebuild with `--features nccl` (its CUDA headers come with `cargo xtask setup`)");
#endif
}

bool ssl_dist_has_nccl() {
#ifdef SSL_DIST_NCCL
  return true;
#else
  return false;
#endif
}

void ssl_dist_group_free(SslGroup* g) {
  if (g == nullptr) return;
  try {
    g->backend->shutdown();
  } catch (...) {
  }
  delete g;
}

// Rank `root`'s tensor, in place on every rank.
char* ssl_dist_broadcast(SslGroup* g, at::Tensor* t, int root) {
  return guarded([&] {
    std::vector<at::Tensor> ts{*t};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = g->timeout;
    g->timed([&] { return g->backend->broadcast(ts, opts)->wait(g->timeout); });
  });
}

// The sum over ranks, in place (no gradient).
char* ssl_dist_all_reduce_sum(SslGroup* g, at::Tensor* t) {
  return guarded([&] {
    std::vector<at::Tensor> ts{*t};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = g->timeout;
    g->timed([&] { return g->backend->allreduce(ts, opts)->wait(g->timeout); });
  });
}

// Every rank's `t` concatenated along dim 0 in rank order, differentiable: the backward sums
// the incoming gradients over ranks (an all-reduce, waited for) and keeps this rank's slice —
// what PyTorch's all_gather_into_tensor autograd does with a reduce-scatter. Both directions
// wait for their collective before returning, so no gradient is read early.
struct GatherFunction : public torch::autograd::Function<GatherFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t group) {
    auto* g = reinterpret_cast<SslGroup*>(group);
    ctx->saved_data["group"] = group;
    ctx->saved_data["rows"] = x.size(0);
    at::Tensor input = x.contiguous();
    std::vector<at::Tensor> parts;
    for (int r = 0; r < g->size; ++r) parts.push_back(at::empty_like(input));
    std::vector<std::vector<at::Tensor>> outputs{parts};
    std::vector<at::Tensor> inputs{input};
    c10d::AllgatherOptions opts;
    opts.timeout = g->timeout;
    g->timed([&] { return g->backend->allgather(outputs, inputs, opts)->wait(g->timeout); });
    return at::cat(outputs[0], 0);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto* g = reinterpret_cast<SslGroup*>(ctx->saved_data["group"].toInt());
    int64_t rows = ctx->saved_data["rows"].toInt();
    at::Tensor sum = grads[0].contiguous().clone();
    std::vector<at::Tensor> ts{sum};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = g->timeout;
    g->timed([&] { return g->backend->allreduce(ts, opts)->wait(g->timeout); });
    return {sum.narrow(0, g->backend->getRank() * rows, rows).contiguous(), at::Tensor()};
  }
};

char* ssl_dist_all_gather(SslGroup* g, at::Tensor* t, at::Tensor** out) {
  return guarded([&] {
    at::Tensor result = GatherFunction::apply(*t, reinterpret_cast<int64_t>(g));
    *out = new at::Tensor(result);
  });
}

// Nanoseconds this group has spent in collectives so far.
uint64_t ssl_dist_comm_nanos(SslGroup* g) {
  return g->nanos.load();
}

char* ssl_dist_barrier(SslGroup* g) {
  return guarded([&] {
    c10d::BarrierOptions opts;
    opts.timeout = g->timeout;
    g->timed([&] { return g->backend->barrier(opts)->wait(g->timeout); });
  });
}

}  // extern "C"
