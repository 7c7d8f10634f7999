// ironbus: one binary, subcommand first (spec/cli-config-ops.md section 1).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/exit_codes.h"
#include "cli/verbs.h"

#ifndef IRONBUS_VERSION
#define IRONBUS_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace ironbus::cli;
  CLI::App app{"IronBus: one durable, totally ordered, append-only message log", "ironbus"};
  app.require_subcommand(1, 1);
  app.set_version_flag("-V,--version", std::string("ironbus ") + IRONBUS_VERSION);
  app.allow_windows_style_options(false);

  int exit_code = kExitOk;
  auto* version = app.add_subcommand("version", "Print the version and exit");
  version->callback([] { std::cout << "ironbus " << IRONBUS_VERSION << '\n'; });
  auto* help = app.add_subcommand("help", "Print this usage text and exit");
  help->callback([&app] { std::cout << app.help(); });

  RegisterServe(app, &exit_code);
  RegisterConfigCheck(app, &exit_code);
  RegisterPub(app, &exit_code);
  RegisterSub(app, &exit_code);
  RegisterCumulativeAck(app, &exit_code);
  RegisterPeekAndDump(app, &exit_code);
  RegisterScrubVerifyRepair(app, &exit_code);
  RegisterBench(app, &exit_code);
  RegisterAdminViews(app, &exit_code);
  RegisterTop(app, &exit_code);
  RegisterServerPasswd(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // usage on stdout, exit 0
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << '\n';
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\n\n" << app.help();
    return kExitUsage;
  } catch (const std::exception& e) {
    // Exceptions stay at the edges: a verb that throws is an internal error, never a crash.
    std::cerr << "error: " << e.what() << '\n';
    return kExitInternal;
  }
  return exit_code;
}
