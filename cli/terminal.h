// The terminal for `watch`, in plain ANSI (no curses): whether to draw a
// full-screen view at all, raw keyboard input, and putting everything back.
//
// TerminalScreen is RAII: it switches to the alternate screen, hides the
// cursor and turns off line buffering and echo (keeping ISIG, so Ctrl-C
// still raises SIGINT); its destructor restores all of it, so every exit
// path leaves the terminal as it found it.
#pragma once

#include <termios.h>

#include <cstddef>
#include <optional>
#include <string>

namespace tdpwatch::cli {

// True when stdout is a terminal and TERM is set and not "dumb".
bool can_draw_screen();

// Columns of the terminal on stdout (0 when unknown).
std::size_t terminal_columns();

class TerminalScreen {
 public:
  TerminalScreen();
  ~TerminalScreen();
  TerminalScreen(const TerminalScreen&) = delete;
  TerminalScreen& operator=(const TerminalScreen&) = delete;

  // Replaces the screen's content with `text` (lines end with '\n').
  void draw(const std::string& text) const;

 private:
  std::optional<termios> saved_;  // stdin's settings, when stdin is a terminal
};

}  // namespace tdpwatch::cli
