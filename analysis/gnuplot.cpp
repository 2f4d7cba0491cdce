#include "analysis/gnuplot.h"

#include "engine/check.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace qb::analysis {
namespace fs = std::filesystem;

namespace {

std::string run_capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

std::string shell_quoted(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

}  // namespace

std::string quoted(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("''") : std::string(1, c);
  return o + "'";
}

std::vector<std::string> run_gnuplot(const std::string& script, const std::string& stem,
                                     const std::string& size) {
  static const bool cairo =
      run_capture("gnuplot -e 'set terminal' 2>&1").find("pngcairo") != std::string::npos;
  std::vector<std::string> files;
  const std::pair<std::string, std::string> terms[] = {
      {"svg",
       "set terminal svg noenhanced size " + size + " font 'Helvetica,12' background '#ffffff'"},
      {"png", std::string(cairo ? "set terminal pngcairo" : "set terminal png") +
                  " noenhanced size " + size + (cairo ? " font 'Helvetica,10'" : "")}};
  for (const auto& [ext, term] : terms) {
    const std::string file = stem + "." + ext;
    // gnuplot's chatter ("empty y range") goes to a log that is shown only when it fails:
    // stdout carries the table.
    const std::string log = stem + ".gnuplot.log";
    FILE* p = ::popen(("gnuplot >" + shell_quoted(log) + " 2>&1").c_str(), "w");
    if (!p) throw error("gnuplot: cannot start it");
    const std::string all =
        term + "\nset output " + quoted(file) + "\n" + script + "\nunset output\n";
    std::fwrite(all.data(), 1, all.size(), p);
    const int rc = ::pclose(p);
    std::string said;
    if (std::FILE* l = std::fopen(log.c_str(), "r")) {
      char buf[512];
      if (std::fgets(buf, sizeof buf, l)) said = buf;
      std::fclose(l);
    }
    fs::remove(log);
    if (!said.empty() && said.back() == '\n') said.pop_back();
    if (rc != 0 || !fs::exists(file) || fs::file_size(file) == 0)
      throw error(file, ": gnuplot failed to write the plot (exit status ", rc, ": ", said, ")");
    files.push_back(file);
  }
  return files;
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

}  // namespace qb::analysis
