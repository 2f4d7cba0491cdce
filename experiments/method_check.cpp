#include "experiments/method_check.h"

#include "engine/data/dataset.h"
#include "engine/nets.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <set>

namespace qb::exp {

bool check_method(const MethodEntry& m, JsonReader& reader) {
  std::unique_ptr<Method> method;
  try {
    method = make_method(m.name);
  } catch (const Error& e) {
    reader.problem(join_key_path(m.path, "name"), e.message());
    return false;
  }
  try {
    method->validate_options(m.options);
  } catch (const Error& e) {
    reader.problem_within(m.path, e);  // "methods[2]" + "options.eta"
    return false;
  }
  const MethodInfo& mi = method->info();
  bool ok = true;
  auto check_bits = [&](const char* key, const std::vector<int>& bits) {
    for (std::size_t i = 0; i < bits.size(); ++i) {
      const int b = bits[i];
      const bool in_range = b == 32 || (b >= mi.min_bits && b <= mi.max_bits);
      if (b < 1 || b > 32 || !in_range) {
        reader.problem(index_path(join_key_path(m.path, key), i),
                       m.name + " supports " + std::to_string(mi.min_bits) + ".." +
                           std::to_string(mi.max_bits) + " bits (32: not quantized), got " +
                           std::to_string(b));
        ok = false;
      }
    }
  };
  check_bits("wbits", m.wbits);
  check_bits("abits", m.abits);
  check_bits("gbits", m.gbits);
  return ok;
}

void trial_install(const MethodEntry& m, const DatasetSpec& data, JsonReader& reader) {
  const DatasetInfo& dataset = kDatasets.parse(data.name);
  const Shape shape(dataset.sample_shape.begin(), dataset.sample_shape.end());
  std::set<std::string> seen;
  for (const auto& net_name : m.nets)
    for (int w : m.wbits)
      for (int a : m.abits)
        for (int g : m.gbits)
          for (const auto fl : m.first_last)
            for (const auto& gr : m.granularity) {
              QatConfig q{m.name, QuantSettings{w, a, g, gr, fl, m.options}};
              try {
                auto net = make_network(net_name, shape, dataset.num_classes, 1.0f);
                make_qat(q).attach(*net);
              } catch (const Error& e) {
                // Each distinct refusal once, with the first setting that met it.
                if (!seen.insert(e.what()).second) continue;
                reader.problem(join_key_path(m.path, e.key_path()),
                               e.message() + " (" + net_name + ", W" + std::to_string(w) + "A" +
                                   std::to_string(a) + ", granularity " + gr + ")");
              }
            }
}

}  // namespace qb::exp
