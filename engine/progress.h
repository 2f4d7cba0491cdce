// Training progress on stderr.
//
// On a terminal: one line redrawn in place at most 10 times a second —
//   epoch 3/10 [#########.........] 215/430  loss 0.4123  acc 85.21%  9120 img/s  ETA 0:41
// Otherwise (a log file, CI): a plain line every `interval` seconds and at each epoch's end,
// so logs stay readable and short.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace qb {

struct StepStats {
  std::size_t epoch = 0, epochs = 0, step = 0, steps = 0;
  double loss = 0, accuracy = 0, images_per_second = 0, eta_seconds = 0;
};

class Progress {
 public:
  explicit Progress(std::FILE* out = stderr, double interval_seconds = 10.0);
  static Progress silent();

  void step(const StepStats& s);
  void line(const std::string& text);  // a finished line (epoch summary, note)

 private:
  std::FILE* out_;
  bool tty_;
  double interval_;
  bool dirty_ = false;  // a bar is drawn and must be cleared before the next line
  std::chrono::steady_clock::time_point last_;
};

std::string format_duration(double seconds);  // "1:02:03", "4:05"

}  // namespace qb
