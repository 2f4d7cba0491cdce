#include "analysis/render.h"

#include "engine/check.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace qb::analysis {

Format format_named(const std::string& name) { return kFormats.parse(name, "--format").value; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // A value that rounds to zero prints without a sign.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string signed_fixed(double v, int decimals) {
  const std::string s = fixed(v, decimals);
  return s[0] == '-' ? s : "+" + s;
}

std::string escape_latex(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '\\':
        o += "\\textbackslash{}";
        break;
      case '{':
      case '}':
      case '_':
      case '&':
      case '%':
      case '$':
      case '#':
        o += '\\';
        o += c;
        break;
      case '^':
        o += "\\textasciicircum{}";
        break;
      case '~':
        o += "\\textasciitilde{}";
        break;
      case '<':
        o += "\\textless{}";
        break;
      case '>':
        o += "\\textgreater{}";
        break;
      case '|':
        o += "\\textbar{}";
        break;
      case '"':
        o += "\\textquotedbl{}";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string escape_markdown(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += ' ';
    else
      o += c;
  }
  return o;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

namespace {

std::string title_of(const Table& t) {
  if (!t.spec.title.empty()) return t.spec.title;
  std::string s = t.spec.name + ": " + t.spec.metric.name;
  if (!t.spec.network.empty()) s += ", " + t.spec.network;
  if (!t.spec.dataset.empty()) s += " on " + t.spec.dataset;
  return s;
}

// "90.12 ± 0.05 (n=3)" with the format's symbols.
std::string value_text(const Aggregate& a, int p, Format f) {
  const bool tex = f == Format::tex;
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "$" + fixed(...).
  std::string s = tex ? "$" : "";
  s += fixed(a.mean, p);
  if (a.n > 1) s += (tex ? " \\pm " : " ± ") + fixed(a.std, p);
  if (tex) s += "$";
  return s + " (n=" + std::to_string(a.n) + ")";
}

std::string cell_text(const Table& t, std::size_t r, std::size_t c, Format f) {
  const Aggregate& a = t.cells[r][c];
  const int p = t.spec.precision;
  if (a.missing() && a.failed > 0) return "failed";
  if (a.missing()) return f == Format::tex ? "---" : "—";
  std::string s = value_text(a, p, f);
  if (t.has_delta(r, c))
    s += f == Format::tex ? ", $\\Delta\\,{" + signed_fixed(t.delta(r, c), p) + "}$"
                          : ", Δ " + signed_fixed(t.delta(r, c), p);
  if (a.failed > 0) s += " (" + std::to_string(a.failed) + " failed)";
  return s;
}

// The sentence under the title: what a cell holds and against what Δ is taken.
std::string note_of(const Table& t, Format f) {
  const bool tex = f == Format::tex;
  std::ostringstream os;
  os << "Mean " << (tex ? "$\\pm$" : "±") << " sample std over seeds (n)";
  if (t.spec.baseline) {
    os << "; " << (tex ? "$\\Delta$" : "Δ") << ": difference to the baseline "
       << (tex ? escape_latex(t.spec.baseline->label) : t.spec.baseline->label) << " = ";
    if (t.baseline.missing())
      os << "missing (no finished cell), so no " << (tex ? "$\\Delta$" : "Δ");
    else
      os << value_text(t.baseline, t.spec.precision, f);
  }
  if (t.spec.has_column_metrics()) {
    os << ". Columns of their own quantity: ";
    bool first = true;
    for (const Filter& c : t.spec.columns)
      if (c.metric) {
        os << (first ? "" : "; ") << (tex ? escape_latex(c.label) : c.label) << " = "
           << (tex ? escape_latex(c.metric->name) : c.metric->name);
        first = false;
      }
  }
  os << ". " << (tex ? "---" : "—") << ": no finished cell.";
  if (t.cells_failed > 0)
    os << " failed: training diverged (" << t.cells_failed << " of the sweep's cells).";
  if (t.cells_merged + t.cells_failed < t.cells_expected)
    os << " The sweep is unfinished: " << t.cells_merged << " of " << t.cells_expected
       << " cells merged.";
  return os.str();
}

std::string render_md(const Table& t) {
  std::ostringstream os;
  os << "### " << title_of(t) << "\n\n" << note_of(t, Format::md) << "\n\n| method |";
  for (const auto& c : t.spec.columns) os << " " << escape_markdown(c.label) << " |";
  os << "\n|---|";
  for (std::size_t c = 0; c < t.spec.columns.size(); ++c) os << "---|";
  os << "\n";
  for (std::size_t r = 0; r < t.spec.rows.size(); ++r) {
    os << "| " << escape_markdown(t.spec.rows[r].label) << " |";
    for (std::size_t c = 0; c < t.spec.columns.size(); ++c)
      os << " " << cell_text(t, r, c, Format::md) << " |";
    os << "\n";
  }
  return os.str();
}

std::string render_csv(const Table& t) {
  std::ostringstream os;
  const int p = t.spec.precision + 2;
  auto record = [&](const std::string& row, const std::string& col, const Aggregate& a, bool delta,
                    double d, const Metric& metric) {
    os << csv_field(t.spec.name) << "," << csv_field(row) << "," << csv_field(col) << ","
       << metric.column << "," << a.n << ",";
    if (a.missing()) {
      os << ",,," << (a.failed > 0 ? "failed" : "missing") << "\n";
      return;
    }
    os << fixed(a.mean, p) << "," << (a.n > 1 ? fixed(a.std, p) : "") << ","
       << (delta ? signed_fixed(d, p) : "") << ",ok\n";
  };
  os << "table,row,column,metric,n,mean,std,delta,status\n";
  if (t.spec.baseline)
    record(t.spec.baseline->label, "baseline", t.baseline, false, 0, t.spec.metric);
  for (std::size_t r = 0; r < t.spec.rows.size(); ++r)
    for (std::size_t c = 0; c < t.spec.columns.size(); ++c)
      record(t.spec.rows[r].label, t.spec.columns[c].label, t.cells[r][c], t.has_delta(r, c),
             t.has_delta(r, c) ? t.delta(r, c) : 0, t.spec.metric_of(c));
  return os.str();
}

std::string tex_label(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '-';
  return s;
}

std::string render_tex(const Table& t) {
  std::ostringstream os;
  os << "% generated by `qbench report` from " << t.source << "\n"
     << "\\begin{table}[ht]\n\\centering\n"
     << "\\caption{" << escape_latex(title_of(t)) << ". " << note_of(t, Format::tex) << "}\n"
     << "\\label{tab:" << tex_label(t.spec.name) << "}\n"
     << "\\begin{tabular}{l" << std::string(t.spec.columns.size(), 'c') << "}\n\\hline\n"
     << "method";
  for (const auto& c : t.spec.columns) os << " & " << escape_latex(c.label);
  os << " \\\\\n\\hline\n";
  for (std::size_t r = 0; r < t.spec.rows.size(); ++r) {
    os << escape_latex(t.spec.rows[r].label);
    for (std::size_t c = 0; c < t.spec.columns.size(); ++c)
      os << " & " << cell_text(t, r, c, Format::tex);
    os << " \\\\\n";
  }
  os << "\\hline\n\\end{tabular}\n\\end{table}\n";
  return os.str();
}

}  // namespace

std::string render(const Table& t, Format f) {
  switch (f) {
    case Format::md:
      return render_md(t);
    case Format::csv:
      return render_csv(t);
    case Format::tex:
      return render_tex(t);
  }
  QB_CHECK(false);
  return {};
}

std::string render(const Grid& g, Format f) {
  std::ostringstream os;
  if (f == Format::csv) {
    for (std::size_t i = 0; i < g.header.size(); ++i)
      os << (i ? "," : "") << csv_field(g.header[i]);
    os << "\n";
    for (const auto& row : g.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) os << (i ? "," : "") << csv_field(row[i]);
      os << "\n";
    }
  } else if (f == Format::md) {
    os << "### " << g.title << "\n\n";
    if (!g.note.empty()) os << g.note << "\n\n";
    os << "|";
    for (const auto& h : g.header) os << " " << escape_markdown(h) << " |";
    os << "\n|";
    for (std::size_t i = 0; i < g.header.size(); ++i) os << "---|";
    os << "\n";
    for (const auto& row : g.rows) {
      os << "|";
      for (const auto& c : row) os << " " << (c.empty() ? "—" : escape_markdown(c)) << " |";
      os << "\n";
    }
  } else {
    os << "\\begin{table}[ht]\n\\centering\n\\caption{" << escape_latex(g.title);
    if (!g.note.empty()) os << ". " << escape_latex(g.note);
    os << "}\n\\label{tab:" << tex_label(g.name) << "}\n\\begin{tabular}{"
       << std::string(g.header.size(), 'l') << "}\n\\hline\n";
    for (std::size_t i = 0; i < g.header.size(); ++i)
      os << (i ? " & " : "") << escape_latex(g.header[i]);
    os << " \\\\\n\\hline\n";
    for (const auto& row : g.rows) {
      for (std::size_t i = 0; i < row.size(); ++i)
        os << (i ? " & " : "") << (row[i].empty() ? "---" : escape_latex(row[i]));
      os << " \\\\\n";
    }
    os << "\\hline\n\\end{tabular}\n\\end{table}\n";
  }
  return os.str();
}

}  // namespace qb::analysis
