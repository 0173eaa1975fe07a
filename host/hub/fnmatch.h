// File selection for snapshot(): Python's fnmatch.fnmatchcase (case-sensitive; '*' and '?' also match
// '/'; [seq], [!seq]) and huggingface_hub's filter_repo_objects (a pattern ending in '/' gets '*';
// a path must match an include pattern, when any are given, and no exclude pattern).
#pragma once

#include <string>
#include <vector>

namespace ft::hub {

bool fnmatch_case(const std::string& name, const std::string& pattern);
bool path_selected(const std::string& path, const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude);

}  // namespace ft::hub
