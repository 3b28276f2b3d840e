#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tdpwatch::cli {
namespace {

void out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

bool can_draw_screen() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) == 1 && term != nullptr && term[0] != '\0' &&
         std::strcmp(term, "dumb") != 0;
}

std::size_t terminal_columns() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

TerminalScreen::TerminalScreen() {
  termios t{};
  if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &t) == 0) {
    saved_ = t;
    t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
  }
  out("\x1b[?1049h\x1b[?25l");  // alternate screen, hide cursor
}

TerminalScreen::~TerminalScreen() {
  out("\x1b[?25h\x1b[?1049l");  // show cursor, back to the normal screen
  if (saved_) ::tcsetattr(STDIN_FILENO, TCSANOW, &*saved_);
}

void TerminalScreen::draw(const std::string& text) const {
  // Home, then each line followed by erase-to-end-of-line, then erase below:
  // no full clear, so the screen does not flicker.
  std::string frame = "\x1b[H";
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    frame.append(text, start, end - start);
    frame += "\x1b[K\r\n";
    start = end + 1;
  }
  frame += "\x1b[J";
  out(frame);
}

}  // namespace tdpwatch::cli
