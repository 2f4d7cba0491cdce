// qbench — the command line. Thin: it parses, calls the libraries, and maps failures to exit
// codes: 1 for user errors (qb::Error, one line on stderr), 2 for usage errors, 3 for bugs.
#include "apps/commands.h"
#include "engine/check.h"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"qbench: a research harness for neural-network quantization"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qbench 0.1.0");
  const qb::app::Run train = qb::app::add_train(app);
  const qb::app::Run probe = qb::app::add_probe(app);
  const qb::app::Run methods = qb::app::add_methods(app);
  const qb::app::Run sweep = qb::app::add_sweep(app);
  const qb::app::Run merge = qb::app::add_merge(app);
  const qb::app::Run report = qb::app::add_report(app);
  const qb::app::Run infer = qb::app::add_infer(app);
  const qb::app::Run h5_upgrade = qb::app::add_h5_upgrade(app);

  try {
    // Inside the outer try: named options parse their value while CLI11 parses (qb::Error).
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    if (app.got_subcommand("train")) return train();
    if (app.got_subcommand("probe")) return probe();
    if (app.got_subcommand("methods")) return methods();
    if (app.got_subcommand("sweep")) return sweep();
    if (app.got_subcommand("merge")) return merge();
    if (app.got_subcommand("report")) return report();
    if (app.got_subcommand("infer")) return infer();
    if (app.got_subcommand("h5-upgrade")) return h5_upgrade();
  } catch (const qb::Error& e) {
    std::fprintf(stderr, "qbench: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qbench: internal error: %s\n", e.what());
    return 3;
  }
  return 2;
}
