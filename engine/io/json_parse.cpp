#include "engine/io/json_parse.h"

#include "engine/check.h"
#include "engine/io/input_file.h"

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace qb {
namespace {

using json = nlohmann::json;

// "origin: key.path: message", or "origin: message" when there is no key path.
Error located(const std::string& origin, const std::string& key_path, const std::string& message) {
  return Error(origin + ": " + Error(key_path, message).what());
}

// The key path of the value being parsed, kept from the parser's events; refuses a key that
// its object already has. Offsets come from the stream: nlohmann reads it one byte at a time
// and, after a key's closing quote, reads nothing more before the `key` event.
class KeyPaths {
 public:
  KeyPaths(const std::string& text, const std::string& origin, std::istream& in)
      : text_(text), origin_(origin), in_(in) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        frames_.push_back(Frame{event == json::parse_event_t::object_start});
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        const std::size_t at = key_start(offset());
        const auto [first, fresh] = f.first_byte.emplace(f.key, at);
        if (!fresh)
          throw located(
              origin_, path(),
              detail::concat("duplicate key at byte ", at, " (first at byte ", first->second, ")"));
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        next_element();
        break;
      case json::parse_event_t::value:
        next_element();
        break;
    }
    return true;
  }

  // "methods[2].options.eta": the key or index the parser is at.
  std::string path() const {
    std::string p;
    for (const Frame& f : frames_) {
      if (f.object) {
        p = join_key_path(p, f.key);
        continue;
      }
      // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "[" + to_string.
      p += '[';
      p += std::to_string(f.index);
      p += ']';
    }
    return p;
  }

  // Where the stream is: one past the last byte the parser read.
  std::size_t offset() const {
    const auto pos = in_.tellg();
    return pos < 0 ? text_.size() : std::size_t(pos);
  }

 private:
  struct Frame {
    bool object = false;
    std::string key;                                // objects: the current key
    std::map<std::string, std::size_t> first_byte;  // objects: where each key first appeared
    std::size_t index = 0;                          // arrays: the current element
  };

  void next_element() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  // The opening quote of the key whose closing quote is at `end` - 1.
  std::size_t key_start(std::size_t end) const {
    for (std::size_t i = end >= 2 ? end - 2 : 0; i > 0; --i) {
      if (text_[i] != '"') continue;
      std::size_t backslashes = 0;
      while (i > backslashes && text_[i - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return i;
    }
    return 0;
  }

  const std::string& text_;
  const std::string& origin_;
  std::istream& in_;
  std::vector<Frame> frames_;
};

// "1e400" from "[json.exception.out_of_range.406] number overflow parsing '1e400'".
std::string quoted_token(const std::string& what) {
  const auto open = what.find('\'');
  const auto close = what.rfind('\'');
  return open == std::string::npos || close <= open ? "" : what.substr(open + 1, close - open - 1);
}

}  // namespace

json parse_user_json(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  KeyPaths paths(text, origin, in);
  try {
    return json::parse(in, [&paths](int, json::parse_event_t event, json& parsed) {
      return paths.on_event(event, parsed);
    });
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points past the offending character.
    const std::string what = e.what();
    throw error(origin, ": malformed JSON at byte ", e.byte > 0 ? e.byte - 1 : 0, " (",
                what.substr(what.find(": ") + 2), ")");
  } catch (const json::out_of_range& e) {
    // 406: a number beyond a double. The stream stopped at most one byte past it.
    const std::string token = quoted_token(e.what());
    const std::size_t at = text.rfind(token, paths.offset());
    throw located(origin, paths.path(),
                  detail::concat(token, " at byte ", at == std::string::npos ? 0 : at,
                                 " is out of range (beyond a double, ±1.8e308)"));
  }
}

json read_user_json(const std::string& path, const std::string& what) {
  check_input_file(path, "a " + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path, ": cannot open the ", what);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw error(path, ": cannot read the ", what);
  return parse_user_json(text.str(), path);
}

}  // namespace qb
