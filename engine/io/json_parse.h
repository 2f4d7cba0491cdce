// Reading JSON that a person wrote: sweep configs, table specs, probe requests, claims files.
//
// nlohmann::json::parse lets three things through that a hand-written file should not get away
// with, or reports them without saying where: an object with the same key twice (the last value
// silently wins), a number beyond a double (`1e400`: out_of_range 406, no position), and, for a
// path, a directory (read as an empty stream). These readers refuse each as one qb::Error that
// starts with the origin (a file name or "request") and names the key path where there is one
// and the 0-based byte offset:
//   configs/a.json: methods[0].wbits: duplicate key at byte 97 (first at byte 64)
//   configs/a.json: fp32.lr: 1e400 at byte 120 is out of range (beyond a double, ±1.8e308)
//   configs/a.json: malformed JSON at byte 12 (syntax error ...)
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace qb {

// `text` parsed; `origin` opens every message.
nlohmann::json parse_user_json(const std::string& text, const std::string& origin);

// The file at `path` parsed. A directory or an unreadable path is refused first, naming `what`
// the path should be: "runs: is a directory, expected a sweep config file".
nlohmann::json read_user_json(const std::string& path, const std::string& what);

}  // namespace qb
