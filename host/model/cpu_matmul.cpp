// oneDNN matmul behind fthost's CPU fp32 Linear (see cpu_matmul.h).
#include "model/cpu_matmul.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

#if FT_HAS_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <mutex>
#include <tuple>
#endif

namespace ft::model {

#if FT_HAS_ONEDNN

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// One 2-D product C[m,n] = A[m,k] B[k,n] (+ bias[n]) over strided fp32 memory. The strides are part of
// the key: a transposed operand is read in place.
struct MatmulKey {
  int64_t m, k, n, a_rs, a_cs, b_rs, b_cs;
  bool bias;
  bool operator<(const MatmulKey& o) const {
    return std::tie(m, k, n, a_rs, a_cs, b_rs, b_cs, bias) <
           std::tie(o.m, o.k, o.n, o.a_rs, o.a_cs, o.b_rs, o.b_cs, o.bias);
  }
};

struct Prepared {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c, bias, scratch;
};

// Primitive descriptors are cheap to look up in oneDNN's own cache but not free to build; the shapes of a
// training run repeat, so they are kept here too (bounded: varying sequence lengths add shapes).
Prepared prepared(const MatmulKey& key) {  // a copy: oneDNN handles are reference-counted
  static std::mutex mu;
  static std::map<MatmulKey, Prepared> cache;
  std::lock_guard<std::mutex> g(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();
  Prepared p;
  p.a = dnnl::memory::desc(dims{key.m, key.k}, dt::f32, dims{key.a_rs, key.a_cs});
  p.b = dnnl::memory::desc(dims{key.k, key.n}, dt::f32, dims{key.b_rs, key.b_cs});
  p.c = dnnl::memory::desc(dims{key.m, key.n}, dt::f32, dims{key.n, 1});
  dnnl::primitive_attr attr;
  // The caller's scratchpad: one primitive may run on several threads at once (LibTorch's autograd,
  // GRPO's reference policy), which the library-owned scratchpad of this oneDNN build does not allow.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  // No bias: an empty descriptor, which is what oneDNN's bias-less constructor passes too.
  if (key.bias) p.bias = dnnl::memory::desc(dims{1, key.n}, dt::f32, dims{key.n, 1});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p.a, p.b, p.bias, p.c), attr, cpu_engine());
  p.scratch = pd.scratchpad_desc();
  p.prim = dnnl::matmul(pd);
  return cache.emplace(key, std::move(p)).first->second;
}

// out[m,n] = a[m,k] b[k,n] (+ bias). a and b are 2-D views with any strides; out is a new contiguous tensor.
at::Tensor matmul2d(const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  at::Tensor out = at::empty({m, n}, a.options());
  if (m == 0 || n == 0) return out;
  if (k == 0) return bias.defined() ? out.copy_(bias.expand({m, n})) : out.zero_();
  const MatmulKey key{m, k, n, a.stride(0), a.stride(1), b.stride(0), b.stride(1), bias.defined()};
  const Prepared p = prepared(key);
  auto& eng = cpu_engine();
  at::Tensor scratch = at::empty({static_cast<int64_t>(p.scratch.get_size())}, a.options().dtype(at::kByte));
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(p.a, eng, const_cast<void*>(a.data_ptr()))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(p.b, eng, const_cast<void*>(b.data_ptr()))},
      {DNNL_ARG_DST, dnnl::memory(p.c, eng, out.data_ptr())},
      {DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratch, eng, scratch.data_ptr())}};
  if (bias.defined())
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias, eng, const_cast<void*>(bias.data_ptr())));
  dnnl::stream s(eng);
  p.prim.execute(s, args);
  s.wait();
  return out;
}

// A strided 2-D view oneDNN can read: unit stride in one of the two dimensions.
at::Tensor readable(const at::Tensor& t) {
  return (t.stride(1) == 1 || t.stride(0) == 1) ? t : t.contiguous();
}

struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
  // x2 [M, K] contiguous, w [N, K], b [N] (no bias: an empty tensor; LibTorch's custom functions take
  // no undefined inputs).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x2, const at::Tensor& w,
                            const at::Tensor& b) {
    const bool has_bias = b.numel() > 0;
    ctx->save_for_backward({x2, w});
    ctx->saved_data["has_bias"] = has_bias;
    return matmul2d(x2, readable(w).t(), has_bias ? b.contiguous() : at::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x2 = saved[0];
    const at::Tensor& w = saved[1];
    at::Tensor dy = grads[0].contiguous();  // [M, N]
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = matmul2d(dy, readable(w), at::Tensor());  // [M,N] x [N,K]
    if (ctx->needs_input_grad(1)) dw = matmul2d(dy.t(), x2, at::Tensor());       // [N,M] x [M,K]
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

bool read_enabled() {
  const char* v = std::getenv("FTHOST_CPU_MATMUL");
  if (!v || !*v || std::strcmp(v, "onednn") == 0) return true;
  if (std::strcmp(v, "blas") == 0) return false;
  throw Error(std::string("FTHOST_CPU_MATMUL: expected onednn or blas, found '") + v + "'",
              "unset it for the default (onednn)");
}

}  // namespace

bool onednn_linear_enabled() {
  static const bool on = read_enabled();
  return on;
}

std::string cpu_matmul_report() {
  const dnnl_version_t* v = dnnl_version();
  std::string s =
      "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      s += " (AVX-512 + AMX)";
      break;
    case dnnl::cpu_isa::avx512_core_bf16:
      s += " (AVX-512 with bf16)";
      break;
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core:
      s += " (AVX-512)";
      break;
    case dnnl::cpu_isa::avx2_vnni:
    case dnnl::cpu_isa::avx2:
      s += " (AVX2)";
      break;
    default:
      s += " (pre-AVX2 CPU)";
      break;
  }
  return onednn_linear_enabled() ? s : "LibTorch's BLAS (FTHOST_CPU_MATMUL=blas; " + s + " available)";
}

at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const int64_t K = w.size(1);
  auto shape = x.sizes().vec();
  int64_t M = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) M *= shape[i];
  at::Tensor x2 = x.reshape({M, K}).contiguous();
  at::Tensor y = OneDnnLinear::apply(x2, w, b.defined() ? b : at::empty({0}, w.options()));
  shape.back() = w.size(0);
  return y.view(shape);
}

#else  // built without oneDNN: LibTorch's linear

bool onednn_linear_enabled() {
  return false;
}

std::string cpu_matmul_report() {
  return "LibTorch's BLAS (built without oneDNN)";
}

at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::linear(x, w, b);
}

#endif

}  // namespace ft::model
