// Indexing, slicing, gathering/scattering, masks, and splitting into lists.
#include "shim.h"

// One entry of a Python-style index expression, as C#'s TensorIndex marshals it.
struct PtIndex {
  int32_t kind;   // 0 integer, 1 slice, 2 ellipsis, 3 none (new axis), 4 tensor (bool mask or long indices)
  int32_t flags;  // slice: 1 = has start, 2 = has stop
  int64_t start;  // integer: the index
  int64_t stop;
  int64_t step;
  PtTensor tensor;
};

namespace {
std::vector<at::indexing::TensorIndex> indices(const PtIndex* items, int32_t n) {
  using namespace at::indexing;
  std::vector<TensorIndex> out;
  out.reserve(static_cast<size_t>(n));
  for (int32_t k = 0; k < n; ++k) {
    const auto& it = items[k];
    switch (it.kind) {
      case 0: out.emplace_back(it.start); break;
      case 1: {
        // Plain integers (open bounds as Python's defaults for a positive step): Slice takes optional<int64_t>
        // in libtorch 1.x but optional<SymInt> in 2.x, and only a plain integer converts to both.
        TORCH_CHECK(it.step > 0, "slice step must be positive, got ", it.step);
        int64_t start = (it.flags & 1) ? it.start : 0;
        int64_t stop = (it.flags & 2) ? it.stop : std::numeric_limits<int64_t>::max();
        out.emplace_back(Slice(start, stop, it.step));
        break;
      }
      case 2: out.emplace_back(Ellipsis); break;
      case 3: out.emplace_back(None); break;
      case 4: out.emplace_back(*it.tensor); break;
      default: TORCH_CHECK(false, "unknown index kind ", it.kind);
    }
  }
  return out;
}

PtTensor* list(const std::vector<at::Tensor>& parts, int32_t* count) { return pt::wrap_list(parts, count); }
}  // namespace

PT_API PtTensor pt_index(PtTensor a, const PtIndex* items, int32_t n) { PT_TRY return pt::wrap(a->index(indices(items, n))); PT_CATCH(nullptr) }
PT_API int32_t pt_index_put_(PtTensor a, const PtIndex* items, int32_t n, PtTensor value) {
  PT_TRY a->index_put_(indices(items, n), *value); return 0; PT_CATCH(-1)
}
PT_API int32_t pt_index_put_scalar_(PtTensor a, const PtIndex* items, int32_t n, PtScalar value) {
  PT_TRY a->index_put_(indices(items, n), pt::scalar(value)); return 0; PT_CATCH(-1)
}

PT_API PtTensor pt_select(PtTensor a, int64_t dim, int64_t index) { PT_TRY return pt::wrap(a->select(dim, index)); PT_CATCH(nullptr) }
PT_API PtTensor pt_narrow(PtTensor a, int64_t dim, int64_t start, int64_t length) { PT_TRY return pt::wrap(a->narrow(dim, start, length)); PT_CATCH(nullptr) }
PT_API PtTensor pt_slice(PtTensor a, int64_t dim, int64_t start, int32_t has_start, int64_t end, int32_t has_end, int64_t step) {
  PT_TRY
  return pt::wrap(at::slice(*a, dim, has_start ? c10::optional<int64_t>(start) : c10::nullopt,
                            has_end ? c10::optional<int64_t>(end) : c10::nullopt, step));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_index_select(PtTensor a, int64_t dim, PtTensor index) { PT_TRY return pt::wrap(at::index_select(*a, dim, *index)); PT_CATCH(nullptr) }
PT_API PtTensor pt_gather(PtTensor a, int64_t dim, PtTensor index) { PT_TRY return pt::wrap(at::gather(*a, dim, *index)); PT_CATCH(nullptr) }
PT_API PtTensor pt_scatter(PtTensor a, int64_t dim, PtTensor index, PtTensor src) { PT_TRY return pt::wrap(at::scatter(*a, dim, *index, *src)); PT_CATCH(nullptr) }
PT_API PtTensor pt_scatter_value(PtTensor a, int64_t dim, PtTensor index, PtScalar value) {
  PT_TRY return pt::wrap(at::scatter(*a, dim, *index, pt::scalar(value))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_scatter_add(PtTensor a, int64_t dim, PtTensor index, PtTensor src) { PT_TRY return pt::wrap(at::scatter_add(*a, dim, *index, *src)); PT_CATCH(nullptr) }
PT_API int32_t pt_scatter_(PtTensor a, int64_t dim, PtTensor index, PtTensor src) { PT_TRY a->scatter_(dim, *index, *src); return 0; PT_CATCH(-1) }
PT_API int32_t pt_scatter_add_(PtTensor a, int64_t dim, PtTensor index, PtTensor src) { PT_TRY a->scatter_add_(dim, *index, *src); return 0; PT_CATCH(-1) }

PT_API PtTensor pt_masked_fill(PtTensor a, PtTensor mask, PtScalar value) { PT_TRY return pt::wrap(at::masked_fill(*a, *mask, pt::scalar(value))); PT_CATCH(nullptr) }
PT_API int32_t pt_masked_fill_(PtTensor a, PtTensor mask, PtScalar value) { PT_TRY a->masked_fill_(*mask, pt::scalar(value)); return 0; PT_CATCH(-1) }
PT_BINARY(masked_select, at::masked_select(*a, *b))
PT_API PtTensor pt_where(PtTensor cond, PtTensor a, PtTensor b) { PT_TRY return pt::wrap(at::where(*cond, *a, *b)); PT_CATCH(nullptr) }
PT_API PtTensor pt_where_scalar(PtTensor cond, PtTensor a, PtScalar b) { PT_TRY return pt::wrap(at::where(*cond, *a, pt::scalar(b))); PT_CATCH(nullptr) }
PT_API PtTensor pt_where_scalar_first(PtTensor cond, PtScalar a, PtTensor b) { PT_TRY return pt::wrap(at::where(*cond, pt::scalar(a), *b)); PT_CATCH(nullptr) }
PT_UNARY(nonzero, at::nonzero(*a))

PT_API PtTensor pt_expand(PtTensor a, const int64_t* sizes, int32_t n) { PT_TRY return pt::wrap(a->expand(pt::ints(sizes, n))); PT_CATCH(nullptr) }
PT_API PtTensor pt_repeat(PtTensor a, const int64_t* sizes, int32_t n) { PT_TRY return pt::wrap(a->repeat(pt::ints(sizes, n))); PT_CATCH(nullptr) }
PT_API PtTensor pt_flip(PtTensor a, const int64_t* dims, int32_t n) { PT_TRY return pt::wrap(at::flip(*a, pt::ints(dims, n))); PT_CATCH(nullptr) }
// dims empty: roll the flattened tensor and restore its shape, as torch.roll does.
PT_API PtTensor pt_roll(PtTensor a, const int64_t* shifts, int32_t nshifts, const int64_t* dims, int32_t ndims) {
  PT_TRY return pt::wrap(at::roll(*a, pt::ints(shifts, nshifts), pt::ints(dims, ndims))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_one_hot(PtTensor a, int64_t num_classes) { PT_TRY return pt::wrap(at::one_hot(*a, num_classes)); PT_CATCH(nullptr) }
PT_API PtTensor pt_tril(PtTensor a, int64_t diagonal) { PT_TRY return pt::wrap(at::tril(*a, diagonal)); PT_CATCH(nullptr) }
PT_API PtTensor pt_triu(PtTensor a, int64_t diagonal) { PT_TRY return pt::wrap(at::triu(*a, diagonal)); PT_CATCH(nullptr) }

// ---- splitting: lists come back as malloc'ed arrays of owned handles (freed with pt_free_array) ----
PT_API PtTensor* pt_split(PtTensor a, int64_t size, int64_t dim, int32_t* count) { PT_TRY return list(a->split(size, dim), count); PT_CATCH(nullptr) }
PT_API PtTensor* pt_split_with_sizes(PtTensor a, const int64_t* sizes, int32_t n, int64_t dim, int32_t* count) {
  PT_TRY return list(a->split_with_sizes(pt::ints(sizes, n), dim), count); PT_CATCH(nullptr)
}
PT_API PtTensor* pt_chunk(PtTensor a, int64_t chunks, int64_t dim, int32_t* count) { PT_TRY return list(a->chunk(chunks, dim), count); PT_CATCH(nullptr) }
PT_API PtTensor* pt_unbind(PtTensor a, int64_t dim, int32_t* count) { PT_TRY return list(a->unbind(dim), count); PT_CATCH(nullptr) }
