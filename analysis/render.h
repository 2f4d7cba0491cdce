// Tables as Markdown, CSV or LaTeX text.
//
//  * Markdown: a title, a note saying what the numbers are, and a pipe table whose cells read
//    "90.12 ± 0.05 (n=3), Δ -0.42"; missing cells are "—".
//  * CSV (RFC 4180, one record per table cell, machine-first): table,row,column,metric,n,
//    mean,std,delta,status — status "ok" or "missing" (then n = 0 and the numbers are empty);
//    the baseline is the record whose column is "baseline".
//  * LaTeX: a `table` with a `tabular` (no package needed), names escaped, "---" for missing.
#pragma once

#include "analysis/table.h"
#include "engine/names.h"

#include <string>
#include <vector>

namespace qb::analysis {

enum class Format { md, csv, tex };
inline constexpr Named<Format> kFormatRows[] = {
    {"md", Format::md}, {"csv", Format::csv}, {"tex", Format::tex}};
inline constexpr NameTable<Named<Format>> kFormats{"format", kFormatRows};
Format format_named(const std::string& name);  // throws qb::Error: "--format: ..."

std::string render(const Table& t, Format f);

// A table of ready-made text cells (benchmark ratios, papers' claims), in any format.
struct Grid {
  std::string name, title, note;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::string render(const Grid& g, Format f);

std::string escape_latex(const std::string& s);
std::string escape_markdown(const std::string& s);  // table cells: '|' and newlines
std::string csv_field(const std::string& s);        // quoted when it holds , " or a newline
std::string fixed(double v, int decimals);          // never "-0.00"
std::string signed_fixed(double v, int decimals);   // "+0.12", "-0.42"

}  // namespace qb::analysis
