// Subcommands of the `qbench` executable. Each registers its options on the CLI11 app and
// returns the function that runs it; main() only dispatches and turns errors into exit codes.
#pragma once

#include "engine/names.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace qb::app {

using Run = std::function<int()>;

// An option whose value is a row of `table`, stored as its `value`: the help lists the table's
// names, the default shows the current value's name, and a wrong name is refused in the
// table's one form ("--optimizer: unknown optimizer 'adm' (valid: sgd, adam; ...)").
template <class Row, class T>
CLI::Option* add_named_option(CLI::App* cmd, const std::string& flag, const NameTable<Row>& table,
                              T& value, const std::string& help) {
  auto parse = [&table, &value, flag](const std::string& name) {
    value = table.parse(name, flag).value;
  };
  return cmd->add_option_function<std::string>(flag, parse, help + ": " + join_names(table.names()))
      ->default_str(std::string(table.row_of(value).name));
}

// The help text of an option that takes one of `names`.
inline std::string one_of(const std::string& help, const std::vector<std::string>& names) {
  return help + ": " + join_names(names);
}

Run add_train(CLI::App& app);
Run add_probe(CLI::App& app);
Run add_methods(CLI::App& app);
Run add_sweep(CLI::App& app);
Run add_merge(CLI::App& app);
Run add_report(CLI::App& app);
Run add_infer(CLI::App& app);
Run add_h5_upgrade(CLI::App& app);

}  // namespace qb::app
