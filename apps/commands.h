// Subcommands of the `qbench` executable. Each registers its options on the CLI11 app and
// returns the function that runs it; main() only dispatches and turns errors into exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace qb::app {

using Run = std::function<int()>;

Run add_train(CLI::App& app);
Run add_probe(CLI::App& app);
Run add_methods(CLI::App& app);
Run add_sweep(CLI::App& app);
Run add_merge(CLI::App& app);
Run add_report(CLI::App& app);
Run add_infer(CLI::App& app);

}  // namespace qb::app
