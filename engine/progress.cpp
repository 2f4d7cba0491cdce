#include "engine/progress.h"

#include <unistd.h>

#include <cmath>

namespace qb {

Progress::Progress(std::FILE* out, double interval_seconds)
    : out_(out),
      tty_(out && isatty(fileno(out))),
      interval_(interval_seconds),
      last_(std::chrono::steady_clock::now()) {}

Progress Progress::silent() { return Progress(nullptr); }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

void Progress::step(const StepStats& s) {
  if (!out_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  const bool last_step = s.step == s.steps;
  if (tty_) {
    if (since < 0.1 && !last_step) return;
    constexpr int width = 20;
    const int filled = s.steps ? int(width * s.step / s.steps) : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(out_,
                 "\r\033[Kepoch %zu/%zu [%s] %zu/%zu  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s",
                 s.epoch, s.epochs, bar.c_str(), s.step, s.steps, s.loss, 100.0 * s.accuracy,
                 s.images_per_second, format_duration(s.eta_seconds).c_str());
    dirty_ = true;
  } else {
    if (since < interval_) return;
    std::fprintf(out_, "epoch %zu/%zu step %zu/%zu loss %.4f acc %.2f%% %.0f img/s ETA %s\n",
                 s.epoch, s.epochs, s.step, s.steps, s.loss, 100.0 * s.accuracy,
                 s.images_per_second, format_duration(s.eta_seconds).c_str());
  }
  std::fflush(out_);
  last_ = now;
}

void Progress::line(const std::string& text) {
  if (!out_) return;
  if (dirty_) std::fputs("\r\033[K", out_);
  dirty_ = false;
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

}  // namespace qb
