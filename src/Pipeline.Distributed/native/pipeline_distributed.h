// C ABI of the collectives library: process groups over real engines (Gloo on CPU; NCCL on CUDA when built
// with it), working on raw buffers, with a TCP key-value store for rendezvous that rank 0 serves.
//
// Conventions: no C++ exception crosses this ABI. Every function that can fail returns 0 (or a handle) on
// success and -1 (or NULL) on failure, with the message in a thread-local slot read by pd_last_error().
// Every handle is freed exactly once by its pd_*_free (C# SafeHandles do that).
#pragma once
#include <stdint.h>

#define PD_API extern "C" __attribute__((visibility("default")))

enum PdBackend { PD_GLOO = 0, PD_NCCL = 1 };
enum PdDtype { PD_FLOAT32 = 0, PD_FLOAT64 = 1, PD_BFLOAT16 = 2, PD_INT64 = 3 };
enum PdOp { PD_SUM = 0, PD_AVG = 1, PD_MAX = 2, PD_MIN = 3 };

typedef struct PdGroup PdGroup;

// The message of the last failure on this thread ("" when none); valid until the next call on this thread.
PD_API const char* pd_last_error(void);

// The file Gloo's entry points were bound to (Debian's libgloo.so, never a copy inside libtorch_cpu.so).
PD_API const char* pd_gloo_library(void);

// 1 when this build has the backend (Gloo always; NCCL only when compiled against nccl.h).
PD_API int32_t pd_has_backend(int32_t backend);

// Joins a group of `size` ranks. Rank 0 serves the store on store_port (all interfaces); every rank reaches it
// at store_host:store_port. Gloo binds to `iface` when given, else to `bind_host` when given, else to this
// host's name. timeout_ms bounds the rendezvous, every store request and every collective.
PD_API PdGroup* pd_group_new(const char* store_host, int32_t store_port, int32_t rank, int32_t size, int32_t backend,
                             int64_t timeout_ms, const char* iface, const char* bind_host);
PD_API void pd_group_free(PdGroup* group);
PD_API int32_t pd_group_rank(PdGroup* group);
PD_API int32_t pd_group_size(PdGroup* group);

// In place on `count` elements at `data` (a CPU buffer for Gloo). AVG is SUM divided by the world size
// (floating dtypes only).
PD_API int32_t pd_all_reduce(PdGroup* group, void* data, int64_t count, int32_t dtype, int32_t op);
PD_API int32_t pd_broadcast(PdGroup* group, void* data, int64_t count, int32_t dtype, int32_t root);
PD_API int32_t pd_barrier(PdGroup* group);

// The ranks the last failed collective found lost; returns how many (copies up to capacity).
PD_API int32_t pd_lost_ranks(PdGroup* group, int32_t* buffer, int32_t capacity);

// The store itself (rendezvous of the caller's own, e.g. a run id): set, get (waits up to the timeout), add.
PD_API int32_t pd_store_set(PdGroup* group, const char* key, const uint8_t* value, int64_t length);
// Copies up to capacity bytes; returns the value's full length, or -1.
PD_API int64_t pd_store_get(PdGroup* group, const char* key, uint8_t* buffer, int64_t capacity);
PD_API int32_t pd_store_add(PdGroup* group, const char* key, int64_t delta, int64_t* result);
