#include "methods/registry.h"

#include "engine/check.h"
#include "engine/names.h"

#include <mutex>
#include <utility>

namespace qb {

#define QB_METHOD(name, factory) std::unique_ptr<Method> factory();
#include "methods/methods.inc"
#undef QB_METHOD

namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::pair<std::string, MethodFactory>> entries = {
#define QB_METHOD(name, factory) {#name, factory},
#include "methods/methods.inc"
#undef QB_METHOD
  };
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::vector<std::string> method_names() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<std::string> names;
  for (const auto& e : r.entries) names.push_back(e.first);
  return names;
}

std::unique_ptr<Method> make_method(const std::string& name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& e : r.entries)
    if (e.first == name) return e.second();
  std::vector<std::string> valid;
  for (const auto& e : r.entries) valid.push_back(e.first);
  throw unknown_name("method", name, valid, "method");
}

void register_method(const std::string& name, MethodFactory factory) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& e : r.entries)
    if (e.first == name) throw key_error("method", "'", name, "' is already registered");
  r.entries.emplace_back(name, std::move(factory));
}

}  // namespace qb
