#include "codec/rqvae.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rawmed::codec {
namespace {

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Squared Euclidean distances (M, K) between rows of x (M, C) and codebook rows (K, C).
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& book) {
  return x.pow(2).sum(1, true) - 2 * x.matmul(book.t()) + book.pow(2).sum(1).unsqueeze(0);
}

torch::Tensor nearest(const torch::Tensor& x, const torch::Tensor& book) {
  return book.index_select(0, squared_distances(x, book).argmin(1));
}

// k-means++ seeding, then Lloyd iterations. Empty clusters keep their previous centre.
torch::Tensor kmeans(const torch::Tensor& x, int k, int iters, std::mt19937_64& rng) {
  int64_t m = x.size(0);
  auto centers = torch::empty({k, x.size(1)}, x.options());
  int64_t first = static_cast<int64_t>(rng() % static_cast<uint64_t>(m));
  centers[0].copy_(x[first]);
  auto min_dist = (x - x[first]).pow(2).sum(1);
  for (int c = 1; c < k; ++c) {
    auto d = min_dist.to(torch::kCPU, torch::kDouble).contiguous();
    const double* p = d.data_ptr<double>();
    double total = 0;
    for (int64_t i = 0; i < m; ++i) total += p[i];
    int64_t pick = static_cast<int64_t>(rng() % static_cast<uint64_t>(m));
    if (total > 0) {
      double u = uniform01(rng) * total, run = 0;
      for (pick = 0; pick < m - 1; ++pick) {
        run += p[pick];
        if (run > u) break;
      }
    }
    centers[c].copy_(x[pick]);
    min_dist = torch::minimum(min_dist, (x - x[pick]).pow(2).sum(1));
  }
  for (int it = 0; it < iters; ++it) {
    auto assign = squared_distances(x, centers).argmin(1);
    auto sums = torch::zeros_like(centers).index_add_(0, assign, x);
    auto counts = torch::zeros({k}, x.options()).index_add_(0, assign, torch::ones({m}, x.options()));
    auto used = counts > 0;
    centers = torch::where(used.unsqueeze(1), sums / counts.clamp_min(1).unsqueeze(1), centers);
  }
  return centers;
}

// Runs a block with autocast off: the quantizer's distances and EMA sums stay in fp32.
struct NoAutocast {
  bool cpu = at::autocast::is_cpu_enabled(), gpu = at::autocast::is_enabled();
  NoAutocast() {
    at::autocast::set_cpu_enabled(false);
    at::autocast::set_enabled(false);
  }
  ~NoAutocast() {
    at::autocast::set_cpu_enabled(cpu);
    at::autocast::set_enabled(gpu);
  }
};

// Conv1d to twice the channels, then interleave the halves: (B, C, L) -> (B, C, 2L).
// Replaces ConvTranspose1d, which is slow in bf16 on CPU (LIBTORCH_CPU.md).
struct PixelShuffleUpImpl : torch::nn::Module {
  explicit PixelShuffleUpImpl(int channels)
      : conv(register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(channels, 2 * channels, 3)
                                                           .padding(1)
                                                           .bias(false)))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = conv(x);
    int64_t b = y.size(0), c = y.size(1) / 2, l = y.size(2);
    return y.view({b, c, 2, l}).permute({0, 1, 3, 2}).reshape({b, c, 2 * l});
  }
  torch::nn::Conv1d conv;
};
TORCH_MODULE(PixelShuffleUp);

}  // namespace

ResidualQuantizerImpl::ResidualQuantizerImpl(int dim, int codebook_size, int depth, bool shared, double decay)
    : dim_(dim), size_(codebook_size), depth_(depth), shared_(shared), decay_(decay) {
  int books = shared ? 1 : depth;
  double bound = std::sqrt(6.0 / (codebook_size * dim));
  embed = register_buffer("embed", torch::rand({books, codebook_size, dim}) * (2 * bound) - bound);
  embed_avg = register_buffer("embed_avg", embed.clone());
  cluster_size = register_buffer("cluster_size", torch::ones({books, codebook_size}));
  initted = register_buffer("initted", torch::zeros({}));
}

ResidualQuantizerImpl::Output ResidualQuantizerImpl::forward(const torch::Tensor& z_in) {
  NoAutocast fp32;
  auto z = z_in.to(torch::kFloat);
  int books = shared_ ? 1 : depth_;
  bool collect = is_training();
  if (collect) {
    step_counts_.assign(books, torch::zeros({size_}, z.options()));
    step_sums_.assign(books, torch::zeros({size_, dim_}, z.options()));
    step_residuals_.clear();
  }
  auto residual = z;
  auto quantized_sum = torch::zeros_like(z);
  auto commitment = torch::zeros({}, z.options());
  std::vector<torch::Tensor> codes;
  for (int d = 0; d < depth_; ++d) {
    auto book = embed[codebook_of(d)];
    auto idx = squared_distances(residual.detach(), book).argmin(1);
    auto q = book.index_select(0, idx);
    commitment = commitment + torch::mse_loss(residual, q);
    if (collect) {
      int b = codebook_of(d);
      step_counts_[b] = step_counts_[b].index_add(0, idx, torch::ones({z.size(0)}, z.options()));
      step_sums_[b] = step_sums_[b].index_add(0, idx, residual.detach());
      step_residuals_.push_back(residual.detach());
    }
    codes.push_back(idx);
    quantized_sum = quantized_sum + q;
    residual = residual - q;
  }
  // Straight-through: the encoder gets the decoder's gradient once (not once per depth as in the reference; docs/method.md, section 7).
  return {z + (quantized_sum - z).detach(), torch::stack(codes, 1), commitment};
}

torch::Tensor ResidualQuantizerImpl::lookup(const torch::Tensor& codes) const {
  auto sum = torch::zeros({codes.size(0), dim_}, embed.options());
  for (int d = 0; d < depth_; ++d) sum = sum + embed[codebook_of(d)].index_select(0, codes.select(1, d));
  return sum;
}

int64_t ResidualQuantizerImpl::update_codebooks(double dead_threshold, std::mt19937_64& rng) {
  torch::NoGradGuard no_grad;
  NoAutocast fp32;
  int64_t restarted = 0;
  for (size_t b = 0; b < step_counts_.size(); ++b) {
    auto cs = cluster_size[b], avg = embed_avg[b], book = embed[b];
    cs.mul_(decay_).add_(step_counts_[b], 1 - decay_);
    avg.mul_(decay_).add_(step_sums_[b], 1 - decay_);
    auto n = cs.sum();
    constexpr double eps = 1e-5;
    auto smoothed = (cs + eps) / (n + size_ * eps) * n;
    book.copy_(avg / smoothed.unsqueeze(1));
    if (dead_threshold <= 0) continue;
    auto dead = (cs < dead_threshold).nonzero().squeeze(1).to(torch::kCPU);
    if (dead.numel() == 0) continue;
    // Residuals this codebook saw in the step: all depths for a shared book, depth b otherwise.
    auto pool = shared_ ? torch::cat(step_residuals_, 0) : step_residuals_[b];
    std::vector<int64_t> picks(dead.numel());
    for (auto& p : picks) p = static_cast<int64_t>(rng() % static_cast<uint64_t>(pool.size(0)));
    auto dead_idx = dead.to(book.device());
    auto fresh = pool.index_select(0, torch::tensor(picks, torch::kLong).to(book.device()));
    book.index_copy_(0, dead_idx, fresh);
    avg.index_copy_(0, dead_idx, fresh);
    cs.index_fill_(0, dead_idx, 1.0);
    restarted += dead.numel();
  }
  step_counts_.clear();
  step_sums_.clear();
  step_residuals_.clear();
  return restarted;
}

void ResidualQuantizerImpl::kmeans_init(const torch::Tensor& z_in, int iters, std::mt19937_64& rng) {
  torch::NoGradGuard no_grad;
  NoAutocast fp32;
  auto z = z_in.to(torch::kFloat);
  if (!shared_) {
    auto residual = z;
    for (int d = 0; d < depth_; ++d) {
      auto centers = kmeans(residual, size_, iters, rng);
      embed[d].copy_(centers);
      residual = residual - nearest(residual, centers);
    }
  } else {
    // One book for every depth: fit it to the latents and to the residual scales it will see.
    auto centers = kmeans(z, size_, iters, rng);
    std::vector<torch::Tensor> pool{z};
    auto residual = z;
    for (int d = 1; d < depth_; ++d) {
      residual = residual - nearest(residual, centers);
      pool.push_back(residual);
    }
    if (depth_ > 1) centers = kmeans(torch::cat(pool, 0), size_, iters, rng);
    embed[0].copy_(centers);
  }
  embed_avg.copy_(embed);
  cluster_size.fill_(1.0);
  initted.fill_(1.0);
}

RQVAEImpl::RQVAEImpl(const CodecConfig& c, const VocabSizes& s) : config(c), sizes(s) {
  using namespace torch::nn;
  token_embed = register_module("token_embed", Embedding(EmbeddingOptions(s.tokens, c.embed_dim).padding_idx(0)));
  type_embed = register_module("type_embed", Embedding(EmbeddingOptions(s.types, c.embed_dim).padding_idx(0)));
  dpe_embed = register_module("dpe_embed", Embedding(s.dpe, c.embed_dim));
  if (c.positional_embedding) position_embed = register_module("position_embed", Embedding(s.length, c.embed_dim));

  int halvings = 0;
  while ((c.positions << halvings) < s.length) ++halvings;
  encoder = register_module("encoder", Sequential());
  decoder = register_module("decoder", Sequential());
  if (halvings == 0) encoder->push_back(Conv1d(Conv1dOptions(c.embed_dim, c.channels, 1)));
  for (int i = 0; i < halvings; ++i) {
    int in = i == 0 ? c.embed_dim : c.channels;
    encoder->push_back(
        Conv1d(Conv1dOptions(in, c.channels, c.kernel_size).stride(2).padding(c.kernel_size / 2).bias(false)));
    encoder->push_back(BatchNorm1d(c.channels));
    if (i + 1 < halvings) encoder->push_back(ReLU());
  }
  // Residual and zero-initialised: training starts from the local (per-position) model. The
  // "query" decoder reads all P latents anyway, so it needs no decoder-side mixing.
  auto zero_mix = [&](const char* name) {
    int flat = c.positions * c.channels;
    auto mix = register_module(name, Linear(flat, flat));
    torch::NoGradGuard no_grad;
    mix->weight.zero_();
    mix->bias.zero_();
    return mix;
  };
  if (c.mix_positions) encoder_mix = zero_mix("encoder_mix");
  if (c.mix_positions && c.upsample != "query") decoder_mix = zero_mix("decoder_mix");
  int head_dim = c.channels;
  if (c.upsample == "query") {
    head_dim = c.decoder_width;
    query_in = register_module("query_in", Linear(c.positions * c.channels, head_dim));
    query_slot = register_module("query_slot", Embedding(s.length, head_dim));
    query_hidden = register_module("query_hidden", Linear(head_dim, head_dim));
    if (c.slot_rank > 0) {
      int flat = c.positions * c.channels;
      slot_in = register_module("slot_in", Linear(LinearOptions(flat, s.length * c.slot_rank).bias(false)));
      slot_out = register_module("slot_out", Linear(LinearOptions(c.slot_rank, head_dim).bias(false)));
    }
    if (c.role_rank > 0) {
      int flat = c.positions * c.channels;
      role_in = register_module("role_in", Linear(LinearOptions(flat, (s.fields + 1) * c.role_rank).bias(false)));
      role_out = register_module("role_out", Linear(LinearOptions(c.role_rank, head_dim).bias(false)));
      role_embed = register_module("role_embed", Embedding((s.fields + 1) * kMaxRoleOffset, head_dim));
      role_input = register_module("role_input", Embedding((s.fields + 1) * kMaxRoleOffset, c.embed_dim));
    }
  } else {
    if (halvings == 0) decoder->push_back(Conv1d(Conv1dOptions(c.channels, c.channels, 1)));
    for (int i = 0; i < halvings; ++i) {
      if (c.upsample == "shuffle") decoder->push_back(PixelShuffleUp(c.channels));
      else
        decoder->push_back(
            ConvTranspose1d(ConvTranspose1dOptions(c.channels, c.channels, 6).stride(2).padding(2).bias(false)));
      decoder->push_back(BatchNorm1d(c.channels));
      decoder->push_back(ReLU());
    }
  }
  std::vector<int64_t> field(static_cast<size_t>(s.tokens), 0);
  std::copy_n(s.token_field.begin(), std::min(s.token_field.size(), field.size()), field.begin());
  token_field = register_buffer("token_field", torch::tensor(field, torch::kLong));
  quantizer = register_module("quantizer", ResidualQuantizer(c.channels, c.codebook_size, c.depth, c.shared_codebook,
                                                             c.ema_decay));
  token_head = register_module("token_head", Linear(head_dim, s.tokens));
  type_head = register_module("type_head", Linear(head_dim, s.types));
  dpe_head = register_module("dpe_head", Linear(head_dim, s.dpe));
}

torch::Tensor RQVAEImpl::encode(const torch::Tensor& tokens, const torch::Tensor& types, const torch::Tensor& dpe,
                                const torch::Tensor& token_roles) {
  auto x = token_embed(tokens) + type_embed(types) + dpe_embed(dpe);  // (B, L, E)
  if (role_input) x = x + role_input(token_roles.defined() ? token_roles : roles(tokens));
  if (position_embed)
    x = x + position_embed(torch::arange(tokens.size(1), tokens.options())).unsqueeze(0);
  auto z = encoder->forward(x.transpose(1, 2)).transpose(1, 2);  // (B, P, C)
  if (encoder_mix) z = z + encoder_mix(z.reshape({z.size(0), -1})).view(z.sizes());
  return z;
}

torch::Tensor RQVAEImpl::roles(const torch::Tensor& tokens) const {
  auto field = token_field.index_select(0, tokens.reshape(-1)).view(tokens.sizes());  // (B, L)
  auto slot = torch::arange(tokens.size(1), tokens.options()).unsqueeze(0).expand_as(tokens);
  // Slot of the last field token at or before each slot, then shifted: strictly before.
  auto last = std::get<0>(torch::where(field > 0, slot, torch::full_like(slot, -1)).cummax(1));
  last = torch::cat({torch::full({tokens.size(0), 1}, -1, tokens.options()), last.narrow(1, 0, tokens.size(1) - 1)}, 1);
  auto before = torch::where(last >= 0, field.gather(1, last.clamp_min(0)), torch::zeros_like(last));
  auto offset = torch::where(last >= 0, slot - last, slot).clamp_max(kMaxRoleOffset - 1);
  return before * kMaxRoleOffset + offset;
}

RQVAEImpl::QueryContext RQVAEImpl::query_context(const torch::Tensor& q) {
  auto flat = q.reshape({q.size(0), -1});
  QueryContext context{query_in(flat), {}, {}};
  if (slot_in) context.slot_proj = slot_in(flat).view({-1, config.slot_rank});
  if (role_in) context.role_proj = role_in(flat).view({-1, config.role_rank});
  return context;
}

torch::Tensor RQVAEImpl::query_at(const QueryContext& context, const torch::Tensor& events,
                                  const torch::Tensor& slots, const torch::Tensor& roles) {
  // h = g + GELU(W g), g = GELU(W_in z + E_slot + U V_slot z [+ E_role + U' V'_field z]): every
  // slot reads all P latents; V_slot (slot_rank x P*C) lets each slot pick its own part of the
  // code (a shared W_in plus a slot bias alone learned far slower), and V'_field the part that
  // holds the column the slot belongs to.
  auto g = context.base.index_select(0, events) + query_slot(slots);
  if (slot_in) g = g + slot_out(context.slot_proj.index_select(0, events * sizes.length + slots));
  if (role_in) {
    auto row = events * (sizes.fields + 1) + roles.div(kMaxRoleOffset, "floor");
    g = g + role_embed(roles) + role_out(context.role_proj.index_select(0, row));
  }
  g = torch::gelu(g);
  return g + torch::gelu(query_hidden(g));
}

torch::Tensor RQVAEImpl::decode(const torch::Tensor& quantized, const torch::Tensor& slots_in,
                                const torch::Tensor& roles) {
  auto q = quantized;
  if (decoder_mix) q = q + decoder_mix(q.reshape({q.size(0), -1})).view(q.sizes());
  if (query_in) {
    // Slots are independent given their roles, so only the asked-for ones are computed.
    if (role_in && !roles.defined()) throw std::logic_error("RQVAE::decode: this decoder needs the slots' roles");
    int64_t b = q.size(0), length = sizes.length;
    auto slots = slots_in.defined() ? slots_in : torch::arange(b * length, q.options().dtype(torch::kLong));
    auto slot_roles = role_in ? roles.reshape(-1).index_select(0, slots) : torch::Tensor();
    auto h = query_at(query_context(q), slots.div(length, "floor"), slots.remainder(length), slot_roles);
    return slots_in.defined() ? h : h.view({b, length, -1});  // (T, W) or (B, L, W)
  }
  auto h = decoder->forward(q.transpose(1, 2)).transpose(1, 2);  // (B, L, C)
  return slots_in.defined() ? h.reshape({-1, h.size(2)}).index_select(0, slots_in) : h;
}

RQVAEImpl::Output RQVAEImpl::forward(const torch::Tensor& tokens, const torch::Tensor& types,
                                     const torch::Tensor& dpe) {
  auto slot_roles = role_in ? roles(tokens) : torch::Tensor();
  auto z = encode(tokens, types, dpe, slot_roles);
  int64_t b = z.size(0), p = z.size(1);
  auto slots = (tokens.reshape(-1) != 0).nonzero().squeeze(1);
  if (!quantize)
    return {decode(z, slots, slot_roles), z, torch::zeros({b, p, config.depth}, tokens.options()),
            torch::zeros({}, z.options())};
  auto q = quantizer(z.reshape({b * p, z.size(2)}));
  auto latents = q.quantized.view({b, p, -1});
  return {decode(latents, slots, slot_roles), latents, q.codes.view({b, p, config.depth}), q.commitment};
}

torch::Tensor RQVAEImpl::lookup_codes(const torch::Tensor& codes) {
  int64_t b = codes.size(0), p = codes.size(1);
  return quantizer->lookup(codes.reshape({b * p, codes.size(2)})).view({b, p, -1});
}

}  // namespace rawmed::codec
