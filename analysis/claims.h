// The papers' published claims as data (analysis/claims/<method>.json, one per seed paper):
// what each paper says, on its own networks and datasets, with where it says it ("abstract",
// "Table 3") and how sure we are of the transcription ("abstract": quoted from the abstract;
// "paper table, from memory: verify": not yet checked against the paper).
//
//   {"schema": 1, "method": "alt", "paper": "...", "url": "...", "note": "...",
//    "claims": [{"claim", "quote", "network", "dataset", "bits", "value", "source",
//                "confidence"}]}
#pragma once

#include "analysis/render.h"

#include <string>
#include <vector>

namespace qb::analysis {

// The claims of `methods` that have a file in `dir`, as one table labelled with their
// networks and datasets against `ours` ("lenet5 on fashion-mnist"). Files that exist are
// checked strictly (a wrong key names the file and key); methods without one are skipped.
Grid claims_table(const std::string& dir, const std::vector<std::string>& methods,
                  const std::string& ours);

}  // namespace qb::analysis
