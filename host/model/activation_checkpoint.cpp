// A custom autograd function that recomputes one decoder block in backward (see activation_checkpoint.h).
// The block's trainable parameters are inputs of the function, so the function is part of the graph even
// when x needs no gradient, and their gradients come out of torch::autograd::grad like any input's.
#include "model/activation_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/custom_function.h>

namespace ft::model {

namespace {

thread_local bool t_checkpoint_forward = false;

// The generators a block may draw from: the CPU one always, the CUDA one of x's device when on a GPU.
std::vector<at::Generator> generators(const at::Tensor& x) {
  std::vector<at::Generator> g{at::detail::getDefaultCPUGenerator()};
  if (x.is_cuda()) g.push_back(at::detail::getCUDAHooks().getDefaultCUDAGenerator(x.device().index()));
  return g;
}

std::vector<at::Tensor> get_states(std::vector<at::Generator>& gens) {
  std::vector<at::Tensor> out;
  for (auto& g : gens) {
    std::lock_guard<std::mutex> lock(g.mutex());
    out.push_back(g.get_state());
  }
  return out;
}

void set_states(std::vector<at::Generator>& gens, const std::vector<at::Tensor>& states) {
  for (size_t i = 0; i < gens.size(); ++i) {
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    gens[i].set_state(states[i]);
  }
}

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // Inputs: x, the block's trainable parameters, and the block/context (not differentiable).
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                at::TensorList params, DecoderLayerImpl* block,
                                                const AttentionContext* actx) {
    auto gens = generators(x);
    auto states = get_states(gens);
    at::Tensor out;
    {
      t_checkpoint_forward = true;
      struct Reset {
        ~Reset() { t_checkpoint_forward = false; }
      } reset;
      out = block->forward(x, *actx, nullptr);
    }
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    ctx->saved_data["n_params"] = static_cast<int64_t>(params.size());
    ctx->saved_data["cos"] = actx->cos;
    ctx->saved_data["sin"] = actx->sin;
    ctx->saved_data["mask"] = actx->mask;
    ctx->saved_data["has_sliding"] = actx->sliding_mask.defined();
    if (actx->sliding_mask.defined()) ctx->saved_data["sliding_mask"] = actx->sliding_mask;
    ctx->saved_data["plain_causal"] = actx->plain_causal;
    ctx->saved_data["rng"] = c10::List<at::Tensor>(states);
    return {out};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    at::Tensor x = ctx->get_saved_variables()[0];
    auto* block = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["block"].toInt());
    const int64_t n_params = ctx->saved_data["n_params"].toInt();
    AttentionContext actx;
    actx.cos = ctx->saved_data["cos"].toTensor();
    actx.sin = ctx->saved_data["sin"].toTensor();
    actx.mask = ctx->saved_data["mask"].toTensor();
    if (ctx->saved_data["has_sliding"].toBool())
      actx.sliding_mask = ctx->saved_data["sliding_mask"].toTensor();
    actx.plain_causal = ctx->saved_data["plain_causal"].toBool();
    std::vector<at::Tensor> saved_rng = ctx->saved_data["rng"].toTensorList().vec();

    // Trainable parameters in the order forward received them (the same listing, taken again).
    std::vector<at::Tensor> params;
    for (auto& p : block->parameters())
      if (p.requires_grad()) params.push_back(p);
    TORCH_CHECK(static_cast<int64_t>(params.size()) == n_params,
                "checkpointed block: trainable parameters changed between forward and backward");

    at::Tensor xd = x.detach().requires_grad_(x.requires_grad());
    auto gens = generators(x);
    auto now = get_states(gens);
    set_states(gens, saved_rng);
    at::Tensor out;
    try {
      torch::AutoGradMode grad(true);
      out = block->forward(xd, actx, nullptr);
    } catch (...) {
      set_states(gens, now);
      throw;
    }
    set_states(gens, now);

    std::vector<at::Tensor> inputs;
    if (xd.requires_grad()) inputs.push_back(xd);
    for (auto& p : params) inputs.push_back(p);
    auto grads = torch::autograd::grad({out}, inputs, {grad_out[0]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    torch::autograd::variable_list result;
    size_t k = 0;
    result.push_back(xd.requires_grad() ? grads[k++] : at::Tensor());
    for (int64_t i = 0; i < n_params; ++i) result.push_back(grads[k++]);
    result.push_back(at::Tensor());  // block
    result.push_back(at::Tensor());  // context
    return result;
  }
};

}  // namespace

bool in_checkpoint_forward() {
  return t_checkpoint_forward;
}

at::Tensor checkpointed_block(DecoderLayer& block, const at::Tensor& x, const AttentionContext& ctx) {
  std::vector<at::Tensor> params;
  for (auto& p : block->parameters())
    if (p.requires_grad()) params.push_back(p);
  if (params.empty() && !x.requires_grad()) return block(x, ctx, nullptr);  // nothing to backpropagate
  return CheckpointFunction::apply(x, at::TensorList(params), block.get(), &ctx)[0];
}

}  // namespace ft::model
