// What a progress display needs to know about an output stream: whether it is a terminal (redraw one line
// with \r) and how many columns it has (so the line never wraps).
#pragma once

namespace ft {

bool is_terminal(int fd);
// Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80.
int terminal_columns(int fd);

}  // namespace ft
