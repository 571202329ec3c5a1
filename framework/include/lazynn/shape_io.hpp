#pragma once
// Printing a shape the way PyTorch prints a size: `std::cout << t.sizes()` writes "[64, 784]".
//
// Shape is std::vector<std::int64_t>, so argument-dependent lookup looks in namespace std only:
// the operator is found where `using namespace lazynn;` (or `using lazynn::operator<<;`) is in
// scope, as in every example of the guides.

#include <lazynn/shape.hpp>

#include <ostream>

namespace lazynn {

inline std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape_to_list(shape); }

}  // namespace lazynn
