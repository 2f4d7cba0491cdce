#include "experiments/cell.h"

#include "experiments/hash.h"

namespace qb::exp {

using json = nlohmann::json;

json to_json(const Recipe& r) {
  return {{"epochs", r.epochs},
          {"batch", r.batch},
          {"optimizer", kOptimizers.row_of(r.optimizer).name},
          {"lr", r.lr},
          {"momentum", r.momentum},
          {"wd", r.wd},
          {"schedule", kSchedules.row_of(r.schedule).name},
          {"warmup", r.warmup}};
}

json dataset_identity(const DatasetSpec& d) {
  return {{"name", d.name},
          {"train_limit", d.train_limit},
          {"test_limit", d.test_limit},
          {"val_size", d.val_size}};
}

namespace {

// Width 1 is left out, so the keys of every config without "width" stay as they were.
json with_width(json j, const Cell& c) {
  if (c.width != 1.0f) j["width"] = c.width;
  return normalise_numbers(j);
}

}  // namespace

json fp32_json(const Cell& c) {
  return with_width(json{{"kind", "fp32-pretrain"},
                         {"dataset", dataset_identity(c.data)},
                         {"net", c.net},
                         {"seed", c.seed},
                         {"recipe", to_json(c.fp32)}},
                    c);
}

json cell_json(const Cell& c) {
  json j = with_width(json{{"kind", "cell"},
                           {"pretrain", fp32_json(c)},
                           {"net", c.net},
                           {"seed", c.seed},
                           {"method", c.method},
                           {"wbits", c.quant.wbits},
                           {"abits", c.quant.abits},
                           {"gbits", c.quant.gbits},
                           {"first_last", kFirstLast.row_of(c.quant.first_last).name},
                           {"granularity", c.quant.granularity},
                           {"options", c.quant.options},
                           {"recipe", to_json(c.recipe)}},
                      c);
  // "pretrain" stays (it holds the dataset's identity, and a scratch cell's default recipe);
  // "init" appears only for scratch, so every fine-tuning cell keeps its key.
  if (c.init != Init::fp32) j["init"] = kInits.row_of(c.init).name;
  return j;
}

namespace {

std::string bits_name(const QuantSettings& q) {
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "w" + to_string.
  std::string s = "w";
  s += std::to_string(q.wbits);
  s += 'a';
  s += std::to_string(q.abits);
  if (q.gbits != 32) {
    s += 'g';
    s += std::to_string(q.gbits);
  }
  return s;
}

TrainConfig base_config(const Cell& c, const Recipe& r) {
  TrainConfig t;
  t.net = c.net;
  t.width = c.width;
  t.dataset = c.data.name;
  t.data.dir = c.data.data_dir;
  t.data.train_limit = c.data.train_limit;
  t.data.test_limit = c.data.test_limit;
  t.data.val_size = c.data.val_size;
  t.epochs = r.epochs;
  t.batch = r.batch;
  t.opt.type = r.optimizer;
  t.opt.lr = float(r.lr);
  t.opt.momentum = float(r.momentum);
  t.opt.weight_decay = float(r.wd);
  t.schedule.type = r.schedule;
  t.schedule.warmup_epochs = float(r.warmup);
  t.seed = c.seed;
  return t;
}

}  // namespace

void set_identity(Cell& c) {
  c.key = content_key(cell_json(c));
  c.fp32_key = c.init == Init::fp32 ? content_key(fp32_json(c)) : "";
  std::string net = c.net;
  if (c.width != 1.0f) {  // resnet20x0.25 (appended, not "x" + …: the -Wrestrict above)
    net += 'x';
    net += json(c.width).dump();
  }
  c.name = c.method + "/" + bits_name(c.quant) + "/" + net + "/" + c.data.name + "/s" +
           std::to_string(c.seed);
  if (c.init == Init::scratch) c.name += "/scratch";
}

TrainConfig fp32_train_config(const Cell& c) { return base_config(c, c.fp32); }
TrainConfig cell_train_config(const Cell& c) { return base_config(c, c.recipe); }

}  // namespace qb::exp
