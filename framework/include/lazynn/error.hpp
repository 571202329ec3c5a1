#pragma once
// The exception hierarchy. Every error lazynn throws derives from lazynn::Error; the derived
// names follow the Python exception PyTorch raises in the same situation, so code ported from
// PyTorch catches the same kinds.

#include <stdexcept>
#include <string>

namespace lazynn {

/// Root of every exception thrown by lazynn.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An operation that cannot run in the current state (PyTorch's RuntimeError).
class RuntimeError : public Error {
public:
    using Error::Error;
};

/// Shapes that do not fit the operation; the message names the op and both shapes.
class ShapeError : public RuntimeError {
public:
    using RuntimeError::RuntimeError;
};

/// A dtype the operation does not accept.
class DtypeError : public RuntimeError {
public:
    using RuntimeError::RuntimeError;
};

/// An argument with a value the operation cannot take.
class ValueError : public Error {
public:
    using Error::Error;
};

/// An argument of the wrong kind.
class TypeError : public Error {
public:
    using Error::Error;
};

/// A dimension or element index out of range.
class IndexError : public Error {
public:
    using Error::Error;
};

/// A name that is invalid or already taken in a registry.
class KeyError : public Error {
public:
    using Error::Error;
};

/// A member that does not exist (PyTorch's AttributeError).
class AttributeError : public Error {
public:
    using Error::Error;
};

/// A hook a subclass must override but did not.
class NotImplementedError : public Error {
public:
    using Error::Error;
};

/// An internal consistency check that failed (PyTorch's AssertionError).
class AssertionError : public Error {
public:
    using Error::Error;
};

}  // namespace lazynn
