// `qbench probe` (shared/PROBE.md) and `qbench methods`.
#include "apps/commands.h"
#include "engine/check.h"
#include "engine/io/json_parse.h"
#include "methods/probe.h"
#include "methods/registry.h"

#include <iostream>
#include <sstream>

namespace qb::app {

Run add_probe(CLI::App& app) {
  auto input = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "probe", "Apply one quantizer to one tensor: JSON request on stdin (or --input), JSON out");
  cmd->add_option("--input", *input, "Read the request from this file instead of stdin");
  return [input] {
    nlohmann::json request;
    if (input->empty()) {
      std::stringstream text;
      text << std::cin.rdbuf();
      request = parse_user_json(text.str(), "request");
    } else {
      request = read_user_json(*input, "probe request file");
    }
    std::cout << run_probe(request).dump() << std::endl;
    return 0;
  };
}

Run add_methods(CLI::App& app) {
  auto as_json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("methods", "List the registered quantization methods");
  cmd->add_flag("--json", *as_json, "Machine-readable output");
  return [as_json] {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& name : method_names()) {
      const auto m = make_method(name);
      const MethodInfo& mi = m->info();
      nlohmann::json roles = nlohmann::json::array(), options = nlohmann::json::object();
      for (auto r : mi.roles) roles.push_back(to_string(r));
      for (const auto& o : mi.options)
        options[o.name] = {{"default", o.default_value}, {"help", o.help}};
      all.push_back({{"name", mi.name},
                     {"roles", roles},
                     {"bits", {mi.min_bits, mi.max_bits}},
                     {"options", options},
                     {"paper", mi.paper},
                     {"summary", mi.summary}});
    }
    if (*as_json) {
      std::cout << all.dump(2) << std::endl;
      return 0;
    }
    for (const auto& m : all) {
      std::string roles;
      for (const auto& r : m["roles"]) roles += (roles.empty() ? "" : ",") + r.get<std::string>();
      std::cout << m["name"].get<std::string>() << "  roles " << roles << "  bits " << m["bits"][0]
                << ".." << m["bits"][1] << "\n    " << m["summary"].get<std::string>()
                << "\n    paper: " << m["paper"].get<std::string>() << "\n";
      for (const auto& [k, v] : m["options"].items())
        std::cout << "    option " << k << " = " << v["default"].dump() << "  "
                  << v["help"].get<std::string>() << "\n";
    }
    return 0;
  };
}

}  // namespace qb::app
