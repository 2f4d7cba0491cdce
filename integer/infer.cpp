#include "integer/infer.h"

#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/data/dataset.h"
#include "engine/nets.h"
#include "engine/parallel.h"
#include "engine/train.h"
#include "integer/engine.h"
#include "integer/explain.h"
#include "integer/export.h"
#include "integer/reference.h"
#include "methods/qat.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>

namespace qb::integer {
namespace {

const std::string& entry(const Checkpoint& ck, const std::string& path, const std::string& key) {
  const auto it = ck.strings.find(key);
  if (it == ck.strings.end()) throw error(path, ": checkpoint has no '", key, "' entry");
  return it->second;
}

std::size_t argmax(const double* v, int n) { return std::size_t(std::max_element(v, v + n) - v); }
std::size_t argmax(const float* v, int n) { return std::size_t(std::max_element(v, v + n) - v); }

nlohmann::json input_json(const ImageInput& in) {
  switch (in.kind) {
    case ImageInput::Kind::grid:
      return {{"kind", "grid"},
              {"scale", in.scale},
              {"zero_point", in.offset},
              {"note", "the first layer's input quantizer, as trained"}};
    case ImageInput::Kind::pixels:
      return {{"kind", "pixels"},
              {"scale", in.scale},
              {"zero_point", in.zero_point},
              {"padding_code", std::nearbyint(in.zero_point)},
              {"note", "the image stayed float in training; its 8-bit pixels are the codes"}};
    case ImageInput::Kind::floating:
      return {{"kind", "float"}, {"note", "the first layer runs in fp32"}};
  }
  return {};
}

}  // namespace

std::vector<nlohmann::json> infer_models(const InferConfig& cfg, std::span<const AccModel> models,
                                         Progress& progress) {
  QB_CHECK(!models.empty());
  if (cfg.batch == 0) throw error("--batch must be at least 1");
  if (cfg.threads < 0) throw error("--threads must be >= 0, got ", cfg.threads);
  if (!int8::cpu_has(cfg.isa))
    throw error("--isa ", int8::isa_name(cfg.isa), ": this CPU lacks it");
  set_threads(cfg.threads);
  const std::string& path = cfg.checkpoint;
  const Checkpoint ck = load_checkpoint(path);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(entry(ck, path, "config"));
  } catch (const nlohmann::json::exception&) {
    throw error(path, ": the checkpoint's config entry is not JSON");
  }
  const nlohmann::json q = config.value("quantization", nlohmann::json());
  if (!q.is_object() || q.value("method", "").empty())
    throw error(path,
                ": an FP32 checkpoint (trained without --method); integer inference "
                "needs a quantization-aware one");
  if (!ck.strings.count("hooks"))
    throw error(path, ": checkpoint has no quantizer state (no 'hooks' entry)");
  const QatConfig qat = qat_config_from_json(q);

  DataOptions data;
  data.dir = cfg.data_dir.empty() ? config.value("data_dir", "") : cfg.data_dir;
  data.val_size = config.at("val_size").get<std::size_t>();
  data.train_limit = config.at("train_limit").get<std::size_t>();  // it sets the normalisation
  data.test_limit = cfg.test_limit;
  const std::string dataset =
      cfg.dataset.empty() ? config.at("dataset").get<std::string>() : cfg.dataset;
  const DataSplits splits = load_dataset(dataset, data);
  if (cfg.split != "test" && cfg.split != "train")
    throw key_error("--split", "expected test or train, got '", cfg.split, "'");
  const Dataset& eval_set = cfg.split == "train" ? splits.train : splits.test;
  // The training split's length is the checkpoint's (it sets the normalisation): cut here.
  const std::size_t images = cfg.split == "train" && cfg.test_limit
                                 ? std::min(cfg.test_limit, eval_set.size())
                                 : eval_set.size();

  auto net = make_network(config.at("net").get<std::string>(), eval_set.sample_shape(),
                          eval_set.num_classes, config.at("width").get<float>());
  const bool explaining = cfg.explain != InferConfig::Explain::none;
  Recorders recorders;  // the fake-quant activations, when asked to explain
  make_qat(qat, explaining ? recorders.wrap() : InputQuantizerWrap{}).attach(*net);
  try {
    load_weights(*net, ck, /*skip_quantizer_params=*/false);
    net->load_hook_states(nlohmann::json::parse(ck.strings.at("hooks")));
  } catch (const Error& e) {
    throw error(path, ": ", e.what());
  }
  const Network inet = export_network(*net, {qat.method, splits.mean, splits.stddev});
  const std::size_t M = models.size();
  std::deque<Engine> engines;  // one per model (an Engine is not movable)
  for (const AccModel m : models)
    engines.emplace_back(inet, m, cfg.isa, EngineOptions{cfg.count_overflows});

  const Shape s = eval_set.sample_shape();
  const std::size_t per = numel(s), classes = std::size_t(inet.classes);
  std::size_t fq_correct = 0;
  std::vector<std::size_t> correct(M), agree(M), mismatches(M);
  std::size_t simulated = 0;
  std::vector<std::vector<OverflowStats>> simulated_stats(M);  // the engines' after them
  std::vector<double> engine_seconds(M);
  std::vector<ReferenceRun> ref;
  std::vector<double> logits;
  std::vector<std::size_t> fq_top;
  std::vector<nlohmann::json> explained(M, nlohmann::json::array());
  std::vector<std::uint8_t> image_codes;
  std::vector<float> image_float;
  Trace trace;
  Tensor batch;
  for (std::size_t begin = 0; begin < images; begin += cfg.batch) {
    const std::size_t n = std::min(cfg.batch, images - begin);
    batch = Tensor::from_shape({n, s[0], s[1], s[2]});
    std::memcpy(batch.data(), eval_set.images.data() + begin * per, n * per * sizeof(float));
    // The fake-quant network and the simulation once for all models.
    const Tensor& fq = net->forward(batch, /*training=*/false);
    fq_top.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      fq_top[k] = argmax(fq.data() + k * classes, int(classes));
      fq_correct += fq_top[k] == eval_set.labels[begin + k];
    }
    const bool simulate = cfg.simulate_limit == 0 || begin < cfg.simulate_limit;
    if (simulate) {
      reference_forward(inet, models, batch.data(), int(n), ref);
      simulated += n;
    }
    if (explaining)
      quantize_image(inet.input, batch.data(), int(n), int(s[0]), int(s[1]), int(s[2]), image_codes,
                     image_float);
    for (std::size_t m = 0; m < M; ++m) {
      const auto t0 = std::chrono::steady_clock::now();
      engines[m].forward(batch.data(), int(n), logits, &trace);
      engine_seconds[m] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::vector<double>& ref_logits = ref[m].logits;
      const Trace& ref_trace = ref[m].trace;
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t top = argmax(logits.data() + k * classes, int(classes));
        correct[m] += top == eval_set.labels[begin + k];
        agree[m] += top == fq_top[k];
        const bool differs = top != fq_top[k];
        if (cfg.explain == InferConfig::Explain::codes ||
            (cfg.explain == InferConfig::Explain::disagreements && differs)) {
          nlohmann::json first = explain_image(inet, recorders, trace, image_codes, int(k));
          if (differs || first.contains("codes_differ"))
            explained[m].push_back({{"image", begin + k},
                                    {"label", eval_set.labels[begin + k]},
                                    {"fake_quant_top1", fq_top[k]},
                                    {"integer_top1", top},
                                    {"first_difference", std::move(first)}});
        }
        if (!simulate) continue;
        bool same =
            std::equal(logits.begin() + long(k * classes), logits.begin() + long((k + 1) * classes),
                       ref_logits.begin() + long(k * classes));
        for (std::size_t i = 0; i < trace.codes.size() && same; ++i) {
          const std::size_t len = trace.codes[i].size() / n;
          same = std::equal(trace.codes[i].begin() + long(k * len),
                            trace.codes[i].begin() + long((k + 1) * len),
                            ref_trace.codes[i].begin() + long(k * len));
        }
        mismatches[m] += !same;
      }
      if (simulate) simulated_stats[m] = engines[m].stats();
    }
    std::string line = "infer: " + std::to_string(begin + n) + "/" + std::to_string(images) +
                       " images, mismatches";
    for (std::size_t m = 0; m < M; ++m)
      line += std::string(m ? ", " : " ") + acc_model_name(models[m]) + " " +
              std::to_string(mismatches[m]);
    progress.line(line);
  }

  std::vector<nlohmann::json> out;
  for (std::size_t m = 0; m < M; ++m) {
    const Engine& engine = engines[m];
    const std::vector<OverflowStats> no_stats;
    const std::vector<OverflowStats>& ref_stats = ref.empty() ? no_stats : ref[m].stats;
    nlohmann::json layers = nlohmann::json::array();
    std::size_t conv = 0;
    bool stats_equal = true;
    for (const Layer& l : inet.layers) {
      nlohmann::json j = {{"layer", l.name}};
      if (l.kind == Layer::Kind::maxpool) {
        j["kind"] = "maxpool";
      } else if (l.kind == Layer::Kind::floating) {
        j["kind"] = "fp32";
      } else {
        const OverflowStats& st = engine.stats().at(conv);
        const std::vector<OverflowStats>& sim = simulated_stats[m];
        stats_equal = stats_equal && engine.counts_overflows() && conv < ref_stats.size() &&
                      conv < sim.size() && sim[conv].dot_products == ref_stats[conv].dot_products &&
                      sim[conv].wrong == ref_stats[conv].wrong &&
                      sim[conv].max_abs_sum == ref_stats[conv].max_abs_sum;
        ++conv;
        j["kind"] = "int8";
        j["weight_bits"] = l.weight_bits;
        if (l.depthwise) j["depthwise"] = true;
        j["requantisation"] = l.logits ? "dequantised (logits)"
                              : l.is_wide()
                                  ? std::string(l.shortcut.from >= 0 ? "residual add, " : "") +
                                        (l.pooled ? "global average pooling, " : "") +
                                        "multipliers per channel, one rounding"
                              : l.requant.shift >= 0 ? "shift " + std::to_string(l.requant.shift)
                                                     : "Q31 multiplier per channel";
        j["dot_products"] = st.dot_products;
        if (engine.counts_overflows()) {
          j["wrong"] = st.wrong;
          j["wrong_fraction"] = st.dot_products ? double(st.wrong) / double(st.dot_products) : 0.0;
          j["max_abs_sum"] = st.max_abs_sum;
        }
      }
      if (!l.note.empty()) j["note"] = l.note;
      layers.push_back(j);
    }
    const double N = double(images);
    out.push_back({{"checkpoint", path},
                   {"net", inet.name},
                   {"quantization", q},
                   {"acc", acc_model_name(models[m])},
                   {"isa", int8::isa_name(cfg.isa)},
                   {"threads", num_threads()},
                   {"data", splits.identity},
                   {"split", cfg.split},
                   {"images", images},
                   {"accuracy", correct[m] / N},
                   {"fake_quant_accuracy", fq_correct / N},
                   {"agreement",
                    {{"top1_agree", agree[m]},
                     {"disagreements", images - agree[m]},
                     {"fraction", agree[m] / N}}},
                   {"overflows_counted", engine.counts_overflows()},
                   {"reference",
                    {{"images", simulated},
                     {"mismatches", mismatches[m]},
                     {"overflow_counts_equal",
                      engine.counts_overflows() ? nlohmann::json(stats_equal) : nlohmann::json()}}},
                   {"input", input_json(inet.input)},
                   {"layers", layers},
                   {"images_per_second", engine_seconds[m] > 0 ? N / engine_seconds[m] : 0.0}});
    if (explaining) out.back()["explained"] = std::move(explained[m]);
  }
  return out;
}

nlohmann::json infer(const InferConfig& cfg, Progress& progress) {
  const AccModel models[] = {cfg.acc};
  return std::move(infer_models(cfg, models, progress).front());
}
}  // namespace qb::integer
