// Methods by name: the built-in list (methods.inc) plus any registered at run time by code
// outside this tree (register_method), which is how an out-of-tree method joins.
#pragma once

#include "methods/method.h"

#include <string>
#include <vector>

namespace qb {

std::vector<std::string> method_names();

// Throws qb::Error (key "method") listing the registered names when `name` is unknown.
std::unique_ptr<Method> make_method(const std::string& name);

// Adds a method; throws if the name is taken.
void register_method(const std::string& name, MethodFactory factory);

}  // namespace qb
